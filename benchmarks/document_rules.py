"""Document-level rules (`abbreviations`, `repeats`) on finished BC5CDR, NCBI and JNLPBA taggers.

Why a script of its own: the rules run on models that benchmarks/pretraining_ablation.py
already trained, so nothing is retrained. The CoNLL files have no document boundaries, so
the gold and predicted sentences are put back into their abstracts with the corpus's own
PubTator release (`bioner.data.regroup`) before the rules run (JNLPBA keeps its abstracts
in the CoNLL file); exact-match scores are then the same mentions the ablation counts.

How the rules were chosen without the test set: each rule configuration is scored on devel
with the dev-selected models (`word2vec` cells, best epoch on devel); the configuration with
the best mean devel F1 over those models is the one reported, and test F1 is listed for every
configuration and every model, the refit models (trained on train + devel, so no devel score)
included. A `vote<n>` system is the strict-majority vote (`bioner.ensemble`) of a family's n
seeds, or of every dev-selected (`all`) or refit (`all-refit`) model of the corpus;
`vote<n> min<k>` keeps the spans at least k of them predict, for every k above the majority
(below it two kept spans could overlap), so devel also chooses how many votes a span needs.

Reproduce (after the pretraining_ablation.py cells it reads have trained):

    .venv/bin/python benchmarks/document_rules.py

Writes benchmarks/results/document_rules.{json,md}; predictions are cached under
runs/document_rules/ (delete them after retraining a model).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BIONER_SHARED", ROOT.parent / "shared"))
NAME = "document_rules"
# Corpus → the PubTator release its CoNLL sentences were cut from, per split; None: the
# CoNLL file's own documents (JNLPBA's -DOCSTART- abstracts; BC2GM's single sentences).
REFERENCES: dict[str, dict[str, str] | None] = {
    "BC5CDR-chem": {
        "devel": "BC5CDR/original/CDR_DevelopmentSet.PubTator.txt",
        "test": "BC5CDR/original/CDR_TestSet.PubTator.txt",
    },
    "BC5CDR-disease": {
        "devel": "BC5CDR/original/CDR_DevelopmentSet.PubTator.txt",
        "test": "BC5CDR/original/CDR_TestSet.PubTator.txt",
    },
    "NCBI-disease": {
        "devel": "NCBI-disease/original/NCBIdevelopset_corpus.txt",
        "test": "NCBI-disease/original/NCBItestset_corpus.txt",
    },
    "BC5CDR": {
        "devel": "BC5CDR/original/CDR_DevelopmentSet.PubTator.txt",
        "test": "BC5CDR/original/CDR_TestSet.PubTator.txt",
    },
    "JNLPBA": None,
    # BC2GM is a corpus of single sentences: the "document" is the sentence.
    "BC2GM": None,
}
# The bundled default tagger's head for a corpus (scored as `bioner annotate` runs that head).
DEFAULT_TAGGER_HEADS = {"BC5CDR": "BC5CDR", "JNLPBA": "JNLPBA"}
# Sachan's Table 3 starts: random weights, the forward / backward half of the BiLM, both.
TABLE3_STARTS = ("random", "lmf", "lmb", "bilm")


def per_start(
    family: str, folder: str, dev_selected: bool, starts: tuple[str, ...] = TABLE3_STARTS
) -> dict[str, tuple[str, bool]]:
    """One family per Table 3 start; `{start}` in `family` and `folder` names the start."""
    return {family.format(start=s): (folder.format(start=s), dev_selected) for s in starts}


# Model families: name → (runs directory, dev-selected?). Seeds are the seed<k> folders there.
FAMILIES = {
    "word2vec": ("runs/pretraining_ablation/word2vec", True),
    "word2vec-lower": ("runs/pretraining_ablation_lower/word2vec", True),
    "word2vec-refit": ("runs/pretraining_ablation/word2vec-refit", False),
    "word2vec-lower-refit": ("runs/pretraining_ablation_lower/word2vec-refit", False),
    # Sachan Table 3 on NCBI-disease and BC5CDR (benchmarks/results/sachan_table3.md):
    # sachan-cnn with word2vec, from random weights or the transferred LM(s).
    **per_start("sachan-{start}", "runs/sachan_table3/{start}", True),
    # The same recipes with up to 30 epochs (the 10-epoch runs were still improving at epoch
    # 10), NCBI-disease only (benchmarks/results/sachan_table3_long.md).
    **per_start("sachan-{start}-long", "runs/sachan_table3_long/{start}", True, ("lmb", "bilm")),
    # Table 3 again with the BiLM pretrained on 20 M tokens (stopped at 11 M, best held-out
    # perplexity at 6.2 M) instead of 3 M: runs/pretrain/bilm-20m, docs/pretraining.md.
    **per_start("sachan20m-{start}", "runs/sachan_table3_20m/{start}", True),
    # Their refits on BC5CDR-disease train + devel, made as `--source-refit` sources.
    **per_start("sachan20m-{start}-refit", "runs/sachan_table3_20m/{start}-refit", False),
    # Transfer learning: each of those recipes trained first on a corpus of the same entity
    # type (NCBI-disease ← BC5CDR or BC5CDR-disease, BC2GM ← CRAFT-ggp), then on the target
    # (`--transfer`).
    **per_start("sachan20m-{start}-tl", "runs/sachan_table3_20m/{start}-from-BC5CDR", True),
    **per_start(
        "sachan20m-{start}-tl-disease", "runs/sachan_table3_20m/{start}-from-BC5CDR-disease", True
    ),
    # The source trained on BC5CDR-disease train + devel (`--source-refit`); NCBI-disease's
    # own devel still picks the epoch, so these are dev-selected (not `-refit` counterparts).
    **per_start(
        "sachan20m-{start}-tl-disease-srcrefit",
        "runs/sachan_table3_20m/{start}-from-BC5CDR-disease-refit",
        True,
    ),
    "sachan20m-lmb-tl-craft": ("runs/sachan_table3_20m/lmb-from-CRAFT-ggp", True),
    # The same 20 M-token recipes with Sachan's IOBES tags (§3.1) instead of IOB2
    # (benchmarks/results/sachan_bioes_20m.md), directly and with BC5CDR-disease first.
    **per_start("sachan20m-bioes-{start}", "runs/sachan_bioes_20m/{start}", True),
    **per_start(
        "sachan20m-bioes-{start}-tl-disease",
        "runs/sachan_bioes_20m/{start}-from-BC5CDR-disease",
        True,
        ("random", "lmb"),
    ),
    # BC2GM's 10-epoch IOBES runs peaked at epochs 8-10: LM_b again with Sachan's 50-epoch
    # cap (patience 3) from a rebuilt BiLM and word2vec, and its refits on train + devel.
    "sachan20m-bioes-lmb-e50": ("runs/sachan_bioes_20m_e50/lmb", True),
    "sachan20m-bioes-lmb-e50-refit": ("runs/sachan_bioes_20m_e50/lmb-refit", False),
    # IOBES LM_b on NCBI-disease again, from the rebuilt BiLM and word2vec (a reproduction).
    "sachan20m-bioes-lmb-rebuilt": ("runs/sachan_bioes_20m_rebuilt/lmb", True),
    # LM_f and BiLM with BC5CDR-disease first, IOBES, from the same rebuilt resources.
    **per_start(
        "sachan20m-bioes-{start}-tl-disease-rebuilt",
        "runs/sachan_bioes_20m_rebuilt/{start}-from-BC5CDR-disease",
        True,
        ("lmf", "bilm"),
    ),
    # Sachan's final training: the BiLM family above, the same BC5CDR-disease source models,
    # then NCBI-disease train + devel for the epoch count each seed chose on devel.
    "sachan20m-bioes-bilm-tl-disease-rebuilt-refit": (
        "runs/sachan_bioes_20m_rebuilt/bilm-refit-from-BC5CDR-disease",
        False,
    ),
    # BiLM with a BC5CDR-disease train + devel source (`--source-refit`), rebuilt resources.
    "sachan20m-bioes-bilm-tl-disease-srcrefit-rebuilt": (
        "runs/sachan_bioes_20m_rebuilt/bilm-from-BC5CDR-disease-refit",
        True,
    ),
    # Full-size sachan-cnn (300-d cased word2vec) from random weights or the full-size BiLM
    # (benchmarks/results/sachan_full_bilm.md).
    **per_start("sachan-full-{start}", "runs/sachan_full_bilm/{start}", True, ("random", "bilm")),
    # The silver-corpus study (benchmarks/results/silver_transfer.md): shrunken IOBES
    # sachan-cnn with w2v-cased-100 from random weights, and the same recipe trained first on
    # a silver corpus of unlabeled text tagged by a vote of gold-trained taggers.
    "silver-none": ("runs/silver_transfer/random", True),
    "silver-first": ("runs/silver_transfer/random-from-NCBI-silver", True),
    "silver-round2": ("runs/silver_transfer/random-from-NCBI-silver2", True),
    "silver-first-gene": ("runs/silver_transfer/random-from-BC2GM-silver", True),
    # Round two's students refitted on NCBI-disease train + devel (`--refit`), and the silver
    # step started from the 20 M-token BiLM's backward LM instead of random weights (LM_b).
    "silver-round2-refit": ("runs/silver_transfer/random-refit-from-NCBI-silver2", False),
    "silver-lmb-round2": ("runs/silver_transfer/lmb-from-NCBI-silver2", True),
    "silver-lmb-first-gene": ("runs/silver_transfer/lmb-from-BC2GM-silver", True),
    # LM_b alone from the same BiLM build (BC2GM), the comparison row for silver-lmb-first-gene.
    "silver-lmb-none": ("runs/silver_transfer/lmb", True),
    # BC2GM's four silver-study families refitted on train + devel (`--refit`; a transfer
    # row's refit starts from the same silver source), for the `all-refit` counterpart.
    "silver-none-refit": ("runs/silver_transfer/random-refit", False),
    "silver-first-gene-refit": ("runs/silver_transfer/random-refit-from-BC2GM-silver", False),
    "silver-lmb-first-gene-refit": ("runs/silver_transfer/lmb-refit-from-BC2GM-silver", False),
    "silver-lmb-none-refit": ("runs/silver_transfer/lmb-refit", False),
    # NCBI-disease: LM_b with the fine-tuning settings `bioner tune` chose on devel
    # (benchmarks/results/tuned_ncbi.md), and its refits on train + devel.
    "tuned-lmb": ("runs/tuned_ncbi/lmb", True),
    "tuned-lmb-refit": ("runs/tuned_ncbi/lmb-refit", False),
    # BioNerFlair: the bundled small CPU character LMs + cased word2vec (ablation row).
    "bionerflair": ("runs/pretraining_ablation/bionerflair", True),
    "bionerflair-refit": ("runs/pretraining_ablation/bionerflair-refit", False),
    # The same recipe with the medium character LMs (hidden 512, benchmarks/charlm_medium.py).
    "bionerflair-medium": ("runs/pretraining_ablation/bionerflair-medium", True),
    "bionerflair-medium-refit": ("runs/pretraining_ablation/bionerflair-medium-refit", False),
    # The same recipe with the GPU-trained character LMs (hidden 1024, charlm_large.md).
    "bionerflair-large": ("runs/pretraining_ablation/bionerflair-large", True),
    # That recipe trained on BC5CDR-disease first, then on NCBI-disease (`--transfer`).
    "bionerflair-large-tl-disease": (
        "runs/pretraining_ablation/bionerflair-large-from-BC5CDR-disease",
        True,
    ),
}
CONFIGS = [
    "none",
    "abbreviations",
    "abbreviations-keep",
    "repeats",
    "abbreviations+repeats",
    "repeats+abbreviations",
]


def rule_functions() -> dict[str, Callable[[Any], Any]]:
    """Configuration name → a document → document function (`a+b`: rule set a, then b)."""
    from bioner.postprocessing import apply_rule_sets

    def run(names: list[str]) -> Callable[[Any], Any]:
        return lambda document: apply_rule_sets([document], names)[0]

    return {config: run([] if config == "none" else config.split("+")) for config in CONFIGS}


def predicted(
    model: Path | str, head: str | None, corpus: str, split: str, cache: Path
) -> list[Any]:
    """The model's (or one head's) per-sentence predictions on a split, cached as JSON lines."""
    from bioner.data.formats import read_documents, write_documents
    from bioner.tagger import Tagger

    weights = Path(model) / "weights.safetensors"
    if cache.is_file() and (  # a model retrained since is predicted again
        not weights.is_file() or cache.stat().st_mtime > weights.stat().st_mtime
    ):
        return list(read_documents(cache, "jsonl"))
    documents = list(read_documents(SHARED / "corpora" / corpus / f"{split}.tsv", "conll"))
    tagger = Tagger.load(model)
    tagger.postprocess = []
    started = time.perf_counter()
    out = tagger.predict_documents([d.with_spans([]) for d in documents], [head] if head else None)
    print(f"  {model} on {split}: {time.perf_counter() - started:.0f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    write_documents(out, cache, "jsonl")
    return out


def score(gold: Sequence[Any], pred: Sequence[Any]) -> dict[str, float]:
    from bioner.evaluation.evaluator import evaluate_documents

    overall = evaluate_documents(gold, pred).micro
    return {"precision": overall.precision, "recall": overall.recall, "f1": overall.f1}


@dataclass(frozen=True)
class System:
    """Models whose predictions vote (one: no vote), and how they were selected."""

    models: tuple[Path | str, ...]
    members: tuple[str, ...]  # cache folder per model: <family>/seed<k>, or default/bundled
    dev_selected: bool
    head: str | None = None
    min_votes: int | None = None  # None: a strict majority


def with_thresholds(name: str, system: System) -> dict[str, System]:
    """A vote under its name (strict majority), and as `<name> min<k>` for every k from one
    above the majority to unanimity."""
    count = len(system.models)
    found = {name: system}
    for needed in range(count // 2 + 2, count + 1):
        found[f"{name} min{needed}"] = replace(system, min_votes=needed)
    return found


def systems(corpus: str) -> dict[str, System]:
    """System name → System: each finished seed of each family, the family's vote, the vote
    of every family's seeds together (`all`, `all-refit`), and the bundled default tagger's
    head for the corpus if it has one."""
    found: dict[str, System] = {}
    pooled: dict[bool, list[tuple[Path, str]]] = {True: [], False: []}
    for family, (folder, dev_selected) in FAMILIES.items():
        cells = finished_seeds(folder, corpus)
        members = [(cell / "model", f"{family}/{cell.name}") for cell in cells]
        for model, member in members:
            seed = member.split("/")[1]
            found[f"{family} {seed}"] = System((model,), (member,), dev_selected)
        if len(members) >= 3:
            models, names = zip(*members, strict=True)
            found |= with_thresholds(
                f"{family} vote{len(members)}", System(models, names, dev_selected)
            )
        pooled[dev_selected] += members
    for dev_selected, members in pooled.items():
        families = {name.split("/")[0] for _, name in members}
        if len(families) < 2 or len(members) < 3:
            continue
        models, names = zip(*members, strict=True)
        if not dev_selected and sorted(names) != refit_names(pooled[True]):
            continue  # not the refit counterpart of the `all` vote (a family lacks refits)
        name = "all" if dev_selected else "all-refit"
        found |= with_thresholds(f"{name} vote{len(members)}", System(models, names, dev_selected))
    if corpus in DEFAULT_TAGGER_HEADS:
        found["default tagger"] = System(
            ("default",), ("default/bundled",), True, DEFAULT_TAGGER_HEADS[corpus]
        )
    return found


def finished_seeds(folder: str, corpus: str) -> list[Path]:
    """A family's finished `seed<k>` run folders on a corpus (those with a summary.json)."""
    return sorted(cell.parent for cell in (ROOT / folder / corpus).glob("seed*/summary.json"))


