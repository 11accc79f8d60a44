"""Training building blocks: config validation, optimizers, schedules, checkpoints, metrics
log, plots, seeding. Small and CPU-only."""

from __future__ import annotations

import json
import math
import pickle
import random
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors import safe_open

from bioner.config import load_config
from bioner.errors import BionerError, InputFormatError
from bioner.training import checkpoints
from bioner.training.checkpoints import (
    StateShape,
    checkpoint_exists,
    load_checkpoint,
    save_checkpoint,
)
from bioner.training.config import TrainingConfig, format_validation_error
from bioner.training.metrics_log import MetricsLog, read_metrics
from bioner.training.optimizers import (
    build_optimizer,
    clip_gradients,
    get_learning_rate,
    set_learning_rate,
)
from bioner.training.plots import plot_learning_curve
from bioner.training.schedules import EarlyStopping, PlateauAnnealer
from bioner.training.seeding import configure_threads, seed_everything, select_device

OPTIMIZERS = ["sgd", "adam", "nadam", "rmsprop", "adagrad"]


def _config(**values: object) -> TrainingConfig:
    return TrainingConfig.model_validate(values)


def _error_text(data: dict, **kwargs: object) -> str:
    model = kwargs.pop("model", TrainingConfig)
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return format_validation_error(caught.value, "configs/x.json", model=model, **kwargs)


# ---------------------------------------------------------------- config
def test_config_defaults_follow_saber() -> None:
    config = TrainingConfig()
    assert config.optimizer == "nadam"
    assert config.clip_grad_norm == 1.0
    assert (config.batch_size, config.batch_tokens) == (32, None)


def test_config_token_budget_replaces_default_batch_size() -> None:
    config = _config(batch_tokens=1000, betas=[0.9, 0.98])
    assert (config.batch_size, config.batch_tokens) == (None, 1000)
    assert config.betas == (0.9, 0.98)


def test_unknown_key_is_named_with_suggestion() -> None:
    text = _error_text({"lr": 0.1, "learnin_rate": 0.1})
    assert text.startswith("configs/x.json: ")
    assert "unknown key 'lr' (did you mean 'learning_rate'?)" in text
    assert "unknown key 'learnin_rate' (did you mean 'learning_rate'?)" in text


def test_unknown_key_in_nested_section() -> None:
    class Top(BaseModel):
        model_config = ConfigDict(extra="forbid")
        training: TrainingConfig

    text = _error_text({"training": {"lr": 0.1}}, model=Top)
    assert "unknown key 'training.lr' (did you mean 'training.learning_rate'?)" in text
    assert "training.x" in _error_text({"x": 1}, prefix="training")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"epochs": "10"}, "'epochs'"),
        ({"epochs": 2.5}, "'epochs'"),
        ({"seed": True}, "'seed'"),
        ({"optimizer": "adamw"}, "'optimizer'"),
        ({"learning_rate": -0.1}, "'learning_rate'"),
        ({"betas": [1.5, 0.9]}, "'betas'"),
        ({"clip_grad_norm": 0}, "'clip_grad_norm'"),
        ({"shuffle": "yes"}, "'shuffle'"),
        ({"learning_rate": float("inf")}, "'learning_rate'"),  # would train to NaN weights
        ({"clip_grad_norm": float("nan")}, "'clip_grad_norm'"),
        ({"sampling_temperature": float("inf")}, "'sampling_temperature'"),
    ],
)
def test_ill_typed_or_out_of_range_values_are_rejected(data: dict, key: str) -> None:
    text = _error_text(data)
    assert key in text
    assert "\n" not in text


@pytest.mark.parametrize("betas", [[0.9], [], [0.9, 0.99, 0.999], 0.9])
def test_tuple_of_the_wrong_length_says_how_many_values(betas: object) -> None:
    """`betas=[0.9]` was reported as "missing key 'betas.1'"."""
    text = _error_text({"betas": betas}, prefix="training")
    assert text == f"configs/x.json: 'training.betas': needs 2 values (got {betas!r})"
    with pytest.raises(BionerError, match=r"'training\.betas': needs 2 values \(got \[0\.9\]\)$"):
        load_config("saber-baseline", ["training.betas=[0.9]"])


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        ({"batch_size": 8, "batch_tokens": 500}, "exactly one of batch_size and batch_tokens"),
        ({"batch_size": None}, "exactly one of batch_size and batch_tokens"),
        ({"nesterov": True, "optimizer": "adam"}, "nesterov applies to optimizer 'sgd' only"),
        ({"nesterov": True, "optimizer": "sgd"}, "nesterov needs momentum > 0"),
        ({"anneal_factor": 0.5, "learning_rate": 1e-5}, "below min_learning_rate"),
    ],
)
def test_inconsistent_settings_are_rejected(data: dict, phrase: str) -> None:
    assert phrase in _error_text(data)


