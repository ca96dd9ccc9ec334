/* Compiled kernels of dedup: the numeric inner loops of sketching, LSH and the band table.
 *
 * - band_keys, pair_counts, lsh_pairs, shingles: dedup/_sketch (band keys, an article's bucket
 *   pairs; MinHash signatures are in dedup/_sketch/_kernels.pyx, where these move next);
 * - table_lookup: dedup/_bandtable.py (probes and chain walks of the index's band table);
 * - the verification kernels are Cython: dedup/_verify/_kernels.pyx.
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
#include <pthread.h>
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

static int
cmp_u32(const void *x, const void *y)
{
    const uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : (a > b ? 1 : 0);
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

static inline uint64_t
mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* shingles(sentences, stems_at, content_at, cache dict, fill, n) -> (hashes bytes u32, offsets bytes i64)
 *
 * _shingle.sentence_shingle_hashes: each sentence's content stems (all its stems when it has no
 * content word), their 64-bit token hashes (from cache, else fill(stem)), n-gram hashes mixed as
 * in numpy, the high 32 bits, sorted and distinct per sentence; offsets start each sentence's run.
 */
static PyObject *
k_shingles(PyObject *self, PyObject *args)
{
    PyObject *sents, *cache, *fill;
    Py_ssize_t at_stems, at_content, n;
    if (!PyArg_ParseTuple(args, "O!nnO!On", &PyList_Type, &sents, &at_stems, &at_content, &PyDict_Type, &cache, &fill,
                          &n))
        return NULL;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "shingles: n must be at least 1");
        return NULL;
    }
    const Py_ssize_t n_sents = PyList_GET_SIZE(sents);
    Py_ssize_t cap = 256, used = 0, tcap = 64;
    uint32_t *out = malloc(sizeof(uint32_t) * (size_t)cap);
    uint64_t *tok = malloc(sizeof(uint64_t) * (size_t)tcap);
    PyObject *b_off = PyBytes_FromStringAndSize(NULL, 8 * n_sents);
    if (!out || !tok || !b_off) {
        free(out);
        free(tok);
        Py_XDECREF(b_off);
        return PyErr_NoMemory();
    }
    int64_t *offsets = (int64_t *)PyBytes_AS_STRING(b_off);
    for (Py_ssize_t i = 0; i < n_sents; i++) {
        PyObject *row = PyList_GET_ITEM(sents, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) <= at_stems || PyTuple_GET_SIZE(row) <= at_content) {
            PyErr_Format(PyExc_TypeError, "shingles: sentences[%zd] is not a sentence tuple", i);
            goto fail;
        }
        PyObject *stems = PyTuple_GET_ITEM(row, at_stems), *content = PyTuple_GET_ITEM(row, at_content);
        if (!PyTuple_Check(stems) || !PyTuple_Check(content) || PyTuple_GET_SIZE(content) != PyTuple_GET_SIZE(stems)) {
            PyErr_Format(PyExc_TypeError, "shingles: sentences[%zd] has inconsistent token tuples", i);
            goto fail;
        }
        const Py_ssize_t len = PyTuple_GET_SIZE(stems);
        int has_content = 0;
        for (Py_ssize_t k = 0; k < len && !has_content; k++) {
            const int c = PyObject_IsTrue(PyTuple_GET_ITEM(content, k));
            if (c < 0)
                goto fail;
            has_content = c;
        }
        if (len + 1 > tcap) {
            tcap = 2 * (len + 1);
            uint64_t *grown = realloc(tok, sizeof(uint64_t) * (size_t)tcap);
            if (!grown) {
                PyErr_NoMemory();
                goto fail;
            }
            tok = grown;
        }
        Py_ssize_t nt = 0;
        for (Py_ssize_t k = 0; k < len; k++) {
            if (has_content) {
                const int c = PyObject_IsTrue(PyTuple_GET_ITEM(content, k));
                if (c < 0)
                    goto fail;
                if (!c)
                    continue;
            }
            PyObject *stem = PyTuple_GET_ITEM(stems, k);
            PyObject *h = PyDict_GetItemWithError(cache, stem); /* borrowed */
            uint64_t value = 0;
            if (h)
                value = PyLong_AsUnsignedLongLong(h);
            if (!h || !value) { /* as _token_hashes: a missing (or zero) hash is filled */
                if (PyErr_Occurred())
                    goto fail;
                PyObject *fresh = PyObject_CallOneArg(fill, stem);
                if (!fresh)
                    goto fail;
                value = PyLong_AsUnsignedLongLong(fresh);
                Py_DECREF(fresh);
            }
            if (value == (uint64_t)-1 && PyErr_Occurred())
                goto fail;
            tok[nt++] = value;
        }
        /* n-gram hashes, as _batch_ngrams / _ngram_hashes */
        Py_ssize_t count, width;
        if (n == 1 || nt <= 1) {
            count = nt;
            width = 1;
        }
        else {
            width = n < nt ? n : nt;
            count = nt - width + 1;
        }
        if (used + count > cap) {
            while (used + count > cap)
                cap *= 2;
            uint32_t *grown = realloc(out, sizeof(uint32_t) * (size_t)cap);
            if (!grown) {
                PyErr_NoMemory();
                goto fail;
            }
            out = grown;
        }
        offsets[i] = used;
        uint32_t *run = out + used;
        for (Py_ssize_t k = 0; k < count; k++) {
            uint64_t acc = tok[k];
            if (width > 1) {
                for (Py_ssize_t x = 1; x < width; x++)
                    acc = acc * 0x9E3779B97F4A7C15ull + tok[k + x];
                acc = mix64(acc);
            }
            run[k] = (uint32_t)(acc >> 32);
        }
        SMALL_OR_QSORT(uint32_t, run, count, GREATER_NUM, cmp_u32);
        Py_ssize_t m = count ? 1 : 0;
        for (Py_ssize_t k = 1; k < count; k++)
            if (run[k] != run[m - 1])
                run[m++] = run[k];
        used += m;
    }
    PyObject *b_hashes = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)(4 * used));
    free(out);
    free(tok);
    if (!b_hashes) {
        Py_DECREF(b_off);
        return NULL;
    }
    return Py_BuildValue("(NN)", b_hashes, b_off);
