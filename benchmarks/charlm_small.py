"""Build a CPU character-LM pair (forward + backward) and record held-out BPC.

One job: train both directions with identical settings on the cased unlabeled text
(`../shared/unlabeled`: TIGR2ESS-EuropePMC, OHSUMED, openDiagram-EuropePMC, MedicalAbstractsTC)
and write `benchmarks/results/charlm_small.{json,md}` with bits per character on held-out
documents (validation: used for annealing and picking the saved step; test: used for nothing).
An interrupted build is resumed by running the same command again.

    nice -n 19 .venv/bin/python benchmarks/charlm_small.py --runs runs/charlm_small
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
from bioner.pretraining.charlm import CharLMTrainingConfig, train_charlm
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
            device="cpu",
            num_threads=args.threads,
        )
        out = args.runs / direction
        resume = checkpoint_exists(out / "checkpoints")  # a finished run returns its summary
        summaries[direction] = train_charlm(
            config,
            out,
            resume=resume,
            log=lambda r, d=direction: print(
                f"{d} step {r['step']} valid bpc {r['valid_bpc']:.4f}", flush=True
            ),
        )
    if len(summaries) < 2:
        return
    command = "nice -n 19 .venv/bin/python benchmarks/charlm_small.py " + shlex.join(sys.argv[1:])
    result = {"command": command, "note": args.note, "runs": summaries}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.results.with_suffix(".json")) as stream:
        json.dump(result, stream, indent=1, ensure_ascii=False)
        stream.write("\n")
    with atomic_write(args.results.with_suffix(".md")) as stream:
        stream.write(markdown(result))


def markdown(result: dict) -> str:
    runs = result["runs"]
    any_run = next(iter(runs.values()))
    config, data = any_run["config"], any_run["data"]
    lines = [
        f"# CPU character LMs, hidden {config['hidden']} (contextual string embeddings)",
        "",
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
        f"{config['epochs']} epoch(s); CPU, {any_run['torch_threads']} thread, shared machine.",
        "",
        "| direction | updates | parameters | vocabulary | valid BPC (best) | test BPC "
        "| last valid BPC "
        "| train seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for direction, run in runs.items():
        lines.append(
            f"| {direction} | {run['steps']} | {run['parameters']:,} | {run['vocabulary_size']} "
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
        "command resumes unfinished runs and then writes these files.",
        "",
    ]
    if result.get("note"):
        lines += [f"Note: {result['note']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
