"""Annotation on a Ray cluster through Ray tasks, in input order and bounded memory.

One job: run the same task/reply pipeline as the worker processes (`bioner.annotation.tasks`)
on Ray. The driver reads the inputs (any format `bioner annotate` reads, so the cluster needs
no access to them) and cuts them into batches; each batch is one Ray task of one CPU. At most
`workers` tasks run at once, and a new one is sent as soon as any finishes; replies are put
back in input order and merged into the original documents. At most `window` batches are
held between reading and writing (a slow batch holds up the writing, not the reading of
more than `window`), so memory on the driver is bounded whatever the input's size.

The model travels through Ray's object store (its four files as bytes, put once), so nodes
need neither the model's path nor a shared file system. Each Ray worker process unpacks and
loads it on first use and keeps it for every later task of the run (Ray reuses worker
processes), so a model is loaded once per worker process, not once per batch.

Why tasks and not Ray Data: the pipeline already cuts, orders and bounds its batches; Ray
Data ran them in windows, each a dataset of its own, and every window ended with workers idle
while its last batch finished (10 % of the run on 2 workers, measured). Ray's task scheduler
still brings the cluster: placement on any node, retries of a task whose worker died, and
`--ray-address` points the same command at a real cluster (`ray start --head` on one node,
`ray start --address` on the others).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bioner.annotation.pipeline import BATCH_TOKENS, batched, finish
from bioner.annotation.tasks import encode_task, merge_result, read_reply, run_task
from bioner.data.document import Document
from bioner.errors import BionerError

#: Per Ray worker process: (model fingerprint, tokenizer, rule sets) → (tagger, tokenizer).
_LOADED: dict[tuple[str, str, tuple[str, ...] | None], Any] = {}
#: How long a `host:port` given with --ray-address may take to accept a connection.
_CONNECT_SECONDS = 10.0


def model_payload(model: str) -> tuple[str, dict[str, bytes]]:
    """The model's files as bytes and a fingerprint of their content."""
    from bioner.models.registry import resolve_model_path
    from bioner.tagger import FILES

    path = resolve_model_path(model)
    files = {name: (path / name).read_bytes() for name in FILES}
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(files[name])
    return digest.hexdigest()[:16], files


def _tagger_for(
    fingerprint: str, payload: Any, tokenizer_name: str, postprocess: tuple[str, ...] | None
) -> Any:
    """This worker process's tagger for the model, unpacked and loaded the first time."""
    key = (fingerprint, tokenizer_name, postprocess)
    if key not in _LOADED:
        import ray
        import torch

        torch.set_num_threads(1)
        from bioner.tagger import Tagger
        from bioner.text import make_tokenizer

        files = ray.get(payload[0])
        with tempfile.TemporaryDirectory(prefix="bioner-model-") as folder:
            for name, data in files.items():
                (Path(folder) / name).write_bytes(data)
            tagger = Tagger.load(folder)
        if postprocess is not None:
            tagger.postprocess = list(postprocess)
        _LOADED[key] = (tagger, make_tokenizer(tokenizer_name))
    return _LOADED[key]


def _tag_batch(
    message: str,
    fingerprint: str,
    payload: Any,
    tokenizer_name: str,
    postprocess: tuple[str, ...] | None,
) -> str:
    """The Ray task: one batch's task string in, its reply string out."""
    tagger, tokenizer = _tagger_for(fingerprint, payload, tokenizer_name, postprocess)
    return run_task(tagger, tokenizer, message, BATCH_TOKENS)


def _task_failure(error: Exception, seq: int) -> BionerError:
    """One line for a task that failed on the cluster (Ray's text carries a whole traceback)."""
    cause = getattr(error, "cause", None) or error
    first = (str(cause).strip().splitlines() or [""])[0]
    return BionerError(f"Ray task for batch {seq} failed: {type(cause).__name__}: {first}")


def _check_reachable(address: str) -> None:
    """Fail fast when a cluster address accepts no connection.

    Ray itself retries an unreachable address 20 times, half a minute each, so the command
    sat silent for more than ten minutes. `auto` is Ray's to resolve (it fails fast).
    """
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # a form Ray may know; let it judge
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_SECONDS):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise BionerError(f"could not reach Ray at {address}: {reason}") from None


