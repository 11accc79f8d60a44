"""tmVar-style post-processing of predicted variant spans: repair, retype, split, add.

Why: the errors a tagger makes on tmVar that are left after training are mostly mechanical —
a span that stops one character short of its closing bracket, two variants of a list tagged
as one span, an all-nucleotide substitution (`A118G`) typed as a protein change, a mention
in textbook notation that the model skipped. Each has a deterministic fix; DeepVar (§5.1)
expects exactly this post-processing to lift its score. Written by hand: these are repairs of
character spans under tmVar's annotation conventions, which no NER library offers. The
steps, in order:

1. brackets — a span with an unmatched bracket is widened to the matching bracket when that
   lies close by in the same sentence (`balance_brackets`), otherwise the unmatched bracket
   at its edge is dropped;
2. extend — a DNA span followed by "transition/substitution/… at nucleotide/position/codon
   N" takes that phrase in (`C-->T` → `C-->T transition at nucleotide 677`; tmVar's training
   split includes the phrase in all 6 mentions it follows);
3. split — a span that holds two or more pattern matches separated only by list separators
   (`, `, ` and `, `; `, ` or `, `/`) becomes those matches;
4. snap — a span that lies inside one pattern match (`IVS10+` of `IVS10+1, g-->t`), or is
   one match plus a single word before or after it (`TNFA -308G>A`, `CBR3 V244M`), becomes
   that match; on tmVar's training split no gold mention lies strictly inside a match but
   one, and none is a match with a plain word glued on;
5. retype — a span whose whole text is one pattern match takes the pattern's type;
6. add — pattern matches that overlap no predicted span are added.

Spans of other types pass through untouched, so the step is safe on a multi-type tagger.
A span that is exactly one pattern match (split, snapped, retyped or added) gets confidence 1: the
notation is certain, so when a multi-head tagger merges its heads' spans (`Tagger`), a
`GENE` span around `A118G` or `rs1799971` does not outvote it.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace

from bioner.data.document import Document, Span
from bioner.postprocessing.variant_patterns import DNA, PROTEIN, SNP, VariantMatch, find_variants

VARIANT_LABELS = frozenset({DNA, PROTEIN, SNP})
OPENERS = {"(": ")", "[": "]"}
CLOSERS = {")": "(", "]": "["}
LIST_SEPARATOR = re.compile(r"\s*(?:,|;|/|\band\b|\bor\b)\s*(?:\band\b\s*)?")
STEPS = ("brackets", "extend", "split", "snap", "retype", "add")
# What `snap` may cut off a notation: one plain word (a gene name, "factor V") and a space
# before it, or a space and one word after it; "c. " or "intron 2, " are not plain words.
WORD_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9-]*\s+")
WORD_AFTER = re.compile(r"\s+[A-Za-z][A-Za-z0-9]*")
# The natural-language tail of a DNA change (`... transition at nucleotide 677`).
LOCATION_PHRASE = re.compile(
    r"\s(?:transition|transversion|substitution|change|mutation|deletion|insertion)s?"
    r"\s(?:at|in|of)\s(?:nucleotide|position|codon|base|nt)s?\s[-+]?\d+"
)
# How far (characters) a bracket repair may widen a span.
MAX_WIDEN = 12


def _unmatched(text: str) -> tuple[list[int], list[int]]:
    """Positions of unmatched opening and closing brackets in `text`."""
    stack: list[int] = []
    closing: list[int] = []
    for index, char in enumerate(text):
        if char in OPENERS:
            stack.append(index)
        elif char in CLOSERS:
            if stack and text[stack[-1]] == CLOSERS[char]:
                stack.pop()
            else:
                closing.append(index)
    return stack, closing


def _partner(text: str, start: int, stop: int, step: int) -> int | None:
    """Index of the first bracket of the wanted kind at depth 0 walking from `start` by `step`.

    Walking left (`step` -1) looks for an opener, walking right for a closer; `stop` is the
    first index not to look at.
    """
    wanted, nested = (OPENERS, CLOSERS) if step < 0 else (CLOSERS, OPENERS)
    depth = 0
    for position in range(start, stop, step):
        char = text[position]
        if char in nested:
            depth += 1
        elif char in wanted:
            if depth == 0:
                return position
            depth -= 1
    return None


def balance_brackets(text: str, span: Span, limit: tuple[int, int]) -> Span:
    """The span widened to balance its brackets within `limit`, or trimmed if it cannot be.

    A missing "(" is looked for at most `MAX_WIDEN` characters to the left, and the span
    then also takes the rest of the word the bracket sits in (`CAC(3543)TAC`); a missing ")"
    is looked for as far to the right. Brackets that stay unmatched are dropped from the
    span's edges.
    """
    start, end = span.start, span.end
    openers, closers = _unmatched(text[start:end])
    if not openers and not closers:
        return span
    if closers:
        found = _partner(text, start - 1, max(limit[0], start - MAX_WIDEN) - 1, -1)
        if found is not None:
            start = found
            while (
                start > limit[0] and not text[start - 1].isspace() and text[start - 1] not in "(["
            ):
                start -= 1
    if openers:
        found = _partner(text, end, min(limit[1], end + MAX_WIDEN), 1)
        if found is not None:
            end = found + 1
    if _unmatched(text[start:end]) == ([], []):
        return replace(span, start=start, end=end)
    start, end = span.start, span.end
    while end - start > 1:
        openers, closers = _unmatched(text[start:end])
        hanging = set(openers) | set(closers)
        if end - start - 1 in hanging:
            end -= 1
        elif 0 in hanging:
            start += 1
        else:
            break
    return replace(span, start=start, end=end)


def extend_location(text: str, span: Span) -> Span:
    """A DNA span widened over a directly following location phrase, if there is one."""
    if span.label != DNA:
        return span
    match = LOCATION_PHRASE.match(text, span.end)
    return replace(span, end=match.end()) if match else span


def split_list(text: str, span: Span, matches: Sequence[VariantMatch]) -> list[Span]:
    """The span's pattern matches if they tile it with only list separators between them."""
    inside = [m for m in matches if span.start <= m.start and m.end <= span.end]
    if len(inside) < 2 or inside[0].start != span.start or inside[-1].end != span.end:
        return [span]
    for left, right in itertools.pairwise(inside):
        if not LIST_SEPARATOR.fullmatch(text[left.end : right.start]):
            return [span]
    return [replace(span, start=m.start, end=m.end, label=m.label, score=1.0) for m in inside]


