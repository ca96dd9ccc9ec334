"""Hard-wrapped text: sentences run across the wrap's line breaks, so re-wrapping changes nothing."""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dedup
from dedup._text import segment as _text
from dedup._text.segment import paragraph_spans, segment, soft_breaks

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = DATA.parent.parent


def _lee() -> list[str]:
    with (DATA / "lee_background_40.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def _sentences() -> list[str]:
    out = []
    for text in _lee():
        out.extend(" ".join(text[a:b].split()) for a, b in _sentence_spans(text))
    return [s for s in out if len(s.split()) >= 4]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in segment(text)]


SENTENCES = _sentences()


def _wrap(paragraphs: list[str], width: int) -> str:
    # One paragraph after another, no blank lines: the case where every line used to be a paragraph.
    return "\n".join("\n".join(textwrap.wrap(p, width, break_long_words=False)) for p in paragraphs)


# Derandomized, as tests/test_properties.py: the same examples on every run, so CI does not depend
# on what a random search reaches (a counterexample found is kept below as a known failure).
FIXED = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)


@settings(FIXED, max_examples=300)
@given(
    st.lists(st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=5), min_size=1, max_size=5),
    st.integers(20, 150),
    st.integers(20, 150),
)
def test_rewrapping_at_any_width_keeps_the_sentences(paras: list[list[str]], w1: int, w2: int) -> None:
    # The rules need evidence in each wrapping: breaks inside sentences continuing in lower case.
    # With fewer than two, a wrap can look like a list of lines; those are the known gaps kept as
    # strict xfails below.
    plain = [" ".join(p) for p in paras]
    assume(_lower_continuations(_wrap(plain, w1)) >= 2 and _lower_continuations(_wrap(plain, w2)) >= 2)
    _check_rewrapping(paras, w1, w2)


def _lower_continuations(text: str) -> int:
    """Lines that stop inside a sentence and whose next line continues with a lower-case word."""
    return sum(
        bool(a.rstrip()) and a.rstrip()[-1] not in ".!?\"'”’)" and b[:1].islower()
        for a, b in itertools.pairwise(text.split("\n"))
    )


@pytest.mark.xfail(
    strict=True,
    reason="known: one paragraph wrapped onto two lines among one-line paragraphs gives one soft break, "
    "too little evidence for either rule (the text's, or a region's of at least 3 lines). Found by "
    "the property above, 2026-12-03",
)
def test_known_single_wrapped_paragraph_among_line_paragraphs_keeps_its_lines() -> None:
    blaze = "A new blaze near Goulburn, south-west of Sydney, has forced the closure of the Hume Highway."
    hundreds = (
        "Hundreds of people have been forced to vacate their homes in the Southern Highlands of New "
        "South Wales as strong winds today pushed a huge bushfire towards the town of Hill Top."
    )
    _check_rewrapping([[hundreds], [blaze], [blaze], [blaze]], 20, 102)


def test_a_wide_wrap_with_one_soft_break_inside_a_sentence_is_joined() -> None:
    # Found by the property above in a random run, 2026-12-03: two paragraphs wrapped at 141 columns
    # leave one soft break inside a sentence, too little for the text-wide rule (at least two); the
    # first paragraph's three lines are a wrapped region on their own evidence.
    seles = (
        "In the second set, Seles broke her opponent in the opening game and completed victory with "
        "relative ease despite Razzano's tenacious efforts."
    )
    paras = [
        [
            seles,
            "Hundreds of people have been forced to vacate their homes in the Southern Highlands of New "
            "South Wales as strong winds today pushed a huge bushfire towards the town of Hill Top.",
        ],
        [
            seles,
            "A new blaze near Goulburn, south-west of Sydney, has forced the closure of the Hume Highway.",
        ],
    ]
    _check_rewrapping(paras, 20, 141)


@pytest.mark.xfail(
    strict=True,
    reason="known: two paragraphs wrapped at 92 columns whose only break inside a sentence continues with "
    "a capitalised word ('of New / South Wales'): a region needs a break continuing in lower case, since "
    "menus and headline lists (CleanPortalEval) look the same otherwise, so the lines stay paragraphs. "
    "Fails at eb3f118 too; found by the property above in a full-suite run, 2026-12-03",
)
def test_known_wrap_whose_only_inner_break_continues_capitalised_keeps_its_lines() -> None:
    blaze = "A new blaze near Goulburn, south-west of Sydney, has forced the closure of the Hume Highway."
    hundreds = (
        "Hundreds of people have been forced to vacate their homes in the Southern Highlands of New "
        "South Wales as strong winds today pushed a huge bushfire towards the town of Hill Top."
    )
    _check_rewrapping([[blaze, hundreds], [blaze, blaze]], 20, 92)


def _check_rewrapping(paras: list[list[str]], w1: int, w2: int) -> None:
    plain = [" ".join(p) for p in paras]
    a, b = _wrap(plain, w1), _wrap(plain, w2)
    assume(a.count("\n") >= 4 and b.count("\n") >= 4)  # short texts: see test_short_texts_keep_their_lines
    words_a, words_b = [s.words for s in segment(a)], [s.words for s in segment(b)]
    assert words_a == words_b
    assert words_a == [s.words for s in segment(" ".join(plain))]  # as if never wrapped
    for s in segment(a):  # offsets index the wrapped text
        assert s.words == tuple(
            _text.normalise_token(a[x:y]) for x, y in zip(s.tok_starts, s.tok_ends, strict=True)
        )
    if _text.ACCELERATED:  # the compiled tokeniser follows the same paragraphs
        assert segment(a) == _text._regex_segment(a)


