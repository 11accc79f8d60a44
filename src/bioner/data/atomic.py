"""Safe file writes: a half-written or clobbered output must never be left behind.

Every writer goes through `atomic_write`, which writes a temporary file in the destination's
folder and moves it into place with `os.replace` (atomic on POSIX and Windows when both are on
one filesystem), so a crash or an error mid-write leaves the old file untouched. It also
refuses to write over a file that the same command reads, because readers stream lazily and
would otherwise read what is being written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from bioner.errors import BionerError

PathLike = str | os.PathLike[str]

_FILE_MODE = 0o644


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when both paths name one file (following links), existing or not."""
    path_a, path_b = Path(a), Path(b)
    if path_a.exists() and path_b.exists():
        return os.path.samefile(path_a, path_b)
    return path_a.resolve() == path_b.resolve()


def refuse_inputs(path: PathLike, inputs: Iterable[PathLike]) -> None:
    """Raise BionerError if `path` is (or lies inside) one of the command's inputs."""
    target = Path(path).resolve()
    for source in inputs:
        source_path = Path(source)
        if same_file(target, source_path) or (
            source_path.is_dir() and source_path.resolve() in target.parents
        ):
            raise BionerError(f"refusing to overwrite {path}: it is an input of this command")


@contextlib.contextmanager
def atomic_write(
    path: PathLike,
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    newline: str | None = "",
    inputs: Iterable[PathLike] = (),
) -> Iterator[IO]:
    """Open a temporary file next to `path`; on success move it over `path`, else delete it.

    `newline=""` by default: writers decide line endings themselves (PubTator keeps CRLF).
    """
    refuse_inputs(path, inputs)
    target = Path(path)
    if target.is_dir():
        raise BionerError(f"{path} is a folder; give a file name to write")
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        if binary:
            with os.fdopen(handle, "wb") as stream:
                yield stream
        else:
            with os.fdopen(handle, "w", encoding=encoding, newline=newline) as stream:
                yield stream
        # mkstemp makes the file private (0600); give it ordinary permissions.
        os.chmod(temp_name, _FILE_MODE)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
