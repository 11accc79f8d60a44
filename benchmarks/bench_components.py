"""Train every architecture component once on a real corpus: each paper preset and the
switches the presets do not cover (softmax decoder, no character encoder).

Reproduce:

    .venv/bin/python benchmarks/bench_components.py --corpus NCBI-disease \
        --epochs 3 --max-train-sentences 2000 --threads 2

A short run by design (few epochs on part of the training split): it shows that every
component trains end to end on real text and how fast each is, not its best accuracy.
Each variant runs in its own subprocess and is skipped when its JSON exists (resumable);
results go to `benchmarks/results/components/` and `benchmarks/results/components.md`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench_train_corpora import RESULTS, run_one

VARIANTS: dict[str, tuple[str, list[str]]] = {
    "saber-baseline (char BiLSTM, CRF)": ("saber-baseline", []),
    "saber-vd (variational dropout)": ("saber-vd", []),
    "sachan-cnn (char CNN widths 1-7)": ("sachan-cnn", []),
    "ma-hovy (char CNN, SGD)": ("ma-hovy", []),
    "lyu-attention (char attention, window, tanh, BIOES)": ("lyu-attention", []),
    "deepvar (one-hot 70, residual units)": ("deepvar", ["data.dev_fraction=0.0"]),
    "generic (one-hot 70, one BiLSTM)": ("generic", ["data.dev_fraction=0.0"]),
    "softmax decoder": ("saber-baseline", ["model.decoder.kind='softmax'"]),
    "no character encoder": ("saber-baseline", ["model.embedder.char.kind='none'"]),
}


def slug(name: str) -> str:
    return name.split(" (")[0].replace(" ", "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="NCBI-disease")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-train-sentences", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", default="runs/bench")
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        preset, extra = VARIANTS[args.single]
        run_args = argparse.Namespace(
            preset=preset,
            name=f"components/{slug(args.single)}",
            epochs=args.epochs,
            patience=0,
            threads=args.threads,
            runs=args.runs,
            set=[f"training.max_train_sentences={args.max_train_sentences}", *extra],
        )
        run_one(run_args, args.corpus, RESULTS / "components" / f"{slug(args.single)}.json")
        return
    command = "python benchmarks/bench_components.py " + " ".join(sys.argv[1:])
    for name in VARIANTS:
        if not (RESULTS / "components" / f"{slug(name)}.json").exists():
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--single", name], check=True)
    lines = [
        "# Components trained end to end",
        "",
        f"Command: `{command}`",
        "",
        f"Corpus {args.corpus}: first {args.max_train_sentences} training sentences, "
        f"{args.epochs} epochs, best epoch on devel, test split exact matching. "
        "Short runs: they show each component trains, not its best accuracy.",
        "",
        "| variant | test F1 | train sent/s | infer sent/s | peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    rows = []
    for name in VARIANTS:
        record = json.loads((RESULTS / "components" / f"{slug(name)}.json").read_text())
        rows.append({"variant": name, **record})
        lines.append(
            f"| {name} | {100 * record['test_f1']:.2f} | "
            f"{record['train_sentences_per_second']:.0f} | "
            f"{record['inference_sentences_per_second']:.0f} | {record['peak_rss_mb']:.0f} |"
        )
    (RESULTS / "components.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "components.json").write_text(json.dumps({"command": command, "runs": rows}))


if __name__ == "__main__":
    main()
