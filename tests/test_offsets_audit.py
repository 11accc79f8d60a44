"""Exact offsets through every format with hostile text: what the offsets audit found.

Each test failed before its fix: BioC XML output of a text with a form feed crashed with
lxml's traceback; BioC files counting UTF-16 code units or UTF-8 bytes were "repaired" by
moving the passage (padding the text) instead of being refused; the repair warning came
twice; PubTator and BRAT `.ann` lines kept line breaks (form feed, NEL, U+2028) that
`str.splitlines` and `codecs` readers cut lines at. The convention test (which passed before
too) pins what docs/formats.md now states: offsets count code points in every format.
"""

from __future__ import annotations

import codecs
import json
import logging
from pathlib import Path

import pytest
from bioc import pubtator as bioc_pubtator
from typer.testing import CliRunner

from bioner.cli.app import _register_commands, app
from bioner.data.document import Document, Passage, Span
from bioner.data.formats import read_documents, write_documents
from bioner.errors import BionerError, InputFormatError

pytest_plugins = ["conftest_model"]

SENTENCE = "Mutations in BRCA1 cause breast cancer."
#: Page break (form feed), vertical tab, file separator, NEL, line and paragraph separators.
BREAKS = "Page 1\x0cx\x0by\x1cz\x85w\u2028v\u2029 "


def _document(text: str, *mentions: str, concept: str | None = None) -> Document:
    spans = [Span(text.index(m), text.index(m) + len(m), "Gene", None, concept) for m in mentions]
    return Document(id="d1", text=text, spans=spans)


def _offsets(document: Document) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, document.text[s.start : s.end]) for s in document.spans]


# ---------------------------------------------------------------------- the convention
@pytest.mark.parametrize(
    ("fmt", "name", "written", "needle"),
    [
        ("pubtator", "a.pubtator", "a.pubtator", "d1\t24\t29\tBRCA1"),
        ("bioc-xml", "a.xml", "a.xml", 'offset="24" length="5"'),
        ("bioc-json", "a.json", "a.json", '"offset": 24'),
        ("jsonl", "a.jsonl", "a.jsonl", '"start": 24'),
        ("brat", "brat", "brat/d1.ann", "T1\tGene 24 29\tBRCA1"),
    ],
)
def test_offsets_count_code_points_and_text_is_not_normalized(
    tmp_path: Path, fmt: str, name: str, written: str, needle: str
) -> None:
    """An emoji and 𝛼 (two UTF-16 units, four UTF-8 bytes each) and a decomposed é before
    the mention: BRCA1 is at code point 24 in the file, and the text comes back as it was.
    Pins the convention docs/formats.md states (it held before this audit too)."""
    text = "🧬𝛼 cafe\u0301 x\u00a0" + SENTENCE
    assert text.index("BRCA1") == 24
    write_documents([_document(text, "BRCA1")], tmp_path / name, fmt)
    assert needle in (tmp_path / written).read_text(encoding="utf-8")
    (back,) = read_documents(tmp_path / name, fmt)
    assert back.text == text
    assert _offsets(back) == [(24, 29, "BRCA1")]


