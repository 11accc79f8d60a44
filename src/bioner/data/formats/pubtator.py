"""PubTator files (`PMID|t|title`, `PMID|a|abstract`, TAB-separated mention and relation lines).

Written by hand: PubTator has no maintained Python reader that keeps the file layout, and we
need exact line numbers in errors and a byte-for-byte round trip of the staged originals.

* Text is `title + " " + abstract` (title only when there is no `|a|` line); the title and
  abstract are kept as Passages so the writer can split the text again.
* Mention lines: `PMID start end mention type [id [extra...]]` → `Span`; an empty id is None;
  columns 7+ (BC5CDR composite parts) are kept in `Span.extra` as `pubtator.column7=…`.
* 4-column lines (`PMID CID chemical disease`) are `Relation`s, written after the mentions
  (a 4-column line with integer offsets is a mention cut short: an error). Relations of
  another shape, and BRAT lines (their ids are not kept here), are left out (warning).
* Every mention's text must equal the text at its offsets (InputFormatError otherwise). One
  exception, found in the real NCBI-disease training file (line 3249): a mention column with
  trailing spaces. Surrounding whitespace is tolerated; the raw column is kept in the
  document metadata (`pubtator.mention.<start>.<end>.<type>`) so that it is written back.
* Repeated PMIDs (NCBI-disease train lists 8528200 twice) give two Documents with one id.
* Layout kept in metadata for the round trip: `pubtator.newline` (CRLF in tmVar) and the
  number of blank lines before a document / after the last one where they differ from the
  default (none before the first document, one between documents and at the end).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from bioner.data.atomic import PathLike
from bioner.data.document import Document, Passage, Relation, Span
from bioner.data.formats import extras
from bioner.data.formats.textio import LINE_BOUNDARIES, read_text
from bioner.errors import BionerError, InputFormatError

log = logging.getLogger(__name__)

_TEXT_LINE = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")
_COLUMN = "pubtator.column"
NEWLINE_KEY = "pubtator.newline"
BLANK_BEFORE_KEY = "pubtator.blank_before"
BLANK_AFTER_KEY = "pubtator.blank_after"
_RAW_MENTION = "pubtator.mention"


@dataclass
class _Block:
    doc_id: str
    line: int
    blank_before: int
    title: str | None = None
    abstract: str | None = None
    mentions: list[tuple[int, list[str]]] = field(default_factory=list)
    relations: list[tuple[int, list[str]]] = field(default_factory=list)


def _raw_mention_key(start: int, end: int, label: str) -> str:
    return f"{_RAW_MENTION}.{start}.{end}.{label}"


def _blocks(path: PathLike, data: str) -> tuple[list[_Block], int]:
    """Group lines into documents; returns the blocks and the blank lines after the last."""
    blocks: list[_Block] = []
    current: _Block | None = None
    blanks = 0
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the text after the final newline
    for number, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            current = None
            blanks += 1
            continue
        match = _TEXT_LINE.match(line)
        if match:
            doc_id, kind, text = match.groups()
            if kind == "t" or current is None:
                if kind == "a":
                    raise InputFormatError(path, number, "abstract line without a title line")
                current = _Block(doc_id, number, blanks)
                blocks.append(current)
                blanks = 0
                current.title = text
            else:
                if current.doc_id != doc_id:
                    raise InputFormatError(
                        path, number, f"abstract of {doc_id} under the title of {current.doc_id}"
                    )
                if current.abstract is not None or current.mentions:
                    raise InputFormatError(path, number, f"a second abstract line for {doc_id}")
                current.abstract = text
            continue
        fields = line.split("\t")
        if current is None:
            raise InputFormatError(
                path, number, "annotation line outside a document (expected 'PMID|t|title')"
            )
        if fields[0] != current.doc_id:
            raise InputFormatError(
                path, number, f"annotation for {fields[0]!r} inside document {current.doc_id!r}"
            )
        if len(fields) >= 5:
            current.mentions.append((number, fields))
        elif len(fields) == 4 and not (fields[1].isdigit() and fields[2].isdigit()):
            current.relations.append((number, fields))
        elif len(fields) == 4:
            # Offsets in columns 2-3: a mention cut short, not a relation to keep silently.
            raise InputFormatError(
                path, number, "mention line with 4 columns: the entity type (column 5) is missing"
            )
        else:
            raise InputFormatError(
                path,
                number,
                f"expected 4 columns (relation) or at least 5 (mention), found {len(fields)}",
            )
    return blocks, blanks


def _document(path: PathLike, block: _Block) -> Document:
    title = block.title or ""
    text = title if block.abstract is None else f"{title} {block.abstract}"
    passages = [Passage("title", 0, len(title))]
    if block.abstract is not None:
        passages.append(Passage("abstract", len(title) + 1, len(text)))
    document = Document(id=block.doc_id, text=text, passages=passages)
    for number, fields in block.mentions:
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise InputFormatError(
                path, number, f"offsets {fields[1]!r} {fields[2]!r} are not integers"
            ) from None
        if not 0 <= start < end <= len(text):
            raise InputFormatError(
                path, number, f"offsets [{start}, {end}) outside the text of {len(text)} characters"
            )
        mention, label = fields[3], fields[4]
        if not label:
            raise InputFormatError(path, number, "empty entity type")
        actual = text[start:end]
        if mention != actual:
            if mention.strip() != actual:
                raise InputFormatError(
                    path,
                    number,
                    f"mention {mention!r} differs from the text at its offsets {actual!r}",
                )
            document.metadata[_raw_mention_key(start, end, label)] = mention
        concept = fields[5] if len(fields) > 5 and fields[5] else None
        columns = tuple(
            extras.make(f"{_COLUMN}{index}", value) for index, value in enumerate(fields[6:], 7)
        )
        document.spans.append(Span(start, end, label, concept_id=concept, extra=columns))
    for _, fields in block.relations:
        document.relations.append(Relation(fields[1], tuple(fields[2:])))
    return document


def read_pubtator(path: PathLike) -> Iterator[Document]:
    """Documents of a PubTator file, in file order (repeated PMIDs included)."""
    data = read_text(path)
    crlf = "\r\n" in data[: data.find("\n") + 1] if "\n" in data else False
    blocks, trailing = _blocks(path, data)
    for index, block in enumerate(blocks):
        document = _document(path, block)
        if crlf:
            document.metadata[NEWLINE_KEY] = "\r\n"
        if block.blank_before != (0 if index == 0 else 1):
            document.metadata[BLANK_BEFORE_KEY] = str(block.blank_before)
        if index == len(blocks) - 1 and trailing != 1:
            document.metadata[BLANK_AFTER_KEY] = str(trailing)
        yield document


def _title_and_abstract(document: Document) -> tuple[str, str | None]:
    """Split the text back into title and abstract, as PubTator needs one line each.

    Passages read from PubTator give the split exactly (line breaks inside them, as BioC
    passages may hold, become spaces). Otherwise the first line feed ends the title; line
    breaks (every `LINE_BOUNDARIES` character: a form feed or U+2028 ends a line for many
    readers) and TABs, which PubTator cannot hold, become spaces, one character for one, so
    every offset stays valid.
    """
    text = document.text
    kinds = [p.kind for p in document.passages]
    if kinds in (["title"], ["title", "abstract"]):
        title = document.passages[0]
        second = document.passages[1] if len(kinds) == 2 else None
        title_only = second is None and title.end == len(text)
        both = second is not None and second.start == title.end + 1 and second.end == len(text)
        if title.start == 0 and (title_only or both):
            flat = text.translate(_LINE_BREAKS)
            return flat[: title.end], (flat[title.end + 1 :] if second is not None else None)
    flat = text.translate(_FLATTEN)
    cut = text.find("\n")
    if cut < 0:
        return flat, None
    return flat[:cut], flat[cut + 1 :]


_LINE_BREAKS = str.maketrans(dict.fromkeys(LINE_BOUNDARIES, " "))
_FLATTEN = str.maketrans(dict.fromkeys(LINE_BOUNDARIES + "\t", " "))


def write_pubtator(
    documents: Iterable[Document], stream: TextIO, *, newline: str | None = None
) -> int:
    """Write documents as PubTator; `newline=None` keeps each document's own line ending."""
    written = 0
    last: Document | None = None
    for document in documents:
        if not document.id or any(ch in document.id for ch in "|\t\n\r"):
            raise BionerError(
                f"document id {document.id!r} cannot be a PubTator PMID (empty, or has | or TAB)"
            )
        end = newline or document.metadata.get(NEWLINE_KEY, "\n")
        blank = int(document.metadata.get(BLANK_BEFORE_KEY, 0 if written == 0 else 1))
        lines: list[str] = [""] * blank
        title, abstract = _title_and_abstract(document)
        lines.append(f"{document.id}|t|{title}")
        if abstract is not None:
            lines.append(f"{document.id}|a|{abstract}")
        for span in document.spans:
            actual = document.text[span.start : span.end]
            mention = document.metadata.get(
                _raw_mention_key(span.start, span.end, span.label), actual
            )
            if mention.strip() != actual:
                mention = actual
            values = [span.label, span.concept_id or ""]
            values += [value for _, value in sorted(_extra_columns(span))]
            for value in values:
                if _breaks_line(value):
                    raise BionerError(
                        f"document {document.id}: {value!r} (type, id or extra column of the "
                        f"mention at [{span.start}, {span.end})) has a TAB or line break, "
                        "which PubTator cannot hold"
                    )
            columns = [document.id, str(span.start), str(span.end), mention.translate(_FLATTEN)]
            lines.append("\t".join(columns + values))
        skipped = 0
        for relation in document.relations:
            # BRAT lines refer to BRAT ids, which PubTator does not keep; other shapes would
            # read back as a mention or a broken line.
            if (
                relation.kind.startswith("brat.")
                or len(relation.arguments) != 2
                or any(_breaks_line(value) for value in (relation.kind, *relation.arguments))
            ):
                skipped += 1
                continue
            lines.append("\t".join([document.id, relation.kind, *relation.arguments]))
        if skipped:
            log.warning(
                "document %s: %d relation(s) have no PubTator form (BRAT lines, or not "
                "exactly two arguments) and were not written",
                document.id,
                skipped,
            )
        stream.write(end.join(lines) + end)
        written += 1
        last = document
    if last is not None:
        end = newline or last.metadata.get(NEWLINE_KEY, "\n")
        stream.write(end * int(last.metadata.get(BLANK_AFTER_KEY, 1)))
    return written


def _breaks_line(value: str) -> bool:
    return any(ch in value for ch in LINE_BOUNDARIES + "\t")


def _extra_columns(span: Span) -> list[tuple[int, str]]:
    found = []
    for key, value in extras.with_prefix(span, _COLUMN):
        if key.isdigit():
            found.append((int(key), value))
    return found
