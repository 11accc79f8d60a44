"""Sequence encoders: stacked BiLSTM, DeepVar residual units, Lyu's tanh layer.

One job: turn token features `[B, T, D]` plus sentence lengths into contextual features
`[B, T, out_dim]` (zeros at padding). Every BiLSTM runs on PyTorch's fused LSTM kernel over
packed sequences (no Python loop over time steps), and the whole stack stays packed between
layers, so padding never influences a sentence's output.

Variational dropout (Gal & Ghahramani 2016; Saber §2.3: input 0.3, recurrent 0.1, output 0.3)
----------------------------------------------------------------------------------------------
* input / output / between-layer connections: `SequenceDropout`, one mask per sequence shared
  by all its time steps.
* recurrent connections: Gal's recurrent mask multiplies the previous hidden state,
  ``h_{t-1} ⊙ z``, with ``z`` fixed across time steps. Since
  ``W_hh (h_{t-1} ⊙ z) = (W_hh · diag(z)) h_{t-1}``, the same computation is obtained by
  zeroing (and rescaling by 1/(1-p)) *columns* of the hidden-to-hidden matrices
  ``weight_hh_l0`` / ``weight_hh_l0_reverse`` (shape `[4H, H]`) once per forward pass; the
  fused kernel then sees ordinary weights. One mask of size H per direction, shared by the
  four gates (Gal's "tied" variant) and constant across time steps. The difference from a
  per-sequence mask: the mask is drawn once per *batch* (all sentences of the batch drop the
  same recurrent units) — the price of a kernel that takes one weight matrix per call; the
  expectation of the regularised objective is the same.
  The masked matrix is ``weight * mask`` (an autograd op), and the kernel is called with the
  module's other parameters unchanged, so gradients reach the raw ``weight_hh`` (masked
  columns get zero gradient for that batch, as in DropConnect). The call goes to `torch.lstm`,
  the same op `nn.LSTM.forward` uses, with the weight list built from the `nn.LSTM`'s own
  parameters (state-dict keys stay the standard ones). Swapping parameters into the module
  instead (e.g. `torch.func.functional_call`) makes `nn.LSTM` rebuild and, under cuDNN,
  re-flatten its weight buffer in place on every call, which the direct call avoids.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from bioner.models.dropout import SequenceDropout

_DIRECTIONS = ("", "_reverse")


def lengths_from(lengths: Tensor | None, mask: Tensor | None) -> Tensor:
    """Sentence lengths `[B]` (int64, CPU) from either ``lengths`` or a `[B, T]` ``mask``."""
    if (lengths is None) == (mask is None):
        raise ValueError("pass exactly one of lengths or mask")
    if lengths is None:
        assert mask is not None
        lengths = mask.sum(dim=1)
    return lengths.to(device="cpu", dtype=torch.int64)


def pack(x: Tensor, lengths: Tensor) -> PackedSequence:
    """Pack `[B, T, D]`; empty sequences are packed with length 1 (masked out by `unpack`)."""
    return pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)


def unpack(packed: PackedSequence, total_length: int, lengths: Tensor) -> Tensor:
    """Inverse of `pack`: `[B, total_length, D]` with zeros at padding and empty sequences."""
    out, _ = pad_packed_sequence(packed, batch_first=True, total_length=total_length)
    if bool((lengths == 0).any()):
        out = out * (lengths != 0).to(out.device, out.dtype).view(-1, 1, 1)
    return out


def _map_packed(packed: PackedSequence, data: Tensor) -> PackedSequence:
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)


class BiLSTMLayer(nn.Module):
    """One bidirectional LSTM layer, `PackedSequence` in and out, out_dim = 2 · hidden.

    With ``recurrent_dropout > 0`` in training mode, a per-batch column mask is applied to
    ``weight_hh_l0`` and ``weight_hh_l0_reverse`` (see the module docstring); in eval mode
    (or with p = 0) it is exactly ``nn.LSTM``.
    """

    def __init__(self, input_dim: int, hidden: int, recurrent_dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= recurrent_dropout < 1.0:
            raise ValueError(f"recurrent_dropout must be in [0, 1), got {recurrent_dropout}")
        self.lstm = nn.LSTM(input_dim, hidden, batch_first=True, bidirectional=True)
        self.hidden = hidden
        self.recurrent_dropout = recurrent_dropout
        self.out_dim = 2 * hidden

    def sample_recurrent_masks(self) -> tuple[Tensor, Tensor]:
        """Fresh masks `[hidden]` (forward, backward): Bernoulli(1 - p) / (1 - p)."""
        keep = 1.0 - self.recurrent_dropout
        like = self.lstm.weight_hh_l0
        return tuple(  # type: ignore[return-value]
            torch.empty(self.hidden, dtype=like.dtype, device=like.device).bernoulli_(keep) / keep
            for _ in _DIRECTIONS
        )

    def forward(
        self, packed: PackedSequence, recurrent_masks: tuple[Tensor, Tensor] | None = None
    ) -> PackedSequence:
        """Run the layer; ``recurrent_masks`` overrides the sampled masks (for tests)."""
        if recurrent_masks is None and self.training and self.recurrent_dropout > 0.0:
            recurrent_masks = self.sample_recurrent_masks()
        if recurrent_masks is None:
            return self.lstm(packed)[0]
        weights: list[Tensor] = []
        for suffix, mask in zip(_DIRECTIONS, recurrent_masks, strict=True):
            weights += [
                getattr(self.lstm, f"weight_ih_l0{suffix}"),
                getattr(self.lstm, f"weight_hh_l0{suffix}") * mask,  # column j ← unit j of h
                getattr(self.lstm, f"bias_ih_l0{suffix}"),
                getattr(self.lstm, f"bias_hh_l0{suffix}"),
            ]
        data = packed.data
        h0 = data.new_zeros(2, int(packed.batch_sizes[0]), self.hidden)
        out, _, _ = torch.lstm(
            data, packed.batch_sizes, (h0, h0), weights, True, 1, 0.0, self.training, True
        )
        return _map_packed(packed, out)


class BiLSTMEncoder(nn.Module):
    """Stacked BiLSTM (Lample; Saber Table 2: 2 layers × 100 units), out_dim = 2 · hidden.

    Each layer is its own `BiLSTMLayer` so that variational dropout can sit between layers:
    input dropout → layer 1 → between-layer dropout → layer 2 … → output dropout, all
    `SequenceDropout` (Saber §2.3), plus recurrent dropout inside every layer.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: int,
        layers: int = 1,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        output_dropout: float = 0.0,
        between_layer_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.input_dim = input_dim
        self.out_dim = 2 * hidden
        self.input_dropout = SequenceDropout(input_dropout)
        self.layers = nn.ModuleList(
            BiLSTMLayer(input_dim if i == 0 else 2 * hidden, hidden, recurrent_dropout)
            for i in range(layers)
        )
        self.between_layer_dropout = SequenceDropout(between_layer_dropout)
        self.output_dropout = SequenceDropout(output_dropout)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        """`[B, T, input_dim]` + lengths `[B]` (or mask `[B, T]`) → `[B, T, 2 · hidden]`."""
        lens = lengths_from(lengths, mask)
        h = self.input_dropout(pack(x, lens))
        for i, layer in enumerate(self.layers):
            if i > 0:
                h = self.between_layer_dropout(h)
            h = layer(h)
        return unpack(self.output_dropout(h), x.shape[1], lens)


