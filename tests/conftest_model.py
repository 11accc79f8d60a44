"""Session fixture: one tiny trained model directory shared by the annotation and serve tests.

Test modules load it with `pytest_plugins = ["conftest_model"]` (registered once, so the model is
trained once per session, in about a second) and saved under pytest's temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model_fixture import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a saved tiny Tagger (see tests/model_fixture.py)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")