# ---------------------------------------------------------------- optimizers
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_optimizer_steps(name: str) -> None:
    extra = {"momentum": 0.9, "nesterov": True} if name == "sgd" else {}
    config = _config(optimizer=name, learning_rate=0.1, **extra)
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = build_optimizer([weight], config)
    assert get_learning_rate(optimizer) == 0.1
    (weight**2).sum().backward()
    optimizer.step()
    assert torch.all(weight.detach() < 1.0)


def test_optimizer_classes_and_settings() -> None:
    weight = [torch.nn.Parameter(torch.ones(1))]
    sgd = build_optimizer(weight, _config(optimizer="sgd", momentum=0.9, nesterov=True))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["nesterov"] is True
    assert isinstance(build_optimizer(weight, _config(optimizer="nadam")), torch.optim.NAdam)
    rms = build_optimizer(weight, _config(optimizer="rmsprop", rmsprop_alpha=0.95))
    assert rms.param_groups[0]["alpha"] == 0.95
    ada = build_optimizer(weight, _config(optimizer="adagrad", weight_decay=1e-8))
    assert isinstance(ada, torch.optim.Adagrad) and ada.param_groups[0]["weight_decay"] == 1e-8
    set_learning_rate(ada, 0.25)
    assert get_learning_rate(ada) == 0.25


def test_clip_gradients_returns_norm_before_clipping() -> None:
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(1))
    unused = torch.nn.Parameter(torch.zeros(1))
    a.grad = torch.tensor([3.0, 0.0])
    b.grad = torch.tensor([4.0])
    assert clip_gradients([a, b, unused], 1.0) == pytest.approx(5.0)
    clipped = torch.cat([a.grad, b.grad]).norm().item()
    assert clipped == pytest.approx(1.0, abs=1e-5)
    # Below the threshold, and when only measuring, gradients stay exactly as they were.
    before = a.grad.clone()
    assert clip_gradients([a, b], 10.0) == pytest.approx(clipped)
    assert torch.equal(a.grad, before)
    assert clip_gradients([a, b], None) == pytest.approx(clipped)
    assert clip_gradients([unused], 1.0) == 0.0


# ---------------------------------------------------------------- schedules
def _sgd(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_plateau_annealer_sequence() -> None:
    optimizer = _sgd(0.1)
    annealer = PlateauAnnealer(0.5, 2, 0.03)
    history = [0.50, 0.60, 0.60, 0.59, 0.58, 0.70, 0.65, 0.60, 0.69]
    stops, rates = [], []
    for score in history:
        stops.append(annealer.step(score, optimizer))
        rates.append(get_learning_rate(optimizer))
    # Patience 2: the third non-improving evaluation in a row anneals.
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025])
    assert stops == [False] * 8 + [True]
    assert annealer.last is not None and annealer.last.annealed and annealer.last.stop
    assert annealer.num_anneals == 2 and annealer.best_score == 0.70


def test_plateau_annealer_state_round_trip() -> None:
    optimizer = _sgd(0.1)
    first = PlateauAnnealer(0.5, 1)
    for score in (0.5, 0.4):
        first.step(score, optimizer)
    second = PlateauAnnealer(0.5, 1)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert second.state_dict() == first.state_dict()
    second.step(float("nan"), optimizer)  # NaN never improves: anneals now
    assert get_learning_rate(optimizer) == pytest.approx(0.05)


def test_early_stopping_sequence() -> None:
    stopper = EarlyStopping(2)
    decisions = [
        stopper.step(score, epoch) for epoch, score in enumerate([0.5, 0.4, 0.6, 0.6, 0.55], 1)
    ]
    assert decisions == [False, False, False, False, True]
    assert (stopper.best_score, stopper.best_epoch) == (0.6, 3)
    restored = EarlyStopping(2)
    restored.load_state_dict(json.loads(json.dumps(stopper.state_dict())))
    assert restored.should_stop and restored.best_epoch == 3


