# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: autotestdict=False
"""Compiled kernels of the verify stage: token columns, stem sets, pair scores, greedy covers, alignment.

:class:`dedup._verify.batch.BatchScorer` drives them; they compute exactly the links of the
reference rules (:mod:`dedup._verify.reference`, the path without a compiler, chosen in
:mod:`dedup._verify.scorer`; ``tests/verify/test_batchverify.py`` holds both to the same links).
The character ratio is rapidfuzz's own ``fuzz.ratio``, called through the C interface it
exports (:data:`RAPIDFUZZ_CAPI` says whether it is there); the alignment mirrors rapidfuzz's
``LCSseq.editops``, which that interface does not export.

Arguments are typed memoryviews: a wrong dtype or a non-contiguous array raises before any
work.  Sizes, offsets and ids are checked here, once, so that the loops (which run without
the GIL) index without bounds checks.  Stems are integer ids; content weights are 1 or
``entity_weight``, so every weight sum below is exact in floating point.
"""

from cpython.dict cimport PyDict_GetItemWithError
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.object cimport PyObject_IsTrue
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memcpy, memset

from dedup._sort cimport SMALL_SORT, sort_ints

import numpy as np
from rapidfuzz import fuzz


cdef extern from "Python.h":
    # the item, borrowed (the token loop of flatten reads a few million of them)
    PyObject *tuple_item "PyTuple_GET_ITEM"(object, Py_ssize_t) nogil

# --- rapidfuzz's C interface ---------------------------------------------------------------
# The ABI of rapidfuzz's ``rapidfuzz_capi.h`` (src/rapidfuzz/rapidfuzz.h in its sources, not
# installed with the wheel), structure version 3, declared here as that header states it:
# each scorer function carries a PyCapsule ``_RF_Scorer`` pointing to an RF_Scorer.

cdef extern from *:
    ctypedef bint c_bool "_Bool"  # the header's C99 bool

ctypedef enum RF_StringType:
    RF_UINT8
    RF_UINT16
    RF_UINT32
    RF_UINT64

cdef struct RF_String:
    void (*dtor)(RF_String *self) noexcept nogil
    RF_StringType kind
    void *data
    int64_t length
    void *context

cdef struct RF_Kwargs:
    void (*dtor)(RF_Kwargs *self) noexcept nogil
    void *context

cdef struct RF_ScorerFunc

ctypedef c_bool (*RF_CallF64)(const RF_ScorerFunc *self, const RF_String *str, int64_t str_count,
                              double score_cutoff, double score_hint, double *result) noexcept nogil
ctypedef c_bool (*RF_CallI64)(const RF_ScorerFunc *self, const RF_String *str, int64_t str_count,
                              int64_t score_cutoff, int64_t score_hint, int64_t *result) noexcept nogil
ctypedef c_bool (*RF_CallSizeT)(const RF_ScorerFunc *self, const RF_String *str, int64_t str_count,
                                size_t score_cutoff, size_t score_hint, size_t *result) noexcept nogil

cdef union RF_ScorerCall:
    RF_CallF64 f64
    RF_CallI64 i64
    RF_CallSizeT sizet

cdef struct RF_ScorerFunc:
    void (*dtor)(RF_ScorerFunc *self) noexcept nogil
    RF_ScorerCall call
    void *context

cdef union RF_UncachedScorerFunc:
    c_bool (*f64)(const RF_String *str1, const RF_String *str2, const RF_Kwargs *kwargs,
                  double score_cutoff, double score_hint, double *result) noexcept nogil
    c_bool (*i64)(const RF_String *str1, const RF_String *str2, const RF_Kwargs *kwargs,
                  int64_t score_cutoff, int64_t score_hint, int64_t *result) noexcept nogil
    c_bool (*sizet)(const RF_String *str1, const RF_String *str2, const RF_Kwargs *kwargs,
                    size_t score_cutoff, size_t score_hint, size_t *result) noexcept nogil

cdef union RF_Score:
    double f64
    int64_t i64
    size_t sizet

cdef struct RF_ScorerFlags:
    uint32_t flags
    RF_Score optimal_score
    RF_Score worst_score

cdef struct RF_Scorer:
    uint32_t version
    c_bool (*kwargs_init)(RF_Kwargs *self, PyObject *kwargs) noexcept
    c_bool (*get_scorer_flags)(const RF_Kwargs *kwargs, RF_ScorerFlags *scorer_flags) noexcept nogil
    c_bool (*scorer_func_init)(RF_ScorerFunc *self, const RF_Kwargs *kwargs, int64_t str_count,
                               const RF_String *strings) noexcept nogil
    RF_UncachedScorerFunc uncached_scorer_func

cdef enum:
    RF_SCORER_STRUCT_VERSION = 3
    RF_SCORER_FLAG_RESULT_F64 = 1 << 5


cdef const RF_Scorer *_RATIO = NULL  # fuzz.ratio's scorer, when rapidfuzz exports version 3
cdef RF_Kwargs _RATIO_KWARGS  # its keyword arguments (none), made once here with the GIL
_ratio_capsule = getattr(fuzz.ratio, "_RF_Scorer", None)  # keeps the scorer's capsule alive


cdef bint _find_ratio() noexcept:
    """Whether ``fuzz.ratio`` exports the interface declared above (else the kernels stay unused)."""
    global _RATIO
    cdef RF_ScorerFlags flags
    cdef const RF_Scorer *found
    if _ratio_capsule is None or not PyCapsule_IsValid(_ratio_capsule, NULL):
        return False
    found = <const RF_Scorer *>PyCapsule_GetPointer(_ratio_capsule, NULL)
    if found == NULL or found.version != RF_SCORER_STRUCT_VERSION:
        return False
    no_kwargs = {}
    if not found.kwargs_init(&_RATIO_KWARGS, <PyObject *>no_kwargs):
        PyErr_Clear()  # (it failed with an exception set): the kernels stay unused
        return False
    if not found.get_scorer_flags(&_RATIO_KWARGS, &flags):
        PyErr_Clear()
        return False
    if not flags.flags & RF_SCORER_FLAG_RESULT_F64:
        return False
    _RATIO = found
    return True


#: Whether rapidfuzz exports the scorer interface these kernels call (``fuzz.ratio``'s
#: ``_RF_Scorer`` capsule, structure version 3).  Without it the pair kernels are not usable:
#: :mod:`dedup._verify.scorer` then runs the reference rules.
RAPIDFUZZ_CAPI = _find_ratio()


cdef int _rapidfuzz_failed() except -1:
    """Raise the exception rapidfuzz set (its functions return false with one set)."""
    if PyErr_Occurred() == NULL:
        raise RuntimeError("rapidfuzz's ratio failed without an exception")
    return -1


cdef int _need_rapidfuzz() except -1:
    if _RATIO == NULL:
        raise RuntimeError("rapidfuzz does not export the scorer interface (RF_Scorer version 3)")
    return 0


cdef int _texts_of(tuple texts, RF_String *out) except -1:
    """Point ``out[k]`` at the characters of ``texts[k]`` (not copied: ``texts`` must outlive them)."""
    cdef Py_ssize_t k
    cdef unsigned int kind
    for k in range(len(texts)):
        text = texts[k]
        if not isinstance(text, str):
            raise TypeError(f"texts[{k}] is not a str")
        kind = PyUnicode_KIND(text)
        out[k].dtor = NULL
        out[k].kind = RF_UINT8 if kind == 1 else (RF_UINT16 if kind == 2 else RF_UINT32)
        out[k].data = PyUnicode_DATA(text)
        out[k].length = PyUnicode_GET_LENGTH(text)
        out[k].context = NULL
    return 0


cdef struct Ratio:
    # rapidfuzz's cached ratio scorer of one first text (as its own cdist builds one per query)
    RF_ScorerFunc func
    int64_t built  # the text it was built for, -1 for none
    double score_cutoff  # rapidfuzz's, 0..100
    double cutoff  # the same as rapidfuzz compares it, 0..1


