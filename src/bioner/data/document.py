"""The data model every part of bioner speaks: Document ▸ Sentence ▸ Token, plus Spans.

Offsets are character offsets into `Document.text`, end-exclusive, always. A model only ever
sees tokens; spans travel in character offsets so that annotations map back onto the
original text exactly, whatever tokenizer or corpus format produced the tokens.

Documents built from pre-tokenized corpora (CoNLL) get a reconstructed text: tokens joined
by one space, sentences by one newline. The rule is fixed, so offsets are stable across runs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bioner.data.tagging import TagScheme, chunks_from_tags, tags_from_chunks


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its text and its [start, end) character offsets in the document text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Span:
    """An entity mention in character offsets [start, end) with its type.

    `score` is a model's confidence, `concept_id` a normalisation identifier (e.g. a MeSH id)
    and `extra` any further columns a format carries, kept so that files round-trip.
    """

    start: int
    end: int
    label: str
    score: float | None = None
    concept_id: str | None = None
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"span [{self.start}, {self.end}) is empty or negative")
        if not self.label:
            raise ValueError("span label is empty")

    @property
    def key(self) -> tuple[int, int, str]:
        """What exact matching compares: offsets and type."""
        return (self.start, self.end, self.label)


@dataclass(frozen=True, slots=True)
class Passage:
    """A named region of the text (a title, an abstract, a BioC passage) with its offsets."""

    kind: str
    start: int
    end: int
    infons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation line carried through unchanged (e.g. PubTator `CID` lines)."""

    kind: str
    arguments: tuple[str, ...]


@dataclass(slots=True)
class Sentence:
    """A run of tokens. Sentences never overlap and never are empty."""

    tokens: list[Token]

    def __post_init__(self) -> None:
        if not self.tokens:
            raise ValueError("a sentence needs at least one token")

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    @property
    def words(self) -> list[str]:
        return [token.text for token in self.tokens]

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(slots=True)
class Document:
    """A text with its sentences, tokens, entity spans and carried-along metadata."""

    id: str
    text: str
    sentences: list[Sentence] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_tokens(
        cls,
        doc_id: str,
        sentences: Sequence[Sequence[str]],
        tags: Sequence[Sequence[str]] | None = None,
        scheme: TagScheme | str = TagScheme.IOB2,
        *,
        strict: bool = True,
    ) -> Document:
        """Build a document from pre-tokenized sentences (and optional tags per token).

        The text is the tokens joined by one space, the sentences by one newline.
        """
        pieces: list[str] = []
        built: list[Sentence] = []
        spans: list[Span] = []
        offset = 0
        for index, words in enumerate(sentences):
            if index:
                pieces.append("\n")
                offset += 1
            tokens: list[Token] = []
            for position, word in enumerate(words):
                if position:
                    pieces.append(" ")
                    offset += 1
                if not word:
                    raise ValueError(
                        f"sentence {index + 1}: empty token at position {position + 1}"
                    )
                tokens.append(Token(word, offset, offset + len(word)))
                pieces.append(word)
                offset += len(word)
            sentence = Sentence(tokens)
            built.append(sentence)
            if tags is not None:
                sentence_tags = tags[index]
                if len(sentence_tags) != len(words):
                    raise ValueError(
                        f"sentence {index + 1}: {len(words)} tokens but {len(sentence_tags)} tags"
                    )
                for label, first, last in chunks_from_tags(sentence_tags, scheme, strict=strict):
                    spans.append(Span(tokens[first].start, tokens[last - 1].end, label))
        return cls(id=doc_id, text="".join(pieces), sentences=built, spans=spans)

    # ----------------------------------------------------------------- token views
    @property
    def tokens(self) -> list[Token]:
        return [token for sentence in self.sentences for token in sentence.tokens]

    def sentence_spans(
        self, sentence: Sentence, sorted_spans: Sequence[Span] | None = None
    ) -> list[Span]:
        """Spans that start inside the sentence's character range, in text order.

        Callers visiting every sentence pass `sorted_spans()` once, so the document's spans
        are sorted once rather than once per sentence.
        """
        ordered = self.sorted_spans() if sorted_spans is None else sorted_spans
        starts = [s.start for s in ordered]
        return list(
            ordered[bisect_left(starts, sentence.start) : bisect_left(starts, sentence.end)]
        )

    def sorted_spans(self) -> list[Span]:
        return sorted(self.spans, key=lambda s: (s.start, s.end, s.label))

    def token_range(self, sentence: Sentence, span: Span) -> tuple[int, int]:
        """The tokens [first, last) of `sentence` that a span covers (at least partly)."""
        starts = [t.start for t in sentence.tokens]
        ends = [t.end for t in sentence.tokens]
        first = bisect_right(ends, span.start)
        last = bisect_left(starts, span.end)
        return first, max(last, first + 1)

    def sentence_tags(
        self,
        sentence: Sentence,
        scheme: TagScheme | str = TagScheme.IOB2,
        sorted_spans: Sequence[Span] | None = None,
    ) -> list[str]:
        """Tags for a sentence's tokens from the document's spans (`sorted_spans`: as above).

        A span whose edges fall inside a token is widened to whole tokens; where two spans
        would claim the same token the earlier (then longer) one wins, as the tag schemes
        cannot express overlap.
        """
        chunks: list[tuple[str, int, int]] = []
        taken_until = 0
        spans = sorted(
            self.sentence_spans(sentence, sorted_spans), key=lambda s: (s.start, -s.end, s.label)
        )
        for span in spans:
            first, last = self.token_range(sentence, span)
            if first < taken_until or first >= len(sentence.tokens):
                continue
            last = min(last, len(sentence.tokens))
            chunks.append((span.label, first, last))
            taken_until = last
        return tags_from_chunks(chunks, len(sentence.tokens), scheme)

    def with_spans(self, spans: Iterable[Span]) -> Document:
        """A copy sharing text, sentences and passages but holding other spans."""
        return Document(
            id=self.id,
            text=self.text,
            sentences=self.sentences,
            spans=list(spans),
            passages=self.passages,
            relations=self.relations,
            metadata=dict(self.metadata),
        )

    def with_predictions(self, spans: Iterable[Span]) -> Document:
        """A copy holding a model's spans in place of the document's own annotations.

        Relations go with the annotations they link (BioC relation nodes, PubTator CID
        lines): written next to predicted mentions they would claim links the model never
        found, between mentions that may no longer be there.
        """
        predicted = self.with_spans(spans)
        predicted.relations = []
        return predicted

    def span_text(self, span: Span) -> str:
        return self.text[span.start : span.end]
