"""The HTTP service: API and limits through FastAPI's TestClient, the page in headless Chromium.

The browser test starts `bioner serve` on a free 127.0.0.1 port in a subprocess, loads the
page with `?text=...` (the page annotates it on load) and reads the DOM Chromium dumps: the
entities must be there as highlighted `<mark class="entity">` elements. It skips, saying why,
when Chromium is not installed.
"""

from __future__ import annotations

import json
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI
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
    assert script.status_code == 200 and 'fetch("annotate"' in script.text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    for asset in (page.text, script.text):
        assert not re.search(r"(src|href)=\"https?://", asset)


def test_too_many_documents_is_413(client: TestClient) -> None:
    """A batch over --max-documents is a size limit like the byte limit: split it and resend."""
    documents = [{"id": str(i), "text": "x"} for i in range(4)]
    response = client.post("/annotate", json={"documents": documents})
    assert response.status_code == 413
    assert response.json() == {"detail": "4 documents in one request; the limit is 3"}


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}],
)
def test_a_body_not_sent_as_json_is_415(client: TestClient, headers: dict[str, str]) -> None:
    """`curl -d` sends a form content type: the reply said the (valid JSON) body was "not a valid
    dictionary" instead of naming the header to fix."""
    response = client.post("/annotate", content=b'{"text": "BRCA1"}', headers=headers)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('{"text": "café BRCA1"}'.encode("latin-1"), "not valid UTF-8 (byte 0xe9 at position 13)"),
        (b'{"text": "a", "x": ' + b"[" * 2400 + b"]" * 2400 + b"}", "nested too deeply"),
        (b'{"text": ' + b"9" * 4400 + b"}", "integer"),
    ],
)
def test_unparseable_bodies_say_why(client: TestClient, body: bytes, needle: str) -> None:
    """FastAPI answered each with 400 "There was an error parsing the body", naming no cause."""
    response = client.post("/annotate", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert needle in detail and "\n" not in detail


@pytest.mark.parametrize("types", [[], [" "], [","]])
def test_an_empty_types_filter_is_422(client: TestClient, types: list[str]) -> None:
    """An empty filter used to mean "every type": a client whose wanted list came out empty got
    all entities back without a word."""
    response = client.post("/annotate", json={"text": EXAMPLE, "types": types})
    assert response.status_code == 422
    assert "at least one entity type" in response.json()["detail"]


def test_openapi_describes_errors_limits_and_offsets(client: TestClient) -> None:
    """Generated clients need the error body and the limits; offsets need their unit."""
    schema = client.get("/openapi.json").json()
    annotate = schema["paths"]["/annotate"]["post"]
    for status in ("400", "413", "415", "422"):
        content = annotate["responses"][status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["properties"]["detail"]["type"] == "string"
    assert "3 documents" in annotate["description"] and "5000 bytes" in annotate["description"]
    span = schema["components"]["schemas"]["SpanOut"]["properties"]
    assert "code points" in span["start"]["description"]


def test_health_answers_while_every_worker_thread_waits_for_the_model(tiny_model: Path) -> None:
    """Annotation runs in FastAPI's thread pool (40 threads) and waits for the tagger's lock; a
    `def` health endpoint needed a thread too, so under load it hung until the queue drained."""
    tagger = Tagger.load(tiny_model)
    release = threading.Event()
    entered = threading.Semaphore(0)
    predict = tagger.predict_documents

    def held(*args: object, **kwargs: object) -> object:
        entered.release()
        release.wait(60)
        return predict(*args, **kwargs)

    tagger.predict_documents = held  # type: ignore[method-assign]
    app = create_app(tagger, model_name="tiny")
    with TestClient(app) as test_client, ThreadPoolExecutor(50) as pool:
        try:
            busy = [
                pool.submit(test_client.post, "/annotate", json={"text": EXAMPLE})
                for _ in range(45)
            ]
            for _ in range(40):  # anyio's default thread limit: every thread is now taken
                assert entered.acquire(timeout=30)
            health = pool.submit(test_client.get, "/health").result(timeout=10)
            page = pool.submit(test_client.get, "/").result(timeout=10)
        finally:
            release.set()
        assert health.status_code == 200 and health.json()["model"] == "tiny"
        assert page.status_code == 200
        assert all(future.result(timeout=60).status_code == 200 for future in busy)


def test_page_works_behind_a_proxy_path_prefix(client: TestClient) -> None:
    """The page named its script, style sheet and API with absolute paths, so served under a
    prefix (a reverse proxy's `/bioner/`) it loaded none of them."""
    outer = FastAPI()
    outer.mount("/bioner", client.app)
    prefixed = TestClient(outer)
    page = prefixed.get("/bioner/")
    assert page.status_code == 200
    script_src = re.search(r'<script src="([^"]+)"', page.text)
    style_href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert script_src and style_href
    script = prefixed.get(urllib.parse.urljoin("/bioner/", script_src[1]))
    assert script.status_code == 200
    assert prefixed.get(urllib.parse.urljoin("/bioner/", style_href[1])).status_code == 200
    calls = re.findall(r'fetch\("([^"]+)"', script.text)
    assert sorted(calls) == ["annotate", "health"]
    health = prefixed.get(urllib.parse.urljoin("/bioner/", "health"))
    assert health.status_code == 200
    body = prefixed.post(urllib.parse.urljoin("/bioner/", "annotate"), json={"text": EXAMPLE})
    assert body.status_code == 200


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


# ---------------------------------------------------------------------- the real server
def _serve(*arguments: str, stdout: int = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", *arguments],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen, seconds: float = 60) -> str:
    """The first line the server writes to stderr (it loads the model first)."""
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], seconds)
    assert ready, "bioner serve printed nothing"
    return process.stderr.readline()


def test_a_busy_port_is_one_line_error_and_status_2(tiny_model: Path) -> None:
    """uvicorn logged `ERROR: [Errno 98] error while attempting to bind on address ...` and
    exited 3, after bioner had already printed `serving ... on` that address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = _serve("-m", str(tiny_model), "--port", str(port))
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 2
    assert stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


@pytest.mark.parametrize(
    ("sig", "status", "said"),
    [(signal.SIGINT, 130, ["interrupted"]), (signal.SIGTERM, 143, ["terminated"])],
)
def test_signals_stop_the_server_like_any_bioner_command(
    tiny_model: Path, tmp_path: Path, sig: signal.Signals, status: int, said: list[str]
) -> None:
    """Ctrl-C shut the server down and then exited 0 (asyncio's runner swallowed the SIGINT
    uvicorn re-raised), where other commands exit 130; SIGTERM already ended with 143.

    The same runs check the announcement: `--port 0` printed `:0` instead of the port it got,
    and a model saved without a name was called "model" (the directory name of every
    `bioner train` run) instead of the path it was loaded from."""
    model = shutil.copytree(tiny_model, tmp_path / "ncbi" / "model")
    meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
    del meta["name"]
    (model / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    server = _serve("-m", str(model), "--port", "0")
    try:
        first = _first_line(server)
        match = re.fullmatch(r"serving (.+) on http://127\.0\.0\.1:(\d+)/\n", first)
        assert match and match[1] == str(model), first
        port = int(match[2])
        assert port != 0
        _wait_until_up(f"http://127.0.0.1:{port}/health", server)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert json.load(response)["model"] == str(model)
        server.send_signal(sig)
        _, rest = server.communicate(timeout=30)
    finally:
        server.kill()
        server.wait()
    assert server.returncode == status
    assert rest.splitlines() == said


def test_access_log_is_one_line_per_request_on_stdout(tiny_model: Path) -> None:
    """An operator had no way to see requests: uvicorn's access log was silenced with its
    other messages. `--access-log` turns it on alone; `--shutdown-timeout` is accepted."""
    server = _serve(
        "-m",
        str(tiny_model),
        "--port",
        "0",
        "--access-log",
        "--shutdown-timeout",
        "5",
        stdout=subprocess.PIPE,
    )
    try:
        match = re.fullmatch(r"serving .+ on http://127\.0\.0\.1:(\d+)/\n", _first_line(server))
        assert match
        _wait_until_up(f"http://127.0.0.1:{match[1]}/health", server)
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        server.kill()
        server.wait()
    assert server.returncode == 143
    assert '"GET /health HTTP/1.1" 200' in out
    assert err.splitlines() == ["terminated"]  # uvicorn's startup messages stay quiet
