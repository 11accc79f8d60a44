"""End-to-end annotation throughput: raw text in, JSON Lines out, through `bioner annotate`.

Reproduce:

    .venv/bin/python benchmarks/bench_annotate.py --documents 3000 --workers 1 2 --ray 2
    .venv/bin/python benchmarks/bench_annotate.py --large-mb 200 --workers 2

The first form takes the first N abstracts of ../shared/unlabeled/OHSUMED (one per line),
writes them to a text file and times `bioner annotate FILE --lines --to jsonl -o OUT` with the
bundled default tagger, one separate command per worker count (start-up and model loading
included, as a user sees it), then the same with `--engine ray` on a local Ray. Writes
`benchmarks/results/annotate.{json,md}` with tokens/s, sentences/s, peak RSS and an estimate
for all of PubMed derived from the measured per-core throughput.

The second form streams a large input (full texts from TIGR2ESS-EuropePMC, repeated until
the file has `--large-mb` MB, one document per line) through one command and samples the RSS
of the command's whole process tree every second, to show whether memory stays flat. Writes
`benchmarks/results/annotate_large.{json,md}`.

RSS is read from /proc (the command and all its descendants, summed — worker processes
included; Ray's own daemons and workers are not descendants and are not counted). Tokens are
counted with the tagger's own tokenizer.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench_train_corpora import RESULTS, SHARED

#: PubMed's size for the estimate (abstracts), as the issue states it.
PUBMED_ABSTRACTS = 35_000_000


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and every descendant process, in MB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm") as statm:
                pages = int(statm.read().split()[1])
        except OSError:
            continue
        pid, parent = int(entry), int(fields[1])
        children.setdefault(parent, []).append(pid)
        rss[pid] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1e6


def timed_run(command: list[str], sample_every: float = 0.5) -> tuple[float, list[tuple]]:
    """Run a command; its wall seconds and (elapsed s, tree RSS MB) samples."""
    samples: list[tuple[float, float]] = []
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(sample_every):
            samples.append((time.perf_counter() - started, tree_rss_mb(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{stderr.decode(errors='replace')}")
    return seconds, samples


def annotate_command(source: Path, output: Path, workers: int, engine: str) -> list[str]:
    bioner = Path(sys.executable).with_name("bioner")
    command = [str(bioner), "annotate", str(source), "--lines", "--to", "jsonl", "-o", str(output)]
    command.append("--overwrite")  # the start-up run wrote the same output first
    return [*command, "--workers", str(workers), "--engine", engine]


def write_report(stem: str, record: dict, table: list[str]) -> None:
    """The measurements as `<stem>.json` and the table as `<stem>.md` under results/."""
    (RESULTS / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text("\n".join(table) + "\n")


def read_spans(output: Path) -> list[tuple]:
    """(document, start, end, label, score) of every span in a JSON Lines output."""
    spans = []
    for line in output.open(encoding="utf-8"):
        record = json.loads(line)
        spans += [
            (record["id"], s["start"], s["end"], s["label"], s["score"]) for s in record["spans"]
        ]
    return spans


def count_text(lines: list[str]) -> tuple[int, int]:
    """Sentences and tokens of the lines, by the tagger's tokenizer."""
    from bioner.text import Tokenizer

    tokenizer = Tokenizer()
    sentences = [tokenizer.tokenize(line) for line in lines]
    return sum(len(s) for s in sentences), sum(len(x) for doc in sentences for x in doc)


