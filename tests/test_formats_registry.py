"""read_documents / write_documents: format guessing, atomic writes, inputs never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from bioner.data.atomic import atomic_write
from bioner.data.formats import guess_format, read_documents, write_documents
from bioner.errors import BionerError


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
