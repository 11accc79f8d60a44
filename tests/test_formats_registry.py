"""read_documents / write_documents: format guessing, atomic writes, inputs never overwritten."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from bioner.data.atomic import atomic_write
from bioner.data.formats import guess_format, read_documents, write_documents, write_stream
from bioner.errors import BionerError, InputFormatError


def test_guess_format_by_suffix_and_content(fixtures_dir: Path, tmp_path: Path) -> None:
    formats = fixtures_dir / "formats"
    assert guess_format(formats / "plain.tsv") == "conll"
    assert guess_format(formats / "small.pubtator") == "pubtator"
    unnamed = tmp_path / "corpus.txt"
    unnamed.write_text("5|t|Title\n")
    assert guess_format(unnamed) == "pubtator"
    unnamed.write_text("token\tO\n")
    assert guess_format(unnamed) == "conll"
    with pytest.raises(BionerError, match="unknown format"):
        list(read_documents(unnamed, "word2vec"))


def test_refuses_to_overwrite_an_input(fixtures_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.tsv"
    source.write_bytes((fixtures_dir / "formats" / "plain.tsv").read_bytes())
    before = source.read_bytes()
    with pytest.raises(BionerError, match="refusing to overwrite"):
        write_documents(read_documents(source), source, "conll", inputs=[source])
    assert source.read_bytes() == before


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as stream:
        stream.write("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_every_format_keeps_spans_through_a_chain(fixtures_dir: Path, tmp_path: Path) -> None:
    """PubTator → BioC JSON → BRAT → JSONL → BioC XML → PubTator keeps text and mentions."""
    original = list(read_documents(fixtures_dir / "formats" / "small.pubtator"))[:2]
    documents = original
    for index, (fmt, name) in enumerate(
        [("bioc-json", "a.json"), ("brat", "b"), ("jsonl", "c.jsonl"), ("bioc-xml", "d.xml")]
    ):
        path = tmp_path / f"{index}{name}"
        write_documents(documents, path, fmt)
        documents = list(read_documents(path))
    final = tmp_path / "e.pubtator"
    write_documents(documents, final, "pubtator")
    again = list(read_documents(final))
    assert [(d.text.rstrip(), sorted(s.key for s in d.spans)) for d in again] == [
        (d.text.rstrip(), sorted(s.key for s in d.spans)) for d in original
    ]


SAMPLES = {
    "pubtator": ("x.pubtator", "1|t|Aspirin helps.\n1\t0\t7\tAspirin\tChemical\tD1\n\n"),
    "conll": ("x.tsv", "Aspirin\tB-Chemical\nhelps\tO\n\n"),
    "jsonl": ("x.jsonl", '{"id": "1", "text": "Aspirin", "spans": []}\n'),
    "bioc-json": (
        "x.json",
        '{"source": "", "date": "", "key": "", "infons": {}, "documents": []}',
    ),
    "bioc-xml": ("x.xml", "<collection><source/><date/><key/></collection>"),
}


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_unreadable_files_are_input_errors(tmp_path: Path, fmt: str) -> None:
    """Missing, truncated `.gz` and not-gzip files name the file instead of a traceback."""
    name, text = SAMPLES[fmt]
    with pytest.raises(InputFormatError, match=r"missing.*: cannot read the file: No such file"):
        list(read_documents(tmp_path / f"missing{name}", fmt))
    truncated = tmp_path / f"cut{name}.gz"
    truncated.write_bytes(gzip.compress(text.encode() * 50)[:40])
    with pytest.raises(InputFormatError, match=r"cut.*\.gz: cannot read the file"):
        list(read_documents(truncated, fmt))
    plain = tmp_path / f"plain{name}.gz"
    plain.write_text(text)
    with pytest.raises(InputFormatError, match=r"Not a gzipped file"):
        list(read_documents(plain))


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_byte_order_mark_is_ignored(tmp_path: Path, fmt: str) -> None:
    name, text = SAMPLES[fmt]
    plain, marked = tmp_path / name, tmp_path / "bom" / name  # same name: CoNLL ids use it
    marked.parent.mkdir()
    plain.write_text(text, encoding="utf-8")
    marked.write_text(text, encoding="utf-8-sig")
    if fmt != "bioc-json":  # told by its suffix only; the others are also sniffed by content
        unnamed = tmp_path / "unnamed.txt"
        unnamed.write_text(text, encoding="utf-8-sig")
        assert guess_format(unnamed) == fmt
    expected = [(d.id, d.text, d.spans) for d in read_documents(plain)]
    assert [(d.id, d.text, d.spans) for d in read_documents(marked)] == expected


def test_writing_onto_a_folder_is_refused(fixtures_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    documents = read_documents(fixtures_dir / "formats" / "small.pubtator")
    with pytest.raises(BionerError, match="is a folder"):
        write_documents(documents, folder, "jsonl")
    assert list(tmp_path.rglob("*")) == [folder]  # no temporary file left behind


def test_write_stream_writes_what_a_file_holds(fixtures_dir: Path, tmp_path: Path) -> None:
    """`bioner predict -o -` writes to stdout with `write_stream`: the same text as the file
    (CoNLL keeps its input's -DOCSTART- lines), and BRAT, a folder of files, is refused."""
    documents = list(read_documents(fixtures_dir / "formats" / "docstart.tsv"))
    for fmt in ("conll", "pubtator", "bioc-xml", "bioc-json", "jsonl"):
        path = tmp_path / f"out.{fmt}"
        write_documents(documents, path, fmt)
        stream = io.StringIO()
        assert write_stream(documents, stream, fmt) == len(documents)
        assert stream.getvalue() == path.read_bytes().decode("utf-8")
    with pytest.raises(BionerError, match="BRAT output is a folder of files"):
        write_stream(documents, io.StringIO(), "standoff")
