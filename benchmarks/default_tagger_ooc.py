"""The bundled default tagger on corpora none of its heads was trained or tuned on.

Why a script of its own: a text miner runs the default tagger on text unlike its training
corpora, and the in-corpus figures (benchmarks/default_tagger.py) overstate what it gets
there. Each target is the test split of a staged corpus whose type is one the model outputs
under another name and another guideline: NCBI-disease (diseases; BC5CDR's head was trained
on other abstracts), CRAFT's full-text articles (chemicals, genes and gene products, species,
cells) and BioNLP 2013 Cancer Genetics (the same four kinds of entity in cancer abstracts).
Nothing here was used to choose anything in the model.

The model runs as `bioner annotate --types ...` runs it: only the heads that output the asked
types, which compete among themselves. Gold and predicted types are renamed to one name
(e.g. CRAFT's `GGP` and the model's `GENE` both to `gene`) and scored exact and
right-boundary (Sachan/Saber report both; guidelines often differ on a mention's left edge:
`human insulin` against `insulin`). Where two of the model's types cover the gold type
(`GENE` alone, or `GENE` with JNLPBA's `protein` / `DNA` / `RNA`) both are listed. Exact
recall is also split by whether a gold mention's text was a mention of the asked types in the
training split of a corpus the model was trained on (`seen`, case-sensitive) or not: a model
that generalizes finds unseen names too, one that memorized finds only the seen ones.
NCBI-disease is read from its original release: raw abstracts, tokenized as the model was
trained (what a text miner gives it), all four of its mention classes scored as diseases.
CRAFT and BioNLP 2013 exist here only as CoNLL files, whose text is the tokens joined by
spaces (`A - T`, `( DM )`) and which have no document boundaries: they are tagged sentence
by sentence, as tokenized there.

Reproduce:

    .venv/bin/python benchmarks/default_tagger_ooc.py

Writes benchmarks/results/default_tagger_ooc.{json,md}.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from default_tagger import SHARED, save_report, trained_splits

NAME = "default_tagger_ooc"


@dataclass(frozen=True)
class Target:
    """A test split, its gold type, the common name both sides get, and model type sets."""

    corpus: str  # folder under shared/corpora
    gold: tuple[str, ...]  # the corpus's types that count
    name: str  # what gold and predicted types are renamed to
    choices: tuple[tuple[str, ...], ...]  # the model's types to ask for, one scored row each
    raw: str | None = None  # a raw-text release of the test split (under shared/corpora)


CELLS = (("cell_type",), ("cell_type", "cell_line"))
GENES = (("GENE",), ("GENE", "protein", "DNA", "RNA"))
TARGETS: tuple[Target, ...] = (
    Target(
        "NCBI-disease",
        ("SpecificDisease", "DiseaseClass", "Modifier", "CompositeMention"),
        "disease",
        (("Disease",),),
        "NCBI-disease/original/NCBItestset_corpus.txt",
    ),
    Target("CRAFT-chem", ("CHEBI",), "chemical", (("Chemical",),)),
    Target("CRAFT-ggp", ("GGP",), "gene", GENES),
    Target("CRAFT-species", ("NCBITaxon",), "species", (("Species",),)),
    Target("CRAFT-cell", ("CL",), "cell", CELLS),
    Target("extra-MTL/BioNLP13CG", ("Simple_chemical",), "chemical", (("Chemical",),)),
    Target("extra-MTL/BioNLP13CG", ("Gene_or_gene_product",), "gene", GENES),
    Target("extra-MTL/BioNLP13CG", ("Organism",), "species", (("Species",),)),
    Target("extra-MTL/BioNLP13CG", ("Cell",), "cell", CELLS),
)


def test_documents(target: Target, tokenizer: str) -> list[Any]:
    """The target's test split as the model sees it (raw text: tokenized by `tokenizer`)."""
    from bioner.data.formats import read_documents
    from bioner.text import make_tokenizer
    from bioner.training.data import ensure_tokenized

    if target.raw is None:
        return list(read_documents(SHARED / "corpora" / target.corpus / "test.tsv"))
    raw = list(read_documents(SHARED / "corpora" / target.raw))
    return ensure_tokenized(raw, make_tokenizer(tokenizer))


