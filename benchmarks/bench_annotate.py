"""End-to-end annotation throughput: raw text in, JSON Lines out, through `bioner annotate`.

Reproduce:

    .venv/bin/python benchmarks/bench_annotate.py --documents 3000 --workers 1 2

Takes the first N abstracts of ../shared/unlabeled/OHSUMED (one per line), writes them to a
text file, and times `bioner annotate FILE --lines --to jsonl -o OUT` with the bundled
default tagger, as a separate process per worker count (start-up and model loading
included, as a user sees it). Peak RSS is the largest of the command and its workers
(RUSAGE_CHILDREN). Tokens are counted with the tagger's own tokenizer. Writes
`benchmarks/results/annotate.{json,md}`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_train_corpora import RESULTS, SHARED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    from bioner.text import Tokenizer

    source = SHARED / "unlabeled" / "OHSUMED" / "abstracts.txt.gz"
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        lines = [next(handle).rstrip("\n") for _ in range(args.documents)]
    tokenizer = Tokenizer()
    sentences = [tokenizer.tokenize(line) for line in lines]
    n_sentences = sum(len(s) for s in sentences)
    n_tokens = sum(len(sentence) for doc in sentences for sentence in doc)
    n_bytes = sum(len(line.encode()) + 1 for line in lines)
    bioner = Path(sys.executable).with_name("bioner")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "abstracts.txt"
        text.write_text("\n".join(lines) + "\n", encoding="utf-8")
        for workers in args.workers:
            output = Path(folder) / f"out-{workers}.jsonl"
            command = [
                str(bioner),
                "annotate",
                str(text),
                "--lines",
                "--to",
                "jsonl",
                "-o",
                str(output),
                "--workers",
                str(workers),
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            seconds = time.perf_counter() - started
            peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
            mentions = sum(len(json.loads(line)["spans"]) for line in output.open())
            rows.append(
                {
                    "workers": workers,
                    "seconds": seconds,
                    "tokens_per_second": n_tokens / seconds,
                    "sentences_per_second": n_sentences / seconds,
                    "peak_rss_mb_so_far": peak,
                    "mentions": mentions,
                }
            )
            print(f"workers={workers}: {seconds:.1f} s, {n_tokens / seconds:.0f} tokens/s")
    command_line = "python benchmarks/bench_annotate.py " + " ".join(sys.argv[1:])
    record = {
        "command": command_line,
        "documents": args.documents,
        "sentences": n_sentences,
        "tokens": n_tokens,
        "bytes": n_bytes,
        "runs": rows,
    }
    (RESULTS / "annotate.json").write_text(json.dumps(record, indent=2))
    table = [
        "# End-to-end annotation (raw text → JSON Lines), bundled default tagger",
        "",
        f"Command: `{command_line}`",
        "",
        f"{args.documents} OHSUMED abstracts: {n_sentences} sentences, {n_tokens} tokens, "
        f"{n_bytes / 1e6:.1f} MB. Wall time of the whole command, start-up and model loading "
        "included. Peak RSS: largest child process so far (RUSAGE_CHILDREN).",
        "",
        "| workers | seconds | tokens/s | sentences/s | peak RSS MB | mentions |",
        "|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['workers']} | {r['seconds']:.1f} | {r['tokens_per_second']:.0f} | "
        f"{r['sentences_per_second']:.0f} | {r['peak_rss_mb_so_far']:.0f} | {r['mentions']} |"
        for r in rows
    ]
    (RESULTS / "annotate.md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
