"""`bioner train`: train a tagger from a preset or config file, then score it on test."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from bioner.config import load_config
from bioner.data.atomic import atomic_write
from bioner.errors import BionerError

console = Console(stderr=True)


def train_command(
    config: str = typer.Argument(
        ..., help="Preset name (e.g. saber-baseline) or a TOML/JSON file."
    ),
    corpus: str | None = typer.Option(None, help="Corpus folder with train/devel/test files."),
    train: str | None = typer.Option(None, help="Training file (overrides the corpus)."),
    dev: str | None = typer.Option(None, help="Development file."),
    test: str | None = typer.Option(None, help="Test file, scored with the best model."),
    output: Path = typer.Option(Path("runs/model"), "--output", "-o", help="Run directory."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a config value, e.g. --set training.epochs=5."
    ),
    resume: bool = typer.Option(False, help="Continue the run in --output from its checkpoint."),
    init_from: Path | None = typer.Option(
        None, help="Start from a trained model: keep all but the decoder (transfer learning)."
    ),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Train a tagger; the best epoch on dev is saved as OUTPUT/model."""
    from bioner.tagger import Tagger
    from bioner.training.data import load_splits
    from bioner.training.evaluation import score_split
    from bioner.training.trainer import Trainer
    from bioner.training.transfer import tagger_from_source

    experiment = load_config(config, overrides)
    for name, value in (("corpus", corpus), ("train", train), ("dev", dev), ("test", test)):
        if value is not None:
            setattr(experiment.data, name, value)
    splits = load_splits(experiment.data)
    if not splits.dev:
        raise BionerError(
            "no dev documents: give --dev, a corpus with a devel split, or "
            "--set data.dev_fraction=0.1"
        )
    if init_from is not None:
        tagger = tagger_from_source(init_from, experiment, {"default": splits.train})
    else:
        tagger = Tagger.build(experiment, {"default": splits.train})
    tagger.meta["corpora"] = {
        "train": experiment.data.train or experiment.data.corpus,
        "dev": experiment.data.dev or experiment.data.corpus,
    }
    console.print(
        f"training [bold]{experiment.name}[/] on {sum(len(d.sentences) for d in splits.train)} "
        f"sentences (dev {sum(len(d.sentences) for d in splits.dev)}) → {output}"
    )
    trainer = Trainer(
        tagger,
        {"default": splits.train},
        {"default": splits.dev},
        output,
        show_progress=not quiet,
        on_epoch=lambda r: console.print(
            f"epoch {r['epoch']:>3}  loss {r['train_loss']:.3f}  dev F1 "
            f"{100 * r.get('dev_f1', float('nan')):.2f}  {r['sentences_per_second']:.0f} sent/s"
        ),
    )
    result = trainer.train(resume=resume)
    console.print(
        f"best dev F1 {100 * result.best_dev_f1:.2f} at epoch {result.best_epoch} "
        f"({result.stopped_because}); {result.train_sentences_per_second:.0f} sentences/s"
    )
    summary = {
        "config": experiment.name,
        "best_dev_f1": result.best_dev_f1,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "train_seconds": result.train_seconds,
        "train_sentences_per_second": result.train_sentences_per_second,
        "peak_rss_mb": result.peak_rss_mb,
    }
    if splits.test:
        best = Tagger.load(output / "model")
        scores = score_split(best, splits.test)
        summary["test"] = scores
        console.print(
            f"test exact P/R/F1: {100 * scores['precision']:.2f} / {100 * scores['recall']:.2f} "
            f"/ {100 * scores['f1']:.2f}"
        )
    with atomic_write(output / "summary.json") as handle:
        handle.write(json.dumps(summary, indent=2))
