"""Fixtures around one tiny trained model directory shared by the annotation, serve and API tests.

Test modules load it with `pytest_plugins = ["conftest_model"]` (registered once, so the model is
trained once per session, in about a second) and saved under pytest's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from bioner.tagger import Tagger
from model_fixture import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a saved tiny Tagger (see tests/model_fixture.py)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="module")
def tagger(tiny_model: Path) -> Tagger:
    """The tiny model, loaded once per test module."""
    return Tagger.load(tiny_model)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Tiny tensors on a shared machine: one thread is several times faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
