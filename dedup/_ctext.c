/*
 * Compiled word tokeniser for dedup._text: the same tokens as the regular
 * expression ``dedup._text._TOKEN`` (tests compare the two on real and random
 * text), scanned in one pass over the string's code points.
 *
 * A token starts at a letter or digit (``str.isalnum``) and is, by the first
 * rule that applies:
 *   1. one CJK ideograph or kana;
 *   2. a number: decimal digits, with inner ``.``, ``,`` or ``:`` between digits;
 *   3. a dotted abbreviation: two or more (non-digit letter, ``.``) pairs;
 *   4. a word: letters/digits (not CJK), with inner apostrophes ``'`` ``’`` ``ʼ``.
 * Character classes are those of Python's ``re`` module for str patterns
 * (``\w`` = isalnum or ``_``, ``\d`` = isdecimal).
 *
 * ``sentence(text, start, end, cache, fill)`` returns the per-field tuples of a
 * ``dedup._text.Sentence`` (token starts, ends, words, stems, content flags,
 * entity flags) or ``None`` when the span holds no token.  Per-token fields
 * come from ``cache[raw_token]`` (a 4-tuple), or ``fill(raw_token)`` on a miss,
 * so normalisation rules stay in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static inline int
is_cjk(Py_UCS4 c)
{
    return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF66 && c <= 0xFF9F);
}

static inline int
is_alnum(Py_UCS4 c)
{
    if (c < 128) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
    return Py_UNICODE_ISALNUM(c);
}

static inline int
is_decimal(Py_UCS4 c)
{
    if (c < 128) {
        return c >= '0' && c <= '9';
    }
    return Py_UNICODE_ISDECIMAL(c);
}

static inline int
is_apostrophe(Py_UCS4 c)
{
    return c == '\'' || c == 0x2019 || c == 0x02BC;
}

/* End of the token starting at ``i`` (text[i] is alphanumeric), never past ``end``. */
static Py_ssize_t
token_end(int kind, const void *data, Py_ssize_t i, Py_ssize_t end)
{
    Py_UCS4 c = PyUnicode_READ(kind, data, i);
    Py_ssize_t j;
    if (is_cjk(c)) {
        return i + 1;
    }
    if (is_decimal(c)) {
        j = i + 1;
        for (;;) {
            while (j < end && is_decimal(PyUnicode_READ(kind, data, j))) {
                j++;
            }
            if (j + 1 < end) {
                Py_UCS4 sep = PyUnicode_READ(kind, data, j);
                if ((sep == '.' || sep == ',' || sep == ':') && is_decimal(PyUnicode_READ(kind, data, j + 1))) {
                    j += 1;
                    continue;
                }
            }
            return j;
        }
    }
    /* Dotted abbreviation: (letter that is not a decimal digit, '.') at least twice. */
    j = i;
    int pairs = 0;
    while (j + 1 < end) {
        Py_UCS4 a = PyUnicode_READ(kind, data, j);
        if (!(is_alnum(a) && !is_decimal(a)) || PyUnicode_READ(kind, data, j + 1) != '.') {
            break;
        }
        j += 2;
        pairs++;
    }
    if (pairs >= 2) {
        return j;
    }
    /* A word: non-CJK alphanumerics, with inner apostrophes. */
    j = i + 1;
    for (;;) {
        while (j < end) {
            Py_UCS4 w = PyUnicode_READ(kind, data, j);
            if (!is_alnum(w) || is_cjk(w)) {
                break;
            }
            j++;
        }
        if (j + 1 < end && is_apostrophe(PyUnicode_READ(kind, data, j))) {
            Py_UCS4 w = PyUnicode_READ(kind, data, j + 1);
            if (is_alnum(w) && !is_cjk(w)) {
                j += 1;
                continue;
            }
        }
        return j;
    }
}

static int
parse_span(PyObject *text, Py_ssize_t *start, Py_ssize_t *end)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be a str");
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (*start < 0) {
        *start = 0;
    }
    if (*end > n) {
        *end = n;
    }
    return 0;
}

/* Token spans as a growing pair of Py_ssize_t arrays. */
typedef struct {
    Py_ssize_t *starts;
    Py_ssize_t *ends;
    Py_ssize_t n;
    Py_ssize_t cap;
    Py_ssize_t inline_buf[2 * 128];
} spans_t;

static void
spans_free(spans_t *s)
{
    if (s->starts != s->inline_buf) {
        PyMem_Free(s->starts);
        PyMem_Free(s->ends);
    }
}

