"""Sequence encoders and variational dropout: shapes, padding invariance, masks, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from bioner.models.dropout import SequenceDropout, packed_sequence_index
from bioner.models.encoders import (
    BiLSTMEncoder,
    BiLSTMLayer,
    ResidualBiLSTMEncoder,
    ResidualUnit,
    TanhProjection,
    pack,
    unpack,
)


def _batch(lengths: list[int], dim: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), dim, generator=gen)
    lens = torch.tensor(lengths)
    mask = torch.arange(max(lengths)).unsqueeze(0) < lens.unsqueeze(1)
    return x * mask.unsqueeze(-1), lens


# ----------------------------------------------------------------------------- SequenceDropout


def test_sequence_dropout_one_mask_per_sequence_across_time() -> None:
    torch.manual_seed(0)
    drop = SequenceDropout(0.5).train()
    out = drop(torch.ones(4, 7, 32))
    assert torch.equal(out, out[:, :1].expand_as(out))  # same mask at every time step
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert not torch.equal(out[0, 0], out[1, 0])  # sequences draw their own masks


def test_sequence_dropout_on_packed_sequences_keeps_mask_across_time() -> None:
    torch.manual_seed(1)
    lens = torch.tensor([3, 6, 1, 4])
    packed = pack(torch.ones(4, 6, 16), lens)
    out, _ = pad_packed_sequence(SequenceDropout(0.4).train()(packed), batch_first=True)
    for b, n in enumerate(lens.tolist()):
        assert torch.equal(out[b, :n], out[b, :1].expand(n, -1))
        assert torch.all(out[b, n:] == 0)


def test_packed_sequence_index_matches_layout() -> None:
    lens = torch.tensor([2, 5, 3])
    x = torch.arange(3).view(3, 1, 1).expand(3, 5, 1).float()
    packed = pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
    positions = packed_sequence_index(packed)
    assert torch.equal(packed.sorted_indices[positions].float(), packed.data[:, 0])


def test_sequence_dropout_is_identity_in_eval() -> None:
    x = torch.randn(2, 3, 4)
    assert torch.equal(SequenceDropout(0.5).eval()(x), x)
    with pytest.raises(ValueError):
        SequenceDropout(1.0)


# ----------------------------------------------------------------------------- BiLSTM encoder


def _encoder(kind: str, dim: int) -> torch.nn.Module:
    torch.manual_seed(0)
    drops = dict(
        input_dropout=0.3, recurrent_dropout=0.1, output_dropout=0.3, between_layer_dropout=0.2
    )
    if kind == "stacked":
        return BiLSTMEncoder(dim, 4, layers=2, **drops)
    return ResidualBiLSTMEncoder(dim, 4, units=2, **drops)


@pytest.mark.parametrize("kind", ["stacked", "residual"])
def test_encoder_shapes_and_padding_invariance(kind: str) -> None:
    enc = _encoder(kind, 5).eval()
    x, lens = _batch([3, 7, 5], 5)
    out = enc(x, lens)
    assert out.shape == (3, 7, enc.out_dim) and enc.out_dim == 8
    assert torch.all(out[0, 3:] == 0) and torch.all(out[2, 5:] == 0)
    alone = enc(x[:1, :3], lens[:1])
    torch.testing.assert_close(out[:1, :3], alone)
    mask = torch.arange(7).unsqueeze(0) < lens.unsqueeze(1)
    torch.testing.assert_close(enc(x, mask=mask), out)


@pytest.mark.parametrize("kind", ["stacked", "residual"])
def test_encoder_dropout_only_in_training(kind: str) -> None:
    enc = _encoder(kind, 5)
    x, lens = _batch([4, 6], 5)
    enc.eval()
    assert torch.equal(enc(x, lens), enc(x, lens))
    enc.train()
    assert not torch.equal(enc(x, lens), enc(x, lens))


def test_empty_sequence_gives_zeros() -> None:
    enc = BiLSTMEncoder(3, 2).eval()
    x, _ = _batch([4, 4], 3)
    out = enc(x, torch.tensor([4, 0]))
    assert torch.all(out[1] == 0) and out[0].abs().sum() > 0


def _manual_bilstm(layer: BiLSTMLayer, x: Tensor, masks: tuple[Tensor, Tensor]) -> Tensor:
    """Reference: a Python time-step loop with Gal's recurrent mask h_{t-1} ⊙ z (one sequence)."""
    lstm = layer.lstm
    halves = []
    for suffix, z, reverse in (("", masks[0], False), ("_reverse", masks[1], True)):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l0{suffix}"), getattr(lstm, f"weight_hh_l0{suffix}")
        bias = getattr(lstm, f"bias_ih_l0{suffix}") + getattr(lstm, f"bias_hh_l0{suffix}")
        h = x.new_zeros(layer.hidden)
        c = x.new_zeros(layer.hidden)
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outs: dict[int, Tensor] = {}
        for t in steps:
            i, f, g, o = (w_ih @ x[t] + w_hh @ (h * z) + bias).chunk(4)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs[t] = h
        halves.append(torch.stack([outs[t] for t in range(x.shape[0])]))
    return torch.cat(halves, dim=-1)


