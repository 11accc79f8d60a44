"""`bioner train`: train a tagger from a preset or config file, then score it on test.

Several `--corpus` folders train one multi-task model (Saber §2.7): shared embedder and
encoder, one decoder head per corpus named after its folder; a single corpus keeps the head
name `default`.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from bioner.config import ExperimentConfig, load_config
from bioner.data.atomic import atomic_write
from bioner.data.document import Document
from bioner.errors import BionerError

console = Console(stderr=True)


def train_command(
    config: str = typer.Argument(
        ..., help="Preset name (e.g. saber-baseline) or a TOML/JSON file."
    ),
    corpus: list[str] = typer.Option(
        [],
        help="Corpus folder with train/devel/test files; repeat for a multi-task model with "
        "one decoder head per corpus (head name = folder name).",
    ),
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
    init_directions: str = typer.Option(
        "both",
        help="With --init-from: LSTM directions to keep — forward (LM_f), backward (LM_b) or "
        "both (BiLM), Sachan Table 3; `bioner pretrain bilm` makes such a run directory.",
    ),
    label_map: list[str] = typer.Option(
        [], "--label-map", help="Rename an entity type in every corpus, e.g. GGP=GENE."
    ),
    no_dev: bool = typer.Option(
        False,
        "--no-dev",
        help="Refit: train on the training and devel documents together (no hold-out) for "
        "exactly training.epochs epochs and keep the last; choose that count on a dev run first.",
    ),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Train a tagger; the best epoch on dev (with --no-dev, the last) is saved as OUTPUT/model."""
    from bioner.pretraining.bilm_transfer import tagger_from_pretrained
    from bioner.tagger import DEFAULT_HEAD, Tagger
    from bioner.training.data import load_splits
    from bioner.training.evaluation import score_split
    from bioner.training.trainer import Trainer

    experiment = load_config(config, overrides)
    _check_output(output, resume)
    for assignment in label_map:
        source, sep, target = assignment.partition("=")
        if not sep or not source or not target:
            raise BionerError(f"--label-map {assignment!r}: expected SOURCE=TARGET")
        experiment.data.label_map = {**experiment.data.label_map, source: target}
    if no_dev:
        experiment.data.dev_fraction = 0.0
    if len(corpus) > 1:
        train_docs, dev_docs, test_docs = _multitask_splits(
            experiment, corpus, train, dev, test, no_dev=no_dev
        )
    else:
        for name, value in (
            ("corpus", corpus[0] if corpus else None),
            ("train", train),
            ("dev", dev),
            ("test", test),
        ):
            if value is not None:
                setattr(experiment.data, name, value)
        splits = load_splits(experiment.data)
        if not splits.dev and not no_dev:
            raise BionerError(
                "no dev documents: give --dev, a corpus with a devel split, "
                "--set data.dev_fraction=0.1, or refit with --no-dev"
            )
        train_docs = {DEFAULT_HEAD: splits.train + (splits.dev if no_dev else [])}
        dev_docs = {DEFAULT_HEAD: splits.dev}
        test_docs = {DEFAULT_HEAD: splits.test} if splits.test else {}
    if init_from is not None:
        tagger = tagger_from_pretrained(
            init_from,
            experiment,
            train_docs,
            directions=init_directions,  # type: ignore[arg-type]
        )
    else:
        tagger = Tagger.build(experiment, train_docs)
    tagger.meta["corpora"] = (
        {head: corpus[i] for i, head in enumerate(train_docs)}
        if len(corpus) > 1
        else {
            "train": experiment.data.train or experiment.data.corpus,
            "dev": experiment.data.dev or experiment.data.corpus,
        }
    )
    dev_note = (
        "refit, no dev"
        if no_dev
        else f"dev {sum(len(d.sentences) for docs in dev_docs.values() for d in docs)}"
    )
    heads = ", ".join(train_docs)
    console.print(  # names and paths escaped: a `[...]` in them is text, not rich markup
        f"training [bold]{escape(experiment.name)}[/] on "
        f"{_sentences_note(train_docs, experiment.training.max_train_sentences)} "
        f"({dev_note}, heads {escape(heads)}) → {escape(str(output))}"
    )
    trainer = Trainer(
        tagger,
        train_docs,
        None if no_dev else dev_docs,
        output,
        show_progress=not quiet,
        on_epoch=lambda r: console.print(
            f"epoch {r['epoch']:>3}  loss {r['train_loss']:.3f}  "
            + (f"dev F1 {100 * r['dev_f1']:.2f}  " if "dev_f1" in r else "")
            + f"{r['sentences_per_second']:.0f} sent/s"
        ),
    )
    result = trainer.train(resume=resume)
    kept = (
        f"kept the last epoch, {result.best_epoch}"
        if no_dev
        else f"best dev F1 {100 * result.best_dev_f1:.2f} at epoch {result.best_epoch}"
    )
    console.print(
        f"{kept} ({result.stopped_because}); {result.train_sentences_per_second:.0f} sentences/s"
    )
    summary = {
        "config": experiment.name,
        "refit_without_dev": no_dev,
        "best_dev_f1": None if no_dev else result.best_dev_f1,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "train_seconds": result.train_seconds,
        "train_sentences": sum(
            len(d.sentences) for docs in trainer.train_docs.values() for d in docs
        ),
        "train_sentences_per_second": result.train_sentences_per_second,
        "peak_rss_mb": result.peak_rss_mb,
    }
    if test_docs:
        best = Tagger.load(output / "model")
        per_head = {head: score_split(best, docs, head) for head, docs in test_docs.items()}
        if len(corpus) > 1:
            summary["test_per_corpus"] = per_head
        else:
            summary["test"] = per_head[DEFAULT_HEAD]
        for head, scores in per_head.items():
            console.print(
                f"test {'' if head == DEFAULT_HEAD else head + ' '}exact P/R/F1: "
                f"{100 * scores['precision']:.2f} / {100 * scores['recall']:.2f} "
                f"/ {100 * scores['f1']:.2f}"
            )
    with atomic_write(output / "summary.json") as handle:
        handle.write(json.dumps(summary, indent=2))