def test_early_stopping_without_patience_tracks_best_only() -> None:
    stopper = EarlyStopping(None)
    assert not any(stopper.step(0.1, epoch) for epoch in range(1, 20))
    assert stopper.best_epoch == 1
    assert stopper.step(0.2, 20) is False and stopper.improved


# ---------------------------------------------------------------- checkpoints
class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(24, 6)
        self.lstm = torch.nn.LSTM(6, 5, batch_first=True, bidirectional=True)
        self.drop = torch.nn.Dropout(0.3)
        self.out = torch.nn.Linear(10, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(x))
        return self.out(self.drop(hidden))


def _fresh(seed: int, config: TrainingConfig) -> tuple[_Tiny, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = _Tiny()
    return model, build_optimizer(model.parameters(), config)


def _train(model: _Tiny, optimizer: torch.optim.Optimizer, steps: int) -> None:
    """Steps whose data and dropout draw on the Python, NumPy and torch generators."""
    model.train()
    for _ in range(steps):
        length = random.randint(3, 6)
        offset = int(np.random.randint(0, 4))
        x = torch.randint(0, 20, (2, length)) + offset
        y = torch.randint(0, 4, (2, length))
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 4), y.reshape(-1))
        loss.backward()
        clip_gradients(model.parameters(), 1.0)
        optimizer.step()


