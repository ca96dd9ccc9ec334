/* Compiled kernels of dedup: the numeric inner loops of verification.  (The sketch stage's
 * kernels are in dedup/_sketch/_kernels.pyx, the band table's in dedup/_index/_kernels.pyx.)
 *
 * - flatten, profiles, pair_stage, cover_stage: dedup/_verify/batch.py (token columns, stem
 *   sets, the pair scores and the greedy covers of a verification batch);
 * - ratios, align_ends: the character ratio (rapidfuzz's fuzz.ratio) and the LCS alignment
 *   (rapidfuzz's LCSseq.editops) that pair_stage and cover_stage use, exposed so that tests
 *   compare them with rapidfuzz directly.
 *
 * Optional, like dedup/_ctext.c: without a C compiler the package runs the numpy code beside
 * each caller, which computes the same values (tests compare the two).  Arrays are passed as
 * numpy arrays through the buffer protocol (no numpy headers needed to build); the Python
 * callers pass the right dtypes and shapes, and this file checks sizes and ids again so that a
 * wrong call raises instead of reading out of bounds.  The GIL is released while a kernel
 * computes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable, const char *name)
{
    if (PyObject_GetBuffer(obj, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of %zd bytes, got %zd", name, itemsize, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* A growable array of 8-byte items (int64 or double). */
typedef struct {
    char *data;
    Py_ssize_t n, cap, item;
} Vec;

static int
vec_push(Vec *v, const void *x)
{
    if (v->n == v->cap) {
        Py_ssize_t cap = v->cap ? 2 * v->cap : 256;
        char *grown = realloc(v->data, (size_t)(cap * v->item));
        if (!grown)
            return -1;
        v->data = grown;
        v->cap = cap;
    }
    memcpy(v->data + v->n * v->item, x, (size_t)v->item);
    v->n++;
    return 0;
}

static PyObject *
vec_bytes(Vec *v)
{
    PyObject *b = PyBytes_FromStringAndSize(v->data ? v->data : "", v->n * v->item);
    free(v->data);
    v->data = NULL;
    return b;
}

/* ---------------------------------------------------------------------------------------------
 * Verification (dedup/_verify/batch.py): per-sentence stem sets in CSR form, shared content
 * weights of candidate pairs, and the greedy covers.  Stems are integer ids; weights are 1 or 2,
 * so every sum below is an exact integer in floating point and equals numpy's bincount sums.
 */

/* flatten(sentences, words_at, stems_at, content_at, entity_at[, ids])
 *     -> (stem_ids bytes i64[T], content bytes u8[T], entity bytes u8[T], lengths bytes i64[n], norms list)
 *
 * The token columns of a list of sentence tuples (the field positions are passed in): each stem
 * as a small integer id (in order of first occurrence within this call, or continuing the
 * stem -> id dict ``ids`` when it is given, so that calls on consecutive batches share one
 * numbering: a dict only ever filled by this function), the content and entity flags, the tokens per sentence, and each sentence's words
 * joined by single spaces.
 */
static PyObject *
k_flatten(PyObject *self, PyObject *args)
{
    PyObject *sents, *given = NULL;
    Py_ssize_t at_words, at_stems, at_content, at_entity;
    if (!PyArg_ParseTuple(args, "O!nnnn|O!", &PyList_Type, &sents, &at_words, &at_stems, &at_content, &at_entity,
                          &PyDict_Type, &given))
        return NULL;
    const Py_ssize_t n = PyList_GET_SIZE(sents);
    Py_ssize_t T = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(sents, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) <= at_words || PyTuple_GET_SIZE(row) <= at_stems ||
            PyTuple_GET_SIZE(row) <= at_content || PyTuple_GET_SIZE(row) <= at_entity) {
            PyErr_Format(PyExc_TypeError, "flatten: sentences[%zd] is not a sentence tuple", i);
            return NULL;
        }
        PyObject *stems = PyTuple_GET_ITEM(row, at_stems), *content = PyTuple_GET_ITEM(row, at_content),
                 *entity = PyTuple_GET_ITEM(row, at_entity), *words = PyTuple_GET_ITEM(row, at_words);
        if (!PyTuple_Check(stems) || !PyTuple_Check(content) || !PyTuple_Check(entity) || !PyTuple_Check(words) ||
            PyTuple_GET_SIZE(content) != PyTuple_GET_SIZE(stems) || PyTuple_GET_SIZE(entity) != PyTuple_GET_SIZE(stems)) {
            PyErr_Format(PyExc_TypeError, "flatten: sentences[%zd] has inconsistent token tuples", i);
            return NULL;
        }
        T += PyTuple_GET_SIZE(stems);
    }
    PyObject *ids = given ? Py_NewRef(given) : PyDict_New(), *space = PyUnicode_FromString(" "),
             *norms = PyList_New(n);
    PyObject *b_stem = PyBytes_FromStringAndSize(NULL, 8 * T), *b_content = PyBytes_FromStringAndSize(NULL, T);
    PyObject *b_entity = PyBytes_FromStringAndSize(NULL, T), *b_len = PyBytes_FromStringAndSize(NULL, 8 * n);
    if (!ids || !space || !norms || !b_stem || !b_content || !b_entity || !b_len)
        goto fail;
    int64_t *stem_id = (int64_t *)PyBytes_AS_STRING(b_stem), *lengths = (int64_t *)PyBytes_AS_STRING(b_len);
    uint8_t *content = (uint8_t *)PyBytes_AS_STRING(b_content), *entity = (uint8_t *)PyBytes_AS_STRING(b_entity);
    Py_ssize_t t = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(sents, i);
        PyObject *stems = PyTuple_GET_ITEM(row, at_stems), *cont = PyTuple_GET_ITEM(row, at_content),
                 *ent = PyTuple_GET_ITEM(row, at_entity);
        const Py_ssize_t len = PyTuple_GET_SIZE(stems);
        lengths[i] = len;
        for (Py_ssize_t k = 0; k < len; k++, t++) {
            PyObject *stem = PyTuple_GET_ITEM(stems, k);
            PyObject *id = PyDict_GetItemWithError(ids, stem);
            if (id) {
                stem_id[t] = PyLong_AsLongLong(id);
                if (stem_id[t] == -1 && PyErr_Occurred())
                    goto fail;
            }
            else {
                if (PyErr_Occurred())
                    goto fail;
                const Py_ssize_t next = PyDict_GET_SIZE(ids);
                PyObject *value = PyLong_FromSsize_t(next);
                if (!value || PyDict_SetItem(ids, stem, value) < 0) {
                    Py_XDECREF(value);
                    goto fail;
                }
                Py_DECREF(value);
                stem_id[t] = next;
            }
            const int c = PyObject_IsTrue(PyTuple_GET_ITEM(cont, k)), e = PyObject_IsTrue(PyTuple_GET_ITEM(ent, k));
            if (c < 0 || e < 0)
                goto fail;
            content[t] = (uint8_t)c;
            entity[t] = (uint8_t)e;
        }
        PyObject *norm = PyUnicode_Join(space, PyTuple_GET_ITEM(row, at_words));
        if (!norm)
            goto fail;
        PyList_SET_ITEM(norms, i, norm);
    }
    Py_DECREF(ids);
    Py_DECREF(space);
    return Py_BuildValue("(NNNNN)", b_stem, b_content, b_entity, b_len, norms);
fail:
    Py_XDECREF(ids);
    Py_XDECREF(space);
    Py_XDECREF(norms);
    Py_XDECREF(b_stem);
    Py_XDECREF(b_content);
    Py_XDECREF(b_entity);
    Py_XDECREF(b_len);
    return NULL;
}

/* Sorts v[0..n) of TYPE ascending by GREATER(a, b) (a > b): an insertion sort up to SMALL_SORT
 * elements, where it beats qsort's comparator calls (a sentence's tokens), else qsort with CMP. */
#define SMALL_SORT 48
#define SMALL_OR_QSORT(TYPE, v, n, GREATER, CMP)                                                      \
    do {                                                                                              \
        if ((n) > SMALL_SORT) {                                                                       \
            qsort((v), (size_t)(n), sizeof(TYPE), (CMP));                                             \
            break;                                                                                    \
        }                                                                                             \
        for (Py_ssize_t k_ = 1; k_ < (n); k_++) {                                                     \
            const TYPE x_ = (v)[k_];                                                                  \
            Py_ssize_t j_ = k_;                                                                       \
            for (; j_ > 0 && GREATER((v)[j_ - 1], x_); j_--)                                          \
                (v)[j_] = (v)[j_ - 1];                                                                \
            (v)[j_] = x_;                                                                             \
        }                                                                                             \
    } while (0)
#define GREATER_NUM(a, b) ((a) > (b))
#define GREATER_STEMW(a, b) ((a).stem > (b).stem || ((a).stem == (b).stem && (a).w > (b).w))

typedef struct {
    int64_t stem;
    double w;
} StemW;

