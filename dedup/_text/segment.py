"""Segmentation of raw text into paragraphs, sentences and word tokens, all with offsets.

Every span produced here indexes the caller's original string.  Normalisation
(NFKC, casefold, quote and dash unification) is applied to each token on its
own, so the normalised form never needs an offset map back to the original.
"""

from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "Sentence",
    "check_text",
    "make_sentence",
    "normalise_token",
    "paragraph_spans",
    "segment",
    "sentence_spans",
    "tokens",
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
    """Split ``text`` into paragraphs: at blank lines, or at every line if there are none.

    Spans exclude surrounding whitespace and leading list markers.

    Examples
    --------
    >>> paragraph_spans("- one\\n- two")
    [(2, 5), (8, 11)]
    >>> paragraph_spans("first\\nstill first\\n\\nsecond")
    [(0, 17), (19, 25)]
    """
    if _compiled is not None:
        return _compiled.paragraphs(text)
    return _regex_paragraph_spans(text)


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


def _regex_sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """:func:`sentence_spans` with regular expressions: the reference of the compiled version."""
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
    for m in _NEWLINE.finditer(text, start, end):
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
    if _compiled is not None:
        return _compiled.segment(text, _TOKEN_INFO, _token_info, _is_abbreviation_word, Sentence)
    return _regex_segment(text)


def _regex_segment(text: str) -> list[Sentence]:
    """:func:`segment` in Python: the reference of the compiled version."""
    out: list[Sentence] = []
    for para, (p_start, p_end) in enumerate(_regex_paragraph_spans(text)):
        for s_start, s_end in _regex_sentence_spans(text, p_start, p_end):
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