static int
scan(PyObject *text, Py_ssize_t start, Py_ssize_t end, spans_t *out)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    out->starts = out->inline_buf;
    out->ends = out->inline_buf + 128;
    out->n = 0;
    out->cap = 128;
    Py_ssize_t i = start;
    while (i < end) {
        if (!is_alnum(PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t j = token_end(kind, data, i, end);
        if (out->n == out->cap) {
            Py_ssize_t cap = out->cap * 2;
            Py_ssize_t *st = PyMem_Malloc(cap * sizeof(Py_ssize_t));
            Py_ssize_t *en = PyMem_Malloc(cap * sizeof(Py_ssize_t));
            if (st == NULL || en == NULL) {
                PyMem_Free(st);
                PyMem_Free(en);
                spans_free(out);
                PyErr_NoMemory();
                return -1;
            }
            memcpy(st, out->starts, out->n * sizeof(Py_ssize_t));
            memcpy(en, out->ends, out->n * sizeof(Py_ssize_t));
            spans_free(out);
            out->starts = st;
            out->ends = en;
            out->cap = cap;
        }
        out->starts[out->n] = i;
        out->ends[out->n] = j;
        out->n++;
        i = j;
    }
    return 0;
}

static PyObject *
ctext_spans(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "Unn:spans", &text, &start, &end) || parse_span(text, &start, &end) < 0) {
        return NULL;
    }
    spans_t sp;
    if (scan(text, start, end, &sp) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(sp.n);
    for (Py_ssize_t k = 0; list != NULL && k < sp.n; k++) {
        PyObject *pair = Py_BuildValue("(nn)", sp.starts[k], sp.ends[k]);
        if (pair == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, k, pair);
    }
    spans_free(&sp);
    return list;
}

static PyObject *
ctext_sentence(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *cache, *fill;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "UnnO!O:sentence", &text, &start, &end, &PyDict_Type, &cache, &fill) ||
        parse_span(text, &start, &end) < 0) {
        return NULL;
    }
    spans_t sp;
    if (scan(text, start, end, &sp) < 0) {
        return NULL;
    }
    if (sp.n == 0) {
        spans_free(&sp);
        Py_RETURN_NONE;
    }
    PyObject *fields[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    PyObject *result = NULL;
    for (int f = 0; f < 6; f++) {
        if ((fields[f] = PyTuple_New(sp.n)) == NULL) {
            goto done;
        }
    }
    for (Py_ssize_t k = 0; k < sp.n; k++) {
        PyObject *s = PyLong_FromSsize_t(sp.starts[k]);
        PyObject *e = PyLong_FromSsize_t(sp.ends[k]);
        if (s == NULL || e == NULL) {
            Py_XDECREF(s);
            Py_XDECREF(e);
            goto done;
        }
        PyTuple_SET_ITEM(fields[0], k, s);
        PyTuple_SET_ITEM(fields[1], k, e);
        PyObject *raw = PyUnicode_Substring(text, sp.starts[k], sp.ends[k]);
        if (raw == NULL) {
            goto done;
        }
        PyObject *info = PyDict_GetItemWithError(cache, raw); /* borrowed */
        if (info != NULL) {
            Py_INCREF(info);
        }
        else if (PyErr_Occurred() || (info = PyObject_CallOneArg(fill, raw)) == NULL) {
            Py_DECREF(raw);
            goto done;
        }
        Py_DECREF(raw);
        if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 4) {
            Py_DECREF(info);
            PyErr_SetString(PyExc_TypeError, "token info must be a 4-tuple");
            goto done;
        }
        for (int f = 0; f < 4; f++) {
            PyObject *v = PyTuple_GET_ITEM(info, f);
            Py_INCREF(v);
            PyTuple_SET_ITEM(fields[2 + f], k, v);
        }
        Py_DECREF(info);
    }
    result = PyTuple_Pack(6, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);
done:
    for (int f = 0; f < 6; f++) {
        Py_XDECREF(fields[f]);
    }
    spans_free(&sp);
    return result;
}

static PyMethodDef ctext_methods[] = {
    {"spans", ctext_spans, METH_VARARGS, "spans(text, start, end) -> list of (start, end) token spans"},
    {"sentence", ctext_sentence, METH_VARARGS,
     "sentence(text, start, end, cache, fill) -> (starts, ends, words, stems, content, entity) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ctext_module = {
    PyModuleDef_HEAD_INIT, "dedup._ctext", "Compiled word tokeniser for dedup._text.", 0, ctext_methods,
};

PyMODINIT_FUNC
PyInit__ctext(void)
{
    return PyModule_Create(&ctext_module);
}
