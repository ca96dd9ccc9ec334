"""The columnar cluster stage (corpus mode) equals the object one, on adversarial random links."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dedup._cluster.build import UnionFind, build, char_span
from dedup._cluster.table import build_table, min_labels
from dedup._text.segment import Sentence, segment
from dedup._types import Doc
from dedup._verify.links import LinkTable
from dedup._verify.reference import Link

_WORDS = "river budget harbour tunnel winter railway council library storm market".split()


def _corpus(rng: random.Random) -> tuple[list[Sentence], list[int], list[Doc]]:
    sentences: list[Sentence] = []
    sent_doc: list[int] = []
    docs = []
    for d in range(rng.randint(2, 6)):
        paragraphs = [
            " ".join(
                " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9))).capitalize() + "."
                for _ in range(rng.randint(1, 4))
            )
            for _ in range(rng.randint(1, 3))
        ]
        text = "\n".join(paragraphs)
        found = segment(text)
        sentences.extend(found)
        sent_doc.extend([d] * len(found))
        docs.append(Doc(f"doc{(d * 7) % 11}", text, d))
    return sentences, sent_doc, docs


def _links(rng: random.Random, sentences: list[Sentence]) -> list[Link]:
    n = len(sentences)
    pairs: set[tuple[int, int]] = set()
    for _ in range(rng.randint(1, 3 * n)):
        i = rng.randrange(n - 1)
        j = rng.randrange(i + 1, n)
        pairs.add((i, j))
        for step in range(1, rng.choice([1, 1, 2, 4])):  # chains of consecutive pairs
            if j + step < n:
                pairs.add((i + step, j + step))
    out = []
    for i, j in sorted(pairs, key=lambda _: rng.random()):  # any order
        ni, nj = len(sentences[i].tok_starts), len(sentences[j].tok_starts)
        a = rng.randrange(ni)
        b = rng.randrange(nj)
        span_i = (0, ni) if rng.random() < 0.6 else (a, rng.randint(a + 1, ni))
        span_j = (0, nj) if rng.random() < 0.6 else (b, rng.randint(b + 1, nj))
        score = rng.choice([1.0, 0.9, 0.75, 0.6, 0.5, rng.random()])  # ties on purpose
        kind = "exact" if score == 1.0 and rng.random() < 0.7 else rng.choice(["near", "fusion"])
        out.append(Link(i, j, round(score, 6) if rng.random() < 0.8 else score, kind, span_i, span_j))
    return out


def _char_spans(sentences: list[Sentence]):  # type: ignore[no-untyped-def]
    def spans(g: np.ndarray, tok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        both = np.array(
            [char_span(sentences[x], (a, b)) for x, (a, b) in zip(g.tolist(), tok.tolist(), strict=True)],
            dtype=np.int64,
        ).reshape(-1, 2)
        return both[:, 0], both[:, 1]

    return spans


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_build_table_equals_build(seed: int, threshold: float) -> None:
    rng = random.Random(seed)
    sentences, sent_doc, docs = _corpus(rng)
    if len(sentences) < 2:
        return
    links = _links(rng, sentences)
    clusters, matches = build(sorted(links), sentences, sent_doc, docs, threshold)
    table = build_table(
        LinkTable.from_links(links),
        np.asarray(sent_doc, dtype=np.int64),
        np.asarray([s.para for s in sentences], dtype=np.int64),
        np.asarray([d.ordinal for d in docs], dtype=np.int64),
        _char_spans(sentences),
        threshold,
        lambda d: docs[d].text,
    )
    got_clusters, got_matches = table.materialize([d.key for d in docs], lambda d: docs[d].text)
    assert len(table) == len(clusters)
    # Cluster and Match equality leave out their matches and alignments: compared apart.
    assert got_clusters == clusters and got_matches == matches
    assert [m.alignments for m in got_matches] == [m.alignments for m in matches]
    assert [m.kind for m in got_matches] == [m.kind for m in matches]
    assert [c.matches for c in got_clusters] == [c.matches for c in clusters]
    assert [c.passages.index(c.representative) for c in got_clusters] == [
        c.passages.index(c.representative) for c in clusters
    ]


def test_link_table_round_trip_and_order() -> None:
    links = [Link(3, 9, 0.5, "near", (0, 4), (1, 3)), Link(1, 2, 1.0, "exact", (0, 2), (0, 2))]
    table = LinkTable.from_links(links)
    assert table.to_links() == links
    assert table.sorted().to_links() == sorted(links)
    assert LinkTable.from_links([]).to_links() == [] and len(LinkTable.concat([table, table])) == 4


@pytest.mark.parametrize("seed", range(20))
def test_min_labels_are_the_union_find_roots(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    edges = rng.integers(0, n, size=(int(rng.integers(0, 2 * n)), 2))
    uf = UnionFind(n)
    for a, b in edges.tolist():
        uf.union(a, b)
    assert min_labels(n, edges[:, 0], edges[:, 1]).tolist() == [uf.find(x) for x in range(n)]


@pytest.mark.parametrize("seed", range(30))
def test_best_links_merge_as_the_dict_of_the_object_path(seed: int) -> None:
    from dedup._verify.links import best_links, merge_links

    rng = random.Random(seed)
    scores = [1.0, 0.8, 0.7, 0.65, 0.6, 0.4]  # ties on purpose; 0.4 is under the floor

    def link(i: int, j: int, kind: str) -> Link:
        return Link(i, j, rng.choice(scores), kind, (0, rng.randint(1, 5)), (rng.randint(0, 2), 6))

    pair_keys = {tuple(sorted(rng.sample(range(12), 2))) for _ in range(rng.randint(0, 25))}
    pair_links = [link(i, j, "near") for i, j in sorted(pair_keys)]
    covers = []
    for _ in range(rng.randint(0, 40)):
        i, j = rng.sample(range(12), 2)
        covers.append(link(i, j, rng.choice(["near", "fusion"])))
    best: dict[tuple[int, int], Link] = {}
    merge_links(best, pair_links, covers, 0.6)
    expected = [best[k] for k in sorted(best)]
    got = best_links(LinkTable.from_links(pair_links), LinkTable.from_links(covers), 0.6)
    assert got.to_links() == expected
