"""Mean ± sample standard deviation over repeated runs, and a two-tailed t-test between run sets.

Saber reports F1 as the average over folds or repeated runs with σ, and marks differences
from the baseline that a two-tailed t-test finds significant (* p ≤ 0.05, ** p ≤ 0.01). The
test itself is scipy's (`ttest_ind` / `ttest_rel`); this module only fixes the conventions:
σ with ddof = 1, Student's equal-variance test by default (Saber does not say which variant;
Welch's is an option), a paired test when both sets hold the same run ids (same folds and
seeds), and NaN rather than an exception when a set is too small to test — or when the
statistic is 0/0 or x/0 because nothing varies (identical paired differences, two constant
sets): scipy then answers t = ±inf, p = 0, which would print as "**" for three runs that
merely repeat one F1 each, with a precision-loss warning on stderr.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float
    n: int

    def format(self, scale: float = 100.0, digits: int = 2) -> str:
        """`84.49 ± 0.33` (F1 in percent by default)."""
        if self.n == 0:
            return "–"
        return f"{scale * self.mean:.{digits}f} ± {scale * self.sd:.{digits}f}"


@dataclass(frozen=True)
class TTest:
    statistic: float
    p_value: float
    paired: bool
    test: str


def summarize(values: Sequence[float]) -> Summary:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    if not values:
        return Summary(math.nan, math.nan, 0)
    array = np.asarray(values, dtype=float)
    sd = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return Summary(float(array.mean()), sd, len(array))


#: Spread (max − min) below which F1 values count as constant: far below any real difference
#: in F1, far above the float noise of subtracting two F1 values.
_CONSTANT = 1e-12


def _constant(values: Sequence[float]) -> bool:
    return float(np.ptp(np.asarray(values, dtype=float))) <= _CONSTANT


def t_test(
    method: Sequence[float],
    baseline: Sequence[float],
    *,
    paired: bool = False,
    equal_var: bool = True,
) -> TTest:
    """Two-tailed t-test of `method` against `baseline` (paired: same order, same length).

    NaN (untestable) for fewer than 2 runs a side, and when the variance the test divides by
    is 0: constant paired differences, or two constant sets (module docstring).
    """
    if paired:
        if len(method) != len(baseline):
            raise ValueError("a paired t-test needs two sets of the same length")
        differences = [m - b for m, b in zip(method, baseline, strict=True)]
        if len(method) < 2 or _constant(differences):
            return TTest(math.nan, math.nan, True, "paired")
        result = stats.ttest_rel(method, baseline)
        return TTest(float(result.statistic), float(result.pvalue), True, "paired")
    name = "student" if equal_var else "welch"
    if len(method) < 2 or len(baseline) < 2 or (_constant(method) and _constant(baseline)):
        return TTest(math.nan, math.nan, False, name)
    result = stats.ttest_ind(method, baseline, equal_var=equal_var)
    return TTest(float(result.statistic), float(result.pvalue), False, name)


def significance_mark(p_value: float) -> str:
    """Saber's marks: '**' for p ≤ 0.01, '*' for p ≤ 0.05, '' otherwise (or untestable)."""
    if math.isnan(p_value):
        return ""
    if p_value <= 0.01:
        return "**"
    if p_value <= 0.05:
        return "*"
    return ""
