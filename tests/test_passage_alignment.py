"""Passage alignment across documents (issue 15 #2, #4): one copied passage is one match.

A passage copied from one document into another is reported once, from its
first to its last aligned character on each side, whatever paragraph breaks
or shuffled sentences lie inside it, with one alignment per sentence pair
kept inside the match.  The rule lives in the cluster stage that every front
end shares (``dedup._cluster.chain``): the in-memory index, the Redis index,
the multi-document detector and corpus mode give the same match.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import dedup
from dedup._corpus.run import find_corpus_duplicates
from dedup._engine import detect
from dedup._options import Options
from dedup._types import Doc, Match

SOURCE = (
    "The harbour authority met on Monday to review the winter schedule for the ferries.\n\n"
    "Engineers reported that the northern pier needs new pilings before the storms arrive in December. "
    "The repairs will cost about four million dollars and take eleven weeks, the chief engineer said.\n\n"
    "Ferry passengers will use the southern terminal while the contractors replace the damaged timber. "
    "Local shop owners fear that the detour will keep visitors away from the old market square. "
    "The council promised a shuttle bus between the two terminals every twenty minutes."
)
HOST = (
    "Orchestras across the region are planning a joint festival for the spring season. "
    "Violinists from six cities will rehearse together in the concert hall next month. "
)
TAIL = " Tickets go on sale in January at the box office and online."


def _copy(first: str, last: str) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """A document pasting the source from ``first`` to the end of ``last``, and the two spans."""
    start = SOURCE.index(first)
    end = SOURCE.index(last) + len(last)
    suspicious = HOST + SOURCE[start:end] + TAIL
    return suspicious, (len(HOST), len(HOST) + end - start), (start, end)


def _index_matches(index: dedup.DedupIndex, suspicious: str) -> list[Match]:
    assert index.add("source", SOURCE) == []
    return index.add("copy", suspicious)


def _sides(matches: list[Match]) -> list[tuple[tuple[int, int], tuple[int, int], int]]:
    """Each match's span in the copy, span in the source and number of alignments."""
    out = []
    for m in matches:
        a, b = (m.a, m.b) if m.a.key == "copy" else (m.b, m.a)
        out.append(((a.start, a.end), (b.start, b.end), len(m.alignments)))
    return sorted(out)


def test_a_passage_copied_across_a_paragraph_break_is_one_match() -> None:
    suspicious, in_copy, in_source = _copy("Engineers reported", "the damaged timber.")
    [m] = _index_matches(dedup.DedupIndex(), suspicious)
    assert (m.a.key, m.b.key, m.kind) == ("copy", "source", "exact")
    assert (m.a.start, m.a.end) == in_copy and (m.b.start, m.b.end) == in_source
    assert len(m.alignments) == 3  # one per sentence pair, each inside the match
    for al in m.alignments:
        assert m.a.start <= al.a.start < al.a.end <= m.a.end
        assert suspicious[al.a.start : al.a.end] == SOURCE[al.b.start : al.b.end]


def test_a_shuffled_passage_is_one_match() -> None:
    first = (
        "Ferry passengers will use the southern terminal while the contractors replace the damaged timber."
    )
    second = "Local shop owners fear that the detour will keep visitors away from the old market square."
    third = "The council promised a shuttle bus between the two terminals every twenty minutes."
    suspicious = HOST + " ".join([third, first, second]) + TAIL
    [m] = _index_matches(dedup.DedupIndex(), suspicious)
    assert (m.a.start, m.a.end) == (len(HOST), len(HOST) + len(first) + len(second) + len(third) + 2)
    assert (m.b.start, m.b.end) == (SOURCE.index(first), len(SOURCE))
    assert len(m.alignments) == 3


def test_passages_far_apart_stay_two_matches() -> None:
    filler = " ".join(
        f"Filler sentence number {w} talks about {w} gardens, {w} bicycles and {w} lanterns."
        for w in ("red", "blue", "green", "amber", "violet")
    )
    one = "Engineers reported that the northern pier needs new pilings before the storms arrive in December."
    two = "The council promised a shuttle bus between the two terminals every twenty minutes."
    suspicious = f"{HOST}{one} {filler} {two}{TAIL}"
    found = _sides(_index_matches(dedup.DedupIndex(), suspicious))
    assert [(a, b) for a, b, _ in found] == [
        (
            (suspicious.index(one), suspicious.index(one) + len(one)),
            (SOURCE.index(one), SOURCE.index(one) + len(one)),
        ),
        ((suspicious.index(two), suspicious.index(two) + len(two)), (SOURCE.index(two), len(SOURCE))),
    ]


