"""Sorts every false positive and false negative into an error category (Lyu et al.).

Written by hand: no evaluation library (seqeval, conlleval) classifies errors; Lyu et al.
describe the categories only in prose, so the precise rules are fixed here.

An error is a span left unpaired by the evaluation's matching (so relaxed modes have fewer
errors: under ``right`` matching a left-boundary error is a true positive). It is compared
with every span *on the other side* that overlaps it (all of them, matched or not — Lyu's
"missing" means overlapped by no recognized entity at all), and gets the first category
that applies, in this order:

1. ``type``            — a counterpart with the same offsets but another type;
2. ``left_boundary``   — same end, different start, same type;
3. ``right_boundary``  — same start, different end, same type;
4. ``both_boundaries`` — overlapping, both boundaries differ, same type;
5. ``type_and_boundary`` — overlapping, some boundary differs *and* the type differs (Lyu
   has no name for it; it is kept apart rather than hidden in another category);
6. ``missing`` (false negative) or ``spurious`` (false positive) — no overlapping span, or
   only identical ones (a duplicate: a second copy of a span whose twin was matched).

Untyped evaluation ignores types here as well: every counterpart counts as "same type", so
an untyped error is a boundary error, missing or spurious, never a type error.

A false positive is counted under its predicted type, a false negative under its gold type.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bioner.data.document import Span


class ErrorCategory(StrEnum):
    TYPE = "type"
    LEFT_BOUNDARY = "left_boundary"
    RIGHT_BOUNDARY = "right_boundary"
    BOTH_BOUNDARIES = "both_boundaries"
    TYPE_AND_BOUNDARY = "type_and_boundary"
    MISSING = "missing"
    SPURIOUS = "spurious"


FP_CATEGORIES = tuple(c for c in ErrorCategory if c is not ErrorCategory.MISSING)
FN_CATEGORIES = tuple(c for c in ErrorCategory if c is not ErrorCategory.SPURIOUS)


def classify_error(
    error: Span, others: Sequence[Span], *, false_positive: bool, typed: bool = True
) -> ErrorCategory:
    """The category of one unpaired span given the overlapping spans of the other side.

    `typed=False` (untyped evaluation) treats every counterpart as of the same type, so the
    report never blames a type the evaluation ignored. Identical counterparts (duplicates)
    give no category of their own (module docstring, rule 6).
    """

    def counterpart(o: Span) -> bool:
        if (o.start, o.end) == (error.start, error.end):
            return typed and o.label != error.label
        return o.start < error.end and error.start < o.end

    def same_type(o: Span) -> bool:
        return not typed or o.label == error.label

    rules = (
        (ErrorCategory.TYPE, lambda o: (o.start, o.end) == (error.start, error.end)),
        (ErrorCategory.LEFT_BOUNDARY, lambda o: same_type(o) and o.end == error.end),
        (ErrorCategory.RIGHT_BOUNDARY, lambda o: same_type(o) and o.start == error.start),
        (ErrorCategory.BOTH_BOUNDARIES, same_type),
        (ErrorCategory.TYPE_AND_BOUNDARY, lambda o: True),
    )
    overlapping = [o for o in others if counterpart(o)]
    for category, applies in rules:
        if any(applies(o) for o in overlapping):
            return category
    return ErrorCategory.SPURIOUS if false_positive else ErrorCategory.MISSING


class ErrorExample(BaseModel):
    """One error with its text, and the closest overlapping span of the other side if any."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    side: str  # "FP" or "FN"
    category: ErrorCategory
    label: str
    start: int
    end: int
    text: str
    other_label: str | None = None
    other_text: str | None = None


class ErrorTally(BaseModel):
    """Counts of false positives and false negatives per category."""

    fp: dict[ErrorCategory, int] = Field(default_factory=lambda: dict.fromkeys(FP_CATEGORIES, 0))
    fn: dict[ErrorCategory, int] = Field(default_factory=lambda: dict.fromkeys(FN_CATEGORIES, 0))


class ErrorAnalysis(BaseModel):
    """Error counts overall and per type, and up to `max_examples` examples per category."""

    total: ErrorTally = Field(default_factory=ErrorTally)
    per_type: dict[str, ErrorTally] = Field(default_factory=dict)
    examples: list[ErrorExample] = Field(default_factory=list)

    def add(self, example: ErrorExample, max_examples: int) -> None:
        """Count an error and keep it as an example while its category has room."""
        tally_side = "fp" if example.side == "FP" else "fn"
        for tally in (self.total, self.per_type.setdefault(example.label, ErrorTally())):
            counts = getattr(tally, tally_side)
            counts[example.category] += 1
        kept = sum(
            1 for e in self.examples if e.side == example.side and e.category == example.category
        )
        if kept < max_examples:
            self.examples.append(example)

    def sort(self) -> None:
        """Order per-type tallies by type name (examples stay in document order)."""
        self.per_type = dict(sorted(self.per_type.items()))


def _overlapping(spans: Sequence[Span], starts: list[int], longest: int, error: Span) -> list[Span]:
    first = bisect_left(starts, error.start - longest + 1)
    last = bisect_left(starts, error.end)
    return [s for s in spans[first:last] if s.end > error.start]


def _closest(error: Span, others: Sequence[Span]) -> Span | None:
    return min(
        others,
        key=lambda o: (abs(o.start - error.start) + abs(o.end - error.end), o.label != error.label),
        default=None,
    )


def analyze_document(
    analysis: ErrorAnalysis,
    document_id: str,
    text: str,
    gold: Sequence[Span],
    pred: Sequence[Span],
    false_negatives: Sequence[Span],
    false_positives: Sequence[Span],
    *,
    max_examples: int = 20,
    typed: bool = True,
) -> None:
    """Classify one document's errors into `analysis`; `gold` and `pred` sorted by start.

    `typed` must be the evaluation's own setting (see `classify_error`).
    """
    sides = (("FP", false_positives, gold), ("FN", false_negatives, pred))
    for side, errors, others in sides:
        starts = [o.start for o in others]
        longest = max((o.end - o.start for o in others), default=0)
        for error in errors:
            near = _overlapping(others, starts, longest, error)
            category = classify_error(error, near, false_positive=side == "FP", typed=typed)
            other = _closest(error, near)
            analysis.add(
                ErrorExample(
                    document_id=document_id,
                    side=side,
                    category=category,
                    label=error.label,
                    start=error.start,
                    end=error.end,
                    text=text[error.start : error.end],
                    other_label=other.label if other else None,
                    other_text=text[other.start : other.end] if other else None,
                ),
                max_examples,
            )