def snap_to_notation(text: str, span: Span, matches: Sequence[VariantMatch]) -> Span:
    """The pattern match a span is a piece of, or the one it holds with a word glued on."""
    for match in matches:
        if match.start <= span.start and span.end <= match.end:
            return replace(span, start=match.start, end=match.end, label=match.label, score=1.0)
    inside = [m for m in matches if span.start <= m.start and m.end <= span.end]
    if len(inside) != 1:
        return span
    match = inside[0]
    before, after = text[span.start : match.start], text[match.end : span.end]
    if (not before or WORD_BEFORE.fullmatch(before)) and (not after or WORD_AFTER.fullmatch(after)):
        return replace(span, start=match.start, end=match.end, label=match.label, score=1.0)
    return span


def _overlaps(a_start: int, a_end: int, spans: Iterable[Span]) -> bool:
    return any(s.start < a_end and a_start < s.end for s in spans)


def postprocess_variants(
    document: Document,
    steps: Sequence[str] = STEPS,
    labels: Collection[str] | None = None,
) -> Document:
    """A copy of the document whose variant spans went through the steps named in `steps`.

    `labels`, when given, are the types the tagger can output: the add step only adds
    mentions of those types (a gene-only head gets no variants added), and a retype or split
    never produces a type outside them.
    """
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown post-processing steps {sorted(unknown)}; known: {STEPS}")
    if labels is not None and not VARIANT_LABELS & set(labels):
        return document  # this head cannot output variants: nothing to repair or add
    text = document.text
    sentences = [(s.tokens[0].start, s.tokens[-1].end) for s in document.sentences if s.tokens]
    matches = [m for m in find_variants(text) if labels is None or m.label in labels]
    by_offsets = {(m.start, m.end): m for m in matches}
    others = [s for s in document.spans if s.label not in VARIANT_LABELS]
    spans = [s for s in document.spans if s.label in VARIANT_LABELS]

    firsts = [first for first, _ in sentences]

    def sentence_of(span: Span) -> tuple[int, int]:
        index = bisect.bisect_right(firsts, span.start) - 1
        if index >= 0 and span.start < sentences[index][1]:
            return sentences[index]
        return 0, len(text)

    if "brackets" in steps:
        spans = [balance_brackets(text, s, sentence_of(s)) for s in spans]
    if "extend" in steps:
        spans = [extend_location(text, s) for s in spans]
    if "split" in steps:
        spans = [piece for s in spans for piece in split_list(text, s, matches)]
    if "snap" in steps:
        spans = [snap_to_notation(text, s, matches) for s in spans]
    if "retype" in steps:
        spans = [
            replace(s, label=by_offsets[(s.start, s.end)].label, score=1.0)
            if (s.start, s.end) in by_offsets
            else s
            for s in spans
        ]
    if "add" in steps:
        added = [
            Span(m.start, m.end, m.label, score=1.0)
            for m in matches
            if not _overlaps(m.start, m.end, spans) and not _overlaps(m.start, m.end, others)
        ]
        spans += added
    unique = {(s.start, s.end, s.label): s for s in spans}
    merged = sorted([*unique.values(), *others], key=lambda s: (s.start, s.end, s.label))
    return document.with_spans(merged)
