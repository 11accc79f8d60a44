"""`bioner pretrain`: learn from unlabeled text — word2vec vectors, Sachan's BiLM.

Each pretraining method is one function here plus one registration line at the bottom of
this module (`app.command(NAME)(function)`); the sub-app itself is wired in `bioner.cli.app`.
Sources default to the staged unlabeled text plus every corpus's *training* split
(`bioner.pretraining.text_source.default_sources`); devel/test text is never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from bioner.cli.pretrain_charlm import charlm_command
from bioner.errors import BionerError
from bioner.pretraining.progress import progress_bars

if TYPE_CHECKING:
    from bioner.pretraining.bilm import BiLMSettings

app = typer.Typer(
    help="Pretrain from unlabeled text: word vectors and language models.",
    no_args_is_help=True,
)
console = Console(stderr=True)

SOURCES_HELP = (
    "A folder of *.txt.gz documents (one per line) or a corpus folder (its train split only); "
    "repeat for several. Default: the cased folders of $BIONER_SHARED/unlabeled (plus "
    "SumPubMed with --lowercase) and every corpus training split in $BIONER_SHARED/corpora."
)


def _sources(specs: list[str], *, lowercase: bool, training_splits: bool = True):
    from bioner.pretraining.text_source import default_sources, resolve_source

    if specs:
        return [resolve_source(spec) for spec in specs]
    return default_sources(lowercase=lowercase, include_training_splits=training_splits)


def word2vec_command(
    output: Path = typer.Argument(
        ..., help="Vectors file to write (word2vec text or binary); never an existing file."
    ),
    dim: int = typer.Option(200, help="Vector dimension."),
    window: int = typer.Option(5, help="Context window (words each side)."),
    min_count: int = typer.Option(5, help="Ignore words rarer than this."),
    epochs: int = typer.Option(5, help="Passes over the text."),
    skipgram: bool = typer.Option(True, "--sg/--cbow", help="Skip-gram (default) or CBOW."),
    sources: list[str] = typer.Option([], "--sources", help=SOURCES_HELP),
    lowercase: bool = typer.Option(False, help="Lower-case every token (adds SumPubMed)."),
    digits: bool = typer.Option(False, help="Map every digit to 0 (the tagger's option)."),
    max_tokens: int | None = typer.Option(None, help="Stop reading after this many tokens."),
    binary: bool = typer.Option(False, help="Write word2vec binary instead of text."),
    workers: int = typer.Option(2, help="gensim worker threads."),
    seed: int = typer.Option(1, help="gensim seed (runs with workers > 1 still vary)."),
    probe: list[str] = typer.Option(
        [], help="Words whose nearest neighbours are printed (default: cancer, BRCA1, ...)."
    ),
    keep_tokens: bool = typer.Option(False, help="Keep the tokenized text beside the output."),
    quiet: bool = typer.Option(False, help="No progress bars."),
) -> None:
    """Train word2vec (gensim) on tagger-tokenized text; writes OUTPUT and OUTPUT.json."""
    from bioner.pretraining.word2vec import (
        DEFAULT_PROBES,
        Word2VecSettings,
        metadata_path,
        train_word2vec,
    )

    settings = Word2VecSettings(
        dim=dim,
        window=window,
        min_count=min_count,
        epochs=epochs,
        skipgram=skipgram,
        workers=workers,
        seed=seed,
        lowercase=lowercase,
        digits=digits,
        max_tokens=max_tokens,
        binary=binary,
        probes=list(probe) or list(DEFAULT_PROBES),
    )
    chosen = _sources(sources, lowercase=lowercase)
    console.print(f"sources: {', '.join(s.name for s in chosen)}")
    with progress_bars(not quiet, console) as progress:
        report = train_word2vec(
            chosen, output, settings, progress=progress, keep_tokens=keep_tokens
        )
    console.print(
        f"{report.vocabulary} words × {dim} from {report.tokens} tokens "
        f"(tokenize {report.tokenize_seconds:.0f} s, train {report.train_seconds:.0f} s) → "
        f"{output} (+ {metadata_path(output).name})"
    )
    for word, neighbours in report.neighbours.items():
        console.print(f"  {word}: {', '.join(w for w, _ in neighbours)}")


def bilm_command(
    ctx: typer.Context,
    config: str = typer.Argument(..., help="Tagger preset or config file (e.g. sachan-cnn)."),
    output: Path = typer.Argument(..., help="Run directory (resumable)."),
    sources: list[str] = typer.Option([], "--sources", help=SOURCES_HELP),
    overrides: list[str] = typer.Option([], "--set", help="Override a tagger config value."),
    directions: str = typer.Option(
        "both", help="forward (LM_f), backward (LM_b) or both (BiLM), Sachan Table 3."
    ),
    max_tokens: int | None = typer.Option(None, help="Use only this many tokens of text."),
    epochs: int = typer.Option(20, help="Epochs (Sachan §3.3: 20)."),
    max_steps: int | None = typer.Option(None, help="Stop after this many updates."),
    batch_tokens: int = typer.Option(500, help="Words per batch (Sachan §3.3: 500)."),
    max_vocab: int = typer.Option(50_000, help="Input word vocabulary cap (kept by the tagger)."),
    output_vocab: int = typer.Option(20_000, help="Softmax classes (frequent words + 3)."),
    min_count: int = typer.Option(2, help="Words rarer than this map to <unk>."),
    heldout_tokens: int = typer.Option(20_000, help="Held-out text for perplexity."),
    heldout_every: int = typer.Option(20, help="Every N-th document is held out (until full)."),
    eval_every: int = typer.Option(500, help="Steps between held-out evaluations/checkpoints."),
    learning_rate: float = typer.Option(1e-3, help="Adam learning rate."),
    threads: int = typer.Option(1, help="torch CPU threads."),
    device: str = typer.Option("auto", help="auto (CUDA when available), cpu or cuda."),
    seed: int = typer.Option(1),
    resume: bool = typer.Option(
        False,
        help="Continue the run in OUTPUT from its checkpoint, with its own text and settings "
        "(only --epochs, --max-steps, --threads and --device may change).",
    ),
    quiet: bool = typer.Option(False, help="No progress bars."),
) -> None:
    """Train Sachan's BiLM with the tagger's embedder and BiLSTM; best model → OUTPUT/model."""
    from bioner.config import load_config
    from bioner.pretraining.bilm import DIRECTIONS, BiLMSettings, BiLMTrainer

    if directions not in DIRECTIONS:
        raise BionerError(f"--directions must be one of {', '.join(DIRECTIONS)}")
    experiment = load_config(config, overrides)
    settings = BiLMSettings(
        directions=directions,  # type: ignore[arg-type]
        max_tokens=max_tokens,
        epochs=epochs,
        max_steps=max_steps,
        batch_tokens=batch_tokens,
        max_vocab=max_vocab,
        output_vocab=output_vocab,
        min_count=min_count,
        heldout_tokens=heldout_tokens,
        heldout_every=heldout_every,
        eval_every=eval_every,
        learning_rate=learning_rate,
        threads=threads,
        seed=seed,
        device=device,
    )
    word = experiment.model.embedder.word
    if resume:
        _refuse_changed_settings(ctx, output, settings, sources)
    chosen = [] if resume else _sources(sources, lowercase=word.lowercase)
    if chosen:
        console.print(f"sources: {', '.join(s.name for s in chosen)}")
    with progress_bars(not quiet, console) as progress:
        trainer = BiLMTrainer(
            experiment, output, settings, chosen, progress=progress, log=console.print
        )
        result = trainer.train(resume=resume)
    summary = {
        "steps": result.steps,
        "epochs_completed": result.epochs_completed,
        "train_tokens_seen": result.train_tokens_seen,
        "train_seconds": round(result.train_seconds, 1),
        "tokens_per_second": round(result.tokens_per_second, 1),
        "initial_perplexity": result.initial_perplexity,
        "best_perplexity": result.best_perplexity,
        "stopped_because": result.stopped_because,
    }
    console.print(json.dumps(summary))
    console.print(
        f"transfer: bioner train {config} --corpus CORPUS --init-from {output} "
        f"--init-directions {directions}"
    )


def _refuse_changed_settings(
    ctx: typer.Context, output: Path, settings: BiLMSettings, sources: list[str]
) -> None:
    """A resumed BiLM run keeps its own settings and text: an option given now with another
    value (or --sources) would be silently ignored, so it is refused instead."""
    from dataclasses import asdict

    from bioner.pretraining.bilm import MARKER, RESUME_SETTINGS, read_run

    if not (output / MARKER).is_file():
        return  # the trainer reports that there is nothing to resume
    _, _, saved = read_run(output)
    changed = [
        f"--{name.replace('_', '-')} {value} (the run's: {getattr(saved, name)})"
        for name, value in asdict(settings).items()
        if name not in RESUME_SETTINGS and _given(ctx, name) and value != getattr(saved, name)
    ]
    if sources:
        changed.append("--sources (the run trains on the text it prepared)")
    if changed:
        raise BionerError(
            f"{output}: --resume continues the run with its own settings; leave out "
            + "; ".join(changed)
        )


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was typed on the command line (not left at its default).
    Compared by name: typer bundles its own copy of click's `ParameterSource`."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


app.command("word2vec")(word2vec_command)
app.command("bilm")(bilm_command)
app.command("charlm")(charlm_command)