static int
cmp_stemw(const void *x, const void *y)
{
    const StemW *a = x, *b = y;
    if (a->stem != b->stem)
        return a->stem < b->stem ? -1 : 1;
    return a->w < b->w ? -1 : (a->w > b->w ? 1 : 0);
}

static int
cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : (a > b ? 1 : 0);
}

static void
sort_i64(int64_t *v, Py_ssize_t n)
{
    SMALL_OR_QSORT(int64_t, v, n, GREATER_NUM, cmp_i64);
}

/* In the order of cmp_stemw: by stem, then weight. */
static void
sort_stemw(StemW *v, Py_ssize_t n)
{
    SMALL_OR_QSORT(StemW, v, n, GREATER_STEMW, cmp_stemw);
}

/* Sorted unique values of v[0..n) in place; returns the count. */
static Py_ssize_t
unique_i64(int64_t *v, Py_ssize_t n)
{
    if (n < 2)
        return n;
    sort_i64(v, n);
    Py_ssize_t m = 1;
    for (Py_ssize_t k = 1; k < n; k++)
        if (v[k] != v[m - 1])
            v[m++] = v[k];
    return m;
}

/* Number of elements of sorted x found in sorted y, and the sum of their weights (w may be NULL). */
static inline Py_ssize_t
intersect(const int64_t *x, const double *w, Py_ssize_t nx, const int64_t *y, Py_ssize_t ny, double *wsum)
{
    Py_ssize_t i = 0, j = 0, count = 0;
    double s = 0.0;
    while (i < nx && j < ny) {
        if (x[i] < y[j])
            i++;
        else if (x[i] > y[j])
            j++;
        else {
            count++;
            if (w)
                s += w[i];
            i++;
            j++;
        }
    }
    if (wsum)
        *wsum = s;
    return count;
}

/* found[x] = 1 for every element x of sorted x found in sorted y. */
static inline void
intersect_mark(const int64_t *x, Py_ssize_t nx, const int64_t *y, Py_ssize_t ny, uint8_t *found)
{
    Py_ssize_t i = 0, j = 0;
    while (i < nx && j < ny) {
        if (x[i] < y[j])
            i++;
        else if (x[i] > y[j])
            j++;
        else {
            found[i] = 1;
            i++;
            j++;
        }
    }
}

#define MAX_BUFFERS 24

typedef struct {
    Py_buffer views[MAX_BUFFERS];
    int n;
} Buffers;

static void
release_all(Buffers *bs)
{
    for (int k = 0; k < bs->n; k++)
        PyBuffer_Release(&bs->views[k]);
    bs->n = 0;
}

/* Get a buffer of n_items items of itemsize bytes (n_items < 0: any length); NULL on error. */
static void *
arg(Buffers *bs, PyObject *obj, Py_ssize_t itemsize, int writable, Py_ssize_t n_items, Py_ssize_t *len,
    const char *name)
{
    if (bs->n == MAX_BUFFERS) {
        PyErr_SetString(PyExc_SystemError, "dedup._ckernels: too many array arguments");
        return NULL;
    }
    Py_buffer *v = &bs->views[bs->n];
    if (get_buffer(obj, v, itemsize, writable, name) < 0)
        return NULL;
    bs->n++;
    if (n_items >= 0 && v->len / itemsize != n_items) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items, got %zd", name, n_items, v->len / itemsize);
        return NULL;
    }
    if (len)
        *len = v->len / itemsize;
    return v->buf;
}

static int
check_ids(const int64_t *ids, Py_ssize_t m, Py_ssize_t n, const char *name)
{
    for (Py_ssize_t k = 0; k < m; k++)
        if (ids[k] < 0 || ids[k] >= n) {
            PyErr_Format(PyExc_ValueError, "%s: sentence id %lld out of range", name, (long long)ids[k]);
            return -1;
        }
    return 0;
}

static int
check_starts(const int64_t *starts, Py_ssize_t n, Py_ssize_t size, const char *name)
{
    if (starts[0] != 0 || starts[n] > size)
        goto bad;
    for (Py_ssize_t k = 0; k < n; k++)
        if (starts[k + 1] < starts[k])
            goto bad;
    return 0;
bad:
    PyErr_Format(PyExc_ValueError, "%s: offsets are not a non-decreasing run within the array", name);
    return -1;
}

/* The rule constants of verification (dedup/_rules.py), passed in as the tuple
 * dedup._verify.batch.KERNEL_RULES: these kernels restate none of them. */
typedef struct {
    double entity_weight; /* content weight of a name or figure (other content words: 1) */
    double shrink;        /* added to the content weight in the containment denominator */
    double ratio_zero;    /* character ratio rescaled to 0 (and rapidfuzz's cutoff) */
    double spread;        /* locality: longest stretch, in restated-sentence lengths, at full weight */
    double strong_first;  /* share of a sentence a first partner covers to need no co-sources */
    double whole_share;   /* aligned share of a sentence reported as all of it */
    Py_ssize_t min_new_words, max_pool, edge_slack_min, edge_slack_divisor;
} Rules;

/* Parse the rules tuple; 0, or -1 with an exception set. */
static int
parse_rules(PyObject *o, Rules *r)
{
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) != 10) {
        PyErr_SetString(PyExc_TypeError, "rules must be a tuple of 10 values (dedup._verify.batch.KernelRules)");
        return -1;
    }
    if (!PyArg_ParseTuple(o, "ddddddnnnn;rules must be dedup._verify.batch.KernelRules", &r->entity_weight,
                          &r->shrink, &r->ratio_zero, &r->spread, &r->strong_first, &r->whole_share,
                          &r->min_new_words, &r->max_pool, &r->edge_slack_min, &r->edge_slack_divisor))
        return -1;
    if (r->ratio_zero >= 1.0 || r->max_pool < 1 || r->edge_slack_divisor < 1) {
        PyErr_SetString(PyExc_ValueError, "rules: ratio_zero must be < 1, max_pool and edge_slack_divisor >= 1");
        return -1;
    }
    return 0;
}

/* profiles(stem i64[T], content u8[T], entity u8[T], lengths i64[n],
 *          cw_start i64[n+1], cw_stem i64[T], cw_w f64[T], all_start i64[n+1], all_stem i64[T],
 *          ent_start i64[n+1], ent_stem i64[T], total f64[n],
 *          seq_start i64[n+1], seq_stem i64[T], seq_pos i64[T], rules) -> None
 *
 * Per sentence: its content stems (all stems when it has no content word) sorted, each with its
 * largest weight (rules.entity_weight for a name or figure, else 1); all its stems sorted; the stems of its names
 * and figures sorted; its total content weight; its content stems in text order with their token
 * positions (what alignment compares).
 */
static PyObject *
k_profiles(PyObject *self, PyObject *args)
{
    PyObject *o[15], *rules_o;
    Buffers bs = {.n = 0};
    Rules rules;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &rules_o) ||
        parse_rules(rules_o, &rules) < 0)
        return NULL;
    Py_ssize_t T, n;
    const int64_t *stem = arg(&bs, o[0], 8, 0, -1, &T, "stem");
    const uint8_t *content = stem ? arg(&bs, o[1], 1, 0, T, NULL, "content") : NULL;
    const uint8_t *entity = content ? arg(&bs, o[2], 1, 0, T, NULL, "entity") : NULL;
    const int64_t *lengths = entity ? arg(&bs, o[3], 8, 0, -1, &n, "lengths") : NULL;
    int64_t *cw_start = lengths ? arg(&bs, o[4], 8, 1, n + 1, NULL, "cw_start") : NULL;
    int64_t *cw_stem = cw_start ? arg(&bs, o[5], 8, 1, T, NULL, "cw_stem") : NULL;
    double *cw_w = cw_stem ? arg(&bs, o[6], 8, 1, T, NULL, "cw_w") : NULL;
    int64_t *all_start = cw_w ? arg(&bs, o[7], 8, 1, n + 1, NULL, "all_start") : NULL;
    int64_t *all_stem = all_start ? arg(&bs, o[8], 8, 1, T, NULL, "all_stem") : NULL;
    int64_t *ent_start = all_stem ? arg(&bs, o[9], 8, 1, n + 1, NULL, "ent_start") : NULL;
    int64_t *ent_stem = ent_start ? arg(&bs, o[10], 8, 1, T, NULL, "ent_stem") : NULL;
    double *total = ent_stem ? arg(&bs, o[11], 8, 1, n, NULL, "total") : NULL;
    int64_t *seq_start = total ? arg(&bs, o[12], 8, 1, n + 1, NULL, "seq_start") : NULL;
    int64_t *seq_stem = seq_start ? arg(&bs, o[13], 8, 1, T, NULL, "seq_stem") : NULL;
    int64_t *seq_pos = seq_stem ? arg(&bs, o[14], 8, 1, T, NULL, "seq_pos") : NULL;
    if (!seq_pos)
        goto fail;
    int64_t sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (lengths[i] < 0)
            break;
        sum += lengths[i];
    }
    if (sum != T) {
        PyErr_SetString(PyExc_ValueError, "profiles: lengths do not add up to the number of tokens");
        goto fail;
    }
    StemW *tmp = PyMem_RawMalloc(sizeof(StemW) * (size_t)(T ? T : 1));
    if (!tmp) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t t0 = 0, ncw = 0, nall = 0, nent = 0, nseq = 0;
    cw_start[0] = all_start[0] = ent_start[0] = seq_start[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len = (Py_ssize_t)lengths[i];
        int has_content = 0;
        for (Py_ssize_t t = t0; t < t0 + len; t++)
            has_content |= content[t] != 0;
        /* content stems, largest weight of each; names and figures among them */
        Py_ssize_t m = 0, e0 = nent;
        for (Py_ssize_t t = t0; t < t0 + len; t++) {
            if (content[t] || !has_content) {
                seq_stem[nseq] = stem[t];
                seq_pos[nseq++] = t - t0;
                tmp[m].stem = stem[t];
                tmp[m].w = entity[t] ? rules.entity_weight : 1.0;
                m++;
                if (entity[t])
                    ent_stem[nent++] = stem[t];
            }
        }
        sort_stemw(tmp, m);
        double tot = 0.0;
        for (Py_ssize_t k = 0; k < m; k++) {
            if (k + 1 < m && tmp[k + 1].stem == tmp[k].stem)
                continue; /* the last of a run has the largest weight */
            cw_stem[ncw] = tmp[k].stem;
            cw_w[ncw] = tmp[k].w;
            tot += tmp[k].w;
            ncw++;
        }
        total[i] = tot;
        nent = e0 + unique_i64(ent_stem + e0, nent - e0);
        memcpy(all_stem + nall, stem + t0, sizeof(int64_t) * (size_t)len);
        nall += unique_i64(all_stem + nall, len);
        cw_start[i + 1] = ncw;
        all_start[i + 1] = nall;
        ent_start[i + 1] = nent;
        seq_start[i + 1] = nseq;
        t0 += len;
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(tmp);
    release_all(&bs);
    Py_RETURN_NONE;
fail:
    release_all(&bs);
    return NULL;
}