cdef inline void ratio_init(Ratio *r, double score_cutoff) noexcept nogil:
    r.built = -1
    r.score_cutoff = score_cutoff
    r.cutoff = score_cutoff / 100.0


cdef inline void ratio_free(Ratio *r) noexcept nogil:
    if r.built >= 0 and r.func.dtor != NULL:
        r.func.dtor(&r.func)
    r.built = -1


cdef inline double indel_ratio(int64_t lensum, int64_t lcs, double cutoff) noexcept nogil:
    """rapidfuzz's normalised Indel similarity x 100 given the LCS length, 0 under ``cutoff``."""
    cdef double norm_dist = <double>(lensum - 2 * lcs) / <double>lensum if lensum else 0.0
    cdef double norm_sim = 1.0 - norm_dist
    return norm_sim * 100.0 if norm_sim >= cutoff else 0.0


cdef int ratio_of(Ratio *r, const RF_String *texts, int64_t a, int64_t b, double *out) noexcept nogil:
    """``fuzz.ratio(texts[a], texts[b], score_cutoff=r.score_cutoff)`` into ``out``; 0, or -1 when
    rapidfuzz failed (with a Python exception set).  Pairs come grouped by ``a``: one scorer a run."""
    cdef int64_t la = texts[a].length, lb = texts[b].length
    if indel_ratio(la + lb, la if la < lb else lb, r.cutoff) == 0.0:
        out[0] = 0.0  # even an LCS as long as the shorter text is under the cut: rapidfuzz's 0
        return 0
    if a != r.built:
        ratio_free(r)
        if not _RATIO.scorer_func_init(&r.func, &_RATIO_KWARGS, 1, &texts[a]):
            return -1
        r.built = a
    if not r.func.call.f64(&r.func, &texts[b], 1, r.score_cutoff, 0.0, out):
        return -1
    return 0


# --- growable arrays, sorting, sorted sets --------------------------------------------------

cdef struct Vec:
    char *data
    Py_ssize_t n, cap, item


cdef inline int vec_push(Vec *v, const void *x) noexcept nogil:
    cdef Py_ssize_t cap
    cdef char *grown
    if v.n == v.cap:
        cap = 2 * v.cap if v.cap else 256
        grown = <char *>realloc(v.data, <size_t>(cap * v.item))
        if grown == NULL:
            return -1
        v.data = grown
        v.cap = cap
    memcpy(v.data + v.n * v.item, x, <size_t>v.item)
    v.n += 1
    return 0


cdef object vec_array(Vec *v, dtype):
    """The items of ``v`` as a numpy array of ``dtype`` (frees ``v``)."""
    out = np.empty(v.n, dtype=dtype)
    cdef char[::1] raw = out.view(np.int8)
    if v.n:
        memcpy(&raw[0], v.data, <size_t>(v.n * v.item))
    free(v.data)
    v.data = NULL
    return out


cdef struct StemW:
    int64_t stem
    double w

cdef int cmp_stemw(const void *x, const void *y) noexcept nogil:
    cdef const StemW *a = <const StemW *>x
    cdef const StemW *b = <const StemW *>y
    if a.stem != b.stem:
        return -1 if a.stem < b.stem else 1
    return -1 if a.w < b.w else (1 if a.w > b.w else 0)


cdef void sort_stemw(StemW *v, Py_ssize_t n) noexcept nogil:
    """By stem, then weight."""
    cdef Py_ssize_t k, j
    cdef StemW x
    if n > SMALL_SORT:
        qsort(v, <size_t>n, sizeof(StemW), cmp_stemw)
        return
    for k in range(1, n):
        x = v[k]
        j = k
        while j > 0 and (v[j - 1].stem > x.stem or (v[j - 1].stem == x.stem and v[j - 1].w > x.w)):
            v[j] = v[j - 1]
            j -= 1
        v[j] = x


cdef Py_ssize_t unique_i64(int64_t *v, Py_ssize_t n) noexcept nogil:
    """Sorted unique values of ``v[0..n)`` in place; returns their count."""
    cdef Py_ssize_t k, m = 1
    if n < 2:
        return n
    sort_ints(v, n)
    for k in range(1, n):
        if v[k] != v[m - 1]:
            v[m] = v[k]
            m += 1
    return m


cdef inline Py_ssize_t intersect(const int64_t *x, const double *w, Py_ssize_t nx, const int64_t *y,
                                 Py_ssize_t ny, double *wsum) noexcept nogil:
    """Elements of sorted ``x`` found in sorted ``y``, and the sum of their weights ``w`` (if given)."""
    cdef Py_ssize_t i = 0, j = 0, count = 0
    cdef double s = 0.0
    while i < nx and j < ny:
        if x[i] < y[j]:
            i += 1
        elif x[i] > y[j]:
            j += 1
        else:
            count += 1
            if w != NULL:
                s += w[i]
            i += 1
            j += 1
    if wsum != NULL:
        wsum[0] = s
    return count


cdef inline void intersect_mark(const int64_t *x, Py_ssize_t nx, const int64_t *y, Py_ssize_t ny,
                                uint8_t *found) noexcept nogil:
    """``found[k] = 1`` for every element ``x[k]`` of sorted ``x`` found in sorted ``y``."""
    cdef Py_ssize_t i = 0, j = 0
    while i < nx and j < ny:
        if x[i] < y[j]:
            i += 1
        elif x[i] > y[j]:
            j += 1
        else:
            found[i] = 1
            i += 1
            j += 1


# --- checks ------------------------------------------------------------------------------

cdef int check_ids(const int64_t[::1] ids, Py_ssize_t n, str name) except -1:
    cdef Py_ssize_t k
    for k in range(ids.shape[0]):
        if ids[k] < 0 or ids[k] >= n:
            raise ValueError(f"{name}: sentence id {ids[k]} out of range")
    return 0


cdef int check_starts(const int64_t[::1] starts, Py_ssize_t n, Py_ssize_t size, str name) except -1:
    """``starts`` (n + 1 offsets) is a non-decreasing run from 0 within an array of ``size`` items."""
    cdef Py_ssize_t k
    if starts.shape[0] != n + 1:
        raise ValueError(f"{name}: expected {n + 1} items, got {starts.shape[0]}")
    if starts[0] != 0 or starts[n] > size:
        raise ValueError(f"{name}: offsets are not a non-decreasing run within the array")
    for k in range(n):
        if starts[k + 1] < starts[k]:
            raise ValueError(f"{name}: offsets are not a non-decreasing run within the array")
    return 0


cdef int check_size(Py_ssize_t got, Py_ssize_t expected, str name) except -1:
    if got != expected:
        raise ValueError(f"{name}: expected {expected} items, got {got}")
    return 0


cdef int64_t max_id(const int64_t[::1] v, Py_ssize_t n) except -2:
    """The largest of ``v[0..n)`` (-1 for none); stem ids index per-row tables: none may be negative."""
    cdef int64_t top = -1
    cdef Py_ssize_t k
    for k in range(n):
        if v[k] < 0:
            raise ValueError("stem ids must not be negative")
        top = v[k] if v[k] > top else top
    return top


# --- the rules ---------------------------------------------------------------------------

cdef struct Rules:
    # the rule constants of verification (dedup/_rules.py), from dedup._verify.batch.KERNEL_RULES
    double entity_weight, shrink, ratio_zero, spread, strong_first, also_restates, whole_share
    Py_ssize_t min_new_words, max_pool, edge_slack_min, edge_slack_divisor


