"""The HTTP service: a FastAPI app around one loaded Tagger, plus a small page at `/`.

One job: expose `Tagger.annotate` over HTTP with limits a public endpoint needs. Requests
larger than `max_request_bytes` are refused with 413 before they are parsed (the body is read
in chunks and counted, whatever Content-Length claims); batches with more than `max_documents`
documents get 422. Endpoints are plain `def`s, so FastAPI runs them in its thread pool; the
tagger's lock makes concurrent predictions safe.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bioner import __version__
from bioner.annotation.output import document_view
from bioner.annotation.pipeline import annotate_stream, check_types, model_labels
from bioner.data.document import Document
from bioner.data.formats.textio import lone_surrogate
from bioner.errors import BionerError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from bioner.tagger import Tagger

DEFAULT_MAX_REQUEST_BYTES = 1_000_000
DEFAULT_MAX_DOCUMENTS = 64


def _encodable(value: str) -> str:
    """Refuse lone surrogates: JSON can escape them (`"\\ud800"`) but no UTF-8 reply can
    carry them, so they would fail only when the answer is written (a 500)."""
    problem = lone_surrogate(value)
    if problem is not None:
        raise ValueError(f"{problem}; send valid Unicode")
    return value


UnicodeText = Annotated[str, AfterValidator(_encodable)]


class InputDocument(BaseModel):
    """One document of a batch request."""

    model_config = ConfigDict(extra="forbid")
    id: UnicodeText = Field(min_length=1, max_length=200)
    text: UnicodeText


class AnnotateRequest(BaseModel):
    """Either `text` (one document) or `documents` (a batch); `types` filters the output."""

    model_config = ConfigDict(extra="forbid")
    text: UnicodeText | None = None
    documents: list[InputDocument] | None = None
    types: list[UnicodeText] | None = None


class SpanOut(BaseModel):
    start: int
    end: int
    text: str
    label: str
    score: float | None


class DocumentOut(BaseModel):
    id: str
    text: str
    spans: list[SpanOut]


class BatchOut(BaseModel):
    documents: list[DocumentOut]


class Health(BaseModel):
    status: str
    model: str
    version: str
    labels: list[str]


class RequestSizeLimit:
    """ASGI middleware: a request body over `limit` bytes is answered with 413 JSON."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        detail = f"request body larger than {self.limit} bytes"
        payload = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _validation_message(error: RequestValidationError) -> str:
    """One readable line per problem, `where: what`, without echoing the offending input."""
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item.get("loc", ())]
        where = ".".join(loc[1:] if loc[:1] == ["body"] else loc) or "request body"
        if item.get("type") == "json_invalid":
            detail = (item.get("ctx") or {}).get("error", "")
            problems.append(f"invalid JSON at character {loc[-1]}: {detail}")
        else:
            message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
    # A key in the request may itself hold a lone surrogate; keep the reply encodable.
    return "; ".join(problems).encode("utf-8", "backslashreplace").decode("utf-8")


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    """422 for a request FastAPI could not validate.

    The default handler echoes each offending input, and an input such as NaN or a lone
    surrogate cannot be written as JSON, so a bad request became a 500.
    """
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": _validation_message(error)}, status_code=422)


def _static(name: str) -> str:
    return (resources.files("bioner.serve") / "static" / name).read_text(encoding="utf-8")


def create_app(
    tagger: Tagger,
    *,
    model_name: str = "model",
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_documents: int = DEFAULT_MAX_DOCUMENTS,
) -> FastAPI:
    """The service for one loaded tagger."""
    labels = model_labels(tagger)
    app = FastAPI(
        title="bioner",
        version=__version__,
        description="Biomedical named-entity recognition: entities with exact character offsets.",
    )
    app.add_middleware(RequestSizeLimit, limit=max_request_bytes)
    app.add_exception_handler(RequestValidationError, _invalid_request)

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        """The loaded model, bioner's version and the entity types the model tags."""
        return {"status": "ok", "model": model_name, "version": __version__, "labels": labels}

    @app.post(
        "/annotate",
        response_model=DocumentOut | BatchOut,
        responses={413: {"description": "request too large"}, 422: {"description": "invalid"}},
    )
    def annotate(request: AnnotateRequest) -> dict[str, Any]:
        """Tag `text` (returns one document) or `documents` (returns `{"documents": [...]}`)."""
        if (request.text is None) == (request.documents is None):
            raise HTTPException(422, "give exactly one of 'text' or 'documents'")
        try:
            wanted = check_types(request.types, labels)
        except BionerError as error:
            raise HTTPException(422, str(error)) from None
        if request.text is not None:
            items = [Document(id="text", text=request.text)]
        else:
            if len(request.documents or []) > max_documents:
                raise HTTPException(
                    422,
                    f"{len(request.documents or [])} documents in one request; "
                    f"the limit is {max_documents}",
                )
            items = [Document(id=d.id, text=d.text) for d in request.documents or []]
        annotated = [document_view(d) for d in annotate_stream(tagger, items, types=wanted)]
        if request.text is not None:
            return annotated[0]
        return {"documents": annotated}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return _static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        types = {"app.js": "text/javascript", "style.css": "text/css"}
        if name not in types:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return Response(_static(name), media_type=types[name])

    return app


__all__ = ["DEFAULT_MAX_DOCUMENTS", "DEFAULT_MAX_REQUEST_BYTES", "create_app"]