def throughput(args: argparse.Namespace) -> None:
    source = SHARED / "unlabeled" / "OHSUMED" / "abstracts.txt.gz"
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        lines = [next(handle).rstrip("\n") for _ in range(args.documents)]
    n_sentences, n_tokens = count_text(lines)
    n_bytes = sum(len(line.encode()) + 1 for line in lines)
    runs = [("local", w) for w in args.workers] + [("ray", w) for w in args.ray]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "abstracts.txt"
        text.write_text("\n".join(lines) + "\n", encoding="utf-8")
        one_line = Path(folder) / "one.txt"
        one_line.write_text(lines[0] + "\n", encoding="utf-8")
        first: list[tuple] | None = None
        for engine, workers in runs:
            output = Path(folder) / f"out-{engine}-{workers}.jsonl"
            startup, _ = timed_run(annotate_command(one_line, output, workers, engine))
            seconds, samples = timed_run(annotate_command(text, output, workers, engine))
            spans = read_spans(output)
            first = first or spans
            rows.append(
                {
                    "engine": engine,
                    "workers": workers,
                    "seconds": seconds,
                    "startup_seconds": startup,
                    "tokens_per_second": n_tokens / seconds,
                    "sentences_per_second": n_sentences / seconds,
                    "steady_tokens_per_second": n_tokens / (seconds - startup),
                    "peak_rss_mb": max((mb for _, mb in samples), default=0.0),
                    "mentions": len(spans),
                    "same_spans_as_first_run": [x[:4] for x in spans] == [x[:4] for x in first],
                    "max_score_difference": max(
                        (abs(a[4] - b[4]) for a, b in zip(spans, first, strict=False)), default=0.0
                    ),
                }
            )
            print(f"{engine} workers={workers}: {seconds:.1f} s, {n_tokens / seconds:.0f} tokens/s")
    tokens_per_abstract = n_tokens / args.documents
    pubmed_tokens = PUBMED_ABSTRACTS * tokens_per_abstract
    estimate: dict[str, dict[str, float]] = {}
    for engine in dict.fromkeys(r["engine"] for r in rows):
        # A PubMed-sized run amortizes start-up: per-core steady throughput of the run with
        # the most workers (the scaling a cluster run relies on).
        run = max((r for r in rows if r["engine"] == engine), key=lambda r: r["workers"])
        per_core = run["steady_tokens_per_second"] / run["workers"]
        core_hours = pubmed_tokens / per_core / 3600
        estimate[engine] = {
            "workers_measured": run["workers"],
            "tokens_per_second_per_core": per_core,
            "core_hours": core_hours,
            "hours_on_100_cores": core_hours / 100,
        }
    command_line = "python benchmarks/bench_annotate.py " + " ".join(sys.argv[1:])
    record = {
        "command": command_line,
        "documents": args.documents,
        "sentences": n_sentences,
        "tokens": n_tokens,
        "bytes": n_bytes,
        "cpu_count": os.cpu_count(),
        "runs": rows,
        "pubmed_estimate": {
            "abstracts": PUBMED_ABSTRACTS,
            "tokens_per_abstract": tokens_per_abstract,
            "tokens": pubmed_tokens,
            "by_engine": estimate,
        },
    }
    table = [
        "# End-to-end annotation (raw text → JSON Lines), bundled default tagger",
        "",
        f"Command: `{command_line}`",
        "",
        f"{args.documents} OHSUMED abstracts: {n_sentences} sentences, {n_tokens} tokens, "
        f"{n_bytes / 1e6:.1f} MB, on a {os.cpu_count()}-core machine. Wall time of the whole "
        "command, start-up and model loading included (Ray: also starting a local Ray); "
        "`start-up s` is the same command on a one-line input, and `steady tokens/s` divides "
        "by the difference. Peak RSS: the command and all its descendant processes, summed "
        "(worker processes; with Ray also the local Ray's daemons and workers). `same spans`: "
        "identical (document, start, end, label) to the first row; scores (4 decimals) may "
        "differ in the last digit between thread counts, the largest difference is shown.",
        "",
        "| engine | workers | seconds | start-up s | tokens/s | steady tokens/s | sentences/s "
        "| peak RSS MB | mentions | same spans | max score diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['engine']} | {r['workers']} | {r['seconds']:.1f} | {r['startup_seconds']:.1f} | "
        f"{r['tokens_per_second']:.0f} | {r['steady_tokens_per_second']:.0f} | "
        f"{r['sentences_per_second']:.0f} | {r['peak_rss_mb']:.0f} | {r['mentions']} | "
        f"{'yes' if r['same_spans_as_first_run'] else 'NO'} | {r['max_score_difference']:.4f} |"
        for r in rows
    ]
    table += [
        "",
        "## All of PubMed, estimated from these measurements",
        "",
        f"{PUBMED_ABSTRACTS:,} abstracts × {tokens_per_abstract:.0f} tokens (this sample's "
        f"mean) = {pubmed_tokens / 1e9:.1f} G tokens. Per-core steady throughput of each "
        "engine's largest run above, assuming linear scaling across nodes (workers are "
        "independent; the driver only reads text and writes JSON):",
        "",
        "| engine | measured with | tokens/s per core | core-hours | hours on 100 cores |",
        "|---|---|---|---|---|",
    ]
    table += [
        f"| {engine} | {e['workers_measured']} workers | {e['tokens_per_second_per_core']:,.0f} "
        f"| {e['core_hours']:,.0f} | {e['hours_on_100_cores']:,.1f} |"
        for engine, e in estimate.items()
    ]
    write_report("annotate", record, table)