cdef int read_rules(object o, Rules *r) except -1:
    r.entity_weight = o.entity_weight
    r.shrink = o.shrink
    r.ratio_zero = o.ratio_zero
    r.spread = o.spread
    r.strong_first = o.strong_first
    r.also_restates = o.also_restates
    r.whole_share = o.whole_share
    r.min_new_words = o.min_new_words
    r.max_pool = o.max_pool
    r.edge_slack_min = o.edge_slack_min
    r.edge_slack_divisor = o.edge_slack_divisor
    if r.ratio_zero >= 1.0 or r.max_pool < 1 or r.edge_slack_divisor < 1:
        raise ValueError("rules: ratio_zero must be < 1, max_pool and edge_slack_divisor >= 1")
    return 0


# --- token columns and stem sets ------------------------------------------------------------

cdef inline int truth(PyObject *x) except -1:
    if x == <PyObject *>True:
        return 1
    if x == <PyObject *>False:
        return 0
    return PyObject_IsTrue(<object>x)


def flatten(list sentences, tuple columns, ids=None):
    """flatten(sentences, columns, ids=None) -> (stem_ids, content, entity, lengths, norms)

    The token columns of sentence tuples whose fields ``(words, stems, content, entity)`` are at
    the positions ``columns``: each stem as a small integer id (in order of first occurrence, or
    continuing the stem -> id dict ``ids``, filled here, so that consecutive batches share one
    numbering), the content and entity flags, the tokens per sentence, and each sentence's words
    joined by single spaces.
    """
    cdef Py_ssize_t at_words, at_stems, at_content, at_entity, n = len(sentences), i, k, t = 0, total = 0
    cdef Py_ssize_t widest, length
    cdef tuple row, stems, cont, ent
    cdef PyObject *found
    at_words, at_stems, at_content, at_entity = columns
    widest = max(at_words, at_stems, at_content, at_entity)
    if min(at_words, at_stems, at_content, at_entity) < 0:
        raise ValueError("flatten: columns must not be negative")
    for i in range(n):
        row_obj = sentences[i]
        if not isinstance(row_obj, tuple) or len(<tuple>row_obj) <= widest:
            raise TypeError(f"flatten: sentences[{i}] is not a sentence tuple")
        row = <tuple>row_obj
        s, c, e, w = row[at_stems], row[at_content], row[at_entity], row[at_words]
        if not (isinstance(s, tuple) and isinstance(c, tuple) and isinstance(e, tuple) and isinstance(w, tuple)) \
                or len(<tuple>c) != len(<tuple>s) or len(<tuple>e) != len(<tuple>s):
            raise TypeError(f"flatten: sentences[{i}] has inconsistent token tuples")
        total += len(<tuple>s)
    if ids is None:
        ids = {}
    elif not isinstance(ids, dict):
        raise TypeError("flatten: ids must be a dict")
    stem_ids = np.empty(total, dtype=np.int64)
    content = np.empty(total, dtype=np.bool_)
    entity = np.empty(total, dtype=np.bool_)
    lengths = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] stem_v = stem_ids, length_v = lengths
    cdef uint8_t[::1] content_v = content.view(np.uint8), entity_v = entity.view(np.uint8)
    norms = [None] * n
    for i in range(n):  # (checked above: every row and its token tuples are tuples, long enough)
        row = <tuple>sentences[i]
        stems, cont, ent = <tuple>row[at_stems], <tuple>row[at_content], <tuple>row[at_entity]
        length = len(stems)
        length_v[i] = length
        for k in range(length):
            found = PyDict_GetItemWithError(ids, <object>tuple_item(stems, k))
            if found == NULL:
                stem_v[t] = len(ids)
                ids[<object>tuple_item(stems, k)] = stem_v[t]
            else:
                stem_v[t] = <object>found
            content_v[t] = truth(tuple_item(cont, k))
            entity_v[t] = truth(tuple_item(ent, k))
            t += 1
        norms[i] = " ".join(<tuple>row[at_words])
    return stem_ids, content, entity, lengths, norms


def profiles(const int64_t[::1] stem_ids, const uint8_t[::1] content, const uint8_t[::1] entity,
             const int64_t[::1] lengths, out, *, rules):
    """profiles(stem_ids, content, entity, lengths, out, *, rules): the stem sets of sentences.

    ``out`` is a :class:`dedup._verify.batch.StemSets` of arrays to fill (offsets n + 1 long,
    per-sentence arrays n long, the others one item a token, filled up to their last offset).
    Per sentence: its content stems (all its stems when it has no content word) sorted, each
    with its largest weight (``rules.entity_weight`` for a name or figure, else 1); all its
    stems sorted; the stems of its names and figures sorted; its total content weight; its
    content stems in text order with their token positions (what alignment compares).
    """
    cdef Rules r
    read_rules(rules, &r)
    cdef Py_ssize_t T = stem_ids.shape[0], n = lengths.shape[0], i, t, k, m, t0 = 0, length
    cdef Py_ssize_t ncw = 0, nall = 0, nent = 0, nseq = 0, e0
    cdef int64_t[::1] cw_start = out.cw_start, cw_stem = out.cw_stem, all_start = out.all_start
    cdef int64_t[::1] all_stem = out.all_stem, ent_start = out.ent_start, ent_stem = out.ent_stem
    cdef int64_t[::1] seq_start = out.seq_start, seq_stem = out.seq_stem, seq_pos = out.seq_pos
    cdef double[::1] cw_w = out.cw_w, total = out.total
    cdef int64_t sum_len = 0
    cdef bint has_content
    cdef double tot
    check_size(content.shape[0], T, "content")
    check_size(entity.shape[0], T, "entity")
    check_size(cw_start.shape[0], n + 1, "cw_start")
    check_size(all_start.shape[0], n + 1, "all_start")
    check_size(ent_start.shape[0], n + 1, "ent_start")
    check_size(seq_start.shape[0], n + 1, "seq_start")
    check_size(cw_stem.shape[0], T, "cw_stem")
    check_size(cw_w.shape[0], T, "cw_w")
    check_size(all_stem.shape[0], T, "all_stem")
    check_size(ent_stem.shape[0], T, "ent_stem")
    check_size(seq_stem.shape[0], T, "seq_stem")
    check_size(seq_pos.shape[0], T, "seq_pos")
    check_size(total.shape[0], n, "total")
    for i in range(n):
        if lengths[i] < 0:
            break
        sum_len += lengths[i]
    if sum_len != T:
        raise ValueError("profiles: lengths do not add up to the number of tokens")
    cdef StemW *tmp = <StemW *>malloc(sizeof(StemW) * <size_t>(T if T else 1))
    if tmp == NULL:
        raise MemoryError()
    with nogil:
        cw_start[0] = all_start[0] = ent_start[0] = seq_start[0] = 0
        for i in range(n):
            length = lengths[i]
            has_content = False
            for t in range(t0, t0 + length):
                has_content = has_content or content[t] != 0
            # content stems, the largest weight of each; names and figures among them
            m = 0
            e0 = nent
            for t in range(t0, t0 + length):
                if content[t] or not has_content:
                    seq_stem[nseq] = stem_ids[t]
                    seq_pos[nseq] = t - t0
                    nseq += 1
                    tmp[m].stem = stem_ids[t]
                    tmp[m].w = r.entity_weight if entity[t] else 1.0
                    m += 1
                    if entity[t]:
                        ent_stem[nent] = stem_ids[t]
                        nent += 1
            sort_stemw(tmp, m)
            tot = 0.0
            for k in range(m):
                if k + 1 < m and tmp[k + 1].stem == tmp[k].stem:
                    continue  # the last of a run has the largest weight
                cw_stem[ncw] = tmp[k].stem
                cw_w[ncw] = tmp[k].w
                tot += tmp[k].w
                ncw += 1
            total[i] = tot
            nent = e0 + unique_i64(&ent_stem[e0], nent - e0)
            if length:
                memcpy(&all_stem[nall], &stem_ids[t0], sizeof(int64_t) * <size_t>length)
            nall += unique_i64(&all_stem[nall], length)
            cw_start[i + 1] = ncw
            all_start[i + 1] = nall
            ent_start[i + 1] = nent
            seq_start[i + 1] = nseq
            t0 += length
    free(tmp)


