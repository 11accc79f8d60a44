"""Build a CPU character-LM pair (forward + backward) and record held-out BPC.

One job: train both directions with identical settings on the cased unlabeled text
(`../shared/unlabeled`: TIGR2ESS-EuropePMC, OHSUMED, openDiagram-EuropePMC, MedicalAbstractsTC)
and write `benchmarks/results/charlm_small.{json,md}` with bits per character on held-out
documents (validation: used for annealing and picking the saved step; test: used for nothing).
An interrupted build is resumed by running the same command again.

    nice -n 19 .venv/bin/python benchmarks/charlm_small.py --runs runs/charlm_small

For a bigger pair on a GPU machine that lacks ../shared, read and tokenize the text here first
(`--prepare DIR` writes the exact training and held-out streams, xz-compressed), carry DIR
there, and train from it with `--text DIR --device cuda`; `--max-minutes` bounds a
time-limited lease (the best-validation LM so far is kept, and the run can be resumed).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

import torch

from bioner.data.atomic import atomic_write
from bioner.pretraining.charlm import (
    CharLMTrainingConfig,
    prepare_text,
    read_text_splits,
    source_documents,
    train_charlm,
    write_text_splits,
)
from bioner.pretraining.text_source import shared_root
from bioner.training.checkpoints import checkpoint_exists

CASED = ["TIGR2ESS-EuropePMC", "OHSUMED", "openDiagram-EuropePMC", "MedicalAbstractsTC"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/charlm_small"))
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/charlm_small"))
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--max-chars", type=int, default=3_500_000)
    parser.add_argument("--heldout-chars", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32, help="Parallel rows of the stream.")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto.")
    parser.add_argument("--max-minutes", type=float, help="Training time budget per direction.")
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--prepare", type=Path, help="Write the prepared text here and stop.")
    parser.add_argument("--text", type=Path, help="Train on text written by --prepare.")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="Write the results from the runs' metrics.json as they stand (e.g. after both "
        "directions stopped at --max-minutes in parallel processes); train nothing.",
    )
    parser.add_argument("--note", default="", help="How this build was run (goes in the table).")
    parser.add_argument(
        "--directions",
        nargs="+",
        default=["forward", "backward"],
        help="Train only these (e.g. the two in parallel processes); results are written when "
        "both runs are finished.",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    unlabeled = shared_root() / "unlabeled"
    sources = [str(unlabeled / name) for name in CASED]
    if args.prepare:
        documents = [source_documents(source, tokenized=True) for source in sources]
        prepared = prepare_text(documents, args.max_chars, heldout_chars=args.heldout_chars)
        write_text_splits(prepared, args.prepare)
        print(f"{prepared.stats['train_chars']:,} training characters → {args.prepare}")
        return
    if args.report_only:
        write_results(args, {d: read_summary(args.runs / d) for d in ("forward", "backward")})
        return
    splits = read_text_splits(args.text) if args.text else None  # else read from sources
    if splits is not None and splits.stats["train_chars"] > args.max_chars:
        sys.exit(
            f"{args.text}: {splits.stats['train_chars']:,} training characters, more than "
            f"--max-chars {args.max_chars:,}; give the --max-chars it was prepared with"
        )
    summaries = {}
    for direction in ("forward", "backward"):
        if direction not in args.directions:
            continue
        config = CharLMTrainingConfig(
            direction=direction,
            hidden=args.hidden,
            max_chars=args.max_chars,
            heldout_chars=args.heldout_chars,
            epochs=args.epochs,
            eval_every=args.eval_every,
            sources=sources,
            batch_size=args.batch,
            max_minutes=args.max_minutes,
            checkpoint_every=args.checkpoint_every,
            device=args.device,
            num_threads=args.threads,
        )
        out = args.runs / direction
        resume = checkpoint_exists(out / "checkpoints")  # a finished run returns its summary
        summaries[direction] = train_charlm(
            config,
            out,
            resume=resume,
            splits=splits,
            log=lambda r, d=direction: print(
                f"{d} step {r['step']} valid bpc {r['valid_bpc']:.4f}", flush=True
            ),
        )
    if len(summaries) == 2:
        write_results(args, summaries)


def read_summary(run: Path) -> dict:
    """The summary a run wrote when it finished or stopped (OUT/metrics.json)."""
    try:
        return json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        sys.exit(f"{run}: no readable metrics.json ({error}); train it first")


def write_results(args: argparse.Namespace, summaries: dict) -> None:
    argv = [a for a in sys.argv[1:] if a != "--report-only"]  # the training command
    command = "nice -n 19 .venv/bin/python benchmarks/charlm_small.py " + shlex.join(argv)
    result = {"command": command, "note": args.note, "runs": summaries}
    if args.text is not None:  # the text was read and tokenized by an earlier command
        result["prepare_command"] = (
            "nice -n 19 .venv/bin/python benchmarks/charlm_small.py "
            f"--prepare {shlex.quote(str(args.text))} --max-chars {args.max_chars} "
            f"--heldout-chars {args.heldout_chars}"
        )
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.results.with_suffix(".json")) as stream:
        json.dump(result, stream, indent=1, ensure_ascii=False)
        stream.write("\n")
    with atomic_write(args.results.with_suffix(".md")) as stream:
        stream.write(markdown(result))


def epochs_done(run: dict) -> str:
    """Whole epochs, plus the share of the next one where a step or time limit stopped it."""
    done = run["epochs_completed"]
    if run["finished"]:
        return str(done)
    rows, seq_len = run["config"]["batch_size"], run["config"]["seq_len"]
    steps_per_epoch = math.ceil((run["data"]["train_chars"] // rows - 1) / seq_len)
    return f"{done + (run['steps'] - done * steps_per_epoch) / steps_per_epoch:.2f} (stopped)"


def device_words(run: dict) -> str:
    """Where a run trained, for the table's caption."""
    if run.get("device", "cpu") == "cpu":
        return f"CPU, {run['torch_threads']} thread(s)"
    return f"{run['device']} ({run.get('device_name') or 'GPU'})"


