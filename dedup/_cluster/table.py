"""Links, matches and clusters as columns: the cluster stage of corpus mode without an object per link.

:func:`dedup._cluster.build.build` turns a list of :class:`~dedup._verify.reference.Link`
tuples into result objects; at corpus scale (millions of links) the tuples,
and the dictionaries and union-finds over them, cost tens of seconds and
gigabytes.  Here the same steps run on numpy columns: verification hands over
a :class:`~dedup._verify.links.LinkTable` (~50 bytes a link), :func:`build_table` computes the matches
and ranked clusters as arrays (:class:`ResultTable`), and the result objects
are made only when asked for (:meth:`ResultTable.materialize`) — the corpus
command line writes its JSON lines straight from the columns.

The results equal :func:`~dedup._cluster.build.build` on the same links (tested):
the same grouping, the same tie-breaks, and every score summed in the same
order with Python floats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup._arrays import run_firsts, sorted_find
from dedup._cluster.chain import bridge_labels, extend_edges, match_labels, min_labels
from dedup._cluster.cliques import cliques
from dedup._errors import DedupError
from dedup._rules import PASSAGE_OVERLAP
from dedup._types import Alignment, Cluster, Match, Passage, Span, maker
from dedup._verify.links import KINDS, LinkTable, rounded6

_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]


#: ``char_spans(sentence ids, token spans (n, 2))`` -> character ``(starts, ends)`` in their documents.
CharSpans = Callable[[_I64, _I64], tuple[_I64, _I64]]


@dataclass(frozen=True, slots=True)
class ResultTable:
    """Matches and ranked clusters as columns (what :func:`build_table` makes).

    Matches are numbered in the order :func:`~dedup._cluster.build` makes them
    (by their first link); ``match_order`` ranks them (best first).  Sides are
    ``(document, start, end)``; documents are numbers, named by the caller's keys.
    """

    side_a: _I64  # (m, 3) per match
    side_b: _I64
    score: _F64  # per match, rounded to 6 decimals
    kind: npt.NDArray[np.int8]
    align_bounds: _I64  # match m's alignments are rows align_bounds[m]:align_bounds[m + 1]
    align_a: _I64  # (l, 2) character spans, in match m's side a
    align_b: _I64
    align_score: _F64
    match_order: _I64  # match numbers, best first
    cluster_score: _F64  # per cluster, best first
    passage_bounds: _I64  # cluster c's passages are rows passage_bounds[c]:passage_bounds[c + 1]
    passages: _I64  # (p, 3) sides, in each cluster's order
    representative: _I64  # per cluster: its representative's row among its passages
    cluster_match_bounds: _I64  # cluster c's matches are cluster_matches[bounds[c]:bounds[c + 1]]
    cluster_matches: _I64  # match numbers, ascending within a cluster

    def __len__(self) -> int:
        return int(self.cluster_score.size)

    @classmethod
    def empty(cls) -> ResultTable:
        """No matches, no clusters."""
        none = np.zeros(0, np.int64)
        pairs, sides, zero = np.zeros((0, 2), np.int64), np.zeros((0, 3), np.int64), np.zeros(1, np.int64)
        return cls(
            sides, sides, np.zeros(0), np.zeros(0, np.int8), zero, pairs, pairs, np.zeros(0), none,
            np.zeros(0), zero, sides, none, zero, none,
        )  # fmt: skip

    def materialize(
        self, keys: Sequence[str | None], texts: Callable[[int], str]
    ) -> tuple[list[Cluster], list[Match]]:
        """The result objects of :func:`~dedup._cluster.build`: clusters and ranked matches.

        ``keys[d]`` and ``texts(d)`` are document ``d``'s key and text (``""`` for offsets only).
        """
        make_span, make_passage, make_alignment = maker(Span), maker(Passage), maker(Alignment)
        make_match, make_cluster = maker(Match), maker(Cluster)
        span_of: dict[tuple[int, int], Span] = {}
        passage_of: dict[tuple[int, int, int], Passage] = {}
        text_of: dict[int, str] = {}

        def span(start: int, end: int) -> Span:
            got = span_of.get((start, end))
            if got is None:
                got = span_of[(start, end)] = make_span(start, end)
            return got

        def passage(d: int, start: int, end: int) -> Passage:
            got = passage_of.get((d, start, end))
            if got is None:
                text = text_of.get(d)
                if text is None:
                    text = text_of[d] = texts(d)
                got = passage_of[(d, start, end)] = make_passage(keys[d], span(start, end), text[start:end])
            return got

        bounds = self.align_bounds.tolist()
        align = [
            make_alignment(span(a0, a1), span(b0, b1), s)
            for (a0, a1), (b0, b1), s in zip(
                self.align_a.tolist(), self.align_b.tolist(), self.align_score.tolist(), strict=True
            )
        ]
        matches = [
            make_match(passage(*a), passage(*b), s, KINDS[k], tuple(align[bounds[m] : bounds[m + 1]]))
            for m, (a, b, s, k) in enumerate(
                zip(
                    self.side_a.tolist(),
                    self.side_b.tolist(),
                    self.score.tolist(),
                    self.kind.tolist(),
                    strict=True,
                )
            )
        ]
        del align
        sides = [passage(*p) for p in self.passages.tolist()]
        pb, mb, members = (
            self.passage_bounds.tolist(),
            self.cluster_match_bounds.tolist(),
            self.cluster_matches,
        )
        clusters = []
        for c, (score, rep) in enumerate(
            zip(self.cluster_score.tolist(), self.representative.tolist(), strict=True)
        ):
            own = tuple(sides[pb[c] : pb[c + 1]])
            cl_matches = tuple([matches[m] for m in members[mb[c] : mb[c + 1]].tolist()])
            clusters.append(make_cluster(score, own, own[rep], cl_matches))
        return clusters, [matches[m] for m in self.match_order.tolist()]


def _increasing(values: _I64) -> bool:
    return bool(np.all(values[1:] > values[:-1]))


def _sums(values: list[float], bounds: list[int]) -> list[float]:
    """``sum(values[bounds[k]:bounds[k + 1]])`` for each k: Python's left-to-right float sums."""
    return [sum(values[lo:hi]) for lo, hi in pairwise(bounds)]


