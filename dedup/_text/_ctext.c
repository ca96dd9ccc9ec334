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
 * ``sentence(text, start, end, cache, fill, para, cls)`` returns the
 * ``dedup._text.Sentence`` (``cls``, a named tuple) of the span, or ``None``
 * when it holds no token.  Per-token fields come from ``cache[raw_token]`` (a
 * 4-tuple: word, stem, content flag, entity flag), or ``fill(raw_token)`` on a
 * miss, so normalisation rules stay in Python.  ``paragraphs``, ``sentences``
 * and ``segment`` follow dedup._text's paragraph and sentence rules.
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

/* The sentence text[start:end] of paragraph ``para`` as ``cls`` (a tuple subclass: the
 * named tuple dedup._text.Sentence), or Py_None when it holds no token. */
static PyObject *
build_sentence(PyObject *text, Py_ssize_t start, Py_ssize_t end, PyObject *cache, PyObject *fill,
               PyObject *para, PyTypeObject *cls)
{
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
    PyObject *bounds[2] = {PyLong_FromSsize_t(start), PyLong_FromSsize_t(end)};
    if (bounds[0] == NULL || bounds[1] == NULL) {
        Py_XDECREF(bounds[0]);
        Py_XDECREF(bounds[1]);
        goto done;
    }
    PyObject *items = PyTuple_Pack(9, para, bounds[0], bounds[1], fields[0], fields[1], fields[2], fields[3],
                                   fields[4], fields[5]);
    Py_DECREF(bounds[0]);
    Py_DECREF(bounds[1]);
    if (items == NULL) {
        goto done;
    }
    /* tuple.__new__(cls, items), as a named tuple's _make does */
    PyObject *targs = PyTuple_Pack(1, items);
    Py_DECREF(items);
    if (targs == NULL) {
        goto done;
    }
    result = PyTuple_Type.tp_new(cls, targs, NULL);
    Py_DECREF(targs);
done:
    for (int f = 0; f < 6; f++) {
        Py_XDECREF(fields[f]);
    }
    spans_free(&sp);
    return result;
}

static int
check_tuple_class(PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "cls must be a tuple subclass");
        return -1;
    }
    return 0;
}

static PyObject *
ctext_sentence(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *cache, *fill, *para, *cls;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "UnnO!OOO:sentence", &text, &start, &end, &PyDict_Type, &cache, &fill, &para,
                          &cls) ||
        parse_span(text, &start, &end) < 0 || check_tuple_class(cls) < 0) {
        return NULL;
    }
    return build_sentence(text, start, end, cache, fill, para, (PyTypeObject *)cls);
}

/* ---- paragraphs and sentences (dedup._text.paragraph_spans / sentence_spans) ---------- */

static inline int
is_space(Py_UCS4 c)
{
    return Py_UNICODE_ISSPACE(c);
}

static inline int
is_hspace(Py_UCS4 c) /* the regex class [^\S\n] */
{
    return c != '\n' && Py_UNICODE_ISSPACE(c);
}

/* End of a list marker "- ", "• ", "1. ", "(2) " matched at ``pos`` (not past ``bound``), or -1. */
static Py_ssize_t
list_marker(int kind, const void *data, Py_ssize_t pos, Py_ssize_t bound)
{
    if (pos >= bound) {
        return -1;
    }
    Py_UCS4 c = PyUnicode_READ(kind, data, pos);
    Py_ssize_t j;
    if (c == '-' || c == '*' || c == 0x2022 || c == 0x2023 || c == 0x25E6 || c == 0x25AA || c == 0x25CF ||
        c == 0x2013 || c == 0x2014 || c == '+') {
        j = pos + 1;
    }
    else {
        j = pos;
        if (c == '(') {
            j++;
        }
        Py_ssize_t d = 0;
        while (d < 3 && j + d < bound && is_decimal(PyUnicode_READ(kind, data, j + d))) {
            d++;
        }
        /* \d{1,3}[.)] : the character after the digits must close the number */
        if (d == 0 || j + d >= bound) {
            return -1;
        }
        Py_UCS4 close = PyUnicode_READ(kind, data, j + d);
        if (close != '.' && close != ')') {
            return -1;
        }
        j += d + 1;
    }
    Py_ssize_t k = j;
    while (k < bound && is_hspace(PyUnicode_READ(kind, data, k))) {
        k++;
    }
    return k > j ? k : -1;
}

