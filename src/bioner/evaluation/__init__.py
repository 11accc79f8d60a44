"""Span-level evaluation: matching modes, P/R/F1, error analysis, seen/unseen recall.

The package holds no state and imports nothing heavy; `evaluate_documents` is the entry
point, the submodules hold one job each (see their docstrings).
"""

from __future__ import annotations

from bioner.evaluation.alignment import align_documents, check_same_text
from bioner.evaluation.error_analysis import (
    ErrorAnalysis,
    ErrorCategory,
    ErrorExample,
    ErrorTally,
    classify_error,
)
from bioner.evaluation.evaluator import EvaluationResult, evaluate_documents, prepare_spans
from bioner.evaluation.matching import MatchMode, SpanMatching, match_spans, spans_match
from bioner.evaluation.metrics import Averages, Scores, SpanScores, score_matchings
from bioner.evaluation.report import print_report, render
from bioner.evaluation.seen_unseen import RecallCount, SeenUnseenRecall, seen_unseen_recall

__all__ = [
    "Averages",
    "ErrorAnalysis",
    "ErrorCategory",
    "ErrorExample",
    "ErrorTally",
    "EvaluationResult",
    "MatchMode",
    "RecallCount",
    "Scores",
    "SeenUnseenRecall",
    "SpanMatching",
    "SpanScores",
    "align_documents",
    "check_same_text",
    "classify_error",
    "evaluate_documents",
    "match_spans",
    "prepare_spans",
    "print_report",
    "render",
    "score_matchings",
    "seen_unseen_recall",
    "spans_match",
]
