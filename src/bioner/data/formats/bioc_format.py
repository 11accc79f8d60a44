"""BioC XML and BioC JSON ⇄ Documents, through the `bioc` package (its data model and codecs).

The `bioc` package parses and writes the files; this module only maps its objects onto ours:

* A BioC document's passages are placed at their offsets in one text; gaps between them are
  filled with spaces (PubTator-derived BioC puts the abstract at `len(title) + 1`, so the
  text equals PubTator's `title + " " + abstract`). Passages become `Passage(kind=infon type)`.
  A passage that has only sentences is rebuilt from the sentences' texts at their offsets.
* Annotations (of passages and sentences) become Spans: label = infon `type`; concept id =
  infon `identifier` (or `Identifier`, `MESH`, or the infon keyed by the type, as tmVar
  writes it); the annotation id and any other infons go to `Span.extra` (`bioc.id=`,
  `bioc.infon.<key>=`), except infons named `brat.…`/`pubtator.…`, which this module
  writes for other formats' details and which come back under their own name. Several
  locations (a discontinuous mention) give one span over the outer extent with
  `fragments=…` in `Span.extra`, as for BRAT.
* Relations become `Relation(kind=infon type, arguments=("key=value"…, "role->refid"…))`;
  `arg<N>` infons (written for plain arguments) come back as plain arguments.
* Offsets and lengths must be integers (BioC JSON may hold `23.7` or `null`). They count
  characters (code points), as the `bioc` package and PubTator do, not the UTF-8 bytes the
  BioC DTD suggests; a location that fits only in UTF-16 code units or UTF-8 bytes is an
  InputFormatError naming the unit.
* Writing XML, characters XML 1.0 cannot hold (a form feed) become spaces in the text, one for
  one (warning); in ids and infons they are an error. BioC JSON keeps them.
* A BioC JSON string with a lone surrogate (a `\\ud800` escape; no UTF-8 writer can encode
  it) is an InputFormatError naming its JSON path; the XML parser refuses `&#xD800;` itself.
* An annotation whose text differs from the text at its location is an InputFormatError,
  after one documented repair of wrong passage offsets (see `_passage_offset`; needed for
  the real tmVar BioC files).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, TextIO

import bioc
from bioc import biocjson, biocxml
from bioc.biocjson.decoder import parse_collection

from bioner.data.atomic import PathLike
from bioner.data.document import Document, Passage, Relation, Span
from bioner.data.formats import extras
from bioner.data.formats.textio import is_gzip, json_lone_surrogate, read_text, reading
from bioner.errors import BionerError, InputFormatError

log = logging.getLogger(__name__)

_ID_KEYS = ("identifier", "Identifier", "MESH")
_ANNOTATION_ID = "bioc.id"
_INFON = "bioc.infon."
#: Details of other formats (`brat.id=T7`, `pubtator.column7=…`) travel as infons of that
#: name and come back as they were: BRAT relations refer to the ids, PubTator keeps column 7.
_CARRIED = ("brat.", "pubtator.")
_METADATA = "bioc."
#: Infon keys `_bioc_relation` gives arguments that are not `key=value` or `role->refid`.
_POSITIONAL = re.compile(r"arg\d+")


def _load(path: PathLike, fmt: str) -> Any:
    """The whole BioC collection; parse errors become InputFormatError with a line if known."""
    try:
        if fmt == "bioc-xml":
            with reading(path), gzip.open(path, "rb") if is_gzip(path) else open(path, "rb") as raw:
                return biocxml.load(raw)
        text = read_text(path)
        parsed = json.loads(text)
        problem = json_lone_surrogate(text, parsed, "collection")
        if problem is not None:
            raise InputFormatError(path, None, problem)
        return parse_collection(parsed)
    except json.JSONDecodeError as error:
        raise InputFormatError(path, error.lineno, f"bad JSON: {error.msg}") from None
    except KeyError as error:
        raise InputFormatError(path, None, f"not a valid BioC file: no {error} given") from None
    except (ValueError, TypeError, AttributeError, SyntaxError) as error:
        line = getattr(error, "lineno", None)
        problem = getattr(error, "msg", None) or str(error)
        raise InputFormatError(path, line, f"not a valid BioC file: {problem}") from None


class _BioCValueError(ValueError):
    """A value of the wrong kind inside a parsed collection (BioC JSON holds any JSON value)."""


def _integer(value: Any, what: str) -> int:
    """An offset or length; the XML decoder gives ints, JSON may give 23.7, null or "x"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise _BioCValueError(f"{what} must be an integer, found {value!r}")


