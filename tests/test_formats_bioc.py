"""BioC XML / JSON via the bioc package: round trips, discontinuous mentions, tmVar cross-check."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bioner.data.document import Document
from bioner.data.formats import read_documents, write_documents
from bioner.errors import InputFormatError


def _key(document: Document) -> tuple:
    return (
        document.id,
        document.text,
        sorted((s.start, s.end, s.label, s.concept_id) for s in document.spans),
    )


@pytest.mark.parametrize(("fmt", "suffix"), [("bioc-xml", ".xml"), ("bioc-json", ".json")])
def test_pubtator_to_bioc_and_back(
    fixtures_dir: Path, tmp_path: Path, fmt: str, suffix: str
) -> None:
    original = list(read_documents(fixtures_dir / "formats" / "small.pubtator"))
    target = tmp_path / f"out{suffix}"
    write_documents(original, target, fmt)
    again = list(read_documents(target))  # format guessed from the suffix
    assert [_key(d) for d in again] == [_key(d) for d in original]
    assert [p.kind for p in again[0].passages] == ["title", "abstract"]
    assert again[0].relations[0].kind == "CID"
    pubtator = tmp_path / "back.pubtator"
    write_documents(again, pubtator, "pubtator")
    assert [_key(d) for d in read_documents(pubtator)] == [_key(d) for d in original]


def test_discontinuous_mentions_keep_their_fragments(fixtures_dir: Path, tmp_path: Path) -> None:
    original = list(read_documents(fixtures_dir / "formats" / "brat"))
    target = tmp_path / "out.xml"
    write_documents(original, target, "bioc-xml")
    assert 'offset="55" length="6"' in target.read_text()
    again = list(read_documents(target))
    disease = next(s for s in again[0].spans if s.start == 36)
    assert (disease.end, ("fragments=36 42;55 61" in disease.extra)) == (61, True)


def test_bad_xml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text("<collection>\n<document>\n<id>1</id\n</collection>\n")
    with pytest.raises(InputFormatError, match=r"bad\.xml, line 4"):
        list(read_documents(path))


def test_annotation_text_mismatch_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "mismatch.xml"
    path.write_text(
        "<collection><source/><date/><key/><document><id>7</id><passage><offset>0</offset>"
        "<text>Hello world</text><annotation id='a'><infon key='type'>X</infon>"
        "<location offset='6' length='5'/><text>World</text></annotation></passage>"
        "</document></collection>"
    )
    with pytest.raises(InputFormatError, match=r"mismatch\.xml.*differs from the text"):
        list(read_documents(path))


@pytest.mark.parametrize("split", ["train", "test"])
def test_tmvar_bioc_agrees_with_pubtator(corpora_dir: Path, split: str, caplog) -> None:
    """Same documents and mentions. The BioC release computes passage offsets on XML-escaped
    text; the reader repairs them from the annotations. Where an abstract has no annotation
    the gap after the title cannot be repaired, so texts are compared with gaps collapsed."""
    bioc_path = corpora_dir / "tmVar" / "BioC" / f"{split}.BioC.xml"
    pubtator_path = corpora_dir / "tmVar" / f"{split}.PubTator.txt"
    if not bioc_path.is_file():
        pytest.skip("tmVar BioC not staged")
    with caplog.at_level(logging.WARNING):
        from_bioc = list(read_documents(bioc_path))
    from_pubtator = list(read_documents(pubtator_path))
    assert len(from_bioc) == len(from_pubtator) == {"train": 334, "test": 166}[split]
    for left, right in zip(from_bioc, from_pubtator, strict=True):
        assert left.id == right.id
        assert " ".join(left.text.split()) == " ".join(right.text.split())
        assert _key(left)[2] == _key(right)[2]
    assert any("annotations fit offset" in r.message for r in caplog.records)


@pytest.mark.parametrize(("fmt", "suffix"), [("bioc-xml", ".xml"), ("bioc-json", ".json")])
@pytest.mark.parametrize("source", ["small.pubtator", "brat"])
def test_relations_come_back_unchanged(
    fixtures_dir: Path, tmp_path: Path, fmt: str, suffix: str, source: str
) -> None:
    """PubTator CID pairs and BRAT lines; before, they came back as `arg1=…` (unreadable BRAT)."""
    original = list(read_documents(fixtures_dir / "formats" / source))
    assert any(d.relations for d in original)
    target = tmp_path / f"out{suffix}"
    write_documents(original, target, fmt)
    assert [d.relations for d in read_documents(target)] == [d.relations for d in original]


def _bioc_json(location: str) -> str:
    return (
        '{"source": "", "date": "", "key": "", "infons": {}, "documents": [{"id": "7", '
        '"infons": {}, "relations": [], "annotations": [], "passages": [{"offset": 0, '
        '"infons": {}, "text": "Hello world", "sentences": [], "relations": [], '
        '"annotations": [{"id": "a", "infons": {"type": "X"}, "text": "world", '
        f'"locations": [{location}]}}]}}]}}]}}'
    )


def test_json_location_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(_bioc_json('{"offset": 6, "length": 5}'))
    (document,) = read_documents(path)
    assert [(s.start, s.end, s.label) for s in document.spans] == [(6, 11, "X")]


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ('{"offset": 6.7, "length": 5}', "offset must be an integer, found 6.7"),  # was cut to 6
        ('{"offset": null, "length": 5}', "offset must be an integer, found None"),
        ('{"offset": 6, "length": "five"}', "length must be an integer, found 'five'"),
        ('{"length": 5}', "no 'offset' given"),
    ],
)
def test_json_offsets_must_be_integers(tmp_path: Path, location: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_bioc_json(location))
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(path))
    assert "bad.json" in str(caught.value) and problem in str(caught.value)


def test_json_values_of_the_wrong_kind_name_the_document(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(_bioc_json('{"offset": 6, "length": 5}').replace('"Hello world"', "5"))
    with pytest.raises(InputFormatError, match=r"bad\.json: document 7: not valid BioC"):
        list(read_documents(path))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            '"Hello world"',
            '"Hello \\udfffworld"',
            "collection.documents[0].passages[0].text holds a lone surrogate \\udfff "
            "(not a character) at character 6",
        ),
        (
            '"type": "X"',
            '"type": "\\ud800"',
            "collection.documents[0].passages[0].annotations[0].infons.type holds a lone "
            "surrogate \\ud800",
        ),
        (
            '"type": "X"',
            '"type": "X", "\\udc00": "y"',
            "a key in collection.documents[0].passages[0].annotations[0].infons holds a lone "
            "surrogate \\udc00",
        ),
        ('"id": "7"', '"id": "7\\ud800"', "collection.documents[0].id holds a lone surrogate"),
    ],
    ids=["text", "infon-value", "infon-key", "document-id"],
)
def test_json_lone_surrogates_name_file_and_place(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    """A `\\ud800` escape parsed to a lone surrogate, which was read without complaint and
    crashed the output writer with a UnicodeEncodeError traceback."""
    path = tmp_path / "bad.json"
    path.write_text(_bioc_json('{"offset": 6, "length": 5}').replace(old, new, 1))
    with pytest.raises(InputFormatError) as caught:
        list(read_documents(path))
    assert str(caught.value).startswith(f"{path}: {problem}")


def test_json_surrogate_pairs_are_characters(tmp_path: Path) -> None:
    """An escaped pair (`\\ud83e\\uddec`, one emoji) is a character, not a lone surrogate."""
    path = tmp_path / "ok.json"
    path.write_text(_bioc_json('{"offset": 6, "length": 5}').replace('"a"', '"a\\ud83e\\uddec"'))
    (document,) = read_documents(path)
    assert "bioc.id=a\U0001f9ec" in document.spans[0].extra


def test_xml_surrogate_references_name_file_and_line(tmp_path: Path) -> None:
    """XML's `&#xD800;` is refused by the parser itself, with the file and line."""
    path = tmp_path / "bad.xml"
    path.write_text(
        "<collection><source/><date/><key/>\n<document><id>7</id><passage><offset>0</offset>"
        "\n<text>Hello &#xD800;world</text></passage></document></collection>"
    )
    with pytest.raises(InputFormatError, match=r"bad\.xml, line 3: not a valid BioC file"):
        list(read_documents(path))


