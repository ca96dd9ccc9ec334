"""The detection pipeline: segment, shingle, sketch, band, verify — returning scored links."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup._arrays import sorted_unique
from dedup._batchverify import BatchScorer
from dedup._cluster import Doc
from dedup._kernels import ckernels
from dedup._options import Options
from dedup._shingle import sentence_shingle_hashes
from dedup._sketch import (
    KERNEL_TALLY_MAX_ROWS,
    MAX_BUCKET,
    MAX_PER_ROW,
    band_keys,
    candidate_pairs,
    lsh_params,
    signatures,
)
from dedup._text import Sentence, segment
from dedup._verify import Link

__all__ = [
    "BLOCK_TOKENS",
    "LINK_FLOOR",
    "MIN_SHARED_BANDS",
    "Detection",
    "SentenceColumns",
    "detect",
    "lsh_candidates",
    "verify_blocked",
    "verify_candidates",
]

#: Links scoring below this are dropped even before thresholding; results keep
#: everything above it so that they can be re-thresholded without re-indexing.
LINK_FLOOR = 0.3
# Sentences from which the two LSH families are banded in two threads.
_THREADED_LSH_MIN = 50_000
#: Across documents, a pair of sentences must share at least this many LSH bands
#: to be verified (one shared band is mostly common words; see ``lsh_candidates``).
MIN_SHARED_BANDS = 2


@dataclass(frozen=True, slots=True)
class Detection:
    """Everything the cluster stage needs, kept by results for re-thresholding."""

    docs: tuple[Doc, ...]
    sentences: tuple[Sentence, ...]
    sent_doc: tuple[int, ...]
    links: tuple[Link, ...]
    options: Options


def detect(
    docs: Sequence[Doc], options: Options, *, segmented: Sequence[Sequence[Sentence]] | None = None
) -> Detection:
    """Run the pipeline over ``docs`` and return every link scoring at least ``LINK_FLOOR``.

    ``segmented``, when given, holds ``segment(doc.text)`` of every document
    (an index keeps them), so that they are not segmented again.
    """
    sentences: list[Sentence] = []
    sent_doc: list[int] = []
    for d, doc in enumerate(docs):
        for sent in segment(doc.text) if segmented is None else segmented[d]:
            sentences.append(sent)
            sent_doc.append(d)
    links = _links(sentences, options, sent_doc)
    return Detection(tuple(docs), tuple(sentences), tuple(sent_doc), tuple(links), options)


def _links(
    sentences: Sequence[Sentence], options: Options, sent_doc: Sequence[int] | None = None
) -> list[Link]:
    if len(sentences) < 2:
        return []
    docs = np.zeros(len(sentences), dtype=np.int64) if sent_doc is None else np.asarray(sent_doc, np.int64)
    hashes, offsets = sentence_shingle_hashes(sentences, options.shingle_size)
    sigs = signatures(hashes, offsets, options.num_perm, options.seed)
    pairs = lsh_candidates(sigs, docs, options)
    return verify_candidates(sentences, docs, pairs, options)


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
    (:class:`~dedup._batchverify.BatchScorer`, compiled kernels or numpy, equal
    to the per-pair rules of :class:`~dedup._verify.Verifier`); on the numpy
    path ``jobs`` threads compute the character ratios, and large batches are
    split over ``jobs`` forked processes.  The result does not depend on ``jobs``.
    """
    scorer = BatchScorer(sentences, docs)
    n_words = scorer.n_tokens  # one word per token
    floor = min(LINK_FLOOR, options.threshold) if floor is None else floor
    best = _copy_links(scorer.norms, n_words)
    pairs = _open_pairs(pairs, n_words >= options.min_words, best, len(sentences))
    known = {key: link.score for key, link in best.items()}
    max_sources = options.max_sources if options.fusion else 1
    pair_links, covers = scorer.score(
        pairs,
        floor=floor,
        min_gain=options.min_gain,
        max_sources=max_sources,
        workers=jobs,
        processes=jobs,
        known=known,
    )
    _merge(best, pair_links, (lk for row in covers for lk in row), floor)
    return [best[k] for k in sorted(best)]


def _copy_links(norms: Sequence[str], n_words: npt.NDArray[np.int64]) -> dict[tuple[int, int], Link]:
    """Exact copies (same normalised words), linked apart from LSH as a chain.

    Any number of copies costs linear work and none is missed.  Short sentences
    (below ``min_words``) take part here only: a repeated "Skip to content" is
    boilerplate, but too short to judge as a partial restatement.
    """
    best: dict[tuple[int, int], Link] = {}
    copies: dict[str, int] = {}
    for k, norm in enumerate(norms):
        prev = copies.get(norm)
        if prev is not None:
            best[(prev, k)] = Link(prev, k, 1.0, "exact", (0, int(n_words[prev])), (0, int(n_words[k])))
        copies[norm] = k
    return best