/* Append text[start:end] without surrounding whitespace and a leading list marker, if non-empty. */
static int
add_trimmed(int kind, const void *data, Py_ssize_t start, Py_ssize_t end, PyObject *out)
{
    while (start < end && is_space(PyUnicode_READ(kind, data, start))) {
        start++;
    }
    while (end > start && is_space(PyUnicode_READ(kind, data, end - 1))) {
        end--;
    }
    Py_ssize_t m = list_marker(kind, data, start, end);
    if (m >= 0) {
        start = m;
    }
    if (start >= end) {
        return 0;
    }
    PyObject *span = Py_BuildValue("(nn)", start, end);
    if (span == NULL) {
        return -1;
    }
    int rc = PyList_Append(out, span);
    Py_DECREF(span);
    return rc;
}

static PyObject *
paragraph_list(PyObject *text)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    /* Blank lines separate paragraphs if there is one; else every line is a paragraph. */
    int blank = 0;
    for (Py_ssize_t i = 0; i < n && !blank; i++) {
        if (PyUnicode_READ(kind, data, i) == '\n') {
            Py_ssize_t j = i + 1;
            while (j < n && is_hspace(PyUnicode_READ(kind, data, j))) {
                j++;
            }
            blank = j < n && PyUnicode_READ(kind, data, j) == '\n';
        }
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_READ(kind, data, i) != '\n') {
            continue;
        }
        Py_ssize_t sep_end = i + 1;
        if (blank) { /* \n(?:[^\S\n]*\n)+ */
            Py_ssize_t j = i + 1;
            for (;;) {
                Py_ssize_t k = j;
                while (k < n && is_hspace(PyUnicode_READ(kind, data, k))) {
                    k++;
                }
                if (k < n && PyUnicode_READ(kind, data, k) == '\n') {
                    j = k + 1;
                    continue;
                }
                break;
            }
            if (j == i + 1) {
                continue; /* a single line break inside a paragraph */
            }
            sep_end = j;
        }
        if (add_trimmed(kind, data, pos, i, out) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        pos = sep_end;
        i = sep_end - 1;
    }
    if (add_trimmed(kind, data, pos, n, out) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static inline int
is_stop(Py_UCS4 c) /* [.!?…] */
{
    return c == '.' || c == '!' || c == '?' || c == 0x2026;
}

static inline int
is_cjk_stop(Py_UCS4 c) /* [。！？] */
{
    return c == 0x3002 || c == 0xFF01 || c == 0xFF1F;
}

static inline int
is_closer(Py_UCS4 c) /* ["'”’»)\]] */
{
    return c == '"' || c == '\'' || c == 0x201D || c == 0x2019 || c == 0xBB || c == ')' || c == ']';
}

static inline int
is_opener(Py_UCS4 c) /* "'“‘«([¿¡ */
{
    return c == '"' || c == '\'' || c == 0x201C || c == 0x2018 || c == 0xAB || c == '(' || c == '[' ||
           c == 0xBF || c == 0xA1;
}

static int
cmp_ssize(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* Does the period at ``dot`` end an abbreviation or an initial?  -1 on error. */
static int
abbreviation(PyObject *text, int kind, const void *data, Py_ssize_t start, Py_ssize_t dot, PyObject *known)
{
    Py_ssize_t i = dot;
    int has_dot = 0;
    while (i > start) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i - 1);
        if (c == '.') {
            has_dot = 1;
        }
        else if (!Py_UNICODE_ISALPHA(c)) {
            break;
        }
        i--;
    }
    if (i == dot) {
        return 0;
    }
    if (has_dot) { /* U.S.  e.g. */
        return 1;
    }
    if (dot - i == 1 && Py_UNICODE_ISUPPER(PyUnicode_READ(kind, data, i))) { /* an initial */
        return 1;
    }
    PyObject *word = PyUnicode_Substring(text, i, dot);
    if (word == NULL) {
        return -1;
    }
    PyObject *got = PyObject_CallOneArg(known, word);
    Py_DECREF(word);
    if (got == NULL) {
        return -1;
    }
    int rc = PyObject_IsTrue(got);
    Py_DECREF(got);
    return rc;
}

