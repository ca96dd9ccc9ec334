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

A copy rarely starts and ends where sentences do: the first and last sentences
of a passage pasted from mid-sentence are fragments, which no sentence of the
source restates both ways.  So each match across documents is then extended
(:func:`extend_edges`) over the words right before it and right after it for
as long as the two texts agree word for word, when at least
:data:`~dedup._rules.EDGE_WORDS` of them agree: the match starts and ends
where the copy does.

Before that, two matches of the same two documents that follow each other in
both, at most :data:`~dedup._rules.PASSAGE_GAP` characters apart on each side,
become one when the texts between them are alike
(:data:`~dedup._rules.GAP_RATIO`, :func:`bridge_labels`): an edited sentence in
the middle of a copied passage, which no longer scores as a link, does not cut
the passage in two.

:func:`dedup._cluster.build.build` (result objects: :func:`dedup.find_duplicates`,
:class:`dedup.DedupIndex`) and :func:`dedup._cluster.table.build_table` (columns:
corpus mode, Spark) both take their matches from :func:`match_labels`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from dedup._rules import EDGE_WORDS, GAP_RATIO, PASSAGE_ADJACENT, PASSAGE_GAP

__all__ = ["bridge_labels", "extend_edges", "match_labels", "min_labels", "runs"]

_I64 = npt.NDArray[np.int64]

_WORD = re.compile(r"\w+")
#: Characters of text read at a time before a match's start (doubled while the words agree).
_WINDOW = 32


def _words_after(text: str, pos: int) -> Iterator[tuple[int, str]]:
    """The words from ``pos`` on: (end, word casefolded)."""
    for m in _WORD.finditer(text, pos):
        yield m.end(), m.group().casefold()


def _words_before(text: str, pos: int) -> Iterator[tuple[int, str]]:
    """The words before ``pos``, the nearest first: (start, word casefolded)."""
    hi, width = pos, _WINDOW
    while hi > 0:
        lo = max(0, hi - width)
        found = list(_WORD.finditer(text, lo, hi))
        next_hi = lo
        if lo > 0 and found and found[0].start() == lo:  # maybe cut by the window: read it again
            next_hi = found.pop(0).end()
        for m in reversed(found):
            yield m.start(), m.group().casefold()
        hi, width = next_hi, width * 2


_LAST_WORD = re.compile(r"(\w+)\W*\Z")


def _first_before(text: str, pos: int) -> str | None:
    """The word nearest before ``pos``, casefolded (``None``: none)."""
    lo = max(0, pos - _WINDOW)
    m = _LAST_WORD.search(text, lo, pos)
    if m is None or (m.start(1) == lo and lo > 0):  # none in the window, or one the window may cut
        return next((w for _, w in _words_before(text, pos)), None)
    return m.group(1).casefold()


def _first_after(text: str, pos: int) -> str | None:
    """The first word from ``pos`` on, casefolded (``None``: none)."""
    return next((w for _, w in _words_after(text, pos)), None)


def _agreeing(a: Iterator[tuple[int, str]], b: Iterator[tuple[int, str]]) -> tuple[int, int, int]:
    """How many words of ``a`` and ``b`` agree from their first, and the positions of the last that does."""
    n, pa, pb = 0, -1, -1
    for (xa, wa), (xb, wb) in zip(a, b, strict=False):
        if wa != wb:
            break
        n, pa, pb = n + 1, xa, xb
    return n, pa, pb


