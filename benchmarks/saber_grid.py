"""Saber's generalization grid (Tables 4-10, Fig. 4): BL, VD, TL, MTM and MTM+VD, in-corpus
k-fold CV and out-of-corpus runs over same-class corpus pairs, resumable, with CPU-size knobs.

Classes and corpora (those staged in ../shared/corpora; BC4CHEMD, S800 and Variome are not):
  Diseases        NCBI-disease ↔ BC5CDR-disease
  Chemicals       BC5CDR-chem ↔ CRAFT-chem                (CHEBI → Chemical)
  Species         LINNAEUS ↔ CRAFT-species                (NCBITaxon → Species)
  Genes/proteins  BC2GM ↔ JNLPBA ↔ CRAFT-ggp              (protein, GGP → GENE; JNLPBA's
                  DNA/RNA/cell types are dropped so every corpus of the class has one type)

Methods: BL = saber-baseline; VD = saber-vd; TL = saber-baseline started from a source model;
MTM = saber-baseline with a partner corpus (one head each); MTM+VD = saber-vd with a partner.

Transfer-learning source (a deviation, forced by the data): Saber pre-trains one epoch on the
CALBC silver-standard corpus (chemicals, diseases, species, genes), which is not available here
(../shared/corpora/README.md, "Missing"). The stand-in is a multi-type gold "silver" corpus: the
training splits of the corpus families NCBI-disease, BC5CDR (chemicals + diseases), LINNAEUS,
BC2GM, JNLPBA (proteins) and CRAFT (ChEBI, GGP, taxa), types mapped onto Chemical / Disease /
Species / GENE, EXCLUDING every family that the pair's two corpora come from (so a source never
saw the train or the test corpus's text, or any other view of it). One epoch, as Saber.
Unlike CALBC, the source therefore lacks the pair's own corpora (it may include other corpora of
the same class, e.g. BC2GM for JNLPBA ↔ CRAFT-ggp).

Multi-task partners: in-corpus, the partner is the pair's other corpus (Saber Table 9). Out of
corpus, the partner must be neither the train nor the test corpus (Table 10): the third corpus
of the class where there is one (genes), otherwise the first of NCBI-disease, LINNAEUS, BC2GM
that shares no text family with the pair — a partner of another entity class, since only two
corpora per class are staged for diseases, chemicals and species.

The full grid (5 folds × 3 seeds × 50 epochs × 9 corpora × 5 methods, plus 8 pairs × 3 seeds ×
5 methods) is far beyond a shared CPU; `--epochs`, `--folds`, `--seeds`, `--max-train-sentences`,
`--max-eval-sentences`, `--classes`, `--methods` shrink it. Figures from shrunken runs are
labelled as such in the output and are not comparable with the paper. Every run writes its JSON
as it finishes; rerunning the same command skips finished runs (see bioner.experiments.runner).

    nice -n 19 .venv/bin/python benchmarks/saber_grid.py --epochs 50 --folds 5 --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import torch

from bioner.data.atomic import atomic_write
from bioner.errors import BionerError
from bioner.experiments.cv import cv_jobs
from bioner.experiments.ooc import ooc_jobs
from bioner.experiments.plots import violin_plot
from bioner.experiments.results import build_results, read_results, write_results
from bioner.experiments.runner import (
    ModelSettings,
    first_sentences,
    load_documents,
    parse_seeds,
    run_all,
)
from bioner.experiments.stats import t_test
from bioner.experiments.tables import (
    ComparisonRow,
    GeneralizationRow,
    generalization_table,
    in_corpus_table,
    out_of_corpus_table,
)

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"

CLASSES: dict[str, dict[str, Any]] = {
    "Diseases": {"corpora": ["NCBI-disease", "BC5CDR-disease"], "map": {}, "type": "Disease"},
    "Chemicals": {
        "corpora": ["BC5CDR-chem", "CRAFT-chem"],
        "map": {"CHEBI": "Chemical"},
        "type": "Chemical",
    },
    "Species": {
        "corpora": ["LINNAEUS", "CRAFT-species"],
        "map": {"NCBITaxon": "Species"},
        "type": "Species",
    },
    "Genes/proteins": {
        "corpora": ["BC2GM", "JNLPBA", "CRAFT-ggp"],
        "map": {"protein": "GENE", "GGP": "GENE"},
        "type": "GENE",
    },
}
# Corpora that are views of one text: never source/partner for each other's pairs.
FAMILY = {
    "BC5CDR-disease": "BC5CDR",
    "BC5CDR-chem": "BC5CDR",
    "CRAFT-chem": "CRAFT",
    "CRAFT-species": "CRAFT",
    "CRAFT-ggp": "CRAFT",
}
# The CALBC stand-in: one multi-type corpus per family, types mapped to the four classes.
SILVER: dict[str, tuple[str, dict[str, str]]] = {
    "NCBI-disease": ("NCBI-disease", {}),
    "BC5CDR": ("BC5CDR", {}),
    "LINNAEUS": ("LINNAEUS", {}),
    "BC2GM": ("BC2GM", {}),
    "JNLPBA": ("JNLPBA", {"protein": "GENE"}),
    "CRAFT": ("CRAFT", {"CHEBI": "Chemical", "GGP": "GENE", "Taxon": "Species"}),
}
SILVER_TYPES = ["Chemical", "Disease", "Species", "GENE"]
FALLBACK_PARTNERS = ["NCBI-disease", "LINNAEUS", "BC2GM"]
METHODS: dict[str, dict[str, Any]] = {
    "BL": {"config": "saber-baseline", "tl": False, "mtm": False},
    "VD": {"config": "saber-vd", "tl": False, "mtm": False},
    "TL": {"config": "saber-baseline", "tl": True, "mtm": False},
    "MTM": {"config": "saber-baseline", "tl": False, "mtm": True},
    "MTM+VD": {"config": "saber-vd", "tl": False, "mtm": True},
}


def family(corpus: str) -> str:
    return FAMILY.get(corpus, corpus)


def class_of(corpus: str) -> str:
    return next(name for name, spec in CLASSES.items() if corpus in spec["corpora"])


def ic_partner(corpus: str) -> str:
    members = CLASSES[class_of(corpus)]["corpora"]
    return members[(members.index(corpus) + 1) % len(members)]


def ooc_partner(train: str, test: str) -> str:
    members = [c for c in CLASSES[class_of(train)]["corpora"] if c not in (train, test)]
    if members:
        return members[0]
    used = {family(train), family(test)}
    return next(c for c in FALLBACK_PARTNERS if family(c) not in used)


def train_source(
    pair: tuple[str, ...], config: str, args: argparse.Namespace, output: Path
) -> Path:
    """The TL source model for a pair (trained once, one epoch; resumed if interrupted)."""
    from bioner.config import load_config
    from bioner.tagger import Tagger
    from bioner.training.checkpoints import checkpoint_exists
    from bioner.training.trainer import Trainer

    excluded = {family(c) for c in pair}
    families = [name for name in SILVER if name not in excluded]
    folder = output / "sources" / f"{config}-without-{'+'.join(sorted(excluded))}"
    if (folder / "done.json").is_file():
        return folder / "model"
    train: list = []
    dev: list = []
    for name in families:
        corpus, mapping = SILVER[name]
        path = CORPORA / corpus
        docs = load_documents(path, ("train",), mapping, SILVER_TYPES)
        train += first_sentences(docs, args.tl_source_sentences)
        held = load_documents(path, ("devel",), mapping, SILVER_TYPES)
        dev += first_sentences(held, args.max_eval_sentences or 200)
    experiment = load_config(config, args.overrides)
    experiment.training.epochs = 1  # Saber §2.7: one epoch on the silver corpus
    experiment.training.seed = 0
    experiment.training.num_threads = args.threads
    tagger = Tagger.build(experiment, {"silver": train})
    resume = checkpoint_exists(folder / "checkpoint")
    Trainer(tagger, {"silver": train}, {"silver": dev}, folder, show_progress=False).train(
        resume=resume
    )
    with atomic_write(folder / "done.json") as handle:
        handle.write(json.dumps({"families": families, "sentences": len(train)}))
    return folder / "model"


def finished_f1(output: Path, method: str, kind: str, key: str) -> list[float] | None:
    """F1 of every run of a finished unit (its results.json), or None if it is not finished."""
    path = output / method / kind / key / "results.json"
    return [r["f1"] for r in read_results(path)["runs"]] if path.is_file() else None


def run_unit(
    kind: str,
    method: str,
    key: str,
    jobs_factory,
    settings: ModelSettings,
    output: Path,
    described: dict[str, Any],
) -> dict[str, Any]:
    folder = output / method / kind / key
    if (folder / "results.json").is_file():
        return read_results(folder / "results.json")
    records = run_all(jobs_factory(), settings, folder)
    command = "python benchmarks/saber_grid.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    results = build_results(kind, method, records, {**settings.describe(), **described}, command)
    write_results(folder / "results.json", results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--max-train-sentences", type=int, default=None)
    parser.add_argument("--max-eval-sentences", type=int, default=None)
    parser.add_argument("--tl-source-sentences", type=int, default=None)
    parser.add_argument("--classes", default=",".join(CLASSES))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--pairs", default="", help="Only these TRAIN:TEST pairs (comma list).")
    parser.add_argument("--skip-ic", action="store_true")
    parser.add_argument("--skip-ooc", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/saber_grid")
    parser.add_argument("--label", default="", help="Heading note, e.g. 'SMOKE RUN'.")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="Write the report from the finished units only; train nothing.",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = parse_seeds(args.seeds)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [c for c in classes if c not in CLASSES] + [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown classes/methods: {unknown}")
    wanted_pairs = {tuple(p.split(":")) for p in args.pairs.split(",") if p}
    output: Path = args.output
    pairs = [
        (a, b)
        for name in classes
        for a in CLASSES[name]["corpora"]
        for b in CLASSES[name]["corpora"]
        if a != b and (not wanted_pairs or (a, b) in wanted_pairs)
    ]
    ic_corpora = sorted({a for a, _ in pairs}, key=lambda c: (list(CLASSES).index(class_of(c)), c))
    ic: dict[tuple[str, str], list[float]] = {}
    ooc: dict[tuple[str, str, str], list[float]] = {}
    for method in methods:
        spec = METHODS[method]
        for corpus in [] if args.skip_ic else ic_corpora:
            cls = CLASSES[class_of(corpus)]
            partner = ic_partner(corpus) if spec["mtm"] else None
            if args.report_only:
                if (f1 := finished_f1(output, method, "ic", corpus)) is not None:
                    ic[(method, corpus)] = f1
                continue
            source = None
            if spec["tl"]:
                other = next(b for a, b in pairs if a == corpus)
                source = train_source((corpus, other), spec["config"], args, output)
            settings = _settings(spec["config"], args, source)
            results = run_unit(
                "ic",
                method,
                corpus,
                lambda c=corpus, p=partner, m=cls: cv_jobs(
                    CORPORA / c,
                    folds=args.folds,
                    seeds=seeds,
                    partners=[CORPORA / p] if p else [],
                    label_map=m["map"],
                    types=[m["type"]],
                ),
                settings,
                output,
                {"corpus": corpus, "partner": partner, "folds": args.folds},
            )
            ic[(method, corpus)] = [r["f1"] for r in results["runs"]]
        for train, test in [] if args.skip_ooc else pairs:
            if args.report_only:
                if (f1 := finished_f1(output, method, "ooc", f"{train}--{test}")) is not None:
                    ooc[(method, train, test)] = f1
                continue
            cls = CLASSES[class_of(train)]
            partner = ooc_partner(train, test) if spec["mtm"] else None
            source = (
                train_source((train, test), spec["config"], args, output) if spec["tl"] else None
            )
            settings = _settings(spec["config"], args, source)
            results = run_unit(
                "ooc",
                method,
                f"{train}--{test}",
                lambda a=train, b=test, p=partner, m=cls: ooc_jobs(
                    CORPORA / a,
                    CORPORA / b,
                    seeds=seeds,
                    partners=[CORPORA / p] if p else [],
                    label_map=m["map"],
                    types=[m["type"]],
                ),
                settings,
                output,
                {"train": train, "test": test, "partner": partner},
            )
            ooc[(method, train, test)] = [r["f1"] for r in results["runs"]]
    write_report(args, methods, ic_corpora, pairs, ic, ooc, output)


def _settings(config: str, args: argparse.Namespace, source: Path | None) -> ModelSettings:
    return ModelSettings(
        config=config,
        overrides=list(args.overrides),
        epochs=args.epochs,
        max_train_sentences=args.max_train_sentences,
        max_eval_sentences=args.max_eval_sentences,
        init_from=str(source) if source else None,
        threads=args.threads,
    )


# Saber's headline findings (§3, Tables 4-10): relative OOC fall, and mean OOC gain per method.
SABER_OOC_FALL = 31.0
SABER_OOC_GAIN = {"VD": 4.6, "TL": 6.5, "MTM": 8.4, "MTM+VD": 10.8}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def gain_verdict(mean: float, saber: float, better: int, worse: int) -> str:
    """Whether a mean OOC gain reproduces Saber's: sign, significance, then size."""
    if mean <= 0:
        return "no"
    if worse:
        return "no (mixed: some pairs significantly worse)"
    if not better:
        return "direction only, no pair significantly better"
    return "yes" if mean >= saber / 2 else "in direction, smaller"


