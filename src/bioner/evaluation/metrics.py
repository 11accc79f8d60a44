"""Turns span matchings into counts and scores: TP/FP/FN, P/R/F1 micro, macro, weighted, per type.

Written by hand (not seqeval) because the counts come from character-span matchings in any
matching mode, which seqeval cannot produce. The averages follow seqeval's definitions so
that exact mode reproduces its figures: micro = P/R/F1 of the summed counts; macro = the
unweighted mean of the per-type P, R and F1; weighted = their mean weighted by gold support.
A ratio with a zero denominator is 0.0 (seqeval's ``zero_division`` default).

Per-type attribution: a false positive belongs to the predicted type, a false negative to the
gold type and a true positive to the gold type. In typed matching the two types are equal;
in untyped matching this keeps the per-type counts summing to the micro counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, computed_field

from bioner.evaluation.matching import SpanMatching


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def f1_score(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall, 0.0 when both are 0."""
    return _ratio(2 * precision * recall, precision + recall)


class Scores(BaseModel):
    """True/false positives and false negatives, with the scores they imply."""

    model_config = ConfigDict(frozen=True)

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float:
        return f1_score(self.precision, self.recall)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def support(self) -> int:
        """Number of gold mentions."""
        return self.tp + self.fn

    def __add__(self, other: Scores) -> Scores:
        return Scores(tp=self.tp + other.tp, fp=self.fp + other.fp, fn=self.fn + other.fn)


class Averages(BaseModel):
    """Precision, recall and F1 averaged over types (macro or support-weighted)."""

    model_config = ConfigDict(frozen=True)

    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0


class SpanScores(BaseModel):
    """All span-level figures of one evaluation."""

    model_config = ConfigDict(frozen=True)

    micro: Scores
    macro: Averages
    weighted: Averages
    per_type: dict[str, Scores]


def count_matching(matching: SpanMatching) -> dict[str, Scores]:
    """Per-type counts of one document's matching (attribution rule in the module doc)."""
    tp: Counter[str] = Counter(matching.gold[g].label for g, _ in matching.pairs)
    fn: Counter[str] = Counter(span.label for span in matching.unmatched_gold)
    fp: Counter[str] = Counter(span.label for span in matching.unmatched_pred)
    return {
        label: Scores(tp=tp[label], fp=fp[label], fn=fn[label])
        for label in sorted(set(tp) | set(fn) | set(fp))
    }


def merge_counts(parts: Iterable[Mapping[str, Scores]]) -> dict[str, Scores]:
    """Sum per-type counts over documents; the result is sorted by type name."""
    total: dict[str, Scores] = {}
    for part in parts:
        for label, scores in part.items():
            total[label] = total.get(label, Scores()) + scores
    return dict(sorted(total.items()))


def summarize(per_type: Mapping[str, Scores]) -> SpanScores:
    """Micro, macro and weighted figures from per-type counts."""
    micro = sum(per_type.values(), Scores())
    rows = list(per_type.values())
    macro = Averages(
        precision=_ratio(sum(r.precision for r in rows), len(rows)),
        recall=_ratio(sum(r.recall for r in rows), len(rows)),
        f1=_ratio(sum(r.f1 for r in rows), len(rows)),
    )
    support = sum(r.support for r in rows)
    weighted = Averages(
        precision=_ratio(sum(r.precision * r.support for r in rows), support),
        recall=_ratio(sum(r.recall * r.support for r in rows), support),
        f1=_ratio(sum(r.f1 * r.support for r in rows), support),
    )
    return SpanScores(micro=micro, macro=macro, weighted=weighted, per_type=dict(per_type))


def score_matchings(matchings: Iterable[SpanMatching]) -> SpanScores:
    """The span-level figures of a set of per-document matchings."""
    return summarize(merge_counts(count_matching(m) for m in matchings))