def _ray_error(error: Exception, address: str | None) -> str:
    """One line that names bioner's options, for an Exception from `ray.init`.

    Ray's own advice is to set "the `--address` flag" (its CLI's), which `bioner annotate`
    does not have; and its messages may run over several lines.
    """
    text = " ".join(str(error).split()) or type(error).__name__
    if address and "Could not find any running Ray instance" in text:
        return (
            f"--ray-address {address}: no running Ray cluster found; start one with "
            "`ray start --head`, or leave out --ray-address to use a local Ray"
        )
    text = re.sub(r"setting (?:the )?`--address` flag", "giving --ray-address", text)
    where = f"--ray-address {address}" if address else "a local Ray"
    return f"could not start or reach Ray ({where}): {text}"


def _keep_token_auth_quietly(address: str | None) -> None:
    """Say RAY_AUTH_MODE=token for the local Ray that `_start_ray` will start.

    Ray turns token authentication on for a new local Ray anyway, and then warns on every
    run that it did unless RAY_AUTH_MODE is set; setting it to Ray's own default keeps the
    protection and drops the warning. Ray reads the variable once, when it is imported, so
    it is set only before the first import of Ray in this process (later it would disagree
    with what Ray has read, and the node fails to start), never over a user's own setting,
    and not when a cluster is joined (`address` or RAY_ADDRESS), whose mode is its own.
    """
    if address or "RAY_ADDRESS" in os.environ or "ray" in sys.modules:
        return
    os.environ.setdefault("RAY_AUTH_MODE", "token")


def _start_ray(address: str | None, workers: int) -> None:
    import ray

    if ray.is_initialized():
        return
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    if address:
        _check_reachable(address)
        options["address"] = address
    else:
        options["num_cpus"] = workers
    # ray.init replaces the SIGTERM handler with its own (exit status 15, a native stack dump
    # on stderr); the command's handler is put back so that SIGTERM unwinds as documented.
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(**options)
    except Exception as error:  # Ray's bare Exception when its node cannot start; not SIGTERM
        raise BionerError(_ray_error(error, address)) from None
    finally:
        if sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)


def annotate_ray(
    model: str,
    documents: Iterable[Document],
    *,
    workers: int,
    batch_size: int = 256,
    max_batch_chars: int = 200_000,
    types: frozenset[str] | None = None,
    tokenizer_name: str = "default",
    tokens: bool = True,
    address: str | None = None,
    window: int | None = None,
    postprocess: list[str] | None = None,
) -> Iterator[Document]:
    """Annotated documents in input order, tagged by up to `workers` Ray tasks at a time.

    `address` is a running cluster's address (``auto`` or ``ray://host:10001``); without it a
    local Ray with `workers` CPUs is started. `window` batches (default ``4 × workers``) are in
    flight at once. `postprocess` replaces the model's own rule sets (None keeps them).
    """
    if workers < 1:
        raise BionerError(f"--workers must be at least 1, got {workers}")
    _keep_token_auth_quietly(address)
    try:
        import ray
    except ImportError:
        raise BionerError("--engine ray needs Ray: pip install 'bioner[ray]' (or 'ray')") from None
    window = window or 4 * workers
    if window < 1:
        raise BionerError(f"the Ray window must be at least 1 batch, got {window}")
    _start_ray(address, workers)
    fingerprint, files = model_payload(model)
    payload = [ray.put(files)]  # wrapped: Ray passes the reference itself, not its value
    tag = ray.remote(num_cpus=1)(_tag_batch)
    rules = None if postprocess is None else tuple(postprocess)

    source = enumerate(batched(documents, batch_size, max_batch_chars))
    held: dict[int, list[Document]] = {}  # read, not yet yielded: at most `window` batches
    running: dict[Any, int] = {}  # task reference → batch number: at most `workers`
    replies: dict[int, str] = {}
    next_seq = 0
    exhausted = False
    try:
        while True:
            while not exhausted and len(running) < workers and len(held) < window:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                seq, batch = item
                held[seq] = batch
                message = encode_task(seq, batch, tokens=tokens, types=types)
                running[tag.remote(message, fingerprint, payload, tokenizer_name, rules)] = seq
            while next_seq in replies:
                reply = read_reply(replies.pop(next_seq))
                for document, result in zip(held.pop(next_seq), reply["docs"], strict=True):
                    yield finish(merge_result(document, result), types)
                next_seq += 1
            if not running:
                if exhausted:
                    return
                continue  # all that was read is written out: read on
            done, _ = ray.wait(list(running), num_returns=1)
            for reference in done:
                seq = running.pop(reference)
                try:
                    replies[seq] = ray.get(reference)
                except Exception as error:  # RayTaskError, WorkerCrashedError after retries
                    raise _task_failure(error, seq) from None
    finally:
        for reference in running:  # interrupted or failed: the cluster stops tagging for us
            ray.cancel(reference)


__all__ = ["annotate_ray", "model_payload"]
