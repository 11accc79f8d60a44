"""Streams tokenized sentences from unlabeled text and from corpora *training* splits.

One job: feed pretraining (word2vec, language models) the same tokens the tagger will see,
without ever loading a whole source into memory and without ever touching devel/test text.

* `UnlabeledSource`: a folder of gzip files, one document per line (`../shared/unlabeled/*`).
  Each line is tokenized by `bioner.text.Tokenizer` — the tokenizer the tagger uses on raw
  text. SumPubMed replaced every digit run by the literal `<dig>`, which the tokenizer would
  cut into `< dig >`; it is mapped to `0` first (a one-digit number, which is what digit
  normalisation turns any digit into).
* `TrainingSplitSource`: a corpus folder; only the file that `bioner.data.corpus` assigns to
  the `train` split is read (CoNLL tokens are used as they are, exactly as the tagger reads
  them; raw-text formats such as PubTator are tokenized like `training.data.ensure_tokenized`).
* `TokenStream`: a restartable iterable of sentences (lists of tokens) over several sources,
  with lower-casing / digit normalisation (`normalize_word`, the tagger's own rule) and an
  optional token budget. Sources are interleaved by tokens — the source that has emitted the
  fewest tokens so far gives the next document — so a `max_tokens` slice draws evenly from
  every source instead of exhausting the first one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bioner.data.corpus import load_corpus, split_of
from bioner.data.formats.textio import open_input, reading
from bioner.errors import BionerError, InputFormatError
from bioner.models.embeddings.word_vectors import normalize_word
from bioner.text import Tokenizer

#: Unlabeled folders whose text is lower-cased (their README/SOURCE.md says so).
LOWERCASED_SOURCES = frozenset({"SumPubMed"})
#: Placeholder SumPubMed wrote for every digit run.
DIGIT_PLACEHOLDER = "<dig>"

Sentence = list[str]


class TextSource(Protocol):
    """Anything that yields documents as lists of tokenized sentences, restartably."""

    name: str
    cased: bool

    def documents(self) -> Iterator[list[Sentence]]: ...


def shared_root() -> Path:
    """`$BIONER_SHARED`, else `../shared` (where the staged data lives beside the repo)."""
    return Path(os.environ.get("BIONER_SHARED", "../shared"))


@dataclass
class UnlabeledSource:
    """A folder of `*.txt.gz` files, one document per line, read in file-name order."""

    path: Path
    tokenizer: Tokenizer = field(default_factory=Tokenizer, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.files():
            raise BionerError(f"{self.path}: no *.txt.gz files (one document per line)")

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def cased(self) -> bool:
        return self.name not in LOWERCASED_SOURCES

    def files(self) -> list[Path]:
        return sorted(self.path.glob("*.txt.gz")) if self.path.is_dir() else []

    def lines(self) -> Iterator[str]:
        """Raw document lines (no tokenization): cheap to skip through.

        Bytes that are not UTF-8, a damaged gzip file and a file without a single document
        are errors naming the file (and line): pretraining on replacement characters, or on
        less text than the user gave, would go unnoticed.
        """
        for file in self.files():
            documents = 0
            with reading(file), open_input(file) as stream:
                for line in stream:
                    line = line.strip()
                    if line:
                        documents += 1
                        yield line
            if not documents:
                raise InputFormatError(file, None, "no documents (the file is empty or blank)")

    def documents(self) -> Iterator[list[Sentence]]:
        for line in self.lines():
            if DIGIT_PLACEHOLDER in line:
                line = line.replace(DIGIT_PLACEHOLDER, "0")
            yield [s.words for s in self.tokenizer.tokenize(line) if s.tokens]


@dataclass
class TrainingSplitSource:
    """The training split of a corpus folder — never its devel or test file."""

    path: Path
    tokenizer: Tokenizer = field(default_factory=Tokenizer, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        corpus = load_corpus(self.path)
        if "train" not in corpus.files:
            raise BionerError(f"{self.path}: no training split (has: {', '.join(corpus.splits)})")
        self.file = corpus.files["train"]
        if split_of(self.file.name) != "train":  # defensive: only a train-named file
            raise BionerError(f"{self.file}: not a training-split file")

    @property
    def name(self) -> str:
        return f"{self.path.name}:train"

    @property
    def cased(self) -> bool:
        return True

    def documents(self) -> Iterator[list[Sentence]]:
        from bioner.training.data import ensure_tokenized

        sentences = 0
        for document in load_corpus(self.file).documents("train"):
            if not document.sentences:
                document = ensure_tokenized([document], self.tokenizer)[0]
            words = [s.words for s in document.sentences if s.tokens]
            sentences += len(words)
            yield words
        if not sentences:  # an empty split must not vanish silently from the text
            raise InputFormatError(self.file, None, "no sentences in the training split")


def _has_split_files(folder: Path) -> bool:
    try:
        return "train" in load_corpus(folder).files
    except BionerError:
        return False


def corpus_folders(corpora_root: Path) -> list[Path]:
    """Corpus folders with a training split: top level and one level down (extra-MTL/*).

    Single-type *views* (`BC5CDR-chem` beside `BC5CDR`, `CRAFT-cell` beside `CRAFT`) hold the
    same sentences as their combined corpus and are skipped, so no text is counted twice.
    """
    found: list[Path] = []
    if not corpora_root.is_dir():
        return found
    for folder in sorted(p for p in corpora_root.iterdir() if p.is_dir()):
        candidates = [folder] if _has_split_files(folder) else sorted(folder.iterdir())
        for candidate in candidates:
            if not candidate.is_dir() or not _has_split_files(candidate):
                continue
            base, dash, _ = candidate.name.partition("-")
            if (
                dash
                and (candidate.parent / base).is_dir()
                and _has_split_files(candidate.parent / base)
            ):
                continue
            found.append(candidate)
    return found


def default_sources(
    *,
    lowercase: bool,
    unlabeled_root: Path | None = None,
    corpora_root: Path | None = None,
    include_training_splits: bool = True,
) -> list[TextSource]:
    """Cased unlabeled folders + every corpus training split; lower-cased folders
    (SumPubMed) only when the output is lower-cased anyway (`../shared/unlabeled/README.md`)."""
    root = shared_root()
    unlabeled_root = unlabeled_root or root / "unlabeled"
    corpora_root = corpora_root or root / "corpora"
    sources: list[TextSource] = []
    if unlabeled_root.is_dir():
        for folder in sorted(p for p in unlabeled_root.iterdir() if p.is_dir()):
            if not any(folder.glob("*.txt.gz")):
                continue
            if folder.name in LOWERCASED_SOURCES and not lowercase:
                continue
            sources.append(UnlabeledSource(folder))
    if include_training_splits:
        sources.extend(TrainingSplitSource(folder) for folder in corpus_folders(corpora_root))
    if not sources:
        raise BionerError(
            f"no text sources found under {unlabeled_root} or {corpora_root} "
            "(set BIONER_SHARED or pass --sources)"
        )
    return sources


def resolve_source(spec: str) -> TextSource:
    """A source from a path: a folder of `*.txt.gz` (unlabeled) or a corpus folder (train split)."""
    path = Path(spec)
    if not path.exists():
        raise BionerError(f"{spec}: no such source folder")
    if path.is_dir() and any(path.glob("*.txt.gz")):
        return UnlabeledSource(path)
    if path.is_dir() and _has_split_files(path):
        return TrainingSplitSource(path)
    raise BionerError(
        f"{spec}: neither a folder of *.txt.gz documents nor a corpus folder with a train split"
    )


@dataclass
class SourceCount:
    documents: int = 0
    sentences: int = 0
    tokens: int = 0


class TokenStream:
    """Restartable iterable of normalised sentences from several sources (see module doc).

    Every iteration starts from the beginning and refreshes `counts` (per source name).
    """

    def __init__(
        self,
        sources: Sequence[TextSource],
        *,
        lowercase: bool = False,
        digits: bool = False,
        max_tokens: int | None = None,
    ) -> None:
        if not sources:
            raise BionerError("no text sources")
        if max_tokens is not None and max_tokens < 1:
            raise BionerError(f"max_tokens must be positive, got {max_tokens}")
        self.sources = list(sources)
        self.lowercase = lowercase
        self.digits = digits
        self.max_tokens = max_tokens
        self.counts: dict[str, SourceCount] = {}

    @property
    def total_tokens(self) -> int:
        return sum(c.tokens for c in self.counts.values())

    def documents(self) -> Iterator[tuple[str, list[Sentence]]]:
        """(source name, normalised sentences) per document, interleaved by tokens."""
        self.counts = {source.name: SourceCount() for source in self.sources}
        live = {source.name: source.documents() for source in self.sources}
        budget = self.max_tokens
        emitted = 0
        while live:
            name = min(live, key=lambda n: (self.counts[n].tokens, n))
            document = next(live[name], None)
            if document is None:
                del live[name]
                continue
            normalised: list[Sentence] = []
            for sentence in document:
                if budget is not None and emitted >= budget:
                    break
                if budget is not None and emitted + len(sentence) > budget:
                    sentence = sentence[: budget - emitted]
                if self.lowercase or self.digits:
                    sentence = [normalize_word(w, self.lowercase, self.digits) for w in sentence]
                normalised.append(sentence)
                emitted += len(sentence)
            if normalised:
                count = self.counts[name]
                count.documents += 1
                count.sentences += len(normalised)
                count.tokens += sum(len(s) for s in normalised)
                yield name, normalised
            if budget is not None and emitted >= budget:
                return

    def __iter__(self) -> Iterator[Sentence]:
        for _, sentences in self.documents():
            yield from sentences

    def describe(self) -> list[dict[str, object]]:
        """Per-source record for the JSON written beside pretrained files."""
        out: list[dict[str, object]] = []
        for source in self.sources:
            count = self.counts.get(source.name, SourceCount())
            out.append(
                {
                    "name": source.name,
                    "path": str(getattr(source, "file", getattr(source, "path", ""))),
                    "kind": "training split"
                    if isinstance(source, TrainingSplitSource)
                    else "unlabeled",
                    "cased": source.cased,
                    "documents": count.documents,
                    "sentences": count.sentences,
                    "tokens": count.tokens,
                }
            )
        return out


def write_sentences(sentences: Iterator[Sentence], stream) -> int:
    """One sentence per line, tokens separated by one space (tokens never contain spaces)."""
    written = 0
    for sentence in sentences:
        stream.write(" ".join(sentence))
        stream.write("\n")
        written += 1
    return written


def read_sentences(path: Path, *, skip: int = 0) -> Iterator[Sentence]:
    """Sentences of a file written by `write_sentences`, from line `skip` on."""
    with open(path, encoding="utf-8") as stream:
        for index, line in enumerate(stream):
            if index < skip:
                continue
            tokens = line.split()
            if tokens:
                yield tokens
