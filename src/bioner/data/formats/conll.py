"""CoNLL-style token-per-line files (`token<TAB>…<TAB>tag`) ⇄ Documents.

Written by hand: the layout is a few lines of parsing, and the details that matter here —
exact line numbers in errors, `-DOCSTART-` as a document boundary, a chosen tag column,
gzip, CRLF, a missing final blank line — are not what a general CSV reader handles.

Documents: a `-DOCSTART-` line (JNLPBA) or a `###MEDLINE:<id>` line (the official JNLPBA
test file) starts a new Document that holds every sentence up to the next boundary. A
sentence outside any such document (the usual case: most corpora have no markers) is a
Document of its own, with id `<file stem>:<n>`, because the files carry no document
structure to recover and one huge document per file would make every per-sentence lookup
slow. Either way sentences stay sentences, so counts do not depend on this choice.

Writing keeps documents for the way back: every document gets a `-DOCSTART-` line except the
sentences that were read as documents of their own (so such a file is written back as it
was). Mentions the tags cannot hold as they are (overlapping, off token boundaries, across a
sentence end, outside every sentence) are counted and named in one warning per write.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from bioner.data.atomic import PathLike
from bioner.data.document import Document, Sentence
from bioner.data.formats.textio import open_input, reading, strip_gz
from bioner.data.lost_spans import LostSpans
from bioner.data.tagging import Chunk, TagScheme, chunks_from_tags, split_tag, validate_tags
from bioner.errors import BionerError, InputFormatError

log = logging.getLogger(__name__)

DOCSTART = "-DOCSTART-"
MEDLINE_MARK = "###MEDLINE:"
#: Document metadata key holding the boundary line a document started with (for writing back);
#: "" for a sentence read without one, which is written back without one.
DOCSTART_KEY = "conll.docstart"

Tokenizer = Callable[[str], list[Sentence]]


@dataclass(slots=True)
class TaggedSentence:
    """One sentence as read: words, tags and the line number of its first token."""

    words: list[str]
    tags: list[str]
    line: int


@dataclass(slots=True)
class Boundary:
    """A document boundary line (`-DOCSTART-` or `###MEDLINE:`) and its line number."""

    text: str
    line: int
    doc_id: str | None = None


@dataclass(slots=True)
class _Pending:
    words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    line: int = 0


def iter_blocks(
    path: PathLike, *, tag_column: int = -1, token_column: int = 0
) -> Iterator[TaggedSentence | Boundary]:
    """Sentences and document boundaries of a CoNLL file, in file order.

    Columns are split on TAB (or on runs of spaces where a line has no TAB); every token line
    of a file must have as many columns as the first one.
    """
    columns: int | None = None
    pending = _Pending()
    with reading(path), open_input(path) as stream:
        for number, raw in enumerate(stream, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if pending.words:
                    yield TaggedSentence(pending.words, pending.tags, pending.line)
                    pending = _Pending()
                continue
            if line.startswith(MEDLINE_MARK) or line.split(maxsplit=1)[0] == DOCSTART:
                if pending.words:
                    yield TaggedSentence(pending.words, pending.tags, pending.line)
                    pending = _Pending()
                doc_id = (
                    line[len(MEDLINE_MARK) :].strip() if line.startswith(MEDLINE_MARK) else None
                )
                yield Boundary(line, number, doc_id)
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if columns is None:
                columns = len(fields)
                if columns < 2:
                    raise InputFormatError(
                        path, number, "expected at least 2 columns (token and tag), found 1"
                    )
                if not -columns <= tag_column < columns or not -columns <= token_column < columns:
                    raise InputFormatError(
                        path,
                        number,
                        f"tag column {tag_column} / token column {token_column} do not exist "
                        f"in a line with {columns} columns",
                    )
            elif len(fields) != columns:
                raise InputFormatError(
                    path,
                    number,
                    f"expected {columns} columns like the first line, found {len(fields)}",
                )
            word = fields[token_column]
            if not word or word != word.strip():
                raise InputFormatError(path, number, f"empty or space-padded token {word!r}")
            if not pending.words:
                pending.line = number
            pending.words.append(word)
            pending.tags.append(fields[tag_column].strip())
        if pending.words:
            yield TaggedSentence(pending.words, pending.tags, pending.line)


def _check_tags(path: PathLike, sentence: TaggedSentence, scheme: TagScheme) -> None:
    """Find the first bad tag of a sentence and report its line (only called on failure)."""
    for offset, tag in enumerate(sentence.tags):
        try:
            split_tag(tag)
            validate_tags([tag], scheme)
        except ValueError as error:
            raise InputFormatError(path, sentence.line + offset, str(error)) from None


@dataclass(slots=True)
class _UnreadTags:
    """Tags that the strict rule reads as O (an `I-Y` that continues no `Y` mention).

    Counted per file and reported once: a gold corpus must not lose mentions silently, and
    the lenient (conlleval) rule would have read them as mentions.
    """

    count: int = 0
    first: str = ""

    def add(self, sentence: TaggedSentence, chunks: Sequence[Chunk]) -> None:
        covered = [False] * len(sentence.tags)
        for _, start, end in chunks:
            covered[start:end] = [True] * (end - start)
        for offset, tag in enumerate(sentence.tags):
            if tag != "O" and not covered[offset]:
                if not self.count:
                    self.first = f"line {sentence.line + offset}: {tag!r}"
                self.count += 1

    def add_document(
        self, members: Sequence[TaggedSentence], document: Document, scheme: TagScheme
    ) -> None:
        """`add` for a built document, decoding again only when a tag went unread.

        Its tokens are joined by single spaces and a span never crosses a sentence, so a
        span covers one more token than it holds spaces: equal counts of tagged and covered
        tokens mean nothing was dropped, without decoding the tags a second time.
        """
        text = document.text
        covered = sum(text.count(" ", span.start, span.end) + 1 for span in document.spans)
        tagged = sum(tag != "O" for member in members for tag in member.tags)
        if covered != tagged:
            for member in members:
                self.add(member, chunks_from_tags(member.tags, scheme, strict=True))

    def report(self, path: PathLike, scheme: TagScheme) -> None:
        if self.count:
            log.warning(
                "%s: %d tag(s) continue no mention and were read as O by the strict %s rule "
                "(first at %s); --lenient reads them as conlleval does",
                path,
                self.count,
                scheme.value,
                self.first,
            )


def read_conll(
    path: PathLike,
    *,
    scheme: TagScheme | str = TagScheme.IOB2,
    strict: bool = True,
    tag_column: int = -1,
    token_column: int = 0,
) -> Iterator[Document]:
    """Documents of a CoNLL file, spans decoded from the tags (strict or lenient rule)."""
    scheme = TagScheme.parse(scheme)
    stem = strip_gz(path).split(".")[0]
    group: list[TaggedSentence] = []
    boundary: Boundary | None = None
    documents = 0
    sentences = 0
    unread = _UnreadTags()

    def build(doc_id: str, members: list[TaggedSentence]) -> Document:
        try:
            document = Document.from_tokens(
                doc_id,
                [s.words for s in members],
                [s.tags for s in members],
                scheme,
                strict=strict,
            )
        except ValueError:
            for member in members:
                _check_tags(path, member, scheme)
            raise
        if strict:
            unread.add_document(members, document, scheme)
        return document

    def flush() -> Iterator[Document]:
        nonlocal documents
        if boundary is None:
            return
        documents += 1
        doc_id = boundary.doc_id or f"{stem}:d{documents}"
        document = build(doc_id, group) if group else Document(id=doc_id, text="")
        document.metadata[DOCSTART_KEY] = boundary.text
        yield document

    for block in iter_blocks(path, tag_column=tag_column, token_column=token_column):
        if isinstance(block, Boundary):
            yield from flush()
            boundary, group = block, []
            continue
        sentences += 1
        if boundary is None:
            document = build(f"{stem}:{sentences}", [block])
            document.metadata[DOCSTART_KEY] = ""
            yield document
        else:
            group.append(block)
    yield from flush()
    unread.report(path, scheme)


def _default_tokenizer() -> Tokenizer:
    """bioner's own tokenizer, imported only when a text without tokens must be written."""
    try:
        from bioner.text import Tokenizer as TextTokenizer
    except ImportError:
        raise BionerError(
            "writing CoNLL needs tokens, and this document has none; bioner.text is not available"
        ) from None
    return TextTokenizer().tokenize