def extend_edges(
    text_a: str, a: tuple[int, int], text_b: str, b: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The two sides of a match across documents, extended where the texts go on agreeing.

    Before the start and after the end, the two texts' words (``\\w+``, case
    aside; spaces, line breaks and punctuation between them do not count) are
    compared outwards; when at least :data:`~dedup._rules.EDGE_WORDS` agree, the
    sides take them in, up to the last word that agrees.

    Examples
    --------
    >>> src = "The ceasefire offer was made by three groups on Monday. Talks resume today."
    >>> doc = "Reports say: offer was made by three groups on Monday. Talks resume today. Next."
    >>> a, b = extend_edges(doc, (55, 74), src, (56, 75))  # "Talks resume today." in both
    >>> doc[a[0]:a[1]]
    'offer was made by three groups on Monday. Talks resume today.'
    >>> src[b[0]:b[1]]
    'offer was made by three groups on Monday. Talks resume today.'
    """
    (a0, a1), (b0, b1) = a, b
    # Most matches end where the texts part at once: one word on each side tells (cheaply).
    if _first_before(text_a, a0) == _first_before(text_b, b0) is not None:
        n, x, y = _agreeing(_words_before(text_a, a0), _words_before(text_b, b0))
        if n >= EDGE_WORDS:
            a0, b0 = x, y
    if _first_after(text_a, a1) == _first_after(text_b, b1) is not None:
        n, x, y = _agreeing(_words_after(text_a, a1), _words_after(text_b, b1))
        if n >= EDGE_WORDS:
            a1, b1 = x, y
    return (a0, a1), (b0, b1)


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


def bridge_labels(
    labels: _I64,
    doc_a: _I64,
    a_start: _I64,
    a_end: _I64,
    doc_b: _I64,
    b_start: _I64,
    b_end: _I64,
    text_of: Callable[[int], str],
) -> _I64:
    """Each link's match after joining matches across documents that an alike gap separates.

    ``labels`` are :func:`match_labels`' (each link's match as its smallest
    link); the other columns are the links' as there; ``text_of(d)`` is document
    ``d``'s text.  Matches of the same two documents that follow each other in
    both (ordered by their start in ``doc_a``), at most
    :data:`~dedup._rules.PASSAGE_GAP` characters apart on each side, are joined
    when the two gaps' texts have a rapidfuzz ``ratio`` of at least
    :data:`~dedup._rules.GAP_RATIO`.

    Examples
    --------
    Two sentences copied with an edited one between them (links 0 and 1), and
    the same two documents' far-apart link 2:

    >>> src = "Rain fell all day. The river rose by two metres overnight. Roads were shut at noon." + "x" * 9
    >>> doc = "Rain fell all day. The river rose two metres overnight! Roads were shut at noon." + "y" * 9
    >>> i64 = lambda *v: np.array(v, dtype=np.int64)
    >>> text = [doc, src]
    >>> bridge_labels(i64(0, 1, 2), i64(0, 0, 0), i64(0, 56, 700), i64(18, 80, 702),
    ...               i64(1, 1, 1), i64(0, 59, 700), i64(18, 83, 702), text.__getitem__).tolist()
    [0, 0, 2]
    """
    cross = np.flatnonzero(doc_a != doc_b)
    if cross.size < 2:
        return labels
    heads, match = np.unique(labels[cross], return_inverse=True)
    match = match.reshape(-1)
    k = heads.size
    da, db = np.zeros(k, np.int64), np.zeros(k, np.int64)
    da[match], db[match] = doc_a[cross], doc_b[cross]
    big = np.iinfo(np.int64).max
    a0, b0 = np.full(k, big), np.full(k, big)
    a1, b1 = np.zeros(k, np.int64), np.zeros(k, np.int64)
    np.minimum.at(a0, match, a_start[cross])
    np.maximum.at(a1, match, a_end[cross])
    np.minimum.at(b0, match, b_start[cross])
    np.maximum.at(b1, match, b_end[cross])
    order = np.lexsort((a0, db, da))
    p, q = order[:-1], order[1:]
    gap_a, gap_b = a0[q] - a1[p], b0[q] - b1[p]
    near = (
        (da[p] == da[q])
        & (db[p] == db[q])
        & (gap_a >= 0)
        & (gap_b >= 0)
        & (gap_a <= PASSAGE_GAP)
        & (gap_b <= PASSAGE_GAP)
    )
    u: list[int] = []
    v: list[int] = []
    for x, y in zip(p[near].tolist(), q[near].tolist(), strict=True):
        text_a, text_b = text_of(int(da[x])), text_of(int(db[x]))
        between_a, between_b = text_a[a1[x] : a0[y]], text_b[b1[x] : b0[y]]
        if fuzz.ratio(between_a, between_b) >= 100.0 * GAP_RATIO:
            u.append(int(heads[x]))
            v.append(int(heads[y]))
    if not u:
        return labels
    n = labels.size
    return min_labels(
        n,
        np.concatenate((np.arange(n, dtype=np.int64), np.array(u, dtype=np.int64))),
        np.concatenate((labels, np.array(v, dtype=np.int64))),
    )
