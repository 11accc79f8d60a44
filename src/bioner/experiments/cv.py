"""In-corpus k-fold cross-validation (Saber §2.8, Tables 4/5/7/9): folds, dev hold-out, jobs.

The corpus's train and devel documents are pooled and dealt into k folds by document, with
a seeded shuffle, so no document is in two folds and every document is tested exactly once
per seed. Each fold trains on the other k − 1 folds minus a held-out 10 % (by document)
used as its dev set for model selection, and is scored with exact matching. Documents are
the units the reader knows: `-DOCSTART-` documents for JNLPBA, but every sentence for the
sentence-level CoNLL corpora (NCBI-disease, BC5CDR, BC2GM, LINNAEUS, CRAFT), whose files
carry no document boundaries — there folds are by sentence, as in Saber, which used the
same CoNLL files. That lets sentences of one abstract sit in training and test folds (its
abbreviations and repeated names leak), so `references` (the corpus's original release, e.g.
PubTator) can group the sentences into their abstracts first: folds and dev hold-outs are
then dealt by abstract, while each run still trains and tests on the same sentence
documents (the same mentions are scored). The corpus's test split is not used: CV estimates
in-corpus performance. Multi-task partners train on all of their own train+devel documents
(10 % held out).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bioner.data.document import Document
from bioner.data.formats import read_documents
from bioner.data.regroup import group_by_reference
from bioner.errors import BionerError
from bioner.experiments.runner import (
    TRAIN_SPLITS,
    RunData,
    RunJob,
    head_name,
    load_corpora,
    partner_data,
)
from bioner.training.data import hold_out

log = logging.getLogger(__name__)


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
    documents: Sequence[Document],
    folds: int,
    seed: int,
    dev_fraction: float = 0.1,
    groups: Sequence[Sequence[int]] | None = None,
) -> list[Fold]:
    """The k folds: test = one fold, dev = `dev_fraction` of the rest, train = the remainder.

    `groups` (indices into `documents`, each document in exactly one) are dealt whole, so
    the documents of one group share a fold and a side of the dev hold-out; without them
    every document is its own group. Each part keeps the corpus order.
    """
    if groups is None:
        groups = [[i] for i in range(len(documents))]
    units = [list(group) for group in groups]
    placed = sorted(i for unit in units for i in unit)
    if placed != list(range(len(documents))):
        raise BionerError("fold groups must hold every document exactly once")
    assignment = assign_folds(len(units), folds, seed)

    def pick(chosen: Sequence[list[int]]) -> list[Document]:
        return [documents[i] for i in sorted(i for unit in chosen for i in unit)]

    result = []
    for index in range(folds):
        rest = [u for u, f in zip(units, assignment, strict=True) if f != index]
        test = [u for u, f in zip(units, assignment, strict=True) if f == index]
        train, dev = hold_out(rest, dev_fraction, seed * 1_000 + index)
        result.append(Fold(index, pick(train), pick(dev), pick(test)))
    return result


def abstract_groups(
    documents: Sequence[Document], references: Sequence[Document]
) -> list[list[int]]:
    """Indices of `documents` per reference document (first-seen order): the fold units.

    Sentences of one reference document that are not consecutive (a duplicated abstract)
    still form one group, so no copy of an abstract is on the other side of a fold.
    """
    members: dict[int, list[int]] = {}
    for owner, indices in group_by_reference(documents, references):
        members.setdefault(owner, []).extend(indices)
    return list(members.values())


def read_references(paths: Sequence[str | Path]) -> list[Document]:
    """All documents of the reference files (any format the readers guess), in order."""
    documents: list[Document] = []
    for path in paths:
        if not Path(path).exists():
            raise BionerError(f"--documents {path}: no such file or folder")
        found = list(read_documents(path, None))
        if not found:
            raise BionerError(f"--documents {path}: no documents (an empty file?)")
        documents.extend(found)
    return documents


def warn_if_sentence_level(corpus: str | Path, documents: Sequence[Document]) -> None:
    """Say once that folds will be drawn by sentence when every document is one sentence."""
    if len(documents) > 1 and all(len(d.sentences) == 1 for d in documents):
        log.warning(
            "%s: every document is one sentence, so folds are drawn by sentence and one "
            "abstract's sentences can be in training and test folds; --documents with the "
            "corpus's original release (e.g. PubTator) draws them by abstract",
            corpus,
        )


def cv_jobs(
    corpus: str | Path,
    *,
    folds: int,
    seeds: Sequence[int],
    partners: Sequence[str | Path] = (),
    label_map: dict[str, str] | None = None,
    types: Sequence[str] | None = None,
    dev_fraction: float = 0.1,
    references: Sequence[str | Path] = (),
) -> list[RunJob]:
    """One job per (seed, fold); documents are read once and shared by the jobs.

    `references` (files of the corpus's original documents) make the folds abstract-level.
    """
    head = head_name(corpus)
    if head in {head_name(p) for p in partners}:
        raise BionerError(f"partner corpora must differ from the corpus {head!r}")
    # Partners are read now, too: `--map` is checked against them before any run trains.
    [documents], cache = load_corpora([(corpus, TRAIN_SPLITS)], partners, label_map, types)
    groups: list[list[int]] | None = None
    if references:
        originals = read_references(references)
        try:
            groups = abstract_groups(documents, originals)
        except BionerError as error:
            names = ", ".join(str(p) for p in references)
            raise BionerError(f"{corpus}: cannot group by --documents {names}: {error}") from None
    else:
        warn_if_sentence_level(corpus, documents)
    fold_cache: dict[int, list[Fold]] = {}

    def builder(seed: int, index: int):
        def build() -> RunData:
            if seed not in fold_cache:
                fold_cache.clear()  # keep one seed's folds in memory at a time
                fold_cache[seed] = make_folds(documents, folds, seed, dev_fraction, groups)
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
        # Folds by abstract: the reference files' names and how many abstracts were dealt.
        "grouped_by": [Path(p).name for p in references] if groups is not None else None,
        "fold_groups": len(groups) if groups is not None else None,
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
