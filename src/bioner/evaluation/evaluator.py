"""One entry point from gold and predicted documents to an `EvaluationResult`.

`evaluate_documents` pairs the documents, maps and filters labels, matches spans per
document, scores them and optionally analyses errors and seen/unseen recall. The CLI (and
any later command that evaluates a trained model) only reads documents and calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from pydantic import BaseModel, ConfigDict

from bioner.data.document import Document, Span
from bioner.data.inputs import checked_documents
from bioner.errors import BionerError
from bioner.evaluation.alignment import Alignment, align_documents
from bioner.evaluation.error_analysis import ErrorAnalysis, analyze_document
from bioner.evaluation.matching import MatchMode, SpanMatching, match_spans
from bioner.evaluation.metrics import Averages, Scores, score_matchings
from bioner.evaluation.seen_unseen import (
    SeenUnseenRecall,
    seen_unseen_recall,
    training_vocabulary,
)


class EvaluationResult(BaseModel):
    """Everything one evaluation produced; `model_dump_json()` gives the JSON report."""

    model_config = ConfigDict(frozen=True)

    mode: MatchMode
    typed: bool
    documents: int
    label_map: dict[str, str]
    types: list[str] | None
    micro: Scores
    macro: Averages
    weighted: Averages
    per_type: dict[str, Scores]
    errors: ErrorAnalysis | None = None
    seen_unseen: SeenUnseenRecall | None = None


def prepare_spans(
    spans: Iterable[Span],
    label_map: Mapping[str, str] | None = None,
    types: Iterable[str] | None = None,
) -> list[Span]:
    """Spans with labels renamed by `label_map`, then kept only if their label is in `types`."""
    mapping = label_map or {}
    keep = None if types is None else set(types)
    renamed = (
        replace(span, label=mapping[span.label]) if span.label in mapping else span
        for span in spans
    )
    return [span for span in renamed if keep is None or span.label in keep]


def evaluate_documents(
    gold_docs: Iterable[Document],
    pred_docs: Iterable[Document],
    *,
    mode: MatchMode | str = MatchMode.EXACT,
    typed: bool = True,
    label_map: Mapping[str, str] | None = None,
    types: Iterable[str] | None = None,
    align: Alignment = "auto",
    errors: bool = False,
    max_examples: int = 20,
    train_docs: Iterable[Document] | None = None,
    lowercase_seen: bool = False,
) -> EvaluationResult:
    """Span-level evaluation of `pred_docs` against `gold_docs`.

    `label_map` renames types on both sides (e.g. ``{"GGP": "GENE", "protein": "GENE"}``)
    before `types` keeps only the listed ones. `errors` adds the error analysis (up to
    `max_examples` examples per category and side); `train_docs` adds recall on gold
    mentions seen / unseen in those documents. Raises BionerError when the documents cannot
    be paired or their texts differ, or `mode` is not a mode; wrong argument types (a single
    Document, a bare string for `types`) are a TypeError, since iterating them would score
    something else without a word. Types no span has are not an error here (a test fold may
    lack one); `bioner evaluate --type` refuses them. An empty `types` is a BionerError, as
    in `Tagger.predict_documents` and `annotate_stream`: it would score nothing.
    """
    try:
        mode = MatchMode(mode)
    except ValueError:
        modes = ", ".join(m.value for m in MatchMode)
        raise BionerError(f"unknown match mode {mode!r}: use one of {modes}") from None
    if isinstance(types, str):
        raise TypeError(f"types must be a list of entity type names, e.g. [{types!r}], not a str")
    if label_map is not None and not isinstance(label_map, Mapping):
        raise TypeError(
            f"label_map must be a mapping such as {{'GGP': 'GENE'}}, got {type(label_map).__name__}"
        )
    type_list = None if types is None else sorted(set(types))
    if type_list == []:  # as everywhere else: an empty filter is a mistake, not "score none"
        raise BionerError("types: name at least one entity type, or leave 'types' out for all")
    pairs = align_documents(
        list(checked_documents(gold_docs, "evaluate_documents(gold_docs)")),
        list(checked_documents(pred_docs, "evaluate_documents(pred_docs)")),
        align,
    )
    matchings: list[tuple[Document, SpanMatching]] = [
        (
            gold,
            match_spans(
                prepare_spans(gold.spans, label_map, type_list),
                prepare_spans(pred.spans, label_map, type_list),
                mode,
                typed=typed,
            ),
        )
        for gold, pred in pairs
    ]
    scores = score_matchings(m for _, m in matchings)

    analysis: ErrorAnalysis | None = None
    if errors:
        analysis = ErrorAnalysis()
        for document, m in matchings:
            analyze_document(
                analysis,
                document.id,
                document.text,
                m.gold,
                m.pred,
                m.unmatched_gold,
                m.unmatched_pred,
                max_examples=max_examples,
                typed=typed,
            )
        analysis.sort()

    seen: SeenUnseenRecall | None = None
    if train_docs is not None:
        vocabulary = training_vocabulary(train_docs, lowercase=lowercase_seen)
        seen = seen_unseen_recall(_gold_found(matchings), vocabulary, lowercase=lowercase_seen)

    return EvaluationResult(
        mode=mode,
        typed=typed,
        documents=len(pairs),
        label_map=dict(label_map or {}),
        types=type_list,
        micro=scores.micro,
        macro=scores.macro,
        weighted=scores.weighted,
        per_type=scores.per_type,
        errors=analysis,
        seen_unseen=seen,
    )


def _gold_found(matchings: Sequence[tuple[Document, SpanMatching]]) -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    for document, m in matchings:
        paired = {g for g, _ in m.pairs}
        found.extend(
            (document.span_text(span), index in paired) for index, span in enumerate(m.gold)
        )
    return found