RESUME_CONFIGS = {
    "sgd-momentum": {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
    "adam": {"optimizer": "adam", "learning_rate": 0.01},
    "nadam": {"optimizer": "nadam", "learning_rate": 0.01},
    "rmsprop": {"optimizer": "rmsprop", "learning_rate": 0.01, "momentum": 0.5},
    "adagrad": {"optimizer": "adagrad", "learning_rate": 0.05},
}


@pytest.mark.parametrize("name", list(RESUME_CONFIGS))
def test_resume_is_bit_identical(name: str, tmp_path: Path) -> None:
    config = _config(**RESUME_CONFIGS[name])
    seed_everything(7)
    model, optimizer = _fresh(7, config)
    _train(model, optimizer, 3)
    state = {"epoch": 1, "step": 3, "best_f1": 0.5, "history": [{"epoch": 1, "dev_f1": 0.5}]}
    save_checkpoint(tmp_path, model, optimizer, state, tag="last")
    _train(model, optimizer, 3)
    expected = {key: value.clone() for key, value in model.state_dict().items()}

    seed_everything(12345)  # scramble every generator
    resumed, resumed_optimizer = _fresh(99, config)
    assert load_checkpoint(tmp_path, resumed, resumed_optimizer) == state
    _train(resumed, resumed_optimizer, 3)
    for key, value in resumed.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_resume_without_rng_restore_differs(tmp_path: Path) -> None:
    """Guards the test above: the generators matter (dropout, data draws)."""
    config = _config(optimizer="adam", learning_rate=0.01)
    seed_everything(7)
    model, optimizer = _fresh(7, config)
    _train(model, optimizer, 2)
    save_checkpoint(tmp_path, model, optimizer, {"epoch": 1})
    _train(model, optimizer, 2)
    seed_everything(12345)
    resumed, resumed_optimizer = _fresh(99, config)
    load_checkpoint(tmp_path, resumed, resumed_optimizer, restore_rng=False)
    _train(resumed, resumed_optimizer, 2)
    assert not torch.equal(resumed.out.weight, model.out.weight)


def test_checkpoint_files_are_json_or_safetensors_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(optimizer="nadam")
    model, optimizer = _fresh(1, config)
    _train(model, optimizer, 1)
    folder = save_checkpoint(tmp_path, model, optimizer, {"epoch": 1}, tag="best")
    assert folder == tmp_path / "best"
    names = sorted(path.name for path in folder.iterdir())
    assert names == sorted(
        [
            "checkpoint.json",
            "model.safetensors",
            "optimizer.json",
            "optimizer.safetensors",
            "rng.json",
            "rng.safetensors",
            "trainer_state.json",
        ]
    )
    for path in folder.iterdir():
        data = path.read_bytes()
        if path.suffix == ".json":
            json.loads(data)
        else:
            # safetensors: 8-byte little-endian header size, then a JSON header.
            (header_size,) = struct.unpack("<Q", data[:8])
            assert data[8:9] == b"{" and header_size < len(data)
            json.loads(data[8 : 8 + header_size])
            with safe_open(str(path), framework="pt") as handle:
                assert list(handle.keys())

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    fresh_model, fresh_optimizer = _fresh(2, config)
    assert load_checkpoint(tmp_path, fresh_model, fresh_optimizer, tag="best") == {"epoch": 1}
    assert torch.equal(fresh_model.out.weight, model.out.weight)


def test_interrupted_save_keeps_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(optimizer="sgd", learning_rate=0.1)
    model, optimizer = _fresh(1, config)
    save_checkpoint(tmp_path, model, optimizer, {"epoch": 1})
    real_replace = checkpoints.os.replace

    def crash_on_install(src: object, dst: object) -> None:
        if Path(str(dst)).name == "last":
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoints.os, "replace", crash_on_install)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(tmp_path, model, optimizer, {"epoch": 2})
    monkeypatch.setattr(checkpoints.os, "replace", real_replace)
    assert not (tmp_path / "last").exists()
    assert checkpoint_exists(tmp_path, "last")
    assert load_checkpoint(tmp_path, model, optimizer) == {"epoch": 1}
    save_checkpoint(tmp_path, model, optimizer, {"epoch": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert load_checkpoint(tmp_path, model, optimizer) == {"epoch": 3}


def test_state_shape_checks_json_types_as_json_spells_them(tmp_path: Path) -> None:
    """A bool is not a count (JSON true is a Python int), a whole number is a number, an
    optional key may be absent, and a nested object's keys are named with their parent."""
    shape = StateShape(
        {"step": int, "loss": float},
        optional={"stopper": StateShape({"best": (float, None)})},
    )
    path = tmp_path / "state.json"
    assert shape.check(path, {"step": 0, "loss": 1}) == {"step": 0, "loss": 1}
    assert shape.check(path, {"step": 2, "loss": 0.5, "stopper": {"best": None}})
    for bad, problem in [
        ({"step": True, "loss": 1.0}, "'step' must be a whole number, got true"),
        ({"step": 1, "loss": 1.0, "stopper": {"best": "x"}}, "'stopper.best' must be a number"),
        ({"step": 1, "loss": 1.0, "stopper": 3}, "'stopper' must be an object, got 3"),
        ({"step": 1}, "'loss' is missing"),
    ]:
        with pytest.raises(BionerError, match="^" + re.escape(f"{path}: {problem}")):
            shape.check(path, bad)


def test_load_checkpoint_errors(tmp_path: Path) -> None:
    config = _config(optimizer="adam")
    model, optimizer = _fresh(1, config)
    with pytest.raises(BionerError, match="no complete 'last' checkpoint"):
        load_checkpoint(tmp_path, model, optimizer)
    save_checkpoint(tmp_path, model, None, {"epoch": 1})
    with pytest.raises(BionerError, match="no optimizer state"):
        load_checkpoint(tmp_path, model, optimizer)
    other = torch.nn.Linear(2, 2)
    with pytest.raises(BionerError, match="do not fit this model"):
        load_checkpoint(tmp_path, other, None)
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path, model, optimizer, {"bad": object()})


# ---------------------------------------------------------------- metrics log
def _records(n: int) -> list[dict]:
    return [
        {
            "epoch": i,
            "step": 10 * i,
            "train_loss": 2.0 / i,
            "dev_f1": 0.5 + 0.05 * i if i != 2 else None,
            "learning_rate": 0.1,
            "seconds": 1.5,
            "elapsed_seconds": 1.5 * i,
            "sentences_per_second": 100.0,
        }
        for i in range(1, n + 1)
    ]


def test_metrics_log_truncated_last_line_is_tolerated_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path, fresh=True)
    for record in _records(3):
        log.append(record)
    assert read_metrics(path) == _records(3)
    with open(path, "ab") as stream:
        stream.write(b'{"epoch": 4, "step": 4')  # killed mid-write
    assert read_metrics(path) == _records(3)
    resumed = MetricsLog(path)
    resumed.append(_records(4)[3])
    assert read_metrics(path) == _records(4)
    MetricsLog(path, keep_until_step=20)
    assert [r["epoch"] for r in read_metrics(path)] == [1, 2]
    MetricsLog(path, fresh=True)
    assert read_metrics(path) == []


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b'{"epoch": 1}\n{"epoch": \n{"epoch": 3}\n', 2),
        (b'{"epoch": 1}\n\n{"epoch": 3}\n', 2),
        (b'{"epoch": 1}\n[1, 2]\n', 2),
        (b'{"epoch": 1}\n{"epoch": 2\n', 2),  # complete line (has newline) yet malformed
    ],
)
def test_metrics_log_malformed_line_is_rejected(tmp_path: Path, content: bytes, line: int) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputFormatError) as caught:
        read_metrics(path)
    assert caught.value.line == line
    assert str(path) in str(caught.value) and f"line {line}" in str(caught.value)


