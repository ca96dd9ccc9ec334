"""The compiled tokeniser (dedup/_text/_segment.pyx) gives exactly what the reference regexes give."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup._text import segment as _text
from dedup._text.segment import (
    _regex_paragraph_spans,
    _regex_sentence,
    _regex_sentence_spans,
    _regex_tokens,
    make_sentence,
    paragraph_spans,
    sentence_spans,
)

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = DATA.parent.parent

needs_compiled = pytest.mark.skipif(not _text.ACCELERATED, reason="compiled tokeniser not built")


def test_compiled_tokeniser_is_built_where_ci_requires_it() -> None:
    # scripts/test.sh sets DEDUP_REQUIRE_COMPILED=1: a broken C build must fail CI, not
    # silently fall back to the (correct but ~5x slower) regular expression.
    if os.environ.get("DEDUP_REQUIRE_COMPILED") == "1":
        assert _text.ACCELERATED


def _texts() -> list[str]:
    texts = [(ROOT / "seeds" / "000_2e71187361903d7a.txt").read_text(encoding="utf-8")]
    for name in ("cnn_poc_highlights_40.jsonl", "lee_background_40.jsonl"):
        with (DATA / name).open(encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh)
    return texts


def _same_sentences(text: str) -> None:
    assert _text.segment(text) == _text._regex_segment(text)
    assert _text._compiled.paragraphs(text) == _regex_paragraph_spans(text)
    for p_start, p_end in paragraph_spans(text):
        assert sentence_spans(text, p_start, p_end) == _regex_sentence_spans(text, p_start, p_end)
    for para, (p_start, p_end) in enumerate(paragraph_spans(text)):
        for start, end in [(p_start, p_end), *sentence_spans(text, p_start, p_end)]:
            assert make_sentence(text, para, start, end) == _regex_sentence(text, para, start, end)
            assert _text.tokens(text, start, end) == _regex_tokens(text, start, end)


@needs_compiled
def test_same_sentences_as_the_regex_on_real_articles() -> None:
    texts = _texts()
    assert len(texts) == 81
    for text in texts:
        _same_sentences(text)
        assert _text.tokens(text, 0, len(text)) == _regex_tokens(text, 0, len(text))


# Characters at every branch of the token rules: ASCII and non-ASCII letters and digits
# (Arabic-Indic and fullwidth digits are decimal; superscripts and fractions are numeric
# but not decimal), CJK and kana (with the non-letter kana marks inside the CJK range),
# the separators of numbers and abbreviations, the three apostrophes and other quotes,
# underscores, combining marks, astral letters, emoji and a lone surrogate.
# Short alphabets make the interesting neighbours ("5:5", "a.b.", "x’y") frequent.
_ALPHABET = [*"aZé ß.,:'’ʼ‘`_-5٣０²½東京カナ・ー\u0301\n\t", "𝐀", "😀", "\ud800", "Ⅻ", "ǅ"]
_DENSE = list("a5.,:’ ")


@needs_compiled
@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60) | st.text(alphabet=st.sampled_from(_DENSE)),
    st.data(),
)
def test_same_tokens_as_the_regex_on_random_text(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert _text.tokens(text, start, end) == _regex_tokens(text, start, end)
    assert make_sentence(text, 3, start, end) == _regex_sentence(text, 3, start, end)


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_same_tokens_as_the_regex_on_any_unicode(text: str) -> None:
    assert _text.tokens(text, 0, len(text)) == _regex_tokens(text, 0, len(text))
    assert make_sentence(text, 0, 0, len(text)) == _regex_sentence(text, 0, 0, len(text))


@needs_compiled
@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["word ", "Word. ", "5,5 ", "東", "\n", "\n\n", "- ", "U.S. "]), max_size=2000)
)
def test_same_sentences_on_texts_past_the_stack_buffers(pieces: list[str]) -> None:
    # The compiled scanner keeps up to 128 token spans and 256 sentence cuts on the stack,
    # then moves to the heap: long sentences and paragraphs cross that line.
    text = "".join(pieces)
    assert _text.segment(text) == _text._regex_segment(text)
    assert sentence_spans(text, 0, len(text)) == _regex_sentence_spans(text, 0, len(text))


@needs_compiled
def test_one_sentence_of_thousands_of_tokens() -> None:
    text = " ".join(f"w{i} 東 3.{i}" for i in range(3000)) + "."
    assert _text.segment(text) == _text._regex_segment(text)
    assert len(_text.segment(text)[0].words) == 9000


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_same_segmentation_on_any_unicode(text: str) -> None:
    assert _text.segment(text) == _text._regex_segment(text)


@needs_compiled
def test_str_subclasses_are_segmented_like_str() -> None:
    class Text(str):
        pass

    text = Text("Mr. Smith left. Then he came back!\n\n- A list item")
    assert _text.segment(text) == _text._regex_segment(str(text))


@needs_compiled
def test_out_of_range_bounds_are_clamped_like_the_regex() -> None:
    text = "one two three"
    assert _text.tokens(text, -5, 100) == _regex_tokens(text, 0, len(text))
    assert _text.tokens(text, 8, 4) == []


@needs_compiled
def test_a_failing_token_callback_propagates() -> None:
    from dedup._text import _segment

    def boom(raw: str) -> tuple[str, str, bool, bool]:
        raise ValueError(raw)

    with pytest.raises(ValueError, match="zzqx"):
        _segment.sentence("zzqx", 0, 4, {}, boom, 0, _text.Sentence)
    with pytest.raises(ValueError, match="First"):
        _segment.segment("First one. Then zzqx.", {}, boom, _text._is_abbreviation_word, _text.Sentence)
    with pytest.raises(TypeError):
        _segment.sentence(b"zzqx", 0, 4, {}, boom, 0, _text.Sentence)
    with pytest.raises(TypeError, match="tuple subclass"):
        _segment.sentence("zzqx", 0, 4, {}, boom, 0, dict)


# Sentence and paragraph boundaries: stops (Latin and CJK), closing quotes and brackets,
# openers, upper and lower case, digits, initials and abbreviations, blank lines with
# spaces, list markers (bullets, "1.", "(2)"), and Unicode spaces.
_PIECES = [
    ".",
    "!",
    "?",
    "…",
    "。",
    "！",
    "？",
    '"',
    "'",
    "”",
    "’",
    "»",
    ")",
    "]",
    "“",
    "‘",
    "«",
    "(",
    "[",
    "¿",
    "¡",
    " ",
    " ",
    "\n",
    "\n\n",
    "\n \n",
    "\t",
    "\u00a0",
    "\u2028",
    "- ",
    "• ",
    "1. ",
    "(2) ",
    "12) ",
    "1234. ",
    "a",
    "b",
    "A",
    "B",
    "É",
    "1",
    "٣",
    "Mr",
    "U.S",
    "e.g",
    "St",
    "dr",
    "ſt",
    "J",
    "word",
    "Word",
    "東",
]


@needs_compiled
@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join), st.data())
def test_same_paragraphs_and_sentences_as_the_regex(text: str, data: st.DataObject) -> None:
    assert _text.segment(text) == _text._regex_segment(text)
    assert _text._compiled.paragraphs(text) == _regex_paragraph_spans(text)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert sentence_spans(text, start, end) == _regex_sentence_spans(text, start, end)


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_same_paragraphs_and_sentences_on_any_unicode(text: str) -> None:
    assert _text._compiled.paragraphs(text) == _regex_paragraph_spans(text)
    assert sentence_spans(text, 0, len(text)) == _regex_sentence_spans(text, 0, len(text))


@needs_compiled
@pytest.mark.parametrize(
    "text",
    [
        "Intro line\n- first item\n- second item\n\nNext paragraph. It ends here.",
        "Steps:\n1. Mix the flour.\n2) Bake it at 200 C.\n\n(3) Serve.",
        "He met Mr. Smith and J. R. Tolkien in the U.S. on Monday. Then they left!",
        "“Why?” she asked. ‘Because.’ He said so… And then? 「東京。」大阪！",
    ],
)
def test_same_spans_on_lists_abbreviations_and_quotes(text: str) -> None:
    _same_sentences(text)
    assert len(paragraph_spans(text)) >= 1 and len(sentence_spans(text, 0, len(text))) >= 2
