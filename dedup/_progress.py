"""Progress bars on standard error for long runs (tqdm), or nothing where tqdm cannot be imported."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(
    enabled: bool, *, total: int | None = None, unit: str = "it", desc: str = "", unit_scale: bool = False
) -> Iterator[Callable[[int], Any]]:
    """``advance(n)`` for a bar of ``total`` units (``None``: unknown) on standard error, or a no-op.

    tqdm is a dependency; an install without it (``--no-deps``, a trimmed
    image) still runs, with one line saying why there is no bar.
    """
    if not enabled:
        yield lambda n: None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        print(f"dedup: {desc or 'progress'}: no progress bar (pip install tqdm)", file=sys.stderr)
        yield lambda n: None
        return
    with tqdm(total=total, unit=unit, unit_scale=unit_scale, desc=desc, file=sys.stderr, leave=False) as bar:
        yield bar.update
