"""The documents an experiment trains, tunes and tests on, resolved from its `DataConfig`.

A `corpus` folder supplies train/devel/test; explicit `train`/`dev`/`test` paths override
it. Without a dev split, `dev_fraction` of the training documents are held out by document
with a fixed seed (tmVar has no devel split; DeepVar holds out 20 %). Label renaming and
type filtering happen here, once, so every later stage sees the same spans.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from bioner.config import DataConfig
from bioner.data.corpus import load_corpus
from bioner.data.document import Document
from bioner.data.formats import read_documents
from bioner.errors import BionerError
from bioner.text.tokenizer import Tokenizer, make_tokenizer

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass
class Splits:
    train: list[Document]
    dev: list[Document]
    test: list[Document]


def relabel(
    documents: Sequence[Document], label_map: dict[str, str], labels: Sequence[str] | None
) -> list[Document]:
    """Documents with spans renamed by `label_map` and kept only if their type is in `labels`."""
    if not label_map and labels is None:
        return list(documents)
    keep = None if labels is None else set(labels)
    out = []
    for document in documents:
        spans = [replace(s, label=label_map.get(s.label, s.label)) for s in document.spans]
        out.append(document.with_spans([s for s in spans if keep is None or s.label in keep]))
    return out


def hold_out(units: Sequence[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """Split documents (not sentences), or groups of them, into (kept, held out) with a
    seeded shuffle; both keep the input order."""
    order = list(range(len(units)))
    random.Random(seed).shuffle(order)
    count = round(len(units) * fraction)
    held = set(order[:count])
    kept = [u for i, u in enumerate(units) if i not in held]
    return kept, [u for i, u in enumerate(units) if i in held]


def load_splits(data: DataConfig) -> Splits:
    """Train/dev/test documents for an experiment (test may be empty)."""
    splits: dict[str, list[Document]] = {"train": [], "dev": [], "test": []}
    if data.corpus:
        corpus = load_corpus(data.corpus, data.format)
        for name, corpus_split in (("train", "train"), ("dev", "devel"), ("test", "test")):
            if corpus_split in corpus.splits:
                splits[name] = _non_empty(
                    corpus.documents(corpus_split), corpus.files[corpus_split], name
                )
    for name in splits:
        path = getattr(data, name)
        if path:
            splits[name] = _non_empty(read_documents(path, data.format), path, name)
    if not splits["train"]:
        raise BionerError("no training documents: set data.corpus or data.train")
    if not splits["dev"] and data.dev_fraction:
        splits["train"], splits["dev"] = hold_out(
            splits["train"], data.dev_fraction, data.split_seed
        )
    tokenizer = make_tokenizer(data.tokenizer)
    result = {
        name: relabel(ensure_tokenized(docs, tokenizer), data.label_map, data.labels)
        for name, docs in splits.items()
    }
    _warn_untrained_types(result)
    return Splits(**result)


def _warn_untrained_types(splits: dict[str, list[Document]]) -> None:
    """Say when dev or test hold types that train lacks: the model cannot learn them, so
    their mentions only ever count as misses (a renamed type, a missing --map)."""
    trained = {span.label for document in splits["train"] for span in document.spans}
    for name in ("dev", "test"):
        counts = Counter(
            span.label
            for document in splits[name]
            for span in document.spans
            if span.label not in trained
        )
        if counts:
            listed = ", ".join(f"{label} ({count})" for label, count in sorted(counts.items()))
            log.warning(
                "the %s split has mentions of types the training split lacks, which the "
                "model cannot learn and which count as misses: %s",
                name,
                listed,
            )


def _non_empty(documents: Iterable[Document], path: object, split: str) -> list[Document]:
    """The split's documents; an empty file is an error naming it, not a missing split
    (an empty test file would otherwise skip scoring without a word)."""
    found = list(documents)
    if not found:
        raise BionerError(f"{path}: the {split} split holds no documents (empty file?)")
    return found


def ensure_tokenized(documents: Sequence[Document], tokenizer: Tokenizer) -> list[Document]:
    """Documents read from raw-text formats (PubTator, BioC, BRAT) get sentences and tokens.

    Passage ends are forced sentence breaks, so a title never runs into its abstract.
    """
    out: list[Document] = []
    for document in documents:
        if not document.sentences:
            breaks = [p.end for p in document.passages]
            document.sentences = tokenizer.tokenize(document.text, boundaries=breaks)
        out.append(document)
    return out
