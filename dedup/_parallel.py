"""Worker processes and garbage-collector pauses shared by corpus mode and batch index construction."""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import functools
import gc
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

__all__ = ["WorkerPool", "check_jobs", "paused_gc", "process_pool", "release_memory"]


def check_jobs(jobs: object) -> int:
    """The number of worker processes for a ``jobs`` argument: itself, or all cores for ``None``."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise TypeError(f"jobs must be an int or None, got {type(jobs).__name__}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    return jobs


class WorkerPool:
    """Forked worker processes, each on a pipe of its own: ordered ``imap`` that can always be cancelled.

    ``multiprocessing.Pool`` shares one task queue whose lock an idle worker
    holds while it waits; a worker killed by Ctrl-C (the terminal signals the
    whole process group) can die holding it, and ``Pool.terminate`` then
    waits for that lock forever (3 runs of 17 hung).  Here no lock is shared:
    workers ignore SIGINT (the parent decides), and cancelling kills them and
    closes their pipes, which cannot block.
    """

    def __init__(self, jobs: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        self._jobs = jobs
        self._procs: list[BaseProcess] = []
        self._conns: list[Connection] = []
        self._busy = 0  # tasks sent whose results were not read

    def _start(self, fn: Callable[[Any], Any]) -> None:
        if self._procs:
            raise RuntimeError("a WorkerPool runs one imap")
        # Ctrl-C during a fork would be raised inside the fork hooks, where Python only prints
        # it ("Exception ignored"): held back until the workers run, then raised here.
        with _sigint_blocked():
            for _ in range(self._jobs):
                parent, child = self._ctx.Pipe()
                proc = self._ctx.Process(target=_worker, args=(child, fn), daemon=True)
                proc.start()
                child.close()
                self._procs.append(proc)
                self._conns.append(parent)

    def imap(self, fn: Callable[[Any], _R], tasks: Iterable[Any]) -> Iterator[_R]:
        """``map(fn, tasks)`` in the workers, results in task order.

        A worker is sent a task only when it is idle (so neither side can
        block the other on a full pipe), a finished task's worker gets the
        next one (a slow task does not idle the others), and up to one task
        per worker is made ready ahead while they work.  Results that come
        early wait for the earlier ones (at most one a worker).
        """
        self._start(fn)
        source = iter(tasks)
        ready: collections.deque[Any] = collections.deque()  # tasks made, not yet sent
        running: dict[Connection, int] = {}  # worker -> number of its task
        done: dict[int, Any] = {}
        sent = delivered = 0
        idle = list(self._conns)
        exhausted = False
        while True:
            while not exhausted and len(ready) < len(self._conns):
                task = next(source, _END)
                if task is _END:
                    exhausted = True
                else:
                    ready.append(task)
            while idle and ready:
                conn = idle.pop()
                conn.send(ready.popleft())
                running[conn] = sent
                sent += 1
            while delivered in done:
                self._busy = len(running)
                yield done.pop(delivered)
                delivered += 1
            if not running:
                if exhausted and not ready:
                    break
                continue
            for ready_conn in wait(list(running)):
                conn = cast(Connection, ready_conn)
                try:
                    ok, value = conn.recv()
                except EOFError:
                    raise RuntimeError("a worker process died (killed, or out of memory?)") from None
                if not ok:
                    raise value
                done[running.pop(conn)] = value
                idle.append(conn)
        self._busy = 0

    def close(self, *, cancel: bool) -> None:
        """Stop the workers: let them finish (``cancel=False``), or kill them now.

        Workers with results nobody read are killed either way (they may be
        blocked sending them).
        """
        cancel = cancel or self._busy > 0
        for conn, proc in zip(self._conns, self._procs, strict=True):
            if cancel:
                proc.kill()
            else:
                with contextlib.suppress(OSError):
                    conn.send(_DONE)
        for conn, proc in zip(self._conns, self._procs, strict=True):
            proc.join()
            conn.close()
        self._procs, self._conns = [], []


_R = TypeVar("_R")
_DONE = "__dedup_worker_done__"  # tells a worker to exit; a str: pickles as itself, compared by value
_END = object()  # the end of the tasks


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _worker(conn: Connection, fn: Callable[[Any], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if hasattr(signal, "pthread_sigmask"):  # blocked by the parent while it forked
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:  # the parent went away
                return
            if isinstance(task, str) and task == _DONE:
                return
            try:
                result = (True, fn(task))
            except Exception as err:
                result = (False, err)
            try:
                conn.send(result)
            except Exception as err:  # a result or an error that does not pickle
                conn.send((False, RuntimeError(f"worker result could not be sent back: {err!r}")))
    finally:
        conn.close()


@contextlib.contextmanager
def process_pool(jobs: int) -> Iterator[WorkerPool | None]:
    """A :class:`WorkerPool` of ``jobs`` processes (forked where possible: they inherit state), or ``None``.

    Leaving the block by an exception (Ctrl-C included) kills the workers at once.
    """
    if jobs <= 1:
        yield None
        return
    pool = WorkerPool(jobs)
    try:
        yield pool
    except BaseException:
        pool.close(cancel=True)
        raise
    pool.close(cancel=False)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a batch run, then restore its state.

    Batch runs create millions of small objects (sentences, links, result
    objects) that form no reference cycles, and each full collection walks all
    of them: on 100k corpus paragraphs the collector took ~3 s of ~21 s.
    Reference counting still frees everything as usual; only cycles wait for
    the end of the run.  Worker processes forked inside inherit the pause.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim  # glibc only
    except (OSError, AttributeError, TypeError):
        return None
    return trim


def release_memory() -> None:
    """Hand the C heap's free pages back to the operating system (glibc; elsewhere nothing).

    Between corpus phases: numpy arrays of a few hundred kB (pass 1's batches)
    come from the heap, and once freed their pages stay with the process; on
    1M paragraphs that was ~0.9 GB held through every later phase.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