def _boundary(document: Document, sentences: int, docstart: bool | None, marked: bool) -> str:
    """The boundary line to write before a document ("" for none), by `write_conll`'s rule."""
    if docstart is False:
        return ""
    read_with = document.metadata.get(DOCSTART_KEY)
    if read_with:
        return read_with
    # A sentence read as a document of its own reads back as one only while no boundary
    # line precedes it (after one, its tokens would join that document).
    if docstart is None and read_with == "" and sentences == 1 and not marked:
        return ""
    return f"{DOCSTART}\tO"


def write_conll(
    documents: Iterable[Document],
    stream: TextIO,
    *,
    scheme: TagScheme | str = TagScheme.IOB2,
    docstart: bool | None = None,
    tokenizer: Tokenizer | None = None,
) -> int:
    """Write `token<TAB>tag` lines, a blank line after every sentence; returns documents written.

    Reading the file back (same `scheme`) gives the same documents, sentences, tokens and
    token-aligned mentions. `docstart=None` writes a boundary line (`-DOCSTART-<TAB>O`, or the
    one the document was read with) before every document except a sentence that was read as
    a document of its own, which reads back as one without; True writes one before every
    document, False none (a document of several sentences then reads back as several: warned).
    Documents without sentences (raw text) are tokenized with `tokenizer` (default:
    bioner.text). Spans the tags cannot hold as they are are named in one warning.
    """
    scheme = TagScheme.parse(scheme)
    written = 0
    marked = False
    split = 0
    lost = LostSpans()
    for document in documents:
        sentences = document.sentences
        if not sentences and document.text.strip():
            tokenizer = tokenizer or _default_tokenizer()
            sentences = tokenizer(document.text)
        marker = _boundary(document, len(sentences), docstart, marked)
        if marker:
            stream.write(f"{marker}\n\n")
            marked = True
        elif len(sentences) != 1:
            split += 1
        tag_lists = lost.tags(document, sentences, scheme)
        for sentence, tags in zip(sentences, tag_lists, strict=True):
            lines = []
            for token, tag in zip(sentence.tokens, tags, strict=True):
                if any(ch in token.text for ch in "\t\n\r "):
                    raise BionerError(
                        f"document {document.id}: token {token.text!r} contains whitespace, "
                        "which CoNLL cannot hold"
                    )
                if token.text == DOCSTART or token.text.startswith(MEDLINE_MARK):
                    raise BionerError(
                        f"document {document.id}: token {token.text!r} would be read back as "
                        "a document boundary line"
                    )
                if any(ch in tag for ch in "\t\n\r"):
                    raise BionerError(
                        f"document {document.id}: tag {tag!r} has a TAB or line break, "
                        "which CoNLL cannot hold"
                    )
                lines.append(f"{token.text}\t{tag}\n")
            stream.write("".join(lines))
            stream.write("\n")
        written += 1
    lost.report("CoNLL tags", log)
    if split:
        log.warning(
            "%d document(s) with no or several sentences were written without a -DOCSTART- "
            "line (docstart=False): read back, each sentence is a document and empty ones are "
            "gone",
            split,
        )
    return written


def count_conll(
    path: PathLike,
    *,
    scheme: TagScheme | str = TagScheme.IOB2,
    strict: bool = True,
    tag_column: int = -1,
    token_column: int = 0,
) -> tuple[int, int, int, Counter[str]]:
    """(documents, sentences, tokens, mentions per type) without building Documents.

    Same parsing, decoding and document rule as `read_conll` (a sentence before any boundary
    is a document of its own) at about half the cost: `corpus stats` over all staged
    corpora reads millions of tokens.
    """
    scheme = TagScheme.parse(scheme)
    documents = sentences = tokens = 0
    inside = False
    mentions: Counter[str] = Counter()
    unread = _UnreadTags()
    for block in iter_blocks(path, tag_column=tag_column, token_column=token_column):
        if isinstance(block, Boundary):
            documents += 1
            inside = True
            continue
        sentences += 1
        documents += 0 if inside else 1
        tokens += len(block.words)
        try:
            chunks = chunks_from_tags(block.tags, scheme, strict=strict)
        except ValueError:
            _check_tags(path, block, scheme)
            raise
        unread.add(block, chunks)
        mentions.update(label for label, _, _ in chunks)
    unread.report(path, scheme)
    return documents, sentences, tokens, mentions
