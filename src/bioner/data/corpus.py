"""A corpus folder as train / devel / test splits of Documents, and their counts.

The staged corpora name their split files in several ways (`train.tsv`, `devel.tsv`;
`train.PubTator.txt`, `test.PubTator.txt` — tmVar has no devel; `CDR_TrainingSet…`,
`NCBIdevelopset…`). A file belongs to a split when its name contains one of the split's
keywords; only the folder itself is searched (not `original/` or `BioC/` below it), and files
whose format cannot be told from their name (README, LICENSE, SOURCE.md) are ignored. A
BRAT corpus is one folder of .ann/.txt pairs (one split) or has one such sub-folder per split
(`train/`, `dev/`, `test/`), as BRAT corpora are usually distributed.
A missing split is simply absent; two files for one split is an error.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioner.data.atomic import PathLike
from bioner.data.document import Document, Span
from bioner.data.formats import guess_format, read_documents
from bioner.data.formats.conll import count_conll
from bioner.data.formats.extras import fragments_of
from bioner.errors import BionerError

SPLITS: tuple[str, ...] = ("train", "devel", "test")

# Checked in this order: "devel" first, as no devel keyword contains "train" or "test".
_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("devel", re.compile(r"dev|valid", re.IGNORECASE)),
    ("train", re.compile(r"train", re.IGNORECASE)),
    ("test", re.compile(r"test", re.IGNORECASE)),
)
_CORPUS_SUFFIXES = (
    ".tsv",
    ".conll",
    ".iob",
    ".iob2",
    ".bio",
    ".bioes",
    ".txt",
    ".pubtator",
    ".xml",
    ".json",
    ".jsonl",
)


def split_of(name: str) -> str | None:
    """The split a file name belongs to (`train`, `devel`, `test`), or None."""
    for split, pattern in _KEYWORDS:
        if pattern.search(name):
            return split
    return None


def _is_corpus_file(path: Path) -> bool:
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return path.is_file() and not name.startswith(".") and name.endswith(_CORPUS_SUFFIXES)


@dataclass
class Corpus:
    """Split name → file; `documents(split)` reads that file lazily."""

    path: Path
    files: dict[str, Path] = field(default_factory=dict)
    fmt: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def splits(self) -> list[str]:
        """Split names present, in train / devel / test order (others after)."""
        order = {name: index for index, name in enumerate(SPLITS)}
        return sorted(self.files, key=lambda s: (order.get(s, len(order)), s))

    def documents(self, split: str) -> Iterator[Document]:
        if split not in self.files:
            raise BionerError(f"{self.path}: no {split} split (has: {', '.join(self.splits)})")
        return read_documents(self.files[split], self.fmt, **self.options)

    def __iter__(self) -> Iterator[tuple[str, Iterator[Document]]]:
        for split in self.splits:
            yield split, self.documents(split)


def _is_brat_split(path: Path) -> bool:
    """A sub-folder of .ann/.txt pairs: BRAT corpora ship one folder per split."""
    return path.is_dir() and not path.name.startswith(".") and any(path.glob("*.ann"))


def load_corpus(path: PathLike, fmt: str | None = None, **options: Any) -> Corpus:
    """A Corpus from a folder of split files, or from one file (one split, named by its
    keyword or `all`). A BRAT folder is one split too: its `.ann` files are documents."""
    source = Path(path)
    if not source.exists():
        raise BionerError(f"{path}: no such file or folder")
    if source.is_file() or guess_format_safe(source) == "brat":
        split = split_of(source.name) or "all"
        return Corpus(source, {split: source}, fmt, options)
    files: dict[str, Path] = {}
    for candidate in sorted(source.iterdir()):
        split = split_of(candidate.name)
        if split is None or not (_is_corpus_file(candidate) or _is_brat_split(candidate)):
            continue
        if split in files:
            raise BionerError(
                f"{path}: two files for the {split} split: {files[split].name}, {candidate.name}"
            )
        files[split] = candidate
    if not files:
        raise BionerError(
            f"{path}: no split files found (names containing train / dev / test, "
            "e.g. train.tsv, devel.tsv, test.tsv, or BRAT folders train/, devel/, test/)"
        )
    return Corpus(source, files, fmt, options)


def guess_format_safe(path: Path) -> str | None:
    """The guessed format of a folder, or None when it is not a BRAT folder."""
    try:
        return guess_format(path)
    except BionerError:
        return None


@dataclass
class SplitStats:
    """What `bioner corpus stats` reports for one split."""

    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    mentions: Counter[str] = field(default_factory=Counter)
    #: Mentions that overlap another (nested, crossing, or the same text with two types) and
    #: discontinuous ones: BIO/BIOES tags cannot hold them all (0 in CoNLL by construction).
    overlapping: int = 0
    discontinuous: int = 0

    @property
    def total_mentions(self) -> int:
        return sum(self.mentions.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "mentions": dict(sorted(self.mentions.items())),
            "total_mentions": self.total_mentions,
            "overlapping_mentions": self.overlapping,
            "discontinuous_mentions": self.discontinuous,
        }


def split_stats(documents: Iterable[Document]) -> SplitStats:
    """Count documents, sentences, tokens and mentions per type (one pass, streaming)."""
    stats = SplitStats()
    for document in documents:
        stats.documents += 1
        stats.sentences += len(document.sentences)
        stats.tokens += sum(len(sentence) for sentence in document.sentences)
        stats.mentions.update(span.label for span in document.spans)
        stats.overlapping += overlapping_mentions(document.spans)
        stats.discontinuous += sum(len(fragments_of(span)) > 1 for span in document.spans)
    return stats


def overlapping_mentions(spans: Sequence[Span]) -> int:
    """How many of the spans overlap at least one other (a sweep over starts, with the spans
    still open in a heap by end)."""
    marked: set[int] = set()
    open_spans: list[tuple[int, int]] = []  # (end, index)
    for index, span in sorted(enumerate(spans), key=lambda item: item[1].start):
        while open_spans and open_spans[0][0] <= span.start:
            heapq.heappop(open_spans)
        if open_spans:
            marked.add(index)
            marked.update(other for _, other in open_spans)
        heapq.heappush(open_spans, (span.end, index))
    return len(marked)


def file_stats(path: PathLike, fmt: str | None = None, **options: Any) -> SplitStats:
    """Counts for one file; CoNLL is counted from its tags directly (same rules, faster)."""
    if (fmt or guess_format(path)) == "conll":
        documents, sentences, tokens, mentions = count_conll(path, **options)
        return SplitStats(documents, sentences, tokens, mentions)
    return split_stats(read_documents(path, fmt, **options))


def corpus_stats(corpus: Corpus) -> dict[str, SplitStats]:
    """Split name → its counts, in split order."""
    return {
        split: file_stats(corpus.files[split], corpus.fmt, **corpus.options)
        for split in corpus.splits
    }
