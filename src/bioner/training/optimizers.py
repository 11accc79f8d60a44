"""Optimizers from a `TrainingConfig`, gradient-norm clipping and learning-rate access.

The papers this toolkit reproduces train with different update rules (Saber: Nadam with
clipping Γ = 1; DeepVar: SGD + Nesterov, RMSprop, Adam; BioNerFlair: SGD; Lyu et al.: AdaGrad),
so the choice is one config key and this module is the only place that maps it to torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from bioner.training.config import TrainingConfig

ParamsT = Iterable[torch.Tensor] | Iterable[dict[str, Any]]


def build_optimizer(params: ParamsT, config: TrainingConfig) -> torch.optim.Optimizer:
    """The optimizer `config.optimizer` names, over `params` (tensors or param groups)."""
    lr = config.learning_rate
    decay = config.weight_decay
    name = config.optimizer
    # foreach: one fused update over all tensors instead of a Python loop per parameter.
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=decay,
            foreach=True,
        )
    if name == "adam":
        return torch.optim.Adam(
            params, lr=lr, betas=config.betas, eps=config.eps, weight_decay=decay, foreach=True
        )
    if name == "nadam":
        # momentum_decay=0.004 is Dozat's schedule (Keras' schedule_decay), which Saber used.
        return torch.optim.NAdam(
            params, lr=lr, betas=config.betas, eps=config.eps, weight_decay=decay, foreach=True
        )
    if name == "rmsprop":
        return torch.optim.RMSprop(
            params,
            lr=lr,
            alpha=config.rmsprop_alpha,
            eps=config.eps,
            momentum=config.momentum,
            weight_decay=decay,
            foreach=True,
        )
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=config.eps, weight_decay=decay, foreach=True)
    raise ValueError(f"unknown optimizer {name!r}")  # unreachable: the config validates it


def clip_gradients(params: Iterable[torch.Tensor], max_norm: float | None) -> float:
    """Total L2 norm of the gradients BEFORE clipping; rescales them to `max_norm` if above.

    `max_norm=None` only measures. Parameters without a gradient are ignored; the result is
    0.0 when none has one, and may be inf/nan when a gradient is not finite (the caller decides).
    """
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return 0.0
    total = torch.nn.utils.get_total_norm([p.grad for p in with_grad], norm_type=2.0)
    if max_norm is not None:
        # Takes the parameters (it rescales their .grad), not the gradients themselves.
        torch.nn.utils.clip_grads_with_norm_(with_grad, max_norm, total)
    return float(total)


def get_learning_rate(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate of the first parameter group (all groups share it here)."""
    return float(optimizer.param_groups[0]["lr"])


def set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
    """Set the learning rate of every parameter group."""
    if not (learning_rate > 0.0 and math.isfinite(learning_rate)):
        raise ValueError(f"learning rate must be a positive finite number, got {learning_rate}")
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
