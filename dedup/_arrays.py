"""Small numpy helpers used on large integer arrays."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["sorted_unique"]

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