typedef struct {
    const int64_t *cw_start, *cw_stem, *all_start, *all_stem, *ent_start, *ent_stem;
    const double *cw_w, *total;
    Py_ssize_t n;
    Py_ssize_t vocabulary; /* one more than the largest stem id */
} Csr;

/* The largest value of v[0..n) (-1 for none), or -2 if one is negative. */
static int64_t
max_id(const int64_t *v, Py_ssize_t n)
{
    int64_t top = -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        if (v[k] < 0)
            return -2;
        top = v[k] > top ? v[k] : top;
    }
    return top;
}

/* Parse the CSR arrays of profiles() from 8 objects; returns 0 or -1. */
static int
parse_csr(Buffers *bs, PyObject **o, Csr *c)
{
    Py_ssize_t n1, ncw, nall, nent;
    c->cw_start = arg(bs, o[0], 8, 0, -1, &n1, "cw_start");
    if (!c->cw_start || n1 < 1)
        return c->cw_start ? (PyErr_SetString(PyExc_ValueError, "cw_start is empty"), -1) : -1;
    c->n = n1 - 1;
    if (!(c->cw_stem = arg(bs, o[1], 8, 0, -1, &ncw, "cw_stem")))
        return -1;
    if (!(c->cw_w = arg(bs, o[2], 8, 0, ncw, NULL, "cw_w")))
        return -1;
    if (!(c->all_start = arg(bs, o[3], 8, 0, n1, NULL, "all_start")))
        return -1;
    if (!(c->all_stem = arg(bs, o[4], 8, 0, -1, &nall, "all_stem")))
        return -1;
    if (!(c->ent_start = arg(bs, o[5], 8, 0, n1, NULL, "ent_start")))
        return -1;
    if (!(c->ent_stem = arg(bs, o[6], 8, 0, -1, &nent, "ent_stem")))
        return -1;
    if (!(c->total = arg(bs, o[7], 8, 0, c->n, NULL, "total")))
        return -1;
    if (check_starts(c->cw_start, c->n, ncw, "cw_start") < 0 || check_starts(c->all_start, c->n, nall, "all_start") < 0 ||
        check_starts(c->ent_start, c->n, nent, "ent_start") < 0)
        return -1;
    /* Stem ids index the per-row tables: every one must be in [0, vocabulary). */
    const int64_t a = max_id(c->cw_stem, c->cw_start[c->n]), b = max_id(c->all_stem, c->all_start[c->n]);
    const int64_t e = max_id(c->ent_stem, c->ent_start[c->n]); /* (the arrays may be longer than used) */
    if (a < -1 || b < -1 || e < -1) {
        PyErr_SetString(PyExc_ValueError, "stem ids must not be negative");
        return -1;
    }
    int64_t top = a > b ? a : b;
    top = e > top ? e : top;
    c->vocabulary = (Py_ssize_t)(top + 1);
    return 0;
}

/* Stem ids from which per-row tables are not allocated (merges of sorted runs instead); tests
 * lower it with set_dense_limit() to run the merges. */
static Py_ssize_t dense_max_stems = 1 << 24;

/* set_dense_limit(n) -> previous limit */
static PyObject *
k_set_dense_limit(PyObject *self, PyObject *args)
{
    Py_ssize_t limit, previous = dense_max_stems;
    if (!PyArg_ParseTuple(args, "n", &limit))
        return NULL;
    dense_max_stems = limit;
    return PyLong_FromSsize_t(previous);
}

/* Fill (on) or clear (!on) row i's dense tables: content weight by stem, and flags (1: one of its
 * stems, 2: one of its names or figures). */
static void
dense_row(const Csr *c, int64_t i, double *w, uint8_t *flags, int on)
{
    for (Py_ssize_t x = c->cw_start[i]; x < c->cw_start[i + 1]; x++)
        w[c->cw_stem[x]] = on ? c->cw_w[x] : 0.0;
    for (Py_ssize_t x = c->all_start[i]; x < c->all_start[i + 1]; x++)
        flags[c->all_stem[x]] = (uint8_t)on;
    for (Py_ssize_t x = c->ent_start[i]; x < c->ent_start[i + 1]; x++)
        flags[c->ent_stem[x]] = on ? 3 : 0;
}

/* Row tables of pair_containment: content weight by stem and flags (1: a stem of the row,
 * 2: a name or figure of it), for the current row; NULL tables: merges of sorted runs. */
typedef struct {
    double *w;
    uint8_t *flags;
    int64_t row;
} Dense;

static void
dense_init(Dense *d, const Csr *c)
{
    const Py_ssize_t V = c->vocabulary;
    d->w = V <= dense_max_stems ? calloc((size_t)(V ? V : 1), sizeof(double)) : NULL;
    d->flags = d->w ? calloc((size_t)(V ? V : 1), 1) : NULL;
    if (!d->flags) {
        free(d->w);
        d->w = NULL;
    }
    d->row = -1;
}

static void
dense_free(Dense *d)
{
    free(d->w);
    free(d->flags);
    d->w = NULL;
    d->flags = NULL;
}

/* Containment of i in j and of j in i (shared content weight / (total + shrink) x the substitution
 * factor), and the factor, as BatchScorer._pair_stage computes them in numpy. */
static void
pair_containment(const Csr *c, Dense *d, int64_t i, int64_t j, double shrink, double *c_ij, double *c_ji,
                 double *subst)
{
    const int64_t *ai = c->all_stem + c->all_start[i], *aj = c->all_stem + c->all_start[j];
    const Py_ssize_t nai = c->all_start[i + 1] - c->all_start[i], naj = c->all_start[j + 1] - c->all_start[j];
    const int64_t *ei = c->ent_stem + c->ent_start[i], *ej = c->ent_stem + c->ent_start[j];
    const Py_ssize_t nei = c->ent_start[i + 1] - c->ent_start[i], nej = c->ent_start[j + 1] - c->ent_start[j];
    const int64_t *cwi = c->cw_stem + c->cw_start[i], *cwj = c->cw_stem + c->cw_start[j];
    const double *wi = c->cw_w + c->cw_start[i], *wj = c->cw_w + c->cw_start[j];
    const Py_ssize_t ncwi = c->cw_start[i + 1] - c->cw_start[i], ncwj = c->cw_start[j + 1] - c->cw_start[j];
    double sh_ij = 0.0, sh_ji = 0.0;
    Py_ssize_t hit_ij = 0, hit_ji = 0, inter = 0;
    if (d->flags) {
        if (i != d->row) { /* tables of row i; pairs come sorted by i, so this is rare */
            if (d->row >= 0)
                dense_row(c, d->row, d->w, d->flags, 0);
            dense_row(c, i, d->w, d->flags, 1);
            d->row = i;
        }
        for (Py_ssize_t x = 0; x < naj; x++) { /* i's content weight and names found among j's stems */
            sh_ij += d->w[aj[x]];
            hit_ij += d->flags[aj[x]] >> 1;
        }
        for (Py_ssize_t x = 0; x < ncwj; x++)
            sh_ji += (d->flags[cwj[x]] & 1) ? wj[x] : 0.0;
        for (Py_ssize_t x = 0; x < nej; x++) {
            hit_ji += d->flags[ej[x]] & 1;
            inter += d->flags[ej[x]] >> 1;
        }
    }
    else {
        intersect(cwi, wi, ncwi, aj, naj, &sh_ij);
        intersect(cwj, wj, ncwj, ai, nai, &sh_ji);
        hit_ij = intersect(ei, NULL, nei, aj, naj, NULL);
        hit_ji = intersect(ej, NULL, nej, ai, nai, NULL);
        inter = intersect(ei, NULL, nei, ej, nej, NULL);
    }
    const Py_ssize_t miss_ij = nei - hit_ij, miss_ji = nej - hit_ji;
    double factor = 1.0;
    if (miss_ij > 0 && miss_ji > 0) {
        const Py_ssize_t uni = nei + nej - inter;
        factor = (double)inter / (double)(uni > 1 ? uni : 1);
    }
    *subst = factor;
    *c_ij = sh_ij / (c->total[i] + shrink) * factor;
    *c_ji = sh_ji / (c->total[j] + shrink) * factor;
}