def _means(values: list[float], bounds: list[int]) -> list[float]:
    """``sum(run) / len(run)`` of each run of :func:`_sums` (Python's sum, as ``build`` computes it)."""
    return [
        total / (hi - lo) for total, (lo, hi) in zip(_sums(values, bounds), pairwise(bounds), strict=True)
    ]


def build_table(
    links: LinkTable,
    sent_doc: _I64,
    sent_para: npt.NDArray[np.integer[Any]],
    doc_ordinal: _I64,
    char_spans: CharSpans,
    threshold: float,
    text_of: Callable[[int], str],
) -> ResultTable:
    """:func:`~dedup._cluster.build` on columns: matches and ranked clusters of the links at ``threshold``.

    ``doc_ordinal[d]`` ranks document ``d`` (its place in the corpus);
    ``char_spans`` gives the character spans of token spans of sentences;
    ``text_of(d)`` is document ``d``'s text (asked for the documents of matches
    across documents only, whose edges :func:`~dedup._cluster.chain.extend_edges` reads).
    """
    kept = (
        links
        if bool(np.all(links.score >= threshold))
        else links.take(np.flatnonzero(links.score >= threshold))
    )
    n = len(kept)
    if not n:
        return ResultTable.empty()
    n_sents = sent_doc.size
    if not _increasing(kept.i * n_sents + kept.j):
        kept = kept.sorted()
    i, j = kept.i, kept.j
    # 1. Links between consecutive sentences of the same two paragraphs form one match: each
    #    link has at most one successor (i + 1, j + 1).
    code = i * n_sents + j  # ascending
    nxt, has_next = sorted_find(code, code + n_sents + 1)
    i1, j1 = i + 1, np.minimum(j + 1, n_sents - 1)
    chained = (
        has_next
        & (j + 1 < n_sents)
        & (sent_doc[i] == sent_doc[i1])
        & (sent_para[i] == sent_para[i1])
        & (sent_doc[j] == sent_doc[j1])
        & (sent_para[j] == sent_para[j1])
    )
    #    Across documents, aligned stretches near each other in both documents form one match
    #    (dedup/_cluster/chain.py states the rule).
    a_start, a_end = char_spans(i, kept.span_i)
    b_start, b_end = char_spans(j, kept.span_j)
    head = match_labels(
        n, np.flatnonzero(chained), nxt[chained], sent_doc[i], sent_doc[j], a_start, a_end, b_start, b_end
    )  # a match's first link (as build's union-find)
    before = head
    head = bridge_labels(head, sent_doc[i], a_start, a_end, sent_doc[j], b_start, b_end, text_of)
    by_match = np.argsort(head, kind="stable")  # links of match 0, then of match 1, ... (by head)
    first = np.flatnonzero(run_firsts(head[by_match]))
    n_match = first.size
    size = np.diff(np.append(first, n))
    a_start, a_end, b_start, b_end = a_start[by_match], a_end[by_match], b_start[by_match], b_end[by_match]
    heads = by_match[first]
    da, db = sent_doc[i[heads]], sent_doc[j[heads]]
    sa = np.stack((da, np.minimum.reduceat(a_start, first), np.maximum.reduceat(a_end, first)), axis=1)
    sb = np.stack((db, np.minimum.reduceat(b_start, first), np.maximum.reduceat(b_end, first)), axis=1)
    cross = np.flatnonzero(da != db)  # a copy may start and end mid-sentence (chain.py)
    if cross.size:
        ends = [
            (*x, *y)
            for x, y in map(
                extend_edges,
                map(text_of, da[cross].tolist()),
                map(tuple, sa[cross, 1:].tolist()),
                map(text_of, db[cross].tolist()),
                map(tuple, sb[cross, 1:].tolist()),
            )
        ]
        moved = np.array(ends, dtype=np.int64).reshape(-1, 4)
        sa[cross, 1:], sb[cross, 1:] = moved[:, :2], moved[:, 2:]
    oa, ob = doc_ordinal[da], doc_ordinal[db]
    swap = (ob < oa) | ((ob == oa) & (sb[:, 1] < sa[:, 1]))
    side_a = np.where(swap[:, None], sb, sa)
    side_b = np.where(swap[:, None], sa, sb)
    swap_link = np.repeat(swap, size)[:, None]
    x = np.stack((a_start, a_end), axis=1)
    y = np.stack((b_start, b_end), axis=1)
    align_a, align_b = np.where(swap_link, y, x), np.where(swap_link, x, y)
    align_score = kept.score[by_match]
    # Scores: one link's, or the mean of a chain's (summed left to right, as Python does).
    multi = np.flatnonzero(size > 1)
    mean = align_score[first]  # one link: its score (Python's sum([s]) / 1 is s)
    multi_size = size[multi]
    multi_bounds = np.append(0, np.cumsum(multi_size))
    in_multi = np.repeat(first[multi] - multi_bounds[:-1], multi_size) + np.arange(multi_bounds[-1])
    mean[multi] = _means(align_score[in_multi].tolist(), multi_bounds.tolist())
    score = rounded6(mean)
    # A match's kind: "exact" when every link is and bridging joined nothing into it, else its
    # first link's kind that is not, or "near" (as build's).
    exact_code = KINDS.index("exact")
    link_kind = kept.kind[by_match]
    at = np.where(link_kind != exact_code, np.arange(n), n)
    first_other = np.minimum.reduceat(at, first)
    kind = np.where(first_other < n, link_kind[np.minimum(first_other, n - 1)], exact_code).astype(np.int8)
    joined = np.maximum.reduceat((head != before)[by_match].astype(np.int8), first) > 0
    kind[joined & (kind == exact_code)] = KINDS.index("near")
    del kept, i, j, code, nxt, chained, head, before, x, y
    align_bounds = np.append(first, n)

    # 2. Passages: sides in the same document overlapping by half the shorter are one passage.
    sides = np.empty((2 * n_match, 3), dtype=np.int64)
    sides[0::2], sides[1::2] = side_a, side_b
    n_nodes = sides.shape[0]
    by_side = np.lexsort((sides[:, 2], sides[:, 1], sides[:, 0]))  # stable: each run's first is the smallest
    ordered = sides[by_side]
    new = np.ones(n_nodes, dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    distinct = by_side[new]  # each distinct side's first occurrence, by (document, start, end)
    canon = np.empty(n_nodes, dtype=np.int64)  # each side -> its first occurrence
    canon[by_side] = distinct[np.cumsum(new) - 1]
    dd, ds, de = sides[distinct, 0], sides[distinct, 1], sides[distinct, 2]
    # Later distinct sides that start before one ends, in the same document (``(doc, start)`` as one key).
    if de.size and int(de.max()) >= 1 << 32:
        raise DedupError("a document of more than 2**32 characters: split it into smaller documents")
    where = (dd << 32) | ds
    reach = np.searchsorted(where, (dd << 32) | de) - np.arange(distinct.size) - 1
    r = np.repeat(np.arange(distinct.size, dtype=np.int64), reach)
    r2 = r + 1 + np.arange(r.size) - np.repeat(np.cumsum(reach) - reach, reach)
    overlap = np.minimum(de[r], de[r2]) - ds[r2] >= PASSAGE_OVERLAP * np.minimum(
        de[r] - ds[r], de[r2] - ds[r2]
    )
    root_of = min_labels(n_nodes, distinct[r[overlap]], distinct[r2[overlap]])[canon]
    del by_side, ordered, new, canon, where, reach, r, r2, overlap

    # 3. Clusters: groups of passages that all restate each other (dedup/_cluster/cliques.py).
    by_root = np.argsort(root_of, kind="stable")
    root_first = np.flatnonzero(run_firsts(root_of[by_root]))
    roots = root_of[by_root[root_first]]  # ascending
    p_start = np.minimum.reduceat(sides[by_root, 1], root_first)
    p_end = np.maximum.reduceat(sides[by_root, 2], root_first)
    p_doc = sides[roots, 0]
    p_ord = doc_ordinal[p_doc]
    node = np.searchsorted(roots, root_of)
    ends_a, ends_b = node[0::2].tolist(), node[1::2].tolist()
    # Matches by score, then by where their passages are (document ordinal, span).
    oa, ob = doc_ordinal[side_a[:, 0]], doc_ordinal[side_b[:, 0]]
    match_order = np.lexsort((side_b[:, 2], side_b[:, 1], ob, side_a[:, 2], side_a[:, 1], oa, -score))
    groups = cliques(
        roots.size, ends_a, ends_b, (kind == KINDS.index("exact")).tolist(), match_order.tolist()
    )
    covered = {x for g in groups for x in g}
    groups.extend([x] for x in sorted({a for a, b in zip(ends_a, ends_b, strict=True) if a == b} - covered))
    touching: dict[int, list[int]] = {}
    for m, (a, b) in enumerate(zip(ends_a, ends_b, strict=True)):
        touching.setdefault(a, []).append(m)
        if b != a:
            touching.setdefault(b, []).append(m)
    scores, place = score.tolist(), np.stack((p_ord, p_start, p_end), axis=1).tolist()
    c_rows: list[list[int]] = []  # each cluster's passages (nodes), by place
    c_matches: list[list[int]] = []  # each cluster's matches, ascending
    c_rep: list[int] = []
    c_mean: list[float] = []
    for group in groups:
        inside = set(group)
        rows = sorted(group, key=place.__getitem__)
        own = [[m for m in touching[x] if ends_a[m] in inside and ends_b[m] in inside] for x in rows]
        strength = [sum([scores[m] for m in ms]) for ms in own]
        ids = sorted({m for ms in own for m in ms})
        c_rows.append(rows)
        c_matches.append(ids)
        c_rep.append(max(range(len(rows)), key=lambda n: (strength[n], -n)))
        c_mean.append(sum([scores[m] for m in ids]) / len(ids))
    c_score = rounded6(np.array(c_mean, dtype=np.float64))
    lead = np.array([rows[0] for rows in c_rows], dtype=np.int64)
    rank = np.lexsort((p_end[lead], p_start[lead], p_ord[lead], -c_score)).tolist()
    p_rows = np.array([x for c in rank for x in c_rows[c]], dtype=np.int64)
    m_rows = np.array([m for c in rank for m in c_matches[c]], dtype=np.int64)
    passage_bounds = np.append(0, np.cumsum([len(c_rows[c]) for c in rank])).astype(np.int64)
    cluster_match_bounds = np.append(0, np.cumsum([len(c_matches[c]) for c in rank])).astype(np.int64)
    passages = np.stack((p_doc[p_rows], p_start[p_rows], p_end[p_rows]), axis=1).reshape(-1, 3)
    rep = np.array(c_rep, dtype=np.int64)

    return ResultTable(
        side_a, side_b, score, kind, align_bounds, align_a, align_b, align_score, match_order,
        c_score[rank], passage_bounds, passages, rep[rank], cluster_match_bounds, m_rows,
    )  # fmt: skip
