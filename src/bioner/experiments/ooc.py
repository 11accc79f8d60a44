"""Out-of-corpus evaluation (Saber §2.8, Tables 4/6/8/10): train on one corpus, test on another.

A run trains on all of corpus A (train + devel, 10 % of its documents held out as dev for
model selection) and tests on all of corpus B (train + devel + test): B never informs
training, so all of it is test data. Matching is right-boundary (Saber, after Tsai et al.
2006) and typed after mapping entity-type names onto one name per class (`--map GGP=GENE`):
corpora name the same class differently (GENE, protein, GGP). Only the types both corpora
share after mapping are scored (`types`), so extra classes of a multi-type corpus (JNLPBA's
DNA, RNA, cell types) neither count as errors nor as hits. Multi-task partners (Saber's
"partner" corpora, Table 10) add heads; the test is always scored with A's head.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bioner.data.document import Document
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


def shared_types(train: Sequence[Document], test: Sequence[Document]) -> list[str]:
    """Entity types annotated in both document sets (after label mapping)."""
    found_train = {s.label for d in train for s in d.spans}
    found_test = {s.label for d in test for s in d.spans}
    return sorted(found_train & found_test)


def ooc_jobs(
    train_corpus: str | Path,
    test_corpus: str | Path,
    *,
    seeds: Sequence[int],
    partners: Sequence[str | Path] = (),
    label_map: dict[str, str] | None = None,
    types: Sequence[str] | None = None,
    dev_fraction: float = 0.1,
    mode: str = "right",
) -> list[RunJob]:
    """One job per seed: train on all of `train_corpus`, test on all of `test_corpus`."""
    head = head_name(train_corpus)
    partner_heads = [head_name(p) for p in partners]
    if head in partner_heads or head_name(test_corpus) in partner_heads:
        raise BionerError("a partner corpus must differ from the train and test corpora")
    # Partners are read now, too: `--map` is checked against them before any run trains.
    [train_docs, test_docs], cache = load_corpora(
        [(train_corpus, TRAIN_SPLITS), (test_corpus, ("train", "devel", "test"))],
        partners,
        label_map,
        types,
    )
    scored = list(types) if types else shared_types(train_docs, test_docs)
    if not scored:
        raise BionerError(
            f"{head} and {head_name(test_corpus)} share no entity type; map them onto one "
            "name with --map SOURCE=TARGET (e.g. --map GGP=GENE)"
        )

    def builder(seed: int):
        def build() -> RunData:
            kept, dev = hold_out(train_docs, dev_fraction, seed)
            train = {head: kept}
            dev_sets = {head: dev}
            extra_train, extra_dev = partner_data(partners, seed, dev_fraction, label_map, cache)
            train.update(extra_train)
            dev_sets.update(extra_dev)
            return RunData(train, dev_sets, test_docs, head, mode, scored)

        return build

    info = {
        "kind": "ooc",
        "train": head,
        "test": head_name(test_corpus),
        "partners": partner_heads,
        "label_map": dict(label_map or {}),
        "mode": mode,
        "scored_types": scored,
    }
    return [RunJob(f"seed{seed}", seed, builder(seed), info) for seed in seeds]