def refit_names(members: Sequence[tuple[Path, str]]) -> list[str]:
    """`word2vec/seed2` → `word2vec-refit/seed2` for every member: the refit counterparts."""
    return sorted(f"{family}-refit/{seed}" for family, seed in (m.split("/") for _, m in members))


def refit_counterpart(system: str) -> str | None:
    """`word2vec seed2` → `word2vec-refit seed2`: that recipe and seed on train + devel;
    `all vote6` → `all-refit vote6` (built only when it pools exactly the refit counterparts
    of the `all` vote's members); `all vote6 min5` → `all-refit vote6 min5`."""
    family, _, member = system.partition(" ")
    known = f"{family}-refit" in FAMILIES or family == "all"
    return f"{family}-refit {member}" if known else None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(REFERENCES))
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / NAME)
    args = parser.parse_args(argv)

    import torch

    from bioner.data.formats import read_documents
    from bioner.data.regroup import regroup
    from bioner.ensemble import vote_spans

    torch.set_num_threads(1)
    rules = rule_functions()
    loaded = functools.cache(predicted)  # a model's split is read once, however many votes
    rows: list[dict[str, Any]] = []
    for corpus in args.corpora:
        for name, system in systems(corpus).items():
            for split in ("devel", "test") if system.dev_selected else ("test",):
                gold_sentences = list(
                    read_documents(SHARED / "corpora" / corpus / f"{split}.tsv", "conll")
                )
                votes = [
                    loaded(
                        model,
                        system.head,
                        corpus,
                        split,
                        args.runs / corpus / member / f"{split}.jsonl",
                    )
                    for model, member in zip(system.models, system.members, strict=True)
                ]
                pred_sentences = (
                    votes[0] if len(votes) == 1 else vote_spans(votes, system.min_votes)
                )
                gold, pred = gold_sentences, pred_sentences
                if REFERENCES[corpus] is not None:
                    references = list(
                        read_documents(SHARED / "corpora" / REFERENCES[corpus][split], "pubtator")
                    )
                    gold = regroup(gold_sentences, references)
                    pred = regroup(pred_sentences, references)
                for config, rule in rules.items():
                    started = time.perf_counter()
                    ruled = [rule(document) for document in pred]
                    seconds = time.perf_counter() - started
                    rows.append(
                        {
                            "corpus": corpus,
                            "system": name,
                            "dev_selected": system.dev_selected,
                            "members": list(system.members),
                            "split": split,
                            "rules": config,
                            "ms_per_document": 1000 * seconds / len(pred),
                            **score(gold, ruled),
                        }
                    )
                print(corpus, name, split, "done", flush=True)
    previous = RESULTS / f"{NAME}.json"
    if previous.is_file():
        rows = merged_rows(json.loads(previous.read_text())["rows"], rows, args.corpora)
    write_report(rows)


