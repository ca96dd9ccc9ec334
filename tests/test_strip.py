"""strip_duplicates: what a scraper stores."""

from __future__ import annotations

import pytest

import dedup

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
