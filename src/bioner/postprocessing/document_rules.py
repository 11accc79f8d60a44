"""Document-level consistency rules: abbreviations take their long form's type; names repeat.

Why: the tagger reads one sentence at a time, while annotators read the whole abstract. Two
kinds of error follow that a look at the whole document repairs:

* **abbreviations** — a short form defined as `long form (SF)` (or `entity (SF)`, see
  `definitions`) is an entity exactly when its long form is: when a predicted span is the
  long form (`names_long_form`), every whole-token use of SF in the document that no span
  covers becomes a span of that type (`GTN`, `MDA`, `OCT` on BC5CDR), and a use tagged
  with another of the rule's types takes that type (a two-type head's `GTN` as Disease);
  when no predicted span ends where the long form ends, predicted spans that are exactly a
  use of SF are dropped (`drop_unsupported`; `poly(ADP-ribose) polymerase (PARP)` holds a
  chemical, yet PARP is none). A span that ends there but holds more words (`deficiency of
  hepatic phenylalanine hydroxylase (PAH)`) leaves the short form as the model tagged it.
* **repeats** — a name the tagger found once is the same entity wherever it recurs in that
  document: every whole-token occurrence of a predicted span's text that no span covers gets
  the span's type (the most frequent one when the text was tagged with several).

Added spans carry the score of the span they were copied from. Spans of other types than
`labels` are never touched, so a multi-head tagger runs the rules per head. Only texts with
a letter are copied, and an occurrence must start and end on token boundaries. Which rules
help where was measured on devel (BC5CDR, NCBI-disease, JNLPBA; docs/document_rules.md):
both on BC5CDR, the keep-variant of `abbreviations` alone on NCBI-disease and JNLPBA.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from bioner.data.document import Document, Span
from bioner.postprocessing.abbreviations import (
    Abbreviation,
    bracketed_short_forms,
    find_abbreviations,
)


class _Occurrences:
    """Finds the occurrences of a set of texts that start and end on token boundaries.

    In an abstract a substring search per text is cheapest (C speed, nothing to build). In a
    long document (a full text on one line) a pass over the text per name makes the rules
    quadratic, so from `INDEXED_FROM` characters on one walk finds every name at once: from
    each token start, down a character trie of the names, as far as some name continues.
    That costs the token starts times the length of the longest matching prefix, however
    many names there are and however often their first words recur.
    """

    INDEXED_FROM = 20_000

    def __init__(self, document: Document, texts: Iterable[str]) -> None:
        self.text = document.text
        tokens = [t for s in document.sentences for t in s.tokens]
        self.starts = {t.start for t in tokens}
        self.ends = {t.end for t in tokens}
        self._found: dict[str, list[tuple[int, int]]] | None = None
        if len(self.text) >= self.INDEXED_FROM:
            self._found = self._walk(sorted(self.starts), {t for t in texts if t})

    def _walk(self, starts: list[int], texts: set[str]) -> dict[str, list[tuple[int, int]]]:
        """Every text's occurrences on token boundaries, non-overlapping, left to right."""
        ending = object()  # a trie node's key for the name that ends there
        trie: dict[object, Any] = {}
        for name in texts:
            node = trie
            for char in name:
                node = node.setdefault(char, {})
            node[ending] = name
        found: dict[str, list[tuple[int, int]]] = {name: [] for name in texts}
        text, ends, length = self.text, self.ends, len(self.text)
        for start in starts:
            node = trie
            position = start
            while position < length:
                node = node.get(text[position])
                if node is None:
                    break
                position += 1
                name = node.get(ending)
                if name is not None and position in ends:
                    kept = found[name]
                    if not kept or kept[-1][1] <= start:
                        kept.append((start, position))
        return found

    def __call__(self, text: str) -> list[tuple[int, int]]:
        """[start, end) of every occurrence of `text` on token boundaries, left to right,
        each starting after the previous one ends (`text` must be one of the set)."""
        if self._found is not None:
            return self._found.get(text, [])
        occurrences: list[tuple[int, int]] = []
        start = self.text.find(text) if text else -1
        while start != -1:
            end = start + len(text)
            if start in self.starts and end in self.ends:
                occurrences.append((start, end))
                start = self.text.find(text, end)
            else:
                start = self.text.find(text, start + 1)
        return occurrences


