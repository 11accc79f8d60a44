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