def _span(path: PathLike, doc_id: str, annotation: Any, text: str) -> Span:
    infons = dict(annotation.infons)
    label = infons.pop("type", None)
    if not label or not isinstance(label, str):
        raise InputFormatError(
            path, None, f"document {doc_id}, annotation {annotation.id}: no 'type' infon"
        )
    if not annotation.locations:
        raise InputFormatError(
            path, None, f"document {doc_id}, annotation {annotation.id}: no location"
        )
    where = f"annotation {annotation.id} location"
    fragments = []
    for location in annotation.locations:
        start = _integer(location.offset, f"{where} offset")
        fragments.append((start, start + _integer(location.length, f"{where} length")))
    fragments.sort()
    for start, end in fragments:
        if not 0 <= start < end <= len(text):
            raise InputFormatError(
                path,
                None,
                f"document {doc_id}, annotation {annotation.id}: location [{start}, {end}) "
                f"outside the text of {len(text)} characters",
            )
    if len(fragments) == 1 and annotation.text:
        actual = text[fragments[0][0] : fragments[0][1]]
        if annotation.text != actual:
            raise InputFormatError(
                path,
                None,
                f"document {doc_id}, annotation {annotation.id}: text {annotation.text!r} "
                f"differs from the text at its location {actual!r}",
            )
    concept = None
    for key in (*_ID_KEYS, label):
        if infons.get(key):
            concept = infons.pop(key)
            break
    details = [extras.make(_ANNOTATION_ID, str(annotation.id))] if annotation.id else []
    if len(fragments) > 1:
        details.append(extras.make("fragments", extras.fragments_value(fragments)))
    details += [
        extras.make(key if key.startswith(_CARRIED) else f"{_INFON}{key}", value)
        for key, value in infons.items()
    ]
    return Span(fragments[0][0], max(e for _, e in fragments), label, None, concept, tuple(details))


def _relation(relation: Any) -> Relation:
    infons = dict(relation.infons)
    kind = infons.pop("type", "relation")
    # `arg<N>` infons hold the plain arguments `_bioc_relation` wrote (a PubTator CID pair, a
    # BRAT line); giving them back bare keeps relations intact through a BioC round trip.
    arguments = [
        value if _POSITIONAL.fullmatch(key) else f"{key}={value}" for key, value in infons.items()
    ]
    arguments += [f"{node.role}->{node.refid}" for node in relation.nodes]
    return Relation(kind, tuple(arguments))


def _mismatch(passage: Any, offset: int) -> Any | None:
    """The first single-location annotation whose text is not where it says, for this
    passage offset; None when all are."""
    for annotation in passage.annotations:
        if len(annotation.locations) != 1 or not annotation.text:
            continue
        location = annotation.locations[0]
        start = _integer(location.offset, f"annotation {annotation.id} location offset") - offset
        end = start + _integer(location.length, f"annotation {annotation.id} location length")
        if passage.text[start:end] != annotation.text:
            return annotation
    return None


#: Units other tools count offsets in: the BioC DTD suggests UTF-8 bytes, and Java and
#: JavaScript strings count UTF-16 code units (an emoji or 𝛼 is two).
_OTHER_UNITS = (("UTF-16 code units", "utf-16-le", 2), ("UTF-8 bytes", "utf-8", 1))


def _counted_unit(passage: Any, offset: int, annotation: Any) -> str | None:
    """The unit in which `annotation` is where it says (relative to its passage), if its
    location counts UTF-16 code units or UTF-8 bytes instead of characters; else None."""
    location = annotation.locations[0]
    start = _integer(location.offset, "location offset") - offset
    length = _integer(location.length, "location length")
    if passage.text.isascii() or start < 0:
        return None  # in ASCII every unit counts the same
    for unit, encoding, width in _OTHER_UNITS:
        data = passage.text.encode(encoding)[start * width : (start + length) * width]
        if data.decode(encoding, errors="replace") == annotation.text:
            return unit
    return None


