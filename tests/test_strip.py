"""strip_duplicates: what a scraper stores."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup._text.cut import covered

BRIDGE = "The mayor opened the new bridge over the river on Tuesday morning."
FIRE = "Firefighters contained the warehouse blaze after six hours of work."
RATES = "The central bank left interest rates unchanged for a third month."


def test_text_without_duplicates_comes_back_unchanged() -> None:
    text = f"{BRIDGE}\n\n{FIRE}\n"
    assert dedup.strip_duplicates(text) == text


def test_later_copies_are_dropped_and_the_first_kept() -> None:
    text = f"- {BRIDGE}\n- {FIRE}\n- {BRIDGE}\n- {RATES}"
    assert dedup.strip_duplicates(text) == f"- {BRIDGE}\n- {FIRE}\n- {RATES}"


def test_sentences_seen_in_the_index_are_dropped_whole() -> None:
    index = dedup.DedupIndex()
    index.add("old", f"Yesterday: {FIRE}")
    text = f"{BRIDGE} {FIRE}\n\n{RATES}"
    assert dedup.strip_duplicates(text, index) == f"{BRIDGE} \n\n{RATES}".replace(" \n", "\n")
    assert len(index) == 1  # only queried


def test_the_seed_article_loses_its_restated_highlights(seed_text: str) -> None:
    out = dedup.strip_duplicates(seed_text)
    assert len(out) < len(seed_text)
    assert not [c for c in dedup.find_duplicates(out) if c.matches[0].kind == "exact"]


def test_options_go_to_the_index_or_here_not_both() -> None:
    with pytest.raises(TypeError, match="not both"):
        dedup.strip_duplicates(BRIDGE, dedup.DedupIndex(), threshold=0.9)


@given(
    cuts=st.lists(st.integers(0, 200), max_size=30),
    drop=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 60)), max_size=30),
)
@settings(derandomize=True, max_examples=300)
def test_covered_characters_equal_a_count_over_every_drop_range(
    cuts: list[int], drop: list[tuple[int, int]]
) -> None:
    bounds = sorted(set(cuts))
    spans = list(itertools.pairwise(bounds))
    ranges = [(s, s + n) for s, n in drop]
    expected = [sum(1 for x in range(a, b) if any(s <= x < e for s, e in ranges)) for a, b in spans]
    assert covered(spans, ranges) == expected


def test_many_repeated_lines_keep_the_first() -> None:
    assert dedup.strip_duplicates("ok.\n" * 3000) == "ok.\n"


def test_the_more_detailed_restatement_is_kept_and_the_short_one_dropped() -> None:
    short = "Lavrov chastised NATO for encouraging turmoil in Eastern Europe."
    long = "On Friday, Lavrov slammed NATO for fanning turmoil in Eastern Europe, officials said in Moscow."
    text = f"- {short}\n\n{FIRE}\n\n{long}"
    assert dedup.strip_duplicates(text) == f"{FIRE}\n\n{long}"


def test_a_fused_highlight_goes_and_both_sentences_it_fuses_stay() -> None:
    s1 = "The mayor opened the new bridge over the river on Tuesday morning after a long delay."
    s2 = "The bridge cost twelve million pounds and took three years to build, the council said."
    bullet = "The mayor opened the twelve million pound bridge over the river on Tuesday."
    text = f"- {bullet}\n\n{s1}\n\n{RATES}\n\n{s2}"
    kinds = {m.kind for m in dedup.find_duplicates(text, threshold=0.5).matches}
    assert "fusion" in kinds  # the case under test
    assert dedup.strip_duplicates(text, threshold=0.5) == f"{s1}\n\n{RATES}\n\n{s2}"
