"""The seed article: default settings must give exactly its gold clusters."""

from __future__ import annotations

import bisect
import itertools
from typing import Any

import dedup


def _line_of(text: str):  # type: ignore[no-untyped-def]
    starts = [0]
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    return lambda offset: bisect.bisect_right(starts, offset) - 1


def _linked_paragraph_pairs(text: str, clusters: list[dedup.Cluster]) -> set[tuple[int, int]]:
    line = _line_of(text)
    pairs: set[tuple[int, int]] = set()
    for c in clusters:
        paras = sorted({line(p.span.start) for p in c.passages})
        pairs.update(itertools.combinations(paras, 2))
    return pairs


def _gold_pairs(gold: dict[str, Any]) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for cluster in gold["clusters"]:
        paras = sorted({p["paragraph"] for p in cluster})
        pairs.update(itertools.combinations(paras, 2))
    return pairs


def test_seed_every_gold_pair_is_linked(seed_text: str, seed_gold: dict[str, Any]) -> None:
    found = _linked_paragraph_pairs(seed_text, dedup.find_duplicates(seed_text))
    missing = _gold_pairs(seed_gold) - found
    assert not missing


def test_seed_no_pair_outside_gold_is_linked(seed_text: str, seed_gold: dict[str, Any]) -> None:
    found = _linked_paragraph_pairs(seed_text, dedup.find_duplicates(seed_text))
    allowed = _gold_pairs(seed_gold) | {tuple(sorted(p)) for p in seed_gold["optional_pairs"]}
    assert found - allowed == set()


def test_seed_gold_passages_are_covered_by_found_spans(seed_text: str, seed_gold: dict[str, Any]) -> None:
    clusters = dedup.find_duplicates(seed_text)
    spans = [p.span for c in clusters for p in c.passages]
    for cluster in seed_gold["clusters"]:
        for g in cluster:
            gold = dedup.Span(g["start"], g["end"])
            best = max(s.overlap(gold) for s in spans)
            assert best >= 0.8 * len(gold), g["text"]


def test_seed_passages_slice_back_to_their_text(seed_text: str) -> None:
    for c in dedup.find_duplicates(seed_text):
        assert c.representative in c.passages
        assert 0.0 <= c.score <= 1.0
        for p in c.passages:
            assert seed_text[p.span.start : p.span.end] == p.text


def test_seed_clusters_are_ranked_by_score(seed_text: str) -> None:
    scores = [c.score for c in dedup.find_duplicates(seed_text)]
    assert scores == sorted(scores, reverse=True)


def test_seed_reworded_bullet_is_found_with_aligned_spans(seed_text: str) -> None:
    clusters = dedup.find_duplicates(seed_text)
    match = next(m for c in clusters for m in c.matches if "chastised" in m.a.text)
    assert "slammed" in match.b.text
    assert match.alignments and all(0 < al.score <= 1 for al in match.alignments)