def test_recurrent_mask_is_what_the_fused_kernel_uses_and_gradients_reach_raw_weights() -> None:
    torch.manual_seed(0)
    layer = BiLSTMLayer(3, 4, recurrent_dropout=0.5).train()
    masks = (torch.tensor([2.0, 0.0, 2.0, 0.0]), torch.tensor([0.0, 2.0, 2.0, 2.0]))
    x, lens = _batch([5, 3], 3)
    out, _ = pad_packed_sequence(layer(pack(x, lens), masks), batch_first=True)
    out.sum().backward()
    kernel_grad = layer.lstm.weight_hh_l0.grad.clone()
    assert kernel_grad.abs().sum() > 0
    assert torch.all(kernel_grad[:, masks[0] == 0] == 0)  # dropped units: DropConnect columns
    layer.zero_grad()
    reference = [_manual_bilstm(layer, x[b, :n], masks) for b, n in enumerate(lens.tolist())]
    torch.testing.assert_close(out[0], reference[0])
    torch.testing.assert_close(out[1, :3], reference[1])
    sum(r.sum() for r in reference).backward()
    torch.testing.assert_close(layer.lstm.weight_hh_l0.grad, kernel_grad)


def test_training_samples_one_recurrent_mask_per_forward_pass() -> None:
    layer = BiLSTMLayer(3, 6, recurrent_dropout=0.5).train()
    x, lens = _batch([4, 2], 3)
    torch.manual_seed(7)
    sampled = layer(pack(x, lens))
    torch.manual_seed(7)
    masks = layer.sample_recurrent_masks()
    assert all(set(m.unique().tolist()) <= {0.0, 2.0} and m.shape == (6,) for m in masks)
    torch.testing.assert_close(sampled.data, layer(pack(x, lens), masks).data)
    layer.eval()
    torch.testing.assert_close(layer(pack(x, lens)).data, layer.lstm(pack(x, lens))[0].data)


# ----------------------------------------------------------------------------- residual, tanh


def test_residual_unit_adds_its_input_to_the_stack_output() -> None:
    unit = ResidualUnit(6, recurrent_dropout=0.1, between_layer_dropout=0.2).eval()
    x, lens = _batch([4, 2], 6)
    packed = pack(x, lens)
    torch.testing.assert_close(unit(packed).data, packed.data + unit.stack(packed).data)


def test_residual_encoder_projects_only_when_widths_differ() -> None:
    assert ResidualBiLSTMEncoder(5, 4).projection is not None
    assert ResidualBiLSTMEncoder(8, 4).projection is None
    enc = ResidualBiLSTMEncoder(8, 4, units=1).eval()
    x, lens = _batch([3, 2], 8)
    expected = unpack(enc.units[0](pack(x, lens)), 3, lens)
    torch.testing.assert_close(enc(x, lens), expected)


def test_tanh_projection() -> None:
    layer = TanhProjection(6, 3)
    x, lens = _batch([2, 4], 6)
    mask = torch.arange(4).unsqueeze(0) < lens.unsqueeze(1)
    out = layer(x, mask)
    assert out.shape == (2, 4, 3) and layer.out_dim == 3
    assert torch.all(out[0, 2:] == 0)
    torch.testing.assert_close(out[1], torch.tanh(layer.linear(x[1])))