class _EditedSpans:
    """A document's spans while rules add, retype and drop them, with the lookups they need.

    Spans are found by their offsets and by where they end, and a count per character says
    how many spans cover it, so asking whether a stretch of text is free costs its length,
    not a pass over every span: the rules stay linear on a long document (a full text on
    one line). The spans keep their order: edits in place, additions at the end.
    """

    def __init__(self, spans: Iterable[Span], text_length: int) -> None:
        self._spans: list[Span | None] = []
        self._by_offsets: dict[tuple[int, int], list[int]] = defaultdict(list)
        self._by_end: dict[int, list[int]] = defaultdict(list)
        self._covered = [0] * text_length
        for span in spans:
            self.add(span)

    def add(self, span: Span) -> None:
        """Append a span."""
        index = len(self._spans)
        self._spans.append(span)
        self._by_offsets[(span.start, span.end)].append(index)
        self._by_end[span.end].append(index)
        self._cover(span, 1)

    def retype(self, index: int, label: str) -> None:
        """Give the span at `index` another type, in place."""
        span = self._spans[index]
        assert span is not None
        self._spans[index] = replace(span, label=label)

    def drop(self, index: int) -> None:
        """Remove the span at `index`."""
        span = self._spans[index]
        assert span is not None
        self._spans[index] = None
        self._by_offsets[(span.start, span.end)].remove(index)
        self._by_end[span.end].remove(index)
        self._cover(span, -1)

    def _cover(self, span: Span, step: int) -> None:
        covered = self._covered
        for position in range(span.start, min(span.end, len(covered))):
            covered[position] += step

    def at(self, start: int, end: int) -> list[tuple[int, Span]]:
        """The spans exactly at [start, end), with their indices, in order."""
        return [(i, self._live(i)) for i in self._by_offsets.get((start, end), ())]

    def ending_at(self, end: int) -> list[tuple[int, Span]]:
        """The spans that end at `end`, with their indices, in order."""
        return [(i, self._live(i)) for i in self._by_end.get(end, ())]

    def _live(self, index: int) -> Span:
        span = self._spans[index]
        assert span is not None
        return span

    def free(self, start: int, end: int) -> bool:
        """Whether no span overlaps [start, end)."""
        return not any(self._covered[start:end])

    def sorted_spans(self) -> list[Span]:
        """The spans, ordered by start and end (ties keep their order)."""
        return sorted((s for s in self._spans if s is not None), key=lambda s: (s.start, s.end))


def _ours(span: Span, labels: Collection[str] | None) -> bool:
    return labels is None or span.label in labels


def names_long_form(text: str, span: Span, abbreviation: Abbreviation) -> bool:
    """Whether the span is the long form's entity: it ends where the long form ends and
    starts inside it, or before it with no letters in between (`22-oxacalcitriol (OCT)`).

    A span with more words before the long form (`deficiency of hepatic phenylalanine
    hydroxylase (PAH)`) names something else than the short form does.
    """
    if span.end != abbreviation.long_end or span.start >= abbreviation.long_end:
        return False
    before = text[span.start : abbreviation.long_start]
    return not any(c.isalpha() for c in before)


def definitions(document: Document, labels: Collection[str] | None = None) -> list[Abbreviation]:
    """Schwartz & Hearst's definitions, plus `entity (SF)` where the letters do not fit.

    `cyclosporine (CSA)` fails the letter test (no `a`), yet a predicted span right before
    the bracket (only white space between) whose first letter is SF's first letter is that
    SF's long form; the first such span in the document's order is taken.
    """
    found = find_abbreviations(document)
    defined = {a.short_start for a in found}
    text = document.text
    by_end: dict[int, list[tuple[int, Span]]] = defaultdict(list)
    for order, span in enumerate(document.spans):
        if _ours(span, labels):
            by_end[span.end].append((order, span))
    for short in bracketed_short_forms(document):
        if short.start in defined:
            continue
        gap_start = short.bracket
        while gap_start > 0 and text[gap_start - 1].isspace():
            gap_start -= 1
        initial = text[short.start].lower()
        candidates = [
            (order, span)
            for end in range(gap_start, short.bracket + 1)
            for order, span in by_end.get(end, ())
            if text[span.start].lower() == initial
        ]
        if candidates:
            span = min(candidates, key=lambda item: item[0])[1]
            found.append(Abbreviation(short.start, short.end, span.start, span.end))
    return sorted(found, key=lambda a: a.short_start)


