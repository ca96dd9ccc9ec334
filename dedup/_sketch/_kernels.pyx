# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: autotestdict=False
"""Compiled kernels of the sketch stage: shingle hashes, MinHash signatures, LSH band keys and pairs.

Each computes exactly what the numpy code beside its caller in ``dedup/_sketch/`` computes
(``tests/test_kernels.py`` compares them); that numpy code is the reference and the fallback
without a compiler.  Arguments are typed memoryviews: a wrong dtype or a non-contiguous array
raises before any work, sizes are checked here, and the loops run without the GIL.  Results
come back as new numpy arrays.
"""

import threading

import numpy as np

from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memcpy

from dedup._sort cimport sort_ints

cdef enum:
    # Rows up to which pair counts are tallied in an n x n table (sorted, with their counts):
    # the Python side's KERNEL_TALLY_MAX_ROWS (dedup/_sketch/minhash.py).
    TALLY_MAX_ROWS = 512

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



# ---------------------------------------------------------------------------------------------
# Shingles (dedup/_sketch/shingle.py)


cdef inline uint64_t mix64(uint64_t x) noexcept nogil:
    """splitmix64's finaliser, as shingle._mix64."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL
    return x ^ (x >> 31)


cdef Py_ssize_t ngram_run(const uint64_t *tok, Py_ssize_t nt, Py_ssize_t n, uint32_t *run) noexcept nogil:
    """A sentence's distinct shingle hashes, sorted, into run (room for nt values); returns how many.

    N-grams of the token hashes mixed as shingle._ngram_hashes (one shingle of every token when
    there are fewer than n), then their high 32 bits.
    """
    cdef Py_ssize_t count, width, k, x, m
    cdef uint64_t acc
    if n == 1 or nt <= 1:
        count, width = nt, 1
    else:
        width = n if n < nt else nt
        count = nt - width + 1
    for k in range(count):
        acc = tok[k]
        if width > 1:
            for x in range(1, width):
                acc = acc * 0x9E3779B97F4A7C15ULL + tok[k + x]
            acc = mix64(acc)
        run[k] = <uint32_t> (acc >> 32)
    sort_ints(run, count)
    m = 1 if count else 0
    for k in range(1, count):
        if run[k] != run[m - 1]:
            run[m] = run[k]
            m += 1
    return m


def shingles(list sentences not None, Py_ssize_t stems_at, Py_ssize_t content_at, dict cache not None,
             object fill, Py_ssize_t n, /):
    """shingles(sentences, stems_at, content_at, cache, fill, n) -> (hashes uint32, offsets int64).

    shingle.sentence_shingle_hashes over sentence tuples (stems and content flags at the given
    places): each sentence's content stems (all its stems when it has no content word), their
    64-bit token hashes (``cache[stem]``; ``fill(stem)`` when missing or 0), the n-gram hashes,
    sorted and distinct per sentence; ``offsets`` starts each sentence's run.
    """
    if n < 1:
        raise ValueError("shingles: n must be at least 1")
    if stems_at < 0 or content_at < 0:
        raise ValueError("shingles: the token columns must be non-negative places")
    cdef Py_ssize_t n_sents = len(sentences), i, k, length, nt, used = 0, cap = 256, tcap = 64
    cdef tuple row, stems, content
    cdef bint has_content
    cdef uint64_t value
    cdef uint32_t *grown32
    cdef uint64_t *grown64
    cdef uint32_t[::1] hashes_view
    offsets = np.empty(n_sents, dtype=np.int64)
    cdef int64_t[::1] off = offsets
    cdef uint32_t *out = <uint32_t *> malloc(sizeof(uint32_t) * cap)
    cdef uint64_t *tok = <uint64_t *> malloc(sizeof(uint64_t) * tcap)
    try:
        if out == NULL or tok == NULL:
            raise MemoryError()
        for i in range(n_sents):
            item = sentences[i]
            if not isinstance(item, tuple) or len(<tuple> item) <= stems_at or len(<tuple> item) <= content_at:
                raise TypeError(f"shingles: sentences[{i}] is not a sentence tuple")
            row = <tuple> item
            stems_o, content_o = row[stems_at], row[content_at]
            if (not isinstance(stems_o, tuple) or not isinstance(content_o, tuple)
                    or len(<tuple> content_o) != len(<tuple> stems_o)):
                raise TypeError(f"shingles: sentences[{i}] has inconsistent token tuples")
            stems, content = <tuple> stems_o, <tuple> content_o
            length = len(stems)
            has_content = False
            for k in range(length):
                if content[k]:
                    has_content = True
                    break
            if length + 1 > tcap:
                tcap = 2 * (length + 1)
                grown64 = <uint64_t *> realloc(tok, sizeof(uint64_t) * tcap)
                if grown64 == NULL:
                    raise MemoryError()
                tok = grown64
            nt = 0
            for k in range(length):
                if has_content and not content[k]:
                    continue
                stem = stems[k]
                known = cache.get(stem)
                value = 0 if known is None else known
                if value == 0:  # as shingle._token_hashes: a missing (or zero) hash is filled
                    value = fill(stem)
                tok[nt] = value
                nt += 1
            if used + nt > cap:  # a sentence makes at most nt shingles
                while used + nt > cap:
                    cap *= 2
                grown32 = <uint32_t *> realloc(out, sizeof(uint32_t) * cap)
                if grown32 == NULL:
                    raise MemoryError()
                out = grown32
            off[i] = used
            used += ngram_run(tok, nt, n, out + used)
        hashes = np.empty(used, dtype=np.uint32)
        if used:
            hashes_view = hashes
            memcpy(&hashes_view[0], out, sizeof(uint32_t) * used)
        return hashes, offsets
    finally:
        free(out)
        free(tok)


# ---------------------------------------------------------------------------------------------
# LSH (dedup/_sketch/minhash.py, lsh.py): band keys, and the row pairs sharing band keys


cdef void band_keys_into(const uint32_t *sig, Py_ssize_t n, Py_ssize_t num_perm, Py_ssize_t bands,
                         Py_ssize_t rows, uint64_t *out) noexcept nogil:
    """One 64-bit key per (row, band), as minhash._numpy_band_keys (the band number folded in)."""
    cdef Py_ssize_t i, band, k
    cdef uint64_t acc
    cdef const uint32_t *v
    for i in range(n):
        for band in range(bands):
            acc = 0
            v = sig + i * num_perm + band * rows
            for k in range(rows):
                acc = (acc ^ <uint64_t> v[k]) * 0x100000001B3ULL + <uint64_t> (k + 1)
            acc ^= acc >> 29
            acc *= 0xBF58476D1CE4E5B9ULL
            acc ^= acc >> 32
            out[i * bands + band] = acc + <uint64_t> band * 0x9E3779B97F4A7C15ULL


def band_keys(const uint32_t[:, ::1] sigs, Py_ssize_t bands, Py_ssize_t rows, uint64_t[:, ::1] out, /):
    """band_keys(sigs, bands, rows, out): each row's key of each band into ``out`` (rows x bands).

    Band ``b`` mixes signature columns ``b * rows`` to ``(b + 1) * rows - 1``.
    """
    cdef Py_ssize_t n = sigs.shape[0], num_perm = sigs.shape[1]
    if bands <= 0 or rows <= 0 or bands * rows > num_perm or out.shape[0] != n or out.shape[1] != bands:
        raise ValueError("band_keys: inconsistent sizes")
    if n == 0:
        return
    with nogil:
        band_keys_into(&sigs[0, 0], n, num_perm, bands, rows, &out[0, 0])


cdef struct Vec:  # a growable array of int64
    int64_t *data
    Py_ssize_t n
    Py_ssize_t cap


cdef int vec_push(Vec *v, int64_t x) noexcept nogil:
    """0, or -1 when out of memory."""
    cdef Py_ssize_t cap
    cdef int64_t *grown
    if v.n == v.cap:
        cap = 2 * v.cap if v.cap else 256
        grown = <int64_t *> realloc(v.data, sizeof(int64_t) * cap)
        if grown == NULL:
            return -1
        v.data = grown
        v.cap = cap
    v.data[v.n] = x
    v.n += 1
    return 0


cdef object vec_array(const Vec *first, const Vec *second):
    """A new int64 array of first's items then second's (second may be NULL)."""
    cdef Py_ssize_t n1 = first.n, n2 = second.n if second != NULL else 0
    out = np.empty(n1 + n2, dtype=np.int64)
    cdef int64_t[::1] view = out
    if n1:
        memcpy(&view[0], first.data, sizeof(int64_t) * n1)
    if n2:
        memcpy(&view[n1], second.data, sizeof(int64_t) * n2)
    return out


# Rows of one band grouped by key with a hash table (rows stay in ascending order in a group).
# A slot holds its key, the group's first and last rows and its size side by side: a probe and
# its update touch one cache line (the table is far larger than the caches at corpus scale).
cdef struct Slot:
    uint64_t key
    Py_ssize_t head
    Py_ssize_t tail
    Py_ssize_t size


cdef struct Groups:
    Py_ssize_t hcap
    Py_ssize_t n_used
    Slot *slot
    Py_ssize_t *next
    Py_ssize_t *used  # the slots of this band's groups
    Py_ssize_t *members


cdef void groups_free(Groups *g) noexcept nogil:
    free(g.slot)
    free(g.next)
    free(g.used)
    free(g.members)
    g.slot, g.next, g.used, g.members = NULL, NULL, NULL, NULL


cdef int groups_init(Groups *g, Py_ssize_t n) noexcept nogil:
    """Room for the groups of n rows: 0, or -1 when out of memory."""
    cdef Py_ssize_t k
    g.hcap, g.n_used = 16, 0
    while g.hcap < 2 * n:
        g.hcap <<= 1
    g.slot = <Slot *> malloc(sizeof(Slot) * g.hcap)
    g.next = <Py_ssize_t *> malloc(sizeof(Py_ssize_t) * (n + 1))
    g.used = <Py_ssize_t *> malloc(sizeof(Py_ssize_t) * (n + 1))
    g.members = <Py_ssize_t *> malloc(sizeof(Py_ssize_t) * (n + 1))
    if g.slot == NULL or g.next == NULL or g.used == NULL or g.members == NULL:
        groups_free(g)
        return -1
    for k in range(g.hcap):
        g.slot[k].head = -1
    return 0


cdef void groups_band(Groups *g, const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands,
                      Py_ssize_t band) noexcept nogil:
    """Group the rows of one band: its groups are the slots g.used[0 .. g.n_used)."""
    cdef Py_ssize_t u, r, h, mask = g.hcap - 1
    cdef uint64_t key
    cdef Slot *s
    for u in range(g.n_used):  # clear the previous band's
        g.slot[g.used[u]].head = -1
    g.n_used = 0
    for r in range(n):
        key = keys[r * bands + band]
        h = <Py_ssize_t> ((key * 0x9E3779B97F4A7C15ULL) >> 20) & mask
        while g.slot[h].head >= 0 and g.slot[h].key != key:
            h = (h + 1) & mask
        s = &g.slot[h]
        g.next[r] = -1
        if s.head < 0:
            s.key, s.head, s.tail, s.size = key, r, r, 1
            g.used[g.n_used] = h
            g.n_used += 1
        else:
            g.next[s.tail] = r
            s.tail = r
            s.size += 1


cdef Py_ssize_t groups_members(Groups *g, Py_ssize_t u) noexcept nogil:
    """The rows of group u (ascending) into g.members; returns how many."""
    cdef Py_ssize_t k = 0, r = g.slot[g.used[u]].head
    while r >= 0:
        g.members[k] = r
        k += 1
        r = g.next[r]
    return k


cdef struct Oversized:  # keys of one band whose bucket is over max_bucket (sorted; most bands have none)
    uint64_t *keys
    Py_ssize_t n


cdef inline bint oversized_has(const Oversized *o, uint64_t key) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = o.n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if o.keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo < o.n and o.keys[lo] == key


cdef void over_free(Oversized *over, Py_ssize_t bands) noexcept nogil:
    cdef Py_ssize_t b
    if over != NULL:
        for b in range(bands):
            free(over[b].keys)
    free(over)


cdef int cmp_u64(const void *x, const void *y) noexcept nogil:
    cdef uint64_t a = (<const uint64_t *> x)[0], b = (<const uint64_t *> y)[0]
    return -1 if a < b else (1 if a > b else 0)


cdef inline Py_ssize_t shared_bands(const uint64_t *kx, const uint64_t *ky, const Oversized *over,
                                    Py_ssize_t to, Py_ssize_t stop_at) noexcept nogil:
    """Bands b < to in which rows x and y share a key whose bucket is not oversized (up to stop_at)."""
    cdef Py_ssize_t shared = 0, b = 0
    while b < to and shared < stop_at:
        if kx[b] == ky[b] and not (over[b].n and oversized_has(&over[b], kx[b])):
            shared += 1
        b += 1
    return shared


cdef int tally_pairs(const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands, Py_ssize_t max_bucket,
                     Py_ssize_t min_shared, Vec *codes, Vec *counts) noexcept nogil:
    """Up to TALLY_MAX_ROWS rows: every pair's shared bands tallied in an n x n table.

    The codes lo * n + hi of the pairs sharing at least min_shared keys come sorted, with their
    counts (counts may be NULL).  0, or -1 when out of memory.
    """
    cdef Groups g
    cdef Py_ssize_t band, u, size, x, y
    cdef int64_t k
    cdef int32_t *table = <int32_t *> calloc(n * n if n * n > 0 else 1, sizeof(int32_t))
    cdef bint oom = table == NULL or groups_init(&g, n) < 0
    if oom:
        free(table)
        return -1
    for band in range(bands):
        groups_band(&g, keys, n, bands, band)
        for u in range(g.n_used):
            size = g.slot[g.used[u]].size
            if size < 2 or size > max_bucket:
                continue
            groups_members(&g, u)
            for x in range(size):
                for y in range(x + 1, size):
                    table[g.members[x] * <int64_t> n + g.members[y]] += 1
    for k in range(<int64_t> n * n):
        if table[k] >= min_shared:
            oom |= vec_push(codes, k) < 0
            if counts != NULL:
                oom |= vec_push(counts, table[k]) < 0
            if oom:
                break
    groups_free(&g)
    free(table)
    return -1 if oom else 0


cdef int emit_bands(const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands, Py_ssize_t max_bucket,
                    Py_ssize_t min_shared, Py_ssize_t start, Py_ssize_t stop, Oversized *over,
                    Vec *codes) noexcept nogil:
    """The pairs that reach min_shared shared keys at a band in [start, stop), each once, into codes.

    Groups bands 0 to stop - 1 (each band's oversized keys into over[band]: a pair's earlier bands
    are compared row against row, skipping those keys).  0, or -1 when out of memory.
    """
    cdef Groups g
    cdef Py_ssize_t band, u, k, size, x, y
    # A bucket's members' keys of the earlier bands, copied side by side: the pair checks of a
    # bucket then read cache-resident rows (size reads from memory, not size^2).
    cdef Py_ssize_t widest = max_bucket if max_bucket < n else n  # rows of the largest bucket paired
    cdef uint64_t *near = <uint64_t *> malloc(sizeof(uint64_t) * (widest if widest > 0 else 1)
                                              * (bands if bands > 0 else 1))
    cdef bint oom = near == NULL or groups_init(&g, n) < 0
    if oom:
        free(near)
        return -1
    for band in range(stop):
        groups_band(&g, keys, n, bands, band)
        # this band's oversized keys, before its pairs compare earlier bands
        k = 0
        for u in range(g.n_used):
            k += g.slot[g.used[u]].size > max_bucket
        if k:
            over[band].keys = <uint64_t *> malloc(sizeof(uint64_t) * k)
            if over[band].keys == NULL:
                oom = True
                break
            for u in range(g.n_used):
                if g.slot[g.used[u]].size > max_bucket:
                    over[band].keys[over[band].n] = g.slot[g.used[u]].key
                    over[band].n += 1
            qsort(over[band].keys, <size_t> k, sizeof(uint64_t), cmp_u64)
        if band < start:
            continue
        for u in range(g.n_used):
            size = g.slot[g.used[u]].size
            if size < 2 or size > max_bucket:
                continue
            groups_members(&g, u)
            if band:
                for x in range(size):
                    memcpy(near + x * band, keys + g.members[x] * bands, sizeof(uint64_t) * band)
            for x in range(size):
                for y in range(x + 1, size):
                    if shared_bands(near + x * band, near + y * band, over, band, min_shared) != min_shared - 1:
                        continue  # not there yet, or already emitted at an earlier band
                    oom |= vec_push(codes, g.members[x] * <int64_t> n + g.members[y]) < 0
            if oom:
                break
        if oom:
            break
    groups_free(&g)
    free(near)
    return -1 if oom else 0


cdef int count_shared(const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands, const Oversized *over,
                      const Vec *codes, Vec *counts) noexcept nogil:
    """The shared bands of each pair of codes (as the tally counts them) into counts: 0, or -1."""
    cdef Py_ssize_t k
    cdef int64_t code
    for k in range(codes.n):
        code = codes.data[k]
        if vec_push(counts, shared_bands(keys + (code // n) * bands, keys + (code % n) * bands,
                                         over, bands, bands)) < 0:
            return -1
    return 0


cdef class _BandRange:
    """The pairs that first reach the shared-band count in bands [start, stop): one thread's share."""

    cdef const uint64_t *keys
    cdef Py_ssize_t n, bands, max_bucket, min_shared, start, stop
    cdef Oversized *over
    cdef Vec codes
    cdef int status

    def __dealloc__(self):
        over_free(self.over, self.bands)
        free(self.codes.data)

    def run(self):
        with nogil:
            self.status = emit_bands(self.keys, self.n, self.bands, self.max_bucket, self.min_shared,
                                     self.start, self.stop, self.over, &self.codes)