cdef struct Sets:
    # a Batch's stem sets (see profiles), read without the GIL
    const int64_t *cw_start
    const int64_t *cw_stem
    const double *cw_w
    const int64_t *all_start
    const int64_t *all_stem
    const int64_t *ent_start
    const int64_t *ent_stem
    const double *total
    const int64_t *seq_start
    const int64_t *seq_stem
    const int64_t *seq_pos
    Py_ssize_t n
    Py_ssize_t vocabulary  # one more than the largest stem id


cdef class Batch:
    """Batch(sets, texts, norm_id, n_tokens): the sentences of a verification batch as the kernels read them.

    ``sets`` are their stem sets (a :class:`dedup._verify.batch.StemSets` that :func:`profiles`
    filled), ``texts`` their normalised texts, ``norm_id`` ids equal exactly where texts are,
    ``n_tokens`` their tokens.  Checked once here; read-only afterwards, so threads may share it.
    """

    cdef Sets s
    cdef const int64_t *norm_id
    cdef const int64_t *n_tokens
    cdef RF_String *texts
    cdef tuple _texts
    # the buffers the pointers above read, held for as long as the batch lives
    cdef const int64_t[::1] _cw_start, _cw_stem, _all_start, _all_stem, _ent_start, _ent_stem
    cdef const int64_t[::1] _seq_start, _seq_stem, _seq_pos, _norm_id, _n_tokens
    cdef const double[::1] _cw_w, _total

    def __cinit__(self, sets, texts, const int64_t[::1] norm_id, const int64_t[::1] n_tokens):
        self._cw_start, self._cw_stem, self._cw_w = sets.cw_start, sets.cw_stem, sets.cw_w
        self._all_start, self._all_stem = sets.all_start, sets.all_stem
        self._ent_start, self._ent_stem, self._total = sets.ent_start, sets.ent_stem, sets.total
        self._seq_start, self._seq_stem, self._seq_pos = sets.seq_start, sets.seq_stem, sets.seq_pos
        self._norm_id, self._n_tokens = norm_id, n_tokens
        cdef Py_ssize_t n = self._cw_start.shape[0] - 1
        cdef int64_t top
        if n < 0:
            raise ValueError("cw_start is empty")
        check_size(self._cw_w.shape[0], self._cw_stem.shape[0], "cw_w")
        check_size(self._total.shape[0], n, "total")
        check_size(self._seq_pos.shape[0], self._seq_stem.shape[0], "seq_pos")
        check_size(norm_id.shape[0], n, "norm_id")
        check_size(n_tokens.shape[0], n, "n_tokens")
        check_size(len(texts), n, "texts (one text per sentence)")
        check_starts(self._cw_start, n, self._cw_stem.shape[0], "cw_start")
        check_starts(self._all_start, n, self._all_stem.shape[0], "all_start")
        check_starts(self._ent_start, n, self._ent_stem.shape[0], "ent_start")
        check_starts(self._seq_start, n, self._seq_stem.shape[0], "seq_start")
        # Stem ids index the per-row tables: every one in [0, vocabulary).  (The arrays may be
        # longer than their last offset.)
        top = max(max_id(self._cw_stem, self._cw_start[n]), max_id(self._all_stem, self._all_start[n]),
                  max_id(self._ent_stem, self._ent_start[n]))
        self._texts = tuple(texts)
        self.texts = <RF_String *>malloc(sizeof(RF_String) * <size_t>(n if n else 1))
        if self.texts == NULL:
            raise MemoryError()
        _texts_of(self._texts, self.texts)
        self.s.cw_start, self.s.cw_stem, self.s.cw_w = &self._cw_start[0], &self._cw_stem[0], &self._cw_w[0]
        self.s.all_start, self.s.all_stem = &self._all_start[0], &self._all_stem[0]
        self.s.ent_start, self.s.ent_stem = &self._ent_start[0], &self._ent_stem[0]
        self.s.total = &self._total[0]
        self.s.seq_start, self.s.seq_stem, self.s.seq_pos = &self._seq_start[0], &self._seq_stem[0], &self._seq_pos[0]
        self.s.n = n
        self.s.vocabulary = <Py_ssize_t>(top + 1)
        self.norm_id = &self._norm_id[0]
        self.n_tokens = &self._n_tokens[0]

    def __dealloc__(self):
        free(self.texts)

    def __len__(self):
        return self.s.n


# --- pair containment ------------------------------------------------------------------------

cdef struct Dense:
    # row tables of pair_containment, for the current row: content weight by stem, and flags
    # (1: a stem of the row, 2: a name or figure of it); NULL tables: merges of sorted runs
    double *w
    uint8_t *flags
    int64_t row


cdef void dense_init(Dense *d, const Sets *c, Py_ssize_t dense_limit) noexcept nogil:
    cdef Py_ssize_t V = c.vocabulary
    d.w = <double *>calloc(<size_t>(V if V else 1), sizeof(double)) if V <= dense_limit else NULL
    d.flags = <uint8_t *>calloc(<size_t>(V if V else 1), 1) if d.w != NULL else NULL
    if d.flags == NULL:
        free(d.w)
        d.w = NULL
    d.row = -1


cdef void dense_free(Dense *d) noexcept nogil:
    free(d.w)
    free(d.flags)
    d.w = NULL
    d.flags = NULL


cdef void dense_row(const Sets *c, int64_t i, double *w, uint8_t *flags, bint on) noexcept nogil:
    """Fill (``on``) or clear row ``i``'s tables."""
    cdef Py_ssize_t x
    for x in range(c.cw_start[i], c.cw_start[i + 1]):
        w[c.cw_stem[x]] = c.cw_w[x] if on else 0.0
    for x in range(c.all_start[i], c.all_start[i + 1]):
        flags[c.all_stem[x]] = <uint8_t>on
    for x in range(c.ent_start[i], c.ent_start[i + 1]):
        flags[c.ent_stem[x]] = 3 if on else 0


cdef void pair_containment(const Sets *c, Dense *d, int64_t i, int64_t j, double shrink, double *c_ij,
                           double *c_ji, double *subst) noexcept nogil:
    """Containment of i in j and of j in i (shared content weight / (total + shrink) x the
    substitution factor), and the factor (``reference.Verifier.containment`` without locality)."""
    cdef const int64_t *ai = c.all_stem + c.all_start[i]
    cdef const int64_t *aj = c.all_stem + c.all_start[j]
    cdef Py_ssize_t nai = c.all_start[i + 1] - c.all_start[i], naj = c.all_start[j + 1] - c.all_start[j]
    cdef const int64_t *ei = c.ent_stem + c.ent_start[i]
    cdef const int64_t *ej = c.ent_stem + c.ent_start[j]
    cdef Py_ssize_t nei = c.ent_start[i + 1] - c.ent_start[i], nej = c.ent_start[j + 1] - c.ent_start[j]
    cdef const int64_t *cwi = c.cw_stem + c.cw_start[i]
    cdef const int64_t *cwj = c.cw_stem + c.cw_start[j]
    cdef const double *wi = c.cw_w + c.cw_start[i]
    cdef const double *wj = c.cw_w + c.cw_start[j]
    cdef Py_ssize_t ncwi = c.cw_start[i + 1] - c.cw_start[i], ncwj = c.cw_start[j + 1] - c.cw_start[j]
    cdef double sh_ij = 0.0, sh_ji = 0.0, factor = 1.0
    cdef Py_ssize_t hit_ij = 0, hit_ji = 0, inter = 0, x, miss_ij, miss_ji, uni
    if d.flags != NULL:
        if i != d.row:  # the tables of row i; pairs come sorted by i, so this is rare
            if d.row >= 0:
                dense_row(c, d.row, d.w, d.flags, False)
            dense_row(c, i, d.w, d.flags, True)
            d.row = i
        for x in range(naj):  # i's content weight and names found among j's stems
            sh_ij += d.w[aj[x]]
            hit_ij += d.flags[aj[x]] >> 1
        for x in range(ncwj):
            sh_ji += wj[x] if d.flags[cwj[x]] & 1 else 0.0
        for x in range(nej):
            hit_ji += d.flags[ej[x]] & 1
            inter += d.flags[ej[x]] >> 1
    else:
        intersect(cwi, wi, ncwi, aj, naj, &sh_ij)
        intersect(cwj, wj, ncwj, ai, nai, &sh_ji)
        hit_ij = intersect(ei, NULL, nei, aj, naj, NULL)
        hit_ji = intersect(ej, NULL, nej, ai, nai, NULL)
        inter = intersect(ei, NULL, nei, ej, nej, NULL)
    miss_ij = nei - hit_ij
    miss_ji = nej - hit_ji
    if miss_ij > 0 and miss_ji > 0:
        uni = nei + nej - inter
        factor = <double>inter / <double>(uni if uni > 1 else 1)
    subst[0] = factor
    c_ij[0] = sh_ij / (c.total[i] + shrink) * factor
    c_ji[0] = sh_ji / (c.total[j] + shrink) * factor


