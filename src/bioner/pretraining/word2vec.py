"""Train word2vec vectors (skip-gram or CBOW) on streamed, tagger-tokenized text with gensim.

One job: turn the text sources of `text_source` into a word2vec file that
`bioner.models.embeddings.load_word_vectors` reads (Sachan §3.3 and Lyu use skip-gram
word2vec; DeepVar §5.2 compares vector sources). gensim does the training — a faithful,
optimised implementation of Mikolov et al.; nothing here re-implements it.

The stream is tokenized once, into a temporary one-sentence-per-line file beside the output,
and gensim trains from that file (`corpus_file` mode). This reads the text once instead of
once per epoch plus once for the vocabulary (tokenizing runs at ≈ 0.35 M tokens/s on one
core, training far faster), and gensim's file mode runs its workers without the GIL. The
temporary file (≈ 6-7 bytes per token) is deleted afterwards unless `keep_tokens`.

Outputs: the vectors (word2vec text, or binary) written atomically, and `<output>.json` with
the sources, their token counts, the settings, the timings and a nearest-neighbour check.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bioner.data.atomic import atomic_write
from bioner.errors import BionerError
from bioner.pretraining.options import check_option
from bioner.pretraining.text_source import TextSource, TokenStream, write_sentences

DEFAULT_PROBES = ("cancer", "BRCA1", "protein", "insulin", "aspirin")


@dataclass
class Word2VecSettings:
    dim: int = 200
    window: int = 5
    min_count: int = 5
    epochs: int = 5
    skipgram: bool = True
    negative: int = 10
    sample: float = 1e-4
    workers: int = 2
    seed: int = 1
    lowercase: bool = False
    digits: bool = False
    max_tokens: int | None = None
    binary: bool = False
    probes: Sequence[str] = field(default_factory=lambda: list(DEFAULT_PROBES))

    def __post_init__(self) -> None:
        """Refuse nonsense before the text is read: gensim would train nothing with no
        workers and fail with a traceback on a negative seed."""
        for option, value in (
            ("--dim", self.dim),
            ("--window", self.window),
            ("--min-count", self.min_count),
            ("--epochs", self.epochs),
            ("--workers", self.workers),
            ("--max-tokens", self.max_tokens),
        ):
            check_option(option, value, 1)
        check_option("--seed", self.seed, 0, maximum=2**32 - 1)


def metadata_path(output: Path) -> Path:
    """Where the JSON record of a vectors file lives: `<output>.json`."""
    return output.with_name(output.name + ".json")


@dataclass
class Word2VecReport:
    output: Path
    vocabulary: int
    tokens: int
    tokenize_seconds: float
    train_seconds: float
    neighbours: dict[str, list[tuple[str, float]]]
    record: dict[str, Any]


def train_word2vec(
    sources: Sequence[TextSource],
    output: str | Path,
    settings: Word2VecSettings,
    *,
    progress: Callable[[str, int, int | None], None] | None = None,
    keep_tokens: bool = False,
) -> Word2VecReport:
    """Tokenize `sources`, train gensim Word2Vec, write the vectors and their JSON record.

    `progress(stage, done, total)` is called with stage "tokenize" (tokens so far) and
    "train" (epochs done); the CLI draws bars from it.
    """
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    output = Path(output)
    for path in (output, metadata_path(output)):  # refused now, not after hours of training
        if path.is_dir():
            raise BionerError(f"{path} is a folder; give a file name to write")
        if path.exists():
            raise BionerError(f"{path} exists; refusing to overwrite it")
    output.parent.mkdir(parents=True, exist_ok=True)
    stream = TokenStream(
        sources,
        lowercase=settings.lowercase,
        digits=settings.digits,
        max_tokens=settings.max_tokens,
    )
    tokens_path = output.with_name(f".{output.name}.tokens.txt")
    started = time.perf_counter()
    try:
        with open(tokens_path, "w", encoding="utf-8", newline="\n") as handle:

            def sentences():
                seen = 0
                for sentence in stream:
                    seen += len(sentence)
                    if progress is not None and seen % 50_000 < len(sentence):
                        progress("tokenize", seen, settings.max_tokens)
                    yield sentence

            write_sentences(sentences(), handle)
        tokenize_seconds = time.perf_counter() - started
        total = stream.total_tokens
        if progress is not None:
            progress("tokenize", total, total)
        if total == 0:
            raise BionerError("the sources yielded no tokens")

        class _Epochs(CallbackAny2Vec):
            def __init__(self) -> None:
                self.done = 0

            def on_epoch_end(self, model) -> None:
                self.done += 1
                if progress is not None:
                    progress("train", self.done, settings.epochs)

        started = time.perf_counter()
        model = Word2Vec(
            vector_size=settings.dim,
            window=settings.window,
            min_count=settings.min_count,
            sg=1 if settings.skipgram else 0,
            negative=settings.negative,
            sample=settings.sample,
            workers=settings.workers,
            epochs=settings.epochs,
            seed=settings.seed,
        )
        # What `Word2Vec(corpus_file=...)` does, split so that an empty vocabulary is a
        # clear error instead of gensim's RuntimeError from `train`.
        model.build_vocab(corpus_file=str(tokens_path))
        if len(model.wv) == 0:
            raise BionerError(
                f"no word occurs {settings.min_count} times in {total} tokens; lower --min-count"
            )
        model.train(
            corpus_file=str(tokens_path),
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=model.epochs,
            callbacks=[_Epochs()],
        )
        train_seconds = time.perf_counter() - started
    finally:
        if not keep_tokens:
            tokens_path.unlink(missing_ok=True)
    vectors = model.wv
    # gensim writes to a path, so the atomic write is done here: temp file + rename.
    partial = output.with_name(f".{output.name}.partial")
    try:
        vectors.save_word2vec_format(str(partial), binary=settings.binary)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    neighbours = {
        probe: [(w, round(float(s), 4)) for w, s in vectors.most_similar(probe, topn=8)]
        for probe in settings.probes
        if probe in vectors.key_to_index
    }
    record = {
        "kind": "word2vec",
        "vectors": output.name,
        "format": "word2vec-binary" if settings.binary else "word2vec-text",
        "settings": {**asdict(settings), "probes": list(settings.probes)},
        "algorithm": "skip-gram" if settings.skipgram else "CBOW",
        "gensim": _gensim_version(),
        "tokenizer": "bioner.text.Tokenizer (CoNLL training splits: their own tokens)",
        "sources": stream.describe(),
        "tokens": total,
        "vocabulary": len(vectors),
        "tokenize_seconds": round(tokenize_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "neighbours": neighbours,
    }
    with atomic_write(metadata_path(output)) as handle:
        handle.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return Word2VecReport(
        output, len(vectors), total, tokenize_seconds, train_seconds, neighbours, record
    )


def _gensim_version() -> str:
    import gensim

    return str(gensim.__version__)


__all__ = ["Word2VecReport", "Word2VecSettings", "metadata_path", "train_word2vec"]
