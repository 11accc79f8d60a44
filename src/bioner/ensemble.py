"""Majority vote over the spans several taggers predict for the same documents.

Why: models trained from different seeds make different spurious predictions, so keeping a
span only when most models predict it (same offsets and type) trades a little recall for
more precision; on tmVar three `deepvar-fine` seeds voting beat each of them alone
(benchmarks/results/deepvar_tmvar.md). Written by hand: the vote is over entity spans with
character offsets, which no ensembling library models. Kept spans carry the mean of the
voters' scores (None where no voter gave one). With a strict majority (the default) two
kept spans can never overlap, since each model contributes at most one of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bioner.data.document import Document, Span
from bioner.errors import BionerError


def vote_spans(
    predictions: Sequence[Sequence[Document]], min_votes: int | None = None
) -> list[Document]:
    """One document per input position holding the spans at least `min_votes` models predict.

    `predictions[m][d]` is model m's prediction for document d; every model must have
    predicted the same documents in the same order. `min_votes` defaults to a strict
    majority (⌊n/2⌋ + 1).
    """
    if not predictions:
        raise BionerError("a vote needs the predictions of at least one model")
    count = len(predictions)
    needed = count // 2 + 1 if min_votes is None else min_votes
    if not 1 <= needed <= count:
        raise BionerError(f"min_votes must be between 1 and {count}, got {min_votes}")
    lengths = {len(p) for p in predictions}
    if len(lengths) != 1:
        raise BionerError(f"the models predicted different numbers of documents: {lengths}")
    voted: list[Document] = []
    for documents in zip(*predictions, strict=True):
        ids = {d.id for d in documents}
        if len(ids) != 1:
            raise BionerError(f"the models' documents are not in the same order: {sorted(ids)}")
        voters: dict[tuple[int, int, str], list[Span]] = defaultdict(list)
        for document in documents:
            for span in {s.key: s for s in document.spans}.values():
                voters[span.key].append(span)
        kept = []
        for key, spans in voters.items():
            if len(spans) < needed:
                continue
            scores = [s.score for s in spans if s.score is not None]
            score = sum(scores) / len(scores) if scores else None
            kept.append(Span(*key, score=score))
        kept.sort(key=lambda s: (s.start, s.end, s.label))
        voted.append(documents[0].with_spans(kept))
    return voted
