"""In-corpus k-fold cross-validation (Saber §2.8, Tables 4/5/7/9): folds, dev hold-out, jobs.

The corpus's train and devel documents are pooled and dealt into k folds by document, with
a seeded shuffle, so no document is in two folds and every document is tested exactly once
per seed. Each fold trains on the other k − 1 folds minus a held-out 10 % (by document)
used as its dev set for model selection, and is scored with exact matching. Documents are
the units the reader knows: `-DOCSTART-` documents for JNLPBA, but every sentence for the
sentence-level CoNLL corpora (NCBI-disease, BC5CDR, BC2GM, LINNAEUS, CRAFT), whose files
carry no document boundaries — there folds are by sentence, as in Saber, which used the
same CoNLL files. The corpus's test split is not used: CV estimates in-corpus performance.
Multi-task partners train on all of their own train+devel documents (10 % held out).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bioner.data.document import Document
from bioner.errors import BionerError
from bioner.experiments.runner import (
    RunData,
    RunJob,
    head_name,
    load_documents,
    partner_data,
)
from bioner.training.data import hold_out


@dataclass
class Fold:
    index: int
    train: list[Document]
    dev: list[Document]
    test: list[Document]


def assign_folds(count: int, folds: int, seed: int) -> list[int]:
    """Fold index of each of `count` documents: seeded shuffle, then dealt round-robin.

    Fold sizes differ by at most one; the same (count, folds, seed) always gives the same
    assignment.
    """
    if folds < 2:
        raise BionerError(f"cross-validation needs at least 2 folds, got {folds}")
    if count < folds:
        raise BionerError(f"{count} documents cannot fill {folds} folds")
    order = list(range(count))
    random.Random(seed).shuffle(order)
    assignment = [0] * count
    for position, document in enumerate(order):
        assignment[document] = position % folds
    return assignment


def make_folds(
    documents: Sequence[Document], folds: int, seed: int, dev_fraction: float = 0.1
) -> list[Fold]:
    """The k folds: test = one fold, dev = `dev_fraction` of the rest, train = the remainder."""
    assignment = assign_folds(len(documents), folds, seed)
    result = []
    for index in range(folds):
        rest = [d for d, f in zip(documents, assignment, strict=True) if f != index]
        test = [d for d, f in zip(documents, assignment, strict=True) if f == index]
        train, dev = hold_out(rest, dev_fraction, seed * 1_000 + index)
        result.append(Fold(index, train, dev, test))
    return result


def cv_jobs(
    corpus: str | Path,
    *,
    folds: int,
    seeds: Sequence[int],
    partners: Sequence[str | Path] = (),
    label_map: dict[str, str] | None = None,
    types: Sequence[str] | None = None,
    dev_fraction: float = 0.1,
) -> list[RunJob]:
    """One job per (seed, fold); documents are read once and shared by the jobs."""
    head = head_name(corpus)
    if head in {head_name(p) for p in partners}:
        raise BionerError(f"partner corpora must differ from the corpus {head!r}")
    documents = load_documents(corpus, ("train", "devel"), label_map, types, require_types=True)
    cache: dict[str, list[Document]] = {}
    fold_cache: dict[int, list[Fold]] = {}

    def builder(seed: int, index: int):
        def build() -> RunData:
            if seed not in fold_cache:
                fold_cache.clear()  # keep one seed's folds in memory at a time
                fold_cache[seed] = make_folds(documents, folds, seed, dev_fraction)
            fold = fold_cache[seed][index]
            train = {head: fold.train}
            dev = {head: fold.dev}
            extra_train, extra_dev = partner_data(partners, seed, dev_fraction, label_map, cache)
            train.update(extra_train)
            dev.update(extra_dev)
            return RunData(train, dev, fold.test, head, "exact", None)

        return build

    scored = list(types) if types else None
    info = {
        "kind": "cv",
        "corpus": head,
        "partners": [head_name(p) for p in partners],
        "label_map": dict(label_map or {}),
        "scored_types": scored,  # None: all; the documents are filtered to them on loading
    }
    return [
        RunJob(
            f"seed{seed}-fold{index}",
            seed,
            builder(seed, index),
            {**info, "fold": index, "folds": folds},
        )
        for seed in seeds
        for index in range(folds)
    ]
