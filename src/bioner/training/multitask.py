"""The order in which a multi-task epoch visits its corpora: one schedule of head names.

Saber §2.7 trains a multi-task model by visiting every corpus once per epoch, in random
order, each corpus updating the shared layers and its own decoder ("sequential"). With
corpora of very different sizes the last corpus of an epoch dominates the shared layers
for a while, so two interleaving options are offered as well: every step draws the corpus
of its next batch with probability ∝ size^(1/T) ("temperature", Arivazhagan et al. 2019);
T = 1 is "proportional" (each batch once per epoch, interleaved at random), and a large T
approaches uniform sampling, which oversamples the small corpora. Written here rather than
taken from a library because it is a few lines over `random.Random`, which keeps a resumed
run's schedule bit-identical (the Trainer derives the generator from seed and epoch).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Literal

SamplingMode = Literal["sequential", "proportional", "temperature"]


def sampling_weights(sizes: Mapping[str, int], temperature: float) -> dict[str, float]:
    """Probability of drawing each corpus: size^(1/T), normalised (empty corpora get 0)."""
    if temperature <= 0:
        raise ValueError(f"sampling temperature must be > 0, got {temperature}")
    raw = {head: (size ** (1.0 / temperature) if size > 0 else 0.0) for head, size in sizes.items()}
    total = sum(raw.values())
    if total == 0:
        return {head: 0.0 for head in sizes}
    return {head: value / total for head, value in raw.items()}


def multitask_schedule(
    batches: Mapping[str, int],
    mode: SamplingMode,
    rng: random.Random,
    *,
    temperature: float = 1.0,
    order: Sequence[str] | None = None,
) -> list[str]:
    """One epoch as a list of head names, one per optimizer step.

    `batches` maps each head to its number of batches; the epoch has as many steps as all
    of them together. "sequential" keeps `order` (the caller's shuffled head order) and
    runs each head's batches in one block; "proportional" shuffles every batch of every
    head together; "temperature" draws each step's head independently with
    `sampling_weights(batches, temperature)` (a head may then run more or fewer batches
    than it has; the caller cycles through its batches).
    """
    heads = list(order) if order is not None else list(batches)
    if sorted(heads) != sorted(batches):
        raise ValueError("order must list every head exactly once")
    if mode == "sequential":
        return [head for head in heads for _ in range(batches[head])]
    if mode == "proportional":
        steps = [head for head in heads for _ in range(batches[head])]
        rng.shuffle(steps)
        return steps
    if mode == "temperature":
        weights = sampling_weights({h: batches[h] for h in heads}, temperature)
        total = sum(batches.values())
        if total == 0:
            return []
        return rng.choices(heads, weights=[weights[h] for h in heads], k=total)
    raise ValueError(f"unknown multi-task sampling mode {mode!r}")