def _passage_offset(passage: Any, where: str) -> int:
    """The passage's offset, repaired when its annotations prove it wrong.

    The tmVar BioC release computes passage offsets on XML-escaped text (`&gt;` counted as
    4 characters), so an abstract after a title holding `>` starts 3 characters too late,
    while the annotation offsets are right (they equal the PubTator ones). When no
    annotation matches at the stated offset but all match at one earlier offset, that one
    is used (the nearest if several), and a warning is logged. Only earlier: annotations
    that fit a later offset count more than the characters of the text, the signature of
    offsets in UTF-16 code units or UTF-8 bytes, which shifting the passage would hide
    (it padded the text and moved every offset). Those are an error naming the unit.
    """
    offset = _integer(passage.offset, "passage offset")
    if not passage.text:
        return offset
    wrong = _mismatch(passage, offset)
    if wrong is None:
        return offset
    unit = _counted_unit(passage, offset, wrong)
    if unit is not None:
        raise _BioCValueError(
            f"annotation {wrong.id}: text {wrong.text!r} is at its location only if offsets "
            f"count {unit}; bioner reads BioC offsets as characters (Unicode code points), "
            "as the bioc package and PubTator do"
        )
    relative = _integer(wrong.locations[0].offset, "location offset")
    candidates = []
    found = passage.text.find(wrong.text)
    while found >= 0:
        if relative - found < offset:
            candidates.append(relative - found)
        found = passage.text.find(wrong.text, found + 1)
    for candidate in sorted(candidates, key=lambda c: abs(c - offset)):
        if _mismatch(passage, candidate) is None:
            log.warning(
                "%s: passage at offset %d: its annotations fit offset %d; using it",
                where,
                offset,
                candidate,
            )
            return candidate
    return offset


def _document(path: PathLike, source: Any) -> Document:
    where = f"{path}, document {source.id}"
    offsets = [_passage_offset(p, where) for p in source.passages]  # once: it may warn
    pieces: list[tuple[int, str]] = []
    for passage, start in zip(source.passages, offsets, strict=True):
        if passage.text or not passage.sentences:
            pieces.append((start, passage.text or ""))
        else:
            pieces.extend(
                (_integer(s.offset, "sentence offset"), s.text) for s in passage.sentences if s.text
            )
    text = ""
    for offset, piece in sorted(pieces):
        if offset < len(text):
            raise InputFormatError(
                path, None, f"document {source.id}: text at offset {offset} overlaps earlier text"
            )
        text += " " * (offset - len(text)) + piece
    document = Document(id=str(source.id), text=text)
    document.metadata.update({f"{_METADATA}{k}": str(v) for k, v in source.infons.items()})
    for passage, start in zip(source.passages, offsets, strict=True):
        infons = dict(passage.infons)
        kind = infons.pop("type", None) or infons.pop("section_type", None) or "passage"
        length = (
            len(passage.text)
            if passage.text
            else max(
                (
                    _integer(s.offset, "sentence offset") + len(s.text or "") - start
                    for s in passage.sentences
                ),
                default=0,
            )
        )
        document.passages.append(
            Passage(kind, start, start + length, tuple(sorted(infons.items())))
        )
        annotations = list(passage.annotations)
        relations = list(passage.relations)
        for sentence in passage.sentences:
            annotations += sentence.annotations
            relations += sentence.relations
        document.spans += [_span(path, document.id, a, text) for a in annotations]
        document.relations += [_relation(r) for r in relations]
    document.spans += [_span(path, document.id, a, text) for a in source.annotations]
    document.relations += [_relation(r) for r in source.relations]
    return document


def read_bioc(path: PathLike, fmt: str = "bioc-xml") -> Iterator[Document]:
    """Documents of a BioC XML (`fmt="bioc-xml"`) or BioC JSON (`"bioc-json"`) collection."""
    collection = _load(path, fmt)
    for source in collection.documents:
        try:
            document = _document(path, source)
        except (ValueError, TypeError, AttributeError, KeyError) as error:
            problem = (
                str(error) if isinstance(error, _BioCValueError) else f"not valid BioC ({error})"
            )
            raise InputFormatError(path, None, f"document {source.id}: {problem}") from None
        yield document


def _annotation(document: Document, span: Span, number: int) -> Any:
    annotation = bioc.BioCAnnotation()
    annotation.id = extras.get(span, _ANNOTATION_ID) or f"T{number}"
    annotation.infons["type"] = span.label
    if span.concept_id is not None:
        annotation.infons["identifier"] = span.concept_id
    if span.score is not None:
        annotation.infons["score"] = repr(span.score)
    for key, value in extras.with_prefix(span, _INFON):
        annotation.infons.setdefault(key, value)
    for key, value in extras.with_prefix(span, ""):
        if key.startswith(_CARRIED):
            annotation.infons.setdefault(key, value)
    fragments = extras.fragments_of(span)
    for start, end in fragments:
        annotation.add_location(bioc.BioCLocation(start, end - start))
    annotation.text = " ".join(document.text[start:end] for start, end in fragments)
    return annotation


