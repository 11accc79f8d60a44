"""Inference throughput of trained taggers on the test splits, warm, on this CPU.

Reproduce (after bench_train_corpora.py has trained the models):

    .venv/bin/python benchmarks/bench_inference.py --preset saber-baseline \
        --corpora NCBI-disease BC5CDR-chem BC5CDR-disease LINNAEUS BC2GM JNLPBA --threads 2

For each corpus the test split (already tokenized) is tagged once to warm up, then `--repeats`
more times; the table reports the median pass, in sentences/s and tokens/s, with CRF Viterbi
decoding and per-token marginals (the confidence scores) included. Model loading and corpus
reading are not timed. Writes `benchmarks/results/inference-<preset>.{json,md}`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench_train_corpora import RESULTS, SHARED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="saber-baseline")
    parser.add_argument("--corpora", nargs="+", default=["NCBI-disease"])
    parser.add_argument("--runs", default="runs/bench")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-tokens", type=int, default=8000)
    args = parser.parse_args()

    import torch

    from bioner.data.corpus import load_corpus
    from bioner.tagger import Tagger

    torch.set_num_threads(args.threads)
    rows = []
    for corpus in args.corpora:
        tagger = Tagger.load(f"{args.runs}/{args.preset}/{corpus}/model")
        documents = list(load_corpus(SHARED / "corpora" / corpus).documents("test"))
        sentences = sum(len(d.sentences) for d in documents)
        tokens = sum(len(s) for d in documents for s in d.sentences)
        tagger.predict_documents(documents, batch_tokens=args.batch_tokens)
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            tagger.predict_documents(documents, batch_tokens=args.batch_tokens)
            seconds.append(time.perf_counter() - started)
        median = statistics.median(seconds)
        rows.append(
            {
                "corpus": corpus,
                "sentences": sentences,
                "tokens": tokens,
                "median_seconds": median,
                "sentences_per_second": sentences / median,
                "tokens_per_second": tokens / median,
            }
        )
        print(f"[{corpus}] {sentences / median:.0f} sentences/s, {tokens / median:.0f} tokens/s")
    command = (
        f"python benchmarks/bench_inference.py --preset {args.preset} --corpora "
        f"{' '.join(args.corpora)} --threads {args.threads} --repeats {args.repeats} "
        f"--batch-tokens {args.batch_tokens}"
    )
    name = f"inference-{args.preset}"
    (RESULTS / f"{name}.json").write_text(json.dumps({"command": command, "runs": rows}, indent=2))
    lines = [
        f"# Inference throughput: {args.preset}",
        "",
        f"Command: `{command}`",
        "",
        f"Test splits, warm (one untimed pass first), median of {args.repeats} passes, "
        f"{args.threads} torch threads, Viterbi + marginals.",
        "",
        "| corpus | sentences | tokens | sentences/s | tokens/s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['corpus']} | {r['sentences']} | {r['tokens']} | {r['sentences_per_second']:.0f} "
        f"| {r['tokens_per_second']:.0f} |"
        for r in rows
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
