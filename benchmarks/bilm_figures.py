"""Sachan Fig. 7 and Fig. 8: does BiLM pretraining converge faster and need fewer sentences?

Reproduce (after `bioner pretrain bilm ... OUT` and the Table 3 rows of
`pretraining_ablation.py`, with the same `--preset` and `--set` as those rows):

    .venv/bin/python benchmarks/bilm_figures.py --bilm runs/pretrain/bilm-small \
        --corpus NCBI-disease --sizes 500 1000 2000 0 --preset sachan-cnn --set KEY=VALUE ...

Fig. 7 (convergence): dev F1 against training wall time for the `random` and `bilm` runs of
the ablation (read from their `metrics.jsonl` under `--ablation-runs`). Fig. 8 (learning
curve): test F1 against the number of training sentences (`training.max_train_sentences`;
0 = all, read from the ablation's run), random initialisation vs BiLM transfer, each size one
resumable `bioner train` run. Writes `benchmarks/results/bilm_figures.{json,md}` and the
two PNGs beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pretraining_ablation import RESULTS, SHARED, run_cell

VARIANTS = ("random", "bilm")


def metrics(run_dir: Path) -> list[tuple[float, float]]:
    """(elapsed seconds, dev F1 %) per evaluated epoch of a training run."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        sys.exit(f"{path}: no metrics log; run the ablation's random and bilm rows first")
    points, running = [], 0.0
    for line in path.read_text().splitlines():
        record = json.loads(line)
        running += record.get("seconds") or 0.0
        elapsed = record.get("elapsed_seconds", running)
        if record.get("dev_f1") is not None:
            points.append((elapsed, 100 * record["dev_f1"]))
    return points


def plot(path: Path, series: dict[str, list[tuple[float, float]]], x: str, y: str, title: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, points in series.items():
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bilm", required=True, help="BiLM run directory")
    parser.add_argument("--corpus", default="NCBI-disease")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 0])
    parser.add_argument("--preset", default="sachan-cnn")
    parser.add_argument("--set", nargs="*", default=[], help="overrides for every run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--corpora-dir", type=Path, default=SHARED / "corpora")
    parser.add_argument("--ablation-runs", type=Path, default=Path("runs/pretraining_ablation"))
    parser.add_argument("--runs", type=Path, default=Path("runs/bilm_figures"))
    args = parser.parse_args()
    args.resume = False
    argv = {
        "random": [args.preset],
        "bilm": [args.preset, "--init-from", args.bilm, "--init-directions", "both"],
    }
    convergence = {
        name: metrics(args.ablation_runs / name / args.corpus / f"seed{args.seed}")
        for name in VARIANTS
    }
    curve: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    cells = []
    for size in args.sizes:
        for name in VARIANTS:
            run_dir = args.runs / name / args.corpus / f"n{size}-seed{args.seed}"
            if not size:  # all sentences: the ablation's own run, not a second copy of it
                run_dir = args.ablation_runs / name / args.corpus / f"seed{args.seed}"
            cell_argv = [*argv[name], "--set", f"training.seed={args.seed}"]
            if size:
                cell_argv += ["--set", f"training.max_train_sentences={size}"]
            summary = run_cell(args, cell_argv, args.corpus, run_dir)
            sentences = summary.get("train_sentences") or size
            f1 = 100 * summary["test"]["f1"]
            curve[name].append((sentences, f1))
            cells.append({"variant": name, "sentences": sentences, "test_f1": f1})
            print(f"{name} {sentences} sentences: test F1 {f1:.2f}")
    RESULTS.mkdir(exist_ok=True)
    plot(
        RESULTS / "bilm_fig7_convergence.png",
        convergence,
        "training wall time (s)",
        "dev F1 (%)",
        f"Convergence on {args.corpus} (Sachan Fig. 7 shape)",
    )
    plot(
        RESULTS / "bilm_fig8_learning_curve.png",
        curve,
        "training sentences",
        "test F1 (%)",
        f"Learning curve on {args.corpus} (Sachan Fig. 8 shape)",
    )
    command = "python " + " ".join(sys.argv)
    record = {"command": command, "convergence": convergence, "learning_curve": cells}
    (RESULTS / "bilm_figures.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        "# BiLM transfer: convergence (Fig. 7) and learning curve (Fig. 8) shapes",
        "",
        f"Command: `{command}`",
        "",
        f"Corpus {args.corpus}, seed {args.seed}. Figures: `bilm_fig7_convergence.png`, "
        "`bilm_fig8_learning_curve.png`.",
        "",
        "## Fig. 8: test F1 (%) by training sentences",
        "",
        "| sentences | " + " | ".join(VARIANTS) + " |",
        "|---|" + "---|" * len(VARIANTS),
    ]
    for index in range(len(args.sizes)):
        row = [str(int(curve["random"][index][0]))]
        row += [f"{curve[name][index][1]:.2f}" for name in VARIANTS]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "## Fig. 7: best dev F1 (%) reached by wall time", ""]
    for name in VARIANTS:
        best, when = max((f1, t) for t, f1 in convergence[name])
        lines.append(f"* {name}: best dev F1 {best:.2f} after {when:.0f} s")
    (RESULTS / "bilm_figures.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