/* The greedy cover of row r over its pool pairs lo..hi-1 (partners pb[k], sorted), as
 * BatchScorer._covers does in numpy; step[k] gets the step at which pair k was picked.  pos is
 * the zeroed row table of covers() (or NULL: merges); cov and found hold the row's content
 * stems.  Returns the content weight of r the picks cover. */
static double
cover_row(const Csr *c, int64_t r, const int64_t *pb, const uint8_t *active, Py_ssize_t lo, Py_ssize_t hi,
          const int64_t *rank, double min_gain, Py_ssize_t max_sources, const Rules *rules, int64_t *step,
          int32_t *pos, uint8_t *cov, uint8_t *found)
{
    const int64_t *rs = c->cw_stem + c->cw_start[r];
    const double *rw = c->cw_w + c->cw_start[r];
    const Py_ssize_t nr = c->cw_start[r + 1] - c->cw_start[r];
    const double tot = c->total[r];
    memset(cov, 0, (size_t)nr);
    if (pos)
        for (Py_ssize_t x = 0; x < nr; x++)
            pos[rs[x]] = (int32_t)(x + 1);
    for (Py_ssize_t s = 0; s < max_sources; s++) {
        Py_ssize_t best = -1, best_new = 0;
        double best_gain = 0.0;
        for (Py_ssize_t k = lo; k < hi; k++) {
            if (!active[k] || step[k] >= 0)
                continue;
            const int64_t j = pb[k];
            const int64_t *bs_ = c->all_stem + c->all_start[j];
            const Py_ssize_t nb = c->all_start[j + 1] - c->all_start[j];
            double gain = 0.0;
            Py_ssize_t n_new = 0;
            if (pos) { /* the row's uncovered stems found in the partner */
                for (Py_ssize_t y = 0; y < nb; y++) {
                    const int64_t x = pos[bs_[y]] - 1;
                    if (x >= 0 && !cov[x]) {
                        gain += rw[x];
                        n_new++;
                    }
                }
            }
            else {
                Py_ssize_t x = 0, y = 0;
                while (x < nr && y < nb) {
                    if (rs[x] < bs_[y])
                        x++;
                    else if (rs[x] > bs_[y])
                        y++;
                    else {
                        if (!cov[x]) {
                            gain += rw[x];
                            n_new++;
                        }
                        x++;
                        y++;
                    }
                }
            }
            if (gain <= 0.0)
                continue;
            if (best >= 0) {
                const int64_t bj = pb[best];
                if (gain < best_gain)
                    continue;
                if (gain == best_gain) {
                    if (c->total[j] > c->total[bj])
                        continue;
                    if (c->total[j] == c->total[bj] && (rank[j] > rank[bj] || (rank[j] == rank[bj] && j > bj)))
                        continue;
                }
            }
            best = k;
            best_gain = gain;
            best_new = n_new;
        }
        if (best < 0)
            break;
        if (s > 0 && (best_gain / tot < min_gain || best_new < rules->min_new_words))
            break;
        step[best] = s;
        const int64_t j = pb[best];
        const int64_t *bs_ = c->all_stem + c->all_start[j];
        const Py_ssize_t nb = c->all_start[j + 1] - c->all_start[j];
        memset(found, 0, (size_t)nr);
        if (pos) {
            for (Py_ssize_t y = 0; y < nb; y++)
                if (pos[bs_[y]])
                    found[pos[bs_[y]] - 1] = 1;
        }
        else
            intersect_mark(rs, nr, bs_, nb, found);
        double covered = 0.0;
        for (Py_ssize_t x = 0; x < nr; x++) {
            cov[x] |= found[x];
            if (cov[x])
                covered += rw[x];
        }
        if (s == 0 && covered / tot >= rules->strong_first)
            break;
    }
    double covered = 0.0;
    for (Py_ssize_t x = 0; x < nr; x++)
        if (cov[x])
            covered += rw[x];
    if (pos)
        for (Py_ssize_t x = 0; x < nr; x++)
            pos[rs[x]] = 0;
    return covered;
}

/* ---------------------------------------------------------------------------------------------
 * Alignment: the longest-common-subsequence alignment of two sentences' content stems, exactly as
 * rapidfuzz's LCSseq.editops(x, y).as_matching_blocks() chooses it (common prefix and suffix
 * stripped, Hyyro's bit-parallel matrix, the same backtracking), reduced to what the verifier
 * reads of it: the first and the last matched pair.  tests/test_kernels.py compares it with
 * rapidfuzz on random sequences over small alphabets (many ties).
 */

static inline uint64_t
add_carry(uint64_t a, uint64_t b, uint64_t *carry)
{
    /* a + b + *carry, and the carry out (multi-word addition of the bit-parallel LCS) */
#if defined(__GNUC__)
    uint64_t sum;
    const int c1 = __builtin_add_overflow(a, b, &sum);
    const int c2 = __builtin_add_overflow(sum, *carry, &sum);
    *carry = (uint64_t)(c1 | c2);
    return sum;
#else
    const uint64_t add = a + b, sum = add + *carry;
    *carry = (add < a) | (sum < add);
    return sum;
#endif
}

typedef struct {
    Py_ssize_t src, dest;
    int insert; /* 0: delete */
} Op;

/* Returns 1 and the first/last matched pairs, 0 when nothing matches, -1 when out of memory. */
static int
lcs_ends(const int64_t *x, Py_ssize_t nx, const int64_t *y, Py_ssize_t ny, Py_ssize_t ends[4])
{
    Py_ssize_t prefix = 0, suffix = 0;
    while (prefix < nx && prefix < ny && x[prefix] == y[prefix])
        prefix++;
    while (suffix < nx - prefix && suffix < ny - prefix && x[nx - 1 - suffix] == y[ny - 1 - suffix])
        suffix++;
    const int64_t *s1 = x + prefix, *s2 = y + prefix;
    const Py_ssize_t len1 = nx - prefix - suffix, len2 = ny - prefix - suffix;
    const Py_ssize_t W = (len1 + 63) / 64;
    uint64_t *matrix = NULL, *S = NULL;
    Op *ops = NULL;
    Py_ssize_t sim = 0;
    if (len1 > 0 && len2 > 0) {
        matrix = malloc(sizeof(uint64_t) * (size_t)(W * len2));
        S = malloc(sizeof(uint64_t) * (size_t)W * 2);
        if (!matrix || !S)
            goto oom;
        uint64_t *M = S + W;
        for (Py_ssize_t w = 0; w < W; w++)
            S[w] = ~(uint64_t)0;
        for (Py_ssize_t r = 0; r < len2; r++) {
            for (Py_ssize_t w = 0; w < W; w++)
                M[w] = 0;
            for (Py_ssize_t k = 0; k < len1; k++)
                if (s1[k] == s2[r])
                    M[k >> 6] |= (uint64_t)1 << (k & 63);
            uint64_t carry = 0;
            for (Py_ssize_t w = 0; w < W; w++) {
                const uint64_t sw = S[w], u = sw & M[w];
                S[w] = add_carry(sw, u, &carry) | (sw ^ u); /* S - u: u's bits are within S's */
            }
            memcpy(matrix + r * W, S, sizeof(uint64_t) * (size_t)W);
        }
        Py_ssize_t zeros = 0; /* popcount(~S) over the low len1 bits */
        for (Py_ssize_t k = 0; k < len1; k++)
            zeros += !((S[k >> 6] >> (k & 63)) & 1);
        sim = zeros;
    }
    Py_ssize_t dist = len1 + len2 - 2 * sim, n_ops = dist;
    if (dist > 0) {
        ops = malloc(sizeof(Op) * (size_t)dist);
        if (!ops)
            goto oom;
        Py_ssize_t col = len1, row = len2;
#define BIT(r, c) ((matrix[(r) * W + ((c) >> 6)] >> ((c) & 63)) & 1)
        while (row != 0 && col != 0) {
            if (BIT(row - 1, col - 1)) { /* deletion */
                dist--;
                col--;
                ops[dist] = (Op){col + prefix, row + prefix, 0};
            }
            else {
                row--;
                if (row && !BIT(row - 1, col - 1)) { /* insertion */
                    dist--;
                    ops[dist] = (Op){col + prefix, row + prefix, 1};
                }
                else /* match */
                    col--;
            }
        }
#undef BIT
        while (col != 0) {
            dist--;
            col--;
            ops[dist] = (Op){col + prefix, row + prefix, 0};
        }
        while (row != 0) {
            dist--;
            row--;
            ops[dist] = (Op){col + prefix, row + prefix, 1};
        }
    }
    /* as_matching_blocks: matches are the stretches between edit operations */
    int found = 0;
    Py_ssize_t src = 0, dest = 0;
    for (Py_ssize_t k = 0; k <= n_ops; k++) {
        const Py_ssize_t to_src = k < n_ops ? ops[k].src : nx, to_dest = k < n_ops ? ops[k].dest : ny;
        if (src < to_src || dest < to_dest) {
            Py_ssize_t length = to_src - src < to_dest - dest ? to_src - src : to_dest - dest;
            if (length > 0) {
                if (!found) {
                    ends[0] = src;
                    ends[1] = dest;
                    found = 1;
                }
                ends[2] = src + length - 1;
                ends[3] = dest + length - 1;
            }
            src = to_src;
            dest = to_dest;
        }
        if (k < n_ops) {
            if (ops[k].insert)
                dest++;
            else
                src++;
        }
    }
    free(matrix);
    free(S);
    free(ops);
    return found;
oom:
    free(matrix);
    free(S);
    free(ops);
    return -1;
}

