"""`bioner annotate --engine ray` when the cluster is unreachable or a signal arrives.

Checks that can fail: an address that accepts no connection is one clear error at once (Ray's
own retries took more than ten minutes), and starting Ray keeps the command's SIGTERM handler
(Ray put in its own: exit status 15 and a native stack dump instead of "terminated", 143), and
SIGTERM while Ray starts is "terminated", 143, not a failure to start Ray.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from typer.testing import CliRunner

from bioner.cli.app import _register_commands, app
from bioner.errors import BionerError

ray = pytest.importorskip("ray")

pytest_plugins = ["conftest_model"]


@pytest.fixture
def no_ray_running() -> Iterator[None]:
    """These tests start (or refuse to start) Ray themselves, and stop what they started."""
    if ray.is_initialized():
        pytest.skip("a Ray session is already running in this process")
    yield
    ray.shutdown()


def test_unreachable_ray_address_is_one_clear_error_at_once(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch, no_ray_running: None
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    calls: list[dict] = []

    def init(**options: object) -> None:  # the real one retries for minutes
        calls.append(options)
        raise RuntimeError("Failed to connect to GCS")

    monkeypatch.setattr(ray, "init", init)
    _register_commands()
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["annotate", "-m", str(tiny_model), "BRCA1", "--engine", "ray", "--ray-address", address],
    )
    assert isinstance(result.exception, BionerError)
    assert str(result.exception) == f"could not reach Ray at {address}: Connection refused"
    assert not calls
    assert time.monotonic() - started < 10


def test_starting_ray_keeps_the_commands_sigterm_handler(no_ray_running: None) -> None:
    from bioner.annotation.ray_engine import _start_ray

    def handler(signum: int, frame: FrameType | None) -> None:
        raise AssertionError("not called")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        _start_ray(None, 1)
        assert ray.is_initialized()
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, previous)


def test_sigterm_while_ray_starts_is_terminated_not_a_ray_error(tiny_model: Path) -> None:
    """`_start_ray` turns any Exception from ray.init into "could not start or reach Ray";
    SIGTERM's TerminatedError was one, so the command said that and exited 2, not 143.
    (a cluster library's own `except Exception` likewise logged it, and went on annotating.)"""
    script = f"""
import os, signal, sys, time
import ray

def init(**options):  # the signal arrives while Ray starts, as the real one takes seconds
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)

ray.init = init
from bioner.cli.app import main
sys.argv = ["bioner", "annotate", "-m", {str(tiny_model)!r}, "BRCA1", "--engine", "ray"]
main()
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip() == "terminated"