def _open_pairs(
    pairs: npt.NDArray[np.int64],
    eligible: npt.NDArray[np.bool_],
    chained: Mapping[tuple[int, int], Link],
    n: int,
) -> npt.NDArray[np.int64]:
    """The candidate ``pairs`` still to score: both sentences long enough, not already chained copies."""
    pairs = pairs[eligible[pairs[:, 0]] & eligible[pairs[:, 1]]]
    if chained and pairs.size:
        n64 = np.int64(n)
        codes_chained = np.sort(
            np.fromiter((i * n64 + j for i, j in chained), dtype=np.int64, count=len(chained))
        )
        codes = pairs[:, 0] * n64 + pairs[:, 1]
        at = np.minimum(np.searchsorted(codes_chained, codes), codes_chained.size - 1)
        pairs = pairs[codes_chained[at] != codes]  # (np.isin sorts both sides: slower on an article)
    return pairs


def _merge(
    best: dict[tuple[int, int], Link], pair_links: Iterable[Link], covers: Iterable[Link], floor: float
) -> None:
    """Add scored links to ``best`` (the best link of each sentence pair; ties keep the earlier one)."""
    for link in pair_links:
        best[(link.i, link.j)] = link
    for link in covers:
        key = (min(link.i, link.j), max(link.i, link.j))
        if link.i > link.j:  # keep (i < j) orientation
            link = Link(link.j, link.i, link.score, link.kind, link.span_j, link.span_i)
        old = best.get(key)
        if link.score >= floor and (old is None or link.score > old.score):
            best[key] = link


@dataclass(frozen=True, slots=True)
class SentenceColumns:
    """Sentences as token columns (what :meth:`BatchScorer.from_columns` takes), in sentence order.

    Corpus mode keeps the sentences it verifies this way: a few bytes a token,
    where a :class:`~dedup._text.Sentence` costs ~1.5 kB.
    """

    stems: npt.NDArray[np.int64]  # stem ids of one numbering, per token
    content: npt.NDArray[np.bool_]
    entity: npt.NDArray[np.bool_]
    lengths: npt.NDArray[np.int64]  # tokens per sentence
    norms: list[str]  # words joined by spaces, per sentence
    vocabulary: int  # stem ids are below this

    @property
    def offsets(self) -> npt.NDArray[np.int64]:
        """Where each sentence's tokens start, and the end of the last."""
        out = np.zeros(self.lengths.size + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=out[1:])
        return out


#: Tokens per block of :func:`verify_blocked` (its scorers hold two blocks: ~60 bytes a token).
BLOCK_TOKENS = 1 << 23


def verify_blocked(
    columns: SentenceColumns,
    docs: npt.NDArray[np.int64],
    pairs: npt.NDArray[np.int64],
    options: Options,
    *,
    jobs: int = 1,
    floor: float,
    block_tokens: int | None = None,
) -> list[Link]:
    """:func:`verify_candidates` on sentence columns, a pair of blocks of sentences at a time.

    The scorer's per-token arrays (~60 bytes a token) are built for two blocks
    of about ``block_tokens`` tokens (default :data:`BLOCK_TOKENS`) at once, not for every sentence of a
    corpus.  Blocks are runs of whole documents, so the covers (which only
    combine sentences of one document) see all their candidates in one block,
    and every candidate pair is scored once, in the scorer of its two blocks.
    Needs the compiled kernels.  Same links as :func:`verify_candidates`
    (tested), whatever ``block_tokens``.
    """
    n = columns.lengths.size
    n_words = columns.lengths
    best = _copy_links(columns.norms, n_words)
    pairs = _open_pairs(pairs, n_words >= options.min_words, best, n)
    known = {key: link.score for key, link in best.items()}
    max_sources = options.max_sources if options.fusion else 1
    offsets = columns.offsets
    bounds = _block_bounds(offsets, docs, BLOCK_TOKENS if block_tokens is None else block_tokens)
    block = np.searchsorted(bounds, np.arange(n), side="right") - 1
    if not pairs.size:
        return [best[k] for k in sorted(best)]
    bi, bj = block[pairs[:, 0]], block[pairs[:, 1]]
    code = bi * np.int64(bounds.size) + bj
    order = np.argsort(code, kind="stable")
    firsts = np.flatnonzero(np.r_[True, code[order][1:] != code[order][:-1]])
    for lo, hi in zip(firsts.tolist(), [*firsts[1:].tolist(), order.size], strict=True):
        p, q = int(bi[order[lo]]), int(bj[order[lo]])
        rows = np.arange(bounds[p], bounds[p + 1])
        if q != p:
            rows = np.concatenate((rows, np.arange(bounds[q], bounds[q + 1])))
        scorer = _block_scorer(columns, offsets, rows, docs)
        sub = pairs[order[lo:hi]]
        local = np.searchsorted(rows, sub)  # rows is sorted: local ids keep the order of global ones
        sub_known: dict[tuple[int, int], float] = {}
        if p == q:  # covers (same document only) happen in the diagonal blocks
            lo_row, hi_row = int(bounds[p]), int(bounds[p + 1])
            sub_known = {
                (i - lo_row, j - lo_row): v for (i, j), v in known.items() if lo_row <= i and j < hi_row
            }
        pair_links, covers = scorer.score(
            local,
            floor=floor,
            min_gain=options.min_gain,
            max_sources=max_sources,
            workers=jobs,
            processes=jobs,
            known=sub_known,
        )
        g = rows.tolist()
        _merge(
            best,
            (Link(g[lk.i], g[lk.j], lk.score, lk.kind, lk.span_i, lk.span_j) for lk in pair_links),
            (Link(g[lk.i], g[lk.j], lk.score, lk.kind, lk.span_i, lk.span_j) for row in covers for lk in row),
            floor,
        )
        del scorer
    return [best[k] for k in sorted(best)]


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


