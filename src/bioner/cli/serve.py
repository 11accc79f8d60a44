"""`bioner serve`: run the HTTP annotation service (FastAPI app on uvicorn).

One job: load the model once, build `bioner.serve.app.create_app` with the chosen limits and
serve it. Binds 127.0.0.1 unless `--host` says otherwise, so nothing is exposed by accident.
The model is loaded before the port is bound (a bad model never holds a port), and the port is
bound before `serving ... on` is printed (a busy port is one `error:` line, exit status 2).
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from bioner.errors import BionerError

if TYPE_CHECKING:
    from fastapi import FastAPI


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; failing, one line (uvicorn logs its own and exits 3)."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        listener.bind((host, port))
        listener.listen()
    except OSError as error:
        listener.close()
        reason = (error.strerror or str(error)).lower()
        raise BionerError(f"cannot listen on {host}:{port}: {reason}") from None
    return listener


def _run(
    app: FastAPI,
    listener: socket.socket,
    *,
    access_log: bool = False,
    shutdown_timeout: float | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully (in-flight requests finish,
    for at most `shutdown_timeout` seconds when given). `access_log` logs one line per
    request in uvicorn's format on stdout, while its other messages stay at warnings.

    uvicorn re-raises the signal after its shutdown, so that the process ends like every
    bioner command (SIGTERM: status 143); but inside asyncio's runner a re-raised SIGINT is
    swallowed and Ctrl-C ended with status 0, so it is raised here as KeyboardInterrupt
    (Typer's status 130).
    """
    import uvicorn

    signals: list[int] = []

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            signals.append(sig)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=access_log,
        timeout_graceful_shutdown=shutdown_timeout,
    )
    if access_log:  # configured by Config above; only its level is raised
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    Server(config).run(sockets=[listener])
    if signal.SIGINT in signals:
        raise KeyboardInterrupt


def serve_command(
    model: str = typer.Option("default", "--model", "-m", help="Model directory or bundled name."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: local only)."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port (0: any free port)."),
    max_request_bytes: int = typer.Option(
        1_000_000, "--max-request-bytes", help="Larger request bodies get 413."
    ),
    max_documents: int = typer.Option(
        64, "--max-documents", help="Batches with more documents get 413."
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="Torch CPU threads (default: torch's choice)."
    ),
    access_log: bool = typer.Option(
        False, "--access-log", help="Log one line per request (client, method, path, status)."
    ),
    shutdown_timeout: float | None = typer.Option(
        None,
        "--shutdown-timeout",
        min=0,
        help="On SIGTERM/Ctrl-C, wait at most this many seconds for requests in flight "
        "(default: until they finish).",
    ),
) -> None:
    """Serve POST /annotate, GET /health, the OpenAPI schema (/docs) and a page at /."""
    from bioner.cli.annotate import _check_model
    from bioner.serve.app import create_app
    from bioner.tagger import Tagger

    if not 0 <= port <= 65535:
        raise BionerError(f"--port must be in 0..65535, got {port}")
    if max_request_bytes < 1 or max_documents < 1:
        raise BionerError("--max-request-bytes and --max-documents must be positive")
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    _check_model(model)
    tagger = Tagger.load(model)
    # Not the directory's name: `bioner train` saves every model as `RUN/model`.
    name = str(tagger.meta.get("name") or model)
    app = create_app(
        tagger,
        model_name=name,
        max_request_bytes=max_request_bytes,
        max_documents=max_documents,
    )
    listener = _listen(host, port)
    bound = listener.getsockname()[1]
    address = f"[{host}]" if ":" in host else host
    Console(stderr=True).print(
        f"serving {name} on http://{address}:{bound}/", highlight=False, soft_wrap=True
    )
    _run(app, listener, access_log=access_log, shutdown_timeout=shutdown_timeout)
