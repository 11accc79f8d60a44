"""Variational ("locked") dropout: one mask per sequence, shared by all its time steps.

Gal & Ghahramani (2016), as used by Saber §2.3 for the input and output connections of
every recurrent layer: dropping *the same units* at every token keeps the noise from
destroying what the recurrence carries, unlike a fresh mask per time step (Saber Fig. 2).
Works on padded `[B, T, D]` tensors and on `PackedSequence`s, so an encoder can stay
packed between its layers.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence


def packed_sequence_index(packed: PackedSequence) -> Tensor:
    """For each row of ``packed.data``, the position of its sequence in the sorted batch.

    Rows of time step ``t`` are the first ``batch_sizes[t]`` sequences of the length-sorted
    batch, so the position is ``row - offset(t)``; computed without a loop over steps.
    """
    batch_sizes = packed.batch_sizes.to(packed.data.device)
    offsets = torch.cumsum(batch_sizes, 0) - batch_sizes
    rows = torch.arange(packed.data.shape[0], device=packed.data.device)
    return rows - torch.repeat_interleave(offsets, batch_sizes)


def sequence_mask(batch: int, dim: int, p: float, like: Tensor) -> Tensor:
    """A `[batch, dim]` Bernoulli(1 - p) mask scaled by 1 / (1 - p) (inverted dropout)."""
    keep = 1.0 - p
    return torch.empty(batch, dim, dtype=like.dtype, device=like.device).bernoulli_(keep) / keep


class SequenceDropout(nn.Module):
    """Dropout with one mask per sequence across all time steps; identity in eval mode.

    Input `[B, T, D]` (mask `[B, 1, D]` broadcast over T) or a `PackedSequence` (the mask
    row of each packed row is looked up from its sequence). Output has the input's shape.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Tensor | PackedSequence) -> Tensor | PackedSequence:
        if not self.training or self.p == 0.0:
            return x
        if isinstance(x, PackedSequence):
            batch = int(x.batch_sizes[0])
            mask = sequence_mask(batch, x.data.shape[-1], self.p, x.data)
            data = x.data * mask[packed_sequence_index(x)]
            return PackedSequence(data, x.batch_sizes, x.sorted_indices, x.unsorted_indices)
        if x.dim() != 3:
            raise ValueError(f"SequenceDropout expects [B, T, D], got shape {tuple(x.shape)}")
        mask = sequence_mask(x.shape[0], x.shape[2], self.p, x)
        return x * mask.unsqueeze(1)
