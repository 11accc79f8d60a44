"""How the default tagger's document rules scale with the length of one document.

Why: a full-text article is often one line, so one document can be hundreds of kilobytes;
the rules (`abbreviations`, `repeats`, `variants`) see the whole document at once, and any
step that is quadratic in its length shows only there. The three longest TIGR2ESS-EuropePMC
full texts are joined into one text; for each length its prefix is tokenized as the tagger
does, each head's spans are predicted once without rules, and the model's rules then run on
each head's spans alone, as `Tagger.predict_documents` runs them. `--random-lengths` adds
documents of random nucleotide-like characters (`ACGTNacgt-_/`, seed 0): short tokens that
recur everywhere, the worst case for finding a name's repeats. Only the rules are timed
(one thread, wall clock); a digest of the resulting spans (offsets and types) shows that two
code versions agree.

    .venv/bin/python benchmarks/document_rules_speed.py --lengths 62500 250000 1000000 \
        --random-lengths 400000

Writes benchmarks/results/document_rules_speed.{json,md}; `--name` writes another stem (the
code before a change, run with PYTHONPATH set to a worktree of it, under `--name ..._before`).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from bench_train_corpora import SHARED
from default_tagger import save_report

import bioner
from bioner.data.document import Document
from bioner.postprocessing import apply_rule_sets
from bioner.tagger import Tagger
from bioner.text import make_tokenizer


def long_text(characters: int) -> str:
    """The three longest TIGR2ESS-EuropePMC full texts, joined by spaces, cut to a length."""
    with gzip.open(SHARED / "unlabeled/TIGR2ESS-EuropePMC/text.txt.gz", "rt") as lines:
        longest = sorted((line.strip() for line in lines), key=len, reverse=True)[:3]
    text = " ".join(longest)
    if len(text) < characters:
        sys.exit(f"the three longest full texts hold only {len(text)} characters")
    return text[:characters]


def random_text(characters: int) -> str:
    """Random nucleotide-like text: short tokens recurring everywhere (seed 0)."""
    rng = random.Random(0)
    return "".join(rng.choice("ACGTNacgt-_/") for _ in range(characters))


def code_version() -> str:
    """The git commit of the `bioner` package that ran (a worktree via PYTHONPATH or this one)."""
    folder = Path(bioner.__file__).parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted changes" if git("status", "--porcelain", "src") else "")


def time_rules(tagger: Tagger, document: Document) -> dict[str, Any]:
    """Each head's raw spans, then its rules timed; spans before/after, seconds, a digest."""
    rules = list(tagger.postprocess)
    tagger.postprocess = []
    digest = hashlib.sha1()
    heads: dict[str, Any] = {}
    try:
        for head in tagger.tags:
            [predicted] = tagger.predict_documents([document], heads=[head])
            started = time.perf_counter()
            [ruled] = apply_rule_sets([predicted], rules, tagger.labels([head]), head)
            seconds = time.perf_counter() - started
            spans = [(s.start, s.end, s.label) for s in ruled.spans]
            digest.update(repr(spans).encode())
            heads[head] = {
                "spans_before": len(predicted.spans),
                "spans_after": len(spans),
                "seconds": round(seconds, 3),
            }
    finally:
        tagger.postprocess = rules
    total = sum(h["seconds"] for h in heads.values())
    return {"heads": heads, "seconds": round(total, 3), "digest": digest.hexdigest()[:16]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[62_500, 250_000, 1_000_000])
    parser.add_argument("--random-lengths", type=int, nargs="*", default=[])
    parser.add_argument("--name", default="document_rules_speed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tagger = Tagger.load("default")
    tokenizer = make_tokenizer(tagger.config.data.tokenizer)
    text = long_text(max(args.lengths))
    documents = [
        ("full text", tokenizer.to_document(text[:length], f"first-{length}"))
        for length in sorted(args.lengths)
    ]
    documents += [
        ("random", tokenizer.to_document(random_text(length), f"random-{length}"))
        for length in sorted(args.random_lengths)
    ]
    rows = []
    for kind, document in documents:
        tokens = sum(len(sentence.tokens) for sentence in document.sentences)
        row = {
            "text": kind,
            "characters": len(document.text),
            "tokens": tokens,
            **time_rules(tagger, document),
        }
        rows.append(row)
        print(f"{kind} {row['characters']:>9,} characters: {row['seconds']:.2f} s", flush=True)
    command = "python benchmarks/document_rules_speed.py " + " ".join(sys.argv[1:])
    heads = list(rows[0]["heads"])
    version = code_version()
    in_repo = Path(__file__).resolve().parents[1] in Path(bioner.__file__).resolve().parents
    lines = [
        "# Document rules on one long document: seconds per head (one thread)",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Code: `bioner` at commit {version}"
        + ("" if in_repo else " (`PYTHONPATH` set to a worktree of it)"),
        "",
        "Rules: the bundled default tagger's `postprocess` "
        f"(`{', '.join(tagger.postprocess)}`), each head's on that head's own spans.",
        "",
        "| text | characters | tokens | " + " | ".join(heads) + " | total | spans digest |",
        "|---|---:|---:|" + "---:|" * len(heads) + "---:|---|",
    ]
    for row in rows:
        cells = " | ".join(f"{row['heads'][h]['seconds']:.2f}" for h in heads)
        lines.append(
            f"| {row['text']} | {row['characters']:,} | {row['tokens']:,} | {cells} "
            f"| {row['seconds']:.2f} "
            f"| `{row['digest']}` |"
        )
    save_report(args.name, {"command": command.strip(), "code": version, "rows": rows}, lines)


if __name__ == "__main__":
    main()
