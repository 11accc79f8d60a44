"""`bioner pretrain charlm`: train a forward or backward character LM for contextual string
embeddings (`bioner.pretraining.charlm`), with held-out bits per character."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from bioner.errors import BionerError

console = Console(stderr=True)


def charlm_command(
    output: Path = typer.Argument(..., help="Run folder; the LM is OUTPUT/lm.safetensors."),
    direction: str = typer.Option("forward", help="forward, or backward (reads text reversed)."),
    sources: list[str] = typer.Option(
        [],
        "--sources",
        help="Folder of one-document-per-line *.txt.gz, or a corpus folder (its training split "
        "only). Repeat for several; default: the cased folders of $BIONER_SHARED/unlabeled "
        "and every corpus training split in $BIONER_SHARED/corpora.",
    ),
    hidden: int = typer.Option(512, help="LSTM units (Akbik et al.: 2048)."),
    layers: int = typer.Option(1, help="LSTM layers."),
    embedding_dim: int = typer.Option(100, help="Character embedding size."),
    seq_len: int = typer.Option(250, help="Truncated-BPTT length in characters."),
    batch: int = typer.Option(32, help="Parallel rows of the character stream."),
    epochs: int = typer.Option(1, help="Passes over the training text."),
    max_steps: int | None = typer.Option(None, help="Stop after N updates (resumable)."),
    max_minutes: float | None = typer.Option(
        None, help="Stop after this many minutes of training (resumable; e.g. a GPU lease)."
    ),
    max_chars: int = typer.Option(2_000_000, help="Training characters to read."),
    heldout_chars: int = typer.Option(100_000, help="Characters per held-out split."),
    heldout_fraction: float = typer.Option(
        0.01, help="Share of documents held out (half validation, half test), by text hash."
    ),
    optimizer: str = typer.Option("sgd", help="sgd (Akbik et al.: lr 20, annealed) or adam."),
    lr: float | None = typer.Option(None, help="Learning rate (default: sgd 20, adam 0.002)."),
    dropout: float = typer.Option(0.1, help="Dropout on char embeddings and LSTM output."),
    raw: bool = typer.Option(False, help="Train on raw text instead of space-joined tokens."),
    eval_every: int = typer.Option(0, help="Validate every N updates (0: once per epoch)."),
    checkpoint_every: int = typer.Option(50, help="Checkpoint every N updates."),
    seed: int = typer.Option(42),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    threads: int | None = typer.Option(None, help="torch CPU threads."),
    prepare: bool = typer.Option(
        False,
        "--prepare",
        help="Only read and tokenize the sources into OUTPUT (xz text + stats.json), so an LM "
        "can train on exactly that text elsewhere, e.g. on a GPU machine without the data.",
    ),
    text: Path | None = typer.Option(
        None, help="Train on text written by --prepare instead of reading --sources."
    ),
    resume: bool = typer.Option(False, help="Continue the run in OUTPUT from its checkpoint."),
    quiet: bool = typer.Option(False, help="No progress bars."),
) -> None:
    """Train a character-level LSTM LM; writes OUTPUT/metrics.json with held-out BPC."""
    from bioner.pretraining.charlm import (
        SPLIT_FILES,
        SPLIT_STATS,
        CharLMTrainingConfig,
        read_training_text,
        train_charlm,
        write_text_splits,
    )
    from bioner.pretraining.progress import progress_bars
    from bioner.training.config import format_validation_error

    if output.exists() and not output.is_dir():
        raise BionerError(f"{output}: OUTPUT must be a folder for the run, not a file")
    if text is not None and (prepare or sources):
        raise BionerError("--text trains on prepared text: give it without --prepare/--sources")
    if not sources and text is None:
        sources = _default_cased_sources()
    try:
        config = CharLMTrainingConfig(
            direction=direction,
            hidden=hidden,
            layers=layers,
            embedding_dim=embedding_dim,
            seq_len=seq_len,
            batch_size=batch,
            epochs=epochs,
            max_steps=max_steps,
            max_minutes=max_minutes,
            max_chars=max_chars,
            heldout_chars=heldout_chars,
            heldout_fraction=heldout_fraction,
            optimizer=optimizer,
            learning_rate=lr,
            dropout=dropout,
            tokenized=not raw,
            eval_every=eval_every,
            checkpoint_every=checkpoint_every,
            seed=seed,
            device=device,
            num_threads=threads,
            sources=sources,
            prepared_text=None if text is None else str(text),
        )
    except ValidationError as error:
        raise BionerError(
            format_validation_error(error, "pretrain charlm", model=CharLMTrainingConfig)
        ) from None
    if prepare:
        taken = [output / name for name in (*SPLIT_FILES.values(), SPLIT_STATS)]
        if any(path.exists() for path in taken):
            raise BionerError(f"{output} holds prepared text already; choose another folder")
        console.print(f"reading {', '.join(sources)} → {output}")
        with progress_bars(not quiet, console) as progress:
            splits = read_training_text(config, progress)
            write_text_splits(splits, output, progress)
        stats = splits.stats
        console.print(
            f"{stats['train_chars']:,} training characters, {stats['valid_chars']:,} + "
            f"{stats['test_chars']:,} held out → {output}; train with --text {output}"
        )
        return
    console.print(f"{direction} character LM ← {text or ', '.join(sources)} → {output}")
    summary = train_charlm(
        config,
        output,
        resume=resume,
        show_progress=not quiet,
        log=lambda r: console.print(
            f"step {r['step']:>6}  valid bpc {r['valid_bpc']:.4f}  lr {r['learning_rate']:g}"
        ),
    )
    console.print(
        f"held-out bits/char: valid {summary['valid_bpc']:.4f}, test {summary['test_bpc']:.4f} "
        f"({summary['steps']} updates, {summary['train_seconds']:.0f} s) → {output}/lm.safetensors"
    )


def _default_cased_sources() -> list[str]:
    """Cased unlabeled folders plus every corpus training split (as `pretrain word2vec`);
    SumPubMed is lower-cased (`../shared/unlabeled/README.md`), so a cased LM skips it."""
    from bioner.pretraining.text_source import default_sources

    return [str(source.path) for source in default_sources(lowercase=False)]  # type: ignore[attr-defined]
