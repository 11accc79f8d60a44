"""Opening corpus files: gzip chosen by the `.gz` suffix, UTF-8, line endings left as they are.

Readers see the exact characters of the file (CRLF included) so that they can report
faithful line numbers and writers can reproduce the original bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from bioner.data.atomic import PathLike, atomic_write
from bioner.errors import InputFormatError


def is_gzip(path: PathLike) -> bool:
    return str(path).lower().endswith(".gz")


def strip_gz(path: PathLike) -> str:
    """The file name without a trailing `.gz`, for guessing the format."""
    name = Path(path).name
    return name[:-3] if is_gzip(name) else name


def open_input(path: PathLike) -> TextIO:
    """Open a (possibly gzipped) UTF-8 text file without newline translation."""
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_text(path: PathLike) -> str:
    """The whole file as a string; a decoding error becomes an InputFormatError."""
    try:
        with open_input(path) as stream:
            return stream.read()
    except UnicodeDecodeError as error:
        raise InputFormatError(path, None, f"not valid UTF-8 ({error.reason})") from None


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
