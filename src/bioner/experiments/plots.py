"""Violin plots of F1 per method, in-corpus beside out-of-corpus, like Saber Fig. 4.

matplotlib is imported inside the function and drawn on an explicit Agg canvas, so importing
this module is cheap and never changes the process-wide backend. A method with a single
value (or all-equal values) has no density to draw; it is shown as a point instead.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from bioner.data.atomic import atomic_write


def violin_plot(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """One panel per key of `panels` (e.g. "IC", "OOC"), one violin per method, F1 in %."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    target = Path(path)
    figure = Figure(figsize=(4.5 * max(len(panels), 1), 4.2), dpi=100)
    FigureCanvasAgg(figure)
    for index, (panel, methods) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(1, max(len(panels), 1), index)
        names = list(methods)
        for position, name in enumerate(names, start=1):
            values = [100 * v for v in methods[name]]
            if len(set(values)) > 1:
                axes.violinplot([values], positions=[position], showmeans=True, widths=0.8)
            if values:
                axes.scatter([position] * len(values), values, s=10, color="black", zorder=3)
        axes.set_xticks(range(1, len(names) + 1), names)
        axes.set_title(panel)
        axes.set_ylabel("F1 (%)")
        axes.grid(axis="y", alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, binary=True) as stream:
        stream.write(buffer.getvalue())
    return target
