"""Worker processes shared by corpus mode and batch index construction."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from multiprocessing.pool import Pool

__all__ = ["process_pool"]


@contextlib.contextmanager
def process_pool(jobs: int) -> Iterator[Pool | None]:
    """A pool of ``jobs`` processes (``fork`` where available: workers inherit state), or ``None``."""
    if jobs <= 1:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    with multiprocessing.get_context("fork" if "fork" in methods else None).Pool(jobs) as pool:
        yield pool
