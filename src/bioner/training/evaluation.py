"""Scoring a trained tagger on a split: exact-match P/R/F1 and inference throughput."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bioner.data.document import Document
from bioner.evaluation import evaluate_documents
from bioner.tagger import Tagger


def score_split(
    tagger: Tagger,
    documents: Sequence[Document],
    head: str | None = None,
    *,
    mode: str = "exact",
) -> dict[str, Any]:
    """Predict the documents with one head and score them against their own spans."""
    heads = [head] if head else [next(iter(tagger.tags))]
    started = time.perf_counter()
    predicted = tagger.predict_documents(documents, heads)
    seconds = time.perf_counter() - started
    result = evaluate_documents(documents, predicted, mode=mode, align="order")
    sentences = sum(len(d.sentences) for d in documents)
    return {
        "precision": result.micro.precision,
        "recall": result.micro.recall,
        "f1": result.micro.f1,
        "per_type": {
            label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
            for label, s in result.per_type.items()
        },
        "sentences": sentences,
        "inference_seconds": seconds,
        "inference_sentences_per_second": sentences / seconds if seconds else 0.0,
    }