def _sentences_note(train_docs: dict[str, list[Document]], limit: int | None) -> str:
    """What the run trains on, e.g. "300 of 5424 sentences", as the Trainer will cut it.

    The Trainer keeps the first `training.max_train_sentences` sentences of each head's
    documents; the banner counted them all, so it disagreed with summary.json.
    """
    available = [sum(len(d.sentences) for d in docs) for docs in train_docs.values()]
    used = sum(count if limit is None else min(count, limit) for count in available)
    total = sum(available)
    return f"{used} sentences" if used == total else f"{used} of {total} sentences"


def _check_output(output: Path, resume: bool) -> None:
    """Refuse an unusable --output now, not after minutes of loading and encoding corpora."""
    from bioner.training.checkpoints import checkpoint_exists

    if output.exists() and not output.is_dir():
        raise BionerError(f"{output}: --output must be a folder for the run, not a file")
    holds_run = checkpoint_exists(output / "checkpoint")
    if resume and not holds_run:
        raise BionerError(f"{output / 'checkpoint' / 'last'}: no checkpoint to resume from")
    if holds_run and not resume:
        raise BionerError(
            f"{output} already holds a training run; use --resume or another --output"
        )
    if not resume and (output / "model").exists():  # a run whose checkpoints were removed
        raise BionerError(
            f"{output} already holds a trained model ({output / 'model'}); "
            "choose another --output rather than replace it"
        )


def _multitask_splits(
    experiment: ExperimentConfig,
    corpora: list[str],
    train: str | None,
    dev: str | None,
    test: str | None,
    *,
    no_dev: bool = False,
) -> tuple[dict[str, list[Document]], dict[str, list[Document]], dict[str, list[Document]]]:
    """Train/dev/test documents per head for a multi-task run: one head per corpus folder.

    With `no_dev` each head trains on its training and devel documents together.
    """
    from bioner.training.data import load_splits

    if train or dev or test:
        raise BionerError("--train/--dev/--test apply to one corpus; give folders via --corpus")
    heads = [Path(path).name for path in corpora]
    if len(set(heads)) != len(heads):
        raise BionerError(f"corpus folder names must differ (they name the heads): {heads}")
    train_docs: dict[str, list[Document]] = {}
    dev_docs: dict[str, list[Document]] = {}
    test_docs: dict[str, list[Document]] = {}
    for head, path in zip(heads, corpora, strict=True):
        data = experiment.data.model_copy(update={"corpus": path})
        splits = load_splits(data)
        if not splits.dev and not no_dev:
            raise BionerError(
                f"{path}: no devel split; add --set data.dev_fraction=0.1 to hold one out"
            )
        train_docs[head] = splits.train + (splits.dev if no_dev else [])
        dev_docs[head] = splits.dev
        if splits.test:
            test_docs[head] = splits.test
    return train_docs, dev_docs, test_docs
