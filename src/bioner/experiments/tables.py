"""Markdown tables shaped like Saber's: in-corpus (Tables 5/7/9), out-of-corpus (6/8/10), and
in-corpus vs out-of-corpus (Table 4), plus a one-set table for a single experiment.

F1 is shown in percent with two decimals; significance marks follow Saber (* p ≤ 0.05,
** p ≤ 0.01, two-tailed t-test against the baseline); ΔF1 = method − baseline (Table 4:
IC − OOC, the drop when leaving the corpus). Rows are plain dataclasses so the grid runner
and the CLI build them from `results.json` files without any table logic of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bioner.experiments.stats import significance_mark, summarize, t_test


@dataclass
class ComparisonRow:
    """One corpus (IC) or train→test pair (OOC): F1 values of the baseline and the method."""

    entity: str
    train: str
    baseline: list[float]
    method: list[float]
    test: str = ""
    partner: str = ""
    paired: bool = False


@dataclass
class GeneralizationRow:
    """Table 4: in-corpus F1 (CV) of the train corpus and out-of-corpus F1 on the test corpus."""

    entity: str
    train: str
    test: str
    in_corpus: list[float] = field(default_factory=list)
    out_of_corpus: list[float] = field(default_factory=list)


def _pct(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _sd(value: float | None, n: int) -> str:
    """σ in percent, or "–" for fewer than 2 runs: a sample sd (ddof = 1) needs two values
    (`stats.summarize` gives 0.0 for one run, which would read as "no variation")."""
    return _pct(value) if n >= 2 else "–"


def f1_summary(summary: dict) -> str:
    """The console line's F1: "84.12 ± 0.33 (mean ± sample sd, ddof = 1) over 3 runs", or
    "84.12 (one run: no spread)" — one run has no sample sd, and "± 0.00 over 1 runs"
    claimed a spread of zero."""
    if summary["n"] < 2:
        return f"{_pct(summary['mean'])} (one run: no spread)"
    return (
        f"{_pct(summary['mean'])} ± {_pct(summary['sd'])} "
        f"(mean ± sample sd, ddof = 1) over {summary['n']} runs"
    )


def _marked(row: ComparisonRow) -> tuple[str, str]:
    """(method mean with significance mark, p-value text)."""
    mean = summarize(row.method).mean
    if not row.method or not row.baseline:
        return _pct(mean), "–"
    test = t_test(row.method, row.baseline, paired=row.paired)
    p_text = "–" if math.isnan(test.p_value) else f"{test.p_value:.3f}"
    return _pct(mean) + significance_mark(test.p_value), p_text


def _render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"


def _entity_cells(rows: Sequence[ComparisonRow | GeneralizationRow]) -> list[str]:
    """The entity name on its group's first row only, as in the paper."""
    cells, previous = [], None
    for row in rows:
        cells.append(row.entity if row.entity != previous else "")
        previous = row.entity
    return cells


def in_corpus_table(rows: Sequence[ComparisonRow], baseline: str = "BL", method: str = "VD") -> str:
    """Saber Tables 5/7/9: Entity | Corpus [| Partner] | BL Avg. | σ | method Avg. | σ | p."""
    with_partner = any(r.partner for r in rows)
    header = ["Entity", "Corpus"] + (["Partner"] if with_partner else [])
    header += [f"{baseline} Avg.", f"{baseline} σ", f"{method} Avg.", f"{method} σ", "p", "n"]
    body = []
    for entity, row in zip(_entity_cells(rows), rows, strict=True):
        base, ours = summarize(row.baseline), summarize(row.method)
        mean, p_text = _marked(row)
        cells = [entity, row.train] + ([row.partner or "–"] if with_partner else [])
        cells += [_pct(base.mean), _sd(base.sd, base.n), mean, _sd(ours.sd, ours.n), p_text]
        cells.append(f"{base.n}/{ours.n}")
        body.append(cells)
    return _render(header, body)


def out_of_corpus_table(
    rows: Sequence[ComparisonRow], baseline: str = "BL", method: str = "VD"
) -> str:
    """Saber Tables 6/8/10: Entity | Train [| Partner] | Test | BL | method | ΔF1 | p."""
    with_partner = any(r.partner for r in rows)
    header = ["Entity", "Train"] + (["Partner"] if with_partner else []) + ["Test"]
    header += [baseline, method, "ΔF1", "p", "n"]
    body = []
    for entity, row in zip(_entity_cells(rows), rows, strict=True):
        base, ours = summarize(row.baseline), summarize(row.method)
        mean, p_text = _marked(row)
        cells = [entity, row.train] + ([row.partner or "–"] if with_partner else [])
        cells += [row.test, _pct(base.mean), mean, _pct(ours.mean - base.mean), p_text]
        cells.append(f"{base.n}/{ours.n}")
        body.append(cells)
    return _render(header, body)


