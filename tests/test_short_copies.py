"""``short_copies``: exact copies of sentences under ``min_words``, reported by default, dropped on request.

Every front end applies the one rule (:func:`dedup._verify.run.copying`): the
detector, corpus mode and the index give the same clusters either way.
"""

from __future__ import annotations

import pytest

import dedup
from dedup._options import Options

ITEMS = [
    ("a", "Yes.\n\nThe harbour ferry sailed at dawn with forty passengers aboard.\n\nRead more."),
    ("b", "Prices rose again in March, the bureau said.\n\nYes.\n\nRead more."),
    ("c", "The harbour ferry sailed at dawn with forty passengers aboard.\n\nWhy?"),
]


def _texts(clusters: dedup.Clusters) -> list[set[str]]:
    return sorted(({p.text for p in c.passages} for c in clusters), key=sorted)


@pytest.mark.parametrize("short_copies", [True, False])
def test_every_front_end_agrees(short_copies: bool) -> None:
    index = dedup.DedupIndex.from_texts(ITEMS, short_copies=short_copies).clusters()
    corpus = dedup.find_corpus_duplicates(ITEMS, jobs=1, short_copies=short_copies)
    assert index.to_records() == corpus.to_records()
    expected = [{"The harbour ferry sailed at dawn with forty passengers aboard."}]
    if short_copies:
        expected = [{"Read more."}, *expected, {"Yes."}]
    assert _texts(index) == expected


@pytest.mark.parametrize("short_copies", [True, False])
def test_within_one_text(short_copies: bool) -> None:
    door = "The door opened slowly and a man walked in."
    text = f"Thump.\n{door}\nThump.\n{door}"
    found = dedup.find_duplicates(text, short_copies=short_copies)
    assert ({"Thump."} in _texts(found)) is short_copies
    assert {"The door opened slowly and a man walked in."} in _texts(found)


def test_a_long_enough_copy_is_kept() -> None:
    # Copies of min_words words or more are ordinary matches whatever short_copies says.
    items = [("a", "We are stunned!\n\nOne thing."), ("b", "Another thing.\n\nWe are stunned!")]
    found = dedup.DedupIndex.from_texts(items, short_copies=False, min_words=3).clusters()
    assert _texts(found) == [{"We are stunned!"}]


def test_the_option_steers_verification_only(tmp_path: pytest.TempPathFactory) -> None:
    # Nothing stored depends on it: an index saved with one value opens with the other.
    index = dedup.DedupIndex.from_texts(ITEMS[:2])
    path = str(tmp_path / "x.idx")  # type: ignore[operator]
    index.save(path)
    reopened = dedup.DedupIndex.load(path, short_copies=False)
    assert reopened.options.short_copies is False
    assert "Yes." not in {p.text for c in reopened.clusters() for p in c.passages}
    assert dedup.DedupIndex.load(path).options.short_copies is True


def test_a_non_bool_is_refused() -> None:
    with pytest.raises(TypeError, match="short_copies must be a bool"):
        Options(short_copies=1)  # type: ignore[arg-type]
