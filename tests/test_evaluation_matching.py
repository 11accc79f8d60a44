"""Span matching: hand-computed cases per mode, one-to-one rule, maximality, determinism."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioner.data.document import Span
from bioner.evaluation.matching import MatchMode, match_spans, spans_match

GOLD = Span(0, 10, "X")


def tp(gold: list[Span], pred: list[Span], mode: str, typed: bool = True) -> int:
    return len(match_spans(gold, pred, mode, typed=typed).pairs)


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        # pred span      exact right left overlap
        (Span(0, 10, "X"), (1, 1, 1, 1)),
        (Span(5, 10, "X"), (0, 1, 0, 1)),  # shorter on the left: right-boundary match
        (Span(0, 5, "X"), (0, 0, 1, 1)),  # shorter on the right: left-boundary match
        (Span(3, 7, "X"), (0, 0, 0, 1)),  # inside
        (Span(9, 15, "X"), (0, 0, 0, 1)),  # one shared character
        (Span(10, 15, "X"), (0, 0, 0, 0)),  # touching only: ends are exclusive
        (Span(0, 10, "Y"), (0, 0, 0, 0)),  # another type
    ],
)
def test_each_mode_by_hand(pred: Span, expected: tuple[int, int, int, int]) -> None:
    modes = ("exact", "right", "left", "overlap")
    assert tuple(tp([GOLD], [pred], m) for m in modes) == expected
    assert tuple(int(spans_match(GOLD, pred, m)) for m in modes) == expected


def test_untyped_ignores_labels() -> None:
    assert tp([GOLD], [Span(0, 10, "Y")], "exact", typed=False) == 1
    assert tp([GOLD], [Span(5, 10, "Y")], "right", typed=False) == 1
    assert tp([GOLD], [Span(5, 10, "Y")], "right", typed=True) == 0


def test_one_to_one_in_relaxed_modes() -> None:
    # Two predictions inside one gold mention: one TP, one FP.
    m = match_spans([GOLD], [Span(0, 4, "X"), Span(6, 10, "X")], "overlap")
    assert len(m.pairs) == 1 and len(m.unmatched_pred) == 1 and not m.unmatched_gold
    # One prediction covering two gold mentions: one TP, one FN.
    m = match_spans([Span(0, 4, "X"), Span(6, 10, "X")], [GOLD], "overlap")
    assert len(m.pairs) == 1 and len(m.unmatched_gold) == 1 and not m.unmatched_pred
    # Right mode: two golds end at 10, one prediction does: one pair, the identical one.
    m = match_spans([GOLD, Span(5, 10, "X")], [Span(5, 10, "X")], "right")
    assert [(m.gold[g], m.pred[p]) for g, p in m.pairs] == [(Span(5, 10, "X"), Span(5, 10, "X"))]


def test_duplicates_count_once_each() -> None:
    assert tp([GOLD, GOLD], [GOLD], "exact") == 1
    assert tp([GOLD], [GOLD, GOLD], "exact") == 1
    assert tp([GOLD, GOLD], [GOLD, GOLD], "exact") == 2


def test_maximum_not_greedy() -> None:
    # Greedy closest-first pairs [0,10)-[0,10) and strands the rest; the maximum is 2.
    gold = [Span(0, 10, "X"), Span(0, 2, "X")]
    pred = [Span(0, 10, "X"), Span(8, 12, "X")]
    m = match_spans(gold, pred, "overlap")
    assert sorted((m.gold[g].end, m.pred[p].end) for g, p in m.pairs) == [(2, 10), (10, 12)]


def test_long_chain_does_not_recurse() -> None:
    # 3000 overlapping spans, each prediction shifted: augmenting paths get long.
    gold = [Span(2 * i, 2 * i + 3, "X") for i in range(3000)]
    pred = [Span(2 * i + 1, 2 * i + 4, "X") for i in range(3000)]
    assert tp(gold, pred, "overlap") == 3000


spans = st.builds(
    lambda start, length, label: Span(start, start + length, label),
    st.integers(0, 12),
    st.integers(1, 5),
    st.sampled_from("XY"),
)


def brute_force_maximum(gold: list[Span], pred: list[Span], mode: str, typed: bool) -> int:
    best = 0
    for size in range(min(len(gold), len(pred)), 0, -1):
        for golds in itertools.combinations(gold, size):
            for preds in itertools.permutations(pred, size):
                if all(
                    spans_match(g, p, mode, typed=typed) for g, p in zip(golds, preds, strict=True)
                ):
                    return size
    return best


@settings(max_examples=150, deadline=None)
@given(
    st.lists(spans, max_size=5),
    st.lists(spans, max_size=5),
    st.sampled_from(list(MatchMode)),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_matching_is_maximum_one_to_one_and_order_free(
    gold: list[Span], pred: list[Span], mode: MatchMode, typed: bool, rng
) -> None:
    m = match_spans(gold, pred, mode, typed=typed)
    golds = [g for g, _ in m.pairs]
    preds = [p for _, p in m.pairs]
    assert len(set(golds)) == len(golds) and len(set(preds)) == len(preds)
    assert all(spans_match(m.gold[g], m.pred[p], mode, typed=typed) for g, p in m.pairs)
    assert len(m.pairs) == brute_force_maximum(gold, pred, mode, typed)
    assert len(m.unmatched_gold) + len(m.pairs) == len(gold)
    shuffled_gold, shuffled_pred = list(gold), list(pred)
    rng.shuffle(shuffled_gold)
    rng.shuffle(shuffled_pred)
    assert match_spans(shuffled_gold, shuffled_pred, mode, typed=typed) == m
