"""PubTator reader/writer: passages, CRLF, 7th column, relations, repeated PMIDs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bioner.data.formats import read_documents, write_documents
from bioner.errors import InputFormatError

REAL_FILES = [
    "NCBI-disease/original/NCBItrainset_corpus.txt",
    "NCBI-disease/original/NCBIdevelopset_corpus.txt",
    "NCBI-disease/original/NCBItestset_corpus.txt",
    "BC5CDR/original/CDR_TrainingSet.PubTator.txt",
    "BC5CDR/original/CDR_DevelopmentSet.PubTator.txt",
    "BC5CDR/original/CDR_TestSet.PubTator.txt",
    "tmVar/train.PubTator.txt",
    "tmVar/test.PubTator.txt",
]


def test_reads_passages_mentions_relations(fixtures_dir: Path) -> None:
    documents = list(read_documents(fixtures_dir / "formats" / "small.pubtator"))
    assert [d.id for d in documents] == ["10001", "10002", "10002"]  # repeated PMID kept
    first = documents[0]
    assert [p.kind for p in first.passages] == ["title", "abstract"]
    assert first.text.startswith("Famotidine-associated delirium. A series")
    assert [(first.span_text(s), s.concept_id) for s in first.spans][1] == ("delirium", "D003693")
    assert [(r.kind, r.arguments) for r in first.relations] == [("CID", ("D015738", "D003693"))]
    composite = documents[1].spans[0]
    assert composite.extra == ("pubtator.column7=Ovarian cancer|breast cancer",)
    assert documents[1].spans[1].concept_id is None


def test_round_trip_is_byte_identical(fixtures_dir: Path, tmp_path: Path) -> None:
    source = fixtures_dir / "formats" / "small.pubtator"
    target = tmp_path / "out.pubtator"
    write_documents(read_documents(source), target, "pubtator")
    assert target.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("relative", REAL_FILES)
def test_staged_originals_round_trip(corpora_dir: Path, tmp_path: Path, relative: str) -> None:
    source = corpora_dir / relative
    if not source.is_file():
        pytest.skip(f"{relative} not staged")
    target = tmp_path / "out.txt"
    write_documents(read_documents(source, "pubtator"), target, "pubtator")
    assert target.read_bytes() == source.read_bytes()


def test_tolerated_padded_mention_column(tmp_path: Path) -> None:
    """NCBI-disease train has a mention column with trailing spaces; it is kept verbatim."""
    source = tmp_path / "pad.txt"
    source.write_text("1|t|a b c\n1|a|d\n1\t2\t3\tb  \tX\tid\n\n")
    documents = list(read_documents(source, "pubtator"))
    assert documents[0].span_text(documents[0].spans[0]) == "b"
    target = tmp_path / "out.txt"
    write_documents(documents, target, "pubtator")
    assert target.read_text() == source.read_text()


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("1|t|Hello world\n1\t0\t5\tHellx\tX\tid\n", 2, "differs from the text"),
        ("1|t|Hello world\n1\t0\tfive\tHello\tX\tid\n", 2, "not integers"),
        ("1|t|Hello\n1|a|world\n1\t6\t99\tworld\tX\tid\n", 3, "outside the text"),
        ("1|t|Hello\n1\t0\t5\n", 2, "found 3"),
        ("1|t|Hello\n2\t0\t5\tHello\tX\tid\n", 2, "inside document"),
        ("1\t0\t5\tHello\tX\tid\n", 1, "outside a document"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, line: int, problem: str) -> None:
    path = tmp_path / "broken.pubtator"
    path.write_text(body)
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(path))
    message = str(caught.value)
    assert "broken.pubtator" in message and f"line {line}:" in message and problem in message
