"""When to lower the learning rate and when to stop, both driven by the dev F1 score.

`PlateauAnnealer` multiplies the lr by a factor when dev F1 stops improving and says when it
has fallen below a floor (BioNerFlair §3.1: SGD lr 0.1, factor 0.5, patience 3, via Flair;
Sachan §3.2 halves Adam's lr on plateau). `EarlyStopping` ends training after a number of
evaluations without improvement (Sachan §3.2: 3) and remembers the best epoch, which the
trainer uses to keep the "best" checkpoint. Both keep their state as plain JSON-able values
so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from bioner.training.checkpoints import StateShape
from bioner.training.optimizers import get_learning_rate, set_learning_rate


def _improves(score: float, best: float | None, min_delta: float) -> bool:
    if math.isnan(score):
        return False
    return best is None or score > best + min_delta


@dataclass(frozen=True)
class AnnealOutcome:
    """What one `PlateauAnnealer.step` did."""

    improved: bool
    annealed: bool
    learning_rate: float
    stop: bool


class PlateauAnnealer:
    """Anneal the lr by `factor` on a dev-F1 plateau; signal a stop below `min_learning_rate`.

    Flair semantics (what BioNerFlair used): `patience` non-improving evaluations are
    tolerated and the next one anneals, after which the count restarts. With patience 3 the
    lr drops on the 4th evaluation in a row without a new best. The lr itself lives in the
    optimizer (and so in its checkpoint); this object keeps only the plateau bookkeeping.
    """

    def __init__(
        self,
        factor: float,
        patience: int,
        min_learning_rate: float = 0.0,
        *,
        min_delta: float = 0.0,
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.factor = factor
        self.patience = patience
        self.min_learning_rate = min_learning_rate
        self.min_delta = min_delta
        self.best_score: float | None = None
        self.bad_evaluations = 0
        self.num_anneals = 0
        self.last: AnnealOutcome | None = None

    def step(self, score: float, optimizer: torch.optim.Optimizer) -> bool:
        """Record one dev score, lower the optimizer's lr on a plateau; True means stop.

        Stop = the lr is below `min_learning_rate` (checked every call, as Flair does).
        Details of the call are in `self.last`.
        """
        improved = _improves(score, self.best_score, self.min_delta)
        annealed = False
        learning_rate = get_learning_rate(optimizer)
        if improved:
            self.best_score = float(score)
            self.bad_evaluations = 0
        else:
            self.bad_evaluations += 1
            if self.bad_evaluations > self.patience:
                learning_rate *= self.factor
                set_learning_rate(optimizer, learning_rate)
                self.num_anneals += 1
                self.bad_evaluations = 0
                annealed = True
        stop = learning_rate < self.min_learning_rate
        self.last = AnnealOutcome(improved, annealed, learning_rate, stop)
        return stop

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-able state for checkpoints."""
        return {
            "best_score": self.best_score,
            "bad_evaluations": self.bad_evaluations,
            "num_anneals": self.num_anneals,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (settings stay those of the constructor)."""
        best = state["best_score"]
        self.best_score = None if best is None else float(best)
        self.bad_evaluations = int(state["bad_evaluations"])
        self.num_anneals = int(state["num_anneals"])


class EarlyStopping:
    """Track the best dev F1 and its epoch; stop after `patience` evaluations without a new best.

    `patience=None` never stops but still tracks the best score (for the "best" checkpoint).
    """

    def __init__(self, patience: int | None, *, min_delta: float = 0.0) -> None:
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {patience}")
        self.patience = patience
        self.min_delta = min_delta
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.bad_evaluations = 0
        self.improved = False

    @property
    def should_stop(self) -> bool:
        """True once `patience` evaluations in a row brought no improvement."""
        return self.patience is not None and self.bad_evaluations >= self.patience

    def step(self, score: float, epoch: int) -> bool:
        """Record the dev score of `epoch`; True means stop. `self.improved`: a new best?"""
        self.improved = _improves(score, self.best_score, self.min_delta)
        if self.improved:
            self.best_score = float(score)
            self.best_epoch = int(epoch)
            self.bad_evaluations = 0
        else:
            self.bad_evaluations += 1
        return self.should_stop

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-able state for checkpoints."""
        return {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_evaluations": self.bad_evaluations,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (patience stays that of the constructor)."""
        best = state["best_score"]
        self.best_score = None if best is None else float(best)
        epoch = state["best_epoch"]
        self.best_epoch = None if epoch is None else int(epoch)
        self.bad_evaluations = int(state["bad_evaluations"])


#: What `PlateauAnnealer.state_dict` holds, checked when a checkpoint is resumed.
ANNEALER_STATE = StateShape(
    {"best_score": (float, None), "bad_evaluations": int, "num_anneals": int}
)
#: What `EarlyStopping.state_dict` holds, checked when a checkpoint is resumed.
STOPPER_STATE = StateShape(
    {"best_score": (float, None), "best_epoch": (int, None), "bad_evaluations": int}
)