# ---------------------------------------------------------------------- BioC XML writing
def test_bioc_xml_writes_control_characters_as_spaces_one_for_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: `ValueError: All strings must be XML compatible` from lxml, nothing written."""
    text = "Page 1\x0cPage 2\x0b\x1f " + SENTENCE + " \ufffe"
    document = _document(text, "BRCA1")
    with caplog.at_level(logging.WARNING):
        write_documents([document], tmp_path / "a.xml", "bioc-xml")
    assert "document d1: 4 character(s) XML cannot hold (U+000B, U+000C, U+001F, U+FFFE)" in (
        caplog.text
    )
    (back,) = read_documents(tmp_path / "a.xml")
    assert back.text == "Page 1 Page 2   " + SENTENCE + "  "
    assert _offsets(back) == _offsets(document)
    write_documents([document], tmp_path / "a.json", "bioc-json")  # JSON keeps them all
    (exact,) = read_documents(tmp_path / "a.json")
    assert exact.text == text


def test_bioc_xml_refuses_control_characters_in_ids_and_infons(tmp_path: Path) -> None:
    text = "BRCA1 here"
    document = Document(id="d1", text=text, spans=[Span(0, 5, "Gene", concept_id="672\x0c")])
    with pytest.raises(BionerError, match=r"document d1: '672\\x0c' holds U\+000C, which XML"):
        write_documents([document], tmp_path / "a.xml", "bioc-xml")
    assert not (tmp_path / "a.xml").exists()


def test_annotate_to_bioc_xml_with_a_page_break(tiny_model: Path, tmp_path: Path) -> None:
    """The command printed lxml's traceback (through the `bioc` encoder) and wrote nothing."""
    source = tmp_path / "pdf.txt"
    source.write_text("Page one\x0cTP53 in melanoma.\n", encoding="utf-8")
    _register_commands()
    output = tmp_path / "out.xml"
    result = CliRunner().invoke(
        app, ["annotate", "-m", str(tiny_model), str(source), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    (document,) = read_documents(output)
    assert document.text == "Page one TP53 in melanoma.\n"
    assert ("TP53", "Gene") in {(document.text[s.start : s.end], s.label) for s in document.spans}


# ---------------------------------------------------------------------- BioC reading
def _bioc_xml(passages: str) -> str:
    return (
        "<?xml version='1.0' encoding='UTF-8'?><collection><source/><date/><key/>"
        f"<document><id>7</id>{passages}</document></collection>"
    )


def _passage(offset: int, text: str, *annotations: tuple[str, int, int, str]) -> str:
    notes = "".join(
        f"<annotation id='{i}'><infon key='type'>Gene</infon>"
        f"<location offset='{o}' length='{n}'/><text>{t}</text></annotation>"
        for i, o, n, t in annotations
    )
    return f"<passage><offset>{offset}</offset><text>{text}</text>{notes}</passage>"


@pytest.mark.parametrize(
    ("location", "unit"),
    [(3, "UTF-16 code units"), (5, "UTF-8 bytes")],
)
def test_bioc_offsets_in_other_units_are_an_error_naming_the_unit(
    tmp_path: Path, location: int, unit: str
) -> None:
    """In "🧬 BRCA1", BRCA1 is code point 2, UTF-16 unit 3, UTF-8 byte 5. Before, the passage
    was moved to offset 1 or 3 (the text padded with spaces) and read without an error."""
    path = tmp_path / "units.xml"
    path.write_text(_bioc_xml(_passage(0, "🧬 BRCA1 in 𝛼-cells", ("a1", location, 5, "BRCA1"))))
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(path))
    assert str(caught.value) == (
        f"{path}: document 7: annotation a1: text 'BRCA1' is at its location only if offsets "
        f"count {unit}; bioner reads BioC offsets as characters (Unicode code points), as the "
        "bioc package and PubTator do"
    )


def test_bioc_annotations_fitting_only_a_later_passage_offset_are_an_error(tmp_path: Path) -> None:
    """Offsets 2 too large (as from a tool that counted the CR of two CRLFs, which XML parsers
    read as LF): the passage was moved right and the text padded; now the mismatch is an error."""
    path = tmp_path / "late.xml"
    path.write_text(_bioc_xml(_passage(0, "Hello BRCA1 world", ("a1", 8, 5, "BRCA1"))))
    with pytest.raises(InputFormatError, match=r"text 'BRCA1' differs from the text at its"):
        list(read_documents(path))


def test_bioc_passage_repair_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """tmVar's case: the abstract's offset was computed on `&gt;`, 3 too late; repaired to the
    earlier offset the annotations fit, with one warning (it was logged twice)."""
    title = "A &gt; B"
    abstract = _passage(12, "Mutations in BRCA1.", ("a1", 19, 5, "BRCA1"))
    path = tmp_path / "tmvar.xml"
    path.write_text(_bioc_xml(_passage(0, title) + abstract))
    with caplog.at_level(logging.WARNING):
        (document,) = read_documents(path)
    assert document.text == "A > B Mutations in BRCA1."
    assert _offsets(document) == [(19, 24, "BRCA1")]
    assert caplog.text.count("annotations fit offset 6") == 1
    # The warning names the file and the document: a corpus has hundreds of them.
    assert f"{path}, document {document.id}: passage at offset 12:" in caplog.text


# ---------------------------------------------------------------------- line-based formats
def test_pubtator_lines_hold_no_unicode_line_breaks(tmp_path: Path) -> None:
    """Before, a form feed, NEL or U+2028 stayed in the title line and the mention column:
    the `bioc` package's PubTator reader (`splitlines`) cut them into unparsable lines."""
    text = BREAKS + SENTENCE
    document = _document(text, "BRCA1", "x\x0by\x1cz", concept="672")
    path = tmp_path / "a.pubtator"
    write_documents([document], path, "pubtator")
    lines = path.read_text(encoding="utf-8").splitlines()
    flat = "Page 1 x y z w v  " + SENTENCE
    assert lines == [
        f"d1|t|{flat}",
        "d1\t31\t36\tBRCA1\tGene\t672",
        "d1\t7\t12\tx y z\tGene\t672",
        "",
    ]
    (other,) = bioc_pubtator.loads(path.read_text(encoding="utf-8"))
    assert (other.title, len(other.annotations)) == (flat, 2)
    (back,) = read_documents(path)
    assert back.text == flat
    assert [(s.start, s.end) for s in back.spans] == [(s.start, s.end) for s in document.spans]


def test_brat_ann_lines_hold_no_unicode_line_breaks(tmp_path: Path) -> None:
    """brat reads `.ann` files through `codecs`, whose lines end at NEL and U+2028 too; a
    mention holding one was written raw and cut its line in two."""
    text = BREAKS + SENTENCE
    document = _document(text, "z\x85w\u2028v", "BRCA1")
    write_documents([document], tmp_path / "brat", "brat")
    with codecs.open(str(tmp_path / "brat" / "d1.ann"), "r", "utf-8") as ann:
        lines = list(ann)
    assert lines == ["T1\tGene 11 16\tz w v\n", "T2\tGene 31 36\tBRCA1\n"]
    (back,) = read_documents(tmp_path / "brat")
    assert back.text == text  # the .txt keeps every character
    assert _offsets(back) == _offsets(document)


def test_brat_refuses_a_label_with_a_line_break(tmp_path: Path) -> None:
    document = Document(id="d1", text="BRCA1", spans=[Span(0, 5, "Ge\nne")])
    with pytest.raises(BionerError, match="has whitespace, which BRAT cannot hold"):
        write_documents([document], tmp_path / "brat", "brat")


def test_pubtator_passages_from_bioc_with_breaks_keep_offsets(tmp_path: Path) -> None:
    """BioC title/abstract passages holding a form feed: PubTator's title line stays one line."""
    title = "T\x0citle\u2028"
    text = f"{title} {SENTENCE}"
    document = _document(text, "BRCA1")
    document.passages.extend(
        [Passage("title", 0, len(title)), Passage("abstract", len(title) + 1, len(text))]
    )
    path = tmp_path / "a.pubtator"
    write_documents([document], path, "pubtator")
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ["d1|t|T itle ", f"d1|a|{SENTENCE}"]
    (back,) = read_documents(path)
    assert _offsets(back) == [(s.start, s.end, text[s.start : s.end]) for s in document.spans]


def test_jsonl_records_stay_one_line_for_splitlines(tmp_path: Path) -> None:
    """NEL, U+2028 and U+2029 were written raw inside strings: `read_text().splitlines()`,
    a common way to read JSON Lines, cut the record into pieces that are not JSON."""
    text = BREAKS + SENTENCE
    path = tmp_path / "a.jsonl"
    write_documents([_document(text, "BRCA1")], path, "jsonl")
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["text"] == text
    (back,) = read_documents(path)
    assert (back.text, _offsets(back)) == (text, [(31, 36, "BRCA1")])
