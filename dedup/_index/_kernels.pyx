# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: autotestdict=False
"""Compiled kernel of the index: finding keys in the sorted runs of band keys (dedup/_index/runs.py).

It gives exactly what the vectorised binary search of ``runs.ranges`` gives
(``tests/test_kernels.py`` compares them); that numpy code is the reference and the fallback
without a compiler.  Arguments are typed
memoryviews (a wrong dtype or a non-contiguous array raises before any work), the directory is
checked here, and the search runs without the GIL.
"""

import numpy as np

from libc.stdint cimport int64_t, uint32_t, uint64_t


def run_ranges(const uint64_t[::1] keys, const uint32_t[::1] lows, const uint32_t[::1] directory, /):
    """run_ranges(keys, lows, directory, /) -> (lo, hi).

    A run of the index holds stored keys of 48 bits, sorted: ``lows`` their low 32 bits,
    ``directory[c]`` the first position whose key has ``c`` as its top 16 bits (65,537
    offsets, the last the run's length).  For each stored key of ``keys``, the range
    ``[lo, hi)`` of positions holding it (empty: ``lo == hi``), as int64 arrays
    (``dedup/_index/runs.py``'s ``ranges`` is the reference).
    """
    cdef Py_ssize_t m = keys.shape[0], n = lows.shape[0], n_dir = directory.shape[0]
    if n_dir != (1 << 16) + 1:
        raise ValueError("run_ranges: the directory does not have 65,537 offsets")
    if directory[n_dir - 1] != n or directory[0] != 0:
        raise ValueError("run_ranges: the directory does not span the run")
    lo_out, hi_out = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    cdef int64_t[::1] lo_v = lo_out, hi_v = hi_out
    cdef Py_ssize_t q, lo, hi, mid, c
    cdef uint32_t low
    cdef bint bad = False
    with nogil:
        for q in range(m):
            if keys[q] >> 48:
                bad = True
                break
            c = <Py_ssize_t> (keys[q] >> 32)
            low = <uint32_t> (keys[q] & 0xFFFFFFFFu)
            lo, hi = directory[c], directory[c + 1]
            if hi > n or lo > hi:
                bad = True
                break
            while lo < hi:  # first position with lows >= low
                mid = lo + (hi - lo) // 2
                if lows[mid] < low:
                    lo = mid + 1
                else:
                    hi = mid
            lo_v[q] = lo
            hi = directory[c + 1]
            while lo < hi:  # first position with lows > low
                mid = lo + (hi - lo) // 2
                if lows[mid] <= low:
                    lo = mid + 1
                else:
                    hi = mid
            hi_v[q] = lo
    if bad:
        raise ValueError("run_ranges: a key of more than 48 bits, or a directory pointing outside the run")
    return lo_out, hi_out
