"""`bioner serve`: run the HTTP annotation service (FastAPI app on uvicorn).

One job: load the model once, build `bioner.serve.app.create_app` with the chosen limits and
serve it. Binds 127.0.0.1 unless `--host` says otherwise, so nothing is exposed by accident.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from bioner.errors import BionerError


def serve_command(
    model: str = typer.Option("default", "--model", "-m", help="Model directory or bundled name."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: local only)."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port."),
    max_request_bytes: int = typer.Option(
        1_000_000, "--max-request-bytes", help="Larger request bodies get 413."
    ),
    max_documents: int = typer.Option(
        64, "--max-documents", help="Batches with more documents get 422."
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="Torch CPU threads (default: torch's choice)."
    ),
) -> None:
    """Serve POST /annotate, GET /health, the OpenAPI schema (/docs) and a page at /."""
    import uvicorn

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
    name = str(tagger.meta.get("name") or Path(model).name or model)
    app = create_app(
        tagger,
        model_name=name,
        max_request_bytes=max_request_bytes,
        max_documents=max_documents,
    )
    Console(stderr=True).print(f"serving {name} on http://{host}:{port}/", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")