# --- alignment -----------------------------------------------------------------------------
# The longest-common-subsequence alignment of two sentences' content stems, exactly as
# rapidfuzz's LCSseq.editops(x, y).as_matching_blocks() chooses it (common prefix and suffix
# stripped, Hyyro's bit-parallel matrix, the same backtracking), reduced to what the rules read
# of it: the first and the last matched pair.  rapidfuzz's C interface exports scores, not
# edit operations; tests/test_kernels.py compares this with rapidfuzz on many sequences.

cdef inline uint64_t add_carry(uint64_t a, uint64_t b, uint64_t *carry) noexcept nogil:
    """a + b + carry, and the carry out (the multi-word addition of the bit-parallel LCS)."""
    cdef uint64_t add = a + b
    cdef uint64_t total = add + carry[0]
    carry[0] = (add < a) | (total < add)
    return total


cdef struct Op:
    Py_ssize_t src, dest
    bint insert  # else a deletion


cdef int lcs_ends(const int64_t *x, Py_ssize_t nx, const int64_t *y, Py_ssize_t ny, Py_ssize_t *ends) noexcept nogil:
    """1 and the first/last matched pairs in ``ends``, 0 when nothing matches, -1 when out of memory."""
    cdef Py_ssize_t prefix = 0, suffix = 0, len1, len2, W, r, w, k, zeros, sim = 0, dist, n_ops, col, row
    cdef Py_ssize_t src = 0, dest = 0, to_src, to_dest, length
    cdef const int64_t *s1
    cdef const int64_t *s2
    cdef uint64_t *matrix = NULL
    cdef uint64_t *S = NULL
    cdef uint64_t *M
    cdef uint64_t carry, sw, u
    cdef Op *ops = NULL
    cdef int found = 0
    while prefix < nx and prefix < ny and x[prefix] == y[prefix]:
        prefix += 1
    while suffix < nx - prefix and suffix < ny - prefix and x[nx - 1 - suffix] == y[ny - 1 - suffix]:
        suffix += 1
    s1 = x + prefix
    s2 = y + prefix
    len1 = nx - prefix - suffix
    len2 = ny - prefix - suffix
    W = (len1 + 63) // 64
    if len1 > 0 and len2 > 0:
        matrix = <uint64_t *>malloc(sizeof(uint64_t) * <size_t>(W * len2))
        S = <uint64_t *>malloc(sizeof(uint64_t) * <size_t>(W * 2))
        if matrix == NULL or S == NULL:
            free(matrix)
            free(S)
            return -1
        M = S + W
        for w in range(W):
            S[w] = ~(<uint64_t>0)
        for r in range(len2):
            for w in range(W):
                M[w] = 0
            for k in range(len1):
                if s1[k] == s2[r]:
                    M[k >> 6] |= (<uint64_t>1) << (k & 63)
            carry = 0
            for w in range(W):
                sw = S[w]
                u = sw & M[w]
                S[w] = add_carry(sw, u, &carry) | (sw ^ u)  # S - u: u's bits are within S's
            memcpy(matrix + r * W, S, sizeof(uint64_t) * <size_t>W)
        zeros = 0  # popcount(~S) over the low len1 bits
        for k in range(len1):
            zeros += not ((S[k >> 6] >> (k & 63)) & 1)
        sim = zeros
    dist = len1 + len2 - 2 * sim
    n_ops = dist
    if dist > 0:
        ops = <Op *>malloc(sizeof(Op) * <size_t>dist)
        if ops == NULL:
            free(matrix)
            free(S)
            return -1
        col = len1
        row = len2
        while row != 0 and col != 0:
            if (matrix[(row - 1) * W + ((col - 1) >> 6)] >> ((col - 1) & 63)) & 1:  # deletion
                dist -= 1
                col -= 1
                ops[dist].src, ops[dist].dest, ops[dist].insert = col + prefix, row + prefix, False
            else:
                row -= 1
                if row and not ((matrix[(row - 1) * W + ((col - 1) >> 6)] >> ((col - 1) & 63)) & 1):
                    dist -= 1  # insertion
                    ops[dist].src, ops[dist].dest, ops[dist].insert = col + prefix, row + prefix, True
                else:  # match
                    col -= 1
        while col != 0:
            dist -= 1
            col -= 1
            ops[dist].src, ops[dist].dest, ops[dist].insert = col + prefix, row + prefix, False
        while row != 0:
            dist -= 1
            row -= 1
            ops[dist].src, ops[dist].dest, ops[dist].insert = col + prefix, row + prefix, True
    # as_matching_blocks: the matches are the stretches between edit operations
    for k in range(n_ops + 1):
        to_src = ops[k].src if k < n_ops else nx
        to_dest = ops[k].dest if k < n_ops else ny
        if src < to_src or dest < to_dest:
            length = to_src - src if to_src - src < to_dest - dest else to_dest - dest
            if length > 0:
                if not found:
                    ends[0] = src
                    ends[1] = dest
                    found = 1
                ends[2] = src + length - 1
                ends[3] = dest + length - 1
            src = to_src
            dest = to_dest
        if k < n_ops:
            if ops[k].insert:
                dest += 1
            else:
                src += 1
    free(matrix)
    free(S)
    free(ops)
    return found


cdef int seq_ends(const Sets *q, int64_t i, int64_t j, int64_t *out) noexcept nogil:
    """Alignment ends of sentences i and j as token positions: 1 (found), 0 (none), -1 (out of memory)."""
    cdef Py_ssize_t e[4]
    cdef const int64_t *start = q.seq_start
    cdef int r = lcs_ends(q.seq_stem + start[i], start[i + 1] - start[i], q.seq_stem + start[j],
                          start[j + 1] - start[j], e)
    if r == 1:
        out[0] = q.seq_pos[start[i] + e[0]]
        out[1] = q.seq_pos[start[i] + e[2]] + 1
        out[2] = q.seq_pos[start[j] + e[1]]
        out[3] = q.seq_pos[start[j] + e[3]] + 1
    return r


cdef inline double locality_from(bint found, const int64_t *e, int64_t n_a, int64_t n_b, double spread) noexcept nogil:
    """``reference.locality_of``: 1, or less when a (n_a tokens) is strewn over a much longer b."""
    cdef double v
    if <double>n_b <= spread * <double>n_a or not found:
        return 1.0
    v = spread * <double>n_a / <double>(e[3] - e[2])
    return v if v < 1.0 else 1.0


