"""From scored sentence links to matches, passages and ranked clusters (see _cluster/cliques.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from dedup._cluster.chain import bridge_labels, extend_edges, match_labels
from dedup._cluster.cliques import cliques
from dedup._cluster.unionfind import UnionFind
from dedup._options import Options
from dedup._rules import PASSAGE_OVERLAP
from dedup._text.segment import Sentence
from dedup._types import Alignment, Cluster, Doc, Match, Passage, Span, maker
from dedup._verify.reference import Link

__all__ = ["Detection", "UnionFind", "build", "char_span", "iter_components"]


@dataclass(frozen=True, slots=True)
class Detection:
    """Everything the cluster stage needs, kept by results for re-thresholding."""

    docs: tuple[Doc, ...]
    sentences: tuple[Sentence, ...]
    sent_doc: tuple[int, ...]
    links: tuple[Link, ...]
    options: Options


def char_span(sent: Sentence, tok: tuple[int, int]) -> tuple[int, int]:
    """Character span (in the document) of the token span ``tok`` ``[first, last)`` of ``sent``."""
    first, last = tok
    start = sent.tok_starts[first]
    end = sent.end if last >= len(sent.tok_starts) else sent.tok_ends[last - 1]
    return start, end


def _match_roots(
    links: Sequence[Link],
    uf: UnionFind,
    sentences: Sequence[Sentence],
    sent_doc: Sequence[int],
    docs: Sequence[Doc],
) -> tuple[list[int], set[int]]:
    """Each link's match (its smallest link): :func:`~dedup._cluster.chain.match_labels` over the
    within-document chains of ``uf`` and the links' aligned character spans, then
    :func:`~dedup._cluster.chain.bridge_labels`; and the matches that bridging joined."""
    n = len(links)
    a = [char_span(sentences[lk.i], lk.span_i) for lk in links]
    b = [char_span(sentences[lk.j], lk.span_j) for lk in links]
    roots = np.array([uf.find(k) for k in range(n)], dtype=np.int64)
    doc_a = np.array([sent_doc[lk.i] for lk in links], dtype=np.int64)
    doc_b = np.array([sent_doc[lk.j] for lk in links], dtype=np.int64)
    a_start = np.array([s for s, _ in a], dtype=np.int64)
    a_end = np.array([e for _, e in a], dtype=np.int64)
    b_start = np.array([s for s, _ in b], dtype=np.int64)
    b_end = np.array([e for _, e in b], dtype=np.int64)
    before = match_labels(
        n, np.arange(n, dtype=np.int64), roots, doc_a, doc_b, a_start, a_end, b_start, b_end
    )
    labels = bridge_labels(before, doc_a, a_start, a_end, doc_b, b_start, b_end, lambda d: docs[d].text)
    roots_out: list[int] = labels.tolist()
    return roots_out, set(labels[labels != before].tolist())


_BY_PAIR = itemgetter(0, 1)  # a Link's (i, j)
_FIRST = itemgetter(0)
_make_span = maker(Span)
_make_passage = maker(Passage)
_make_alignment = maker(Alignment)
_make_match = maker(Match)
_make_cluster = maker(Cluster)


def build(
    links: Iterable[Link],
    sentences: Sequence[Sentence],
    sent_doc: Sequence[int],
    docs: Sequence[Doc],
    threshold: float,
) -> tuple[list[Cluster], list[Match]]:
    """Matches and ranked clusters from the links scoring at least ``threshold``.

    Corpus mode runs the same steps on columns (:func:`dedup._cluster.table.build_table`).
    """
    sent_para = [s.para for s in sentences]
    kept = [lk for lk in links if lk.score >= threshold]
    if not kept:
        return [], []
    kept.sort(key=_BY_PAIR)
    # 1. Links between consecutive sentences of the same two paragraphs form one match
    #    (dedup/_cluster/chain.py states the rule).
    uf = UnionFind(len(kept))
    by_pair = {(lk.i, lk.j): n for n, lk in enumerate(kept)}
    n_sents = len(sent_doc)
    for n, lk in enumerate(kept):
        i, j = lk.i, lk.j
        m = by_pair.get((i + 1, j + 1))
        if (
            m is not None
            and j + 1 < n_sents
            and sent_doc[i] == sent_doc[i + 1]
            and sent_para[i] == sent_para[i + 1]
            and sent_doc[j] == sent_doc[j + 1]
            and sent_para[j] == sent_para[j + 1]
        ):
            uf.union(n, m)
    del by_pair
    # 1b. Across documents, aligned stretches near each other in both documents form one match.
    if any(sent_doc[lk.i] != sent_doc[lk.j] for lk in kept):
        match_of, bridged = _match_roots(kept, uf, sentences, sent_doc, docs)
    else:
        match_of, bridged = [uf.find(n) for n in range(len(kept))], set()
    groups: dict[int, list[Link]] = {}
    for n, lk in enumerate(kept):
        groups.setdefault(match_of[n], []).append(lk)

    matches: list[Match] = []
    # Each side of a match as (document, start, end); sides[2m], sides[2m+1] are match m's.
    sides: list[tuple[int, int, int]] = []
    # Equal spans and passages are built once and shared (they are immutable): a sentence
    # matched many times, and a one-sentence passage and its alignment, reuse one object.
    span_of: dict[tuple[int, int], Span] = {}
    passage_of: dict[tuple[int, int, int], Passage] = {}

    def span(bounds: tuple[int, int]) -> Span:
        got = span_of.get(bounds)
        if got is None:
            got = span_of[bounds] = _make_span(*bounds)
        return got

    def passage(side: tuple[int, int, int]) -> Passage:
        got = passage_of.get(side)
        if got is None:
            d, start, end = side
            doc = docs[d]
            got = passage_of[side] = _make_passage(doc.key, span((start, end)), doc.text[start:end])
        return got

    for root, group in groups.items():
        first = group[0]
        da, db = sent_doc[first.i], sent_doc[first.j]
        if len(group) == 1:  # most matches: one sentence pair
            x, y = char_span(sentences[first.i], first.span_i), char_span(sentences[first.j], first.span_j)
            sa, sb = (da, *x), (db, *y)
            if (docs[db].ordinal, sb[1]) < (docs[da].ordinal, sa[1]):
                sa, sb, x, y = sb, sa, y, x
            alignments: tuple[Alignment, ...] = (_make_alignment(span(x), span(y), first.score),)
            score = round(first.score, 6)
            kind = first.kind
        else:
            a_spans = [char_span(sentences[lk.i], lk.span_i) for lk in group]
            b_spans = [char_span(sentences[lk.j], lk.span_j) for lk in group]
            sa = (da, min(s for s, _ in a_spans), max(e for _, e in a_spans))
            sb = (db, min(s for s, _ in b_spans), max(e for _, e in b_spans))
            if (docs[db].ordinal, sb[1]) < (docs[da].ordinal, sa[1]):
                sa, sb = sb, sa
                a_spans, b_spans = b_spans, a_spans
            alignments = tuple(
                _make_alignment(span(x), span(y), lk.score)
                for x, y, lk in zip(a_spans, b_spans, group, strict=True)
            )
            score = round(sum(lk.score for lk in group) / len(group), 6)
            # "exact" when every link is and no unlinked text was bridged; else the first link's kind
            # that is not, or "near" (a copied passage with an edited sentence inside is no exact copy).
            kind = next((lk.kind for lk in group if lk.kind != "exact"), "exact")
            if kind == "exact" and root in bridged:
                kind = "near"
        if da != db:  # a copy may start and end mid-sentence (chain.py states the rule)
            (s0, e0), (s1, e1) = extend_edges(docs[sa[0]].text, sa[1:], docs[sb[0]].text, sb[1:])
            sa, sb = (sa[0], s0, e0), (sb[0], s1, e1)
        matches.append(_make_match(passage(sa), passage(sb), score, kind, alignments))
        sides.append(sa)
        sides.append(sb)
    del kept, groups, first  # the links: not needed past this point

    # 2. Passages: sides in the same document overlapping by half the shorter are one passage.
    n_nodes = len(sides)
    same = UnionFind(n_nodes)
    # Sides with the same span are one passage at once; the overlap sweep then runs over
    # distinct spans only (a sentence matched a hundred times is one span, not a hundred).
    # Each side stands for the first side equal to it (the union-find joins those only).
    first_of: dict[tuple[int, int, int], int] = {}
    canon = [first_of.setdefault(side, k) for k, side in enumerate(sides)]
    order = sorted(first_of.items())  # by (document, start, end)
    for rank, ((doc, start, end), k) in enumerate(order):
        for r2 in range(rank + 1, len(order)):  # not ``order[rank + 1:]``: that copy is quadratic
            (doc2, start2, end2), k2 = order[r2]
            if doc2 != doc or start2 >= end:
                break
            if min(end, end2) - start2 >= PASSAGE_OVERLAP * min(end - start, end2 - start2):
                same.union(k, k2)
    # A component's root is its smallest member, which is a first side: the same roots as
    # joining every side to its first one too.
    find = same.find
    root_of_first = {k: find(k) for k in first_of.values()}
    del first_of
    root_of = [root_of_first[k] for k in canon]
    del canon, root_of_first
    passage_nodes: dict[int, list[int]] = {}
    for k in range(n_nodes):
        passage_nodes.setdefault(root_of[k], []).append(k)
    # 3. Clusters: groups of passages that all restate each other (dedup/_cluster/cliques.py).
    roots = sorted(passage_nodes)
    node_of = {root: n for n, root in enumerate(roots)}
    match_scores = [m.score for m in matches]
    ordinal = {docs[d].key: docs[d].ordinal for d, _, _ in sides}
    doc_ordinal = {d: ordinal[docs[d].key] for d in {d for d, _, _ in sides}}
    keys = [
        (-match_scores[m], (doc_ordinal[a[0]], a[1], a[2]), (doc_ordinal[b[0]], b[1], b[2]))
        for m, (a, b) in enumerate(zip(sides[::2], sides[1::2], strict=True))
    ]
    ranked = sorted(range(len(matches)), key=keys.__getitem__)
    ends_a = [node_of[root_of[2 * m]] for m in range(len(matches))]
    ends_b = [node_of[root_of[2 * m + 1]] for m in range(len(matches))]
    cluster_nodes = cliques(len(roots), ends_a, ends_b, [m.kind == "exact" for m in matches], ranked)
    covered = {x for g in cluster_nodes for x in g}
    alone = sorted({a for a, b in zip(ends_a, ends_b, strict=True) if a == b} - covered)
    cluster_nodes.extend([x] for x in alone)  # a passage matched only within itself (overlapping sides)
    touching: dict[int, list[int]] = {}
    for m in range(len(matches)):
        touching.setdefault(ends_a[m], []).append(m)
        if ends_b[m] != ends_a[m]:
            touching.setdefault(ends_b[m], []).append(m)
    clusters = []
    for members in cluster_nodes:
        inside = set(members)
        passages: list[tuple[tuple[int, int, int], Passage, list[int]]] = []
        for node in members:
            root = roots[node]
            group_ks = passage_nodes[root]
            doc = sides[root][0]
            if len(group_ks) == 1:
                _, start, end = sides[root]
            else:
                start = min(sides[g][1] for g in group_ks)
                end = max(sides[g][2] for g in group_ks)
            own = [m for m in touching[node] if ends_a[m] in inside and ends_b[m] in inside]
            passages.append(((docs[doc].ordinal, start, end), passage((doc, start, end)), own))
        passages.sort(key=_FIRST)
        match_ids = sorted({m for _, _, own in passages for m in own})
        cl_matches = tuple([matches[m] for m in match_ids])
        strength = [sum([match_scores[m] for m in own]) for _, _, own in passages]
        rep = max(range(len(passages)), key=lambda n: (strength[n], -n))
        score = round(sum([match_scores[m] for m in match_ids]) / len(match_ids), 6)
        cluster = _make_cluster(score, tuple([p for _, p, _ in passages]), passages[rep][1], cl_matches)
        clusters.append(((-score, passages[0][0]), cluster))
    clusters.sort(key=_FIRST)
    ordered_matches = [matches[m] for m in ranked]
    return [c for _, c in clusters], ordered_matches


def iter_components(
    links: Sequence[Link],
    sentences: Sequence[Sentence],
    sent_doc: Sequence[int],
    docs: Sequence[Doc],
    threshold: float,
) -> Iterator[list[Cluster]]:
    """The clusters of :func:`build`, one group of linked documents at a time.

    Documents joined by a link scoring at least ``threshold`` form a group; no
    cluster spans two groups, so building each group on its own gives the
    same clusters as one :func:`build` over all links (ranked within a group).
    Groups come in the order of their first document, and only one group's
    clusters and passages are held at a time.
    """
    kept = [lk for lk in links if lk.score >= threshold]
    groups = UnionFind(len(docs))
    for lk in kept:
        groups.union(sent_doc[lk.i], sent_doc[lk.j])
    by_group: dict[int, list[Link]] = {}
    for lk in kept:
        by_group.setdefault(groups.find(sent_doc[lk.i]), []).append(lk)
    for root in sorted(by_group):
        clusters, _ = build(by_group.pop(root), sentences, sent_doc, docs, threshold)
        yield clusters
