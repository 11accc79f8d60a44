"""Shared fixtures. Tests that need ../shared/corpora skip with a visible reason without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _shared_dir() -> Path:
    return Path(os.environ.get("BIONER_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """`../shared/corpora`, or skip: the staged corpora are not part of the repo."""
    path = _shared_dir() / "corpora"
    if not path.is_dir():
        pytest.skip(f"staged corpora not found at {path} (set BIONER_SHARED)")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