@pytest.mark.parametrize(("fmt", "suffix"), [("bioc-xml", ".xml"), ("bioc-json", ".json")])
def test_brat_and_pubtator_come_back_byte_for_byte(
    fixtures_dir: Path, tmp_path: Path, fmt: str, suffix: str
) -> None:
    """BRAT ids (`T4a`, which relations refer to) and PubTator's 7th column survive BioC.

    Before, BRAT ids were renumbered (T1, T2, …) while relation lines kept the old ones,
    and composite-mention columns were dropped.
    """
    brat = fixtures_dir / "formats" / "brat"
    write_documents(read_documents(brat), tmp_path / f"brat{suffix}", fmt)
    write_documents(read_documents(tmp_path / f"brat{suffix}"), tmp_path / "brat", "brat")
    for name in ("doc1.ann", "doc2.ann", "doc1.txt"):
        assert (tmp_path / "brat" / name).read_bytes() == (brat / name).read_bytes(), name
    pubtator = fixtures_dir / "formats" / "small.pubtator"
    write_documents(read_documents(pubtator), tmp_path / f"p{suffix}", fmt)
    write_documents(read_documents(tmp_path / f"p{suffix}"), tmp_path / "p.pubtator", "pubtator")
    crlf = pubtator.read_bytes()  # CRLF is PubTator layout metadata, which BioC does not hold
    assert (tmp_path / "p.pubtator").read_bytes() == crlf.replace(b"\r\n", b"\n")
