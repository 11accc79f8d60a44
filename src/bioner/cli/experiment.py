"""`bioner experiment cv|ooc`: repeated in-corpus CV and out-of-corpus runs with tables and plots.

Both commands write into OUTPUT: `runs/<id>.json` as each run finishes (a rerun skips those),
then `results.json` (all runs, mean ± sd, the comparison with `--baseline`), `table.md` and
`violin.png`. Method variants are chosen the way Saber varies them: a preset (saber-baseline,
saber-vd), `--init-from` a source model (transfer learning), `--partner` corpora (multi-task).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from bioner.data.atomic import atomic_write

if TYPE_CHECKING:
    from bioner.experiments.runner import ModelSettings, RunJob

console = Console(stderr=True)
app = typer.Typer(
    help="Generalization experiments: in-corpus k-fold CV and out-of-corpus evaluation.",
    no_args_is_help=True,
)

_SEEDS = typer.Option("1,2,3", help="Comma-separated seeds; one run per seed (and fold).")
_PARTNER = typer.Option([], "--partner", help="Multi-task partner corpus (repeatable).")
_INIT = typer.Option(None, help="Transfer learning: start every run from this model.")
_MAP = typer.Option([], "--map", help="Rename an entity type, e.g. GGP=GENE (repeatable).")
_TYPES = typer.Option([], "--types", help="Keep only these entity types (after --map).")
_EPOCHS = typer.Option(None, min=1, help="Override training.epochs (shrink for a CPU).")
_MAX_TRAIN = typer.Option(None, min=1, help="Train on the first N sentences per corpus only.")
_MAX_EVAL = typer.Option(
    None,
    min=1,
    help="Use only the first N dev and test sentences (CPU smoke runs; not comparable).",
)
_SET = typer.Option([], "--set", help="Override a config value, e.g. training.batch_size=16.")
_BASELINE = typer.Option(None, help="results.json of a baseline run set: t-test against it.")
_NAME = typer.Option(None, help="Method name in tables and plots (default: the config name).")
_THREADS = typer.Option(None, min=1, help="torch CPU threads per run.")
_KEEP = typer.Option(False, help="Keep each run's model and checkpoints (default: deleted).")
_QUIET = typer.Option(False, help="No progress bar.")


def _settings(config: str, overrides, epochs, max_train, max_eval, init_from, threads, keep):
    from bioner.experiments.runner import ModelSettings

    return ModelSettings(
        config=config,
        overrides=list(overrides),
        epochs=epochs,
        max_train_sentences=max_train,
        max_eval_sentences=max_eval,
        init_from=str(init_from) if init_from else None,
        threads=threads,
        keep_models=keep,
    )


def check_before_runs(
    output: Path,
    baseline: Path | None,
    config: str | None = None,
    overrides: Sequence[str] = (),
) -> None:
    """Fail before hours of runs rather than after them: OUTPUT must be a folder, the
    `--baseline` results must be readable (they are only needed for the final table), and
    the config with its `--set` overrides must load (else the corpora are read and OUTPUT
    made before the first run stops on a typo)."""
    from bioner.config import load_config
    from bioner.errors import BionerError
    from bioner.experiments.results import read_results

    if config is not None:
        load_config(config, list(overrides))
    if output.exists() and not output.is_dir():
        raise BionerError(f"{output}: --output must be a folder, not a file")
    if baseline is not None:
        read_results(baseline)


def check_baseline_measures_the_same(
    baseline: Path | None, jobs: Sequence[RunJob], mode: str, settings: ModelSettings
) -> None:
    """Refuse, before any run, a `--baseline` scored on other test data or another way."""
    from bioner.experiments.results import check_baseline, measured, read_results

    if baseline is None or not jobs:
        return
    expected = measured({**jobs[0].info, "mode": mode, "settings": settings.describe()})
    check_baseline(read_results(baseline), baseline, expected)


def finish(
    kind: str,
    name: str,
    records: list[dict[str, Any]],
    settings: dict[str, Any],
    output: Path,
    baseline: Path | None,
) -> dict[str, Any]:
    """Write results.json, table.md and violin.png for a finished run set; return the results."""
    from bioner.experiments.plots import violin_plot
    from bioner.experiments.results import build_results, read_results, write_results
    from bioner.experiments.tables import MATCH_NAMES, f1_summary, run_set_table

    command = "bioner " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    base = read_results(baseline) if baseline is not None else None
    results = build_results(
        kind, name, records, settings, command, base, str(baseline) if baseline else None
    )
    write_results(output / "results.json", results)
    with atomic_write(output / "table.md") as handle:
        handle.write(run_set_table(results))
    # The panel names the matching the runs were scored with (`ooc --mode` may change it).
    panel = "IC (exact)" if kind == "cv" else f"OOC ({MATCH_NAMES[settings.get('mode', 'right')]})"
    methods: dict[str, list[float]] = {}
    if base is not None:
        methods[base.get("name", "baseline")] = [r["f1"] for r in base["runs"]]
    methods[name] = [r["f1"] for r in records]
    violin_plot({panel: methods}, output / "violin.png")
    console.print(f"{name}: F1 {f1_summary(results['summary'])} → {output / 'results.json'}")
    return results


@app.command("cv")
def cv_command(
    config: str = typer.Argument(..., help="Preset name or config file."),
    corpus: Path = typer.Option(..., help="Corpus folder; its train+devel are cross-validated."),
    folds: int = typer.Option(5, min=2, help="Number of folds (Saber: 5)."),
    seeds: str = _SEEDS,
    output: Path = typer.Option(..., "--output", "-o", help="Experiment folder (resumable)."),
    documents: list[Path] = typer.Option(
        [],
        "--documents",
        help="The corpus's original release (e.g. PubTator; repeat for each split file): "
        "group its sentences into their abstracts so that folds are drawn by abstract; "
        "runs still train and test on the same sentences.",
    ),
    partner: list[Path] = _PARTNER,
    init_from: Path | None = _INIT,
    label_map: list[str] = _MAP,
    types: list[str] = _TYPES,
    epochs: int | None = _EPOCHS,
    max_train_sentences: int | None = _MAX_TRAIN,
    max_eval_sentences: int | None = _MAX_EVAL,
    overrides: list[str] = _SET,
    baseline: Path | None = _BASELINE,
    name: str | None = _NAME,
    threads: int | None = _THREADS,
    keep_models: bool = _KEEP,
    quiet: bool = _QUIET,
) -> None:
    """In-corpus k-fold cross-validation with exact matching (Saber §2.8)."""
    from bioner.data.labels import parse_label_map
    from bioner.experiments.cv import cv_jobs
    from bioner.experiments.runner import parse_seeds, run_all

    check_before_runs(output, baseline, config, overrides)
    settings = _settings(
        config, overrides, epochs, max_train_sentences, max_eval_sentences, init_from, threads,
        keep_models,
    )  # fmt: skip
    mapping = parse_label_map(label_map)
    jobs = cv_jobs(
        corpus,
        folds=folds,
        seeds=parse_seeds(seeds),
        partners=partner,
        label_map=mapping,
        types=types or None,
        references=documents,
    )
    check_baseline_measures_the_same(baseline, jobs, "exact", settings)
    records = run_all(jobs, settings, output, quiet=quiet)
    described = {
        **settings.describe(),
        "corpus": str(corpus),
        "folds": folds,
        "documents": [str(p) for p in documents],  # folds by abstract when not empty
        "fold_groups": jobs[0].info["fold_groups"] if jobs else None,
        "partners": [str(p) for p in partner],
        "label_map": mapping,
        "types": types or None,
    }
    finish("cv", name or config, records, described, output, baseline)


@app.command("ooc")
def ooc_command(
    config: str = typer.Argument(..., help="Preset name or config file."),
    train: Path = typer.Option(..., help="Training corpus folder (all of train+devel)."),
    test: Path = typer.Option(..., help="Test corpus folder (all of train+devel+test)."),
    seeds: str = _SEEDS,
    output: Path = typer.Option(..., "--output", "-o", help="Experiment folder (resumable)."),
    partner: list[Path] = _PARTNER,
    init_from: Path | None = _INIT,
    label_map: list[str] = _MAP,
    types: list[str] = _TYPES,
    mode: str = typer.Option("right", help="Matching: right (Saber), exact, left, overlap."),
    epochs: int | None = _EPOCHS,
    max_train_sentences: int | None = _MAX_TRAIN,
    max_eval_sentences: int | None = _MAX_EVAL,
    overrides: list[str] = _SET,
    baseline: Path | None = _BASELINE,
    name: str | None = _NAME,
    threads: int | None = _THREADS,
    keep_models: bool = _KEEP,
    quiet: bool = _QUIET,
) -> None:
    """Out-of-corpus evaluation: train on one corpus, test on another (Saber §2.8)."""
    from bioner.data.labels import parse_label_map
    from bioner.errors import BionerError
    from bioner.experiments.ooc import ooc_jobs
    from bioner.experiments.runner import parse_seeds, run_all

    if mode not in ("exact", "right", "left", "overlap"):
        raise BionerError(f"--mode {mode!r}: choose exact, right, left or overlap")
    check_before_runs(output, baseline, config, overrides)
    settings = _settings(
        config, overrides, epochs, max_train_sentences, max_eval_sentences, init_from, threads,
        keep_models,
    )  # fmt: skip
    mapping = parse_label_map(label_map)
    jobs = ooc_jobs(
        train,
        test,
        seeds=parse_seeds(seeds),
        partners=partner,
        label_map=mapping,
        types=types or None,
        mode=mode,
    )
    check_baseline_measures_the_same(baseline, jobs, mode, settings)
    records = run_all(jobs, settings, output, quiet=quiet)
    described = {
        **settings.describe(),
        "train": str(train),
        "test": str(test),
        "partners": [str(p) for p in partner],
        "label_map": mapping,
        "types": types or None,
        "mode": mode,
    }
    finish("ooc", name or config, records, described, output, baseline)
