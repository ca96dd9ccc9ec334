# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: autotestdict=False
"""Compiled twin of ``dedup/_text/segment.py``: paragraphs, sentences and word tokens in one pass.

Each function gives exactly what its regular-expression reference in ``segment.py``
gives (``tests/text/test_segment_compiled.py`` compares them on real articles and generated text);
``segment.py`` chooses between the two.  Tokens follow ``segment._TOKEN``: a token
starts at a letter or digit (``str.isalnum``) and is, by the first rule that applies,

1. one CJK ideograph or kana;
2. a number: decimal digits, with inner ``.``, ``,`` or ``:`` between digits;
3. a dotted abbreviation: two or more (non-digit letter, ``.``) pairs;
4. a word: letters/digits (not CJK), with inner apostrophes ``'`` ``’`` ``ʼ``.

Character classes are those of Python's ``re`` module for str patterns (``\\w`` is
isalnum or ``_``, ``\\d`` is isdecimal).  Per-token fields come from
``cache[raw_token]`` (word, stem, content flag, entity flag) or ``fill(raw_token)``
on a miss, and abbreviations from ``is_abbreviation(word)``, so the normalisation
rules stay in Python.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport (
    Py_UNICODE_ISALNUM,
    Py_UNICODE_ISALPHA,
    Py_UNICODE_ISDECIMAL,
    Py_UNICODE_ISDIGIT,
    Py_UNICODE_ISSPACE,
    Py_UNICODE_ISUPPER,
    PyUnicode_DATA,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_READ,
)
from libc.stdlib cimport qsort
from libc.string cimport memcpy


cdef extern from "Python.h":
    PyTypeObject PyTuple_Type


# ---- character classes ---------------------------------------------------------------

cdef inline bint is_cjk(Py_UCS4 c) noexcept nogil:
    return ((0x3040 <= c <= 0x30FF) or (0x3400 <= c <= 0x4DBF) or (0x4E00 <= c <= 0x9FFF)
            or (0xF900 <= c <= 0xFAFF) or (0xFF66 <= c <= 0xFF9F))


cdef inline bint is_alnum(Py_UCS4 c) noexcept:
    if c < 128:
        return (c >= 97 and c <= 122) or (c >= 65 and c <= 90) or (c >= 48 and c <= 57)
    return Py_UNICODE_ISALNUM(c)


cdef inline bint is_decimal(Py_UCS4 c) noexcept:
    if c < 128:
        return c >= 48 and c <= 57
    return Py_UNICODE_ISDECIMAL(c)


cdef inline bint is_apostrophe(Py_UCS4 c) noexcept nogil:
    return c == u"'" or c == 0x2019 or c == 0x02BC


cdef inline bint is_hspace(Py_UCS4 c) noexcept:
    """The regex class ``[^\\S\\n]``."""
    return c != u"\n" and Py_UNICODE_ISSPACE(c)


cdef inline bint is_stop(Py_UCS4 c) noexcept nogil:
    """``[.!?…]``"""
    return c == u"." or c == u"!" or c == u"?" or c == 0x2026


cdef inline bint is_cjk_stop(Py_UCS4 c) noexcept nogil:
    """``[。！？]``"""
    return c == 0x3002 or c == 0xFF01 or c == 0xFF1F


cdef inline bint is_closer(Py_UCS4 c) noexcept nogil:
    """``["'”’»)\\]]``"""
    return c == u'"' or c == u"'" or c == 0x201D or c == 0x2019 or c == 0xBB or c == u")" or c == u"]"


cdef inline bint is_opener(Py_UCS4 c) noexcept nogil:
    """``"'“‘«([¿¡``"""
    return (c == u'"' or c == u"'" or c == 0x201C or c == 0x2018 or c == 0xAB or c == u"(" or c == u"["
            or c == 0xBF or c == 0xA1)


cdef inline bint is_bullet(Py_UCS4 c) noexcept nogil:
    """``[-*•‣◦▪●–—+]``"""
    return (c == u"-" or c == u"*" or c == 0x2022 or c == 0x2023 or c == 0x25E6 or c == 0x25AA
            or c == 0x25CF or c == 0x2013 or c == 0x2014 or c == u"+")


# ---- the string being read -----------------------------------------------------------

cdef struct Text:
    int kind
    void *data
    Py_ssize_t n


cdef inline Text text_of(str text) noexcept:
    cdef Text t
    t.kind = PyUnicode_KIND(text)
    t.data = PyUnicode_DATA(text)
    t.n = PyUnicode_GET_LENGTH(text)
    return t


cdef inline Py_UCS4 at(const Text *t, Py_ssize_t i) noexcept:
    return PyUnicode_READ(t.kind, t.data, i)


# ---- a growing array of positions, on the stack until it outgrows ``local`` ------------

cdef enum:
    LOCAL = 256

cdef struct Buf:
    Py_ssize_t *items
    Py_ssize_t n
    Py_ssize_t cap
    Py_ssize_t local[LOCAL]


cdef inline void buf_init(Buf *b) noexcept:
    b.items = b.local
    b.n = 0
    b.cap = LOCAL


cdef inline void buf_free(Buf *b) noexcept:
    if b.items != b.local:
        PyMem_Free(b.items)
    b.items = b.local


cdef int buf_push(Buf *b, Py_ssize_t value) except -1:
    cdef Py_ssize_t *grown
    if b.n == b.cap:
        grown = <Py_ssize_t *>PyMem_Malloc(2 * b.cap * sizeof(Py_ssize_t))
        if grown == NULL:
            raise MemoryError()
        memcpy(grown, b.items, b.n * sizeof(Py_ssize_t))
        buf_free(b)
        b.items = grown
        b.cap *= 2
    b.items[b.n] = value
    b.n += 1
    return 0


cdef int cmp_position(const void *a, const void *b) noexcept nogil:
    cdef Py_ssize_t x = (<const Py_ssize_t *>a)[0]
    cdef Py_ssize_t y = (<const Py_ssize_t *>b)[0]
    return (x > y) - (x < y)


# ---- tokens ----------------------------------------------------------------------------

cdef Py_ssize_t token_end(const Text *t, Py_ssize_t i, Py_ssize_t end) noexcept:
    """End of the token starting at ``i`` (an alphanumeric character), never past ``end``."""
    cdef Py_UCS4 c = at(t, i), w
    cdef Py_ssize_t j
    cdef int pairs
    if is_cjk(c):
        return i + 1
    if is_decimal(c):  # a number
        j = i + 1
        while True:
            while j < end and is_decimal(at(t, j)):
                j += 1
            if j + 1 < end:
                w = at(t, j)
                if (w == u"." or w == u"," or w == u":") and is_decimal(at(t, j + 1)):
                    j += 1
                    continue
            return j
    # A dotted abbreviation: (a letter that is not a decimal digit, ".") at least twice.
    j = i
    pairs = 0
    while j + 1 < end:
        w = at(t, j)
        if not (is_alnum(w) and not is_decimal(w)) or at(t, j + 1) != u".":
            break
        j += 2
        pairs += 1
    if pairs >= 2:
        return j
    # A word: non-CJK alphanumerics, with inner apostrophes.
    j = i + 1
    while True:
        while j < end:
            w = at(t, j)
            if not is_alnum(w) or is_cjk(w):
                break
            j += 1
        if j + 1 < end and is_apostrophe(at(t, j)):
            w = at(t, j + 1)
            if is_alnum(w) and not is_cjk(w):
                j += 1
                continue
        return j


cdef int scan(const Text *t, Py_ssize_t start, Py_ssize_t end, Buf *out) except -1:
    """Token spans of ``[start, end)`` into ``out``, as start, end, start, end, ..."""
    cdef Py_ssize_t i = start, j
    while i < end:
        if not is_alnum(at(t, i)):
            i += 1
            continue
        j = token_end(t, i, end)
        buf_push(out, i)
        buf_push(out, j)
        i = j
    return 0


cdef inline str as_str(object text):
    """``text`` itself if it is a str or a subclass (a typed ``str`` argument would refuse subclasses)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return <str>text


cdef inline void clamp(str text, Py_ssize_t *start, Py_ssize_t *end) noexcept:
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    if start[0] < 0:
        start[0] = 0
    if end[0] > n:
        end[0] = n


def spans(text_, Py_ssize_t start, Py_ssize_t end, /):
    """spans(text, start, end) -> list of (start, end) token spans"""
    cdef str text = as_str(text_)
    clamp(text, &start, &end)
    cdef Text t = text_of(text)
    cdef Buf sp
    buf_init(&sp)
    try:
        scan(&t, start, end, &sp)
        return span_list(&sp)
    finally:
        buf_free(&sp)


cdef inline void put(tuple tup, Py_ssize_t k, object value) noexcept:
    Py_INCREF(value)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(tup, k, value)


cdef object build_sentence(str text, const Text *t, Py_ssize_t start, Py_ssize_t end, dict cache,
                           object fill, object para, type cls):
    """The sentence text[start:end] of paragraph ``para`` as ``cls``, or None when it holds no token."""
    cdef Buf sp
    cdef Py_ssize_t k, n, s, e
    cdef tuple starts, ends, words, stems, content, entity, info, args
    cdef object raw, got
    buf_init(&sp)
    try:
        scan(t, start, end, &sp)
        n = sp.n // 2
        if n == 0:
            return None
        starts = PyTuple_New(n)
        ends = PyTuple_New(n)
        words = PyTuple_New(n)
        stems = PyTuple_New(n)
        content = PyTuple_New(n)
        entity = PyTuple_New(n)
        for k in range(n):
            s = sp.items[2 * k]
            e = sp.items[2 * k + 1]
            put(starts, k, s)
            put(ends, k, e)
            raw = text[s:e]
            got = cache.get(raw)
            if got is None:
                got = fill(raw)
            if not isinstance(got, tuple) or len(<tuple>got) != 4:
                raise TypeError("token info must be a 4-tuple")
            info = <tuple>got
            put(words, k, info[0])
            put(stems, k, info[1])
            put(content, k, info[2])
            put(entity, k, info[3])
        # tuple.__new__(cls, fields), as a named tuple's _make does, without looking up and calling
        # tuple.__new__ as a method for each of millions of sentences
        args = ((para, start, end, starts, ends, words, stems, content, entity),)
        return PyTuple_Type.tp_new(cls, <PyObject *>args, NULL)
    finally:
        buf_free(&sp)


cdef inline void check_tuple_class(object cls) except *:
    if not isinstance(cls, type) or not issubclass(cls, tuple):
        raise TypeError("cls must be a tuple subclass")


def sentence(text_, Py_ssize_t start, Py_ssize_t end, dict cache not None, fill, para, cls, /):
    """sentence(text, start, end, cache, fill, para, cls) -> cls(para, start, end, token fields...) or None"""
    cdef str text = as_str(text_)
    check_tuple_class(cls)
    clamp(text, &start, &end)
    cdef Text t = text_of(text)
    return build_sentence(text, &t, start, end, cache, fill, para, <type>cls)


# ---- paragraphs and sentences ------------------------------------------------------------

cdef Py_ssize_t list_marker(const Text *t, Py_ssize_t pos, Py_ssize_t bound) noexcept:
    """End of a list marker "- ", "• ", "1. ", "(2) " matched at ``pos`` (not past ``bound``), or -1."""
    cdef Py_ssize_t j, k, d
    cdef Py_UCS4 c, close
    if pos >= bound:
        return -1
    c = at(t, pos)
    if is_bullet(c):
        j = pos + 1
    else:
        j = pos + 1 if c == u"(" else pos
        d = 0
        while d < 3 and j + d < bound and is_decimal(at(t, j + d)):
            d += 1
        # \d{1,3}[.)] : the character after the digits must close the number
        if d == 0 or j + d >= bound:
            return -1
        close = at(t, j + d)
        if close != u"." and close != u")":
            return -1
        j += d + 1
    k = j
    while k < bound and is_hspace(at(t, k)):
        k += 1
    return k if k > j else -1


cdef int add_trimmed(const Text *t, Py_ssize_t start, Py_ssize_t end, Buf *out) except -1:
    """Append start, end without surrounding whitespace and a leading list marker, if non-empty."""
    cdef Py_ssize_t m
    while start < end and Py_UNICODE_ISSPACE(at(t, start)):
        start += 1
    while end > start and Py_UNICODE_ISSPACE(at(t, end - 1)):
        end -= 1
    m = list_marker(t, start, end)
    if m >= 0:
        start = m
    if start < end:
        buf_push(out, start)
        buf_push(out, end)
    return 0


cdef int paragraph_list(const Text *t, Buf *out) except -1:
    """Paragraph spans into ``out`` (start, end, start, end, ...)."""
    cdef Py_ssize_t n = t.n, i, j, k, pos, sep_end
    cdef bint blank = False
    # Blank lines separate paragraphs if there is one; else every line is a paragraph.
    i = 0
    while i < n and not blank:
        if at(t, i) == u"\n":
            j = i + 1
            while j < n and is_hspace(at(t, j)):
                j += 1
            blank = j < n and at(t, j) == u"\n"
        i += 1
    pos = 0
    i = 0
    while i < n:
        if at(t, i) != u"\n":
            i += 1
            continue
        sep_end = i + 1
        if blank:  # \n(?:[^\S\n]*\n)+
            j = i + 1
            while True:
                k = j
                while k < n and is_hspace(at(t, k)):
                    k += 1
                if k < n and at(t, k) == u"\n":
                    j = k + 1
                    continue
                break
            if j == i + 1:  # a single line break inside a paragraph
                i += 1
                continue
            sep_end = j
        add_trimmed(t, pos, i, out)
        pos = sep_end
        i = sep_end
    add_trimmed(t, pos, n, out)
    return 0


cdef int abbreviation(str text, const Text *t, Py_ssize_t start, Py_ssize_t dot, object known) except -1:
    """Does the period at ``dot`` end an abbreviation or an initial?"""
    cdef Py_ssize_t i = dot
    cdef bint has_dot = False
    cdef Py_UCS4 c
    while i > start:
        c = at(t, i - 1)
        if c == u".":
            has_dot = True
        elif not Py_UNICODE_ISALPHA(c):
            break
        i -= 1
    if i == dot:
        return 0
    if has_dot:  # U.S.  e.g.
        return 1
    if dot - i == 1 and Py_UNICODE_ISUPPER(at(t, i)):  # an initial
        return 1
    return 1 if known(text[i:dot]) else 0


cdef int sentence_list(str text, const Text *t, Py_ssize_t start, Py_ssize_t end, object known,
                       Buf *out, bint line_lists=True) except -1:
    """Sentence spans of the paragraph ``[start, end)`` into ``out`` (start, end, start, end, ...).

    ``line_lists=False``: a line break followed by a list marker is not a cut (a hard-wrapped
    paragraph, whose list items are paragraphs already).
    """
    cdef Buf cuts
    cdef Py_ssize_t i, j, k, m, run, dot, stop, nxt, pos
    cdef Py_UCS4 c, after
    cdef bint latin, cjk
    buf_init(&cuts)
    try:
        i = start
        while i < end:
            c = at(t, i)
            latin = is_stop(c)
            cjk = is_cjk_stop(c)
            if not latin and not cjk:
                i += 1
                continue
            j = i + 1
            while j < end and (is_stop(at(t, j)) if latin else is_cjk_stop(at(t, j))):
                j += 1
            run = j - i  # terminal characters
            while j < end and is_closer(at(t, j)):
                j += 1
            if latin and j < end and not Py_UNICODE_ISSPACE(at(t, j)):
                i += 1  # not a sentence end here; the regex search resumes at the next character
                continue
            dot = i
            stop = j
            nxt = j
            while nxt < end and Py_UNICODE_ISSPACE(at(t, nxt)):
                nxt += 1
            if nxt >= end:
                break
            i = stop
            if cjk:
                buf_push(&cuts, stop)
                continue
            after = at(t, nxt)
            if not (Py_UNICODE_ISUPPER(after) or Py_UNICODE_ISDIGIT(after) or is_opener(after)
                    or list_marker(t, nxt, t.n) >= 0):
                continue
            if c == u"." and run == 1 and abbreviation(text, t, start, dot, known):
                continue  # a single period after an abbreviation or an initial
            buf_push(&cuts, stop)
        # A line break followed by a list marker also ends a sentence.
        k = start if line_lists else end
        while k < end:
            if at(t, k) != u"\n":
                k += 1
                continue
            m = k + 1
            while m < end and is_hspace(at(t, m)):
                m += 1
            if list_marker(t, m, end) >= 0:
                buf_push(&cuts, k)
            k = m
        qsort(cuts.items, cuts.n, sizeof(Py_ssize_t), cmp_position)
        pos = start
        for k in range(cuts.n):
            if k > 0 and cuts.items[k] == cuts.items[k - 1]:
                continue
            add_trimmed(t, pos, cuts.items[k], out)
            pos = cuts.items[k]
        add_trimmed(t, pos, end, out)
        return 0
    finally:
        buf_free(&cuts)


cdef list span_list(const Buf *b):
    cdef Py_ssize_t k
    return [(b.items[k], b.items[k + 1]) for k in range(0, b.n, 2)]


def paragraphs(text_, /):
    """paragraphs(text) -> list of (start, end) paragraph spans"""
    cdef str text = as_str(text_)
    cdef Text t = text_of(text)
    cdef Buf out
    buf_init(&out)
    try:
        paragraph_list(&t, &out)
        return span_list(&out)
    finally:
        buf_free(&out)


def sentences(text_, Py_ssize_t start, Py_ssize_t end, is_abbreviation, /):
    """sentences(text, start, end, is_abbreviation) -> list of (start, end) sentence spans"""
    cdef str text = as_str(text_)
    clamp(text, &start, &end)
    cdef Text t = text_of(text)
    cdef Buf out
    buf_init(&out)
    try:
        sentence_list(text, &t, start, end, is_abbreviation, &out)
        return span_list(&out)
    finally:
        buf_free(&out)


def segment(text_, dict cache not None, fill, is_abbreviation, cls, given=None, /):
    """segment(text, cache, fill, is_abbreviation, cls, paragraphs=None) -> list of sentences

    As dedup._text.segment; ``given`` paragraph spans (a hard-wrapped text's, which
    the Python rule decides) replace the blank-line/line paragraphs of ``paragraph_list``.
    """
    cdef str text = as_str(text_)
    check_tuple_class(cls)
    cdef Text t = text_of(text)
    cdef list out = []
    cdef Py_ssize_t p, s, a, b
    cdef object sent, para
    cdef Buf paras, sents
    buf_init(&paras)
    buf_init(&sents)
    try:
        if given is None:
            paragraph_list(&t, &paras)
        else:
            for a, b in given:
                if not 0 <= a <= b <= t.n:
                    raise ValueError(f"paragraph span ({a}, {b}) is outside the text")
                buf_push(&paras, a)
                buf_push(&paras, b)
        for p in range(0, paras.n // 2):
            para = p
            sents.n = 0
            sentence_list(text, &t, paras.items[2 * p], paras.items[2 * p + 1], is_abbreviation, &sents,
                          given is None)
            for s in range(0, sents.n, 2):
                sent = build_sentence(text, &t, sents.items[s], sents.items[s + 1], cache, fill, para, <type>cls)
                if sent is not None:
                    out.append(sent)
        return out
    finally:
        buf_free(&paras)
        buf_free(&sents)
