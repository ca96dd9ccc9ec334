"""Segmentation of raw text into paragraphs, sentences and word tokens, all with offsets.

Every span produced here indexes the caller's original string.  Normalisation
(NFKC, casefold, quote and dash unification) is applied to each token on its
own, so the normalised form never needs an offset map back to the original.
"""

from __future__ import annotations

import itertools
import operator
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from dedup._rules import TOPIC_SENTENCES

__all__ = [
    "Sentence",
    "check_text",
    "clear_topic_names",
    "make_sentence",
    "may_have_topic_names",
    "normalise_token",
    "paragraph_spans",
    "segment",
    "segment_with_topic",
    "sentence_spans",
    "soft_breaks",
    "tokens",
    "topic_names",
    "without_topic_names",
]

try:  # the compiled tokeniser (dedup/_text/_segment.pyx), built at install time when a C compiler is present
    from dedup._text import _segment as _compiled
except ImportError:  # pragma: no cover - installs without a C compiler
    _compiled = None  # type: ignore[assignment]
if os.environ.get("DEDUP_PURE_PYTHON") == "1":  # the reference tokeniser (the regex), for comparisons
    _compiled = None  # type: ignore[assignment]

#: True when the compiled tokeniser is in use (same tokens as the regular expression, ~5x faster).
ACCELERATED = _compiled is not None

# A blank line: two newlines with only horizontal whitespace between them.
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_PARA_SEP_BLANK = re.compile(r"\n(?:[^\S\n]*\n)+")
_PARA_SEP_LINE = re.compile(r"\n")
# List markers at the start of a paragraph or line: "- ", "* ", "• ", "1. ", "2) ", "(3) ".
_LIST_MARKER = re.compile(r"(?:[-*•‣◦▪●–—+]|\(?\d{1,3}[.)])[^\S\n]+")

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_WORD_CHAR = rf"[^\W_{_CJK}]"  # a letter or digit that is not CJK
_TOKEN = re.compile(
    # Every token starts with a letter or digit: the look-ahead lets the regex engine
    # skip spaces and punctuation quickly (same tokens, ~20% faster scanning).
    r"(?=[^\W_])(?:"
    rf"[{_CJK}]"  # one ideograph / kana per token (text without spaces)
    r"|\d+(?:[.,:]\d+)*"  # numbers: 10,000  3.5  12:30
    r"|(?:[^\W\d_]\.){2,}"  # dotted abbreviations: U.S.  e.g.
    rf"|{_WORD_CHAR}+(?:['’ʼ]{_WORD_CHAR}+)*"  # words, with inner apostrophes
    r")"
)

# Sentence ends: terminal punctuation, optional closing quotes/brackets, then space.
# One leading character class lets the regex engine skip ahead quickly; the look-behinds
# then pick the branch: Latin stops need a space (or the end) after them, CJK stops do not.
_SENT_END = re.compile(
    r"[.!?…。！？](?:(?<=[.!?…])[.!?…]*[\"'”’»)\]]*(?=\s|$)|(?<=[。！？])[。！？]*[\"'”’»)\]]*)"
)
_NEWLINE = re.compile(r"\n[^\S\n]*")
_OPENERS = "\"'“‘«([¿¡"
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft vs etc inc ltd co corp gen sen rep gov lt col sgt capt cmdr
    adm maj pres rev hon jan feb mar apr jun jul aug sep sept oct nov dec no nos vol fig figs al approx
    est dept univ ave blvd rd p pp cf ca""".split()
)

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being has have
    had do does did it its this that these those he she they we you i his her their our your my me him
    them us who whom which what when where why how not no nor so than then there here also just about
    into over after before under up down out off s t said says say will would can could may might shall
    should must very more most such some any all each other only own same too while during because
    against between through again further once both few am yet per via upon onto de la le el""".split()
)

_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})