@pytest.mark.parametrize("n", range(5))
def test_a_passage_wrapped_at_two_widths_is_one_match(n: int) -> None:
    # The reproduction: 120 words wrapped at 72 and at 60 columns gave 5 fragments
    # covering 309 of 727 characters.
    text = " ".join(_lee()[n].split()[:120])
    a, b = "\n".join(textwrap.wrap(text, 72)), "\n".join(textwrap.wrap(text, 60))
    index = dedup.DedupIndex()
    index.add("a", a)
    [match] = index.add("b", b)
    assert (match.a.span.start, match.a.span.end) == (0, len(b))
    assert (match.b.span.start, match.b.span.end) == (0, len(a))


def test_one_item_per_line_texts_keep_their_lines() -> None:
    seed = (ROOT / "seeds" / "000_2e71187361903d7a.txt").read_text(encoding="utf-8")
    headlines = (
        "Russia warns NATO over troop build-up\nMarkets slide as oil tops $100\n"
        "Floods close schools across the north\nCouncil approves new library plan"
    )
    bullets = "- Troops are leaving the border region\n- Markets were calm\n- Talks resume in May"
    paragraph_lines = "\n".join(SENTENCES[:12])  # a sentence per line, each ending in a period
    for text in (seed, headlines, bullets, paragraph_lines):
        assert soft_breaks(text) == []
        assert len(paragraph_spans(text)) == len(text.strip().split("\n"))
    with (DATA / "cnn_poc_highlights_40.jsonl").open(encoding="utf-8") as fh:
        assert not any(soft_breaks(json.loads(line)["text"]) for line in fh)


def test_list_items_and_dashes_in_wrapped_text() -> None:
    prose = (
        "The council met on Monday and agreed a plan that will see the northern district get a new\n"
        "library, a pool and two parks by the end of next year, officials said after the vote. The\n"
        "mayor said the plan - which opponents called too costly - was the largest in a decade and\n"
        "- after years of delay - would finally go ahead. Items approved:\n"
        "- a library\n"
        "- a pool\n"
        "Work starts in spring, when the contracts have been signed by all of the parties involved."
    )
    assert soft_breaks(prose)
    texts = [prose[a:b] for a, b in paragraph_spans(prose)]
    assert texts[1:3] == ["a library", "a pool"]  # list items stay items
    sents = [" ".join(prose[s.start : s.end].split()) for s in segment(prose)]
    assert "- after years of delay - would finally go ahead." in " ".join(sents)  # a dash, not an item
    assert sents[-1].startswith("Work starts in spring")


def test_short_texts_keep_their_lines() -> None:
    # Under three lines there is too little to tell a wrap from two items: lines stay units.
    assert soft_breaks("A first line that is long enough\nand a second one") == []


@settings(FIXED, max_examples=40)
@given(
    st.lists(
        st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=4, unique=True), min_size=1, max_size=4
    ),
    st.integers(30, 120),
    st.integers(30, 120),
)
def test_rewrapped_copies_match_in_full(paras: list[list[str]], w1: int, w2: int) -> None:
    plain = [" ".join(p) for p in paras]
    a, b = _wrap(plain, w1), _wrap(plain, w2)
    assume(a.count("\n") >= 4 and b.count("\n") >= 4 and len(set(plain)) == len(plain))
    index = dedup.DedupIndex()
    index.add("a", a)
    covered = {i for m in index.add("b", b) for i in range(m.a.span.start, m.a.span.end)}
    words = [range(x, y) for s in segment(b) for x, y in zip(s.tok_starts, s.tok_ends, strict=True)]
    assert all(set(w) <= covered for w in words)  # every word of b is in a match


@pytest.mark.parametrize("width", [50, 60, 72, 80])
@pytest.mark.parametrize("n", range(4))
def test_a_wrapped_passage_inside_an_unwrapped_host_is_segmented_by_sentences(width: int, n: int) -> None:
    # A host whose paragraphs are one long line each (so the text is not wrapped as a whole), with a
    # passage hard-wrapped on its own lines: the passage's region joins, the host keeps its lines.
    host = [" ".join(SENTENCES[8 * n + k : 8 * n + k + 3]) for k in (0, 3)]
    passage = " ".join(SENTENCES[8 * n + 6 : 8 * n + 10])
    wrapped = "\n".join(textwrap.wrap(passage, width, break_long_words=False, break_on_hyphens=False))
    text = "\n".join([host[0], wrapped, host[1]])
    assert [s.words for s in segment(text)] == [
        s.words for s in segment(" ".join([host[0], passage, host[1]]))
    ]
    texts = [" ".join(text[a:b].split()) for a, b in paragraph_spans(text)]
    assert texts == [" ".join(host[0].split()), " ".join(passage.split()), " ".join(host[1].split())]
    if _text.ACCELERATED:
        assert segment(text) == _text._regex_segment(text)