cdef _BandRange band_range(const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands, Py_ssize_t max_bucket,
                           Py_ssize_t min_shared, Py_ssize_t start, Py_ssize_t stop):
    cdef _BandRange job = _BandRange.__new__(_BandRange)
    job.keys, job.n, job.bands, job.max_bucket, job.min_shared = keys, n, bands, max_bucket, min_shared
    job.start, job.stop = start, stop
    job.over = <Oversized *> calloc(bands, sizeof(Oversized))
    if job.over == NULL:
        raise MemoryError()
    return job


def pair_counts(const uint64_t[:, ::1] keys, Py_ssize_t max_bucket, Py_ssize_t min_shared, bint want_counts,
                *, Py_ssize_t thread_min_rows):
    """pair_counts(keys, max_bucket, min_shared, want_counts, *, thread_min_rows) -> (codes, counts, sorted).

    The distinct codes ``lo * n + hi`` (int64, ``lo < hi``) of the row pairs of ``keys`` (rows x
    bands) sharing at least ``min_shared`` band keys, counting only buckets of 2 to ``max_bucket``
    rows: what minhash.candidate_pairs' numpy code finds before trimming.  Each band's rows are
    grouped on their own (the band number is folded into every key).  Up to 512 rows the codes
    come sorted with their counts (shared bands).  Above, each pair is emitted once, at the band
    where it reaches ``min_shared`` (no array of every pair of every band is built); the codes
    come unsorted, and their counts (else None) only when ``want_counts``.  From
    ``thread_min_rows`` rows the bands are split over two threads (the second also groups the
    first's bands, for their oversized keys); the codes come in the same order either way.
    """
    cdef Py_ssize_t n = keys.shape[0], bands = keys.shape[1], split
    if n < 1 or bands < 1 or min_shared < 1:
        raise ValueError("pair_counts: the keys must be at least one row of bands, and min_shared at least 1")
    cdef const uint64_t *k = &keys[0, 0]
    cdef Vec codes = Vec(NULL, 0, 0), counts = Vec(NULL, 0, 0)
    cdef Oversized *over = NULL
    cdef _BandRange first, second
    cdef int status = 0
    try:
        if n <= TALLY_MAX_ROWS:
            with nogil:
                status = tally_pairs(k, n, bands, max_bucket, min_shared, &codes, &counts)
            if status < 0:
                raise MemoryError()
            return vec_array(&codes, NULL), vec_array(&counts, NULL), True
        if n >= thread_min_rows and bands >= 4:
            split = bands * 5 // 8  # band ranges of about equal work
            first = band_range(k, n, bands, max_bucket, min_shared, 0, split)
            second = band_range(k, n, bands, max_bucket, min_shared, split, bands)
            thread = threading.Thread(target=second.run, name="dedup-pair-counts")
            try:
                thread.start()
            except RuntimeError:  # no second thread: the same work in this one
                second.run()
                thread = None
            first.run()
            if thread is not None:
                thread.join()
            if first.status < 0 or second.status < 0:
                raise MemoryError()
            if want_counts:
                with nogil:
                    status = count_shared(k, n, bands, second.over, &first.codes, &counts)
                    if status == 0:
                        status = count_shared(k, n, bands, second.over, &second.codes, &counts)
                if status < 0:
                    raise MemoryError()
            return vec_array(&first.codes, &second.codes), vec_array(&counts, NULL) if want_counts else None, False
        over = <Oversized *> calloc(bands, sizeof(Oversized))
        if over == NULL:
            raise MemoryError()
        with nogil:
            status = emit_bands(k, n, bands, max_bucket, min_shared, 0, bands, over, &codes)
            if status == 0 and want_counts:
                status = count_shared(k, n, bands, over, &codes, &counts)
        if status < 0:
            raise MemoryError()
        return vec_array(&codes, NULL), vec_array(&counts, NULL) if want_counts else None, False
    finally:
        over_free(over, bands)
        free(codes.data)
        free(counts.data)


