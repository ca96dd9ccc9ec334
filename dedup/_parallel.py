"""Worker processes and garbage-collector pauses shared by corpus mode and batch index construction."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool

__all__ = ["check_jobs", "paused_gc", "process_pool", "release_memory"]


def check_jobs(jobs: object) -> int:
    """The number of worker processes for a ``jobs`` argument: itself, or all cores for ``None``."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise TypeError(f"jobs must be an int or None, got {type(jobs).__name__}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    return jobs


@contextlib.contextmanager
def process_pool(jobs: int) -> Iterator[Pool | None]:
    """A pool of ``jobs`` processes (``fork`` where available: workers inherit state), or ``None``."""
    if jobs <= 1:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    with multiprocessing.get_context("fork" if "fork" in methods else None).Pool(jobs) as pool:
        yield pool


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
