"""`bioner tune`: Optuna hyperparameter search over a TOML space, pruned on dev F1, resumable."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def tune_command(
    config: str = typer.Argument(..., help="Preset name or config file to start from."),
    corpus: str = typer.Option(..., help="Corpus folder: trains on train, scores on devel."),
    space: Path = typer.Option(
        ..., help="Search-space TOML (e.g. configs/search/deepvar-table4.toml)."
    ),
    trials: int = typer.Option(20, min=1, help="Finished trials wanted in the study."),
    storage: Path = typer.Option(Path("study.sqlite"), help="SQLite file of the study."),
    study_name: str = typer.Option("bioner", help="Study name inside the storage."),
    output: Path = typer.Option(
        Path("runs/tune"), "--output", "-o", help="Folder for best_params.json/best_config.json."
    ),
    overrides: list[str] = typer.Option([], "--set", help="Fixed config overrides."),
    epochs: int | None = typer.Option(None, min=1, help="Epochs per trial (shrink for a CPU)."),
    max_train_sentences: int | None = typer.Option(None, min=1, help="First N training sentences."),
    max_dev_sentences: int | None = typer.Option(None, min=1, help="First N dev sentences."),
    seed: int = typer.Option(0, help="Sampler and training seed."),
    startup_trials: int = typer.Option(
        5, min=0, help="Trials before pruning starts (MedianPruner)."
    ),
    warmup_epochs: int = typer.Option(1, min=0, help="Epochs of a trial before it may be pruned."),
    threads: int | None = typer.Option(None, min=1, help="torch CPU threads."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    init_from: Path | None = typer.Option(
        None, help="Start every trial from a trained model or BiLM run (as `bioner train`)."
    ),
    init_directions: str = typer.Option(
        "both", help="With --init-from: LSTM directions to keep — forward, backward or both."
    ),
) -> None:
    """Search hyperparameters with Optuna; rerun the same command to continue the study."""
    from bioner.cli.app import TerminatedError
    from bioner.experiments.tune import TuneSettings, run_study

    _check_paths(storage, output)
    summary = run_study(
        TuneSettings(
            config=config,
            corpus=corpus,
            space=str(space),
            trials=trials,
            storage=storage,
            output=output,
            study_name=study_name,
            overrides=list(overrides),
            epochs=epochs,
            max_train_sentences=max_train_sentences,
            max_dev_sentences=max_dev_sentences,
            seed=seed,
            startup_trials=startup_trials,
            warmup_epochs=warmup_epochs,
            threads=threads,
            quiet=quiet,
            init_from=str(init_from) if init_from else None,
            init_directions=init_directions,
        ),
        interrupts=(KeyboardInterrupt, TerminatedError),
    )
    console.print(
        f"best dev F1 {100 * summary['best_dev_f1']:.2f} (trial {summary['best_trial']}; "
        f"{summary['trials']}) → {output / 'best_params.json'}, {output / 'best_config.json'}"
    )


_SQLITE_HEADER = b"SQLite format 3\x00"


def _check_paths(storage: Path, output: Path) -> None:
    """Refuse a --storage that is not an Optuna SQLite file (it failed deep inside SQLAlchemy
    with a traceback, or got Optuna's tables added) and an --output that is a file, before
    any trial starts."""
    from bioner.errors import BionerError

    if output.exists() and not output.is_dir():
        raise BionerError(f"{output}: --output must be a folder, not a file")
    if storage.is_dir():
        raise BionerError(f"{storage}: --storage must be an SQLite file, not a folder")
    if storage.is_file() and storage.stat().st_size > 0:  # SQLite takes an empty file as new
        with open(storage, "rb") as stream:
            if stream.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                raise BionerError(
                    f"{storage}: not an SQLite database; give --storage a new file name "
                    "or the study file of an earlier run"
                )
        tables = _sqlite_tables(storage)
        if tables is None:
            raise BionerError(f"{storage}: a damaged SQLite database; cannot read its tables")
        if tables and "studies" not in tables:  # Optuna would add its tables to it
            raise BionerError(
                f"{storage}: an SQLite database but not an Optuna study file; give --storage "
                "a new file name or the study file of an earlier run"
            )


def _sqlite_tables(path: Path) -> set[str] | None:
    """The table names of an SQLite file, opened read-only; None if it cannot be read."""
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error:
        return None
    return {name for (name,) in rows}
