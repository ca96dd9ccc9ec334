# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: autotestdict=False
"""Compiled kernel of the index: finding keys in the sorted runs of band keys (dedup/_index/runs.py).

It gives exactly what ``numpy.searchsorted`` gives (``tests/test_kernels.py`` compares them);
that numpy code is the reference and the fallback without a compiler.  Arguments are typed
memoryviews (a wrong dtype or a non-contiguous array raises before any work), the directory is
checked here, and the search runs without the GIL.
"""

import numpy as np

from libc.stdint cimport int64_t, uint64_t


def run_ranges(const uint64_t[::1] keys, const uint64_t[::1] run_keys, const int64_t[::1] directory,
               int shift, /):
    """run_ranges(keys, run_keys, directory, shift, /) -> (lo, hi).

    ``run_keys`` is sorted; ``directory[b]`` is the first position whose key has ``b`` as its top
    bits (``key >> shift``), ``directory[-1]`` the run's length.  For each key, the range
    ``[lo, hi)`` of positions holding it (empty: ``lo == hi``), as int64 arrays: what
    ``numpy.searchsorted`` left and right give (``dedup/_index/runs.py`` is the reference).
    """
    cdef Py_ssize_t m = keys.shape[0], n = run_keys.shape[0], n_dir = directory.shape[0]
    if shift < 1 or shift > 64 or n_dir != (<Py_ssize_t> 1 << (64 - shift)) + 1:
        raise ValueError("run_ranges: the directory does not match the shift")
    if directory[n_dir - 1] != n or directory[0] != 0:
        raise ValueError("run_ranges: the directory does not span the run")
    lo_out, hi_out = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    cdef int64_t[::1] lo_v = lo_out, hi_v = hi_out
    cdef Py_ssize_t q, lo, hi, mid, b
    cdef uint64_t key
    cdef bint bad = False
    with nogil:
        for q in range(m):
            key = keys[q]
            b = <Py_ssize_t> (key >> shift) if shift < 64 else 0
            lo, hi = directory[b], directory[b + 1]
            if lo < 0 or hi > n or lo > hi:
                bad = True
                break
            while lo < hi:  # first position with run_keys >= key
                mid = lo + (hi - lo) // 2
                if run_keys[mid] < key:
                    lo = mid + 1
                else:
                    hi = mid
            lo_v[q] = lo
            hi = directory[b + 1]
            while lo < hi:  # first position with run_keys > key
                mid = lo + (hi - lo) // 2
                if run_keys[mid] <= key:
                    lo = mid + 1
                else:
                    hi = mid
            hi_v[q] = lo
    if bad:
        raise ValueError("run_ranges: the directory points outside the run")
    return lo_out, hi_out
