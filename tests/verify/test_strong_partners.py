"""Every partner restating most of a sentence alone is linked to it, not only the cover's first pick."""

from __future__ import annotations

import pytest

import dedup

BULLET = "The black dog carried a rescue rope to his owner at the reservoir in Ohio on Saturday."
BODY = (
    "Firefighters praised the animal. Rescuers said the black dog carried a rescue rope to his owner "
    "at the reservoir in Ohio on Saturday afternoon, after the man slipped into deep mud."
)
CAPTION = "Hero: the black dog carried a rescue rope out to his owner at a reservoir in Ohio on Saturday."
TEXT = "\n".join(
    [
        BULLET,
        "The owner was treated for cold at a local hospital.",
        BODY,
        "Neighbours gathered to cheer.",
        CAPTION,
    ]
)


def _partners_of_bullet(result: dedup.Clusters) -> set[str]:
    out = set()
    for m in result.matches:
        if m.a.text == BULLET:
            out.add(m.b.text[:12])
        elif m.b.text == BULLET:
            out.add(m.a.text[:12])
    return out


def test_a_fact_told_three_times_links_the_short_one_to_both_longer_ones() -> None:
    # The bullet is contained in the body sentence and in the caption; the greedy cover picks one
    # of them, and the other restates the bullet as fully.
    assert _partners_of_bullet(dedup.find_duplicates(TEXT)) == {"Rescuers sai", "Hero: the bl"}


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0)])
def test_the_links_do_not_depend_on_the_order_of_the_paragraphs(order: tuple[int, ...]) -> None:
    parts = [BULLET, BODY, CAPTION]
    text = "\n".join(parts[k] for k in order)
    assert _partners_of_bullet(dedup.find_duplicates(text)) == {"Rescuers sai", "Hero: the bl"}
