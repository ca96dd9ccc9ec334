"""A short sentence restating most of its content words in a longer one links at the default threshold."""

from __future__ import annotations

import dedup
from dedup._rules import SHRINK

# The first sentence has 6 content words; the third contains 4 of them.
TEXT = (
    "The council approved the budget for the new library after a debate.\n\n"
    "Critics said the plan ignored parks.\n\n"
    "Approved budget funds new library wing, residents hear.\n\n"
    "Weather was mild."
)


def test_four_of_six_content_words_link_at_the_default_threshold() -> None:
    matches = dedup.find_duplicates(TEXT).matches
    assert len(matches) == 1
    m = matches[0]
    assert m.a.text.startswith("The council") and m.b.text.startswith("Approved budget")
    assert m.score == round(4 / (6 + SHRINK), 6)  # shared weight over the sentence's, shrunk
