"""Time the CRF decoder: NLL forward+backward, Viterbi, n-best and marginals.

Run from the repository root:

    .venv/bin/python benchmarks/bench_crf.py [--threads 1] [--device cpu]

Batch B=32, T=50 (lengths drawn from 25..50, so padding is exercised), K=9 and K=21
(BIOES with 2 and 5 entity types), IOB-style constraints on. Each operation is timed over
10, 30 and 100 iterations after a warm-up, so a reader can see whether the per-iteration
time is steady. Writes `benchmarks/results/crf.json` and `benchmarks/results/crf.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from bioner.models.crf import CRF, transition_constraints

RESULTS = Path(__file__).resolve().parent / "results"
BATCH, STEPS = 32, 50
ITERATIONS = (10, 30, 100)


def bioes_tags(types: int) -> list[str]:
    names = [f"T{i}" for i in range(types)]
    return ["O"] + [f"{p}-{n}" for n in names for p in "BIES"]


def timed(fn: Callable[[], object], iterations: int, device: torch.device) -> float:
    """Seconds per iteration, averaged over `iterations` back-to-back calls."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations


def bench(types: int, device: torch.device) -> list[dict[str, object]]:
    tag_names = bioes_tags(types)
    k = len(tag_names)
    gen = torch.Generator().manual_seed(0)
    crf = CRF(k, transition_constraints(tag_names, "BIOES")).to(device)
    emissions = torch.randn(BATCH, STEPS, k, generator=gen).to(device).requires_grad_()
    lengths = torch.randint(STEPS // 2, STEPS + 1, (BATCH,), generator=gen)
    lengths[0] = STEPS
    mask = (torch.arange(STEPS)[None, :] < lengths[:, None]).to(device)
    paths = crf.viterbi(emissions.detach(), mask)[0]  # allowed gold paths: a finite loss
    tags = torch.zeros(BATCH, STEPS, dtype=torch.long)
    for row, path in enumerate(paths):
        tags[row, : len(path)] = torch.tensor(path)
    tags = tags.to(device)

    def nll_step() -> None:
        crf.zero_grad(set_to_none=True)
        emissions.grad = None
        crf.neg_log_likelihood(emissions, tags, mask).backward()

    def viterbi() -> None:
        with torch.no_grad():
            crf.viterbi(emissions, mask)

    def nbest() -> None:
        crf.nbest(emissions, mask, 5)

    def marginals() -> None:
        with torch.no_grad():
            crf.marginals(emissions, mask)

    rows = []
    for name, fn in [
        ("nll forward+backward", nll_step),
        ("viterbi", viterbi),
        ("nbest n=5", nbest),
        ("marginals", marginals),
    ]:
        for _ in range(3):
            fn()  # warm-up
        for iterations in ITERATIONS:
            seconds = timed(fn, iterations, device)
            rows.append(
                {
                    "operation": name,
                    "num_tags": k,
                    "batch": BATCH,
                    "steps": STEPS,
                    "iterations": iterations,
                    "ms_per_iteration": round(seconds * 1000, 3),
                    "sequences_per_second": round(BATCH / seconds, 1),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = [row for types in (2, 5) for row in bench(types, device)]
    env = {
        "device": args.device,
        "torch": torch.__version__,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "note": "CPU shared with other jobs while measuring: figures are indicative only",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "crf.json").write_text(json.dumps({"environment": env, "results": rows}, indent=2))
    lines = [
        "# CRF decoder timings",
        "",
        f"`benchmarks/bench_crf.py`, torch {env['torch']}, device {env['device']}, "
        f"{env['threads']} thread(s), {env['cpu_count']} logical CPUs. B={BATCH}, T={STEPS} "
        "(lengths 25..50), BIOES constraints on.",
        "",
        f"**{env['note']}.**",
        "",
        "| operation | K | iterations | ms / iteration | sequences / s |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['operation']} | {r['num_tags']} | {r['iterations']} | "
        f"{r['ms_per_iteration']:.2f} | {r['sequences_per_second']:.0f} |"
        for r in rows
    ]
    (RESULTS / "crf.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
