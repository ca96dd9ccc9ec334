"""Verification of candidate pairs in batches: copy chains, scoring, the best link per pair, by blocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup._arrays import sorted_find
from dedup._options import Options
from dedup._parallel import release_memory
from dedup._rules import LINK_FLOOR
from dedup._text.segment import Sentence
from dedup._verify.batch import norm_ids
from dedup._verify.links import KINDS, LinkTable, merge_links
from dedup._verify.reference import Link, whole
from dedup._verify.scorer import Scorer, scorer, scorer_from_columns


def verify_candidates(
    sentences: Sequence[Sentence],
    docs: npt.NDArray[np.int64],
    pairs: npt.NDArray[np.int64],
    options: Options,
    *,
    jobs: int = 1,
    floor: float | None = None,
) -> list[Link]:
    """Score candidate ``pairs`` (and exact copies) of ``sentences``; links scoring at least ``LINK_FLOOR``.

    ``floor`` raises that cut: corpus mode keeps no links under the threshold
    (its results are not re-thresholded), and the bounds of the scorer then
    skip more work.  Links at or above ``floor`` do not depend on it.

    Only the order of the sentence ids matters here, so corpus mode runs it on
    the subset of sentences that take part in a candidate pair or a copy group,
    renumbered in their original order.  Scoring runs in batches
    (:func:`~dedup._verify.scorer.scorer`: the compiled kernels, else the per-pair
    rules of :class:`~dedup._verify.reference.Verifier`; same links), in up to
    ``jobs`` threads.  The result does not depend on ``jobs``.
    """
    found = scorer(sentences, docs)
    n_words = found.n_tokens  # one word per token
    floor = min(LINK_FLOOR, options.threshold) if floor is None else floor
    next_copy = _next_copy(found.norm_id, copying(n_words, options))
    best = _copy_links(next_copy, n_words)
    pairs = _open_pairs(pairs, n_words >= options.min_words, next_copy)
    known = {key: link.score for key, link in best.items()}
    _score_into(best, found, pairs, options, floor, jobs, known)
    return [best[k] for k in sorted(best)]


def _score_into(
    best: dict[tuple[int, int], Link],
    found: Scorer,
    pairs: npt.NDArray[np.int64],
    options: Options,
    floor: float,
    jobs: int,
    known: Mapping[tuple[int, int], float],
) -> None:
    """Score ``pairs`` with ``found`` and keep the best link of each sentence pair in ``best``."""
    pair_links, covers = found.score(pairs, **_scoring(options, floor, jobs), known=known)
    merge_links(best, pair_links, (lk for row in covers for lk in row), floor)


def _scoring(options: Options, floor: float, jobs: int) -> dict[str, Any]:
    """The keyword arguments of :meth:`Scorer.score` (and ``score_table``) that ``options`` set."""
    return {
        "floor": floor,
        "min_gain": options.min_gain,
        "max_sources": options.max_sources if options.fusion else 1,
        "workers": jobs,
    }


def copying(n_words: npt.NDArray[np.int64], options: Options) -> npt.NDArray[np.bool_] | None:
    """Which sentences of ``n_words`` words take part in the copy chains: all (None), or with
    ``options.short_copies`` off, those of at least ``options.min_words`` words."""
    return None if options.short_copies else n_words >= options.min_words


def _next_copy(
    norm_id: npt.NDArray[np.int64], takes_part: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.int64]:
    """Each sentence's next exact copy (same normalised words: equal ``norm_id``), -1 for none.

    The copies of a text are linked apart from LSH as a chain, ``k -> next_copy[k]``:
    any number of copies costs linear work and none is missed.  Short
    sentences (below ``min_words``) take part here only: a repeated "Skip to
    content" is boilerplate, but too short to judge as a partial restatement.
    With ``takes_part`` (see :func:`copying`), only those sentences are chained.
    """
    if takes_part is not None:
        nxt = np.full(norm_id.size, -1, dtype=np.int64)
        part = np.flatnonzero(takes_part)
        chained = _next_copy(norm_id[part])
        has = chained >= 0
        nxt[part[has]] = part[chained[has]]
        return nxt
    order = np.argsort(norm_id, kind="stable")
    same = norm_id[order[1:]] == norm_id[order[:-1]]
    nxt = np.full(norm_id.size, -1, dtype=np.int64)
    nxt[order[:-1][same]] = order[1:][same]
    return nxt


def copy_chain(
    norms: Sequence[str], takes_part: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.int64]:
    """Each sentence's next exact copy among ``norms`` (normalised texts, in sentence order), -1 for none.

    The copy chain of :func:`verify_candidates` (see :func:`_next_copy`), for
    a caller holding every copy of each text it passes (Spark: a bucket of
    texts by hash).

    Examples
    --------
    >>> copy_chain(["a b", "c", "a b", "a b"]).tolist()
    [2, -1, 3, -1]
    >>> copy_chain(["a b", "c", "a b", "a b"], np.array([True, True, False, True])).tolist()
    [3, -1, -1, -1]
    """
    return _next_copy(norm_ids(norms), takes_part)


def _copy_links(
    next_copy: npt.NDArray[np.int64], n_words: npt.NDArray[np.int64]
) -> dict[tuple[int, int], Link]:
    """The links of the copy chains (:func:`_next_copy`), scoring 1.0, by sentence pair."""
    words = n_words.tolist()
    chained = np.flatnonzero(next_copy >= 0)
    return {
        (a, b): Link(a, b, 1.0, "exact", whole(words[a]), whole(words[b]))
        for a, b in zip(chained.tolist(), next_copy[chained].tolist(), strict=True)
    }


def _open_pairs(
    pairs: npt.NDArray[np.int64], eligible: npt.NDArray[np.bool_], next_copy: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The candidate ``pairs`` still to score (see :func:`_open_mask`)."""
    kept: npt.NDArray[np.int64] = pairs[_open_mask(pairs, eligible, next_copy)]
    return kept


