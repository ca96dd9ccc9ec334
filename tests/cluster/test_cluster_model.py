"""The cluster model: every two passages of a cluster restate each other; no chaining."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
from dedup._cluster.cliques import cliques

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = DATA.parent.parent


def _articles() -> list[str]:
    texts = [(ROOT / "seeds" / "000_2e71187361903d7a.txt").read_text(encoding="utf-8")]
    with (DATA / "cnn_poc_highlights_40.jsonl").open(encoding="utf-8") as fh:
        texts.extend(json.loads(line)["text"] for line in fh)
    return texts


Place = tuple[str | None, int, int]


def _holder(c: dedup.Cluster, side: dedup.Passage) -> Place:
    """The passage of ``c`` that holds a match's side (passages are unions of overlapping sides)."""
    [p] = [p for p in c.passages if p.key == side.key and p.span.start <= side.span.start < p.span.end]
    return (p.key, p.span.start, p.span.end)


def _root(copy_of: dict[Place, Place], x: Place) -> Place:
    while copy_of[x] != x:
        x = copy_of[x]
    return x


def _restate(clusters: dedup.Clusters) -> None:
    """Each cluster is a clique of matches (exact copies count as one), and every match is in one."""
    for c in clusters:
        places = [(p.key, p.span.start, p.span.end) for p in c.passages]
        ends = [(_holder(c, m.a), _holder(c, m.b), m.kind == "exact") for m in c.matches]
        copy_of = {x: x for x in places}
        for a, b, exact in ends:
            if exact:
                ra, rb = _root(copy_of, a), _root(copy_of, b)
                copy_of[max(ra, rb, key=str)] = min(ra, rb, key=str)
        # Exact copies are one unit: a passage restating one copy restates the other.
        linked = {frozenset((_root(copy_of, a), _root(copy_of, b))) for a, b, _ in ends}
        for p, q in itertools.combinations(places, 2):
            rp, rq = _root(copy_of, p), _root(copy_of, q)
            assert rp == rq or frozenset((rp, rq)) in linked, (c, p, q)
    for m in clusters.matches:  # every match lies in a cluster
        assert any(m in c.matches for c in clusters), m


def test_every_two_passages_of_a_cluster_restate_each_other() -> None:
    for text in _articles():
        for threshold in (0.4, 0.6):
            _restate(dedup.find_duplicates(text, threshold=threshold))


def test_corpus_clusters_follow_the_same_model() -> None:
    docs = [(str(n), text) for n, text in enumerate(_articles()[:15])]
    found = dedup.find_corpus_duplicates(docs, jobs=1)
    _restate(found)
    index = dedup.DedupIndex.from_texts(docs, jobs=1)
    assert index.clusters() == found


def test_a_fused_sentence_is_in_a_cluster_with_each_of_its_sources() -> None:
    # Article 8 of the CNN sample: the bullet "Molly Schuyler scarfed down three 72-ounce
    # steaks Sunday in Amarillo, Texas." fuses two body sentences that do not restate each
    # other; it used to chain them into one three-passage cluster.
    text = _articles()[1 + 8]
    found = dedup.find_duplicates(text)
    bullet = next(p for c in found for p in c.passages if p.text.startswith("Molly Schuyler scarfed"))
    holding = [c for c in found if bullet in c.passages]
    assert len(holding) == 2
    others = [next(p for p in c.passages if p != bullet) for c in holding]
    assert others[0] != others[1]
    assert not any({m.a, m.b} == set(others) for m in found.matches)  # the sources do not restate
    _restate(found)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(2, 12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.booleans()), max_size=30),
        )
    )
)
def test_cliques_on_any_graph(graph: tuple[int, list[tuple[int, int, bool]]]) -> None:
    n, edges = graph
    edges = [(a, b, e) for a, b, e in edges if a != b]
    a, b, exact = [x for x, _, _ in edges], [y for _, y, _ in edges], [e for _, _, e in edges]
    groups = cliques(n, a, b, exact, list(range(len(edges))))
    copy = list(range(n))

    def unit(x: int) -> int:
        while copy[x] != x:
            x = copy[x]
        return x

    for x, y, e in edges:
        if e:
            rx, ry = unit(x), unit(y)
            copy[max(rx, ry)] = min(rx, ry)
    adjacent = {frozenset((unit(x), unit(y))) for x, y, _ in edges}
    for g in groups:
        assert g == sorted(set(g))
        units = {unit(x) for x in g}
        assert all(frozenset(p) in adjacent for p in itertools.combinations(units, 2))  # a clique
        assert {x for x in range(n) if unit(x) in units} == set(g)  # exact copies come whole
    for x, y, _ in edges:  # every edge lies in a cluster
        assert any(x in g and y in g for g in groups)
    for g, h in itertools.permutations(groups, 2):  # no cluster inside another
        assert not set(g) <= set(h)