def documents_for(size_bytes: int) -> Iterator[tuple[str, int, int]]:
    """TIGR2ESS full texts, one per line, repeated until `size_bytes` are written.

    Yields (line, sentences, tokens); each distinct line is tokenized once (on its first
    pass), so counting a 1 GB input costs one pass over the source.
    """
    from bioner.text import Tokenizer

    tokenizer = Tokenizer()
    source = SHARED / "unlabeled" / "TIGR2ESS-EuropePMC" / "text.txt.gz"
    counts: list[tuple[int, int]] = []
    written = 0
    while True:
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if written >= size_bytes:
                    return
                if index == len(counts):
                    sentences = tokenizer.tokenize(line.rstrip("\n"))
                    counts.append((len(sentences), sum(len(s) for s in sentences)))
                written += len(line.encode())
                yield line, *counts[index]


def large(args: argparse.Namespace) -> None:
    size = int(args.large_mb * 1e6)
    workers = args.workers[0]
    with tempfile.TemporaryDirectory() as folder:
        text = Path(folder) / "large.txt"
        n_sentences = n_tokens = 0
        with text.open("w", encoding="utf-8") as handle:
            for line, sentences, tokens in documents_for(size):
                handle.write(line)
                n_sentences += sentences
                n_tokens += tokens
        n_bytes = text.stat().st_size
        output = Path(folder) / "large.jsonl"
        seconds, samples = timed_run(
            annotate_command(text, output, workers, "local"), sample_every=1.0
        )
        documents = sum(1 for _ in output.open())
    decile = max(1, len(samples) // 10)
    profile = [
        {
            "from_s": samples[i][0],
            "to_s": samples[min(i + decile, len(samples)) - 1][0],
            "max_rss_mb": max(mb for _, mb in samples[i : i + decile]),
        }
        for i in range(0, len(samples), decile)
    ]
    command_line = "python benchmarks/bench_annotate.py " + " ".join(sys.argv[1:])
    record = {
        "command": command_line,
        "bytes": n_bytes,
        "documents": documents,
        "workers": workers,
        "seconds": seconds,
        "sentences": n_sentences,
        "tokens": n_tokens,
        "tokens_per_second": n_tokens / seconds,
        "sentences_per_second": n_sentences / seconds,
        "megabytes_per_second": n_bytes / 1e6 / seconds,
        "peak_rss_mb": max(mb for _, mb in samples),
        "rss_by_tenth_of_the_run": profile,
        "samples": samples,
    }
    table = [
        "# Memory while annotating a large input (raw text → JSON Lines)",
        "",
        f"Command: `{command_line}`",
        "",
        f"{n_bytes / 1e6:.0f} MB of full-text articles ({documents} documents, one per line, "
        f"TIGR2ESS-EuropePMC repeated; {n_sentences:,} sentences, {n_tokens:,} tokens), "
        f"--workers {workers}: {seconds:.0f} s end to end, **{n_tokens / seconds:,.0f} "
        f"tokens/s**, {n_sentences / seconds:,.0f} sentences/s, {n_bytes / 1e6 / seconds:.2f} "
        f"MB/s; peak RSS {max(mb for _, mb in samples):,.0f} MB. RSS of the command and its "
        "workers, summed, sampled every second; the largest sample in each tenth of the run:",
        "",
        "| from s | to s | max RSS MB |",
        "|---|---|---|",
    ]
    table += [f"| {p['from_s']:.0f} | {p['to_s']:.0f} | {p['max_rss_mb']:.0f} |" for p in profile]
    write_report("annotate_large", record, table)
    print("\n".join(table))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ray", type=int, nargs="*", default=[], help="Ray worker counts")
    parser.add_argument("--large-mb", type=float, help="stream this many MB instead")
    args = parser.parse_args()
    if args.large_mb:
        large(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
