"""BRAT standoff: text-bound lines (discontinuous, odd ids), kept other lines, exact offsets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bioner.data.formats import guess_format, read_documents, write_documents
from bioner.errors import InputFormatError


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
