# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: autotestdict=False
"""Compiled kernel of the index: the band table's probes and chain walks (dedup/_index/bandtable.py).

It gives exactly what ``BandTable.lookup``'s numpy loop gives, in the same order
(``tests/test_kernels.py`` compares them); that numpy code is the reference and the fallback
without a compiler.  Arguments are typed memoryviews (a wrong dtype or a non-contiguous array
raises before any work), sizes and chain links are checked here, and the walk runs without the GIL.
"""

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc


def table_lookup(const uint64_t[::1] keys, const uint64_t[::1] table_keys, const int32_t[::1] head,
                 const int32_t[::1] count, const int32_t[::1] esid, const int32_t[::1] enext, /, *,
                 Py_ssize_t max_bucket, bint truncate):
    """table_lookup(keys, table_keys, head, count, esid, enext, /, *, max_bucket, truncate) -> (query, sid).

    The table: ``table_keys`` (a power of two of slots, 0 for an empty one, linear probing from
    the key's home slot), each slot's chain ``head`` and entry ``count``; entry ``e`` holds the
    id ``esid[e]`` and the next entry ``enext[e]`` (-1 ends a chain).  For each key (never 0)
    found, the newest ``max_bucket`` entries of its chain, skipping keys of more than
    ``max_bucket`` entries unless ``truncate``.  Entries come out step by step: every key's newest
    entry first (keys in order), then every key's second, ...; as int64 arrays of the key's
    index in ``keys`` and the entry's id.
    """
    cdef Py_ssize_t m = keys.shape[0], cap = table_keys.shape[0], n_entries = esid.shape[0]
    if head.shape[0] != cap or count.shape[0] != cap or enext.shape[0] != n_entries:
        raise ValueError("table_lookup: the slot arrays or the entry arrays differ in size")
    if cap < 1 or cap & (cap - 1):
        raise ValueError("table_lookup: the table size is not a power of two")
    cdef Py_ssize_t limit = max_bucket if max_bucket > 0 else 0
    cdef Py_ssize_t q, probes, step, k, at, n_out = 0, cap_out = 0, longest = 0, grown_cap
    cdef Py_ssize_t mask = cap - 1, slot
    cdef uint64_t key
    cdef int32_t cur
    cdef int32_t *grown
    cdef int64_t[::1] out_q, out_s
    cdef bint bad = False, oom = False
    cdef Py_ssize_t *lens = <Py_ssize_t *> calloc(m if m else 1, sizeof(Py_ssize_t))
    cdef Py_ssize_t *start = NULL
    cdef int32_t *found = NULL  # the entries of every key, key after key
    try:
        if lens == NULL:
            raise MemoryError()
        with nogil:
            for q in range(m):
                key = keys[q]
                slot = <Py_ssize_t> ((key * 0x9E3779B97F4A7C15ULL) >> 20) & mask
                probes = 0
                while table_keys[slot] != key and table_keys[slot] != 0 and probes < cap:
                    probes += 1
                    slot = (slot + 1) & mask
                if table_keys[slot] != key or (not truncate and count[slot] > max_bucket):
                    continue
                cur = head[slot]
                step = 0
                while step < limit and cur >= 0:
                    if cur >= n_entries:
                        bad = True
                        break
                    if n_out == cap_out:
                        grown_cap = 2 * cap_out if cap_out else 1024
                        grown = <int32_t *> realloc(found, sizeof(int32_t) * grown_cap)
                        if grown == NULL:
                            oom = True
                            break
                        found, cap_out = grown, grown_cap
                    found[n_out] = esid[cur]
                    n_out += 1
                    lens[q] += 1
                    cur = enext[cur]
                    step += 1
                if bad or oom:
                    break
                if lens[q] > longest:
                    longest = lens[q]
        if bad:
            raise ValueError("table_lookup: a chain points outside the entries")
        if oom:
            raise MemoryError()
        query, sid = np.empty(n_out, dtype=np.int64), np.empty(n_out, dtype=np.int64)
        if not n_out:
            return query, sid
        out_q, out_s = query, sid
        start = <Py_ssize_t *> malloc(sizeof(Py_ssize_t) * m)
        if start == NULL:
            raise MemoryError()
        with nogil:
            at = 0
            for q in range(m):
                start[q] = at
                at += lens[q]
            k = 0
            for step in range(longest):
                for q in range(m):
                    if lens[q] > step:
                        out_q[k] = q
                        out_s[k] = found[start[q] + step]
                        k += 1
        return query, sid
    finally:
        free(lens)
        free(start)
        free(found)