@lru_cache(maxsize=1 << 16)
def normalise_token(raw: str) -> str:
    """Return the comparison form of one token: NFKC, casefolded, quotes unified.

    Examples
    --------
    >>> normalise_token("Ukraine’s")
    'ukraine'
    >>> normalise_token("ＦＵＬＬ")
    'full'
    """
    tok = unicodedata.normalize("NFKC", raw).casefold().translate(_QUOTES)
    if tok.endswith("'s") and len(tok) > 2:
        tok = tok[:-2]
    if "." in tok and not tok[0].isdigit():
        tok = tok.replace(".", "")
    return tok


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Light, deterministic suffix stripping so that "troops"/"troop" and "warns"/"warn" meet."""
    if not word.isascii() or not word.isalpha():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class Sentence(NamedTuple):
    """One sentence of a document, with its tokens; all offsets into the original text.

    A named tuple rather than a dataclass: corpora make millions of them, and
    the compiled tokeniser builds them directly.
    """

    para: int
    start: int
    end: int
    tok_starts: tuple[int, ...]
    tok_ends: tuple[int, ...]
    words: tuple[str, ...]  # normalised tokens
    stems: tuple[str, ...]  # light stems of ``words``
    content: tuple[bool, ...]  # not a stop word
    entity: tuple[bool, ...]  # capitalised or numeric in the original: names, places, figures

    @property
    def norm(self) -> str:
        """The normalised sentence: words joined by single spaces (punctuation collapsed)."""
        return " ".join(self.words)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into paragraphs: at blank lines; else at every line, unless it is hard-wrapped.

    Spans exclude surrounding whitespace and leading list markers.  A text
    without blank lines is hard-wrapped when :func:`soft_breaks` finds that its
    line breaks fall where a wrapping program put them; its paragraphs then
    run across those breaks, so a sentence wrapped at any width is one unit.

    Examples
    --------
    >>> paragraph_spans("- one\\n- two")
    [(2, 5), (8, 11)]
    >>> paragraph_spans("first\\nstill first\\n\\nsecond")
    [(0, 17), (19, 25)]
    >>> wrapped = ("The minister said the talks\\nwould resume in the spring\\n"
    ...            "after the elections, and\\nthat both agreed.\\nA new paragraph.")
    >>> for a, b in paragraph_spans(wrapped):
    ...     print(wrapped[a:b].replace("\\n", " "))
    The minister said the talks would resume in the spring after the elections, and that both agreed.
    A new paragraph.
    """
    soft = soft_breaks(text)
    if soft:
        return _wrapped_paragraph_spans(text, soft)
    if _compiled is not None:
        return _compiled.paragraphs(text)
    return _regex_paragraph_spans(text)


#: Hard wrapping is recognised in texts of at least this many lines (two lines of similar
#: length look wrapped by the width rule alone).
WRAP_MIN_LINES = 3
#: Lines longer than this are paragraphs, not a wrap (wrapping programs fill 60-100 columns).
WRAP_MAX_WIDTH = 200
#: A wrapped region inside a text not wrapped as a whole is at least this wide (menus and
#: headlines are short lines; wrapping programs fill 60-100 columns).
WRAP_MIN_WIDTH = 40
_TERMINAL = ".!?…:;。！？\"'”’»)]"


