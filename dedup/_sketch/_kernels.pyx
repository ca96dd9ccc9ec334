# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: autotestdict=False
"""Compiled kernels of the sketch stage: MinHash signatures (band keys and LSH pairs are still in _ckernels.c).

Each computes exactly what the numpy code beside its caller in ``dedup/_sketch/minhash.py``
computes (``tests/test_kernels.py`` compares them); that numpy code is the reference and
the fallback without a compiler.  Arguments are typed memoryviews: a wrong dtype or a
non-contiguous array raises before any work, sizes are checked here, and the loops run
without the GIL.
"""

from libc.stdint cimport int64_t, uint32_t, uint64_t


cdef extern from *:
    # The one loop written in C: Cython cannot attach GCC's target_clones attribute to a
    # function, and the AVX2 clone (8 lanes of 32-bit multiplies; baseline x86-64 has no
    # 32-bit vector multiply) is what makes one pass over the shingles ~3x faster.
    """
    #include <stdint.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define DEDUP_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define DEDUP_CLONES
    #endif
    /* Row s of out: min over the set's hashes h of a[p] * fmix32(h) + b[p] (uint32 arithmetic). */
    DEDUP_CLONES static void
    dedup_minhash_rows(const uint32_t *hashes, Py_ssize_t n_hashes, const int64_t *offsets, Py_ssize_t n_sets,
                       const uint32_t *a, const uint32_t *b, Py_ssize_t num_perm, uint32_t *out)
    {
        for (Py_ssize_t s = 0; s < n_sets; s++) {
            uint32_t *row = out + s * num_perm;
            const Py_ssize_t lo = (Py_ssize_t)offsets[s], hi = s + 1 < n_sets ? (Py_ssize_t)offsets[s + 1] : n_hashes;
            for (Py_ssize_t p = 0; p < num_perm; p++)
                row[p] = UINT32_MAX;
            for (Py_ssize_t k = lo; k < hi; k++) {
                uint32_t h = hashes[k]; /* MurmurHash3's finaliser, as minhash._fmix32 */
                h ^= h >> 16;
                h *= 0x85EBCA6Bu;
                h ^= h >> 13;
                h *= 0xC2B2AE35u;
                h ^= h >> 16;
                for (Py_ssize_t p = 0; p < num_perm; p++) {
                    const uint32_t v = a[p] * h + b[p];
                    row[p] = v < row[p] ? v : row[p];
                }
            }
        }
    }
    """
    void minhash_rows "dedup_minhash_rows" (
        const uint32_t *hashes, Py_ssize_t n_hashes, const int64_t *offsets, Py_ssize_t n_sets,
        const uint32_t *a, const uint32_t *b, Py_ssize_t num_perm, uint32_t *out) noexcept nogil


def minhash(const uint32_t[::1] hashes, const int64_t[::1] offsets, const uint32_t[::1] a,
            const uint32_t[::1] b, uint32_t[:, ::1] out, /):
    """minhash(hashes, offsets, a, b, out): the MinHash signature of each set into a row of ``out``.

    Set ``s`` is ``hashes[offsets[s]:offsets[s + 1]]`` (the last runs to the end); every set
    must be non-empty.  ``out`` has one row per set and one column per permutation ``(a, b)``.
    """
    cdef Py_ssize_t n_h = hashes.shape[0], n_s = offsets.shape[0], p = a.shape[0], s, hi
    if b.shape[0] != p or out.shape[0] != n_s or out.shape[1] != p:
        raise ValueError("minhash: inconsistent sizes")
    for s in range(n_s):  # non-decreasing, in range, every set non-empty
        hi = offsets[s + 1] if s + 1 < n_s else n_h
        if not (0 <= offsets[s] < hi <= n_h):
            raise ValueError("minhash: offsets out of range (every set must be non-empty)")
    if n_s == 0 or p == 0:
        return
    with nogil:
        minhash_rows(&hashes[0], n_h, &offsets[0], n_s, &a[0], &b[0], p, &out[0, 0])
