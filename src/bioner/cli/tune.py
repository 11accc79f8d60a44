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
    epochs: int | None = typer.Option(None, help="Epochs per trial (shrink for a CPU)."),
    max_train_sentences: int | None = typer.Option(None, help="First N training sentences."),
    max_dev_sentences: int | None = typer.Option(None, help="First N dev sentences."),
    seed: int = typer.Option(0, help="Sampler and training seed."),
    startup_trials: int = typer.Option(5, help="Trials before pruning starts (MedianPruner)."),
    warmup_epochs: int = typer.Option(1, help="Epochs of a trial before it may be pruned."),
    threads: int | None = typer.Option(None, help="torch CPU threads."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    init_from: Path | None = typer.Option(
        None, help="Start every trial from a trained model or BiLM run (as `bioner train`)."
    ),
    init_directions: str = typer.Option(
        "both", help="With --init-from: LSTM directions to keep — forward, backward or both."
    ),
) -> None:
    """Search hyperparameters with Optuna; rerun the same command to continue the study."""
    from bioner.experiments.tune import TuneSettings, run_study

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
        )
    )
    console.print(
        f"best dev F1 {100 * summary['best_dev_f1']:.2f} (trial {summary['best_trial']}; "
        f"{summary['trials']}) → {output / 'best_params.json'}, {output / 'best_config.json'}"
    )
