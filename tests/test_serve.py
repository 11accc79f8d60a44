"""The HTTP service: API and limits through FastAPI's TestClient, the page in headless Chromium.

The browser test starts `bioner serve` on a free 127.0.0.1 port in a subprocess, loads the
page with `?text=...` (the page annotates it on load) and reads the DOM Chromium dumps: the
entities must be there as highlighted `<mark class="entity">` elements. It skips, saying why,
when Chromium is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from bioner import __version__
from bioner.serve.app import create_app
from bioner.tagger import Tagger
from model_fixture import EXAMPLE

pytest_plugins = ["conftest_model"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SERVE = 'import sys; from bioner.cli import main; sys.argv[0] = "bioner"; main()'


@pytest.fixture(scope="module")
def client(tiny_model: Path) -> Iterator[TestClient]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    app = create_app(
        Tagger.load(tiny_model), model_name="tiny", max_request_bytes=5_000, max_documents=3
    )
    with TestClient(app) as test_client:
        yield test_client
    torch.set_num_threads(threads)


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model": "tiny",
        "version": __version__,
        "labels": ["Disease", "Gene"],
    }


def test_annotate_one_text_offsets_into_the_original(client: TestClient) -> None:
    text = "Ärzte:\u200amelanoma\r\nand BRCA1 🧬 TP53."
    response = client.post("/annotate", json={"text": text})
    assert response.status_code == 200
    body = response.json()
    assert body["text"] == text
    assert {(s["text"], s["label"]) for s in body["spans"]} >= {("melanoma", "Disease")}
    for span in body["spans"]:
        assert text[span["start"] : span["end"]] == span["text"]


def test_annotate_batch_and_types(client: TestClient) -> None:
    documents = [{"id": "a", "text": EXAMPLE}, {"id": "b", "text": "KRAS in asthma"}]
    body = client.post("/annotate", json={"documents": documents, "types": ["Gene"]}).json()
    assert [d["id"] for d in body["documents"]] == ["a", "b"]
    labels = {s["label"] for d in body["documents"] for s in d["spans"]}
    assert labels == {"Gene"}


def test_request_size_limit_is_413_json(client: TestClient) -> None:
    response = client.post("/annotate", json={"text": "BRCA1 " * 2000})
    assert response.status_code == 413
    assert "5000 bytes" in response.json()["detail"]


def test_request_size_limit_without_content_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    response = client.post(
        "/annotate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"documents": [{"id": str(i), "text": "x"} for i in range(4)]}, "limit is 3"),
        ({"text": "a", "documents": [{"id": "1", "text": "b"}]}, "exactly one"),
        ({}, "exactly one"),
        ({"text": "a", "types": ["Protein"]}, "Protein"),
        ({"text": 5}, "string"),
        ({"txt": "a"}, "txt"),
    ],
)
def test_invalid_requests_are_422_json(client: TestClient, payload: dict, needle: str) -> None:
    response = client.post("/annotate", json=payload)
    assert response.status_code == 422
    assert needle in json.dumps(response.json())


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"text": NaN}', "text: Input should be a valid string"),
        (b'{"documents": [{"id": "a", "text": Infinity}]}', "documents.0.text"),
        (b'{"text": "BRCA1 \\ud800 in asthma"}', "text: a lone surrogate \\ud800"),
        (b'{"text": "BRCA1", "types": ["\\udfff"]}', "types.0: a lone surrogate"),
        (b'{"text": "BRCA1", "\\ud800": 1}', "request body"),
        (b'{"text": ', "invalid JSON at character"),
    ],
)
def test_bodies_json_cannot_echo_back_are_422_not_500(
    client: TestClient, body: bytes, needle: str
) -> None:
    """NaN, Infinity and lone surrogates parse but cannot be written back as JSON: the default
    validation reply (which echoes the input) and the annotation reply both crashed with 500."""
    response = client.post("/annotate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and needle in detail


def test_openapi_schema_lists_the_endpoints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/annotate", "/health"} <= set(schema["paths"])
    assert "AnnotateRequest" in schema["components"]["schemas"]


def test_page_and_assets_are_served_without_cdn(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<textarea" in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "/annotate" in script.text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    for asset in (page.text, script.text):
        assert not re.search(r"(src|href)=\"https?://", asset)


# ---------------------------------------------------------------------- browser
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bioner serve exited: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("bioner serve did not come up")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make setup installs it)")
def test_page_highlights_entities_in_headless_chromium(tiny_model: Path, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "-m", str(tiny_model), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(f"{base}/health", server)
        url = f"{base}/?text={urllib.parse.quote(EXAMPLE)}"
        browser = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    dom = browser.stdout
    assert 'data-state="done"' in dom, browser.stderr[-2000:]
    marks = re.findall(r'<mark class="entity" data-label="(\w+)"[^>]*>([^<]*)</mark>', dom)
    assert ("Disease", "melanoma") in marks
    assert ("Gene", "BRCA1") in marks
    assert 'class="legend-item"' in dom


def test_threads_below_one_is_a_usage_error() -> None:
    """`--threads 0` silently ran on one thread; it is refused like other numeric options."""
    from typer.testing import CliRunner

    from bioner.cli.app import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["serve", "-m", "no-such-model", "--threads", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--threads'" in result.stderr
