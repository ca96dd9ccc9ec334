# cython: language_level=3
"""The integer sort the compiled kernels share (``cimport``-ed by dedup/_sketch and dedup/_verify).

A sentence's few values (up to ``SMALL_SORT``) are sorted by insertion, without a comparator
call; longer arrays by ``qsort``.  Inline: each kernel module gets its own copy of the code.
"""

from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport qsort

cdef enum:
    SMALL_SORT = 48

ctypedef fused sortable_int:
    uint32_t
    int64_t


cdef inline int _cmp_u32(const void *x, const void *y) noexcept nogil:
    cdef uint32_t a = (<const uint32_t *> x)[0], b = (<const uint32_t *> y)[0]
    return -1 if a < b else (1 if a > b else 0)


cdef inline int _cmp_i64(const void *x, const void *y) noexcept nogil:
    cdef int64_t a = (<const int64_t *> x)[0], b = (<const int64_t *> y)[0]
    return -1 if a < b else (1 if a > b else 0)


cdef inline void sort_ints(sortable_int *v, Py_ssize_t n) noexcept nogil:
    """``v[0..n)`` in ascending order."""
    cdef Py_ssize_t k, j
    cdef sortable_int x
    if n > SMALL_SORT:
        if sortable_int is uint32_t:
            qsort(v, <size_t> n, sizeof(uint32_t), _cmp_u32)
        else:
            qsort(v, <size_t> n, sizeof(int64_t), _cmp_i64)
        return
    for k in range(1, n):
        x = v[k]
        j = k
        while j > 0 and v[j - 1] > x:
            v[j] = v[j - 1]
            j -= 1
        v[j] = x