def training_mentions(tagger: Any) -> list[Any]:
    """The training splits of the model's corpora, as its heads were trained on them."""
    return [document for head in tagger.tags for document in trained_splits(tagger, head).train]


def score_target(
    tagger: Any, target: Target, documents: list[Any], train: list[Any]
) -> list[dict[str, Any]]:
    """One row per type set of `target.choices`: exact and right-boundary P / R / F1, and
    exact recall on gold mentions seen / unseen as mentions of those types in `train`."""
    from bioner.evaluation.evaluator import evaluate_documents
    from bioner.training.data import relabel

    rows = []
    for types in target.choices:
        started = time.perf_counter()
        predicted = tagger.predict_documents(documents, types=types)
        seconds = time.perf_counter() - started
        renames = {**dict.fromkeys(target.gold, target.name), **dict.fromkeys(types, target.name)}
        row: dict[str, Any] = {
            "corpus": target.corpus + (" (raw text)" if target.raw else ""),
            "gold": list(target.gold),
            "types": list(types),
            "mentions": sum(1 for d in documents for s in d.spans if s.label in target.gold),
            "seconds": seconds,
        }
        seen_in = relabel(train, {}, types)
        for mode in ("exact", "right"):
            result = evaluate_documents(
                documents,
                predicted,
                mode=mode,
                label_map=renames,
                types=[target.name],
                train_docs=seen_in if mode == "exact" else None,
            )
            micro = result.micro
            row[mode] = {"precision": micro.precision, "recall": micro.recall, "f1": micro.f1}
            if result.seen_unseen is not None:
                for part in ("seen", "unseen"):
                    count = getattr(result.seen_unseen, part)
                    row[part] = {"mentions": count.total, "recall": count.recall}
        rows.append(row)
        print(target.corpus, types, f"{100 * row['exact']['f1']:.2f}")
    return rows


def write_report(report: dict[str, Any]) -> None:
    lines = [
        "# Default tagger out of corpus: test splits no head was trained or tuned on",
        "",
        "The bundled model with its rules, asked for the listed types only (as `bioner "
        "annotate --types`); gold and predicted types renamed to one name. P / R / F1 (%), "
        "exact and right-boundary matching. NCBI-disease: its original raw abstracts, "
        "tokenized as the model was trained; CRAFT and BioNLP 2013 CG: their CoNLL sentences.",
        "",
        f"Command: `{report['command']}`",
        "",
        "| corpus | gold type | model types | gold mentions | exact P / R / F1 | right F1 "
        "| seen: share, recall | unseen recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        exact = " / ".join(f"{100 * row['exact'][k]:.2f}" for k in ("precision", "recall", "f1"))
        lines.append(
            f"| {row['corpus']} | {', '.join(row['gold'])} | {', '.join(row['types'])} | "
            f"{row['mentions']:,} | {exact} | {100 * row['right']['f1']:.2f} | "
            f"{100 * row['seen']['mentions'] / row['mentions']:.0f} %, "
            f"{100 * row['seen']['recall']:.2f} | {100 * row['unseen']['recall']:.2f} |"
        )
    save_report(NAME, report, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="a model folder or 'default'")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from bioner.tagger import Tagger

    torch.set_num_threads(args.threads)
    tagger = Tagger.load(args.model)
    train = training_mentions(tagger)
    rows: list[dict[str, Any]] = []
    loaded: dict[tuple[str, str | None], list[Any]] = {}
    for target in TARGETS:
        key = (target.corpus, target.raw)
        if key not in loaded:
            loaded[key] = test_documents(target, tagger.config.data.tokenizer)
        rows += score_target(tagger, target, loaded[key], train)
    command = "python benchmarks/default_tagger_ooc.py"
    if args.model != "default":
        command += f" --model {args.model}"
    write_report({"command": command, "model": args.model, "rows": rows})


if __name__ == "__main__":
    main()
