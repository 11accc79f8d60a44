"""Learning-curve plots drawn from a metrics log.

One figure, two panels: train loss and dev F1 against epochs, and the same against wall-clock
time, the convergence view of Sachan et al. Fig. 7 (how long until dev F1 levels off).
matplotlib is imported inside the function and drawn on an explicit Agg canvas, so importing
this module is cheap and never changes the process-wide matplotlib backend.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from bioner.data.atomic import atomic_write
from bioner.errors import BionerError
from bioner.training.metrics_log import read_metrics

PathLike = str | os.PathLike[str]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _series(records: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    """Per record: epoch, cumulative seconds, train loss, dev F1 (None where missing)."""
    epochs: list[float | None] = []
    elapsed: list[float | None] = []
    losses: list[float | None] = []
    f1s: list[float | None] = []
    running = 0.0
    for index, record in enumerate(records, start=1):
        epoch = _number(record.get("epoch"))
        epochs.append(epoch if epoch is not None else float(index))
        seconds = _number(record.get("seconds")) or 0.0
        running += seconds
        total = _number(record.get("elapsed_seconds"))
        elapsed.append(total if total is not None else running)
        losses.append(_number(record.get("train_loss")))
        f1s.append(_number(record.get("dev_f1")))
    return {"epoch": epochs, "elapsed": elapsed, "loss": losses, "f1": f1s}


def _points(xs: list[float | None], ys: list[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
    return [x for x, _ in pairs], [y for _, y in pairs]


def plot_learning_curve(
    metrics_jsonl_path: PathLike, png_path: PathLike, *, title: str | None = None
) -> Path:
    """Write a PNG of train loss and dev F1 vs epoch and vs wall time; return its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    source = Path(metrics_jsonl_path)
    records = read_metrics(source)
    if not records:
        raise BionerError(f"{source}: no metrics to plot")
    series = _series(records)
    figure = Figure(figsize=(11, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2)
    for axis, key, label in (
        (panels[0], "epoch", "epoch"),
        (panels[1], "elapsed", "wall-clock time (s)"),
    ):
        loss_x, loss_y = _points(series[key], series["loss"])
        f1_x, f1_y = _points(series[key], series["f1"])
        axis.plot(loss_x, loss_y, color="tab:blue", marker="o", markersize=3, label="train loss")
        axis.set_xlabel(label)
        axis.set_ylabel("train loss", color="tab:blue")
        axis.grid(alpha=0.3)
        twin = axis.twinx()
        twin.plot(f1_x, f1_y, color="tab:red", marker="s", markersize=3, label="dev F1")
        twin.set_ylabel("dev F1", color="tab:red")
        if f1_y:
            best = max(range(len(f1_y)), key=f1_y.__getitem__)
            twin.annotate(
                f"best {f1_y[best]:.4f}",
                (f1_x[best], f1_y[best]),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
                color="tab:red",
            )
    panels[0].set_title("by epoch")
    panels[1].set_title("by wall-clock time")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    target = Path(png_path)
    with atomic_write(target, binary=True, inputs=[source]) as stream:
        stream.write(buffer.getvalue())
    return target