cdef inline void trim_range(int64_t first, int64_t last, int64_t n, const Rules *rules, int64_t *out) noexcept nogil:
    """``reference._trim``: the aligned token range, widened to the sentence edges when little is left out."""
    cdef int64_t share, slack
    if <double>(last - first) >= rules.whole_share * <double>n:
        out[0] = 0
        out[1] = n
        return
    share = n // rules.edge_slack_divisor
    slack = share if share > rules.edge_slack_min else rules.edge_slack_min
    out[0] = 0 if first <= slack else first
    out[1] = n if n - last <= slack else last


# --- the entry points ----------------------------------------------------------------------

def ratios(texts, const int64_t[::1] i, const int64_t[::1] j, double[::1] out, double score_cutoff):
    """ratios(texts, i, j, out, score_cutoff): ``fuzz.ratio(texts[i[k]], texts[j[k]], score_cutoff=score_cutoff)``
    into ``out[k]``, computed by rapidfuzz as :func:`pair_stage` computes it (one cached scorer per
    run of equal ``i``)."""
    _need_rapidfuzz()
    cdef Py_ssize_t m = i.shape[0], n = len(texts), k
    check_size(j.shape[0], m, "j")
    check_size(out.shape[0], m, "out")
    check_ids(i, n, "i")
    check_ids(j, n, "j")
    cdef tuple kept = tuple(texts)
    cdef RF_String *strings = <RF_String *>malloc(sizeof(RF_String) * <size_t>(n if n else 1))
    if strings == NULL:
        raise MemoryError()
    cdef Ratio ratio
    cdef int failed = 0
    try:
        _texts_of(kept, strings)
        ratio_init(&ratio, score_cutoff)
        with nogil:
            for k in range(m):
                if ratio_of(&ratio, strings, i[k], j[k], &out[k]) < 0:
                    failed = 1
                    break
            ratio_free(&ratio)
        if failed:
            _rapidfuzz_failed()
    finally:
        free(strings)


def align_ends(sets, const int64_t[::1] i, const int64_t[::1] j, int64_t[:, ::1] out):
    """align_ends(sets, i, j, out): for every pair, the token positions (first of i, last of i + 1,
    first of j, last of j + 1) of the first and last aligned content words of sentences i and j
    into a row of ``out``, or -1s when none align (``reference.alignment_ends``)."""
    cdef const int64_t[::1] start = sets.seq_start, stem = sets.seq_stem, pos = sets.seq_pos
    cdef Py_ssize_t m = i.shape[0], n = start.shape[0] - 1, k
    cdef Sets q
    cdef int r, oom = 0
    if n < 0:
        raise ValueError("seq_start is empty")
    check_size(j.shape[0], m, "j")
    check_size(pos.shape[0], stem.shape[0], "seq_pos")
    check_size(out.shape[0], m, "out")
    check_size(out.shape[1], 4, "out's rows")
    check_starts(start, n, stem.shape[0], "seq_start")
    check_ids(i, n, "i")
    check_ids(j, n, "j")
    q.seq_start, q.seq_stem, q.seq_pos, q.n = &start[0], &stem[0], &pos[0], n
    with nogil:
        for k in range(m):
            r = seq_ends(&q, i[k], j[k], &out[k, 0])
            if r < 0:
                oom = 1
                break
            if r == 0:
                out[k, 0] = out[k, 1] = out[k, 2] = out[k, 3] = -1
    if oom:
        raise MemoryError()


def pair_stage(Batch batch, const int64_t[::1] i, const int64_t[::1] j, *, double floor, rules,
               Py_ssize_t dense_limit):
    """pair_stage(batch, i, j, *, floor, rules, dense_limit)
        -> (keep_i, keep_j, keep_score, equal_i, equal_j, c_ij, c_ji)

    The pair rules of ``reference.Verifier.pair`` for the candidate pairs ``(i[k], j[k])`` (best
    sorted by ``i``): the containment both ways without the locality factor (``c_ij``, ``c_ji``,
    one per pair), the pairs of equal texts, and the other pairs scoring at least ``floor``
    with their unrounded scores (the character ratio with the substitution factor, or the
    containment with the locality factor where it can matter).  ``dense_limit``: stem ids up to
    which per-row tables are used (beyond, merges of sorted runs; same results).
    """
    _need_rapidfuzz()
    cdef Rules r
    read_rules(rules, &r)
    cdef Py_ssize_t m = i.shape[0], k
    check_size(j.shape[0], m, "j")
    check_ids(i, batch.s.n, "i")
    check_ids(j, batch.s.n, "j")
    c_ij_array, c_ji_array = np.empty(m, dtype=np.float64), np.empty(m, dtype=np.float64)
    cdef double[::1] c_ij = c_ij_array, c_ji = c_ji_array
    cdef const Sets *c = &batch.s
    cdef const int64_t *norm_id = batch.norm_id
    cdef const int64_t *nt = batch.n_tokens
    cdef Vec ki, kj, ks, ei, ej
    ki.data = kj.data = ks.data = ei.data = ej.data = NULL
    ki.n = kj.n = ks.n = ei.n = ej.n = 0
    ki.cap = kj.cap = ks.cap = ei.cap = ej.cap = 0
    ki.item = kj.item = ks.item = ei.item = ej.item = 8
    cdef Dense dense
    cdef Ratio ratio
    cdef int oom = 0, failed = 0, f
    cdef int64_t a, b
    cdef int64_t e[4]
    cdef double subst, raw, value, both, loc_ij, loc_ji, x, y, lower, score
    cdef double spread = r.spread
    with nogil:
        dense_init(&dense, c, dense_limit)
        ratio_init(&ratio, 100.0 * r.ratio_zero)  # as the reference's fuzz.ratio(score_cutoff=...)
        for k in range(m):
            a = i[k]
            b = j[k]
            pair_containment(c, &dense, a, b, r.shrink, &c_ij[k], &c_ji[k], &subst)
            if norm_id[a] == norm_id[b]:
                oom |= vec_push(&ei, &a) | vec_push(&ej, &b)
                continue
            if ratio_of(&ratio, batch.texts, a, b, &raw) < 0:
                failed = 1
                break
            value = (raw / 100.0 - r.ratio_zero) / (1.0 - r.ratio_zero)
            value = (value if value > 0.0 else 0.0) * subst
            both = c_ij[k] if c_ij[k] < c_ji[k] else c_ji[k]
            if (value if value > both else both) < floor:
                continue
            loc_ij = loc_ji = 1.0
            if both > value:  # the locality factor can only matter where containment beats the ratio
                if <double>nt[b] > spread * <double>nt[a]:
                    f = seq_ends(c, a, b, e)
                    oom |= f < 0
                    loc_ij = locality_from(f == 1, e, nt[a], nt[b], spread)
                if <double>nt[a] > spread * <double>nt[b]:
                    f = seq_ends(c, b, a, e)
                    oom |= f < 0
                    loc_ji = locality_from(f == 1, e, nt[b], nt[a], spread)
            x = c_ij[k] * loc_ij
            y = c_ji[k] * loc_ji
            lower = x if x < y else y
            score = value if value > lower else lower
            if score >= floor:
                oom |= vec_push(&ki, &a) | vec_push(&kj, &b) | vec_push(&ks, &score)
        ratio_free(&ratio)
        dense_free(&dense)
    found = (vec_array(&ki, np.int64), vec_array(&kj, np.int64), vec_array(&ks, np.float64),
             vec_array(&ei, np.int64), vec_array(&ej, np.int64))
    if failed:
        _rapidfuzz_failed()
    if oom:
        raise MemoryError()
    return (*found, c_ij_array, c_ji_array)


# --- greedy covers -------------------------------------------------------------------------

# Most sources per fused sentence (the picks of a row live on the stack): the Python side's
# KERNEL_MAX_SOURCES (dedup/_verify/batch.py).
cdef enum:
    COVER_MAX_SOURCES = 64

#: Most sources per fused sentence that :func:`cover_stage` takes.
MAX_SOURCES = COVER_MAX_SOURCES


cdef struct PoolPair:
    int64_t a, b
    double c