fail:
    free(out);
    free(tok);
    Py_DECREF(b_off);
    return NULL;
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

/* ---------------------------------------------------------------------------------------------
 * LSH (dedup/_sketch.py): band keys, and the row pairs sharing band keys with how many they share.
 */

/* One 64-bit key per (row, band): _sketch.band_keys. */
static void
band_keys_into(const uint32_t *sig, Py_ssize_t n, Py_ssize_t num_perm, Py_ssize_t bands, Py_ssize_t rows,
               uint64_t *out)
{
    for (Py_ssize_t i = 0; i < n; i++)
        for (Py_ssize_t band = 0; band < bands; band++) {
            uint64_t acc = 0;
            const uint32_t *v = sig + i * num_perm + band * rows;
            for (Py_ssize_t k = 0; k < rows; k++)
                acc = (acc ^ (uint64_t)v[k]) * 0x100000001B3ull + (uint64_t)(k + 1);
            acc ^= acc >> 29;
            acc *= 0xBF58476D1CE4E5B9ull;
            acc ^= acc >> 32;
            out[i * bands + band] = acc + (uint64_t)band * 0x9E3779B97F4A7C15ull;
        }
}

/* band_keys(sigs u32[n*num_perm], num_perm, bands, rows, out u64[n*bands]) -> None */
static PyObject *
k_band_keys(PyObject *self, PyObject *args)
{
    PyObject *os, *oo;
    Py_ssize_t num_perm, bands, rows, n_sig, n_out;
    Buffers bs = {.n = 0};
    if (!PyArg_ParseTuple(args, "OnnnO", &os, &num_perm, &bands, &rows, &oo))
        return NULL;
    const uint32_t *sig = arg(&bs, os, 4, 0, -1, &n_sig, "sigs");
    uint64_t *out = sig ? arg(&bs, oo, 8, 1, -1, &n_out, "out") : NULL;
    if (!out)
        goto fail;
    if (num_perm <= 0 || bands <= 0 || rows <= 0 || bands * rows > num_perm || n_sig % num_perm ||
        n_out != n_sig / num_perm * bands) {
        PyErr_SetString(PyExc_ValueError, "band_keys: inconsistent sizes");
        goto fail;
    }
    const Py_ssize_t n = n_sig / num_perm;
    Py_BEGIN_ALLOW_THREADS
    band_keys_into(sig, n, num_perm, bands, rows, out);
    Py_END_ALLOW_THREADS
    release_all(&bs);
    Py_RETURN_NONE;
fail:
    release_all(&bs);
    return NULL;
}

