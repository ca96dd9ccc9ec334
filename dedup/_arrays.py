"""Small numpy helpers used on large integer arrays."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["sorted_unique", "unique_counts"]

_G = TypeVar("_G", bound=np.generic)


def sorted_unique(values: npt.NDArray[_G]) -> npt.NDArray[_G]:
    """``np.unique(values)`` for a 1-d array, by sorting.

    numpy 2's hash-based ``np.unique`` without ``return_*`` arguments is up to
    30x slower than a sort on millions of integers (measured on numpy 2.4).

    Examples
    --------
    >>> sorted_unique(np.array([3, 1, 3, 2]))
    array([1, 2, 3])
    """
    out = np.sort(values, axis=None)
    if out.size < 2:
        return out
    keep = np.empty(out.size, dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def unique_counts(values: npt.NDArray[_G]) -> tuple[npt.NDArray[_G], npt.NDArray[np.int64]]:
    """``np.unique(values, return_counts=True)`` for a 1-d array (sorts ``values`` in place).

    About 2x faster than ``np.unique`` on millions of integers (numpy 2.4).

    Examples
    --------
    >>> unique_counts(np.array([3, 1, 3, 2]))
    (array([1, 2, 3]), array([1, 1, 2]))
    """
    values.sort()
    if values.size == 0:
        return values, np.zeros(0, dtype=np.int64)
    first = np.empty(values.size, dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return values[starts], np.diff(np.append(starts, values.size)).astype(np.int64, copy=False)
