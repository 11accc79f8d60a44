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

from bioner.data.document import Document, Span
from bioner.postprocessing.abbreviations import (
    Abbreviation,
    bracketed_short_forms,
    find_abbreviations,
)


class _Occurrences:
    """Finds a text's occurrences that start and end on the document's token boundaries."""

    def __init__(self, document: Document) -> None:
        self.text = document.text
        self.starts = {t.start for s in document.sentences for t in s.tokens}
        self.ends = {t.end for s in document.sentences for t in s.tokens}

    def __call__(self, text: str) -> Iterable[tuple[int, int]]:
        """[start, end) of every non-overlapping occurrence of `text` on token boundaries.

        A plain substring search: a regular expression per name (as `re.finditer` would
        compile) overflows `re`'s cache on a document with many names, and compiling
        then cost most of the rules' time.
        """
        if not text:
            return
        start = self.text.find(text)
        while start != -1:
            end = start + len(text)
            if start in self.starts and end in self.ends:
                yield start, end
            start = self.text.find(text, end)


def _free(spans: Iterable[Span], start: int, end: int) -> bool:
    return all(span.end <= start or span.start >= end for span in spans)


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
    the bracket whose first letter is SF's first letter is that SF's long form.
    """
    found = find_abbreviations(document)
    defined = {a.short_start for a in found}
    text = document.text
    for short in bracketed_short_forms(document):
        if short.start in defined:
            continue
        for span in document.spans:
            if (
                _ours(span, labels)
                and span.end <= short.bracket
                and not text[span.end : short.bracket].strip()
                and text[span.start].lower() == text[short.start].lower()
            ):
                found.append(Abbreviation(short.start, short.end, span.start, span.end))
                break
    return sorted(found, key=lambda a: a.short_start)


def apply_abbreviations(
    document: Document,
    labels: Collection[str] | None = None,
    *,
    drop_unsupported: bool = True,
) -> Document:
    """The document after carrying each long form's type to its short form's uses."""
    spans = list(document.spans)
    occurrences = _Occurrences(document)
    done: set[str] = set()
    for abbreviation in definitions(document, labels):
        short = document.text[abbreviation.short_start : abbreviation.short_end]
        if short in done:
            continue
        done.add(short)
        long_spans = [
            s for s in spans if _ours(s, labels) and names_long_form(document.text, s, abbreviation)
        ]
        uses = list(occurrences(short))
        exact = set(uses)
        if long_spans:
            source = max(long_spans, key=lambda s: s.end - s.start)
            # A use tagged with another of our types takes the long form's type.
            spans = [
                replace(s, label=source.label)
                if _ours(s, labels) and (s.start, s.end) in exact
                else s
                for s in spans
            ]
            for start, end in uses:
                if _free(spans, start, end):
                    spans.append(Span(start, end, source.label, source.score))
        elif drop_unsupported and not any(
            _ours(s, labels) and s.end == abbreviation.long_end for s in spans
        ):
            spans = [s for s in spans if not (_ours(s, labels) and (s.start, s.end) in exact)]
    return document.with_spans(sorted(spans, key=lambda s: (s.start, s.end)))


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
    occurrences = _Occurrences(document)
    # Longest names first, so that a repeat of `dilated cardiomyopathy` is not claimed by
    # `cardiomyopathy` before the longer name is copied there.
    for text in sorted(types, key=len, reverse=True):
        label = types[text].most_common(1)[0][0]
        for form in _case_forms(text):
            for start, end in occurrences(form):
                if _free(spans, start, end):
                    spans.append(Span(start, end, label, scores[(text, label)]))
    return document.with_spans(sorted(spans, key=lambda s: (s.start, s.end)))


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
