"""Which sentence links form one match: the passage alignment rule, stated once for every front end.

Within a document, a match is a run of links between consecutive sentences of
the same two paragraphs (``(i, j)``, ``(i + 1, j + 1)``), as it always was.

Across documents, a copied passage runs over paragraph breaks, keeps a fused
or split sentence, and may be shuffled inside; so aligned pieces are joined by
where they are, not by their sentence numbers.  The aligned stretches of two
documents (every link between them, on each side) make *runs*: stretches at
most :data:`~dedup._rules.PASSAGE_ADJACENT` characters apart (spaces, a
paragraph break, a short line) are one run.  Two links are one match when they
lie in the same run in both documents: a copied passage is one run on each
side however its sentences are shuffled, while a page template's lines around
a different line of content on each page stay apart (that line is aligned to
nothing).  A match then runs from the first to the last aligned character on
each side, mid-sentence where the alignment starts or ends mid-sentence, and
keeps every link inside it as an :class:`~dedup._types.Alignment`.

:func:`dedup._cluster.build.build` (result objects: :func:`dedup.find_duplicates`,
:class:`dedup.DedupIndex`) and :func:`dedup._cluster.table.build_table` (columns:
corpus mode, Spark) both take their matches from :func:`match_labels`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedup._rules import PASSAGE_ADJACENT

__all__ = ["match_labels", "min_labels", "runs"]

_I64 = npt.NDArray[np.int64]


def runs(pair: _I64, start: _I64, end: _I64) -> _I64:
    """Each stretch's run: stretches of one document pair at most ``PASSAGE_ADJACENT`` characters apart.

    ``pair[k]`` numbers stretch ``k``'s document pair (on one side), ``[start[k], end[k])``
    is the stretch; runs are numbered from 0 in order of (pair, start).

    Examples
    --------
    >>> i64 = lambda *v: np.array(v, dtype=np.int64)
    >>> runs(i64(0, 0, 0, 1), i64(0, 102, 500, 0), i64(100, 300, 600, 100)).tolist()
    [0, 0, 1, 2]
    """
    if not pair.size:
        return np.zeros(0, np.int64)
    order = np.lexsort((start, pair))
    p, s, e = pair[order], start[order], end[order]
    new_pair = np.r_[True, p[1:] != p[:-1]]
    # The furthest end so far within each pair: ends offset by the pair's rank, so that a cumulative
    # maximum over all rows never carries one pair's ends into the next (documents are < 2**32 chars).
    rank = np.cumsum(new_pair) - 1
    reach = np.maximum.accumulate((rank << 33) + e) - (rank << 33)
    new_run = new_pair.copy()
    new_run[1:] |= s[1:] > reach[:-1] + PASSAGE_ADJACENT
    out = np.empty(pair.size, dtype=np.int64)
    out[order] = np.cumsum(new_run) - 1
    return out


def min_labels(n: int, u: _I64, v: _I64) -> _I64:
    """For each node of ``0..n-1``, the smallest node of its connected component (edges ``u[k]-v[k]``).

    The roots of :class:`~dedup._cluster.unionfind.UnionFind` after the same unions
    (its root is the smallest member).  Hooks each edge's larger root under
    its smaller one, then halves paths until every node points at a root.

    Examples
    --------
    >>> min_labels(5, np.array([3, 1]), np.array([4, 3]))
    array([0, 1, 2, 1, 1])
    """
    label = np.arange(n, dtype=np.int64)
    while u.size:
        lu, lv = label[u], label[v]
        live = lu != lv
        if not live.any():
            break
        lu, lv = lu[live], lv[live]
        np.minimum.at(label, np.maximum(lu, lv), np.minimum(lu, lv))
        while True:  # every node to its root (labels only ever decrease: no cycles)
            up = label[label]
            if np.array_equal(up, label):
                break
            label = up
        u, v = u[live], v[live]
    return label


def match_labels(
    n: int,
    u: _I64,
    v: _I64,
    doc_a: _I64,
    doc_b: _I64,
    a_start: _I64,
    a_end: _I64,
    b_start: _I64,
    b_end: _I64,
) -> _I64:
    """Each link's match, as the smallest link of that match.

    Links ``0..n-1`` are joined by the within-document edges ``u[k]-v[k]``
    (consecutive sentences, chained by the caller); link ``k`` aligns
    ``[a_start[k], a_end[k])`` of document ``doc_a[k]`` with ``[b_start[k], b_end[k])``
    of document ``doc_b[k]``, and links across documents are joined when they
    lie in the same :func:`runs` on both sides.

    Examples
    --------
    A passage of three sentences shuffled in document 0 (one run there: the
    stretches touch) and in order in document 1 (one run), and a fourth link
    whose stretch in document 0 is far from them:

    >>> i64 = lambda *v: np.array(v, dtype=np.int64)
    >>> none = i64()
    >>> match_labels(4, none, none, i64(0, 0, 0, 0), i64(1, 1, 1, 1), i64(0, 101, 202, 900),
    ...              i64(100, 201, 302, 990), i64(202, 0, 101, 303), i64(302, 100, 201, 400)).tolist()
    [0, 0, 0, 3]
    """
    cross = np.flatnonzero(doc_a != doc_b)
    if cross.size:
        # Number the document pairs, then the runs of each side, then the (run, run) keys.
        da, db = doc_a[cross], doc_b[cross]
        _, pair = np.unique(np.stack((da, db), axis=1), axis=0, return_inverse=True)
        pair = pair.reshape(-1).astype(np.int64)
        run_a = runs(pair, a_start[cross], a_end[cross])
        run_b = runs(pair, b_start[cross], b_end[cross])
        _, key = np.unique(run_a * (int(run_b.max()) + 1) + run_b, return_inverse=True)
        key = key.reshape(-1)
        first = np.full(int(key.max()) + 1, n, dtype=np.int64)
        np.minimum.at(first, key, cross)
        u = np.concatenate((u, cross))
        v = np.concatenate((v, first[key]))
    return min_labels(n, u, v)
