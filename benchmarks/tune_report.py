"""Every trial of one or more `bioner tune` studies as a results table.

Why a script of its own: `bioner tune` keeps its trials in an Optuna SQLite study and writes
only the best one (best_params.json); a benchmark record needs all of them — each trial's
settings, the devel F1 it reached, how many epochs it ran, whether the pruner stopped it — so
that what the search chose, and by how much, can be read without Optuna. Nothing is trained
here. Test sets are never read by a study.

Reproduce (NCBI-disease, Sachan's LM_b recipe: docs/pretraining.md, "Tuning the fine-tuning"):

    .venv/bin/python benchmarks/tune_report.py --name tune_ncbi \\
        runs/tune_ncbi/study0.sqlite runs/tune_ncbi/study1.sqlite
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def trials(storage: Path, study_name: str) -> list[dict[str, Any]]:
    """One row per trial of the study: number, state, settings, best devel F1, epochs run."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not storage.is_file():
        raise SystemExit(f"{storage}: no such study file")
    try:
        study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{storage.resolve()}")
    except KeyError:
        raise SystemExit(f"{storage}: no study named {study_name!r} (--study-name)") from None
    rows = []
    for trial in study.trials:
        curve = trial.intermediate_values
        rows.append(
            {
                "study": str(storage),
                "trial": trial.number,
                "state": trial.state.name.lower(),
                "params": trial.params,
                "dev_f1": trial.value
                if trial.value is not None
                else max(curve.values(), default=None),
                "epochs": max(curve, default=0),
                "dev_f1_by_epoch": [curve[e] for e in sorted(curve)],
                # a failed trial's end is when it was marked failed, not when it trained
                "seconds": (
                    (trial.datetime_complete - trial.datetime_start).total_seconds()
                    if trial.datetime_complete
                    and trial.datetime_start
                    and trial.state.name in ("COMPLETE", "PRUNED")
                    else None
                ),
            }
        )
    return rows


def write_report(name: str, rows: list[dict[str, Any]], command: str) -> None:
    from bioner.data.atomic import atomic_write

    complete = [r for r in rows if r["state"] == "complete" and r["dev_f1"] is not None]
    if not complete:
        raise SystemExit("no completed trial in these studies: nothing to report")
    best = max(complete, key=lambda r: r["dev_f1"])
    keys = sorted({k for r in rows for k in r["params"]})
    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_write(RESULTS / f"{name}.json") as stream:
        stream.write(
            json.dumps({"command": command, "best": best, "trials": rows}, indent=2) + "\n"
        )
    lines = [
        f"# `bioner tune` trials: devel exact F1 (%), {name}",
        "",
        f"Command: `{command}`",
        "",
        f"Best completed trial: {best['study']} trial {best['trial']}, devel "
        f"{100 * best['dev_f1']:.2f}. A pruned trial's F1 is its best before the pruner "
        "stopped it.",
        "",
        "| study | trial | state | " + " | ".join(keys) + " | epochs | devel F1 | seconds |",
        "|---" * (len(keys) + 6) + "|",
    ]
    for r in rows:
        values = [
            f"{r['params'][k]:.2e}"
            if isinstance(r["params"].get(k), float) and r["params"][k] < 0.01
            else str(r["params"].get(k, "—"))
            for k in keys
        ]
        f1 = f"{100 * r['dev_f1']:.2f}" if r["dev_f1"] is not None else "—"
        seconds = f"{r['seconds']:.0f}" if r["seconds"] is not None else "—"
        lines.append(
            f"| {Path(r['study']).stem} | {r['trial']} | {r['state']} | "
            + " | ".join(values)
            + f" | {r['epochs']} | {f1} | {seconds} |"
        )
    with atomic_write(RESULTS / f"{name}.md") as stream:
        stream.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("storages", nargs="+", type=Path, help="SQLite files of the studies")
    parser.add_argument("--study-name", default="bioner")
    parser.add_argument("--name", required=True, help="results/<name>.{json,md}")
    args = parser.parse_args(argv)
    rows = [row for storage in args.storages for row in trials(storage, args.study_name)]
    command = (
        "python benchmarks/tune_report.py --name "
        + args.name
        + " "
        + " ".join(str(s) for s in args.storages)
    )
    write_report(args.name, rows, command)


if __name__ == "__main__":
    main()