def ooc_gains(method: str, pairs, ooc) -> tuple[list[float], int, int]:
    """Per pair: the method's mean OOC F1 minus BL's (points), and the significant wins/losses."""
    gains, better, worse = [], 0, 0
    for a, b in pairs:
        base, got = ooc.get(("BL", a, b)), ooc.get((method, a, b))
        if base and got and len(base) == len(got):
            gains.append(100 * (_mean(got) - _mean(base)))
            p = t_test(got, base, paired=True).p_value
            worse += p <= 0.05 and _mean(got) < _mean(base)
            better += p <= 0.05 and _mean(got) > _mean(base)
    return gains, better, worse


def claims_section(methods, ic_corpora, pairs, ic, ooc) -> list[str]:
    """Saber's claims, one row each, with what these runs show (means over corpora/pairs)."""
    lines = [
        "## Saber's claims on these runs",
        "",
        "Means over the corpora (IC) or train → test pairs (OOC) that have both figures; "
        "significant = p ≤ 0.05 in the tables above. Out of corpus, a multi-task partner "
        "of the same entity class exists only where a class has a third corpus (genes); "
        "elsewhere it is of another class, so MTM rows are also split by that.",
        "",
        "| claim | Saber | here | reproduces? |",
        "|---|---|---|---|",
    ]
    falls = [
        100 * (_mean(ic[("BL", a)]) - _mean(ooc[("BL", a, b)])) / _mean(ic[("BL", a)])
        for a, b in pairs
        if ic.get(("BL", a)) and ooc.get(("BL", a, b))
    ]
    if falls:
        verdict = "in direction" + ("" if abs(_mean(falls) - SABER_OOC_FALL) < 10 else ", not size")
        lines.append(
            f"| OOC F1 falls vs IC (relative, {len(falls)} pairs) | ~{SABER_OOC_FALL:.0f} % | "
            f"{_mean(falls):.1f} % (range {min(falls):.1f}-{max(falls):.1f}) | {verdict} |"
        )
    for method in [m for m in methods if m != "BL"]:
        groups = [("", pairs)]
        if METHODS[method]["mtm"]:  # the OOC partner's class matters (see the docstring)
            same = [(a, b) for a, b in pairs if class_of(ooc_partner(a, b)) == class_of(a)]
            other = [pair for pair in pairs if pair not in same]
            groups += [(", same-class partner", same), (", other-class partner", other)]
        for note, chosen in groups:
            gains, better, worse = ooc_gains(method, chosen, ooc)
            if not gains or (note and len(chosen) == len(pairs)):
                continue
            verdict = gain_verdict(_mean(gains), SABER_OOC_GAIN[method], better, worse)
            lines.append(
                f"| {method} raises OOC F1 ({len(gains)} pairs{note}) | "
                f"+{SABER_OOC_GAIN[method]} | {_mean(gains):+.2f} ({better} significantly "
                f"better, {worse} worse) | {verdict} |"
            )
        deltas, lowered = [], 0
        for corpus in ic_corpora:
            base, got = ic.get(("BL", corpus)), ic.get((method, corpus))
            if base and got and len(base) == len(got):
                deltas.append(100 * (_mean(got) - _mean(base)))
                p = t_test(got, base, paired=True).p_value
                lowered += p <= 0.05 and _mean(got) < _mean(base)
        if deltas:
            lines.append(
                f"| {method} does not lower IC F1 ({len(deltas)} corpora) | no loss | "
                f"{_mean(deltas):+.2f} ({lowered} significantly lower) | "
                f"{'yes' if not lowered else 'no'} |"
            )
    return [*lines, ""]