/* Rows up to which pair counts are tallied in an n x n table rather than sorted. */
#define PAIR_TABLE_MAX_ROWS 512

/* Rows of one band grouped by key with a hash table (rows stay in ascending order in a group).
 * A slot holds its key, the group's first and last rows and its size side by side: a probe and
 * its update touch one cache line (the table is far larger than the caches at corpus scale). */
typedef struct {
    uint64_t key;
    Py_ssize_t head, tail, size;
} Slot;

typedef struct {
    Py_ssize_t hcap, n_used;
    Slot *slot;
    Py_ssize_t *next, *used, *members;
} Groups;

static void
groups_free(Groups *g)
{
    free(g->slot);
    free(g->next);
    free(g->used);
    free(g->members);
    memset(g, 0, sizeof(*g));
}

static int
groups_init(Groups *g, Py_ssize_t n)
{
    memset(g, 0, sizeof(*g));
    g->hcap = 16;
    while (g->hcap < 2 * n)
        g->hcap <<= 1;
    const size_t h = (size_t)g->hcap, r = (size_t)(n + 1);
    g->slot = malloc(sizeof(Slot) * h);
    g->next = malloc(sizeof(Py_ssize_t) * r);
    g->used = malloc(sizeof(Py_ssize_t) * r);
    g->members = malloc(sizeof(Py_ssize_t) * r);
    if (!g->slot || !g->next || !g->used || !g->members) {
        groups_free(g);
        return -1;
    }
    for (Py_ssize_t k = 0; k < g->hcap; k++)
        g->slot[k].head = -1;
    return 0;
}