/* Alignment ends of sentences i and j in token positions: 1 (found), 0 (none), -1 (out of memory). */
static int
seq_ends(const int64_t *start, const int64_t *stem, const int64_t *pos, int64_t i, int64_t j, int64_t out[4])
{
    Py_ssize_t e[4];
    const int r = lcs_ends(stem + start[i], start[i + 1] - start[i], stem + start[j], start[j + 1] - start[j], e);
    if (r == 1) {
        out[0] = pos[start[i] + e[0]];
        out[1] = pos[start[i] + e[2]] + 1;
        out[2] = pos[start[j] + e[1]];
        out[3] = pos[start[j] + e[3]] + 1;
    }
    return r;
}

/* align_ends(i i64[m], j i64[m], seq_start i64[n+1], seq_stem i64[T], seq_pos i64[T], out i64[m*4])
 *
 * For every pair: the token positions (first of i, last of i + 1, first of j, last of j + 1) of
 * the first and last aligned content words of sentences i and j, or -1s when none align.
 */
static PyObject *
k_align_ends(PyObject *self, PyObject *args)
{
    PyObject *o[6];
    Buffers bs = {.n = 0};
    if (!PyArg_ParseTuple(args, "OOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5]))
        return NULL;
    Py_ssize_t m, n1, T;
    const int64_t *pi = arg(&bs, o[0], 8, 0, -1, &m, "i");
    const int64_t *pj = pi ? arg(&bs, o[1], 8, 0, m, NULL, "j") : NULL;
    const int64_t *start = pj ? arg(&bs, o[2], 8, 0, -1, &n1, "seq_start") : NULL;
    const int64_t *stem = start ? arg(&bs, o[3], 8, 0, -1, &T, "seq_stem") : NULL;
    const int64_t *pos = stem ? arg(&bs, o[4], 8, 0, T, NULL, "seq_pos") : NULL;
    int64_t *out = pos ? arg(&bs, o[5], 8, 1, 4 * m, NULL, "out") : NULL;
    if (!out)
        goto fail;
    if (n1 < 1) {
        PyErr_SetString(PyExc_ValueError, "seq_start is empty");
        goto fail;
    }
    if (check_starts(start, n1 - 1, T, "seq_start") < 0 || check_ids(pi, m, n1 - 1, "i") < 0 ||
        check_ids(pj, m, n1 - 1, "j") < 0)
        goto fail;
    int oom = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < m && !oom; k++) {
        const int r = seq_ends(start, stem, pos, pi[k], pj[k], out + 4 * k);
        if (r < 0)
            oom = 1;
        else if (r == 0)
            out[4 * k] = out[4 * k + 1] = out[4 * k + 2] = out[4 * k + 3] = -1;
    }
    Py_END_ALLOW_THREADS
    if (oom) {
        PyErr_NoMemory();
        goto fail;
    }
    release_all(&bs);
    Py_RETURN_NONE;
fail:
    release_all(&bs);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Character ratio: rapidfuzz's fuzz.ratio(a, b, score_cutoff=50) over code points, i.e. the
 * normalised Indel similarity 1 - (len_a + len_b - 2 LCS) / (len_a + len_b), times 100, or 0
 * below the cut, computed with the same double operations as rapidfuzz (tests compare bits).
 */

/* Bit masks of a pattern's code points: a direct table for ASCII, open addressing for the rest.
 * Buffers are sized once for the longest text and cleared only where a pattern wrote. */
typedef struct {
    Py_ssize_t W, cap, n_other, len;
    const uint32_t *text;
    uint64_t *ascii;  /* 128 x Wmax */
    uint32_t *keys;   /* capmax */
    Py_ssize_t *slot; /* capmax: index into other, -1 empty */
    uint64_t *other;  /* longest x Wmax */
} Pattern;

static inline uint32_t
cp_hash(uint32_t c)
{
    c ^= c >> 16;
    c *= 0x45D9F3Bu;
    c ^= c >> 16;
    return c;
}

static void
pattern_clear(Pattern *p)
{
    for (Py_ssize_t k = 0; k < p->len; k++) {
        const uint32_t c = p->text[k];
        if (c < 128)
            memset(p->ascii + c * p->W, 0, sizeof(uint64_t) * (size_t)p->W);
    }
    if (p->n_other) {
        memset(p->other, 0, sizeof(uint64_t) * (size_t)(p->n_other * p->W));
        for (Py_ssize_t k = 0; k < p->cap; k++)
            p->slot[k] = -1;
    }
    p->n_other = 0;
    p->len = 0;
}

static void
pattern_set(Pattern *p, const uint32_t *text, Py_ssize_t n)
{
    pattern_clear(p);
    p->text = text;
    p->len = n;
    p->W = (n + 63) / 64;
    Py_ssize_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    p->cap = cap;
    for (Py_ssize_t k = 0; k < n; k++) {
        const uint32_t c = text[k];
        const uint64_t bit = (uint64_t)1 << (k & 63);
        if (c < 128) {
            p->ascii[c * p->W + (k >> 6)] |= bit;
            continue;
        }
        Py_ssize_t h = (Py_ssize_t)(cp_hash(c) & (uint32_t)(cap - 1));
        while (p->slot[h] >= 0 && p->keys[h] != c)
            h = (h + 1) & (cap - 1);
        if (p->slot[h] < 0) {
            p->keys[h] = c;
            p->slot[h] = p->n_other++;
        }
        p->other[p->slot[h] * p->W + (k >> 6)] |= bit;
    }
}

static inline const uint64_t *
pattern_mask(const Pattern *p, uint32_t c, const uint64_t *zeros)
{
    if (c < 128)
        return p->ascii + c * p->W;
    if (!p->n_other)
        return zeros;
    Py_ssize_t h = (Py_ssize_t)(cp_hash(c) & (uint32_t)(p->cap - 1));
    while (p->slot[h] >= 0) {
        if (p->keys[h] == c)
            return p->other + p->slot[h] * p->W;
        h = (h + 1) & (p->cap - 1);
    }
    return zeros;
}

/* Length of the longest common subsequence of the pattern's text and t (Hyyro's bit-parallel LCS). */
static Py_ssize_t
lcs_length(const Pattern *p, const uint32_t *t, Py_ssize_t n, uint64_t *S, const uint64_t *zeros)
{
    const Py_ssize_t W = p->W;
    if (!W)
        return 0;
    if (W == 1) {
        uint64_t s1 = ~(uint64_t)0;
        for (Py_ssize_t r = 0; r < n; r++) {
            const uint64_t u = s1 & pattern_mask(p, t[r], zeros)[0];
            s1 = (s1 + u) | (s1 - u);
        }
        const uint64_t low = p->len == 64 ? ~(uint64_t)0 : (((uint64_t)1 << p->len) - 1);
        return (Py_ssize_t)__builtin_popcountll(~s1 & low);
    }
/* A fixed number of words (a sentence of up to 256 characters) stays in registers. */
#define LCS_WORDS(WW)                                                                                          \
    do {                                                                                                       \
        uint64_t s[WW];                                                                                        \
        for (int w = 0; w < WW; w++)                                                                           \
            s[w] = ~(uint64_t)0;                                                                               \
        for (Py_ssize_t r = 0; r < n; r++) {                                                                   \
            const uint64_t *M = pattern_mask(p, t[r], zeros);                                                  \
            uint64_t carry = 0;                                                                                \
            for (int w = 0; w < WW; w++) {                                                                     \
                const uint64_t u = s[w] & M[w];                                                                \
                s[w] = add_carry(s[w], u, &carry) | (s[w] ^ u);                                                \
            }                                                                                                  \
        }                                                                                                      \
        for (int w = 0; w < WW; w++)                                                                           \
            S[w] = s[w];                                                                                       \
    } while (0)
    if (W == 2)
        LCS_WORDS(2);
    else if (W == 3)
        LCS_WORDS(3);
    else if (W == 4)
        LCS_WORDS(4);
    else {
        for (Py_ssize_t w = 0; w < W; w++)
            S[w] = ~(uint64_t)0;
        for (Py_ssize_t r = 0; r < n; r++) {
            const uint64_t *M = pattern_mask(p, t[r], zeros);
            uint64_t carry = 0;
            for (Py_ssize_t w = 0; w < W; w++) {
                const uint64_t sw = S[w], u = sw & M[w];
                S[w] = add_carry(sw, u, &carry) | (sw ^ u); /* S - u: u's bits are within S's: no borrow */
            }
        }
    }
#undef LCS_WORDS
    Py_ssize_t count = 0;
    for (Py_ssize_t w = 0; w < W; w++) {
        const Py_ssize_t bits = w + 1 < W ? 64 : p->len - 64 * w;
        const uint64_t low = bits == 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
        count += __builtin_popcountll(~S[w] & low);
    }
    return count;
}

static inline double
indel_ratio(Py_ssize_t lensum, Py_ssize_t lcs, double cutoff)
{
    /* rapidfuzz: norm_dist = dist / lensum, norm_sim = 1 - norm_dist, x 100 when >= the cut */
    const Py_ssize_t dist = lensum - 2 * lcs;
    const double norm_dist = lensum ? (double)dist / (double)lensum : 0.0;
    const double norm_sim = 1.0 - norm_dist;
    return norm_sim >= cutoff ? norm_sim * 100.0 : 0.0;
}

/* The code points of a list of str, in one array (built with the GIL held). */
typedef struct {
    uint32_t *cps;
    Py_ssize_t *start; /* n + 1 */
    Py_ssize_t n, longest;
} Texts;

static void
texts_free(Texts *t)
{
    free(t->cps);
    free(t->start);
    t->cps = NULL;
    t->start = NULL;
}

/* 0, or -1 with an exception set. */
static int
texts_build(PyObject *list, Texts *t)
{
    memset(t, 0, sizeof(*t));
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "texts must be a list of str");
        return -1;
    }
    const Py_ssize_t n = PyList_GET_SIZE(list);
    Py_ssize_t total = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *str = PyList_GET_ITEM(list, k);
        if (!PyUnicode_Check(str)) {
            PyErr_Format(PyExc_TypeError, "texts[%zd] is not a str", k);
            return -1;
        }
        const Py_ssize_t len = PyUnicode_GET_LENGTH(str);
        total += len;
        t->longest = len > t->longest ? len : t->longest;
    }
    t->n = n;
    t->cps = malloc(sizeof(uint32_t) * (size_t)(total + 1));
    t->start = malloc(sizeof(Py_ssize_t) * (size_t)(n + 1));
    if (!t->cps || !t->start) {
        texts_free(t);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *str = PyList_GET_ITEM(list, k);
        const int kind = PyUnicode_KIND(str);
        const void *data = PyUnicode_DATA(str);
        const Py_ssize_t len = PyUnicode_GET_LENGTH(str);
        t->start[k] = at;
        for (Py_ssize_t c = 0; c < len; c++)
            t->cps[at++] = (uint32_t)PyUnicode_READ(kind, data, c);
    }
    t->start[n] = at;
    return 0;
}

