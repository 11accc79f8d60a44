"""Train a preset on staged corpora and record test-set accuracy, speed and memory.

Reproduce (the figures committed under benchmarks/results/ came from this command):

    .venv/bin/python benchmarks/bench_train_corpora.py --preset saber-baseline \
        --corpora NCBI-disease BC5CDR-chem BC5CDR-disease BC2GM JNLPBA LINNAEUS \
        --epochs 25 --patience 5 --threads 2

Each corpus trains in its own subprocess (so peak RSS is per corpus) and writes
`benchmarks/results/<name>/<corpus>.json`; finished corpora are skipped when the command is
run again, so an interrupted benchmark resumes. The table `<name>.md` and `<name>.json` are
rebuilt from every finished corpus at the end. Test figures are exact-match P/R/F1 on the
corpus's test split, scored with the best epoch on its devel split.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("BIONER_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def run_one(args: argparse.Namespace, corpus: str, out_file: Path) -> None:
    import torch

    from bioner.config import load_config
    from bioner.tagger import Tagger
    from bioner.training.data import load_splits
    from bioner.training.evaluation import score_split
    from bioner.training.trainer import Trainer, peak_rss_mb

    torch.set_num_threads(args.threads)
    overrides = [f"training.epochs={args.epochs}", f"training.num_threads={args.threads}"]
    if args.patience:
        overrides.append(f"training.early_stopping_patience={args.patience}")
    overrides += args.set
    config = load_config(args.preset, overrides)
    config.data.corpus = str(SHARED / "corpora" / corpus)
    splits = load_splits(config.data)
    tagger = Tagger.build(config, {"default": splits.train})
    run_dir = Path(args.runs) / args.name / corpus
    resume = (run_dir / "checkpoint" / "last").exists()
    trainer = Trainer(
        tagger,
        {"default": splits.train},
        {"default": splits.dev},
        run_dir,
        show_progress=False,
        on_epoch=lambda r: print(
            f"[{corpus}] epoch {r['epoch']} dev F1 "
            f"{r.get('dev_f1', float('nan')):.4f} "
            f"{r['sentences_per_second']:.0f} sent/s",
            flush=True,
        ),
    )
    result = trainer.train(resume=resume)
    best = Tagger.load(run_dir / "model")
    torch.set_num_threads(args.threads)
    test = score_split(best, splits.test)
    record = {
        "corpus": corpus,
        "preset": args.preset,
        "overrides": overrides,
        "config": json.loads(config.model_dump_json()),
        "train_sentences": sum(len(d.sentences) for d in splits.train),
        "test_sentences": test["sentences"],
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped_because": result.stopped_because,
        "best_dev_f1": result.best_dev_f1,
        "test_precision": test["precision"],
        "test_recall": test["recall"],
        "test_f1": test["f1"],
        "test_per_type": test["per_type"],
        "train_seconds": result.train_seconds,
        "train_sentences_per_second": result.train_sentences_per_second,
        "inference_sentences_per_second": test["inference_sentences_per_second"],
        "peak_rss_mb": peak_rss_mb(),
        "threads": args.threads,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}",
    }
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, out_file)


def write_table(name: str, corpora: list[str], command: str) -> None:
    rows = []
    for corpus in corpora:
        path = RESULTS / name / f"{corpus}.json"
        if path.exists():
            rows.append(json.loads(path.read_text()))
    (RESULTS / f"{name}.json").write_text(json.dumps({"command": command, "runs": rows}, indent=2))
    lines = [
        f"# {name}",
        "",
        f"Command: `{command}`",
        "",
        "Test split, exact matching (micro). Best epoch chosen on devel. 2-core CPU. "
        "`infer sent/s` is the one cold pass that produced the test scores (first call, "
        f"4,000-token batches); warm throughput is in `inference-{name}.md`.",
        "",
        "| corpus | P | R | F1 | epochs (best) | train s | train sent/s | infer sent/s "
        "| peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['corpus']} | {100 * r['test_precision']:.2f} | {100 * r['test_recall']:.2f} | "
            f"{100 * r['test_f1']:.2f} | {r['epochs_run']} ({r['best_epoch']}) | "
            f"{r['train_seconds']:.0f} | {r['train_sentences_per_second']:.0f} | "
            f"{r['inference_sentences_per_second']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="saber-baseline")
    parser.add_argument("--name", default=None, help="Results name (default: the preset).")
    parser.add_argument("--corpora", nargs="+", default=["NCBI-disease"])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="Extra config override.")
    parser.add_argument("--runs", default="runs/bench")
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.name = args.name or args.preset
    if args.single:
        run_one(args, args.single, RESULTS / args.name / f"{args.single}.json")
        return
    command = "python benchmarks/bench_train_corpora.py " + " ".join(sys.argv[1:])
    for corpus in args.corpora:
        out_file = RESULTS / args.name / f"{corpus}.json"
        if out_file.exists():
            print(f"[{corpus}] done already: {out_file}")
            continue
        started = time.time()
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--single", corpus], check=True)
        print(f"[{corpus}] finished in {time.time() - started:.0f} s", flush=True)
        write_table(args.name, args.corpora, command)
    write_table(args.name, args.corpora, command)


if __name__ == "__main__":
    main()