def apply_abbreviations(
    document: Document,
    labels: Collection[str] | None = None,
    *,
    drop_unsupported: bool = True,
) -> Document:
    """The document after carrying each long form's type to its short form's uses."""
    spans = _EditedSpans(document.spans, len(document.text))
    found = definitions(document, labels)
    shorts = {document.text[a.short_start : a.short_end] for a in found}
    occurrences = _Occurrences(document, shorts)
    done: set[str] = set()
    for abbreviation in found:
        short = document.text[abbreviation.short_start : abbreviation.short_end]
        if short in done:
            continue
        done.add(short)
        ending_there = [s for _, s in spans.ending_at(abbreviation.long_end) if _ours(s, labels)]
        long_spans = [s for s in ending_there if names_long_form(document.text, s, abbreviation)]
        uses = occurrences(short)
        if long_spans:
            source = max(long_spans, key=lambda s: s.end - s.start)
            for start, end in uses:
                # A use tagged with another of our types takes the long form's type.
                for index, span in spans.at(start, end):
                    if _ours(span, labels):
                        spans.retype(index, source.label)
                if spans.free(start, end):
                    spans.add(Span(start, end, source.label, source.score))
        elif drop_unsupported and not ending_there:
            for start, end in uses:
                for index, span in spans.at(start, end):
                    if _ours(span, labels):
                        spans.drop(index)
    return document.with_spans(spans.sorted_spans())


def _case_forms(text: str) -> list[str]:
    """The text, and when it is all lower case, its capitalized twin (a sentence start).

    `Phenobarbital` opening a sentence is the name `phenobarbital`; the reverse does not hold
    (`Borderline` tagged in a title says little about `borderline` in the abstract).
    """
    if text != text.lower() or not text[0].isalpha():
        return [text]
    return [text, text[0].upper() + text[1:]]


def apply_repeats(document: Document, labels: Collection[str] | None = None) -> Document:
    """The document after tagging every untagged repeat of a predicted name with its type."""
    spans = list(document.spans)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    scores: dict[tuple[str, str], float | None] = {}
    for span in spans:
        if not _ours(span, labels):
            continue
        text = document.span_text(span)
        if any(c.isalpha() for c in text):
            types[text][span.label] += 1
            scores.setdefault((text, span.label), span.score)
    occurrences = _Occurrences(document, [f for text in types for f in _case_forms(text)])
    edited = _EditedSpans(spans, len(document.text))
    # Longest names first, so that a repeat of `dilated cardiomyopathy` is not claimed by
    # `cardiomyopathy` before the longer name is copied there.
    for text in sorted(types, key=len, reverse=True):
        label = types[text].most_common(1)[0][0]
        for form in _case_forms(text):
            for start, end in occurrences(form):
                if edited.free(start, end):
                    edited.add(Span(start, end, label, scores[(text, label)]))
    return document.with_spans(edited.sorted_spans())


def postprocess_abbreviations(
    document: Document, labels: Collection[str] | None = None
) -> Document:
    """The `abbreviations` rule set."""
    return apply_abbreviations(document, labels)


def postprocess_abbreviations_keep(
    document: Document, labels: Collection[str] | None = None
) -> Document:
    """The `abbreviations-keep` rule set: carries types to uses, never drops a span."""
    return apply_abbreviations(document, labels, drop_unsupported=False)


def postprocess_repeats(document: Document, labels: Collection[str] | None = None) -> Document:
    """The `repeats` rule set."""
    return apply_repeats(document, labels)