def generalization_table(rows: Sequence[GeneralizationRow]) -> str:
    """Saber Table 4: Entity | Train | Test | IC | OOC | ΔF1 (= IC − OOC)."""
    header = ["Entity", "Train", "Test", "IC", "OOC", "ΔF1"]
    body = []
    for entity, row in zip(_entity_cells(rows), rows, strict=True):
        ic, ooc = summarize(row.in_corpus), summarize(row.out_of_corpus)
        body.append(
            [entity, row.train, row.test, _pct(ic.mean), _pct(ooc.mean), _pct(ic.mean - ooc.mean)]
        )
    return _render(header, body)


#: How the matching modes read in tables and plot titles.
MATCH_NAMES = {
    "exact": "exact",
    "right": "right boundary",
    "left": "left boundary",
    "overlap": "overlap",
}


def measured_line(results: dict) -> str:
    """What the F1 values measure: matching, scored types, test data, and any smoke limits.

    A table of F1 values that does not say this (an OOC run is right-boundary by default, a
    `--max-eval-sentences` run scores a few sentences) gets compared with the wrong numbers.
    Read from the first run's record, with `settings` for what older records lack.
    """
    settings = results.get("settings") or {}
    first = (results.get("runs") or [{}])[0]
    kind = results.get("kind")
    mode = first.get("mode") or settings.get("mode") or ("exact" if kind == "cv" else "right")
    types = first.get("scored_types") or settings.get("types")
    if kind == "cv":
        grouped = " by abstract" if first.get("grouped_by") else ""
        data = (
            f"each fold's test part of {first.get('corpus') or settings.get('corpus')} "
            f"train+devel ({settings.get('folds', first.get('folds'))}-fold CV{grouped})"
        )
    else:
        data = (
            f"all of {first.get('test') or settings.get('test')} (train+devel+test), "
            f"trained on {first.get('train') or settings.get('train')} train+devel"
        )
    line = (
        f"Measured: span-level micro P/R/F1, {MATCH_NAMES.get(mode, mode)} match, typed; "
        f"types: {', '.join(types) if types else 'all'}; test data: {data}."
    )
    limits = []
    if settings.get("max_eval_sentences"):
        limits.append(f"only the first {settings['max_eval_sentences']} dev/test sentences")
    if settings.get("max_train_sentences"):
        limits.append(f"training on the first {settings['max_train_sentences']} sentences")
    if limits:
        line += f" **Smoke run ({'; '.join(limits)}): not comparable with full runs.**"
    return line + "\n"


def _untestable(baseline: dict) -> str:
    """Why a comparison has no p-value (see `stats.t_test`)."""
    if min(baseline["method"]["n"], baseline["baseline"]["n"]) < 2:
        return "fewer than 2 runs"
    if baseline["t_test"]["paired"]:
        return "the paired F1 differences do not vary"
    return "both sets have a constant F1"


def run_set_table(results: dict) -> str:
    """One experiment's runs (F1 per run), its mean ± sd, and the baseline comparison if any."""
    lines = [f"## {results['name']} ({results['kind']})", "", measured_line(results)]
    header = ["run", "P", "R", "F1", "best epoch"]
    body = [
        [r["run_id"], _pct(r["precision"]), _pct(r["recall"]), _pct(r["f1"]), str(r["best_epoch"])]
        for r in results["runs"]
    ]
    lines.append(_render(header, body))
    s = results["summary"]
    if s["n"] < 2:
        lines.append(f"F1 of the one run: **{_pct(s['mean'])}** (one run: no spread).\n")
    else:
        lines.append(
            f"Mean F1 over {s['n']} runs: **{_pct(s['mean'])} ± {_pct(s['sd'])}** (σ, ddof = 1).\n"
        )
    if "baseline" in results:
        b = results["baseline"]
        t = b["t_test"]
        p_value = math.nan if t["p_value"] is None else t["p_value"]
        if math.isnan(p_value):
            test_text = f"two-tailed {t['test']} t-test not possible ({_untestable(b)})"
        else:
            test_text = (
                f"two-tailed {t['test']} t-test t = {t['statistic']:.3f}, "
                f"p = {p_value:.4f} {significance_mark(p_value)}"
            )
        theirs = b["baseline"]
        spread = f" ± {_pct(theirs['sd'])}" if theirs["n"] >= 2 else ""
        lines.append(
            f"Baseline {b['name']}: {_pct(theirs['mean'])}{spread} (n = {theirs['n']}); "
            f"ΔF1 = {_pct(b['delta_f1'])}; {test_text}\n"
        )
    lines.append(f"Reproduce: `{results['command']}`\n")
    return "\n".join(lines)
