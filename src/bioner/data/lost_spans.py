"""Spans a tag sequence cannot hold as they are, counted by reason and reported once.

BIO/BIOES tags give each token one tag, so nested, crossing and discontinuous mentions and
mention edges inside a token cannot all be encoded. Writing CoNLL and training a tagger
both meet this; both keep the earlier (then longer) of two overlapping spans and say how
many spans were left out or changed, so no mention is lost silently.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from bioner.data.document import Document, Sentence, Span
from bioner.data.tagging import Chunk, TagScheme, chunks_from_tags

log = logging.getLogger(__name__)

#: Why a span is not in the tags as it is, in the order the warning names them.
LOST_REASONS = {
    "overlap": "overlap another span (left out)",
    "outside": "start outside every sentence (left out)",
    "cut": "run past the end of their sentence (cut at it)",
    "widened": "do not start and end on token boundaries (widened to whole tokens)",
    "discontinuous": "are discontinuous (tagged over their whole extent, gaps included)",
}


@dataclass(slots=True)
class LostSpans:
    """Spans the tags cannot hold as they are, by reason, with the first document of each.

    Counted per write (or training run) and reported once: a corpus with many overlaps
    would otherwise log a line per document.
    """

    counts: Counter[str] = field(default_factory=Counter)
    first: dict[str, str] = field(default_factory=dict)
    spans: int = 0

    def add(self, reason: str, document: Document, count: int = 1) -> None:
        if count > 0:
            self.counts[reason] += count
            self.first.setdefault(reason, document.id)

    def tags(
        self, document: Document, sentences: Sequence[Sentence], scheme: TagScheme
    ) -> Iterator[list[str]]:
        """Each sentence's tags (`Document.sentence_tags`), counting the document's spans they
        cannot hold; iterate to the end, where spans outside every sentence are counted."""
        ordered = document.sorted_spans()
        starts = [span.start for span in ordered]
        self.spans += len(ordered)
        placed = 0
        for index, sentence in enumerate(sentences):
            tags = document.sentence_tags(sentence, scheme, ordered)
            # The spans `sentence_tags` encodes: those that start inside the sentence.
            here = ordered[bisect_left(starts, sentence.start) : bisect_left(starts, sentence.end)]
            placed += len(here)
            if here:
                following = sentences[index + 1].start if index + 1 < len(sentences) else None
                self.sentence(document, sentence, here, chunks_from_tags(tags, scheme), following)
            yield tags
        self.add("outside", document, len(ordered) - placed)

    def sentence(
        self,
        document: Document,
        sentence: Sentence,
        spans: Sequence[Span],
        chunks: Sequence[Chunk],
        next_start: int | None,
    ) -> None:
        """Compare a sentence's spans with the chunks its tags hold, when some differ."""
        tokens = sentence.tokens
        starts = {token.start for token in tokens}
        ends = {token.end for token in tokens}
        if len(chunks) == len(spans) and all(
            span.start in starts and span.end in ends and not _is_discontinuous(span)
            for span in spans
        ):
            return  # each span gave one chunk, exactly its tokens
        held = Counter(chunks)
        for span in sorted(spans, key=lambda s: (s.start, -s.end, s.label)):
            first, last = document.token_range(sentence, span)
            chunk = (span.label, first, min(last, len(tokens)))
            if not held[chunk]:
                self.add("overlap", document)
                continue
            held[chunk] -= 1
            if next_start is not None and span.end > next_start:
                self.add("cut", document)
            elif span.start not in starts or span.end not in ends:
                self.add("widened", document)
            elif _is_discontinuous(span):
                self.add("discontinuous", document)

    def report(self, what: str, logger: logging.Logger = log) -> None:
        """One warning naming `what` (e.g. "CoNLL tags") and each reason's count, logged by
        the caller's `logger` so filters on its module keep working."""
        if self.counts:
            details = "; ".join(
                f"{self.counts[key]} {text} (first in document {self.first[key]})"
                for key, text in LOST_REASONS.items()
                if self.counts[key]
            )
            logger.warning(
                "%s cannot hold %d of %d spans as they are: %s",
                what,
                sum(self.counts.values()),
                self.spans,
                details,
            )


def _is_discontinuous(span: Span) -> bool:
    """A BRAT/BioC mention of several fragments (`fragments=` in `Span.extra`)."""
    return any(item.startswith("fragments=") and ";" in item for item in span.extra)