def _block_scorer(
    columns: SentenceColumns,
    offsets: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    docs: npt.NDArray[np.int64],
) -> BatchScorer:
    """A scorer over the sentences ``rows`` (sorted), their stems renumbered densely."""
    starts, ends = offsets[rows], offsets[rows + 1]
    lengths = ends - starts
    # Token positions of the rows: one arange per row without a Python loop.
    base = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    tok = base + np.arange(int(lengths.sum()), dtype=np.int64)
    stems = columns.stems[tok]
    seen = np.zeros(columns.vocabulary + 1, dtype=np.int64)
    seen[stems] = 1
    dense = np.cumsum(seen) - 1
    norms = columns.norms
    return BatchScorer.from_columns(
        dense[stems],
        columns.content[tok],
        columns.entity[tok],
        lengths,
        [norms[r] for r in rows.tolist()],
        docs[rows],
    )


def lsh_candidates(
    sigs: npt.NDArray[np.uint32], sent_doc: npt.NDArray[np.int64], options: Options
) -> npt.NDArray[np.int64]:
    """Candidate sentence pairs from two LSH families over the same signatures.

    Within a document, restatements are often partial (a highlight shares
    only part of its words with each body sentence it fuses), so the bands
    are tuned for ``options.local_lsh_threshold`` and keyed by document, so
    that only sentences of the same document collide.  Across documents the
    bands are tuned for ``options.lsh_threshold`` and a pair must share at
    least ``MIN_SHARED_BANDS`` of them: on 10k paragraphs of real prose one
    shared band makes 8x more candidates, and the links they add above the
    default threshold are 3.5% (measured with ``benchmarks/speed.py`` data;
    on the labelled sets: one more Clough answer found, five more false lee
    document pairs).  The index (:mod:`dedup._index`) applies the same rule.
    """
    bands, rows = lsh_params(options.lsh_threshold, options.num_perm)
    l_bands, l_rows = lsh_params(options.local_lsh_threshold, options.num_perm)
    n = sigs.shape[0]
    if ckernels is not None and 2 <= n <= KERNEL_TALLY_MAX_ROWS:
        # An article: both families in one compiled call (same pairs; tested against this function's
        # numpy path).  None: a family needs its rows' best partners chosen, done below.
        raw = ckernels.lsh_pairs(
            np.ascontiguousarray(sigs, dtype=np.uint32), np.ascontiguousarray(sent_doc, dtype=np.int64),
            sigs.shape[1], bands, rows, MIN_SHARED_BANDS, l_bands, l_rows, MAX_BUCKET, MAX_PER_ROW,
        )  # fmt: skip
        if raw is not None:
            codes = np.frombuffer(raw, dtype=np.int64)
            return np.stack((codes // n, codes % n), axis=1)

    def across() -> npt.NDArray[np.int64]:
        return candidate_pairs(band_keys(sigs, bands, rows), min_shared=MIN_SHARED_BANDS)

    def within() -> npt.NDArray[np.int64]:
        local_keys = band_keys(sigs, l_bands, l_rows)
        with np.errstate(over="ignore"):
            local_keys ^= (sent_doc.astype(np.uint64) + np.uint64(1))[:, None] * np.uint64(0xD6E8FEB86659FD93)
        return candidate_pairs(local_keys)

    if sigs.shape[0] >= _THREADED_LSH_MIN:  # numpy sorts release the GIL: one family per thread
        with ThreadPoolExecutor(2) as pool:
            parts = [f.result() for f in [pool.submit(across), pool.submit(within)]]
    else:
        parts = [across(), within()]
    pairs = np.concatenate(parts)
    if not pairs.size:
        return pairs
    # Sorted unique rows via one integer code per pair (``np.unique(axis=0)`` is far slower).
    n = np.int64(max(int(pairs.max()) + 1, 1))
    codes = sorted_unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack((codes // n, codes % n), axis=1)