/* Python's str comparison (code point order) of texts a and b: <0, 0, >0. */
static int
texts_cmp(const Texts *t, int64_t a, int64_t b)
{
    const uint32_t *x = t->cps + t->start[a], *y = t->cps + t->start[b];
    const Py_ssize_t nx = t->start[a + 1] - t->start[a], ny = t->start[b + 1] - t->start[b];
    for (Py_ssize_t k = 0; k < nx && k < ny; k++)
        if (x[k] != y[k])
            return x[k] < y[k] ? -1 : 1;
    return nx < ny ? -1 : (nx > ny ? 1 : 0);
}

/* What the ratio of two texts needs: the pattern of the last first text, and LCS work space. */
typedef struct {
    Pattern pat;
    uint64_t *S, *zeros;
    int64_t built;
} RatioCtx;

static void
ratio_free(RatioCtx *r)
{
    free(r->S);
    free(r->zeros);
    free(r->pat.ascii);
    free(r->pat.keys);
    free(r->pat.slot);
    free(r->pat.other);
    memset(r, 0, sizeof(*r));
}

/* 0, or -1 when out of memory (no exception set: callable without the GIL). */
static int
ratio_init(RatioCtx *r, Py_ssize_t longest)
{
    memset(r, 0, sizeof(*r));
    const Py_ssize_t Wmax = (longest + 63) / 64 + 1;
    Py_ssize_t capmax = 16;
    while (capmax < 2 * longest)
        capmax <<= 1;
    r->S = calloc((size_t)Wmax, sizeof(uint64_t));
    r->zeros = calloc((size_t)Wmax, sizeof(uint64_t));
    r->pat.ascii = calloc((size_t)(128 * Wmax), sizeof(uint64_t));
    r->pat.keys = malloc(sizeof(uint32_t) * (size_t)capmax);
    r->pat.slot = malloc(sizeof(Py_ssize_t) * (size_t)capmax);
    r->pat.other = calloc((size_t)((longest + 1) * Wmax), sizeof(uint64_t));
    r->built = -1;
    if (!r->S || !r->zeros || !r->pat.ascii || !r->pat.keys || !r->pat.slot || !r->pat.other) {
        ratio_free(r);
        return -1;
    }
    for (Py_ssize_t k = 0; k < capmax; k++)
        r->pat.slot[k] = -1;
    return 0;
}

/* fuzz.ratio(texts[a], texts[b], score_cutoff=100 * cutoff). */
static double
ratio_of(RatioCtx *r, const Texts *t, int64_t a, int64_t b, double cutoff)
{
    const Py_ssize_t la = t->start[a + 1] - t->start[a], lb = t->start[b + 1] - t->start[b], lensum = la + lb;
    if (indel_ratio(lensum, la < lb ? la : lb, cutoff) == 0.0) /* an upper bound first: LCS <= the shorter text */
        return 0.0;
    if (a != r->built) {
        pattern_set(&r->pat, t->cps + t->start[a], la);
        r->built = a;
    }
    return indel_ratio(lensum, lcs_length(&r->pat, t->cps + t->start[b], lb, r->S, r->zeros), cutoff);
}

/* ratios(texts list[str], i i64[m], j i64[m], out f64[m], score_cutoff) -> None (cutoff as rapidfuzz's, 0..100) */
static PyObject *
k_ratios(PyObject *self, PyObject *args)
{
    PyObject *texts, *oi, *oj, *oo;
    double score_cutoff;
    Buffers bs = {.n = 0};
    Texts t = {0};
    RatioCtx r;
    if (!PyArg_ParseTuple(args, "O!OOOd", &PyList_Type, &texts, &oi, &oj, &oo, &score_cutoff))
        return NULL;
    const double cutoff = score_cutoff / 100.0;
    Py_ssize_t m, n = PyList_GET_SIZE(texts);
    const int64_t *pi = arg(&bs, oi, 8, 0, -1, &m, "i");
    const int64_t *pj = pi ? arg(&bs, oj, 8, 0, m, NULL, "j") : NULL;
    double *out = pj ? arg(&bs, oo, 8, 1, m, NULL, "out") : NULL;
    if (!out || check_ids(pi, m, n, "i") < 0 || check_ids(pj, m, n, "j") < 0 || texts_build(texts, &t) < 0)
        goto fail;
    if (ratio_init(&r, t.longest) < 0) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < m; k++)
        out[k] = ratio_of(&r, &t, pi[k], pj[k], cutoff);
    Py_END_ALLOW_THREADS
    ratio_free(&r);
    texts_free(&t);
    release_all(&bs);
    Py_RETURN_NONE;
fail:
    texts_free(&t);
    release_all(&bs);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The two verification stages of BatchScorer in one call each: pair scores, then greedy covers
 * with their links.  They compose the pieces above as the reference rules state them
 * (dedup/_verify/reference.py; tests/test_batchverify.py holds both paths to the same links).
 */

/* _verify.locality_of: 1, or less when a (n_a tokens) is strewn over a much longer b. */
static inline double
locality_from(int found, const int64_t e[4], int64_t n_a, int64_t n_b, double spread)
{
    if ((double)n_b <= spread * (double)n_a || !found)
        return 1.0;
    const double v = spread * (double)n_a / (double)(e[3] - e[2]);
    return v < 1.0 ? v : 1.0;
}

