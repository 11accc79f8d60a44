"""Pairs predicted spans with gold spans of one document under a matching mode.

Written by hand because seqeval (the usual reference) only knows exact matching over tag
sequences: it has no right-boundary (Saber §2.8), left-boundary or overlap modes, works on
tokens rather than character spans, and cannot say *which* prediction matched which gold
mention, which the error analysis needs.

Modes (a gold span ``g`` and a prediction ``p`` are *candidates* when):

* ``exact``   — same start and same end offset;
* ``right``   — same end offset (right-boundary matching, Saber §2.8);
* ``left``    — same start offset;
* ``overlap`` — the character ranges share at least one character.

Typed matching additionally requires equal labels; untyped matching ignores labels.

Assignment rule (one-to-one): a gold mention counts as found at most once and a prediction
matches at most one gold mention. Among all one-to-one assignments we take one of *maximum
cardinality*, so no system is penalised by an unlucky greedy choice, and among those we
prefer close pairs. Deterministically, in two steps:

1. greedy, closest first: candidate pairs are ordered by ``|Δstart| + |Δend|``, then equal
   label first, then text order of gold and prediction, and a pair is taken when both its
   spans are still free — so identical spans pair with each other;
2. augmenting paths (Kuhn's algorithm) for every gold span still unpaired, in text order;
   this only re-pairs spans when it finds one more match, which step 1 can miss in
   ``overlap`` mode (gold ``[0,10)``, ``[0,2)`` vs predictions ``[0,10)``, ``[8,12)``: the
   maximum is two pairs, the greedy choice gives one).

Spans are sorted by ``(start, end, label)`` first, so the result does not depend on the
order of the input lists.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bioner.data.document import Span


class MatchMode(StrEnum):
    """How a predicted span must relate to a gold span to count as a true positive."""

    EXACT = "exact"
    RIGHT = "right"
    LEFT = "left"
    OVERLAP = "overlap"


@dataclass(frozen=True, slots=True)
class SpanMatching:
    """The outcome of matching one document: spans in canonical order and the pairs.

    ``pairs`` holds ``(gold_index, pred_index)`` into ``gold`` and ``pred`` (which are the
    input spans sorted by ``(start, end, label)``); the unpaired spans are the errors.
    """

    gold: tuple[Span, ...]
    pred: tuple[Span, ...]
    pairs: tuple[tuple[int, int], ...]

    @property
    def unmatched_gold(self) -> list[Span]:
        """False negatives: gold spans no prediction was assigned to."""
        taken = {g for g, _ in self.pairs}
        return [span for index, span in enumerate(self.gold) if index not in taken]

    @property
    def unmatched_pred(self) -> list[Span]:
        """False positives: predictions assigned to no gold span."""
        taken = {p for _, p in self.pairs}
        return [span for index, span in enumerate(self.pred) if index not in taken]


def _canonical(spans: Sequence[Span]) -> tuple[Span, ...]:
    return tuple(sorted(spans, key=lambda s: (s.start, s.end, s.label)))


def spans_match(gold: Span, pred: Span, mode: MatchMode | str, *, typed: bool = True) -> bool:
    """Whether two spans are candidates for each other under `mode` (module docstring)."""
    mode = MatchMode(mode)
    if typed and gold.label != pred.label:
        return False
    if mode is MatchMode.EXACT:
        return gold.start == pred.start and gold.end == pred.end
    if mode is MatchMode.RIGHT:
        return gold.end == pred.end
    if mode is MatchMode.LEFT:
        return gold.start == pred.start
    return gold.start < pred.end and pred.start < gold.end


def _candidates(
    gold: tuple[Span, ...], pred: tuple[Span, ...], mode: MatchMode, typed: bool
) -> list[list[int]]:
    """For every gold span, the indices of its candidate predictions, closest first."""
    found: list[list[int]] = [[] for _ in gold]
    if mode is MatchMode.OVERLAP:
        starts = [p.start for p in pred]
        longest = max((p.end - p.start for p in pred), default=0)
        for g_index, g in enumerate(gold):
            # Only predictions starting in (g.start - longest, g.end) can overlap g.
            first = bisect_left(starts, g.start - longest + 1)
            last = bisect_left(starts, g.end)
            found[g_index] = [
                p_index
                for p_index in range(first, last)
                if pred[p_index].end > g.start and (not typed or pred[p_index].label == g.label)
            ]
    else:
        by_key: dict[tuple[object, ...], list[int]] = defaultdict(list)
        for p_index, p in enumerate(pred):
            by_key[_key(p, mode, typed)].append(p_index)
        for g_index, g in enumerate(gold):
            found[g_index] = list(by_key.get(_key(g, mode, typed), ()))
    for g_index, g in enumerate(gold):
        found[g_index].sort(
            key=lambda p_index: (
                abs(pred[p_index].start - g.start) + abs(pred[p_index].end - g.end),
                pred[p_index].label != g.label,
                p_index,
            )
        )
    return found


def _key(span: Span, mode: MatchMode, typed: bool) -> tuple[object, ...]:
    if mode is MatchMode.EXACT:
        offsets: tuple[object, ...] = (span.start, span.end)
    elif mode is MatchMode.RIGHT:
        offsets = (span.end,)
    else:
        offsets = (span.start,)
    return (*offsets, span.label) if typed else offsets


def _augment(root: int, candidates: list[list[int]], owner: list[int]) -> bool:
    """Kuhn's step without recursion: find an augmenting path from gold `root`, flip it.

    `owner[p]` is the gold index holding prediction `p` (or -1). Returns whether `root` got
    matched. Long chains of overlapping spans would exhaust Python's recursion limit, hence
    the explicit stack.
    """
    visited: set[int] = set()
    # Each frame: (gold index, position in its candidate list, prediction it came through).
    stack: list[list[int]] = [[root, 0, -1]]
    while stack:
        frame = stack[-1]
        gold_index, position = frame[0], frame[1]
        options = candidates[gold_index]
        if position >= len(options):
            stack.pop()
            continue
        frame[1] += 1
        p_index = options[position]
        if p_index in visited:
            continue
        visited.add(p_index)
        holder = owner[p_index]
        if holder == -1:
            # Augment: every gold on the stack takes the prediction it was exploring.
            owner[p_index] = gold_index
            for lower in range(len(stack) - 1, 0, -1):
                owner[stack[lower][2]] = stack[lower - 1][0]
            return True
        stack.append([holder, 0, p_index])
    return False


def match_spans(
    gold: Sequence[Span],
    pred: Sequence[Span],
    mode: MatchMode | str = MatchMode.EXACT,
    *,
    typed: bool = True,
) -> SpanMatching:
    """One-to-one maximum matching of `pred` against `gold` (rule in the module docstring)."""
    mode = MatchMode(mode)
    gold_sorted, pred_sorted = _canonical(gold), _canonical(pred)
    candidates = _candidates(gold_sorted, pred_sorted, mode, typed)
    owner = [-1] * len(pred_sorted)
    has_pred = [False] * len(gold_sorted)
    edges = sorted(
        (
            abs(pred_sorted[p].start - g_span.start) + abs(pred_sorted[p].end - g_span.end),
            pred_sorted[p].label != g_span.label,
            g,
            p,
        )
        for g, g_span in enumerate(gold_sorted)
        for p in candidates[g]
    )
    for _, _, g, p in edges:
        if not has_pred[g] and owner[p] == -1:
            owner[p] = g
            has_pred[g] = True
    for g in range(len(gold_sorted)):
        if not has_pred[g] and candidates[g]:
            _augment(g, candidates, owner)
    pairs = sorted((g, p) for p, g in enumerate(owner) if g != -1)
    return SpanMatching(gold=gold_sorted, pred=pred_sorted, pairs=tuple(pairs))