def front_ends(suspicious: str) -> Iterator[tuple[str, list[tuple[tuple[int, int], tuple[int, int], int]]]]:
    """The cross-document matches of each front end on the source and ``suspicious``."""
    yield "memory", _sides(_index_matches(dedup.DedupIndex(), suspicious))
    docs = [("source", SOURCE), ("copy", suspicious)]
    detected = dedup.Clusters._from_detection(
        detect([Doc(k, t, n) for n, (k, t) in enumerate(docs)], Options()), Options().threshold
    )
    yield "detector", _sides([m for m in detected.matches if m.a.key != m.b.key])
    found = find_corpus_duplicates(docs, jobs=1)
    yield "corpus", _sides([m for m in found.matches if m.a.key != m.b.key])


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Engineers reported", "the damaged timber."),
        ("The repairs will cost", "every twenty minutes."),
        ("The harbour authority", "the chief engineer said."),
        ("pilings before the storms", "keep visitors away"),  # from and to mid-sentence
    ],
)
def test_every_front_end_gives_the_same_passage_match(first: str, last: str) -> None:
    suspicious, in_copy, in_source = _copy(first, last)
    results = dict(front_ends(suspicious))
    assert results["memory"][0][:2] == (in_copy, in_source)
    for name, got in results.items():
        assert got == results["memory"], name


def test_a_passage_copied_from_mid_sentence_starts_and_ends_where_the_copy_does() -> None:
    suspicious, in_copy, in_source = _copy("needs new pilings before", "will keep visitors away")
    [m] = _index_matches(dedup.DedupIndex(), suspicious)
    assert (m.a.start, m.a.end) == in_copy and (m.b.start, m.b.end) == in_source
    assert m.a.text == m.b.text == SOURCE[in_source[0] : in_source[1]]
    # The fragments are inside the match but aligned to nothing: the alignments are whole sentences.
    assert len(m.alignments) == 2
    assert all(in_copy[0] < al.a.start and al.a.end < in_copy[1] for al in m.alignments)


def test_two_words_agreeing_by_chance_do_not_extend_a_match() -> None:
    one = "Engineers reported that the northern pier needs new pilings before the storms arrive in December."
    # The source goes on "The repairs will cost ...": two words agree, then the texts part.
    suspicious = f"{HOST}{one} The repairs were promised years ago by the mayor.{TAIL}"
    [m] = _index_matches(dedup.DedupIndex(), suspicious)
    at = suspicious.index(one)
    assert (m.a.start, m.a.end) == (at, at + len(one))
    assert (m.b.start, m.b.end) == (SOURCE.index(one), SOURCE.index(one) + len(one))


ORIGINAL = "The repairs will cost about four million dollars and take eleven weeks, the chief engineer said."
EDITED = "The repair bill: some 4 million dollars, and eleven weeks of work, the engineer in chief said."


def edited_copy() -> tuple[str, tuple[int, int], tuple[int, int]]:
    """A copy from "Engineers reported" to "the damaged timber." whose middle sentence is reworded."""
    suspicious, in_copy, in_source = _copy("Engineers reported", "the damaged timber.")
    return suspicious.replace(ORIGINAL, EDITED), in_copy, in_source


def test_an_edited_sentence_inside_a_copied_passage_does_not_cut_it_in_two() -> None:
    suspicious, in_copy, in_source = edited_copy()
    [m] = _index_matches(dedup.DedupIndex(), suspicious)
    assert (m.a.start, m.a.end) == (in_copy[0], in_copy[1] + len(EDITED) - len(ORIGINAL))
    assert (m.b.start, m.b.end) == in_source
    # The edited sentence scores as no link: two alignments, around it.
    assert [suspicious[al.a.start : al.a.end][:9] for al in m.alignments] == ["Engineers", "Ferry pas"]
    # Both aligned sentences are exact copies, but the passage is not: the match is "near".
    assert m.kind == "near"
    results = dict(front_ends(suspicious))
    for name, got in results.items():
        assert got == results["memory"], name
    found = find_corpus_duplicates([("source", SOURCE), ("copy", suspicious)], jobs=1)
    assert [x.kind for x in found.matches if x.a.key != x.b.key] == ["near"]


def test_an_unlike_text_between_two_copied_sentences_keeps_them_apart() -> None:
    one = "Engineers reported that the northern pier needs new pilings before the storms arrive in December."
    two = "Ferry passengers will use the southern terminal while the contractors replace the damaged timber."
    other = "Violas and cellos from the conservatory will join the brass section for the closing night."
    suspicious = f"{HOST}{one} {other} {two}{TAIL}"
    found = _sides(_index_matches(dedup.DedupIndex(), suspicious))
    assert [(a[0], b[0]) for a, b, _ in found] == [
        (suspicious.index(one), SOURCE.index(one)),
        (suspicious.index(two), SOURCE.index(two)),
    ]


def test_edges_extend_over_words_longer_than_the_first_window() -> None:
    from dedup._cluster.chain import extend_edges

    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"  # 45 letters
    a = f"one two three {word} Shared words continue here."
    b = f"one two three {word}!! Shared words continue here."
    got = extend_edges(a, (a.index("Shared"), len(a)), b, (b.index("Shared"), len(b)))
    assert got == ((0, len(a)), (0, len(b)))