def _open_mask(
    pairs: npt.NDArray[np.integer[Any]], eligible: npt.NDArray[np.bool_], next_copy: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Which candidate ``pairs`` are still to score: both sentences long enough, not a copy-chain link."""
    i, j = pairs[:, 0], pairs[:, 1]
    mask: npt.NDArray[np.bool_] = eligible[i] & eligible[j] & (next_copy[i] != j)
    return mask


@dataclass(frozen=True, slots=True)
class SentenceColumns:
    """Sentences as token columns (what :func:`~dedup._verify.scorer.flatten` makes), in sentence order.

    Corpus mode keeps the sentences it verifies this way: a few bytes a token,
    where a :class:`~dedup._text.segment.Sentence` costs ~1.5 kB.
    """

    stems: npt.NDArray[np.integer[Any]]  # stem ids of one numbering, per token (int32 in corpus mode)
    content: npt.NDArray[np.bool_]
    entity: npt.NDArray[np.bool_]
    lengths: npt.NDArray[np.int64]  # tokens per sentence
    norms: list[str]  # words joined by spaces, per sentence

    @property
    def offsets(self) -> npt.NDArray[np.int64]:
        """Where each sentence's tokens start, and the end of the last."""
        out = np.zeros(self.lengths.size + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=out[1:])
        return out


def verify_group(
    columns: SentenceColumns,
    docs: npt.NDArray[np.int64],
    pairs: npt.NDArray[np.int64],
    copies: npt.NDArray[np.int64],
    options: Options,
    *,
    floor: float,
    ids: npt.NDArray[np.int64] | None = None,
    jobs: int = 1,
    norm_id: npt.NDArray[np.int64] | None = None,
) -> LinkTable:
    """The scored links of one group of candidate ``pairs`` (a pair of blocks), as :func:`verify_blocked`
    scores each of its groups.

    ``columns`` are the sentences the group names, in sentence order (rows
    ``0..n-1``; ``docs`` their documents); ``pairs`` are rows ``(i, j)``,
    ``i < j``, sorted; ``copies`` are the copy-chain links among these rows
    (``(k, next copy of k)``, see :func:`copy_chain`).  Pairs of a copy link
    or of a sentence under ``options.min_words`` are not scored; the covers
    know the copy links (score 1.0), and a cover of a copy's two sentences
    gives way to the copy link, which is not among the links returned.  With
    ``ids`` (increasing), links name sentence ``ids[k]`` for row ``k``;
    ``norm_id`` (equal where the normalised texts are) saves computing them.
    """
    n_words = columns.lengths
    ids = np.arange(n_words.size, dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
    next_copy = np.full(n_words.size, -1, dtype=np.int64)
    next_copy[copies[:, 0]] = copies[:, 1]
    pairs = pairs[_open_mask(pairs, n_words >= options.min_words, next_copy)]
    if not pairs.size:
        return LinkTable.concat([])
    found = scorer_from_columns(
        _dense(columns.stems),
        columns.content,
        columns.entity,
        n_words,
        columns.norms,
        docs,
        norm_id=None if norm_id is None else _dense(norm_id),
        workers=jobs,
    )
    table = found.score_table(
        pairs, **_scoring(options, floor, jobs), known=(copies, np.ones(copies.shape[0])), ids=ids
    )
    if not copies.size:
        return table
    # A copy's link (1.0) is never replaced: a cover of the same two sentences gives way to it.
    width = int(ids[-1]) + 1
    codes = np.sort(ids[copies[:, 0]] * width + ids[copies[:, 1]])
    _, is_copy = sorted_find(codes, table.i * width + table.j)
    return table.take(np.flatnonzero(~is_copy))


#: Tokens per block of :func:`verify_blocked` (its scorers hold two blocks: ~60 bytes a token).
BLOCK_TOKENS = 1 << 22


def verify_blocked(
    columns: SentenceColumns,
    docs: npt.NDArray[np.int64],
    pairs: npt.NDArray[np.integer[Any]],
    options: Options,
    *,
    jobs: int = 1,
    floor: float,
    block_tokens: int | None = None,
    names: npt.NDArray[np.int64] | None = None,
    advance: Callable[[int], None] | None = None,
) -> LinkTable:
    """:func:`verify_candidates` on sentence columns, a pair of blocks of sentences at a time.

    The scorer's per-token arrays (~60 bytes a token) are built for two blocks
    of about ``block_tokens`` tokens (default :data:`BLOCK_TOKENS`) at once, not for every sentence of a
    corpus.  Blocks are runs of whole documents, so the covers (which only
    combine sentences of one document) see all their candidates in one block,
    and every candidate pair is scored once, in the scorer of its two blocks.
    Same links as :func:`verify_candidates`
    (tested), whatever ``block_tokens``, as a :class:`~dedup._verify.links.LinkTable`
    sorted by sentence pair (millions of links cost ~50 bytes each, not
    ~300).  With ``names`` (an increasing array, e.g. the corpus ids of the
    sentences), links name sentence ``names[k]`` for sentence ``k``.
    ``advance(k)`` is called as each ``k`` more of the ``pairs`` are done
    (for a progress bar).
    """
    n_words = columns.lengths
    norm_id = norm_ids(columns.norms)
    ids = np.arange(n_words.size, dtype=np.int64) if names is None else np.asarray(names, np.int64)
    next_copy = _next_copy(norm_id, copying(n_words, options))
    # The pairs still to score, as a mask (a filtered copy of millions of pairs costs memory).
    open_ = _open_mask(pairs, n_words >= options.min_words, next_copy)
    # The copy chain's links (all scoring 1.0): kept as they are, and known to the diagonal blocks' covers.
    chained = np.flatnonzero(next_copy >= 0)
    known_ij = np.stack((chained, next_copy[chained]), axis=1)  # sorted: ascending first sentences
    del next_copy, chained
    whole_spans = np.stack((np.zeros_like(n_words), n_words), axis=1)
    copy_table = LinkTable(
        ids[known_ij[:, 0]], ids[known_ij[:, 1]], np.ones(known_ij.shape[0]),
        np.full(known_ij.shape[0], KINDS.index("exact"), dtype=np.int8),
        whole_spans[known_ij[:, 0]], whole_spans[known_ij[:, 1]],
    )  # fmt: skip
    parts: list[LinkTable] = []  # per pair of blocks (their links are of disjoint sentence pairs)
    offsets = columns.offsets
    bounds = _block_bounds(offsets, docs, BLOCK_TOKENS if block_tokens is None else block_tokens)
    if pairs.size and np.any(pairs[1:, 0] < pairs[:-1, 0]):  # grouped by first sentence below
        by_first = np.argsort(pairs[:, 0], kind="stable")
        pairs, open_ = pairs[by_first], open_[by_first]
    block = np.repeat(np.arange(bounds.size - 1, dtype=np.int64), np.diff(bounds))
    # Block pairs (p, q), p <= q, in order; the pairs of block p are one run (sorted by first sentence).
    runs = np.searchsorted(pairs[:, 0], bounds) if pairs.size else np.zeros(bounds.size, np.int64)
    for p in range(bounds.size - 1):
        in_p = pairs[runs[p] : runs[p + 1]][open_[runs[p] : runs[p + 1]]]
        if advance is not None:
            advance(int(runs[p + 1] - runs[p]) - in_p.shape[0])  # copies and short sentences: done
        if not in_p.size:
            continue
        q_of = block[in_p[:, 1]]
        by_q = np.argsort(q_of, kind="stable")
        in_p, q_of = in_p[by_q], q_of[by_q]
        firsts = np.flatnonzero(np.r_[True, q_of[1:] != q_of[:-1]])
        for lo, hi in zip(firsts.tolist(), [*firsts[1:].tolist(), q_of.size], strict=True):
            q = int(q_of[lo])
            # The scorer's rows: block p, then block q (so local ids keep the order of global ones).
            p0, p1, q0, q1 = int(bounds[p]), int(bounds[p + 1]), int(bounds[q]), int(bounds[q + 1])
            spans = [(p0, p1)] if q == p else [(p0, p1), (q0, q1)]
            sub = in_p[lo:hi]
            local = np.where(sub < p1, sub - p0, sub - q0 + (p1 - p0)).astype(np.int64, copy=False)
            sub_known = known_ij[:0]
            if p == q:  # covers (same document only) happen in the diagonal blocks
                inside = (known_ij[:, 0] >= p0) & (known_ij[:, 1] < p1)
                sub_known = known_ij[inside] - p0
            names_pq = ids[p0:p1] if q == p else np.concatenate((ids[p0:p1], ids[q0:q1]))
            parts.append(
                verify_group(
                    _rows(columns, offsets, spans),
                    np.concatenate([docs[a:b] for a, b in spans]),
                    local,
                    sub_known,
                    options,
                    floor=floor,
                    ids=names_pq,
                    jobs=jobs,
                    norm_id=np.concatenate([norm_id[a:b] for a, b in spans]),
                )
            )
            if advance is not None:
                advance(hi - lo)
            # The scorer's arrays and the threads' buffers come partly from malloc's arenas, which
            # keep freed pages: hand them back before the next pair of blocks (1M paragraphs: the
            # run's peak RSS was verification holding ~1.3 GB of freed memory).
            release_memory()
    # Each group dropped the covers of copy pairs (verify_group); copy pairs are never scored
    # across blocks, and covers stay within a document, so no other link is a copy's.
    return LinkTable.concat([*parts, copy_table]).sorted()


def _block_bounds(
    offsets: npt.NDArray[np.int64], docs: npt.NDArray[np.int64], block_tokens: int
) -> npt.NDArray[np.int64]:
    """Sentence ids where blocks start, and ``n`` at the end: runs of whole documents of at most
    ``block_tokens`` tokens (a longer document is a block of its own)."""
    n = docs.size
    starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]]) if n else np.zeros(0, np.int64)
    starts = np.r_[starts, n]  # document starts, then the end
    cuts = [0]
    while cuts[-1] < n:
        cut = cuts[-1]
        k = int(np.searchsorted(offsets[starts], offsets[cut] + block_tokens, side="right")) - 1
        nxt = int(starts[k])
        if nxt <= cut:  # the document at ``cut`` alone is over the budget
            nxt = int(starts[np.searchsorted(starts, cut, side="right")])
        cuts.append(nxt)
    return np.asarray(cuts, dtype=np.int64)


def _rows(
    columns: SentenceColumns, offsets: npt.NDArray[np.int64], spans: list[tuple[int, int]]
) -> SentenceColumns:
    """The sentences of the row ranges ``spans`` (in order), as columns of their own."""
    toks = [slice(int(offsets[a]), int(offsets[b])) for a, b in spans]
    return SentenceColumns(
        np.concatenate([columns.stems[t] for t in toks]),
        np.concatenate([columns.content[t] for t in toks]),
        np.concatenate([columns.entity[t] for t in toks]),
        np.concatenate([columns.lengths[a:b] for a, b in spans]),
        [t for a, b in spans for t in columns.norms[a:b]],
    )


def _dense(ids: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
    """``ids`` renumbered ``0..k-1`` (in order of value), equal exactly where they were."""
    if not ids.size:
        return np.zeros(0, dtype=np.int64)
    seen = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    seen[ids] = 1
    dense: npt.NDArray[np.int64] = (np.cumsum(seen) - 1)[ids]
    return dense
