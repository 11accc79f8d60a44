"""Lyu's word window: each token's features concatenated with its ±k neighbours'.

Lyu et al. (§Input layer) feed the LSTM ``x_i = R_{i-2} ⊕ R_{i-1} ⊕ R_i ⊕ R_{i+1} ⊕ R_{i+2}``
(k = 2). Positions beyond a sentence's edges — before its start, after its last real token,
and padding — contribute zero vectors, so the result does not depend on batch padding.
Vectorised: one shifted slice per offset, no loop over tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class WordWindow(nn.Module):
    """`[B, T, D]` (+ mask `[B, T]`) → `[B, T, (2k + 1) · D]`, ordered from offset -k to +k."""

    def __init__(self, k: int = 2) -> None:
        super().__init__()
        if k < 0:
            raise ValueError(f"window half-width must be >= 0, got {k}")
        self.k = k

    def extra_repr(self) -> str:
        return f"k={self.k}"

    def output_dim(self, input_dim: int) -> int:
        """Feature size of the output for input features of size ``input_dim``."""
        return (2 * self.k + 1) * input_dim

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        if self.k == 0:
            return x
        t = x.shape[1]
        padded = nn.functional.pad(x, (0, 0, self.k, self.k))  # zeros beyond both edges
        out = torch.cat([padded[:, i : i + t] for i in range(2 * self.k + 1)], dim=-1)
        if mask is not None:
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return out