def lsh_pairs(const uint32_t[:, ::1] sigs, const int64_t[::1] doc, tuple across, tuple within, *,
              Py_ssize_t min_shared, Py_ssize_t max_bucket, Py_ssize_t max_per_row, uint64_t doc_mix):
    """lsh_pairs(sigs, doc, across, within, *, min_shared, max_bucket, max_per_row, doc_mix) -> codes or None.

    lsh.lsh_candidates for an article (at most 512 rows) in one call: the codes ``lo * n + hi``
    (int64, sorted) of the pairs of the band family ``across`` = ``(bands, rows)`` sharing at
    least ``min_shared`` bands, united with those of the family ``within``, whose keys are mixed
    with each row's document (``(doc + 1) * doc_mix``).  None when a family has so many pairs
    that each row's best partners must be chosen (``max_per_row``): the numpy path does that.
    """
    cdef Py_ssize_t n = sigs.shape[0], num_perm = sigs.shape[1], bands, rows, l_bands, l_rows
    cdef Py_ssize_t family, b, r, i, x, y
    bands, rows = across
    l_bands, l_rows = within
    if (bands <= 0 or rows <= 0 or bands * rows > num_perm or l_bands <= 0 or l_rows <= 0
            or l_bands * l_rows > num_perm or doc.shape[0] != n or n > TALLY_MAX_ROWS):
        raise ValueError("lsh_pairs: inconsistent sizes, or more rows than an article")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    cdef uint64_t *keys = <uint64_t *> malloc(sizeof(uint64_t) * (n * (bands if bands > l_bands else l_bands) + 1))
    cdef Vec codes[2]
    cdef Vec merged = Vec(NULL, 0, 0)
    cdef bint oom = keys == NULL, trim = False
    cdef int64_t v
    codes[0] = Vec(NULL, 0, 0)
    codes[1] = Vec(NULL, 0, 0)
    try:
        with nogil:
            for family in range(2):
                if oom or trim:
                    break
                b, r = (l_bands, l_rows) if family else (bands, rows)
                band_keys_into(&sigs[0, 0], n, num_perm, b, r, keys)
                if family:
                    for i in range(n):
                        for x in range(b):
                            keys[i * b + x] ^= (<uint64_t> doc[i] + 1) * doc_mix
                oom = tally_pairs(keys, n, b, max_bucket, 1 if family else min_shared, &codes[family], NULL) < 0
                trim = codes[family].n > max_per_row * n // 2
            if not oom and not trim:  # union of two sorted runs
                x = y = 0
                while not oom and (x < codes[0].n or y < codes[1].n):
                    if y >= codes[1].n or (x < codes[0].n and codes[0].data[x] < codes[1].data[y]):
                        v = codes[0].data[x]
                        x += 1
                    elif x >= codes[0].n or codes[1].data[y] < codes[0].data[x]:
                        v = codes[1].data[y]
                        y += 1
                    else:
                        v = codes[0].data[x]
                        x += 1
                        y += 1
                    oom = vec_push(&merged, v) < 0
        if oom:
            raise MemoryError()
        return None if trim else vec_array(&merged, NULL)
    finally:
        free(keys)
        free(codes[0].data)
        free(codes[1].data)
        free(merged.data)
