"""From scored sentence links to matches and ranked clusters (union-find)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from dedup._text import Sentence
from dedup._types import Alignment, Cluster, Match, Passage, Span
from dedup._verify import Link

__all__ = ["Doc", "UnionFind", "build", "iter_components"]


class UnionFind:
    """Disjoint sets over ``0..n-1`` with path halving; the root is the smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            lo, hi = (rx, ry) if rx < ry else (ry, rx)
            self.parent[hi] = lo


@dataclass(frozen=True, slots=True)
class Doc:
    """A document as the detector sees it: key, original text, ordinal for sorting."""

    key: str | None
    text: str
    ordinal: int


def _char_span(sent: Sentence, tok: tuple[int, int]) -> tuple[int, int]:
    first, last = tok
    start = sent.tok_starts[first]
    end = sent.end if last >= len(sent.tok_starts) else sent.tok_ends[last - 1]
    return start, end


@dataclass(slots=True)
class _Side:
    doc: int
    start: int
    end: int


def build(
    links: Sequence[Link],
    sentences: Sequence[Sentence] | Mapping[int, Sentence],
    sent_doc: Sequence[int],
    docs: Sequence[Doc] | Mapping[int, Doc],
    threshold: float,
    sent_para: Sequence[int] | None = None,
    char_span: Callable[[int, tuple[int, int]], tuple[int, int]] | None = None,
) -> tuple[list[Cluster], list[Match]]:
    """Matches and ranked clusters from the links scoring at least ``threshold``.

    ``sentences`` and ``docs`` are only indexed by the ids the links refer to,
    so corpus mode passes mappings holding just those; it then passes the
    paragraph number of every sentence as ``sent_para``, and may pass
    ``char_span(sentence id, token span)`` -> character span instead of
    sentences (it keeps token offsets in arrays, not sentence objects).
    """
    if char_span is None:

        def char_span(g: int, tok: tuple[int, int]) -> tuple[int, int]:
            return _char_span(sentences[g], tok)

    if sent_para is None:
        assert isinstance(sentences, Sequence)
        sent_para = [s.para for s in sentences]
    kept = sorted((lk for lk in links if lk.score >= threshold), key=lambda lk: (lk.i, lk.j))
    if not kept:
        return [], []
    # 1. Links between consecutive sentences of the same two paragraphs form one match.
    uf = UnionFind(len(kept))
    by_pair = {(lk.i, lk.j): n for n, lk in enumerate(kept)}
    for n, lk in enumerate(kept):
        m = by_pair.get((lk.i + 1, lk.j + 1))
        if (
            m is not None
            and _same_para(sent_para, sent_doc, lk.i, lk.i + 1)
            and _same_para(sent_para, sent_doc, lk.j, lk.j + 1)
        ):
            uf.union(n, m)
    groups: dict[int, list[Link]] = {}
    for n, lk in enumerate(kept):
        groups.setdefault(uf.find(n), []).append(lk)

    matches: list[Match] = []
    sides: list[tuple[_Side, _Side]] = []
    # Equal spans and passages are built once and shared (they are immutable): a sentence
    # matched many times, and a one-sentence passage and its alignment, reuse one object.
    span_of: dict[tuple[int, int], Span] = {}
    passage_of: dict[tuple[int, int, int], Passage] = {}

    def span(bounds: tuple[int, int]) -> Span:
        got = span_of.get(bounds)
        if got is None:
            got = span_of[bounds] = Span(*bounds)
        return got

    def passage(side: _Side) -> Passage:
        key = (side.doc, side.start, side.end)
        got = passage_of.get(key)
        if got is None:
            doc = docs[side.doc]
            text = doc.text[side.start : side.end]
            got = passage_of[key] = Passage(doc.key, span((side.start, side.end)), text)
        return got

    for group in groups.values():
        a_spans = [char_span(lk.i, lk.span_i) for lk in group]
        b_spans = [char_span(lk.j, lk.span_j) for lk in group]
        da, db = sent_doc[group[0].i], sent_doc[group[0].j]
        if len(group) == 1:  # most matches: one sentence pair
            sa, sb = _Side(da, *a_spans[0]), _Side(db, *b_spans[0])
        else:
            sa = _Side(da, min(s for s, _ in a_spans), max(e for _, e in a_spans))
            sb = _Side(db, min(s for s, _ in b_spans), max(e for _, e in b_spans))
        if (docs[sb.doc].ordinal, sb.start) < (docs[sa.doc].ordinal, sa.start):
            sa, sb = sb, sa
            a_spans, b_spans = b_spans, a_spans
        alignments = tuple(
            Alignment(span(x), span(y), lk.score) for x, y, lk in zip(a_spans, b_spans, group, strict=True)
        )
        score = round(sum(lk.score for lk in group) / len(group), 6)
        kind = "exact" if all(lk.kind == "exact" for lk in group) else group[0].kind
        matches.append(Match(passage(sa), passage(sb), score, kind, alignments))
        sides.append((sa, sb))

    # 2. Passages: sides in the same document overlapping by half the shorter are one passage.
    nodes = [s for pair in sides for s in pair]
    same = UnionFind(len(nodes))
    # Sides with the same span are one passage at once; the overlap sweep then runs over
    # distinct spans only (a sentence matched a hundred times is one span, not a hundred).
    first_of: dict[tuple[int, int, int], int] = {}
    for k, nk in enumerate(nodes):
        k0 = first_of.setdefault((nk.doc, nk.start, nk.end), k)
        if k0 != k:
            same.union(k0, k)
    order = sorted(first_of.values(), key=lambda k: (nodes[k].doc, nodes[k].start, nodes[k].end))
    for rank, k in enumerate(order):
        nk = nodes[k]
        for r2 in range(rank + 1, len(order)):  # not ``order[rank + 1:]``: that copy is quadratic
            k2 = order[r2]
            n2 = nodes[k2]
            if n2.doc != nk.doc or n2.start >= nk.end:
                break
            overlap = min(nk.end, n2.end) - n2.start
            if overlap * 2 >= min(nk.end - nk.start, n2.end - n2.start):
                same.union(k, k2)
    passage_nodes: dict[int, list[int]] = {}
    for k in range(len(nodes)):
        passage_nodes.setdefault(same.find(k), []).append(k)
    # 3. Clusters: passages connected by matches.
    linked = UnionFind(len(nodes))
    for m in range(len(matches)):
        linked.union(same.find(2 * m), same.find(2 * m + 1))
    members: dict[int, list[int]] = {}
    for root in passage_nodes:
        members.setdefault(linked.find(root), []).append(root)
    clusters = []
    for roots in members.values():
        passages: list[tuple[tuple[int, int, int], Passage, list[int]]] = []
        for root in roots:
            group_ks = passage_nodes[root]
            doc = nodes[root].doc
            start = min(nodes[g].start for g in group_ks)
            end = max(nodes[g].end for g in group_ks)
            p = passage(_Side(doc, start, end))
            passages.append(((docs[doc].ordinal, start, end), p, group_ks))
        passages.sort(key=lambda t: t[0])
        match_ids = sorted({k // 2 for _, _, group_ks in passages for k in group_ks})
        cl_matches = tuple(matches[m] for m in match_ids)
        strength = [sum(matches[k // 2].score for k in group_ks) for _, _, group_ks in passages]
        rep = max(range(len(passages)), key=lambda n: (strength[n], -n))
        score = round(sum(m.score for m in cl_matches) / len(cl_matches), 6)
        clusters.append(
            (
                (-score, passages[0][0]),
                Cluster(
                    score=score,
                    passages=tuple(p for _, p, _ in passages),
                    representative=passages[rep][1],
                    matches=cl_matches,
                ),
            )
        )
    clusters.sort(key=lambda t: t[0])
    ordinal = {docs[s.doc].key: docs[s.doc].ordinal for pair in sides for s in pair}

    def where(p: Passage) -> tuple[int, int, int]:
        return ordinal.get(p.key, 0), p.span.start, p.span.end

    ordered_matches = sorted(matches, key=lambda m: (-m.score, where(m.a), where(m.b)))
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


def _same_para(sent_para: Sequence[int], sent_doc: Sequence[int], i: int, j: int) -> bool:
    return j < len(sent_doc) and sent_doc[i] == sent_doc[j] and sent_para[i] == sent_para[j]