cdef int cmp_pool(const void *x, const void *y) noexcept nogil:
    cdef const PoolPair *p = <const PoolPair *>x
    cdef const PoolPair *q = <const PoolPair *>y
    if p.a != q.a:
        return -1 if p.a < q.a else 1
    return -1 if p.b < q.b else (1 if p.b > q.b else 0)


cdef struct Ranked:
    # a partner of a large pool: by value (containment x locality), then text, then position
    double value
    int64_t rank  # of its text in sorted order
    Py_ssize_t k


cdef int cmp_ranked(const void *x, const void *y) noexcept nogil:
    cdef const Ranked *p = <const Ranked *>x
    cdef const Ranked *q = <const Ranked *>y
    if p.value != q.value:
        return -1 if p.value > q.value else 1
    if p.rank != q.rank:
        return -1 if p.rank < q.rank else 1
    return -1 if p.k < q.k else (1 if p.k > q.k else 0)


cdef struct Cover:
    # what the covers of one cover_stage call read and write
    const Sets *c
    const int64_t *nt
    const int64_t *rank
    const int64_t *codes  # beaten links: codes lo * n + hi, sorted, and their scores
    const double *beaten
    Py_ssize_t n_codes
    const PoolPair *pool  # pool pairs sorted by (a, b)
    const int64_t *pb  # their partners
    const uint8_t *active  # those a large pool keeps
    int64_t *step  # the step at which each was picked, -1
    int32_t *pos  # zeroed row table (1 + index of each content stem of the row), or NULL: merges
    uint8_t *cov  # the row's content stems covered so far
    uint8_t *found
    double floor, min_gain
    Py_ssize_t max_sources
    Rules rules
    Vec links, scores


