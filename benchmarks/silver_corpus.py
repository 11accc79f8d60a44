"""A silver corpus: unlabeled documents tagged by a vote of trained taggers.

Saber (§2.4, §2.7) first trains on the CALBC silver-standard corpus, a machine-annotated
corpus, and then on the gold one. CALBC is not available here (../shared/corpora/README.md,
"Missing"), so this builds the project's own silver corpus from the unlabeled text: documents
of the `--sources` folders (`*.txt.gz`, one per line, read as `bioner pretrain --sources`
reads them; ../shared/unlabeled is filtered against every corpus's
devel and test text), every `--every`-th one kept, tagged by `bioner predict` with a strict
majority vote of the `--model` taggers (each trained on a gold training split), written as a
corpus folder (`train.tsv`, `devel.tsv`: every `--devel-every`-th kept document) that
`bioner train` and `pretraining_ablation.py --corpus-path NAME=FOLDER --transfer TARGET=NAME`
read. The devel split is silver too: it only chooses the source model's epoch.

Reproduce (the NCBI-disease silver corpus of docs/pretraining.md, "A silver corpus"):

    .venv/bin/python benchmarks/silver_corpus.py runs/silver/NCBI-silver \\
        --sources ../shared/unlabeled/OHSUMED ../shared/unlabeled/MedicalAbstractsTC \\
        --every 3 --model runs/sachan_full_bilm/bilm/NCBI-disease/seed1/model \\
        runs/sachan_full_bilm/bilm/NCBI-disease/seed2/model \\
        runs/sachan_full_bilm/random/NCBI-disease/seed1/model \\
        runs/sachan_full_bilm/random/NCBI-disease/seed2/model --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bioner.data.atomic import atomic_write
from bioner.data.formats.conll import count_conll
from bioner.errors import BionerError
from bioner.pretraining.text_source import UnlabeledSource


def sampled_documents(sources: list[UnlabeledSource], every: int) -> list[dict[str, str]]:
    """Every `every`-th non-empty document of the sources, read in the order given."""
    documents: list[dict[str, str]] = []
    position = 0
    for source in sources:
        for index, text in enumerate(source.lines(), start=1):
            if position % every == 0:
                documents.append({"id": f"{source.name}:{index}", "text": text})
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
    parser.add_argument(
        "--sources", nargs="+", type=Path, required=True, help="folders of *.txt.gz documents"
    )
    parser.add_argument("--model", nargs="+", required=True, help="teacher tagger(s); they vote")
    parser.add_argument("--every", type=int, default=1, help="keep every N-th document")
    parser.add_argument("--devel-every", type=int, default=20, help="every N-th kept → devel")
    parser.add_argument("--jobs", type=int, default=1, help="parallel one-thread predictors")
    args = parser.parse_args()
    if args.output.exists():
        sys.exit(f"{args.output} exists; choose a new folder")
    started = time.perf_counter()
    try:
        documents = sampled_documents([UnlabeledSource(s) for s in args.sources], args.every)
    except BionerError as error:
        sys.exit(f"--sources: {error}")
    splits: dict[str, list[dict[str, str]]] = {"train": [], "devel": []}
    for index, document in enumerate(documents):
        held_out = index % args.devel_every == args.devel_every - 1
        splits["devel" if held_out else "train"].append(document)
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
            with atomic_write(args.output / f"{split}.tsv") as stream:
                stream.write(predict(chosen, args.model, args.jobs, work))
            _, sentences, _, per_type = count_conll(args.output / f"{split}.tsv")
            mentions = sum(per_type.values())
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