# ---------------------------------------------------------------- plots
def test_plot_learning_curve_writes_png(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    log = MetricsLog(metrics, fresh=True)
    for record in _records(4):
        log.append(record)
    target = plot_learning_curve(metrics, tmp_path / "plots" / "curve.png", title="tiny")
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert sorted(p.name for p in target.parent.iterdir()) == ["curve.png"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(BionerError, match="no metrics"):
        plot_learning_curve(empty, tmp_path / "empty.png")


# ---------------------------------------------------------------- seeding
def test_seed_everything_repeats_all_generators() -> None:
    def draw() -> tuple:
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(3)
    first = draw()
    seed_everything(3)
    assert draw() == first
    seed_everything(4)
    assert draw() != first


def test_select_device_and_threads() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(BionerError, match="no CUDA"):
            select_device("cuda")
    with pytest.raises(BionerError):
        select_device("tpu")
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1
        assert configure_threads(None) == 1
    finally:
        torch.set_num_threads(before)
    assert math.isfinite(before)


def test_config_extends_a_preset(tmp_path: Path) -> None:
    base = load_config("deepvar")
    fine = load_config("deepvar-fine")
    # Only the stated differences change; nested sections merge key by key.
    assert fine.data.tokenizer == "fine" and fine.model.embedder.char.alphabet == "learned"
    assert fine.model.encoder == base.model.encoder
    assert fine.model.embedder.char.widths == base.model.embedder.char.widths
    assert fine.training.clip_grad_norm == base.training.clip_grad_norm
    assert fine.data.dev_fraction == base.data.dev_fraction
    own = tmp_path / "mine.toml"
    own.write_text('extends = "deepvar-fine"\n[model.encoder]\nunits = 1\n')
    mine = load_config(own, ["training.epochs=3"])
    assert mine.model.encoder.units == 1 and mine.data.tokenizer == "fine"
    assert mine.training.epochs == 3
    loop = tmp_path / "loop.toml"
    loop.write_text(f'extends = "{loop}"\n')
    with pytest.raises(BionerError, match="`extends` must name another preset"):
        load_config(loop)
    with pytest.raises(BionerError, match="no config file or preset named 'nope'"):
        load_config(_write(tmp_path / "bad.toml", 'extends = "nope"\n'))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


class _PackedWeights(torch.nn.Module):
    """Parameters that are views of one flat buffer, as cuDNN packs an LSTM's on CUDA."""

    def __init__(self) -> None:
        super().__init__()
        flat = torch.arange(12, dtype=torch.float32)
        self.first = torch.nn.Parameter(flat[:6].view(2, 3))
        self.second = torch.nn.Parameter(flat[6:].view(3, 2))


def test_checkpoint_of_weights_packed_in_one_buffer_round_trips(tmp_path: Path) -> None:
    model = _PackedWeights()
    assert model.first.untyped_storage().data_ptr() == model.second.untyped_storage().data_ptr()
    save_checkpoint(tmp_path, model, None, {"epoch": 1})
    fresh = _PackedWeights()
    with torch.no_grad():
        fresh.first.zero_()
        fresh.second.zero_()
    assert load_checkpoint(tmp_path, fresh, None) == {"epoch": 1}
    assert torch.equal(fresh.first, model.first) and torch.equal(fresh.second, model.second)
