"""BRAT standoff: text-bound lines (discontinuous, odd ids), kept other lines, exact offsets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bioner.data.formats import guess_format, read_documents, write_documents
from bioner.errors import BionerError, InputFormatError


def test_reads_folder_with_newlines_and_discontinuous(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "formats" / "brat"
    assert guess_format(folder) == "brat"
    first, second = read_documents(folder)
    assert (first.id, second.id, second.spans) == ("doc1", "doc2", [])
    assert "\r\n" in first.text  # text kept byte-exact
    assert [first.span_text(s) for s in first.spans][:2] == ["BRCA1", "BRCA2"]
    outer = first.spans[2]
    assert (outer.start, outer.end, outer.extra[1]) == (36, 61, "fragments=36 42;55 61")
    assert first.spans[3].extra == ("brat.id=T4a",)
    assert [r.arguments[0] for r in first.relations] == ["R1", "A1", "#1"]


def test_round_trip_is_byte_identical(fixtures_dir: Path, tmp_path: Path) -> None:
    source = fixtures_dir / "formats" / "brat"
    target = tmp_path / "out"
    assert write_documents(read_documents(source), target, "brat") == 2
    for name in ("doc1.txt", "doc1.ann", "doc2.txt", "doc2.ann"):
        assert (target / name).read_bytes() == (source / name).read_bytes(), name


def test_single_file_by_its_txt_or_ann(fixtures_dir: Path) -> None:
    for name in ("doc1.ann", "doc1.txt"):
        (document,) = read_documents(fixtures_dir / "formats" / "brat" / name)
        assert len(document.spans) == 4


@pytest.mark.parametrize(
    ("ann", "line", "problem"),
    [
        ("T1\tGene 13 18\tBRCA1\nT2\tGene 23 28\tBRCAX\n", 2, "differs from the text"),
        ("T1\tGene 13 x\tBRCA1\n", 1, "not integers"),
        ("\nT1\tGene 13 999\tBRCA1\n", 2, "outside the text"),
        ("T1\tGene 13 18\n", 1, "3 TAB-separated fields"),
        ("T1\tGene 13 18\tBRCA1\nT1\tGene 23 28\tBRCA2\n", 2, "used twice"),
        ("Q1\tsomething\n", 1, "unknown annotation kind"),
    ],
)
def test_errors_name_file_and_line(
    fixtures_dir: Path, tmp_path: Path, ann: str, line: int, problem: str
) -> None:
    shutil.copy(fixtures_dir / "formats" / "brat" / "doc1.txt", tmp_path / "bad.txt")
    (tmp_path / "bad.ann").write_text(ann)
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(tmp_path / "bad.ann"))
    message = str(caught.value)
    assert "bad.ann" in message and f"line {line}:" in message and problem in message


def test_missing_text_file(tmp_path: Path) -> None:
    (tmp_path / "lonely.ann").write_text("")
    with pytest.raises(InputFormatError, match=r"lonely\.txt is missing"):
        list(read_documents(tmp_path))


def test_byte_order_marks(fixtures_dir: Path, tmp_path: Path) -> None:
    """One before the `.ann` ids is ignored; one in the `.txt` is text, as brat counts it."""
    source = fixtures_dir / "formats" / "brat"
    text = (source / "doc1.txt").read_bytes()
    (tmp_path / "doc1.txt").write_bytes(text)
    (tmp_path / "doc1.ann").write_bytes(b"\xef\xbb\xbf" + (source / "doc1.ann").read_bytes())
    (document,) = read_documents(tmp_path / "doc1.ann")
    assert [document.span_text(s) for s in document.spans][:2] == ["BRCA1", "BRCA2"]
    (tmp_path / "doc1.txt").write_bytes(b"\xef\xbb\xbf" + text)
    (tmp_path / "doc1.ann").write_text("T1\tGene 14 19\tBRCA1\n")
    (document,) = read_documents(tmp_path / "doc1.ann")
    assert document.text[0] == "\ufeff" and document.span_text(document.spans[0]) == "BRCA1"


def test_writing_a_pair_into_its_own_folder_touches_neither(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    for name in ("doc1.txt", "doc1.ann"):
        shutil.copy(fixtures_dir / "formats" / "brat" / name, tmp_path / name)
    before = {name: (tmp_path / name).stat().st_ino for name in ("doc1.txt", "doc1.ann")}
    source = tmp_path / "doc1.ann"
    with pytest.raises(BionerError, match="refusing to overwrite"):
        write_documents(read_documents(source), tmp_path, "brat", inputs=[source])
    # The .txt used to be replaced (a new file) before the .ann was refused.
    assert {name: (tmp_path / name).stat().st_ino for name in before} == before


def test_output_that_is_a_file_is_refused(fixtures_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("keep me")
    with pytest.raises(BionerError, match="is a file"):
        write_documents(read_documents(fixtures_dir / "formats" / "brat"), target, "brat")
    assert target.read_text() == "keep me"


def test_warnings_for_dropped_concept_ids_and_other_files(
    fixtures_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "out"
    write_documents(read_documents(fixtures_dir / "formats" / "brat"), target, "brat")
    caplog.clear()
    documents = list(read_documents(fixtures_dir / "formats" / "small.pubtator"))[:1]
    write_documents(documents, target, "brat")
    concepts = sum(span.concept_id is not None for span in documents[0].spans)
    assert f"{concepts} mention(s) have concept ids" in caplog.text
    assert "holds 2 .ann file(s) not written now (doc1.ann, doc2.ann)" in caplog.text


def test_input_error_half_way_leaves_no_new_folder(tmp_path: Path) -> None:
    source = tmp_path / "in.pubtator"
    source.write_text("1|t|Hello\n1\t0\t5\tHello\tX\n\n2|t|World\n2\t0\t5\tWorlx\tX\n\n")
    target = tmp_path / "out" / "brat"
    with pytest.raises(InputFormatError, match="line 5"):
        write_documents(read_documents(source), target, "brat", inputs=[source])
    # Before, out/brat/1.txt and 1.ann stayed behind: a corpus missing documents.
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "in.pubtator",
        "out",
    ]
    source.write_text("1|t|Hello\n1\t0\t5\tHello\tX\n\n")
    assert write_documents(read_documents(source), target, "brat", inputs=[source]) == 1
    assert sorted(p.name for p in target.iterdir()) == ["1.ann", "1.txt"]
    assert target.stat().st_mode & 0o777 == 0o755