static PyObject *
sentence_list(PyObject *text, Py_ssize_t start, Py_ssize_t end, PyObject *known)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_ssize_t cap = 16, n_cuts = 0;
    Py_ssize_t *cuts = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    PyObject *out = NULL;
    if (cuts == NULL) {
        return PyErr_NoMemory();
    }
#define ADD_CUT(value)                                                                        \
    do {                                                                                      \
        if (n_cuts == cap) {                                                                  \
            Py_ssize_t *grown = PyMem_Realloc(cuts, 2 * cap * sizeof(Py_ssize_t));            \
            if (grown == NULL) {                                                              \
                PyErr_NoMemory();                                                             \
                goto done;                                                                    \
            }                                                                                 \
            cuts = grown;                                                                     \
            cap *= 2;                                                                         \
        }                                                                                     \
        cuts[n_cuts++] = (value);                                                             \
    } while (0)

    Py_ssize_t i = start;
    while (i < end) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        int latin = is_stop(c), cjk = is_cjk_stop(c);
        if (!latin && !cjk) {
            i++;
            continue;
        }
        Py_ssize_t j = i + 1;
        while (j < end && (latin ? is_stop(PyUnicode_READ(kind, data, j)) : is_cjk_stop(PyUnicode_READ(kind, data, j)))) {
            j++;
        }
        Py_ssize_t run = j - i; /* terminal characters */
        while (j < end && is_closer(PyUnicode_READ(kind, data, j))) {
            j++;
        }
        if (latin && j < end && !is_space(PyUnicode_READ(kind, data, j))) {
            i++; /* not a sentence end here; the regex search resumes at the next character */
            continue;
        }
        Py_ssize_t dot = i, stop = j, nxt = j;
        while (nxt < end && is_space(PyUnicode_READ(kind, data, nxt))) {
            nxt++;
        }
        if (nxt >= end) {
            break;
        }
        i = stop;
        if (cjk) {
            ADD_CUT(stop);
            continue;
        }
        Py_UCS4 after = PyUnicode_READ(kind, data, nxt);
        if (!(Py_UNICODE_ISUPPER(after) || Py_UNICODE_ISDIGIT(after) || is_opener(after) ||
              list_marker(kind, data, nxt, n) >= 0)) {
            continue;
        }
        if (c == '.' && run == 1) { /* a single period: an abbreviation or an initial? */
            int abbr = abbreviation(text, kind, data, start, dot, known);
            if (abbr < 0) {
                goto done;
            }
            if (abbr) {
                continue;
            }
        }
        ADD_CUT(stop);
    }
    /* A line break followed by a list marker also ends a sentence. */
    for (Py_ssize_t k = start; k < end; k++) {
        if (PyUnicode_READ(kind, data, k) != '\n') {
            continue;
        }
        Py_ssize_t m = k + 1;
        while (m < end && is_hspace(PyUnicode_READ(kind, data, m))) {
            m++;
        }
        if (list_marker(kind, data, m, end) >= 0) {
            ADD_CUT(k);
        }
        k = m - 1;
    }