def soft_breaks(text: str) -> list[int]:
    """Offsets of the line breaks of a hard-wrapped ``text`` that continue a paragraph ([] if it is not).

    The rule, for a text without blank lines and of at least :data:`WRAP_MIN_LINES`
    lines, with ``width`` its longest line (trailing spaces left out):

    * a break is *soft* when the line before it does not end in terminal
      punctuation (it stops inside a sentence) and the next line's first word
      would not have fitted on it (``len(line) + 1 + len(word) > width``): a
      wrapping program leaves exactly such breaks inside a paragraph, whatever
      its width (every line is at most that width, so ``width`` never
      exceeds it).  This holds for a next line starting with a list marker
      too, unless the line before is an item itself: after a prose line that
      stops inside a sentence, "- " is a dash and "12. " a figure;
    * only in prose, not in a list of titles: some line ends in terminal
      punctuation, or some break inside a sentence continues with a word not
      capitalised.

    The text is hard-wrapped when it has at least two soft breaks inside
    sentences, and they are at least a quarter of all its breaks, and no
    line is longer than :data:`WRAP_MAX_WIDTH`; then a break after terminal
    punctuation is soft too if the next word would not have fitted, so that
    paragraphs, not only sentences, run across the wrap.  A short line (a
    heading, a paragraph's last line) is followed by a hard break.  So
    one-item-per-line texts (headlines, bullets, a paragraph per line) keep
    their lines, and hard-wrapped text gets its sentences and paragraphs back.

    A text not hard-wrapped as a whole (a passage wrapped at 72 columns pasted
    into a host whose paragraphs are one long line each, a wrapped quote in a
    page of short lines) is judged region by region: a *region* is a run of
    at least :data:`WRAP_MIN_LINES` consecutive lines, none longer than
    :data:`WRAP_MAX_WIDTH`, where every line's next word would not have fitted
    on it under the run's own width (its longest line, at least
    :data:`WRAP_MIN_WIDTH`), so all but the last line have similar lengths;
    a list item after a lead-in or another item ends it.  A region is wrapped
    on its own evidence: some break inside it stops inside a sentence and
    continues with a word in lower case, and at least a quarter of its breaks
    are inside sentences; then all its breaks are soft.  Runs are taken from
    the first line on, longest first; a run that is not wrapped is tried
    again from its second line, once (so the search stays linear in the lines).

    Re-wrapping a text at another width moves its breaks but not its
    sentences, so what matches does not depend on the width.

    Examples
    --------
    >>> soft_breaks("One headline here\\nAnother headline\\nA third, longer headline")
    []
    >>> host = "A host paragraph on one line, too long for a wrap. " * 5
    >>> text = (host + "\\nThe minister said the talks would resume in\\nthe spring after the "
    ...         "elections, and that both\\nsides agreed to meet.\\n" + host)
    >>> [text[b - 6 : b] for b in soft_breaks(text)]
    ['ume in', 't both']
    """
    if "\n" not in text or _BLANK_LINE.search(text):
        return []
    raw = text.split("\n")
    if len(raw) < WRAP_MIN_LINES:
        return []
    sizes = [len(line.rstrip()) for line in raw]  # trailing spaces left out
    lines: list[tuple[int, int]] = []  # (start, end without trailing spaces) of each line
    pos = 0
    for line, size in zip(raw, sizes, strict=True):
        lines.append((pos, pos + size))
        pos += len(line) + 1
    width = max(sizes)
    if width > WRAP_MAX_WIDTH:
        return _wrapped_regions(text, lines)
    inside: list[int] = []  # soft breaks inside a sentence
    after: list[int] = []  # soft by width, after a sentence's end
    prose = any(end > start and text[end - 1] in _TERMINAL for start, end in lines)
    for (a_start, a_end), (b_start, b_end) in itertools.pairwise(lines):
        head = text[b_start:b_end].lstrip()
        if not head or a_end == a_start:
            continue
        words = head.split(None, 1)
        marker = _LIST_MARKER.match(head)
        closed = text[a_end - 1] in _TERMINAL
        if marker and (closed or _LIST_MARKER.match(text[a_start:a_end].lstrip())):
            continue  # an item after a lead-in or another item; else "- " is a dash, "12. " a figure
        if (a_end - a_start) + 1 + len(words[0]) > width:
            (after if closed else inside).append(b_start - 1)
        prose = prose or not (closed or marker or head[0].isupper())
    if not prose or len(inside) < 2 or 4 * len(inside) < len(lines) - 1:
        return _wrapped_regions(text, lines)
    return sorted(inside + after)


def _wrapped_regions(text: str, lines: list[tuple[int, int]]) -> list[int]:
    """Soft breaks of the wrapped regions of a text not wrapped as a whole (see :func:`soft_breaks`)."""
    if not any(  # no line stops inside a sentence and continues in lower case: nothing to join
        a_end > a_start and text[a_end - 1] not in _TERMINAL and text[b_start:b_end].lstrip()[:1].islower()
        for (a_start, a_end), (b_start, b_end) in itertools.pairwise(lines)
    ):
        return []
    soft: list[int] = []
    first = 0
    retried = False  # the run from ``first`` is the retry, from its second line, of a run that failed
    while first < len(lines) - 1:
        start, end = lines[first]
        if not WRAP_MIN_WIDTH // 2 <= end - start <= WRAP_MAX_WIDTH:  # too short or long to start a wrap
            first, retried = first + 1, False
            continue
        last, joined = _wrapped_run(text, lines, first)
        soft.extend(joined)
        if joined or retried:  # retried once from the second line: on after the run (linear time)
            first, retried = max(last, first) + 1, False
        else:
            first, retried = first + 1, True
    return soft