def merged_rows(
    earlier: Sequence[dict[str, Any]], fresh: Sequence[dict[str, Any]], corpora: Sequence[str]
) -> list[dict[str, Any]]:
    """The fresh rows, plus the earlier rows this command could not measure again: corpora it
    did not run, and systems with a model no longer on disk (a cleared run folder), marked
    `earlier_run` so the report says so. Dropping those would silently change what devel
    chooses among. An earlier system whose models are all still on disk but that this run
    did not rebuild (a vote over a pool that has grown since) is dropped."""
    rebuilt = {(r["corpus"], r["system"]) for r in fresh}
    one_row_each = {(r["corpus"], r["system"]): r for r in earlier if r["corpus"] in corpora}
    cleared = {
        key
        for key, row in one_row_each.items()
        if key not in rebuilt
        and any(not model_on_disk(key[0], member) for member in row_members(row, earlier))
    }
    kept = [
        row if row["corpus"] not in corpora else {**row, "earlier_run": True}
        for row in earlier
        if row["corpus"] not in corpora or (row["corpus"], row["system"]) in cleared
    ]
    return kept + list(fresh)


def row_members(row: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[str]:
    """The `<family>/seed<k>` models a row's system pooled. Rows written before members were
    recorded are read from their names: a family's vote pools that family's single rows, an
    `all`/`all-refit` vote every single row of the same selection on the corpus."""
    if "members" in row:
        return list(row["members"])
    family, _, member = row["system"].partition(" ")
    if not member.startswith("vote"):
        return [f"{family}/{member}"]
    singles = {
        r["system"].replace(" ", "/")
        for r in rows
        if r["corpus"] == row["corpus"]
        and r["system"].split(" ")[-1].startswith("seed")
        and (
            r["system"].split(" ")[0] == family
            if family not in ("all", "all-refit")
            else r["dev_selected"] == row["dev_selected"]
        )
    }
    return sorted(singles)


def model_on_disk(corpus: str, member: str) -> bool:
    family, _, seed = member.partition("/")
    if family == "default":
        return True  # the bundled default tagger ships with the package
    folder = FAMILIES.get(family)
    return folder is not None and seed in {cell.name for cell in finished_seeds(folder[0], corpus)}


def chosen_config(rows: Sequence[dict[str, Any]], corpus: str) -> str:
    """The configuration with the best mean devel F1 over the corpus's dev-selected singles."""
    means = {}
    for config in CONFIGS:
        values = [
            r["f1"]
            for r in rows
            if r["corpus"] == corpus
            and r["split"] == "devel"
            and r["rules"] == config
            and "vote" not in r["system"]
        ]
        if values:
            means[config] = statistics.mean(values)
    return max(means, key=means.get) if means else "none"


def chosen_system(rows: Sequence[dict[str, Any]], corpus: str, config: str) -> str | None:
    """The dev-selected system (single or vote) with the best devel F1 under `config`."""
    devel = [
        r for r in rows if r["corpus"] == corpus and r["split"] == "devel" and r["rules"] == config
    ]
    return max(devel, key=lambda r: r["f1"])["system"] if devel else None


def test_f1(rows: Sequence[dict[str, Any]], corpus: str, system: str, config: str) -> float | None:
    for r in rows:
        if (r["corpus"], r["system"], r["split"], r["rules"]) == (corpus, system, "test", config):
            return r["f1"]
    return None


def reported(rows: Sequence[dict[str, Any]], corpus: str) -> dict[str, Any]:
    """What the devel choices lead to: rules, system, and its refit counterpart on test."""
    config = chosen_config(rows, corpus)
    system = chosen_system(rows, corpus, config)
    refit = refit_counterpart(system) if system else None
    if refit is not None and test_f1(rows, corpus, refit, "none") is None:
        refit = None  # not trained (e.g. no refit for one of the pooled families)
    return {
        "rules": config,
        "system": system,
        "test_f1_without_rules": test_f1(rows, corpus, system, "none") if system else None,
        "test_f1": test_f1(rows, corpus, system, config) if system else None,
        "refit": refit,
        "refit_test_f1_without_rules": test_f1(rows, corpus, refit, "none") if refit else None,
        "refit_test_f1": test_f1(rows, corpus, refit, config) if refit else None,
    }


def write_report(rows: list[dict[str, Any]]) -> None:
    from bioner.data.atomic import atomic_write

    command = "python benchmarks/document_rules.py"
    corpora = sorted({r["corpus"] for r in rows}, key=list(REFERENCES).index)
    headline = {corpus: reported(rows, corpus) for corpus in corpora}
    chosen = {corpus: headline[corpus]["rules"] for corpus in corpora}
    payload = {"command": command, "reported": headline, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_write(RESULTS / f"{NAME}.json") as stream:
        stream.write(json.dumps(payload, indent=2) + "\n")

    lines = [
        "# Document-level rules: exact-match F1 (%) on devel / test",
        "",
        "Sentences regrouped into their abstracts with the corpus's PubTator release; rules "
        "applied to the finished pretraining-ablation models. A cell is devel / test F1 "
        "(refit models trained on devel: test only). The configuration marked ✓ had the best "
        "mean devel F1 over the dev-selected single models and is the one reported.",
        "",
        f"Command: `{command}`",
        "",
        "Reported: the rules chosen on devel; the dev-selected system (single or vote) with the "
        "best devel F1 under them; that system's refit counterpart (same recipe and seeds on "
        "train + devel for the epoch counts chosen on devel), declared as the reported model "
        "before its score was read. Test F1 without → with the rules. `voteN` is the strict "
        "majority of N models; `voteN minK` keeps the spans at least K of them predict.",
        "",
        "| corpus | rules | chosen on devel | its test F1 | refit counterpart | its test F1 |",
        "|---|---|---|---|---|---|",
    ]

    def pair(before: float | None, after: float | None) -> str:
        if before is None or after is None:
            return "—"
        return f"{100 * before:.2f} → **{100 * after:.2f}**"

    for corpus in corpora:
        h = headline[corpus]
        lines.append(
            f"| {corpus} | {h['rules']} | {h['system']} | "
            f"{pair(h['test_f1_without_rules'], h['test_f1'])} | {h['refit'] or '—'} | "
            f"{pair(h['refit_test_f1_without_rules'], h['refit_test_f1'])} |"
        )
    for corpus in corpora:
        costs = [
            r["ms_per_document"]
            for r in rows
            if r["corpus"] == corpus and r["rules"] == chosen[corpus] and "ms_per_document" in r
        ]
        cost = (
            f" The chosen rules cost {statistics.median(costs):.2f} ms per document "
            "(median over systems and splits; one CPU thread)."
            if costs
            else ""
        )
        kept_from_earlier = {
            r["system"] for r in rows if r["corpus"] == corpus and r.get("earlier_run")
        }
        earlier = (
            " † measured by an earlier run of this command whose models have since been "
            "cleared: kept in the comparison, not rebuilt, not pooled into this run's votes."
            if kept_from_earlier
            else ""
        )
        lines += [
            "",
            f"## {corpus}",
            "",
            f"Cells: devel / test exact F1.{cost}{earlier}",
            "",
            "| system | "
            + " | ".join(f"{c} ✓" if c == chosen[corpus] else c for c in CONFIGS)
            + " |",
            "|---" * (len(CONFIGS) + 1) + "|",
        ]
        names = list(dict.fromkeys(r["system"] for r in rows if r["corpus"] == corpus))
        for system in names:
            cells = []
            for config in CONFIGS:
                found = {
                    r["split"]: r["f1"]
                    for r in rows
                    if r["corpus"] == corpus and r["system"] == system and r["rules"] == config
                }
                dev = f"{100 * found['devel']:.2f} / " if "devel" in found else ""
                cells.append(f"{dev}{100 * found['test']:.2f}")
            label = f"{system} †" if system in kept_from_earlier else system
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    with atomic_write(RESULTS / f"{NAME}.md") as stream:
        stream.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