def markdown(result: dict) -> str:
    runs = result["runs"]
    any_run = next(iter(runs.values()))
    config, data = any_run["config"], any_run["data"]
    lines = [
        f"# Character LMs, hidden {config['hidden']} (contextual string embeddings)",
        "",
        *(
            [f"Text prepared by: `{result['prepare_command']}`", ""]
            if result.get("prepare_command")
            else []
        ),
        f"Command: `{result['command']}`",
        "",
        f"Text: cased unlabeled folders ({', '.join(CASED)}), tokenized and re-joined with "
        f"single spaces (`tokenized={config['tokenized']}`); {data['train_chars']:,} training "
        f"characters; held-out documents chosen by a hash of their text: validation "
        f"{data['valid_chars']:,} characters ({data['valid_documents']} documents), test "
        f"{data['test_chars']:,} characters ({data['test_documents']} documents).",
        "",
        f"Model: embedding {config['embedding_dim']} → LSTM {config['hidden']} × "
        f"{config['layers']} → linear; truncated BPTT {config['seq_len']} characters, "
        f"{config['batch_size']} rows, {config['optimizer'].upper()} "
        f"lr {config['learning_rate'] or 20}"
        f" (×{config['anneal_factor']} after {config['anneal_patience']} validations without "
        f"improvement), clip {config['clip_grad_norm']}, dropout {config['dropout']}, "
        f"{config['epochs']} epoch(s); {device_words(any_run)}.",
        "",
        "| direction | updates | epochs done | parameters | vocabulary | valid BPC (best) "
        "| test BPC | last valid BPC | train seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for direction, run in runs.items():
        lines.append(
            f"| {direction} | {run['steps']} | {epochs_done(run)} | {run['parameters']:,} "
            f"| {run['vocabulary_size']} "
            f"| {run['valid_bpc']:.4f} | {run['test_bpc']:.4f} | {run['last_valid_bpc']:.4f} "
            f"| {run['train_seconds']:.0f} |"
        )
    lines += [
        "",
        "Validation BPC picks the saved step and drives annealing; test BPC is measured once "
        "on documents never used for anything else. A uniform guess over the vocabulary scores "
        f"log2({any_run['vocabulary_size']}) = {math.log2(any_run['vocabulary_size']):.2f} bits. "
        "Train seconds are wall-clock time (summed over resumed parts). Each direction can run "
        "in its own process (`--directions forward` / `--directions backward`); re-running the "
        "command resumes unfinished runs and then writes these files; `--report-only` writes "
        "them from the runs as they stand.",
        "",
    ]
    if result.get("note"):
        lines += [f"Note: {result['note']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