def _wrapped_run(text: str, lines: list[tuple[int, int]], first: int) -> tuple[int, list[int]]:
    """The longest run of lines from ``first`` that looks wrapped at its own width: its last line and
    its breaks, or ``[]`` if the run is too little evidence of a wrap."""
    start, end = lines[first]
    width = end - start
    if not width or width > WRAP_MAX_WIDTH:
        return first, []
    fits = WRAP_MAX_WIDTH + 1  # the shortest line of the run, plus one and the next line's first word
    prose = False  # a break inside a sentence continues with a word in lower case
    inside: list[int] = []
    after: list[int] = []
    last = first
    for k in range(first + 1, len(lines)):
        b_start, b_end = lines[k]
        if b_end - b_start > WRAP_MAX_WIDTH:
            break
        head = text[b_start:b_end].lstrip()
        if not head:
            break
        marker = _LIST_MARKER.match(head)
        closed = text[end - 1] in _TERMINAL
        if marker and (closed or _LIST_MARKER.match(text[start:end].lstrip())):
            break  # an item after a lead-in or another item
        fits = min(fits, (end - start) + 1 + len(head.split(None, 1)[0]))
        if fits <= max(width, b_end - b_start):  # the next word would have fitted on some line of the run
            break
        width = max(width, b_end - b_start)
        (after if closed else inside).append(b_start - 1)
        prose = prose or (not closed and head[0].islower())
        start, end = b_start, b_end
        last += 1
    if (
        last - first + 1 < WRAP_MIN_LINES
        or width < WRAP_MIN_WIDTH
        or not prose
        or 4 * len(inside) < last - first
    ):
        return last, []
    return last, sorted(inside + after)


def _wrapped_paragraph_spans(text: str, soft: list[int]) -> list[tuple[int, int]]:
    """Paragraph spans of a hard-wrapped text: lines joined across its ``soft`` breaks."""
    spans: list[tuple[int, int]] = []
    pos = 0
    joined = set(soft)
    at = text.find("\n")
    while at != -1:
        if at not in joined:
            _add_trimmed(text, pos, at, spans)
            pos = at + 1
        at = text.find("\n", at + 1)
    _add_trimmed(text, pos, len(text), spans)
    return spans


def _regex_paragraph_spans(text: str) -> list[tuple[int, int]]:
    """:func:`paragraph_spans` with regular expressions: the reference of the compiled version."""
    sep = _PARA_SEP_BLANK if _BLANK_LINE.search(text) else _PARA_SEP_LINE
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in sep.finditer(text):
        _add_trimmed(text, pos, m.start(), spans)
        pos = m.end()
    _add_trimmed(text, pos, len(text), spans)
    return spans


