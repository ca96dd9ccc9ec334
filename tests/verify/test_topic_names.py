"""A name or figure in many sentences of its document is its topic: it weighs as an ordinary word there."""

from __future__ import annotations

from dedup._rules import ENTITY_WEIGHT, TOPIC_SENTENCES
from dedup._text.segment import segment, topic_names
from dedup._verify.reference import profile

# "Mercer" is in every sentence; "Oslo" in one.
STORY = (
    "Mercer opened the new bridge over the river in Oslo on Monday. "
    "Mercer said the bridge had cost less than planned. "
    "Critics of Mercer pointed to the long delays. "
    "Mercer answered that the delays were the builders' fault. "
    "Mercer will open a second bridge next spring."
)


def _weights(text: str) -> list[dict[str, float]]:
    return [dict(profile(s).weights) for s in segment(text)]


def test_a_name_in_every_sentence_weighs_as_an_ordinary_word() -> None:
    weights = _weights(STORY)
    assert all(w["mercer"] == 1.0 for w in weights)
    assert weights[0]["oslo"] == ENTITY_WEIGHT  # a rare name still weighs double


def test_a_name_in_few_sentences_keeps_its_weight() -> None:
    sentences = STORY.split(". ")
    few = ". ".join(sentences[:TOPIC_SENTENCES]) + "."
    assert all(w["mercer"] == ENTITY_WEIGHT for w in _weights(few))
    assert not topic_names(segment(few))


def test_each_document_weighs_its_own_names() -> None:
    # The same sentence weighs "Mercer" double in a text that names him once.
    alone = _weights("Mercer said the bridge had cost less than planned.")
    assert alone[0]["mercer"] == ENTITY_WEIGHT
