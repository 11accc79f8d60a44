"""Renders an `EvaluationResult` as rich tables for the terminal.

Kept apart from the computation so that results stay plain data (JSON via pydantic) and
any front end — CLI, notebook, experiment scripts — can choose how to show them.
"""

from __future__ import annotations

from typing import Literal

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bioner.evaluation.error_analysis import (
    FN_CATEGORIES,
    FP_CATEGORIES,
    ErrorAnalysis,
    ErrorCategory,
    ErrorTally,
)
from bioner.evaluation.evaluator import EvaluationResult
from bioner.evaluation.metrics import Averages, Scores
from bioner.evaluation.seen_unseen import SeenUnseenRecall


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def scores_table(result: EvaluationResult) -> Table:
    """Per-type rows, then micro, macro and weighted averages (P/R/F1 in percent)."""
    typing = "typed" if result.typed else "untyped"
    table = Table(title=f"Span-level scores ({result.mode.value} match, {typing})")
    for name in ("type", "TP", "FP", "FN", "precision", "recall", "F1", "support"):
        table.add_column(name, justify="left" if name == "type" else "right")

    def counts_row(name: str, s: Scores, *, end_section: bool = False) -> None:
        table.add_row(
            Text(name),
            str(s.tp),
            str(s.fp),
            str(s.fn),
            _pct(s.precision),
            _pct(s.recall),
            _pct(s.f1),
            str(s.support),
            end_section=end_section,
        )

    def average_row(name: str, a: Averages) -> None:
        support = str(result.micro.support)
        table.add_row(name, "", "", "", _pct(a.precision), _pct(a.recall), _pct(a.f1), support)

    labels = list(result.per_type)
    for index, label in enumerate(labels):
        counts_row(label, result.per_type[label], end_section=index == len(labels) - 1)
    counts_row("micro avg", result.micro)
    average_row("macro avg", result.macro)
    average_row("weighted avg", result.weighted)
    return table


#: Column headers of the error tables; the caption spells out the short ones.
_CATEGORY_HEADERS = {
    ErrorCategory.TYPE: "type",
    ErrorCategory.LEFT_BOUNDARY: "left",
    ErrorCategory.RIGHT_BOUNDARY: "right",
    ErrorCategory.BOTH_BOUNDARIES: "both",
    ErrorCategory.TYPE_AND_BOUNDARY: "type+bnd",
    ErrorCategory.MISSING: "missing",
    ErrorCategory.SPURIOUS: "spurious",
}
_CATEGORY_LEGEND = (
    "left = left_boundary (same end, other start), right = right_boundary (same start, "
    "other end), both = both_boundaries, type+bnd = type_and_boundary"
)


def errors_table(analysis: ErrorAnalysis, side: Literal["FP", "FN"]) -> Table:
    """One side's errors ("FP" or "FN") per category: all types, then one row per type.

    Types are rows, not columns, so that a model with many types still fits a terminal:
    with a column per type, 80 columns cut the counts to "42…" and both `type` categories
    to "ty…". Counts never wrap; long type names fold.
    """
    categories = FP_CATEGORIES if side == "FP" else FN_CATEGORIES
    name = "false positives" if side == "FP" else "false negatives"
    table = Table(
        title=f"Error analysis: {name} by category (Lyu et al.)",
        caption=_CATEGORY_LEGEND,
        caption_justify="left",
    )
    table.add_column("entity type", overflow="fold")
    for category in categories:
        table.add_column(_CATEGORY_HEADERS[category], justify="right", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)

    def row(label: str, tally: ErrorTally, *, end_section: bool = False) -> None:
        counts = getattr(tally, side.lower())
        cells = [str(counts[category]) for category in categories]
        table.add_row(Text(label), *cells, str(sum(counts.values())), end_section=end_section)

    row("all types", analysis.total, end_section=True)
    for label, tally in analysis.per_type.items():
        row(label, tally)
    return table


def examples_table(analysis: ErrorAnalysis, limit: int = 5) -> Table:
    """Up to `limit` examples per side and category, with the overlapping counterpart."""
    table = Table(title="Error examples")
    # The category is never cut ("both_boundari…"); the corpus-given columns fold instead.
    table.add_column("side", no_wrap=True)
    table.add_column("category", no_wrap=True)
    for name in ("document", "type", "text", "counterpart"):
        table.add_column(name, overflow="fold", min_width=len(name))
    shown: dict[tuple[str, str], int] = {}
    for example in analysis.examples:
        key = (example.side, example.category.value)
        if shown.get(key, 0) >= limit:
            continue
        shown[key] = shown.get(key, 0) + 1
        other = (
            "" if example.other_text is None else f"{example.other_text} ({example.other_label})"
        )
        # Corpus text goes in as Text, never as markup: "[" in a mention must print as is.
        table.add_row(
            example.side,
            example.category.value,
            Text(example.document_id),
            Text(example.label),
            Text(example.text),
            Text(other),
        )
    return table


def seen_unseen_table(recall: SeenUnseenRecall) -> Table:
    """Recall on gold mentions whose text was / was not a training mention."""
    case = "lower-cased" if recall.lowercase else "case-sensitive"
    table = Table(title=f"Recall on seen vs unseen mentions ({case})")
    for name in ("mentions", "count", "found", "recall"):
        table.add_column(name, justify="left" if name == "mentions" else "right")
    rows = (
        ("seen", recall.seen),
        ("unseen", recall.unseen),
        ("seen (distinct texts)", recall.seen_distinct),
        ("unseen (distinct texts)", recall.unseen_distinct),
    )
    for name, count in rows:
        table.add_row(name, str(count.total), str(count.found), _pct(count.recall))
    return table


def render(result: EvaluationResult, *, examples: int = 5) -> Group:
    """All tables the result has data for, in reading order."""
    parts: list[Table] = [scores_table(result)]
    if result.errors is not None:
        parts += [errors_table(result.errors, "FP"), errors_table(result.errors, "FN")]
        if examples > 0 and result.errors.examples:
            parts.append(examples_table(result.errors, examples))
    if result.seen_unseen is not None:
        parts.append(seen_unseen_table(result.seen_unseen))
    return Group(*parts)


def print_report(result: EvaluationResult, console: Console | None = None) -> None:
    """Print `render(result)` to `console` (stdout by default)."""
    (console or Console()).print(render(result))