class ResidualUnit(nn.Module):
    """DeepVar §3.2 unit: two stacked BiLSTMs plus an identity shortcut, ``x + L2(L1(x))``.

    The paper says the residual layer "takes the hidden states from both BiLSTM layers";
    we read it as the standard identity shortcut around the two-layer stack (Fig. 1 shows
    the unit's input added to its output). Between-layer dropout sits between L1 and L2.
    """

    def __init__(self, dim: int, recurrent_dropout: float, between_layer_dropout: float) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"residual unit width must be even (2 · hidden), got {dim}")
        self.first = BiLSTMLayer(dim, dim // 2, recurrent_dropout)
        self.second = BiLSTMLayer(dim, dim // 2, recurrent_dropout)
        self.dropout = SequenceDropout(between_layer_dropout)
        self.out_dim = dim

    def stack(self, packed: PackedSequence) -> PackedSequence:
        """The residual branch alone: L2(dropout(L1(x)))."""
        return self.second(self.dropout(self.first(packed)))

    def forward(self, packed: PackedSequence) -> PackedSequence:
        return _map_packed(packed, packed.data + self.stack(packed).data)


class ResidualBiLSTMEncoder(nn.Module):
    """DeepVar §3.2 word-representation module: ``units`` residual units, out_dim = 2 · hidden.

    DeepVar Table 4 grid: units n ∈ {1, 2}, word LSTM states ∈ {50, 100, 200}. An identity
    shortcut needs equal widths, so when ``input_dim != 2 · hidden`` the input is projected
    once by a linear layer (``self.projection``) before the first unit; otherwise there is
    no projection. Dropout: input (before the projection), inside each unit, and output.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: int,
        units: int = 1,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        output_dropout: float = 0.0,
        between_layer_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        width = 2 * hidden
        self.input_dim = input_dim
        self.out_dim = width
        self.input_dropout = SequenceDropout(input_dropout)
        self.projection = nn.Linear(input_dim, width) if input_dim != width else None
        self.units = nn.ModuleList(
            ResidualUnit(width, recurrent_dropout, between_layer_dropout) for _ in range(units)
        )
        self.output_dropout = SequenceDropout(output_dropout)

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        """`[B, T, input_dim]` + lengths `[B]` (or mask `[B, T]`) → `[B, T, 2 · hidden]`."""
        lens = lengths_from(lengths, mask)
        h = self.input_dropout(pack(x, lens))
        if self.projection is not None:
            h = _map_packed(h, self.projection(h.data))
        for unit in self.units:
            h = unit(h)
        return unpack(self.output_dropout(h), x.shape[1], lens)


class TanhProjection(nn.Module):
    """Lyu's hidden layer f1: ``h_t = tanh(W_f [→h_t; ←h_t] + b_f)``, out_dim = ``dim``.

    Lyu §Neural network settings: f1 has 100 units; W is initialised uniformly in
    ±sqrt(6 / (rows + cols)) (Glorot); we start b at zero. Applied per token; positions
    outside ``mask`` are set to zero.
    """

    def __init__(self, input_dim: int, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_dim, dim)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.out_dim = dim

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """`[B, T, input_dim]` (+ optional mask `[B, T]`) → `[B, T, dim]`."""
        out = torch.tanh(self.linear(x))
        if mask is not None:
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return out
