"""Out-of-corpus evaluation (Saber §2.8, Tables 4/6/8/10): train on one corpus, test on another.

A run trains on all of corpus A (train + devel, 10 % of its documents held out as dev for
model selection) and tests on all of corpus B (train + devel + test): B never informs
training, so all of it is test data. Matching is right-boundary (Saber, after Tsai et al.
2006) and typed after mapping entity-type names onto one name per class (`--map GGP=GENE`):
corpora name the same class differently (GENE, protein, GGP). Only the types both corpora
share after mapping are scored (`types`), so extra classes of a multi-type corpus (JNLPBA's
DNA, RNA, cell types) neither count as errors nor as hits. Multi-task partners (Saber's
"partner" corpora, Table 10) add heads; the test is always scored with A's head.

A is never B (that would test on A's own training documents), and test sentences that also
occur in A's train+devel are reported: a single-type view of a corpus (BC5CDR-disease of
BC5CDR) or a corpus built from another's abstracts (BioNLP09 from GENIA/JNLPBA) is not
out-of-corpus data for it.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)

#: Shorter sentences ("1 .", "CONCLUSIONS .") recur across unrelated corpora.
_SHARED_MIN_TOKENS = 5


def shared_types(train: Sequence[Document], test: Sequence[Document]) -> list[str]:
    """Entity types annotated in both document sets (after label mapping)."""
    found_train = {s.label for d in train for s in d.spans}
    found_test = {s.label for d in test for s in d.spans}
    return sorted(found_train & found_test)


def shared_sentences(train: Sequence[Document], test: Sequence[Document]) -> tuple[int, int]:
    """(test sentences of at least 5 tokens that are also training sentences, test sentences)."""
    known = {tuple(s.words) for d in train for s in d.sentences}
    words = [tuple(s.words) for d in test for s in d.sentences]
    shared = sum(1 for w in words if len(w) >= _SHARED_MIN_TOKENS and w in known)
    return shared, len(words)


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
    if Path(train_corpus).resolve() == Path(test_corpus).resolve():
        raise BionerError(
            f"--train and --test are the same corpus ({train_corpus}): out-of-corpus runs "
            "test on another corpus; for in-corpus figures use `bioner experiment cv`"
        )
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
    shared, total = shared_sentences(train_docs, test_docs)
    if shared:
        log.warning(
            "%s: %d of its %d sentences (%.1f %%) are also training sentences of %s, so they "
            "are not out-of-corpus test data (a view of the same corpus, or shared abstracts)",
            head_name(test_corpus),
            shared,
            total,
            100 * shared / total,
            head,
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