/* _verify._trim: the aligned token range, widened to the sentence edges when little is left out. */
static inline void
trim_range(int64_t first, int64_t last, int64_t n, const Rules *rules, int64_t out[2])
{
    if ((double)(last - first) >= rules->whole_share * (double)n) {
        out[0] = 0;
        out[1] = n;
        return;
    }
    const int64_t share = n / rules->edge_slack_divisor;
    const int64_t slack = share > rules->edge_slack_min ? share : rules->edge_slack_min;
    out[0] = first <= slack ? 0 : first;
    out[1] = n - last <= slack ? n : last;
}

typedef struct {
    const int64_t *start, *stem, *pos;
} Seq;

static int
parse_seq(Buffers *bs, PyObject **o, Py_ssize_t n, Seq *q)
{
    Py_ssize_t T;
    if (!(q->start = arg(bs, o[0], 8, 0, n + 1, NULL, "seq_start")))
        return -1;
    if (!(q->stem = arg(bs, o[1], 8, 0, -1, &T, "seq_stem")))
        return -1;
    if (!(q->pos = arg(bs, o[2], 8, 0, T, NULL, "seq_pos")))
        return -1;
    return check_starts(q->start, n, T, "seq_start");
}

/* pair_stage(i, j, <8 CSR>, <3 seq>, texts, norm_id i64[n], n_tokens i64[n], floor_eps, rules,
 *            c_ij f64[m], c_ji f64[m]) -> (keep_i, keep_j, keep_score, equal_i, equal_j) as bytes
 *
 * BatchScorer._pair_stage + _pairs: containment both ways (into c_ij, c_ji), the character ratio
 * with the substitution factor, the locality factor where it can matter, and the pairs scoring
 * at least floor_eps (equal texts apart).
 */
static PyObject *
k_pair_stage(PyObject *self, PyObject *args)
{
    PyObject *o[20], *rules_o;
    double floor_eps;
    Rules rules;
    Buffers bs = {.n = 0};
    Csr c;
    Seq q;
    Texts t = {0};
    RatioCtx rc;
    Dense dense = {0};
    Vec ki = {.item = 8}, kj = {.item = 8}, ks = {.item = 8}, ei = {.item = 8}, ej = {.item = 8};
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOO!OOdOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                          &o[8], &o[9], &o[10], &o[11], &o[12], &PyList_Type, &o[13], &o[14], &o[15], &floor_eps,
                          &rules_o, &o[16], &o[17]) ||
        parse_rules(rules_o, &rules) < 0)
        return NULL;
    const double spread = rules.spread;
    Py_ssize_t m;
    const int64_t *pi = arg(&bs, o[0], 8, 0, -1, &m, "i");
    const int64_t *pj = pi ? arg(&bs, o[1], 8, 0, m, NULL, "j") : NULL;
    if (!pj || parse_csr(&bs, o + 2, &c) < 0 || parse_seq(&bs, o + 10, c.n, &q) < 0)
        goto fail;
    const int64_t *norm_id = arg(&bs, o[14], 8, 0, c.n, NULL, "norm_id");
    const int64_t *nt = norm_id ? arg(&bs, o[15], 8, 0, c.n, NULL, "n_tokens") : NULL;
    double *c_ij = nt ? arg(&bs, o[16], 8, 1, m, NULL, "c_ij") : NULL;
    double *c_ji = c_ij ? arg(&bs, o[17], 8, 1, m, NULL, "c_ji") : NULL;
    if (!c_ji || check_ids(pi, m, c.n, "i") < 0 || check_ids(pj, m, c.n, "j") < 0)
        goto fail;
    if (PyList_GET_SIZE(o[13]) != c.n) {
        PyErr_SetString(PyExc_ValueError, "pair_stage: one text per sentence expected");
        goto fail;
    }
    if (texts_build(o[13], &t) < 0)
        goto fail;
    if (ratio_init(&rc, t.longest) < 0) {
        texts_free(&t);
        PyErr_NoMemory();
        goto fail;
    }
    dense_init(&dense, &c);
    int oom = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < m && !oom; k++) {
        const int64_t i = pi[k], j = pj[k];
        double subst;
        pair_containment(&c, &dense, i, j, rules.shrink, &c_ij[k], &c_ji[k], &subst);
        if (norm_id[i] == norm_id[j]) {
            oom |= vec_push(&ei, &i) | vec_push(&ej, &j);
            continue;
        }
        const double raw = ratio_of(&rc, &t, i, j, rules.ratio_zero);
        double ratio = (raw / 100.0 - rules.ratio_zero) / (1.0 - rules.ratio_zero);
        ratio = (ratio > 0.0 ? ratio : 0.0) * subst;
        const double both = c_ij[k] < c_ji[k] ? c_ij[k] : c_ji[k];
        if ((ratio > both ? ratio : both) < floor_eps)
            continue;
        double loc_ij = 1.0, loc_ji = 1.0;
        if (both > ratio) { /* the locality factor can only matter where containment beats the ratio */
            int64_t e[4];
            if ((double)nt[j] > spread * (double)nt[i]) {
                const int r = seq_ends(q.start, q.stem, q.pos, i, j, e);
                oom |= r < 0;
                loc_ij = locality_from(r == 1, e, nt[i], nt[j], spread);
            }
            if ((double)nt[i] > spread * (double)nt[j]) {
                const int r = seq_ends(q.start, q.stem, q.pos, j, i, e);
                oom |= r < 0;
                loc_ji = locality_from(r == 1, e, nt[j], nt[i], spread);
            }
        }
        const double x = c_ij[k] * loc_ij, y = c_ji[k] * loc_ji, lower = x < y ? x : y;
        const double score = ratio > lower ? ratio : lower;
        if (score >= floor_eps)
            oom |= vec_push(&ki, &i) | vec_push(&kj, &j) | vec_push(&ks, &score);
    }
    Py_END_ALLOW_THREADS
    dense_free(&dense);
    ratio_free(&rc);
    texts_free(&t);
    release_all(&bs);
    if (oom) {
        free(ki.data);
        free(kj.data);
        free(ks.data);
        free(ei.data);
        free(ej.data);
        return PyErr_NoMemory();
    }
    return Py_BuildValue("(NNNNN)", vec_bytes(&ki), vec_bytes(&kj), vec_bytes(&ks), vec_bytes(&ei), vec_bytes(&ej));
fail:
    release_all(&bs);
    return NULL;
}

/* Most sources per fused sentence (the picks of a row live on the stack): the Python side's
 * KERNEL_MAX_SOURCES (dedup/_verify/batch.py), which sends larger values to the numpy path. */
#define COVER_MAX_SOURCES 64

typedef struct {
    int64_t a, b;
    double c;
} PoolPair;

static int
cmp_pool(const void *x, const void *y)
{
    const PoolPair *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : (p->b > q->b ? 1 : 0);
}

/* The closest partners of a large pool: by value (containment x locality), then text, then position. */
typedef struct {
    double value;
    int64_t b;
    Py_ssize_t k;
} Ranked;

static const Texts *ranked_texts; /* the texts cmp_ranked compares (the GIL serialises its users) */

static int
cmp_ranked(const void *x, const void *y)
{
    const Ranked *p = x, *q = y;
    if (p->value != q->value)
        return p->value > q->value ? -1 : 1;
    const int t = texts_cmp(ranked_texts, p->b, q->b);
    if (t)
        return t;
    return p->k < q->k ? -1 : (p->k > q->k ? 1 : 0);
}

/* cover_stage(a, b, c (pool pairs, any order), <8 CSR>, <3 seq>, texts, rank i64[n], n_tokens i64[n],
 *             beaten_codes i64[sorted], beaten_scores f64, floor_eps, min_gain, max_sources, rules)
 *             -> (links bytes i64[L*7], scores bytes f64[L])
 *
 * BatchScorer._covers: pools over rules.max_pool partners trimmed to the closest, the greedy cover of
 * every row, and the links that can count (not under the floor, above the beaten score of the
 * pair, code lo * n + hi), in row order then pick order.  Each link is (i, j, kind: 0 near /
 * 1 fusion, span_i first, last, span_j first, last) with its unrounded score.
 */
