"""PubTator reader/writer: passages, CRLF, 7th column, relations, repeated PMIDs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bioner.data.document import Document, Passage, Relation, Span
from bioner.data.formats import read_documents, write_documents
from bioner.errors import BionerError, InputFormatError

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
        # A mention cut short is not a relation: before, it was kept as one and lost.
        ("1|t|Hello world\n1\t0\t5\tHello\n", 2, "entity type (column 5) is missing"),
        ("1|t|Hello\n1|a|world\n1\t6\t11\tw\udcffrld\tX\n", 3, "not valid UTF-8"),  # byte 0xff
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, line: int, problem: str) -> None:
    path = tmp_path / "broken.pubtator"
    path.write_bytes(body.encode("utf-8", "surrogateescape"))  # \udcff: the raw byte 0xff
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(path))
    message = str(caught.value)
    assert "broken.pubtator" in message and f"line {line}:" in message and problem in message


def test_line_breaks_in_passages_are_written_as_spaces(tmp_path: Path) -> None:
    """BioC title/abstract passages may hold line breaks; one line each is what PubTator has."""
    text = "Aspirin\nhelps. Pain\r\ngoes."
    document = Document("1", text, passages=[Passage("title", 0, 14), Passage("abstract", 15, 26)])
    document.spans.append(Span(15, 19, "Disease"))
    target = tmp_path / "out.pubtator"
    write_documents([document], target, "pubtator")
    assert target.read_text().splitlines()[:2] == ["1|t|Aspirin helps.", "1|a|Pain  goes."]
    (again,) = read_documents(target)
    assert again.text == "Aspirin helps. Pain  goes."
    assert [(s.start, s.end, again.span_text(s)) for s in again.spans] == [(15, 19, "Pain")]


@pytest.mark.parametrize(
    "span", [Span(0, 5, "A\tB"), Span(0, 5, "X", concept_id="D1\nD2")], ids=["type", "id"]
)
def test_tab_or_line_break_in_a_column_is_refused(tmp_path: Path, span: Span) -> None:
    target = tmp_path / "out.pubtator"
    with pytest.raises(BionerError, match="TAB or line break"):
        write_documents([Document("1", "Hello", spans=[span])], target, "pubtator")
    assert not target.exists()


def test_relations_that_do_not_fit_one_line_are_left_out(tmp_path: Path, caplog) -> None:
    document = Document("1", "Hello", spans=[Span(0, 5, "X")])
    document.relations += [
        Relation("CID", ("D1", "D2")),
        Relation("brat.#", ("#1", "AnnotatorNotes T1", "a note")),
        Relation("brat.R", ("R1", "Cause Arg1:T3 Arg2:T7")),  # T3, T7 would be renamed
    ]
    target = tmp_path / "out.pubtator"
    write_documents([document], target, "pubtator")
    assert "2 relation(s) have no PubTator form" in caplog.text
    (again,) = read_documents(target)  # before, the 5-column line made the file unreadable
    assert again.relations == [Relation("CID", ("D1", "D2"))]