def write_report(args, methods, ic_corpora, pairs, ic, ooc, output: Path) -> None:
    """grid.md (Saber-shaped tables + Fig. 4) and grid.json from the finished units."""
    shrunk = (
        args.epochs < 50
        or args.folds < 5
        or len(parse_seeds(args.seeds)) < 3
        or args.max_train_sentences
        or args.max_eval_sentences
        or args.overrides
    )
    command = "nice -n 19 .venv/bin/python benchmarks/saber_grid.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:] if a != "--report-only"
    )
    lines = [f"# Saber generalization grid {args.label}".rstrip(), ""]
    lines.append(f"Reproduce (finished runs are skipped, so it also resumes): `{command}`\n")
    missing = [f"{m} IC {c}" for m in methods for c in ic_corpora if (m, c) not in ic] + [
        f"{m} OOC {a} → {b}" for m in methods for a, b in pairs if (m, a, b) not in ooc
    ]
    if missing:
        lines.append(
            f"**Not finished ({len(missing)} units; the command above runs them):** "
            + "; ".join(missing)
            + ".\n"
        )
    if shrunk:
        lines.append(
            "**CPU-shrunk settings (fewer epochs/folds/seeds/sentences or a smaller model): "
            "these figures are not comparable with Saber's.**\n"
        )
    lines.append(
        "IC = k-fold CV on train+devel, exact matching; OOC = train on all of A (10 % dev), "
        "test on all of B, right-boundary matching. TL source: multi-type stand-in for CALBC "
        "(see the script's docstring). F1 in %, mean over runs; * p ≤ 0.05, ** p ≤ 0.01 "
        "(two-tailed t-test against BL).\n"
    )
    if "BL" in methods:
        rows = [
            GeneralizationRow(class_of(a), a, b, ic.get(("BL", a), []), ooc.get(("BL", a, b), []))
            for a, b in pairs
        ]
        lines += ["## In-corpus vs out-of-corpus (Table 4 shape)", "", generalization_table(rows)]
        for method in [m for m in methods if m != "BL"]:
            if ic:
                ic_rows = [
                    ComparisonRow(
                        class_of(c),
                        c,
                        ic.get(("BL", c), []),
                        ic.get((method, c), []),
                        partner=ic_partner(c) if METHODS[method]["mtm"] else "",
                        paired=True,
                    )
                    for c in ic_corpora
                ]
                lines += [
                    f"## In-corpus, BL vs {method}",
                    "",
                    in_corpus_table(ic_rows, "BL", method),
                ]
            if ooc:
                ooc_rows = [
                    ComparisonRow(
                        class_of(a),
                        a,
                        ooc.get(("BL", a, b), []),
                        ooc.get((method, a, b), []),
                        test=b,
                        partner=ooc_partner(a, b) if METHODS[method]["mtm"] else "",
                        paired=True,
                    )
                    for a, b in pairs
                ]
                lines += [
                    f"## Out-of-corpus, BL vs {method}",
                    "",
                    out_of_corpus_table(ooc_rows, "BL", method),
                ]

    if "BL" in methods:
        lines += claims_section(methods, ic_corpora, pairs, ic, ooc)

    def means(table: dict, method: str) -> list[float]:
        return [
            sum(v) / len(v) for k, v in table.items() if k[0] == method and v
        ]  # one value per corpus / pair, as Fig. 4

    panels = {
        "IC (exact)": {m: means(ic, m) for m in methods},
        "OOC (right boundary)": {m: means(ooc, m) for m in methods},
    }
    violin_plot(panels, output / "fig4_violin.png", title=f"Saber Fig. 4 shape {args.label}")
    lines.append("Violin plot (Fig. 4 shape): `fig4_violin.png`.\n")
    with atomic_write(output / "grid.md") as handle:
        handle.write("\n".join(lines))
    data = {
        "command": command,
        "shrunk": bool(shrunk),
        "label": args.label,
        "ic": {f"{m}|{c}": v for (m, c), v in ic.items()},
        "ooc": {f"{m}|{a}|{b}": v for (m, a, b), v in ooc.items()},
    }
    with atomic_write(output / "grid.json") as handle:
        handle.write(json.dumps(data, indent=2))


if __name__ == "__main__":
    try:
        main()
    except BionerError as error:
        raise SystemExit(f"error: {error}") from None