/* Group the rows of one band; the groups are g->used[0 .. g->n_used). */
static void
groups_band(Groups *g, const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands, Py_ssize_t band)
{
    for (Py_ssize_t u = 0; u < g->n_used; u++) /* clear the previous band's */
        g->slot[g->used[u]].head = -1;
    g->n_used = 0;
    const Py_ssize_t mask = g->hcap - 1;
    for (Py_ssize_t r = 0; r < n; r++) {
        const uint64_t key = keys[r * bands + band];
        Py_ssize_t h = (Py_ssize_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
        while (g->slot[h].head >= 0 && g->slot[h].key != key)
            h = (h + 1) & mask;
        Slot *s = &g->slot[h];
        g->next[r] = -1;
        if (s->head < 0) {
            s->key = key;
            s->head = s->tail = r;
            s->size = 1;
            g->used[g->n_used++] = h;
        }
        else {
            g->next[s->tail] = r;
            s->tail = r;
            s->size++;
        }
    }
}

/* The rows of group u (ascending) into g->members; returns how many. */
static Py_ssize_t
groups_members(Groups *g, Py_ssize_t u)
{
    Py_ssize_t k = 0;
    for (Py_ssize_t r = g->slot[g->used[u]].head; r >= 0; r = g->next[r])
        g->members[k++] = r;
    return k;
}

/* Keys of one band whose bucket is over max_bucket (sorted; most bands have none). */
typedef struct {
    uint64_t *keys;
    Py_ssize_t n;
} Oversized;

static int
oversized_has(const Oversized *o, uint64_t key)
{
    Py_ssize_t lo = 0, hi = o->n;
    while (lo < hi) {
        const Py_ssize_t mid = (lo + hi) / 2;
        if (o->keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < o->n && o->keys[lo] == key;
}

static int
cmp_u64(const void *x, const void *y)
{
    const uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : (a > b ? 1 : 0);
}

/* Bands b in [from, to) in which rows x and y share a key whose bucket is not oversized. */
static inline Py_ssize_t
shared_bands(const uint64_t *kx, const uint64_t *ky, const Oversized *over, Py_ssize_t from, Py_ssize_t to,
             Py_ssize_t stop_at)
{
    Py_ssize_t shared = 0;
    for (Py_ssize_t b = from; b < to && shared < stop_at; b++)
        shared += kx[b] == ky[b] && !(over[b].n && oversized_has(&over[b], kx[b]));
    return shared;
}

/* Rows from which the pair emission is split over two threads (by band range); tests lower it
 * with set_thread_min_rows() to run the threaded path on small inputs. */
static Py_ssize_t pair_thread_min_rows = 100000;

/* set_thread_min_rows(n) -> previous value */
static PyObject *
k_set_thread_min_rows(PyObject *self, PyObject *args)
{
    Py_ssize_t rows, previous = pair_thread_min_rows;
    if (!PyArg_ParseTuple(args, "n", &rows))
        return NULL;
    pair_thread_min_rows = rows;
    return PyLong_FromSsize_t(previous);
}

/* Groups bands [0, to) of keys (computing each band's oversized keys into over[band]) and pushes to
 * codes the pairs that reach min_shared shared keys at a band in [from, to): each pair once, at
 * that band (earlier bands are compared row against row).  0, or -1 when out of memory. */
static int
emit_bands(const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands, Py_ssize_t max_bucket, Py_ssize_t min_shared,
           Py_ssize_t from, Py_ssize_t to, Oversized *over, Vec *codes)
{
    Groups g;
    /* A bucket's members' keys of the earlier bands, copied side by side: the pair checks of a
     * bucket then read cache-resident rows (size reads from memory, not size^2). */
    const Py_ssize_t widest = max_bucket < n ? max_bucket : n; /* rows of the largest bucket paired */
    uint64_t *near = malloc(sizeof(uint64_t) * (size_t)(widest > 0 ? widest : 1) * (size_t)(bands ? bands : 1));
    int oom = groups_init(&g, n) < 0 || !near;
    for (Py_ssize_t band = 0; band < to && !oom; band++) {
        groups_band(&g, keys, n, bands, band);
        /* this band's oversized keys, before its pairs compare earlier bands */
        Py_ssize_t k = 0;
        for (Py_ssize_t u = 0; u < g.n_used; u++)
            k += g.slot[g.used[u]].size > max_bucket;
        if (k) {
            over[band].keys = malloc(sizeof(uint64_t) * (size_t)k);
            oom |= !over[band].keys;
            for (Py_ssize_t u = 0; u < g.n_used && !oom; u++)
                if (g.slot[g.used[u]].size > max_bucket)
                    over[band].keys[over[band].n++] = g.slot[g.used[u]].key;
            if (!oom)
                qsort(over[band].keys, (size_t)k, sizeof(uint64_t), cmp_u64);
        }
        if (band < from)
            continue;
        for (Py_ssize_t u = 0; u < g.n_used && !oom; u++) {
            const Py_ssize_t size = g.slot[g.used[u]].size;
            if (size < 2 || size > max_bucket)
                continue;
            groups_members(&g, u);
            if (band)
                for (Py_ssize_t x = 0; x < size; x++)
                    memcpy(near + x * band, keys + g.members[x] * bands, sizeof(uint64_t) * (size_t)band);
            for (Py_ssize_t x = 0; x < size && !oom; x++)
                for (Py_ssize_t y = x + 1; y < size; y++) {
                    if (shared_bands(near + x * band, near + y * band, over, 0, band, min_shared) != min_shared - 1)
                        continue; /* not there yet, or already emitted at an earlier band */
                    const int64_t code = g.members[x] * (int64_t)n + g.members[y];
                    oom |= vec_push(codes, &code);
                }
        }
    }
    groups_free(&g);
    free(near);
    return oom ? -1 : 0;
}

typedef struct {
    const uint64_t *keys;
    Py_ssize_t n, bands, max_bucket, min_shared, from, to;
    Oversized *over;
    Vec codes;
    int status;
} EmitJob;

static void *
emit_job(void *arg)
{
    EmitJob *job = arg;
    job->status = emit_bands(job->keys, job->n, job->bands, job->max_bucket, job->min_shared, job->from, job->to,
                             job->over, &job->codes);
    return NULL;
}

static void
over_free(Oversized *over, Py_ssize_t bands)
{
    if (over)
        for (Py_ssize_t b = 0; b < bands; b++)
            free(over[b].keys);
    free(over);
}

/* The distinct codes lo * n + hi (lo < hi) of the row pairs sharing at least min_shared band keys,
 * counting only buckets of 2 to max_bucket keys: what _bucket_pairs + unique_counts + the
 * min_shared cut compute in numpy.  Each band's rows are grouped on their own (the band number is
 * folded into every key, so keys of two bands never meet, as in numpy's per-band path).  Up to
 * PAIR_TABLE_MAX_ROWS rows the counts are tallied in an n x n table and the codes come sorted,
 * each with the number of bands the pair shares.  Above, each pair is emitted once, at the band
 * where it reaches min_shared shared keys (emit_bands; from pair_thread_min_rows rows the bands
 * are split between two threads, the second grouping the first's bands too for their oversized
 * keys), so no array of every pair of every band is built; the codes come unsorted, and their
 * counts only when want_counts.  Returns 0 with malloc'd arrays (free both; counts may be
 * NULL), or -1 when out of memory; no GIL needed. */
static int
pair_counts_core(const uint64_t *keys, Py_ssize_t n, Py_ssize_t bands, Py_ssize_t max_bucket, Py_ssize_t min_shared,
                 int want_counts, int64_t **codes_out, int64_t **counts_out, Py_ssize_t *n_out, int *sorted)
{
    const int tally = n <= PAIR_TABLE_MAX_ROWS;
    Vec codes = {.item = 8}, counts = {.item = 8};
    Oversized *over = NULL; /* every band's oversized keys, once known (for the counts) */
    int oom = 0;
    if (tally) {
        Groups g;
        int32_t *table = calloc((size_t)(n * n > 0 ? n * n : 1), sizeof(int32_t));
        oom = groups_init(&g, n) < 0 || !table;
        for (Py_ssize_t band = 0; band < bands && !oom; band++) {
            groups_band(&g, keys, n, bands, band);
            for (Py_ssize_t u = 0; u < g.n_used; u++) {
                const Py_ssize_t size = g.slot[g.used[u]].size;
                if (size < 2 || size > max_bucket)
                    continue;
                groups_members(&g, u);
                for (Py_ssize_t x = 0; x < size; x++)
                    for (Py_ssize_t y = x + 1; y < size; y++)
                        table[g.members[x] * (int64_t)n + g.members[y]]++;
            }
        }
        for (int64_t k = 0; k < (int64_t)(n * n) && !oom; k++)
            if (table[k] >= min_shared) {
                const int64_t count = table[k];
                oom |= vec_push(&codes, &k) | vec_push(&counts, &count);
            }
        groups_free(&g);
        free(table);
    }
    else if (n >= pair_thread_min_rows && bands >= 4) {
        /* Band ranges of about equal work: the second thread also groups the first's bands. */
        const Py_ssize_t split = bands * 5 / 8;
        Oversized *first = calloc((size_t)bands, sizeof(Oversized));
        over = calloc((size_t)bands, sizeof(Oversized));
        EmitJob job = {keys, n, bands, max_bucket, min_shared, split, bands, over, {.item = 8}, 0};
        pthread_t thread;
        int started = first && over && pthread_create(&thread, NULL, emit_job, &job) == 0;
        if (!started && first && over)
            emit_job(&job); /* no second thread: the same work in this one */
        oom = !first || !over || emit_bands(keys, n, bands, max_bucket, min_shared, 0, split, first, &codes) < 0;
        if (started)
            pthread_join(thread, NULL);
        oom |= job.status < 0;
        for (Py_ssize_t k = 0; k < job.codes.n && !oom; k++)
            oom |= vec_push(&codes, (int64_t *)job.codes.data + k);
        free(job.codes.data);
        over_free(first, bands);
    }
    else {
        over = calloc((size_t)(bands ? bands : 1), sizeof(Oversized));
        oom = !over || emit_bands(keys, n, bands, max_bucket, min_shared, 0, bands, over, &codes) < 0;
    }
    if (!tally && want_counts && !oom)
        for (Py_ssize_t k = 0; k < codes.n && !oom; k++) {
            const int64_t code = ((int64_t *)codes.data)[k], rx = code / n, ry = code % n;
            const int64_t count = shared_bands(keys + rx * bands, keys + ry * bands, over, 0, bands, bands);
            oom |= vec_push(&counts, &count);
        }
    over_free(over, bands);
    if (oom) {
        free(codes.data);
        free(counts.data);
        return -1;
    }
    *codes_out = codes.data ? (int64_t *)codes.data : malloc(8);
    *counts_out = tally || want_counts ? (counts.data ? (int64_t *)counts.data : malloc(8)) : NULL;
    *n_out = codes.n;
    *sorted = tally;
    return 0;
}

/* pair_counts(keys u64[n*bands], n, max_bucket, min_shared, want_counts)
 *     -> (codes bytes, counts bytes or None, sorted): pair_counts_core. */
static PyObject *
k_pair_counts(PyObject *self, PyObject *args)
{
    PyObject *ok;
    Py_ssize_t n, max_bucket, min_shared, n_keys;
    int want_counts;
    Buffers bs = {.n = 0};
    if (!PyArg_ParseTuple(args, "Onnnp", &ok, &n, &max_bucket, &min_shared, &want_counts))
        return NULL;
    const uint64_t *keys = arg(&bs, ok, 8, 0, -1, &n_keys, "keys");
    if (!keys)
        goto fail;
    if (n <= 0 || n_keys % n || min_shared < 1) {
        PyErr_SetString(PyExc_ValueError, "pair_counts: the keys are not n rows of bands, or min_shared < 1");
        goto fail;
    }
    int64_t *codes = NULL, *counts = NULL;
    Py_ssize_t n_out = 0;
    int sorted = 0, r;
    Py_BEGIN_ALLOW_THREADS
    r = pair_counts_core(keys, n, n_keys / n, max_bucket, min_shared, want_counts, &codes, &counts, &n_out, &sorted);
    Py_END_ALLOW_THREADS
    release_all(&bs);
    if (r < 0)
        return PyErr_NoMemory();
    PyObject *b_counts =
        counts ? PyBytes_FromStringAndSize((const char *)counts, (Py_ssize_t)(8 * n_out)) : Py_NewRef(Py_None);
    PyObject *out = b_counts ? Py_BuildValue("(y#NO)", (const char *)codes, (Py_ssize_t)(8 * n_out), b_counts,
                                             sorted ? Py_True : Py_False)
                             : NULL;
    free(codes);
    free(counts);
    return out;
fail:
    release_all(&bs);
    return NULL;
}

/* lsh_pairs(sigs u32[n*num_perm], doc i64[n], num_perm, bands, rows, min_shared, local_bands,
 *           local_rows, max_bucket, max_per_row) -> pair codes bytes i64 (lo * n + hi, sorted), or None
 *
 * engine.lsh_candidates for an article in one call: the band family across documents (pairs
 * sharing at least min_shared bands) and the family within a document (its keys mixed with the
 * document number), united.  None when a family has so many pairs that each row's best partners
 * must be chosen (candidate_pairs' max_per_row): the numpy path does that.
 */
static PyObject *
k_lsh_pairs(PyObject *self, PyObject *args)
{
    PyObject *os, *od;
    Py_ssize_t num_perm, bands, rows, min_shared, l_bands, l_rows, max_bucket, max_per_row, n_sig, n;
    Buffers bs = {.n = 0};
    if (!PyArg_ParseTuple(args, "OOnnnnnnnn", &os, &od, &num_perm, &bands, &rows, &min_shared, &l_bands, &l_rows,
                          &max_bucket, &max_per_row))
        return NULL;
    const uint32_t *sig = arg(&bs, os, 4, 0, -1, &n_sig, "sigs");
    const int64_t *doc = sig ? arg(&bs, od, 8, 0, -1, &n, "doc") : NULL;
    if (!doc)
        goto fail;
    if (num_perm <= 0 || bands <= 0 || rows <= 0 || bands * rows > num_perm || l_bands <= 0 || l_rows <= 0 ||
        l_bands * l_rows > num_perm || n_sig != n * num_perm || n > PAIR_TABLE_MAX_ROWS) {
        PyErr_SetString(PyExc_ValueError, "lsh_pairs: inconsistent sizes, or more rows than an article");
        goto fail;
    }
    uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)(n * (bands > l_bands ? bands : l_bands) + 1));
    int64_t *codes[2] = {NULL, NULL}, *counts[2] = {NULL, NULL}, *merged = NULL;
    Py_ssize_t n_codes[2] = {0, 0}, n_merged = 0;
    int oom = !keys, trim = 0;
    Py_BEGIN_ALLOW_THREADS
    for (int family = 0; family < 2 && !oom && !trim; family++) {
        const Py_ssize_t b = family ? l_bands : bands, r = family ? l_rows : rows;
        band_keys_into(sig, n, num_perm, b, r, keys);
        if (family)
            for (Py_ssize_t i = 0; i < n; i++)
                for (Py_ssize_t k = 0; k < b; k++)
                    keys[i * b + k] ^= ((uint64_t)doc[i] + 1u) * 0xD6E8FEB86659FD93ull;
        int sorted;
        if (pair_counts_core(keys, n, b, max_bucket, family ? 1 : min_shared, 1, &codes[family], &counts[family],
                             &n_codes[family], &sorted) < 0) {
            oom = 1;
            break;
        }
        trim = n_codes[family] > max_per_row * n / 2;
    }
    if (!oom && !trim) { /* union of two sorted runs */
        merged = malloc(sizeof(int64_t) * (size_t)(n_codes[0] + n_codes[1] + 1));
        oom = !merged;
        Py_ssize_t x = 0, y = 0;
        while (!oom && (x < n_codes[0] || y < n_codes[1])) {
            int64_t v;
            if (y >= n_codes[1] || (x < n_codes[0] && codes[0][x] < codes[1][y]))
                v = codes[0][x++];
            else if (x >= n_codes[0] || codes[1][y] < codes[0][x])
                v = codes[1][y++];
            else {
                v = codes[0][x++];
                y++;
            }
            merged[n_merged++] = v;
        }
    }
    Py_END_ALLOW_THREADS
    free(keys);
    for (int f = 0; f < 2; f++) {
        free(codes[f]);
        free(counts[f]);
    }
    release_all(&bs);
    if (oom) {
        free(merged);
        return PyErr_NoMemory();
    }
    if (trim)
        Py_RETURN_NONE;
    PyObject *out = PyBytes_FromStringAndSize((const char *)merged, (Py_ssize_t)(8 * n_merged));
    free(merged);
    return out;
fail:
    release_all(&bs);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Band table lookup (dedup/_bandtable.py): linear probing and the walk down each key's chain.
 */

/* table_lookup(keys u64[m], table_keys u64[cap], head i32[cap], count i32[cap], esid i32[E],
 *              enext i32[E], max_bucket, truncate) -> (query_index bytes i64, sid bytes i64)
 *
 * Keys must not be 0 (the empty slot).  Entries come out step by step, as BandTable.lookup's
 * numpy loop gives them: every key's newest entry first (keys in order), then every key's second.
 */
static PyObject *
k_table_lookup(PyObject *self, PyObject *args)
{
    PyObject *o[6];
    Py_ssize_t max_bucket;
    int truncate;
    Buffers bs = {.n = 0};
    if (!PyArg_ParseTuple(args, "OOOOOOnp", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &max_bucket, &truncate))
        return NULL;
    Py_ssize_t m, cap, E;
    const uint64_t *keys = arg(&bs, o[0], 8, 0, -1, &m, "keys");
    const uint64_t *tkeys = keys ? arg(&bs, o[1], 8, 0, -1, &cap, "table_keys") : NULL;
    const int32_t *head = tkeys ? arg(&bs, o[2], 4, 0, cap, NULL, "head") : NULL;
    const int32_t *count = head ? arg(&bs, o[3], 4, 0, cap, NULL, "count") : NULL;
    const int32_t *esid = count ? arg(&bs, o[4], 4, 0, -1, &E, "esid") : NULL;
    const int32_t *enext = esid ? arg(&bs, o[5], 4, 0, E, NULL, "enext") : NULL;
    if (!enext)
        goto fail;
    if (cap < 1 || (cap & (cap - 1))) {
        PyErr_SetString(PyExc_ValueError, "table_lookup: the table size is not a power of two");
        goto fail;
    }
    const Py_ssize_t limit = max_bucket > 0 ? max_bucket : 0;
    Py_ssize_t *lens = PyMem_RawCalloc((size_t)(m ? m : 1), sizeof(Py_ssize_t));
    Py_ssize_t n_out = 0, cap_out = 0, longest = 0;
    int32_t *found = NULL; /* entries of every key, key after key */
    int bad = 0, oom = !lens;
    Py_BEGIN_ALLOW_THREADS
    const uint64_t mask = (uint64_t)cap - 1;
    for (Py_ssize_t q = 0; q < m && !oom && !bad; q++) {
        const uint64_t key = keys[q];
        uint64_t slot = ((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
        Py_ssize_t probes = 0;
        while (tkeys[slot] != key && tkeys[slot] != 0 && probes++ < cap)
            slot = (slot + 1) & mask;
        if (tkeys[slot] != key || (!truncate && count[slot] > max_bucket))
            continue;
        int32_t cur = head[slot];
        for (Py_ssize_t step = 0; step < limit && cur >= 0; step++) {
            if (cur >= E) {
                bad = 1;
                break;
            }
            if (n_out == cap_out) {
                Py_ssize_t grown_cap = cap_out ? 2 * cap_out : 1024;
                int32_t *grown = PyMem_RawRealloc(found, sizeof(int32_t) * (size_t)grown_cap);
                if (!grown) {
                    oom = 1;
                    break;
                }
                found = grown;
                cap_out = grown_cap;
            }
            found[n_out++] = esid[cur];
            lens[q]++;
            cur = enext[cur];
        }
        longest = lens[q] > longest ? lens[q] : longest;
    }
    Py_END_ALLOW_THREADS
    PyObject *b_q = NULL, *b_s = NULL;
    if (bad)
        PyErr_SetString(PyExc_ValueError, "table_lookup: a chain points outside the entries");
    else if (oom)
        PyErr_NoMemory();
    else {
        b_q = PyBytes_FromStringAndSize(NULL, 8 * n_out);
        b_s = PyBytes_FromStringAndSize(NULL, 8 * n_out);
    }
    if (b_q && b_s) {
        int64_t *oq = (int64_t *)PyBytes_AS_STRING(b_q), *os = (int64_t *)PyBytes_AS_STRING(b_s);
        Py_ssize_t *start = PyMem_RawMalloc(sizeof(Py_ssize_t) * (size_t)(m ? m : 1));
        if (!start) {
            PyErr_NoMemory();
            Py_CLEAR(b_q);
            Py_CLEAR(b_s);
        }
        else {
            Py_ssize_t at = 0;
            for (Py_ssize_t q = 0; q < m; q++) {
                start[q] = at;
                at += lens[q];
            }
            Py_ssize_t k = 0;
            for (Py_ssize_t step = 0; step < longest; step++)
                for (Py_ssize_t q = 0; q < m; q++)
                    if (lens[q] > step) {
                        oq[k] = q;
                        os[k++] = found[start[q] + step];
                    }
            PyMem_RawFree(start);
        }
    }
    PyMem_RawFree(lens);
    PyMem_RawFree(found);
    release_all(&bs);
    if (!b_q || !b_s) {
        Py_XDECREF(b_q);
        Py_XDECREF(b_s);
        return NULL;
    }
    return Py_BuildValue("(NN)", b_q, b_s);
fail:
    release_all(&bs);
    return NULL;
}

static PyMethodDef kernels_methods[] = {
    {"table_lookup", k_table_lookup, METH_VARARGS, "table_lookup(...): band table probe and chain walk"},
    {"band_keys", k_band_keys, METH_VARARGS, "band_keys(sigs, num_perm, bands, rows, out): LSH band keys"},
    {"lsh_pairs", k_lsh_pairs, METH_VARARGS, "lsh_pairs(...): an article's candidate pairs of both families"},
    {"pair_counts", k_pair_counts, METH_VARARGS, "pair_counts(keys, n, max_bucket) -> (codes, counts) bytes"},
    {"set_thread_min_rows", k_set_thread_min_rows, METH_VARARGS,
     "set_thread_min_rows(n) -> previous: rows from which pair emission uses two threads"},
    {"shingles", k_shingles, METH_VARARGS, "shingles(sentences, ...): the shingle hashes of every sentence"},
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
