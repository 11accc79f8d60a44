"""BRAT standoff (`name.txt` + `name.ann`) ⇄ Documents.

Written by hand: the `.ann` grammar is small, and no maintained package reads it with line
numbers for errors and a lossless round trip.

* The `.txt` file is the document text, read without newline translation, so offsets into a
  text with line breaks (or CRLF) stay exact. The document id is the file stem.
* Text-bound lines (`T…<TAB>Label start end[;start end…]<TAB>text`) become Spans. Any id
  starting with `T` is accepted (`T1`, `T1a`, `TX`), and kept in `Span.extra` (`brat.id=`).
* A discontinuous mention (`0 5;10 15`) becomes ONE span over its outer extent [0, 15), the
  same convention as most BioNER evaluations, and its fragments are kept in `Span.extra`
  (`fragments=0 5;10 15`) so that the BRAT and BioC writers reproduce them; nothing is lost.
* The mention text must equal the text at the offsets (fragments joined by one space; a line
  break or TAB in the text matches a space), else InputFormatError naming the file and line.
* Every other line (`R`, `E`, `A`, `M`, `N`, `*`, `#`) is kept verbatim as a Relation of kind
  `brat.<first letter>` and written back after the text-bound lines; they are not
  interpreted (bioner only models entity mentions). Concept ids of other formats are not
  written (a warning says how many).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from bioner.data.atomic import PathLike, refuse_inputs
from bioner.data.document import Document, Relation, Span
from bioner.data.formats import extras
from bioner.data.formats.textio import LINE_BOUNDARIES, open_output, read_text
from bioner.errors import BionerError, InputFormatError

log = logging.getLogger(__name__)

ID_KEY = "brat.id"
FRAGMENTS_KEY = "fragments"
#: Characters not kept in file names: ids such as `train:12` become `train_12`.
_UNSAFE = re.compile(r"[^\w.\-]")
_FOLDER_MODE = 0o755
#: Line breaks (all `LINE_BOUNDARIES`: brat reads `.ann` files through `codecs`, whose
#: lines also end at a form feed or U+2028) and TABs of a mention are spaces in the `.ann`.
_WHITESPACE_AS_SPACE = str.maketrans(dict.fromkeys(LINE_BOUNDARIES + "\t", " "))


def _parse_fragments(path: PathLike, number: int, value: str) -> list[tuple[int, int]]:
    fragments = []
    for piece in value.split(";"):
        parts = piece.split()
        if len(parts) != 2:
            raise InputFormatError(path, number, f"expected 'start end' offsets, found {piece!r}")
        try:
            start, end = int(parts[0]), int(parts[1])
        except ValueError:
            raise InputFormatError(path, number, f"offsets {piece!r} are not integers") from None
        fragments.append((start, end))
    return fragments


def _text_bound(path: PathLike, number: int, fields: list[str], text: str) -> Span:
    if len(fields) < 3:
        raise InputFormatError(
            path, number, f"text-bound annotation needs 3 TAB-separated fields, found {len(fields)}"
        )
    label, _, offsets = fields[1].partition(" ")
    if not label or not offsets:
        raise InputFormatError(path, number, f"expected 'Label start end', found {fields[1]!r}")
    fragments = _parse_fragments(path, number, offsets)
    for start, end in fragments:
        if not 0 <= start < end <= len(text):
            raise InputFormatError(
                path, number, f"offsets [{start}, {end}) outside the text of {len(text)} characters"
            )
    mention = "\t".join(fields[2:])
    actual = " ".join(text[start:end] for start, end in fragments)
    if mention.translate(_WHITESPACE_AS_SPACE) != actual.translate(_WHITESPACE_AS_SPACE):
        raise InputFormatError(
            path, number, f"mention {mention!r} differs from the text at its offsets {actual!r}"
        )
    details = [extras.make(ID_KEY, fields[0])]
    if len(fragments) > 1:
        details.append(extras.make(FRAGMENTS_KEY, extras.fragments_value(fragments)))
    start = min(s for s, _ in fragments)
    end = max(e for _, e in fragments)
    return Span(start, end, label, extra=tuple(details))


def read_brat_pair(ann_path: PathLike, txt_path: PathLike | None = None) -> Document:
    """One document from a `.ann` file and its `.txt` (same stem by default)."""
    ann = Path(ann_path)
    txt = Path(txt_path) if txt_path is not None else ann.with_suffix(".txt")
    if not txt.is_file():
        raise InputFormatError(ann, None, f"the text file {txt.name} is missing")
    text = read_text(txt, keep_bom=True)  # brat counts a byte-order mark in its offsets
    document = Document(id=ann.stem, text=text)
    seen: set[str] = set()
    for number, raw in enumerate(read_text(ann).split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        fields = line.split("\t")
        if fields[0].startswith("T"):
            if fields[0] in seen:
                raise InputFormatError(ann, number, f"annotation id {fields[0]} used twice")
            seen.add(fields[0])
            document.spans.append(_text_bound(ann, number, fields, text))
        elif fields[0][:1] in {"R", "E", "A", "M", "N", "*", "#"}:
            document.relations.append(Relation(f"brat.{fields[0][0]}", tuple(fields)))
        else:
            raise InputFormatError(ann, number, f"unknown annotation kind {fields[0]!r}")
    return document


def read_brat(path: PathLike) -> Iterator[Document]:
    """A `.ann`/`.txt` file (one document) or a folder of pairs (sorted by name)."""
    source = Path(path)
    if source.is_dir():
        annotations = sorted(source.glob("*.ann"))
        if not annotations:
            raise InputFormatError(source, None, "no .ann files in this folder")
        for ann in annotations:
            yield read_brat_pair(ann)
    else:
        yield read_brat_pair(source.with_suffix(".ann"), source.with_suffix(".txt"))


def _ann_lines(document: Document) -> list[str]:
    used = {extras.get(span, ID_KEY) for span in document.spans} - {None}
    lines: list[str] = []
    given: set[str] = set()
    counter = 0
    for span in document.spans:
        span_id = extras.get(span, ID_KEY)
        if span_id is None or span_id in given:
            while True:
                counter += 1
                span_id = f"T{counter}"
                if span_id not in used and span_id not in given:
                    break
        given.add(span_id)
        fragments = extras.fragments_of(span)
        offsets = ";".join(f"{start} {end}" for start, end in fragments)
        mention = " ".join(document.text[s:e] for s, e in fragments)
        if any(ch.isspace() for ch in span.label):  # a line break would cut the line
            raise BionerError(f"label {span.label!r} has whitespace, which BRAT cannot hold")
        lines.append(
            f"{span_id}\t{span.label} {offsets}\t{mention.translate(_WHITESPACE_AS_SPACE)}"
        )
    others = 0
    for relation in document.relations:
        if relation.kind.startswith("brat."):
            lines.append("\t".join(relation.arguments))
        else:
            others += 1
    if others:
        log.warning(
            "document %s: %d relation(s) of other formats have no BRAT form and were not written",
            document.id,
            others,
        )
    return lines


def write_brat(
    documents: Iterable[Document], folder: PathLike, *, inputs: Iterable[PathLike] = ()
) -> int:
    """Write `<id>.txt` and `<id>.ann` per document into `folder` (created if needed).

    A new folder appears whole or not at all: it is filled under a temporary name and renamed
    into place, so an input error half-way through leaves no partial corpus behind. In an
    existing folder each file is replaced atomically.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise BionerError(f"{folder} is a file; BRAT output is a folder of .txt/.ann pairs")
    fresh = not target.exists()
    destination = target
    if fresh:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        destination = Path(temp)
    try:
        names, with_concepts = _write_pairs(documents, destination, list(inputs))
        if fresh:
            destination.chmod(_FOLDER_MODE)  # mkdtemp makes it private
            os.replace(destination, target)
    except BaseException:
        if fresh:
            shutil.rmtree(destination, ignore_errors=True)
        raise
    if with_concepts:
        log.warning(
            "%d mention(s) have concept ids, which BRAT output does not hold", with_concepts
        )
    others = sorted(p.name for p in target.glob("*.ann") if p.stem not in names)
    if others:
        # Reading the folder back would mix them in, e.g. documents of an earlier conversion.
        log.warning(
            "%s also holds %d .ann file(s) not written now (%s); reading it includes them",
            folder,
            len(others),
            ", ".join(others[:3]) + (", …" if len(others) > 3 else ""),
        )
    return len(names)


def _write_pairs(
    documents: Iterable[Document], target: Path, inputs: list[PathLike]
) -> tuple[set[str], int]:
    """Write the pairs into `target`; returns the file names used and the mentions whose
    concept ids were not written."""
    names: set[str] = set()
    with_concepts = 0
    for document in documents:
        name = _UNSAFE.sub("_", document.id).lstrip(".")
        if not name:
            raise BionerError(f"document id {document.id!r} cannot be used as a BRAT file name")
        if name in names:
            raise BionerError(
                f"two documents map to the file name {name!r}; BRAT needs one file per document"
            )
        names.add(name)
        # Check both files first: a .txt/.ann input pair must not lose its .txt either.
        refuse_inputs(target / f"{name}.txt", inputs)
        refuse_inputs(target / f"{name}.ann", inputs)
        with open_output(target / f"{name}.txt", inputs) as stream:
            stream.write(document.text)
        with open_output(target / f"{name}.ann", inputs) as stream:
            stream.write("".join(f"{line}\n" for line in _ann_lines(document)))
        with_concepts += sum(span.concept_id is not None for span in document.spans)
    return names, with_concepts