cdef double cover_row(Cover *g, int64_t r, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """The greedy cover of row r over its pool pairs lo..hi-1 (``reference.Verifier.cover``): marks
    the step of each pick; returns the content weight of r the picks cover."""
    cdef const Sets *c = g.c
    cdef const int64_t *rs = c.cw_stem + c.cw_start[r]
    cdef const double *rw = c.cw_w + c.cw_start[r]
    cdef Py_ssize_t nr = c.cw_start[r + 1] - c.cw_start[r], s, k, best, best_new, n_new, x, y, nb
    cdef double tot = c.total[r], best_gain, gain, covered
    cdef int64_t j, bj, at
    cdef const int64_t *bs
    memset(g.cov, 0, <size_t>nr)
    if g.pos != NULL:
        for x in range(nr):
            g.pos[rs[x]] = <int32_t>(x + 1)
    for s in range(g.max_sources):
        best = -1
        best_new = 0
        best_gain = 0.0
        for k in range(lo, hi):
            if not g.active[k] or g.step[k] >= 0:
                continue
            j = g.pb[k]
            bs = c.all_stem + c.all_start[j]
            nb = c.all_start[j + 1] - c.all_start[j]
            gain = 0.0
            n_new = 0
            if g.pos != NULL:  # the row's uncovered stems found in the partner
                for y in range(nb):
                    at = g.pos[bs[y]] - 1
                    if at >= 0 and not g.cov[at]:
                        gain += rw[at]
                        n_new += 1
            else:
                x = 0
                y = 0
                while x < nr and y < nb:
                    if rs[x] < bs[y]:
                        x += 1
                    elif rs[x] > bs[y]:
                        y += 1
                    else:
                        if not g.cov[x]:
                            gain += rw[x]
                            n_new += 1
                        x += 1
                        y += 1
            if gain <= 0.0:
                continue
            if best >= 0:
                bj = g.pb[best]
                if gain < best_gain:
                    continue
                if gain == best_gain:
                    if c.total[j] > c.total[bj]:
                        continue
                    if c.total[j] == c.total[bj] and (
                        g.rank[j] > g.rank[bj] or (g.rank[j] == g.rank[bj] and j > bj)
                    ):
                        continue
            best = k
            best_gain = gain
            best_new = n_new
        if best < 0:
            break
        if s > 0 and (best_gain / tot < g.min_gain or best_new < g.rules.min_new_words):
            break
        g.step[best] = s
        j = g.pb[best]
        bs = c.all_stem + c.all_start[j]
        nb = c.all_start[j + 1] - c.all_start[j]
        memset(g.found, 0, <size_t>nr)
        if g.pos != NULL:
            for y in range(nb):
                if g.pos[bs[y]]:
                    g.found[g.pos[bs[y]] - 1] = 1
        else:
            intersect_mark(rs, nr, bs, nb, g.found)
        covered = 0.0
        for x in range(nr):
            g.cov[x] |= g.found[x]
            if g.cov[x]:
                covered += rw[x]
        if s == 0 and covered / tot >= g.rules.strong_first:
            break
    covered = 0.0
    for x in range(nr):
        if g.cov[x]:
            covered += rw[x]
    if g.pos != NULL:
        for x in range(nr):
            g.pos[rs[x]] = 0
    return covered


cdef int trim_pool(Cover *g, Ranked *ranked, int64_t r, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Over ``max_pool`` partners: only those containing most of r can be picked (ties: by text,
    then position).  0, or -1 when out of memory."""
    cdef Py_ssize_t k
    cdef double value
    cdef int64_t e[4]
    cdef int f, oom = 0
    cdef uint8_t *active = <uint8_t *>g.active
    for k in range(lo, hi):
        value = g.pool[k].c
        if <double>g.nt[g.pool[k].b] > g.rules.spread * <double>g.nt[r]:
            f = seq_ends(g.c, r, g.pool[k].b, e)
            oom |= f < 0
            value *= locality_from(f == 1, e, g.nt[r], g.nt[g.pool[k].b], g.rules.spread)
        ranked[k - lo].value = value
        ranked[k - lo].rank = g.rank[g.pool[k].b]
        ranked[k - lo].k = k
        active[k] = 0
    qsort(ranked, <size_t>(hi - lo), sizeof(Ranked), cmp_ranked)
    for k in range(g.rules.max_pool):
        active[ranked[k].k] = 1
    return -oom


cdef int row_links(Cover *g, int64_t r, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """The cover of row r and its links that can count (not under the floor, above the beaten
    score of the pair): the picks' in pick order, then the other strong partners' in pool order.
    0, or -1 when out of memory."""
    cdef int oom = pick_links(g, r, lo, hi)
    return oom | strong_links(g, r, lo, hi)


cdef int pick_links(Cover *g, int64_t r, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """The cover of row r and its picks' links that can count, in pick order.  0, or -1 when out
    of memory."""
    cdef const Sets *c = g.c
    cdef double covw = cover_row(g, r, lo, hi), first_c = 0.0, uni, bound, first_score = 0.0, score
    cdef int64_t picks[COVER_MAX_SOURCES]
    cdef bint wanted[COVER_MAX_SOURCES]
    cdef bint any_wanted = False
    cdef Py_ssize_t n_picks = 0, s, k, p, x
    cdef int64_t j, code
    cdef int64_t e[4]
    cdef int64_t row[7]
    cdef int f, oom = 0
    for s in range(g.max_sources):  # the picks in pick order
        for k in range(lo, hi):
            if g.step[k] == s:
                if not n_picks:
                    first_c = g.pool[k].c
                picks[n_picks] = g.pool[k].b
                n_picks += 1
                break
    if not n_picks:
        return 0
    uni = covw / (c.total[r] + g.rules.shrink)
    for p in range(n_picks):
        bound = first_c if n_picks == 1 else ((uni if uni >= first_c else first_c) if p == 0 else uni)
        j = picks[p]
        code = (r if r < j else j) * <int64_t>c.n + (j if r < j else r)
        wanted[p] = bound >= g.floor and bound > known_score(g, code)
        any_wanted = any_wanted or wanted[p]
    if not any_wanted:
        return -oom
    if wanted[0]:
        f = seq_ends(c, r, picks[0], e)
        oom |= f < 0
        first_score = first_c * locality_from(f == 1, e, g.nt[r], g.nt[picks[0]], g.rules.spread)
    for p in range(n_picks):
        if not wanted[p]:
            continue
        j = picks[p]
        f = seq_ends(c, r, j, e)
        oom |= f < 0
        if f != 1:
            continue
        row[0] = r
        row[1] = j
        row[2] = n_picks > 1
        trim_range(e[0], e[1], g.nt[r], &g.rules, &row[3])
        trim_range(e[2], e[3], g.nt[j], &g.rules, &row[5])
        score = first_score if n_picks == 1 else ((uni if uni >= first_score else first_score) if p == 0 else uni)
        for x in range(7):
            oom |= vec_push(&g.links, &row[x])
        oom |= vec_push(&g.scores, &score)
    return -oom


cdef double known_score(Cover *g, int64_t code) noexcept nogil:
    """The beaten score of the pair ``code`` (``lo * n + hi``), or -1."""
    cdef Py_ssize_t lo_c = 0, hi_c = g.n_codes, mid
    while lo_c < hi_c:  # binary search of the pair among the beaten links
        mid = (lo_c + hi_c) // 2
        if g.codes[mid] < code:
            lo_c = mid + 1
        else:
            hi_c = mid
    if lo_c < g.n_codes and g.codes[lo_c] == code:
        return g.beaten[lo_c]
    return -1.0


cdef int strong_links(Cover *g, int64_t r, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """The links of row r to the pool partners not picked that contain at least ``also_restates`` of it
    alone (``reference.Verifier.cover``'s last loop), in pool order, if they can count.  0, or -1
    when out of memory."""
    cdef const Sets *c = g.c
    cdef Py_ssize_t k, x
    cdef int64_t j, code
    cdef int64_t e[4]
    cdef int64_t row[7]
    cdef double value
    cdef int f, oom = 0
    for k in range(lo, hi):
        if not g.active[k] or g.step[k] >= 0:
            continue
        j = g.pool[k].b
        value = g.pool[k].c
        if value < g.rules.also_restates or value < g.floor:  # locality only lowers it
            continue
        f = seq_ends(c, r, j, e)
        oom |= f < 0
        if f != 1:
            continue
        value *= locality_from(True, e, g.nt[r], g.nt[j], g.rules.spread)
        if value < g.rules.also_restates or value < g.floor:
            continue
        code = (r if r < j else j) * <int64_t>c.n + (j if r < j else r)
        if not value > known_score(g, code):
            continue
        row[0] = r
        row[1] = j
        row[2] = 0
        trim_range(e[0], e[1], g.nt[r], &g.rules, &row[3])
        trim_range(e[2], e[3], g.nt[j], &g.rules, &row[5])
        for x in range(7):
            oom |= vec_push(&g.links, &row[x])
        oom |= vec_push(&g.scores, &value)
    return -oom


def cover_stage(Batch batch, const int64_t[::1] a, const int64_t[::1] b, const double[::1] c,
                const int64_t[::1] rank, const int64_t[::1] beaten_codes, const double[::1] beaten_scores, *,
                double floor, double min_gain, Py_ssize_t max_sources, rules, Py_ssize_t dense_limit):
    """cover_stage(batch, a, b, c, rank, beaten_codes, beaten_scores, *, floor, min_gain, max_sources,
    rules, dense_limit) -> (links, scores)

    The greedy covers of ``reference.Verifier.cover`` for every row: ``a[k] -> b[k]`` are the
    pool pairs (any order; same document, enough weight), ``c`` their containment without the
    locality factor; ``rank`` the rank of each sentence's text in sorted order.  Pools over
    ``rules.max_pool`` partners are trimmed to the closest; the links returned are those that
    can count (not under ``floor``, above the beaten score of the pair, whose codes
    ``lo * n + hi`` are sorted in ``beaten_codes``), in row order then pick order: rows
    ``(i, j, kind: 0 near / 1 fusion, span_i first, last, span_j first, last)`` (an int64 array
    ``(L, 7)``) and their unrounded scores.
    """
    cdef Cover g
    read_rules(rules, &g.rules)
    cdef Py_ssize_t m = a.shape[0], n = batch.s.n, n_codes = beaten_codes.shape[0], k, lo, hi, max_cw = 0, V
    check_size(b.shape[0], m, "b")
    check_size(c.shape[0], m, "c")
    check_size(rank.shape[0], n, "rank")
    check_size(beaten_scores.shape[0], n_codes, "beaten_scores")
    check_ids(a, n, "a")
    check_ids(b, n, "b")
    if max_sources < 1 or max_sources > COVER_MAX_SOURCES:
        raise ValueError(f"cover_stage: max_sources must be in [1, {COVER_MAX_SOURCES}]")
    for k in range(1, n_codes):
        if beaten_codes[k] <= beaten_codes[k - 1]:
            raise ValueError("cover_stage: beaten codes must be sorted and distinct")
    g.c = &batch.s
    g.nt = batch.n_tokens
    g.rank = &rank[0]
    g.codes = &beaten_codes[0]
    g.beaten = &beaten_scores[0]
    g.n_codes = n_codes
    g.floor = floor
    g.min_gain = min_gain
    g.max_sources = max_sources
    g.links.data = g.scores.data = NULL
    g.links.n = g.scores.n = g.links.cap = g.scores.cap = 0
    g.links.item = g.scores.item = 8
    for k in range(n):
        max_cw = max(max_cw, batch.s.cw_start[k + 1] - batch.s.cw_start[k])
    V = batch.s.vocabulary
    cdef size_t m1 = <size_t>(m if m else 1)
    cdef PoolPair *pool = <PoolPair *>malloc(sizeof(PoolPair) * m1)
    cdef int64_t *pb = <int64_t *>malloc(sizeof(int64_t) * m1)
    cdef int64_t *step = <int64_t *>malloc(sizeof(int64_t) * m1)
    cdef uint8_t *active = <uint8_t *>malloc(m1)
    cdef Ranked *ranked = <Ranked *>malloc(sizeof(Ranked) * m1)
    cdef uint8_t *cov = <uint8_t *>calloc(<size_t>(max_cw if max_cw else 1), 1)
    cdef uint8_t *found = <uint8_t *>calloc(<size_t>(max_cw if max_cw else 1), 1)
    cdef int32_t *pos = <int32_t *>calloc(<size_t>(V if V else 1), sizeof(int32_t)) if V <= dense_limit else NULL
    cdef int oom = pool == NULL or pb == NULL or step == NULL or active == NULL or ranked == NULL \
        or cov == NULL or found == NULL
    cdef int64_t r
    g.pool, g.pb, g.active, g.step, g.pos, g.cov, g.found = pool, pb, active, step, pos, cov, found
    with nogil:
        if not oom:
            for k in range(m):
                pool[k].a = a[k]
                pool[k].b = b[k]
                pool[k].c = c[k]
            qsort(pool, <size_t>m, sizeof(PoolPair), cmp_pool)
            for k in range(m):
                pb[k] = pool[k].b
                active[k] = 1
                step[k] = -1
        lo = 0
        while lo < m and not oom:
            r = pool[lo].a
            hi = lo
            while hi < m and pool[hi].a == r:
                hi += 1
            if hi - lo > g.rules.max_pool:
                oom |= trim_pool(&g, ranked, r, lo, hi) < 0
            lo = hi
        lo = 0
        while lo < m and not oom:
            r = pool[lo].a
            hi = lo
            while hi < m and pool[hi].a == r:
                hi += 1
            oom |= row_links(&g, r, lo, hi) < 0
            lo = hi
        free(pool)
        free(pb)
        free(step)
        free(active)
        free(ranked)
        free(cov)
        free(found)
        free(pos)
    links = vec_array(&g.links, np.int64).reshape(-1, 7)
    scores = vec_array(&g.scores, np.float64)
    if oom:
        raise MemoryError()
    return links, scores