def _bioc_relation(relation: Relation, number: int) -> Any:
    result = bioc.BioCRelation()
    result.id = f"R{number}"
    result.infons["type"] = relation.kind
    for index, argument in enumerate(relation.arguments, 1):
        if "->" in argument:
            role, _, refid = argument.partition("->")
            result.add_node(bioc.BioCNode(refid, role))
        elif "=" in argument:
            key, _, value = argument.partition("=")
            result.infons[key] = value
        else:
            result.infons[f"arg{index}"] = argument
    return result


def _bioc_document(document: Document) -> Any:
    result = bioc.BioCDocument()
    result.id = document.id
    for key, value in document.metadata.items():
        if key.startswith(_METADATA):
            result.infons[key[len(_METADATA) :]] = value
    regions = document.passages or [Passage("passage", 0, len(document.text))]
    passages = []
    for region in regions:
        passage = bioc.BioCPassage()
        passage.offset = region.start
        passage.text = document.text[region.start : region.end]
        passage.infons["type"] = region.kind
        passage.infons.update(dict(region.infons))
        passages.append(passage)
        result.add_passage(passage)
    for number, span in enumerate(document.spans, 1):
        home = next(
            (p for r, p in zip(regions, passages, strict=True) if r.start <= span.start < r.end),
            passages[0],
        )
        home.add_annotation(_annotation(document, span, number))
    for number, relation in enumerate(document.relations, 1):
        result.add_relation(_bioc_relation(relation, number))
    return result


#: Characters XML 1.0 cannot hold, even as `&#…;` references (lxml refuses them): C0
#: controls other than TAB, LF and CR, and the non-characters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(document: Document) -> Document:
    """The document with characters XML 1.0 cannot hold in its text made spaces, one for one.

    A form feed (a page break in text taken from PDF) is common in real input and made the
    whole BioC XML write fail with lxml's traceback. One for one keeps every offset valid,
    as PubTator output does for line breaks; a warning says so, and BioC JSON keeps them.
    """
    found = _NOT_XML.findall(document.text)
    if not found:
        return document
    log.warning(
        "document %s: %d character(s) XML cannot hold (%s) written to BioC XML as spaces, "
        "one for one, so offsets are unchanged; BioC JSON keeps them",
        document.id,
        len(found),
        ", ".join(sorted({f"U+{ord(ch):04X}" for ch in found})),
    )
    return replace(document, text=_NOT_XML.sub(" ", document.text))


def _check_xml(result: Any, doc_id: str) -> None:
    """Refuse ids and infons (not text) holding a character XML cannot hold, naming them."""
    values = [result.id, *result.infons.items()]
    for passage in result.passages:
        values += passage.infons.items()
        for annotation in passage.annotations:
            values += [annotation.id, *annotation.infons.items()]
    for relation in result.relations:
        values += [relation.id, *relation.infons.items()]
        values += [(node.role, node.refid) for node in relation.nodes]
    for value in values:
        for part in value if isinstance(value, tuple) else (value,):
            found = _NOT_XML.search(str(part))
            if found:
                raise BionerError(
                    f"document {doc_id}: {str(part)!r} holds U+{ord(found.group()):04X}, which "
                    "XML cannot hold; write BioC JSON instead"
                )


def write_bioc(documents: Iterable[Document], stream: TextIO, fmt: str) -> int:
    """Write one BioC collection as XML (`fmt="bioc-xml"`) or JSON (`"bioc-json"`)."""
    collection = bioc.BioCCollection()
    collection.source = "bioner"
    collection.date = ""
    collection.key = "bioner.key"
    for document in documents:
        if fmt == "bioc-xml":
            result = _bioc_document(_xml_text(document))
            _check_xml(result, document.id)
        else:
            result = _bioc_document(document)
        collection.add_document(result)
    if fmt == "bioc-xml":
        text = io.StringIO()
        biocxml.dump(collection, text)
        data = text.getvalue()
    elif fmt == "bioc-json":
        data = biocjson.dumps(collection, indent=1)
    else:
        raise BionerError(f"unknown BioC flavour {fmt!r}")
    stream.write(data)
    return len(collection.documents)
