"""The HTTP service: a FastAPI app around one loaded Tagger, plus a small page at `/`.

One job: expose `Tagger.annotate` over HTTP with limits a public endpoint needs. Requests
larger than `max_request_bytes` are refused with 413 before they are parsed (the body is read
in chunks and counted, whatever Content-Length claims); batches with more than `max_documents`
documents get 413 too. `/annotate` is a plain `def`, so FastAPI runs it in its thread pool and
the tagger's lock makes concurrent predictions safe; `/health` and the page are `async` and
touch no model, so they answer even while every pool thread waits for the model.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    """One entity; the offsets index the document's `text` exactly as it was sent."""

    start: int = Field(
        description="Offset of the first character, in Unicode code points (Python string "
        "indices; JavaScript and Java count a character outside the BMP, e.g. an emoji, as two)."
    )
    end: int = Field(description="Offset just after the last character, in code points.")
    text: str = Field(description="`text[start:end]`.")
    label: str = Field(description="Entity type, one of /health's `labels`.")
    score: float | None = Field(
        description="The model's confidence (0..1, 4 decimals); 1 where a rule confirmed the "
        "span; null for a model that gives no confidences."
    )


class DocumentOut(BaseModel):
    """One annotated document: `id` is "text" for a `text` request."""

    id: str
    text: str
    spans: list[SpanOut]


class BatchOut(BaseModel):
    """A batch's documents, in request order."""

    documents: list[DocumentOut]


class Health(BaseModel):
    """What is being served; answered without touching the model."""

    status: str
    model: str = Field(description="The model's name, else the path or name it was loaded from.")
    version: str = Field(description="bioner's version.")
    labels: list[str] = Field(description="The entity types the model tags.")


class Error(BaseModel):
    """Every error reply: one line saying what is wrong."""

    detail: str


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


def _encodable_line(text: str) -> str:
    """One line any UTF-8 reply can carry (request headers and keys may hold anything)."""
    line = " ".join(text.split())
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


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
    return _encodable_line("; ".join(problems))


def _is_json(content_type: str | None) -> bool:
    """The media types FastAPI parses as JSON: application/json and application/*+json."""
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    """422 for a request FastAPI could not validate; 415 for a body not sent as JSON.

    The default handler echoes each offending input, and an input such as NaN or a lone
    surrogate cannot be written as JSON, so a bad request became a 500. FastAPI does not parse
    a body sent without a JSON Content-Type (e.g. `curl -d`), and its complaint about the
    unparsed body ("not a valid dictionary") hid the header that was wrong.
    """
    assert isinstance(error, RequestValidationError)
    content_type = request.headers.get("content-type")
    if not _is_json(content_type):
        detail = (
            "send the request body as JSON with Content-Type: application/json "
            f"(got {content_type or 'no Content-Type'})"
        )
        return JSONResponse({"detail": _encodable_line(detail)}, status_code=415)
    return JSONResponse({"detail": _validation_message(error)}, status_code=422)


def _unreadable_body(cause: BaseException) -> str:
    """Why a body that is not even JSON text could not be parsed, as one line."""
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start]
        return (
            f"request body is not valid UTF-8 (byte {byte:#04x} at position {cause.start}); "
            "send JSON encoded as UTF-8"
        )
    if isinstance(cause, RecursionError):
        return "request body: JSON nested too deeply"
    # e.g. an integer over 4300 digits; what follows ";" is advice for Python programmers.
    return _encodable_line(f"request body is not valid JSON: {str(cause).partition(';')[0]}")


async def _http_error(request: Request, error: Exception) -> Response:
    """FastAPI's handler, except that a body it could not parse says why.

    FastAPI answers a non-UTF-8 body, JSON nested past Python's recursion limit or an integer
    over 4300 digits with 400 "There was an error parsing the body", keeping the cause only
    as the exception's `__cause__`.
    """
    assert isinstance(error, StarletteHTTPException)
    cause = error.__cause__
    if error.status_code == 400 and isinstance(cause, ValueError | RecursionError):
        return JSONResponse({"detail": _unreadable_body(cause)}, status_code=400)
    return await http_exception_handler(request, error)


def _static(name: str) -> str:
    return (resources.files("bioner.serve") / "static" / name).read_text(encoding="utf-8")


#: The page's files and their media types, read once: serving them must not need a thread.
_ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}


def create_app(
    tagger: Tagger,
    *,
    model_name: str = "model",
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_documents: int = DEFAULT_MAX_DOCUMENTS,
) -> FastAPI:
    """The service for one loaded tagger."""
    labels = model_labels(tagger)
    page_html = _static("index.html")
    assets = {name: _static(name) for name in _ASSETS}
    app = FastAPI(
        title="bioner",
        version=__version__,
        description="Biomedical named-entity recognition: entities with exact character offsets.",
    )
    app.add_middleware(RequestSizeLimit, limit=max_request_bytes)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    @app.get("/health", response_model=Health)
    async def health() -> dict[str, Any]:
        """The loaded model, bioner's version and the entity types the model tags."""
        return {"status": "ok", "model": model_name, "version": __version__, "labels": labels}

    @app.post(
        "/annotate",
        response_model=DocumentOut | BatchOut,
        description=(
            'Tag `text` (returns one document) or `documents` (returns `{"documents": [...]}`), '
            "keeping only the entity types in `types` if it is given. Limits of this server: "
            f"at most {max_documents} documents and {max_request_bytes} bytes per request."
        ),
        responses={
            400: {"model": Error, "description": "the body is not UTF-8 JSON text"},
            413: {"model": Error, "description": "more bytes or documents than the limits"},
            415: {"model": Error, "description": "the body was not sent as application/json"},
            422: {"model": Error, "description": "invalid JSON, fields, values or types"},
        },
    )
    def annotate(request: AnnotateRequest) -> dict[str, Any]:
        """A plain `def`: prediction blocks, so FastAPI runs it in its thread pool."""
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
                    413,
                    f"{len(request.documents or [])} documents in one request; "
                    f"the limit is {max_documents}",
                )
            items = [Document(id=d.id, text=d.text) for d in request.documents or []]
        annotated = [document_view(d) for d in annotate_stream(tagger, items, types=wanted)]
        if request.text is not None:
            return annotated[0]
        return {"documents": annotated}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return page_html

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in assets:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return Response(assets[name], media_type=_ASSETS[name])

    return app


__all__ = ["DEFAULT_MAX_DOCUMENTS", "DEFAULT_MAX_REQUEST_BYTES", "create_app"]
