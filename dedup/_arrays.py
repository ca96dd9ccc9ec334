"""Small numpy helpers used on large integer arrays."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["last_of_equal", "run_firsts", "run_lasts", "sorted_find", "sorted_unique", "unique_counts"]

_G = TypeVar("_G", bound=np.generic)


def run_firsts(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Mask of the elements of a 1-d array that start a run of equal values.

    Examples
    --------
    >>> run_firsts(np.array([1, 1, 2, 3, 3]))
    array([ True, False,  True,  True, False])
    """
    first = np.empty(values.size, dtype=bool)
    if values.size:
        first[0] = True
        np.not_equal(values[1:], values[:-1], out=first[1:])
    return first


def run_lasts(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Mask of the elements of a 1-d array that end a run of equal values.

    Examples
    --------
    >>> run_lasts(np.array([1, 1, 2, 3, 3]))
    array([False,  True,  True, False,  True])
    """
    last = np.empty(values.size, dtype=bool)
    if values.size:
        last[-1] = True
        np.not_equal(values[1:], values[:-1], out=last[:-1])
    return last


def last_of_equal(codes: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Indices of the last occurrence of each distinct value of ``codes``, by value (what a dict
    filled in order keeps).

    Examples
    --------
    >>> last_of_equal(np.array([7, 3, 7, 5]))
    array([1, 3, 2])
    """
    order = np.argsort(codes, kind="stable")
    last: npt.NDArray[np.int64] = order[run_lasts(codes[order])]
    return last


def sorted_find(
    haystack: npt.NDArray[_G], needles: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Where each needle is in the sorted 1-d ``haystack``, and whether it is there at all.

    A missing needle's position is any valid index (0 for an empty haystack: check ``found``).

    Examples
    --------
    >>> sorted_find(np.array([2, 5, 9]), np.array([5, 7, 10]))
    (array([1, 2, 0]), array([ True, False, False]))
    """
    if not haystack.size:
        return np.zeros(needles.size, dtype=np.int64), np.zeros(needles.size, dtype=bool)
    pos = np.searchsorted(haystack, needles).astype(np.int64, copy=False)
    pos[pos >= haystack.size] = 0
    return pos, haystack[pos] == needles


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
    return out[run_firsts(out)]


def unique_counts(values: npt.NDArray[_G]) -> tuple[npt.NDArray[_G], npt.NDArray[np.int64]]:
    """``np.unique(values, return_counts=True)`` for a 1-d array (sorts ``values`` in place).

    About 2x faster than ``np.unique`` on millions of integers (numpy 2.4).

    Examples
    --------
    >>> unique_counts(np.array([3, 1, 3, 2]))
    (array([1, 2, 3]), array([1, 1, 2]))
    """
    values.sort()
    starts = np.flatnonzero(run_firsts(values))
    return values[starts], np.diff(np.append(starts, values.size)).astype(np.int64, copy=False)