static PyObject *
k_cover_stage(PyObject *self, PyObject *args)
{
    PyObject *o[20], *rules_o;
    double floor_eps, min_gain;
    Py_ssize_t max_sources;
    Rules rules;
    Buffers bs = {.n = 0};
    Csr c;
    Seq q;
    Texts t = {0};
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOO!OOOOddnO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &PyList_Type, &o[14], &o[15], &o[16],
                          &o[17], &o[18], &floor_eps, &min_gain, &max_sources, &rules_o) ||
        parse_rules(rules_o, &rules) < 0)
        return NULL;
    const double spread = rules.spread;
    const Py_ssize_t max_pool = rules.max_pool;
    Py_ssize_t m, nb_codes;
    const int64_t *pa = arg(&bs, o[0], 8, 0, -1, &m, "a");
    const int64_t *pb = pa ? arg(&bs, o[1], 8, 0, m, NULL, "b") : NULL;
    const double *pc = pb ? arg(&bs, o[2], 8, 0, m, NULL, "c") : NULL;
    if (!pc || parse_csr(&bs, o + 3, &c) < 0 || parse_seq(&bs, o + 11, c.n, &q) < 0)
        goto fail;
    const int64_t *rank = arg(&bs, o[15], 8, 0, c.n, NULL, "rank");
    const int64_t *nt = rank ? arg(&bs, o[16], 8, 0, c.n, NULL, "n_tokens") : NULL;
    const int64_t *codes = nt ? arg(&bs, o[17], 8, 0, -1, &nb_codes, "beaten_codes") : NULL;
    const double *beaten = codes ? arg(&bs, o[18], 8, 0, nb_codes, NULL, "beaten_scores") : NULL;
    if (!beaten || check_ids(pa, m, c.n, "a") < 0 || check_ids(pb, m, c.n, "b") < 0)
        goto fail;
    if (max_sources < 1 || max_sources > COVER_MAX_SOURCES) {
        PyErr_Format(PyExc_ValueError, "cover_stage: max_sources must be in [1, %d]", COVER_MAX_SOURCES);
        goto fail;
    }
    if (PyList_GET_SIZE(o[14]) != c.n) {
        PyErr_SetString(PyExc_ValueError, "cover_stage: one text per sentence expected");
        goto fail;
    }
    for (Py_ssize_t k = 1; k < nb_codes; k++)
        if (codes[k] <= codes[k - 1]) {
            PyErr_SetString(PyExc_ValueError, "cover_stage: beaten codes must be sorted and distinct");
            goto fail;
        }
    if (texts_build(o[14], &t) < 0)
        goto fail;
    Py_ssize_t max_cw = 0;
    for (Py_ssize_t i = 0; i < c.n; i++)
        max_cw = c.cw_start[i + 1] - c.cw_start[i] > max_cw ? c.cw_start[i + 1] - c.cw_start[i] : max_cw;
    const Py_ssize_t V = c.vocabulary;
    PoolPair *pool = malloc(sizeof(PoolPair) * (size_t)(m ? m : 1));
    int64_t *sb = malloc(sizeof(int64_t) * (size_t)(m ? m : 1)), *step = malloc(sizeof(int64_t) * (size_t)(m ? m : 1));
    uint8_t *active = malloc((size_t)(m ? m : 1));
    Ranked *ranked = malloc(sizeof(Ranked) * (size_t)(m ? m : 1));
    uint8_t *cov = calloc((size_t)(max_cw ? max_cw : 1), 1), *found = calloc((size_t)(max_cw ? max_cw : 1), 1);
    int32_t *pos = V <= dense_max_stems ? calloc((size_t)(V ? V : 1), sizeof(int32_t)) : NULL;
    Vec links = {.item = 8}, scores = {.item = 8};
    int oom = !pool || !sb || !step || !active || !ranked || !cov || !found;
    if (!oom) {
        for (Py_ssize_t k = 0; k < m; k++)
            pool[k] = (PoolPair){pa[k], pb[k], pc[k]};
        qsort(pool, (size_t)m, sizeof(PoolPair), cmp_pool);
        for (Py_ssize_t k = 0; k < m; k++) {
            sb[k] = pool[k].b;
            active[k] = 1;
            step[k] = -1;
        }
    }
    ranked_texts = &t; /* cmp_ranked runs below with the GIL held */
    for (Py_ssize_t lo = 0, hi; lo < m && !oom; lo = hi) {
        const int64_t r = pool[lo].a;
        for (hi = lo; hi < m && pool[hi].a == r; hi++)
            ;
        if (hi - lo <= max_pool)
            continue;
        /* only the partners containing most of r can be picked (ties: by text, then position) */
        for (Py_ssize_t k = lo; k < hi; k++) {
            double value = pool[k].c;
            if ((double)nt[pool[k].b] > spread * (double)nt[r]) {
                int64_t e[4];
                const int f = seq_ends(q.start, q.stem, q.pos, r, pool[k].b, e);
                oom |= f < 0;
                value *= locality_from(f == 1, e, nt[r], nt[pool[k].b], spread);
            }
            ranked[k - lo] = (Ranked){value, pool[k].b, k};
            active[k] = 0;
        }
        qsort(ranked, (size_t)(hi - lo), sizeof(Ranked), cmp_ranked);
        for (Py_ssize_t x = 0; x < max_pool; x++)
            active[ranked[x].k] = 1;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t lo = 0, hi; lo < m && !oom; lo = hi) {
        const int64_t r = pool[lo].a;
        for (hi = lo; hi < m && pool[hi].a == r; hi++)
            ;
        const double covw =
            cover_row(&c, r, sb, active, lo, hi, rank, min_gain, max_sources, &rules, step, pos, cov, found);
        /* the picks in pick order, and the links that can count */
        int64_t picks[COVER_MAX_SOURCES];
        double first_c = 0.0;
        Py_ssize_t n_picks = 0;
        for (Py_ssize_t s = 0; s < max_sources && n_picks < COVER_MAX_SOURCES; s++)
            for (Py_ssize_t k = lo; k < hi; k++)
                if (step[k] == s) {
                    if (!n_picks)
                        first_c = pool[k].c;
                    picks[n_picks++] = pool[k].b;
                    break;
                }
        if (!n_picks)
            continue;
        const double uni = covw / (c.total[r] + rules.shrink);
        int wanted[COVER_MAX_SOURCES], any = 0;
        for (Py_ssize_t n = 0; n < n_picks; n++) {
            const double bound = n_picks == 1 ? first_c : (n == 0 ? (uni >= first_c ? uni : first_c) : uni);
            const int64_t j = picks[n], code = (r < j ? r : j) * (int64_t)c.n + (r < j ? j : r);
            double known = -1.0;
            Py_ssize_t lo_c = 0, hi_c = nb_codes;
            while (lo_c < hi_c) { /* binary search of the pair among the beaten links */
                const Py_ssize_t mid = (lo_c + hi_c) / 2;
                if (codes[mid] < code)
                    lo_c = mid + 1;
                else
                    hi_c = mid;
            }
            if (lo_c < nb_codes && codes[lo_c] == code)
                known = beaten[lo_c];
            wanted[n] = bound >= floor_eps && bound > known;
            any |= wanted[n];
        }
        if (!any)
            continue;
        int64_t e[4];
        double first_score = 0.0;
        if (wanted[0]) {
            const int f = seq_ends(q.start, q.stem, q.pos, r, picks[0], e);
            oom |= f < 0;
            first_score = first_c * locality_from(f == 1, e, nt[r], nt[picks[0]], spread);
        }
        for (Py_ssize_t n = 0; n < n_picks; n++) {
            if (!wanted[n])
                continue;
            const int64_t j = picks[n];
            const int f = seq_ends(q.start, q.stem, q.pos, r, j, e);
            oom |= f < 0;
            if (f != 1)
                continue;
            int64_t row[7] = {r, j, n_picks > 1, 0, 0, 0, 0};
            trim_range(e[0], e[1], nt[r], &rules, row + 3);
            trim_range(e[2], e[3], nt[j], &rules, row + 5);
            const double score =
                n_picks == 1 ? first_score : (n == 0 ? (uni >= first_score ? uni : first_score) : uni);
            for (int x = 0; x < 7; x++)
                oom |= vec_push(&links, &row[x]);
            oom |= vec_push(&scores, &score);
        }
    }
    Py_END_ALLOW_THREADS
    free(pool);
    free(sb);
    free(step);
    free(active);
    free(ranked);
    free(cov);
    free(found);
    free(pos);
    texts_free(&t);
    release_all(&bs);
    if (oom) {
        free(links.data);
        free(scores.data);
        return PyErr_NoMemory();
    }
    return Py_BuildValue("(NN)", vec_bytes(&links), vec_bytes(&scores));
fail:
    release_all(&bs);
    return NULL;
}

static PyMethodDef kernels_methods[] = {
    {"pair_stage", k_pair_stage, METH_VARARGS, "pair_stage(...): the pair scores of a verification batch"},
    {"cover_stage", k_cover_stage, METH_VARARGS, "cover_stage(...): the greedy covers and their links"},
    {"ratios", k_ratios, METH_VARARGS, "ratios(texts, i, j, out): fuzz.ratio of text pairs, cut at 50"},
    {"set_dense_limit", k_set_dense_limit, METH_VARARGS, "set_dense_limit(n) -> previous: stem ids with tables"},
    {"flatten", k_flatten, METH_VARARGS, "flatten(sentences, ...): token columns and normalised texts"},
    {"profiles", k_profiles, METH_VARARGS, "profiles(...): per-sentence stem sets in CSR form"},
    {"align_ends", k_align_ends, METH_VARARGS, "align_ends(...): first and last aligned content words of pairs"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kernels_module = {
    PyModuleDef_HEAD_INIT, "dedup._ckernels", "Compiled numeric kernels of dedup.", -1, kernels_methods,
};

PyMODINIT_FUNC
PyInit__ckernels(void)
{
    return PyModule_Create(&kernels_module);
}