#undef ADD_CUT
    qsort(cuts, n_cuts, sizeof(Py_ssize_t), cmp_ssize);
    out = PyList_New(0);
    if (out == NULL) {
        goto done;
    }
    Py_ssize_t pos = start;
    for (Py_ssize_t k = 0; k < n_cuts; k++) {
        if (k > 0 && cuts[k] == cuts[k - 1]) {
            continue;
        }
        if (add_trimmed(kind, data, pos, cuts[k], out) < 0) {
            Py_CLEAR(out);
            goto done;
        }
        pos = cuts[k];
    }
    if (add_trimmed(kind, data, pos, end, out) < 0) {
        Py_CLEAR(out);
    }
done:
    PyMem_Free(cuts);
    return out;
}

static PyObject *
ctext_paragraphs(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U:paragraphs", &text)) {
        return NULL;
    }
    return paragraph_list(text);
}

static PyObject *
ctext_sentences(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *known;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "UnnO:sentences", &text, &start, &end, &known) ||
        parse_span(text, &start, &end) < 0) {
        return NULL;
    }
    return sentence_list(text, start, end, known);
}

/* dedup._text.segment: paragraphs, sentences, then their tokens, in one call. */
static PyObject *
ctext_segment(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *text, *cache, *fill, *known, *cls;
    if (!PyArg_ParseTuple(args, "UO!OOO:segment", &text, &PyDict_Type, &cache, &fill, &known, &cls) ||
        check_tuple_class(cls) < 0) {
        return NULL;
    }
    PyObject *paras = paragraph_list(text);
    if (paras == NULL) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    for (Py_ssize_t p = 0; out != NULL && p < PyList_GET_SIZE(paras); p++) {
        PyObject *span = PyList_GET_ITEM(paras, p);
        Py_ssize_t p_start = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 0));
        Py_ssize_t p_end = PyLong_AsSsize_t(PyTuple_GET_ITEM(span, 1));
        PyObject *sents = sentence_list(text, p_start, p_end, known);
        PyObject *para = sents == NULL ? NULL : PyLong_FromSsize_t(p);
        if (para == NULL) {
            Py_XDECREF(sents);
            Py_CLEAR(out);
            break;
        }
        for (Py_ssize_t s = 0; s < PyList_GET_SIZE(sents); s++) {
            PyObject *sspan = PyList_GET_ITEM(sents, s);
            PyObject *sent = build_sentence(text, PyLong_AsSsize_t(PyTuple_GET_ITEM(sspan, 0)),
                                            PyLong_AsSsize_t(PyTuple_GET_ITEM(sspan, 1)), cache, fill, para,
                                            (PyTypeObject *)cls);
            if (sent == NULL || (sent != Py_None && PyList_Append(out, sent) < 0)) {
                Py_XDECREF(sent);
                Py_CLEAR(out);
                break;
            }
            Py_DECREF(sent);
        }
        Py_DECREF(para);
        Py_DECREF(sents);
    }
    Py_DECREF(paras);
    return out;
}

static PyMethodDef ctext_methods[] = {
    {"spans", ctext_spans, METH_VARARGS, "spans(text, start, end) -> list of (start, end) token spans"},
    {"sentence", ctext_sentence, METH_VARARGS,
     "sentence(text, start, end, cache, fill, para, cls) -> cls(para, start, end, token fields...) or None"},
    {"segment", ctext_segment, METH_VARARGS,
     "segment(text, cache, fill, is_abbreviation, cls) -> list of sentences (as dedup._text.segment)"},
    {"paragraphs", ctext_paragraphs, METH_VARARGS, "paragraphs(text) -> list of (start, end) paragraph spans"},
    {"sentences", ctext_sentences, METH_VARARGS,
     "sentences(text, start, end, is_abbreviation) -> list of (start, end) sentence spans"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef ctext_module = {
    PyModuleDef_HEAD_INIT, "dedup._ctext", "Compiled tokeniser for dedup._text.", 0, ctext_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__ctext(void)
{
    return PyModule_Create(&ctext_module);
}