def _add_trimmed(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    m = _LIST_MARKER.match(text, start, end)
    if m:
        start = m.end()
    if start < end:
        out.append((start, end))


def _is_abbreviation(text: str, start: int, dot: int) -> bool:
    """True if the period at ``dot`` ends an abbreviation or an initial, not a sentence."""
    i = dot
    while i > start and (text[i - 1].isalpha() or text[i - 1] == "."):
        i -= 1
    word = text[i:dot]
    if not word:
        return False
    if "." in word:  # U.S.  e.g.
        return True
    if len(word) == 1 and word.isupper():  # an initial: "John F. Kennedy"
        return True
    return _is_abbreviation_word(word)


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences; spans index ``text``.

    Examples
    --------
    >>> s = "Mr. Smith paid $3.5 million in the U.S. on Monday. Then he left! “Why?” she asked."
    >>> [s[a:b] for a, b in sentence_spans(s, 0, len(s))]
    ['Mr. Smith paid $3.5 million in the U.S. on Monday.', 'Then he left!', '“Why?” she asked.']
    """
    if _compiled is not None:
        return _compiled.sentences(text, start, end, _is_abbreviation_word)
    return _regex_sentence_spans(text, start, end)


def _is_abbreviation_word(word: str) -> bool:
    return word.casefold() in _ABBREVIATIONS


def _regex_sentence_spans(text: str, start: int, end: int, line_lists: bool = True) -> list[tuple[int, int]]:
    """:func:`sentence_spans` with regular expressions: the reference of the compiled version.

    ``line_lists=False`` (a hard-wrapped paragraph, whose list items are paragraphs already):
    a line break followed by a list marker is not a cut.
    """
    cuts: list[int] = []
    for m in _SENT_END.finditer(text, start, end):
        stop = m.end()
        nxt = stop
        while nxt < end and text[nxt].isspace():
            nxt += 1
        if nxt >= end:
            break
        punct = m.group()
        if punct[0] in "。！？":
            cuts.append(stop)
            continue
        after = text[nxt]
        if not (after.isupper() or after.isdigit() or after in _OPENERS or _LIST_MARKER.match(text, nxt)):
            continue
        single_dot = punct[0] == "." and len(punct.rstrip("\"'”’»)]")) == 1
        if single_dot and _is_abbreviation(text, start, m.start()):
            continue
        cuts.append(stop)
    # A line break followed by a list marker also ends a sentence (lists inside a paragraph).
    for m in _NEWLINE.finditer(text, start, end) if line_lists else ():
        if _LIST_MARKER.match(text, m.end(), end):
            cuts.append(m.start())
    spans: list[tuple[int, int]] = []
    pos = start
    for cut in sorted(set(cuts)):
        _add_trimmed(text, pos, cut, spans)
        pos = cut
    _add_trimmed(text, pos, end, spans)
    return spans


def _regex_tokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN.finditer(text, start, end)]


def tokens(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the word tokens in ``text[start:end]`` (one per CJK character).

    Examples
    --------
    >>> s = "It’s 10,000 U.S. troops."
    >>> [s[a:b] for a, b in tokens(s, 0, len(s))]
    ['It’s', '10,000', 'U.S.', 'troops']
    """
    if _compiled is not None:
        return _compiled.spans(text, start, end)
    return _regex_tokens(text, start, end)


# raw token -> (word, stem, content, entity); bounded so that corpus runs cannot grow it forever.
_TOKEN_INFO: dict[str, tuple[str, str, bool, bool]] = {}
_TOKEN_INFO_LIMIT = 1 << 20


def _token_info(raw: str) -> tuple[str, str, bool, bool]:
    word = normalise_token(raw)
    content = word not in STOPWORDS
    first = raw[0]
    info = (word, stem(word), content, content and (first.isupper() or first.isdigit()))
    if len(_TOKEN_INFO) >= _TOKEN_INFO_LIMIT:
        _TOKEN_INFO.clear()
    _TOKEN_INFO[raw] = info
    return info


def make_sentence(text: str, para: int, start: int, end: int) -> Sentence | None:
    """The sentence ``text[start:end]`` of paragraph ``para`` with its tokens, or ``None`` if it has none."""
    if _compiled is None:
        return _regex_sentence(text, para, start, end)
    return _compiled.sentence(text, start, end, _TOKEN_INFO, _token_info, para, Sentence)


def _regex_sentence(text: str, para: int, start: int, end: int) -> Sentence | None:
    """:func:`make_sentence` with the regular expression: the reference the compiled tokeniser matches."""
    # The hot path of segmentation: one regex scan, one cached lookup per token,
    # and ``zip(*...)`` to transpose per-token records into the per-field tuples.
    matches = list(_TOKEN.finditer(text, start, end))
    if not matches:
        return None
    get = _TOKEN_INFO.get
    infos = [get(raw) or _token_info(raw) for raw in map(re.Match.group, matches)]
    words, stems, content, entity = zip(*infos, strict=True)
    return Sentence(
        para=para,
        start=start,
        end=end,
        tok_starts=tuple(map(re.Match.start, matches)),
        tok_ends=tuple(map(re.Match.end, matches)),
        words=words,
        stems=stems,
        content=content,
        entity=entity,
    )


def segment(text: str) -> list[Sentence]:
    """Paragraphs, then sentences, then tokens of ``text``; sentences without words are dropped.

    Examples
    --------
    >>> [(s.para, s.norm) for s in segment("- It’s 10,000 troops.\\n- Mr. Lavrov said so.")]
    [(0, 'it 10,000 troops'), (1, 'mr lavrov said so')]
    """
    return segment_with_topic(text)[0]


def segment_with_topic(text: str) -> tuple[list[Sentence], frozenset[str]]:
    """:func:`segment` of ``text``, and the document's :func:`topic_names` whose flags it cleared.

    For a caller that keeps the names (an index rebuilds some of a stored
    document's sentences later and clears the same flags with
    :func:`clear_topic_names`).

    Examples
    --------
    >>> sents, topic = segment_with_topic("Ann ran. Ann sat. Ann won. Ann left. Bob came.")
    >>> len(sents), sorted(topic)
    (5, ['ann'])
    """
    if _compiled is None:
        found = _regex_raw(text)
    else:
        soft = soft_breaks(text)
        paras = _wrapped_paragraph_spans(text, soft) if soft else None
        found = _compiled.segment(text, _TOKEN_INFO, _token_info, _is_abbreviation_word, Sentence, paras)
    topic = topic_names(found) if may_have_topic_names(len(found)) else frozenset()
    return clear_topic_names(found, topic), topic


def may_have_topic_names(n_sentences: int) -> bool:
    """Whether a document of ``n_sentences`` can have :func:`topic_names`: a name needs more than
    ``TOPIC_SENTENCES`` sentences to be in, so a shorter document's sentences do not depend on
    each other (each can be made alone)."""
    return n_sentences > TOPIC_SENTENCES


def topic_names(sentences: Sequence[Sentence]) -> frozenset[str]:
    """Stems written as a name or figure in more than ``TOPIC_SENTENCES`` of a document's ``sentences``.

    They are the document's topic (its main people, places, the figure every
    paragraph repeats): in one sentence they say little about what it states.

    Examples
    --------
    >>> text = "Ann ran. Ann sat. Ann won. Ann left. Bob came."
    >>> sorted(topic_names([make_sentence(text, 0, a, b) for a, b in sentence_spans(text, 0, len(text))]))
    ['ann']
    """
    per_sentence = (set(itertools.compress(s.stems, s.entity)) for s in sentences)
    counts = Counter(itertools.chain.from_iterable(per_sentence))
    return frozenset(stem for stem, n in counts.items() if n > TOPIC_SENTENCES)


def without_topic_names(sentences: list[Sentence]) -> list[Sentence]:
    """A document's ``sentences`` with the entity flag of its :func:`topic_names` cleared.

    Such a name weighs as an ordinary content word, and a sentence lacking it
    substitutes nothing (see :mod:`dedup._verify.reference`).  ``segment``
    applies it to every document: a caller needing some sentences of a
    document takes them from ``segment`` of all of it, not from
    :func:`make_sentence` (which sees one sentence).

    Examples
    --------
    >>> [s.entity[0] for s in segment("Ann ran. Ann sat. Ann won. Ann left. Bob came.")]
    [False, False, False, False, True]
    """
    if not may_have_topic_names(len(sentences)):
        return sentences
    return clear_topic_names(sentences, topic_names(sentences))


def clear_topic_names(sentences: list[Sentence], topic: frozenset[str]) -> list[Sentence]:
    """``sentences`` with the entity flag of the stems in ``topic`` cleared (``topic``: their
    document's :func:`topic_names`, e.g. kept by an index that rebuilds some sentences only)."""
    if not topic:
        return sentences
    return [_without(s, topic) for s in sentences]


def _without(sent: Sentence, topic: frozenset[str]) -> Sentence:
    """``sent`` with the entity flag of the stems in ``topic`` cleared."""
    if topic.isdisjoint(itertools.compress(sent.stems, sent.entity)):
        return sent
    # ``entity > in topic`` is ``entity and not in topic`` (bools); ``entity`` is the last field.
    return Sentence(*sent[:-1], tuple(map(operator.gt, sent.entity, map(topic.__contains__, sent.stems))))


def _regex_segment(text: str) -> list[Sentence]:
    """:func:`segment` in Python: the reference of the compiled version."""
    return without_topic_names(_regex_raw(text))


def _regex_raw(text: str) -> list[Sentence]:
    """:func:`_regex_segment` before the topic names' flags are cleared."""
    out: list[Sentence] = []
    soft = soft_breaks(text)
    paras = _wrapped_paragraph_spans(text, soft) if soft else _regex_paragraph_spans(text)
    for para, (p_start, p_end) in enumerate(paras):
        for s_start, s_end in _regex_sentence_spans(text, p_start, p_end, not soft):
            sent = _regex_sentence(text, para, s_start, s_end)
            if sent is not None:
                out.append(sent)
    return out


def check_text(text: object, name: str = "text") -> str:
    """Return ``text`` if it is a ``str``; raise ``TypeError`` naming the argument otherwise."""
    if not isinstance(text, str):
        hint = (
            " (decode bytes first, e.g. data.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
        )
        raise TypeError(f"{name} must be str, got {type(text).__name__}{hint}")
    return text
