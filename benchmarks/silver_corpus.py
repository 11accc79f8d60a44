"""A silver corpus: unlabeled abstracts tagged by a vote of trained taggers.

Saber (§2.4, §2.7) first trains on the CALBC silver-standard corpus, a machine-annotated
corpus, and then on the gold one. CALBC is not available here (../shared/corpora/README.md,
"Missing"), so this builds the project's own silver corpus from the unlabeled text: documents
of `--sources` (one per line, gzip; ../shared/unlabeled is filtered against every corpus's
devel and test text), every `--every`-th one kept, tagged by `bioner predict` with a strict
majority vote of the `--model` taggers (each trained on a gold training split), written as a
corpus folder (`train.tsv`, `devel.tsv`: every `--devel-every`-th kept document) that
`bioner train` and `pretraining_ablation.py --corpus-path NAME=FOLDER --transfer TARGET=NAME`
read. The devel split is silver too: it only chooses the source model's epoch.

Reproduce (the NCBI-disease silver corpus of docs/pretraining.md, "A silver corpus"):

    .venv/bin/python benchmarks/silver_corpus.py runs/silver/NCBI-silver \\
        --sources ../shared/unlabeled/OHSUMED/abstracts.txt.gz \\
                  ../shared/unlabeled/MedicalAbstractsTC/abstracts.txt.gz \\
        --every 3 --model runs/sachan_full_bilm/bilm/NCBI-disease/seed1/model \\
        runs/sachan_full_bilm/bilm/NCBI-disease/seed2/model \\
        runs/sachan_full_bilm/random/NCBI-disease/seed1/model \\
        runs/sachan_full_bilm/random/NCBI-disease/seed2/model --jobs 2
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bioner.data.atomic import atomic_write


def sampled_documents(sources: list[Path], every: int) -> list[dict[str, str]]:
    """Every `every`-th non-empty document of the sources, read in the order given."""
    documents: list[dict[str, str]] = []
    position = 0
    for source in sources:
        with gzip.open(source, "rt", encoding="utf-8") as stream:
            for line_number, line in enumerate(stream, start=1):
                text = line.rstrip("\n")
                if not text.strip():
                    continue
                if position % every == 0:
                    documents.append({"id": f"{source.parent.name}:{line_number}", "text": text})
                position += 1
    return documents


def predict(documents: list[dict[str, str]], models: list[str], jobs: int, work: Path) -> str:
    """CoNLL text of the documents as the models' vote tags them, in the documents' order.

    The documents are cut into `jobs` consecutive shards, each tagged by its own one-thread
    `bioner predict` process; the shards' outputs are joined in order.
    """
    size = -(-len(documents) // jobs)
    shards = [documents[i : i + size] for i in range(0, len(documents), size)]
    processes = []
    for index, shard in enumerate(shards):
        source = work / f"shard{index}.jsonl"
        source.write_text("".join(json.dumps(d) + "\n" for d in shard), encoding="utf-8")
        command = [sys.executable, "-c", "from bioner.cli.app import main; main()", "predict"]
        command += [str(source), "--to", "conll", "-o", str(work / f"shard{index}.tsv")]
        for model in models:
            command += ["-m", model]
        print("$", " ".join(command), flush=True)
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        processes.append(subprocess.Popen(command, env=environment))
    if any(process.wait() != 0 for process in processes):
        sys.exit("bioner predict failed (see above)")
    return "".join((work / f"shard{i}.tsv").read_text(encoding="utf-8") for i in range(len(shards)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="corpus folder to create")
    parser.add_argument("--sources", nargs="+", type=Path, required=True)
    parser.add_argument("--model", nargs="+", required=True, help="teacher tagger(s); they vote")
    parser.add_argument("--every", type=int, default=1, help="keep every N-th document")
    parser.add_argument("--devel-every", type=int, default=20, help="every N-th kept → devel")
    parser.add_argument("--jobs", type=int, default=1, help="parallel one-thread predictors")
    args = parser.parse_args()
    if args.output.exists():
        sys.exit(f"{args.output} exists; choose a new folder")
    for source in args.sources:
        if not source.is_file():
            sys.exit(f"--sources: no file {source}")
    started = time.perf_counter()
    documents = sampled_documents(args.sources, args.every)
    splits = {
        "train": [
            d for i, d in enumerate(documents) if i % args.devel_every != args.devel_every - 1
        ],
        "devel": [
            d for i, d in enumerate(documents) if i % args.devel_every == args.devel_every - 1
        ],
    }
    args.output.mkdir(parents=True)
    record: dict = {
        "command": "python " + " ".join(sys.argv),
        "teachers": args.model,
        "sources": [str(s) for s in args.sources],
        "splits": {},
    }
    with tempfile.TemporaryDirectory(prefix="silver-") as temporary:
        for split, chosen in splits.items():
            work = Path(temporary) / split
            work.mkdir()
            conll = predict(chosen, args.model, args.jobs, work)
            with atomic_write(args.output / f"{split}.tsv") as stream:
                stream.write(conll)
            lines = conll.splitlines()
            sentences = sum(1 for line in lines if not line)
            mentions = sum(1 for line in lines if line.split("\t")[-1].startswith("B-"))
            record["splits"][split] = {
                "documents": len(chosen),
                "sentences": sentences,
                "mentions": mentions,
            }
            print(f"{split}: {len(chosen)} documents, {sentences} sentences, {mentions} mentions")
    record["seconds"] = round(time.perf_counter() - started, 1)
    with atomic_write(args.output / "silver.json") as stream:
        json.dump(record, stream, indent=2)
        stream.write("\n")


if __name__ == "__main__":
    main()
