/* Compiled numeric kernels of dedup: MinHash signatures (more to come in this file).
 *
 * Optional, like dedup/_ctext.c: without a C compiler the package runs the
 * numpy code of dedup/_sketch.py, which computes the same values (tests
 * compare the two).  Arrays are passed as numpy arrays through the buffer
 * protocol (no numpy headers needed to build); the Python wrappers check
 * dtypes and shapes, this file checks sizes again so that a wrong call
 * raises instead of reading out of bounds.  The GIL is released while a
 * kernel runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* One build for every x86-64 machine; the AVX2 version is picked at load time where the CPU has it. */
#define DEDUP_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DEDUP_CLONES
#endif

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

static inline uint32_t
fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

DEDUP_CLONES static void
minhash_rows(const uint32_t *hashes, Py_ssize_t n_hashes, const int64_t *offsets, Py_ssize_t n_sets,
             const uint32_t *a, const uint32_t *b, Py_ssize_t num_perm, uint32_t *out)
{
    for (Py_ssize_t s = 0; s < n_sets; s++) {
        uint32_t *row = out + s * num_perm;
        Py_ssize_t lo = (Py_ssize_t)offsets[s];
        Py_ssize_t hi = s + 1 < n_sets ? (Py_ssize_t)offsets[s + 1] : n_hashes;
        for (Py_ssize_t p = 0; p < num_perm; p++)
            row[p] = UINT32_MAX;
        for (Py_ssize_t k = lo; k < hi; k++) {
            const uint32_t h = fmix32(hashes[k]);
            for (Py_ssize_t p = 0; p < num_perm; p++) {
                const uint32_t v = a[p] * h + b[p];
                row[p] = v < row[p] ? v : row[p];
            }
        }
    }
}

/* minhash(hashes u32[H], offsets i64[S], a u32[P], b u32[P], out u32[S*P]) -> None */
static PyObject *
k_minhash(PyObject *self, PyObject *args)
{
    PyObject *oh, *oo, *oa, *ob, *out;
    Py_buffer h, o, a, b, r;
    if (!PyArg_ParseTuple(args, "OOOOO", &oh, &oo, &oa, &ob, &out))
        return NULL;
    if (get_buffer(oh, &h, 4, 0, "hashes") < 0)
        return NULL;
    if (get_buffer(oo, &o, 8, 0, "offsets") < 0)
        goto fail_h;
    if (get_buffer(oa, &a, 4, 0, "a") < 0)
        goto fail_o;
    if (get_buffer(ob, &b, 4, 0, "b") < 0)
        goto fail_a;
    if (get_buffer(out, &r, 4, 1, "out") < 0)
        goto fail_b;
    Py_ssize_t n_h = h.len / 4, n_s = o.len / 8, p = a.len / 4;
    const int64_t *off = (const int64_t *)o.buf;
    int ok = b.len / 4 == p && r.len / 4 == n_s * p;
    for (Py_ssize_t s = 0; ok && s < n_s; s++) { /* non-decreasing, in range, every set non-empty */
        Py_ssize_t hi = s + 1 < n_s ? (Py_ssize_t)off[s + 1] : n_h;
        ok = off[s] >= 0 && off[s] < hi && hi <= n_h;
    }
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "minhash: inconsistent sizes or offsets (every set must be non-empty)");
        goto fail_r;
    }
    Py_BEGIN_ALLOW_THREADS
    minhash_rows((const uint32_t *)h.buf, n_h, off, n_s, (const uint32_t *)a.buf, (const uint32_t *)b.buf, p,
                 (uint32_t *)r.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&r);
    PyBuffer_Release(&b);
    PyBuffer_Release(&a);
    PyBuffer_Release(&o);
    PyBuffer_Release(&h);
    Py_RETURN_NONE;
fail_r:
    PyBuffer_Release(&r);
fail_b:
    PyBuffer_Release(&b);
fail_a:
    PyBuffer_Release(&a);
fail_o:
    PyBuffer_Release(&o);
fail_h:
    PyBuffer_Release(&h);
    return NULL;
}

static PyMethodDef kernels_methods[] = {
    {"minhash", k_minhash, METH_VARARGS,
     "minhash(hashes, offsets, a, b, out): MinHash rows of the sets given as runs of hashes, into out"},
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
