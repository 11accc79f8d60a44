"""Opening corpus files: gzip chosen by the `.gz` suffix, UTF-8, line endings left as they are.

Readers see the exact characters of the file (CRLF included) so that they can report
faithful line numbers and writers can reproduce the original bytes. A leading UTF-8
byte-order mark (Windows editors write one) is dropped, except where the caller keeps it
because offsets count it (BRAT `.txt`). A file that cannot be read or decoded — missing,
a folder, not gzip, a truncated `.gz`, bytes that are not UTF-8 — becomes an
InputFormatError naming the file (and the line of the first bad byte), never a traceback.
`lone_surrogate` (`json_lone_surrogate` for parsed JSON) is the same check for text
decoded from escapes (JSON's `\\ud800`).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bioner.data.atomic import PathLike, atomic_write
from bioner.errors import InputFormatError


def is_gzip(path: PathLike) -> bool:
    return str(path).lower().endswith(".gz")


def strip_gz(path: PathLike) -> str:
    """The file name without a trailing `.gz`, for guessing the format."""
    name = Path(path).name
    return name[:-3] if is_gzip(name) else name


def open_input(path: PathLike, *, keep_bom: bool = False) -> TextIO:
    """Open a (possibly gzipped) UTF-8 text file without newline translation."""
    encoding = "utf-8" if keep_bom else "utf-8-sig"
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


#: Every character `str.splitlines` ends a line at. Line-based formats written here
#: (PubTator, BRAT `.ann`) make them spaces inside a line, one for one: readers that split
#: with `splitlines` or read through `codecs` (the `bioc` package's PubTator reader, brat
#: itself) would cut the line there, while offsets stay valid.
LINE_BOUNDARIES = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

#: What reading a file can raise besides a decoding error (EOF, zlib: a truncated or bad .gz).
READ_ERRORS = (OSError, EOFError, zlib.error)


def read_failure(error: BaseException) -> str:
    """The one-line problem to report for one of READ_ERRORS."""
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"cannot read the file: {reason}"


def _undecodable_line(path: PathLike) -> int | None:
    """The 1-based number of the first line that is not UTF-8 (None if it cannot be found).

    A text stream decodes whole chunks, so the line it was at when decoding failed can be
    far from the bad byte; bytes of one UTF-8 character never include a newline, so
    decoding line by line finds it exactly. Only called after a failure.
    """
    try:
        with gzip.open(path, "rb") if is_gzip(path) else open(path, "rb") as raw:
            for number, line in enumerate(raw, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    except READ_ERRORS:
        return None
    return None


@contextlib.contextmanager
def reading(path: PathLike) -> Iterator[None]:
    """Report a file that cannot be read or decoded as an InputFormatError naming it."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise InputFormatError(
            path, _undecodable_line(path), f"not valid UTF-8 ({error.reason})"
        ) from None
    except READ_ERRORS as error:
        raise InputFormatError(path, None, read_failure(error)) from None


def lone_surrogate(value: str) -> str | None:
    """The first lone surrogate in `value`, described for an error message; None if none.

    Escapes decode to any code point: JSON `\\ud800` gives half of a surrogate pair, which
    is not a character and which no UTF-8 writer can encode. Readers that decode escapes
    refuse it with the file and place, not a UnicodeEncodeError when the output is written.
    """
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(value[error.start])
        return f"a lone surrogate \\u{code:04x} (not a character) at character {error.start}"
    return None


#: A JSON escape of a surrogate (`\\ud800`–`\\udfff`): half of a pair, or a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _surrogate_path(value: Any, where: str) -> str | None:
    """The first string (key or value) in `value` with a lone surrogate, by its path."""
    if isinstance(value, str):
        problem = lone_surrogate(value)
        return None if problem is None else f"{where} holds {problem}"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = lone_surrogate(key)
            if problem is not None:
                return f"a key in {where} holds {problem}"
            found = _surrogate_path(item, f"{where}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _surrogate_path(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def json_lone_surrogate(text: str, parsed: Any, root: str) -> str | None:
    """Where JSON parsed from `text` holds a lone surrogate, as "<path> holds …"; else None.

    The json module keeps no line numbers, so the place is a path from `root`
    (`collection.documents[0].passages[1].text`). Only a `\\ud800`–`\\udfff` escape in
    `text` can make a surrogate, so without one nothing is walked.
    """
    if not _SURROGATE_ESCAPE.search(text):
        return None
    return _surrogate_path(parsed, root)


def read_text(path: PathLike, *, keep_bom: bool = False) -> str:
    """The whole file as a string; unreadable or undecodable input is an InputFormatError."""
    with reading(path), open_input(path, keep_bom=keep_bom) as stream:
        return stream.read()


@contextlib.contextmanager
def open_output(path: PathLike, inputs: Iterable[PathLike] = ()) -> Iterator[TextIO]:
    """Atomically write a UTF-8 text file, gzipped when the name ends in `.gz`."""
    if is_gzip(path):
        with (
            atomic_write(path, binary=True, inputs=inputs) as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as zipped,
        ):
            text = io.TextIOWrapper(zipped, encoding="utf-8", newline="")
            yield text
            text.flush()
            text.detach()
    else:
        with atomic_write(path, inputs=inputs) as stream:
            yield stream
