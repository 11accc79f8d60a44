"""Annotation with N worker processes, constant memory, results in input order.

One job: spread the batches of `pipeline.batched` over worker processes. They start from the
'forkserver' context: a clean server process that imports bioner and torch once and forks each
worker from that state (never from the parent, which may hold torch threads). Each worker
loads the model once from its path; models never travel between processes. Messages are JSON
strings (`bioner.annotation.tasks`), so nothing but plain strings crosses a process
boundary. At most `2 × workers` batches are in flight; finished
batches wait in a reorder buffer (bounded by the same number) until every earlier batch is
out, so output order equals input order and memory does not grow with the input.

Each worker runs torch with one intra-op thread: N single-threaded processes use N cores
without oversubscribing them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import signal
from collections.abc import Iterable, Iterator
from typing import Any

from bioner.annotation.pipeline import BATCH_TOKENS, batched, finish
from bioner.annotation.tasks import encode_task, merge_result, read_reply, run_task
from bioner.data.document import Document
from bioner.errors import BionerError

_POLL_SECONDS = 0.5
_JOIN_SECONDS = 5.0


def _alive(pid: int) -> bool:
    """Whether process `pid` still exists (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _next_task(tasks: Any, driver: int) -> str | None:
    """The next task, or None when told to stop or when the driver process is gone.

    Workers are children of the forkserver, not of the driver, so a driver killed without
    cleaning up (SIGKILL) would otherwise leave them waiting forever.
    """
    while True:
        try:
            return tasks.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if not _alive(driver):
                return None


def _send(results: Any, message: str, driver: int) -> bool:
    """Put a reply; False when the driver is gone (nobody will read it)."""
    while True:
        try:
            results.put(message, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            if not _alive(driver):
                return False


def _worker(
    model: str,
    tokenizer_name: str,
    postprocess: list[str] | None,
    tasks: Any,
    results: Any,
    driver: int,
) -> None:
    """Worker loop: load the model, then tag JSON task batches until a None arrives."""
    # Ctrl-C reaches the whole process group; the driver alone decides when workers stop
    # (a KeyboardInterrupt here printed a traceback per worker and left the driver waiting).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import torch

        torch.set_num_threads(1)
        from bioner.tagger import Tagger
        from bioner.text import make_tokenizer

        tagger = Tagger.load(model)
        if postprocess is not None:
            tagger.postprocess = postprocess
        tokenizer = make_tokenizer(tokenizer_name)
    except BaseException as error:  # reported to the parent, which stops the run
        results.put(json.dumps({"fatal": f"worker could not start: {error}"}))
        return
    while (message := _next_task(tasks, driver)) is not None:
        if not _send(results, run_task(tagger, tokenizer, message, BATCH_TOKENS), driver):
            break
    if not _alive(driver):
        # Replies nobody will read must not keep this process alive at exit (the queue's
        # feeder thread would wait forever on a full pipe).
        results.cancel_join_thread()


def annotate_parallel(
    model: str,
    documents: Iterable[Document],
    *,
    workers: int,
    batch_size: int = 32,
    max_batch_chars: int = 200_000,
    types: frozenset[str] | None = None,
    tokenizer_name: str = "default",
    tokens: bool = True,
    postprocess: list[str] | None = None,
) -> Iterator[Document]:
    """Annotated documents in input order, tagged by `workers` processes loading `model`.

    `postprocess` replaces the model's own rule sets (None keeps them).

    Documents that arrive with sentences (CoNLL, JSONL with `sentences`) keep them; others are
    tokenized in the workers, and get the workers' sentences back only when `tokens` is set.
    """
    if workers < 1:
        raise BionerError(f"--workers must be at least 1, got {workers}")
    context = multiprocessing.get_context("forkserver")
    # Import torch once in the server instead of once per worker (each import costs seconds).
    context.set_forkserver_preload(["bioner.tagger", "bioner.training.data"])
    limit = 2 * workers
    tasks = context.Queue(maxsize=limit)
    # At exit a queue waits until its buffered tasks are written to the pipe; once the workers
    # are gone (killed, or stopped after an error) nobody reads it, and that wait never ended.
    # A normal run has handed every task over by then, so nothing is lost by not waiting.
    tasks.cancel_join_thread()
    results = context.Queue(maxsize=limit)
    processes = [
        context.Process(
            target=_worker,
            args=(model, tokenizer_name, postprocess, tasks, results, os.getpid()),
            daemon=True,
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    pending: dict[int, list[Document]] = {}
    finished: dict[int, list[dict[str, Any]]] = {}
    next_out = 0
    completed = False

    def receive(block: bool) -> None:
        while True:
            try:
                message = results.get(timeout=_POLL_SECONDS) if block else results.get_nowait()
            except queue.Empty:
                if not block:
                    return
                dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                if dead or not any(p.is_alive() for p in processes):
                    raise BionerError(
                        f"an annotation worker stopped unexpectedly (exit code {dead[0]})"
                        if dead
                        else "all annotation workers stopped"
                    ) from None
                continue
            reply = read_reply(message)
            finished[reply["seq"]] = reply["docs"]
            if not block:
                continue
            return

    def ready() -> Iterator[Document]:
        nonlocal next_out
        while next_out in finished:
            originals = pending.pop(next_out)
            for document, result in zip(originals, finished.pop(next_out), strict=True):
                yield finish(merge_result(document, result), types)
            next_out += 1

    try:
        for seq, batch in enumerate(batched(documents, batch_size, max_batch_chars)):
            while len(pending) >= limit:
                receive(block=True)
                yield from ready()
            tasks.put(encode_task(seq, batch, tokens=tokens, types=types))
            pending[seq] = batch
            receive(block=False)
            yield from ready()
        while pending:
            receive(block=True)
            yield from ready()
        completed = True
    finally:
        _stop(processes, tasks, graceful=completed)


def _stop(processes: list[Any], tasks: Any, *, graceful: bool) -> None:
    """Ask every worker to finish, then make sure none is left running.

    After an error or an interrupt (not `graceful`) the workers' batches are of no use, so they
    are terminated at once instead of being waited for (seconds per worker on a large batch).
    """
    for process in processes:
        if not graceful:
            process.terminate()
        elif process.is_alive():
            try:
                tasks.put(None, timeout=_POLL_SECONDS)
            except queue.Full:
                break
    for process in processes:
        process.join(timeout=_JOIN_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join(timeout=_JOIN_SECONDS)


__all__ = ["annotate_parallel"]
