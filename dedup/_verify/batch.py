"""Verification of many candidate pairs at once: bounds first, exact scores for the few that can link.

:class:`dedup._verify.reference.Verifier` states the scoring rules one pair and one
sentence at a time; this module computes *the same links* for a whole batch
of candidates, far faster.  Two implementations of the batch share the
orchestration here:

* the compiled kernels (``dedup/_ckernels.c``, when built): per-sentence stem
  sets in CSR form with stem ids local to the batch, then one call for the
  pair stage (containment both ways, substitution factor, character ratio,
  locality where it can matter) and one for the cover stage (pool trimming,
  greedy covers, which links can count, alignment spans); Python only rounds
  scores and builds the :class:`~dedup._verify.reference.Link` tuples;
* numpy (the reference for the kernels, and the path without a C compiler):

  1. Every sentence's content stems, weights and names/figures become integer
     codes ``sentence * vocabulary + stem`` in sorted arrays, so the shared
     content weight of every candidate pair, in both directions, and the
     substitution factor are a few vectorised ``searchsorted``/``bincount``
     calls.  Weights are 1 or 2, so these sums are exact integers in floating
     point: the results equal the per-pair Python sums bit for bit.
  2. rapidfuzz's ``cpdist`` scores the character ratio of all pairs in C.
  3. The locality factor (an LCS alignment) is at most 1, so a pair whose score
     without it stays under the link floor is dropped unseen; only the rest get
     the exact, per-pair computation.
  4. The greedy covers of all sentences run as vectorised steps, and a cover
     link is aligned only when a bound says it can count.

``tests/test_batchverify.py`` checks both against the reference
:class:`~dedup._verify.reference.Verifier` on real articles and random texts.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, pairwise
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from dedup._arrays import last_of_equal, run_firsts, sorted_find, sorted_unique
from dedup._kernels import ckernels
from dedup._rules import (
    EDGE_SLACK_DIVISOR,
    EDGE_SLACK_MIN,
    ENTITY_WEIGHT,
    MAX_POOL,
    MIN_NEW_WORDS,
    POOL_RATIO,
    RATIO_ZERO,
    SHRINK,
    SPREAD,
    STRONG_FIRST,
    WHOLE_SHARE,
)
from dedup._text.segment import Sentence
from dedup._verify.links import KINDS, LinkTable, best_links, rounded6
from dedup._verify.reference import (
    RATIO_CUTOFF,
    Ends,
    Link,
    Shape,
    _locality,
    aligned_of,
    alignment_ends,
    cover_link,
    locality_of,
    shape,
    whole,
)

__all__ = ["COLUMNS", "KERNEL_MAX_SOURCES", "KERNEL_RULES", "BatchScorer", "KernelRules", "norm_ids"]

# Scores are rounded to 6 decimals before the floor is applied: anything this
# close below the floor may still round up to it.
_EPS = 1e-6
# Directed pairs whose membership tests run in one numpy batch (bounds memory).
_CHUNK = 1 << 18
# Batches of at most this many tokens number their stems among themselves, and
# membership uses a bit table when sentences x stems stays under this many cells.
_LOCAL_VOCAB_TOKENS = 1 << 17
_TABLE_CELLS = 1 << 24

_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]
_BY_PAIR = itemgetter(0, 1)  # a Link's (i, j)
# Most sources per fused sentence the compiled cover stage handles (more: the numpy path).
KERNEL_MAX_SOURCES = 64
# Tokens per thread, at least, when the stem sets are computed in threads.
_PROFILE_SPLIT_TOKENS = 1 << 18
# Where the compiled ``flatten`` finds each token column in a sentence tuple.
COLUMNS = (
    Sentence._fields.index("words"),
    Sentence._fields.index("stems"),
    Sentence._fields.index("content"),
    Sentence._fields.index("entity"),
)


class KernelRules(NamedTuple):
    """The rule constants the compiled verification kernels read (their ``Rules`` struct, in order)."""

    entity_weight: float
    shrink: float
    ratio_zero: float
    spread: float
    strong_first: float
    whole_share: float
    min_new_words: int
    max_pool: int
    edge_slack_min: int
    edge_slack_divisor: int


#: The kernels' rules, from :mod:`dedup._rules` (the kernels restate none of them).
KERNEL_RULES = KernelRules(
    entity_weight=ENTITY_WEIGHT,
    shrink=SHRINK,
    ratio_zero=RATIO_ZERO,
    spread=SPREAD,
    strong_first=STRONG_FIRST,
    whole_share=WHOLE_SHARE,
    min_new_words=MIN_NEW_WORDS,
    max_pool=MAX_POOL,
    edge_slack_min=EDGE_SLACK_MIN,
    edge_slack_divisor=EDGE_SLACK_DIVISOR,
)


class _PairScores(NamedTuple):
    """Candidate pairs that link: near pairs ``(i, j)`` with their scores, and equal texts."""

    i: _I64
    j: _I64
    score: _F64
    eq_i: _I64
    eq_j: _I64


@dataclass(frozen=True, slots=True)
class _Directed:
    """Per directed pair ``a -> b``: what ``a`` shares with ``b``."""

    shared: _F64  # content weight of ``a`` found among ``b``'s stems
    miss: _I64  # names/figures of ``a`` absent from ``b``'s stems
    inter: _I64  # names/figures common to both


class BatchScorer:
    """Scores candidate pairs among a fixed list of sentences, as :class:`~.reference.Verifier` does."""

    total: _F64  # content weight of each sentence
    n_tokens: _I64  # tokens (= words) of each sentence
    norms: list[str]  # each sentence's words joined by spaces
    norm_id: _I64  # equal norms, equal ids
    # The numpy path's stem sets (see ``_numpy_profiles``); the compiled kernels use ``_csr`` instead.
    _v: np.int64
    _all: _I64
    _cw_code: _I64
    _cw_w: _F64
    _cw_sent: _I64
    _cw_start: _I64
    _cw_stem: _I64
    _ent: _I64
    _ent_start: _I64
    _ent_stem: _I64
    _n_ent: _I64
    _all_table: npt.NDArray[np.bool_] | None
    _ent_table: npt.NDArray[np.bool_] | None

    def __init__(self, sentences: Sequence[Sentence], sent_doc: Sequence[int] | npt.ArrayLike) -> None:
        self._sents = sentences
        n = len(sentences)
        self.n = n
        self.doc = np.asarray(sent_doc, dtype=np.int64).reshape(-1)
        self._shapes: list[Shape | None] = [None] * n
        self._csr: tuple[npt.NDArray[Any], ...] | None = None
        self._seq: tuple[_I64, _I64, _I64] | None = None
        if ckernels is not None:  # the token columns in one compiled pass; stem ids local to this batch
            rows = sentences if isinstance(sentences, list) else list(sentences)
            raw_stems, raw_content, raw_entity, raw_lengths, norms = ckernels.flatten(rows, *COLUMNS)
            self._set_columns(
                np.frombuffer(raw_stems, dtype=np.int64),
                np.frombuffer(raw_content, dtype=np.bool_),
                np.frombuffer(raw_entity, dtype=np.bool_),
                np.frombuffer(raw_lengths, dtype=np.int64),
                norms,
            )
            return
        self.norms = [s.norm for s in sentences]
        lengths = np.fromiter((len(s.stems) for s in sentences), dtype=np.int64, count=n)
        self.n_tokens = lengths
        stem_ids, bound = _stem_ids([t for s in sentences for t in s.stems])
        n_tok = stem_ids.size
        content = np.fromiter(chain.from_iterable(s.content for s in sentences), dtype=bool, count=n_tok)
        entity = np.fromiter(chain.from_iterable(s.entity for s in sentences), dtype=bool, count=n_tok)
        self._numpy_profiles(stem_ids, bound, content, entity, lengths)
        self._set_norm_ids()

    @classmethod
    def from_columns(
        cls,
        stem_ids: _I64,
        content: npt.NDArray[np.bool_],
        entity: npt.NDArray[np.bool_],
        lengths: _I64,
        norms: list[str],
        sent_doc: Sequence[int] | npt.ArrayLike,
        *,
        norm_id: _I64 | None = None,
        workers: int = 1,
    ) -> BatchScorer:
        """A scorer over sentences given as token columns (what ``flatten`` makes of them), no objects.

        Corpus mode keeps its sentences this way (a few bytes a token instead of a tuple of
        tuples each).  ``norm_id`` may give ids ``0..k-1`` equal exactly where ``norms`` are
        (else they are numbered here).  Needs the compiled kernels: the numpy path's alignments read the
        sentences.  ``workers`` threads compute the stem sets (same result).
        """
        if ckernels is None:
            raise RuntimeError("BatchScorer.from_columns needs the compiled kernels (dedup._ckernels)")
        self = cls.__new__(cls)
        self._sents = ()
        self.n = len(norms)
        self.doc = np.asarray(sent_doc, dtype=np.int64).reshape(-1)
        self._shapes = []
        self._csr = self._seq = None
        self._set_columns(stem_ids, content, entity, lengths, norms, norm_id, workers)
        return self

    def _set_columns(
        self,
        stem_ids: _I64,
        content: npt.NDArray[np.bool_],
        entity: npt.NDArray[np.bool_],
        lengths: _I64,
        norms: list[str],
        norm_id: _I64 | None = None,
        workers: int = 1,
    ) -> None:
        self.norms = norms
        self.n_tokens = lengths
        self._kernel_profiles(stem_ids, content, entity, lengths, workers)
        if norm_id is None:
            self._set_norm_ids()
        else:
            self.norm_id = norm_id

    def _set_norm_ids(self) -> None:
        self.norm_id = norm_ids(self.norms)

    def _numpy_profiles(
        self,
        stem_ids: _I64,
        bound: int,
        content: npt.NDArray[np.bool_],
        entity: npt.NDArray[np.bool_],
        lengths: _I64,
    ) -> None:
        """The per-sentence stem sets as sorted codes ``sentence * vocabulary + stem`` (the numpy path)."""
        n, n_tok = self.n, stem_ids.size
        tok_sent = np.repeat(np.arange(n, dtype=np.int64), lengths)
        if n_tok <= _LOCAL_VOCAB_TOKENS:  # small batches: number the stems 0..v-1 among themselves
            uniq, stem_ids = np.unique(stem_ids, return_inverse=True)
            v = np.int64(max(uniq.size, 1))
        else:
            v = np.int64(bound)
        self._v = v
        codes = tok_sent * v + stem_ids
        self._all = sorted_unique(codes)
        # A sentence of stop words only is compared on all of its words (as ``profile``).
        has_content = np.zeros(n, dtype=bool)
        has_content[tok_sent[content]] = True
        use = content | ~has_content[tok_sent]
        weight = np.where(entity, ENTITY_WEIGHT, 1.0)
        c_codes, c_w = codes[use], weight[use]
        order = np.lexsort((c_w, c_codes))  # by code, the largest weight last
        c_codes, c_w = c_codes[order], c_w[order]
        last = np.ones(c_codes.size, dtype=bool)
        last[:-1] = c_codes[1:] != c_codes[:-1]
        self._cw_code, self._cw_w = c_codes[last], c_w[last]
        cw_sent = self._cw_code // v
        self._cw_sent = cw_sent
        self._cw_start = np.searchsorted(cw_sent, np.arange(n + 1, dtype=np.int64))
        self.total = np.bincount(cw_sent, weights=self._cw_w, minlength=n).astype(np.float64)
        self._ent = sorted_unique(codes[entity & use])
        ent_sent = self._ent // v
        self._ent_start = np.searchsorted(ent_sent, np.arange(n + 1, dtype=np.int64))
        self._n_ent = np.diff(self._ent_start)
        self._cw_stem = self._cw_code - cw_sent * v
        self._ent_stem = self._ent - ent_sent * v
        # Membership by direct lookup in a bit table when it is small enough, else by binary search.
        self._all_table: npt.NDArray[np.bool_] | None = None
        self._ent_table: npt.NDArray[np.bool_] | None = None
        if n * int(v) <= _TABLE_CELLS:
            self._all_table = np.zeros(n * int(v), dtype=bool)
            self._all_table[self._all] = True
            self._ent_table = np.zeros(n * int(v), dtype=bool)
            self._ent_table[self._ent] = True

    def _kernel_profiles(
        self,
        stem_ids: _I64,
        content: npt.NDArray[np.bool_],
        entity: npt.NDArray[np.bool_],
        lengths: _I64,
        workers: int = 1,
    ) -> None:
        """The per-sentence stem sets of the compiled kernels (CSR arrays), instead of the numpy codes.

        With ``workers`` > 1 and many tokens, runs of sentences are done in threads (the kernel
        releases the GIL) and their arrays joined: the same arrays as one call.
        """
        n, n_tok = self.n, stem_ids.size
        parts = max(1, min(workers, n_tok // _PROFILE_SPLIT_TOKENS, n))
        if parts == 1:  # an article: one call, nothing to join (this path is in its latency)
            found = _profiles(stem_ids, content, entity, lengths)
            self.total = found[7]
            self._csr = found[:8]
            self._seq = (found[8], found[9], found[10])
            return
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        cuts = [0, *np.searchsorted(offsets, [n_tok * k // parts for k in range(1, parts)]).tolist(), n]
        runs = [(a, b, int(offsets[a]), int(offsets[b])) for a, b in pairwise(cuts)]

        def run(part: tuple[int, int, int, int]) -> tuple[npt.NDArray[Any], ...]:
            a, b, t0, t1 = part
            return _profiles(stem_ids[t0:t1], content[t0:t1], entity[t0:t1], lengths[a:b])

        with ThreadPoolExecutor(len(runs)) as pool:
            found_parts = list(pool.map(run, runs))
        # Fields: cw_start, cw_stem, cw_w, all_start, all_stem, ent_start, ent_stem, total,
        # seq_start, seq_stem, seq_pos.  Offsets are shifted; rows are kept up to their last offset.
        rows_of = {1: 0, 2: 0, 4: 3, 6: 5, 9: 8, 10: 8}
        joined: list[npt.NDArray[Any]] = []
        for f in range(11):
            if f in (0, 3, 5, 8):
                shift = np.cumsum([0] + [int(p[f][-1]) for p in found_parts]).tolist()
                pieces = [p[f][:-1] + s for p, s in zip(found_parts, shift, strict=False)]
                joined.append(np.concatenate([*pieces, np.array([shift[-1]], np.int64)]))
            elif f in rows_of:
                joined.append(np.concatenate([p[f][: int(p[rows_of[f]][-1])] for p in found_parts]))
            else:  # total: one per sentence
                joined.append(np.concatenate([p[f] for p in found_parts]))
        self.total = joined[7]
        self._csr = tuple(joined[:8])
        self._seq = (joined[8], joined[9], joined[10])

    # --- exact per-sentence pieces, computed lazily ---------------------------------------

    def shape(self, i: int) -> Shape:
        """Content-word positions of sentence ``i``, for alignment (computed once)."""
        p = self._shapes[i]
        if p is None:
            p = self._shapes[i] = shape(self._sents[i])
        return p

    # --- vectorised membership ----------------------------------------------------------------

    def directed(self, a: _I64, b: _I64) -> _Directed:
        """Shared weight, missing and common names of ``a[k] -> b[k]`` for every ``k``."""
        shared = np.zeros(a.size, dtype=np.float64)
        miss = np.zeros(a.size, dtype=np.int64)
        inter = np.zeros(a.size, dtype=np.int64)
        for lo in range(0, a.size, _CHUNK):
            ca, cb = a[lo : lo + _CHUNK], b[lo : lo + _CHUNK]
            hi = lo + ca.size
            pidx, elem, found = self._member(
                ca, cb, self._cw_start, self._cw_stem, self._all, self._all_table
            )
            shared[lo:hi] = np.bincount(pidx, weights=self._cw_w[elem] * found, minlength=ca.size)
            pidx, _, found = self._member(ca, cb, self._ent_start, self._ent_stem, self._all, self._all_table)
            in_b = np.bincount(pidx, weights=found, minlength=ca.size).astype(np.int64)
            miss[lo:hi] = self._n_ent[ca] - in_b
            pidx, _, found = self._member(ca, cb, self._ent_start, self._ent_stem, self._ent, self._ent_table)
            inter[lo:hi] = np.bincount(pidx, weights=found, minlength=ca.size).astype(np.int64)
        return _Directed(shared, miss, inter)

    def _member(
        self,
        a: _I64,
        b: _I64,
        starts: _I64,
        stems: _I64,
        haystack: _I64,
        table: npt.NDArray[np.bool_] | None,
    ) -> tuple[_I64, _I64, npt.NDArray[np.bool_]]:
        """For each element of ``a``'s run in ``stems``: is that stem among ``b``'s ``haystack`` codes?

        ``table``, when given, is ``haystack`` as a bit table indexed by code.
        """
        lens = starts[a + 1] - starts[a]
        total = int(lens.sum())
        pidx = np.repeat(np.arange(a.size, dtype=np.int64), lens)
        if not total:
            return pidx, pidx, np.zeros(0, dtype=bool)
        offset = np.cumsum(lens) - lens
        elem = starts[a][pidx] + (np.arange(total, dtype=np.int64) - offset[pidx])
        query = b[pidx] * self._v + stems[elem]
        if table is not None:
            return pidx, elem, table[query]
        return pidx, elem, sorted_find(haystack, query)[1]

    def substitution(self, ab: _Directed, ba: _Directed, a: _I64, b: _I64) -> _F64:
        """The substitution factor of each pair (symmetric), as ``_verify._substitution_factor``."""
        union = self._n_ent[a] + self._n_ent[b] - ab.inter
        both_miss = (ab.miss > 0) & (ba.miss > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(both_miss, ab.inter / np.maximum(union, 1), 1.0)
        return factor.astype(np.float64)

    def ends(self, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], Ends]:
        """:func:`~.reference.alignment_ends` of every pair ``(i, j)`` (the numpy path's alignments)."""
        return {(i, j): alignment_ends(self.shape(i), self.shape(j)) for i, j in pairs}

    # --- the two verification steps -----------------------------------------------------------

    def score(
        self,
        pairs: _I64,
        *,
        floor: float,
        min_gain: float,
        max_sources: int,
        workers: int = 1,
        processes: int = 1,
        known: Mapping[tuple[int, int], float] | None = None,
        ids: _I64 | None = None,
    ) -> tuple[list[Link], list[list[Link]]]:
        """Pair links (score at least ``floor``), and the cover links of the rows with a candidate in
        their own document, in row order.

        ``pairs`` are the candidate pairs ``(i, j)``, ``i < j``, exact copies
        already removed.  Same results as ``Verifier.pair`` over ``pairs`` and
        ``Verifier.cover`` over every sentence with its sorted partners, except
        that a cover link is left out when it cannot score above the pair
        link, or the ``known`` link (``(i, j)`` -> score), of the same two
        sentences: the caller keeps the best link of each pair, and ties go to
        the earlier one.

        ``workers`` threads compute character ratios; with ``processes`` > 1
        and enough pairs, pair scores and covers are split over that many
        forked processes (same results, joined in order).  With ``ids`` (an
        increasing array), the links returned name sentence ``ids[i]`` for
        row ``i``: block-wise verification gets them in corpus numbering
        without building every link twice.
        """
        if not pairs.size:
            return [], []
        found, c_ij, c_ji, forked = self._pair_scores(pairs, floor, workers, processes)
        pair_links, pair_scores = self._pair_links(found, floor, ids)
        beaten = dict(known or {})
        beaten.update(pair_scores)
        del pair_scores
        args = (floor, min_gain, max_sources, beaten)
        parts = self._cover_parts(pairs, c_ij, c_ji, args, forked, processes, "_covers")
        return pair_links, _renamed([row for part in parts for row in part], ids)

    def score_table(
        self,
        pairs: _I64,
        *,
        floor: float,
        min_gain: float,
        max_sources: int,
        workers: int = 1,
        processes: int = 1,
        known: tuple[_I64, _F64] | None = None,
        ids: _I64 | None = None,
    ) -> LinkTable:
        """:meth:`score`, its links merged as the caller of :meth:`score` merges them, as columns.

        The best link of each sentence pair: its pair link, unless a cover link
        scores higher (the first of the highest covers, in row order).  Sorted
        by sentence pair, named by ``ids``.  No object per link: at corpus scale
        they were most of verification's Python time.  ``known`` is the known
        links as pairs ``(k, 2)`` and their scores.  Needs the compiled kernels.
        """
        if self._csr is None or max_sources > KERNEL_MAX_SOURCES:
            raise RuntimeError("BatchScorer.score_table needs the compiled kernels")
        if not pairs.size:
            return LinkTable.concat([])
        found, c_ij, c_ji, forked = self._pair_scores(pairs, floor, workers, processes)
        pair_table = self._pair_table(found, floor)
        n = self.n
        known_pairs, known_scores = known if known is not None else (np.zeros((0, 2), np.int64), np.zeros(0))
        known_codes = known_pairs.min(axis=1) * n + known_pairs.max(axis=1)
        # As the dict of :meth:`score`: the pair scores after the known ones (the last of equal codes).
        codes = np.concatenate((known_codes, pair_table.i * n + pair_table.j))
        last = last_of_equal(codes)
        args = (
            floor,
            min_gain,
            max_sources,
            (codes[last], np.concatenate((known_scores, pair_table.score))[last]),
        )
        parts = self._cover_parts(pairs, c_ij, c_ji, args, forked, processes, "_cover_table")
        best = best_links(pair_table, LinkTable.concat(parts), floor)
        if ids is None:
            return best
        return LinkTable(ids[best.i], ids[best.j], best.score, best.kind, best.span_i, best.span_j)

    def _pair_scores(
        self, pairs: _I64, floor: float, workers: int, processes: int
    ) -> tuple[_PairScores, _F64, _F64, bool]:
        """:meth:`_pair_stage` of ``pairs``, split over ``processes`` if there are enough (and if so)."""
        forked = processes > 1 and pairs.shape[0] >= _FORK_MIN_PAIRS and (_CAN_FORK or self._csr is not None)
        if not forked:
            return (*self._pair_stage(pairs, floor, workers), False)
        chunks = np.array_split(pairs, processes)
        parts = self._split(processes, "_pair_stage", [(chunk, floor) for chunk in chunks])
        per_field = zip(*(x for x, _, _ in parts), strict=True)
        found = _PairScores(*(np.concatenate(arrays) for arrays in per_field))
        c_ij = np.concatenate([c for _, c, _ in parts])
        c_ji = np.concatenate([c for _, _, c in parts])
        return found, c_ij, c_ji, True

    def _cover_parts(
        self,
        pairs: _I64,
        c_ij: _F64,
        c_ji: _F64,
        args: tuple[Any, ...],
        forked: bool,
        processes: int,
        method: str,
    ) -> list[Any]:
        """``method`` (:meth:`_covers` or :meth:`_cover_table`) over the rows with a candidate in
        their own document: its results for runs of rows, in row order."""
        # Covers (fusion) only pool sentences of the same document: the directed arrays are built
        # for those pairs alone (across a corpus they are a few percent of the candidates, and the
        # arrays of all of them in both directions took gigabytes at 1M paragraphs).
        same = np.flatnonzero(self.doc[pairs[:, 0]] == self.doc[pairs[:, 1]])
        i, j = pairs[same, 0], pairs[same, 1]
        a = np.concatenate((i, j))
        b = np.concatenate((j, i))
        pool = self.total[b] >= POOL_RATIO * self.total[a]
        c_dir = np.concatenate((c_ij[same], c_ji[same]))
        if not forked:
            return [getattr(self, method)(a[pool], b[pool], c_dir[pool], a, *args)]
        if not a.size:
            return []
        # Covers are computed row by row: contiguous row ranges with similar numbers of
        # pool pairs go to the processes, and their results are joined in row order.
        pa, pb, pc = a[pool], b[pool], c_dir[pool]
        order = np.argsort(pa, kind="stable")
        pa, pb, pc = pa[order], pb[order], pc[order]
        rows = sorted_unique(a)
        cuts = [int(pa[k]) for k in range(0, pa.size, -(-pa.size // processes))][1:] if pa.size else []
        bounds = [rows[0], *cuts, rows[-1] + 1]
        tasks = []
        for lo, hi in pairwise(bounds):
            s, e = np.searchsorted(pa, [lo, hi])
            r0, r1 = np.searchsorted(rows, [lo, hi])
            tasks.append((pa[s:e], pb[s:e], pc[s:e], rows[r0:r1]))
        return self._split(processes, method, tasks, args)

    def _split(
        self, workers: int, method: str, tasks: list[tuple[Any, ...]], shared: tuple[Any, ...] = ()
    ) -> list[Any]:
        """``getattr(self, method)(*task, *shared)`` for every task, in parallel, results in order.

        With the compiled kernels, in threads: the kernels release the GIL (their
        Python parts hold it), and threads share the scorer instead of each
        forked process counting its pages again (at 1M paragraphs the forked
        verifiers' RSS was the run's peak).  Otherwise in forked processes.
        """
        if self._csr is None:
            return _forked(self, method, tasks, shared)
        run = getattr(self, method)
        with ThreadPoolExecutor(min(workers, len(tasks))) as pool:
            return list(pool.map(lambda task: run(*task, *shared), tasks))

    def _pair_stage(self, pairs: _I64, floor: float, workers: int = 1) -> tuple[_PairScores, _F64, _F64]:
        """Pairs of ``pairs`` that link, and the containment of each pair in both directions."""
        if self._csr is not None and self._seq is not None:  # the whole stage in one compiled call
            assert ckernels is not None
            i, j = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
            c_ij, c_ji = np.empty(i.size, dtype=np.float64), np.empty(i.size, dtype=np.float64)
            raw = ckernels.pair_stage(
                i, j, *self._csr, *self._seq, self.norms, self.norm_id, self.n_tokens,
                floor - _EPS, KERNEL_RULES, c_ij, c_ji,
            )  # fmt: skip
            ki, kj, ks, ei, ej = raw
            found = _PairScores(
                np.frombuffer(ki, dtype=np.int64),
                np.frombuffer(kj, dtype=np.int64),
                np.frombuffer(ks, dtype=np.float64),
                np.frombuffer(ei, dtype=np.int64),
                np.frombuffer(ej, dtype=np.int64),
            )
            return found, c_ij, c_ji
        i, j = pairs[:, 0], pairs[:, 1]
        a = np.concatenate((i, j))
        b = np.concatenate((j, i))
        d = self.directed(a, b)
        m = i.size
        ij = _Directed(d.shared[:m], d.miss[:m], d.inter[:m])
        ji = _Directed(d.shared[m:], d.miss[m:], d.inter[m:])
        subst = self.substitution(ij, ji, i, j)
        c_ij = d.shared[:m] / (self.total[i] + SHRINK) * subst
        c_ji = d.shared[m:] / (self.total[j] + SHRINK) * subst
        return self._pairs(i, j, subst, c_ij, c_ji, floor, workers), c_ij, c_ji

    def _pairs(
        self, i: _I64, j: _I64, subst: _F64, c_ij: _F64, c_ji: _F64, floor: float, workers: int
    ) -> _PairScores:
        """``Verifier.pair`` of every candidate pair, keeping those that reach ``floor`` (as arrays)."""
        norms = self.norms
        raw = process.cpdist(
            [norms[k] for k in i.tolist()],
            [norms[k] for k in j.tolist()],
            scorer=fuzz.ratio,
            score_cutoff=RATIO_CUTOFF,
            dtype=np.float64,
            workers=workers,
        )
        ratio = np.maximum(0.0, (raw / 100.0 - RATIO_ZERO) / (1.0 - RATIO_ZERO)) * subst
        # Equal texts score 1.0 whatever the bound says (``Verifier.pair`` checks them first).
        equal = self.norm_id[i] == self.norm_id[j]
        live = np.flatnonzero((np.maximum(ratio, np.minimum(c_ij, c_ji)) >= floor - _EPS) & ~equal)
        # The locality factor (at most 1, and only for a much longer partner) can only
        # matter where containment both ways beats the character ratio.
        loc_ij = np.ones(live.size)
        loc_ji = np.ones(live.size)
        nt = self.n_tokens
        li, lj = i[live], j[live]
        maybe = np.minimum(c_ij[live], c_ji[live]) > ratio[live]
        k_ij = np.flatnonzero(maybe & (nt[lj] > SPREAD * nt[li])).tolist()
        k_ji = np.flatnonzero(maybe & (nt[li] > SPREAD * nt[lj])).tolist()
        if k_ij or k_ji:
            ntl, lil, ljl = nt.tolist(), li.tolist(), lj.tolist()
            ends = self.ends([(lil[k], ljl[k]) for k in k_ij] + [(ljl[k], lil[k]) for k in k_ji])
            for k in k_ij:
                loc_ij[k] = locality_of(ends[lil[k], ljl[k]], ntl[lil[k]], ntl[ljl[k]])
            for k in k_ji:
                loc_ji[k] = locality_of(ends[ljl[k], lil[k]], ntl[ljl[k]], ntl[lil[k]])
        score = np.maximum(ratio[live], np.minimum(c_ij[live] * loc_ij, c_ji[live] * loc_ji))
        keep = score >= floor - _EPS
        return _PairScores(li[keep], lj[keep], score[keep], i[equal], j[equal])

    def _pair_links(
        self, found: _PairScores, floor: float, ids: _I64 | None = None
    ) -> tuple[list[Link], dict[tuple[int, int], float]]:
        """The links of :meth:`_pairs`' arrays, sorted by sentence pair, and their scores by
        ``(i, j)``; with ``ids``, the links name sentence ``ids[i]`` for row ``i`` (an increasing map)."""
        ntl = self.n_tokens.tolist()
        scores: dict[tuple[int, int], float] = {}
        gi, gj = (found.i, found.j) if ids is None else (ids[found.i], ids[found.j])
        out = []
        for x, y, u, w, v in zip(
            found.i.tolist(), found.j.tolist(), gi.tolist(), gj.tolist(), found.score.tolist(), strict=True
        ):
            if v > 0.0 and (r := round(v, 6)) >= floor:
                out.append(Link(u, w, r, "near", whole(ntl[x]), whole(ntl[y])))
                scores[(x, y)] = r
        ei, ej = (found.eq_i, found.eq_j) if ids is None else (ids[found.eq_i], ids[found.eq_j])
        for x, y, u, w in zip(
            found.eq_i.tolist(), found.eq_j.tolist(), ei.tolist(), ej.tolist(), strict=True
        ):
            out.append(Link(u, w, 1.0, "exact", whole(ntl[x]), whole(ntl[y])))
            scores[(x, y)] = 1.0
        out.sort(key=_BY_PAIR)
        return out, scores

    def _pair_table(self, found: _PairScores, floor: float) -> LinkTable:
        """The links of :meth:`_pair_links` (local ids) as a table sorted by sentence pair."""
        rounded = rounded6(found.score)
        keep = (found.score > 0.0) & (rounded >= floor)
        i = np.concatenate((found.i[keep], found.eq_i))
        j = np.concatenate((found.j[keep], found.eq_j))
        n_near = int(np.count_nonzero(keep))
        kind = np.full(i.size, KINDS.index("exact"), dtype=np.int8)
        kind[:n_near] = KINDS.index("near")
        score = np.concatenate((rounded[keep], np.ones(found.eq_i.size)))
        whole_i = np.stack((np.zeros(i.size, np.int64), self.n_tokens[i]), axis=1)
        whole_j = np.stack((np.zeros(j.size, np.int64), self.n_tokens[j]), axis=1)
        table = LinkTable(i, j, score, kind, whole_i, whole_j)
        return table.take(last_of_equal(i * self.n + j))  # of equal pairs the dict keeps the later

    def _cover_table(
        self,
        a: _I64,
        b: _I64,
        c: _F64,
        rows_from: _I64,
        floor: float,
        min_gain: float,
        max_sources: int,
        beaten: tuple[_I64, _F64],
    ) -> LinkTable:
        """The cover links of :meth:`_kernel_covers` as a table (in row order); ``beaten`` as sorted
        codes ``min(i, j) * n + max(i, j)`` and their scores."""
        rows, scores = self._cover_stage(a, b, c, floor, min_gain, max_sources, *beaten)
        kind = np.where(rows[:, 2] != 0, KINDS.index("fusion"), KINDS.index("near")).astype(np.int8)
        return LinkTable(
            rows[:, 0].copy(), rows[:, 1].copy(), rounded6(scores), kind, rows[:, 3:5], rows[:, 5:7]
        )

    def _covers(
        self,
        a: _I64,
        b: _I64,
        c: _F64,
        rows_from: _I64,
        floor: float,
        min_gain: float,
        max_sources: int,
        beaten: Mapping[tuple[int, int], float],
    ) -> list[list[Link]]:
        """``Verifier.cover`` of every row at once: the greedy steps run over all rows together.

        ``a -> b`` are the pool pairs (same document, enough weight) and ``c``
        their containment without the locality factor.
        """
        if self._csr is not None and self._seq is not None and max_sources <= KERNEL_MAX_SOURCES:
            return [self._kernel_covers(a, b, c, floor, min_gain, max_sources, beaten)]
        rows = sorted_unique(rows_from)
        if not a.size:
            return [[] for _ in range(rows.size)]
        order = np.lexsort((b, a))
        a, b, c = a[order], b[order], c[order]
        active = self._trim_pools(a, b, c)
        steps, covw = self._numpy_covers(a, b, active, min_gain, max_sources)
        # Plain lists from here: the rest is per-row Python, where numpy scalars are slow.
        a_l, b_l, c_l, covw_l = a.tolist(), b.tolist(), c.tolist(), covw.tolist()
        picks: dict[int, list[int]] = {}
        for picked in steps:
            for p in picked.tolist():
                picks.setdefault(a_l[p], []).append(p)
        total_l = self.total.tolist()
        plans = {}
        for row, chain_ in picks.items():
            plan = _cover_plan(
                row, [b_l[p] for p in chain_], c_l[chain_[0]], covw_l[row], total_l[row], floor, beaten
            )
            if plan is not None:
                plans[row] = plan
        # The alignments the links need, all in one batch: (row, partner) of every wanted link.
        ends = self.ends(
            [(row, j) for row, (ps, ws, _, _) in plans.items() for j, w in zip(ps, ws, strict=True) if w]
        )
        nt = self.n_tokens.tolist()
        return [
            [] if (plan := plans.get(row)) is None else _cover_links(row, *plan, ends, nt)
            for row in rows.tolist()
        ]

    def _numpy_covers(
        self, a: _I64, b: _I64, active: npt.NDArray[np.bool_], min_gain: float, max_sources: int
    ) -> tuple[list[_I64], _F64]:
        """The greedy steps of :meth:`_covers` in numpy: pool pairs picked at each step, weights covered."""
        pidx, elem, found = self._member(a, b, self._cw_start, self._cw_stem, self._all, self._all_table)
        found &= active[pidx]
        w = self._cw_w[elem]
        n_pairs = a.size
        cov = np.zeros(self._cw_code.size, dtype=bool)
        done = np.zeros(self.n, dtype=bool)
        rank_b = self._norm_rank()[b]
        total_b = self.total[b]
        steps: list[_I64] = []  # the pool pair picked at each step, per row that picked
        for step in range(max_sources):
            new = found & ~cov[elem]
            gain = np.bincount(pidx, weights=w * new, minlength=n_pairs)
            cand = np.flatnonzero((gain > 0) & ~done[a])
            if not cand.size:
                break
            # Most new weight first; ties to the shorter partner, then by text, then by position.
            cand = cand[np.lexsort((b[cand], rank_b[cand], total_b[cand], -gain[cand], a[cand]))]
            picked = cand[run_firsts(a[cand])]
            if step:  # a further source must add a fair share, and more than one word of it
                n_new = np.bincount(pidx, weights=new, minlength=n_pairs)[picked]
                ok = (gain[picked] / self.total[a[picked]] >= min_gain) & (n_new >= MIN_NEW_WORDS)
                done[a[picked[~ok]]] = True
                picked = picked[ok]
                if not picked.size:
                    break
            chosen = np.zeros(n_pairs, dtype=bool)
            chosen[picked] = True
            cov[elem[chosen[pidx] & found]] = True
            steps.append(picked)
            if not step:  # one partner already restating most of a row needs no co-sources
                first_w = np.bincount(self._cw_sent, weights=self._cw_w * cov, minlength=self.n)
                strong = first_w[a[picked]] / self.total[a[picked]] >= STRONG_FIRST
                done[a[picked[strong]]] = True
        covw = np.bincount(self._cw_sent, weights=self._cw_w * cov, minlength=self.n).astype(np.float64)
        return steps, covw

    def _kernel_covers(
        self,
        a: _I64,
        b: _I64,
        c: _F64,
        floor: float,
        min_gain: float,
        max_sources: int,
        beaten: Mapping[tuple[int, int], float],
    ) -> list[Link]:
        """:meth:`_covers` in one compiled call: the cover links of all rows, in row order."""
        n = self.n
        known = sorted((min(i, j) * n + max(i, j), v) for (i, j), v in beaten.items())
        codes = np.array([k for k, _ in known], dtype=np.int64)
        scores = np.array([v for _, v in known], dtype=np.float64)
        raw_rows, raw_scores = self._cover_stage(a, b, c, floor, min_gain, max_sources, codes, scores)
        return [
            Link(i, j, round(v, 6), "fusion" if fused else "near", (i0, i1), (j0, j1))
            for (i, j, fused, i0, i1, j0, j1), v in zip(raw_rows.tolist(), raw_scores.tolist(), strict=True)
        ]

    def _cover_stage(
        self,
        a: _I64,
        b: _I64,
        c: _F64,
        floor: float,
        min_gain: float,
        max_sources: int,
        codes: _I64,
        scores: _F64,
    ) -> tuple[_I64, _F64]:
        """``ckernels.cover_stage``: rows ``(i, j, fused, i0, i1, j0, j1)`` and raw scores of cover links."""
        assert ckernels is not None and self._csr is not None and self._seq is not None
        raw_links, raw_scores = ckernels.cover_stage(
            np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(c, dtype=np.float64),
            *self._csr, *self._seq, self.norms, self._norm_rank(), self.n_tokens, codes, scores,
            floor - _EPS, min_gain, max_sources, KERNEL_RULES,
        )  # fmt: skip
        return np.frombuffer(raw_links, dtype=np.int64).reshape(-1, 7), np.frombuffer(raw_scores)

    def _trim_pools(self, a: _I64, b: _I64, c: _F64) -> npt.NDArray[np.bool_]:
        """Pool pairs kept: all, but of a pool larger than ``MAX_POOL`` only its closest partners."""
        active = np.ones(a.size, dtype=bool)
        starts = np.flatnonzero(run_firsts(a))
        sizes = np.diff(np.r_[starts, a.size])
        big = sizes > MAX_POOL
        for lo, size in zip(starts[big].tolist(), sizes[big].tolist(), strict=True):
            closest = self._closest(int(a[lo]), b[lo : lo + size].tolist(), c[lo : lo + size].tolist())
            active[lo : lo + size] = False
            active[[lo + k for k in closest]] = True
        return active

    def _closest(self, i: int, partners: list[int], cont: list[float]) -> list[int]:
        """Positions of the ``MAX_POOL`` partners containing most of ``i`` (ties: by text).

        Containment is ``cont`` times the locality factor, which is 1 unless the
        partner is much longer and never above 1: partners are taken by
        decreasing ``cont`` and the LCS behind the factor is only run while
        ``cont`` can still reach the current top ``MAX_POOL``.
        """
        spread = SPREAD * self.n_tokens[i]
        longer = (self.n_tokens[partners] > spread).tolist()
        value: dict[int, float] = {}
        top: list[float] = []  # min-heap of the largest values so far
        for k, is_longer in enumerate(longer):
            if not is_longer:
                value[k] = cont[k]
                _keep_largest(top, cont[k])
        for k in sorted((k for k, is_longer in enumerate(longer) if is_longer), key=lambda k: -cont[k]):
            if len(top) == MAX_POOL and cont[k] < top[0]:
                break  # this partner and every later one rank below the top already found
            value[k] = cont[k] * _locality(self.shape(i), self.shape(partners[k]))
            _keep_largest(top, value[k])
        return sorted(value, key=lambda k: (-value[k], self.norms[partners[k]]))[:MAX_POOL]

    def _norm_rank(self) -> _I64:
        """Rank of each sentence's normalised text in sorted order (equal texts, equal ranks)."""
        first = np.unique(self.norm_id, return_index=True)[1]
        by_text = sorted(first.tolist(), key=self.norms.__getitem__)
        rank = np.empty(first.size, dtype=np.int64)
        rank[self.norm_id[by_text]] = np.arange(first.size)
        return rank[self.norm_id]


def _profiles(
    stem_ids: _I64, content: npt.NDArray[np.bool_], entity: npt.NDArray[np.bool_], lengths: _I64
) -> tuple[npt.NDArray[Any], ...]:
    """``ckernels.profiles`` of some sentences: its 11 arrays (offsets from 0; the row arrays are
    filled up to their last offset)."""
    assert ckernels is not None
    n, n_tok = lengths.size, stem_ids.size
    cw_start, all_start, ent_start = (np.empty(n + 1, dtype=np.int64) for _ in range(3))
    cw_stem, all_stem, ent_stem = (np.empty(n_tok, dtype=np.int64) for _ in range(3))
    cw_w, total = np.empty(n_tok, dtype=np.float64), np.empty(n, dtype=np.float64)
    seq_start, seq_stem, seq_pos = (
        np.empty(n + 1, np.int64),
        np.empty(n_tok, np.int64),
        np.empty(n_tok, np.int64),
    )
    ckernels.profiles(
        np.ascontiguousarray(stem_ids), np.ascontiguousarray(content).view(np.uint8),
        np.ascontiguousarray(entity).view(np.uint8), np.ascontiguousarray(lengths),
        cw_start, cw_stem, cw_w, all_start, all_stem, ent_start, ent_stem, total,
        seq_start, seq_stem, seq_pos, KERNEL_RULES,
    )  # fmt: skip
    return (
        cw_start,
        cw_stem,
        cw_w,
        all_start,
        all_stem,
        ent_start,
        ent_stem,
        total,
        seq_start,
        seq_stem,
        seq_pos,
    )


def _cover_plan(
    i: int,
    picks: list[int],
    first_c: float,
    covw: float,
    total: float,
    floor: float,
    beaten: Mapping[tuple[int, int], float],
) -> tuple[list[int], list[bool], float, float] | None:
    """Which links of row ``i`` to its picked partners (in pick order) can count.

    ``first_c`` is the first partner's containment of ``i`` (without the
    locality factor), ``covw`` the content weight of ``i`` the partners cover
    together and ``total`` all of it.  Returns the partners, which of their
    links can count, ``first_c`` and the union score, or ``None`` when no link
    can count.
    """
    union = covw / (total + SHRINK)
    # Upper bounds of each link's score (the locality factor is at most 1): links
    # under the floor, or not above a link already found for the pair, are skipped.
    bounds = [max(union, first_c)] + [union] * (len(picks) - 1) if len(picks) > 1 else [first_c]
    wanted = [
        bound >= floor - _EPS and bound > beaten.get((min(i, j), max(i, j)), -1.0)
        for j, bound in zip(picks, bounds, strict=True)
    ]
    return (picks, wanted, first_c, union) if any(wanted) else None


def _cover_links(
    i: int,
    picks: list[int],
    wanted: list[bool],
    first_c: float,
    union: float,
    ends: Mapping[tuple[int, int], Ends],
    n_tokens: list[int],
) -> list[Link]:
    """The links of row ``i`` to its wanted partners, from the alignment ``ends`` of each pair."""
    n_i = n_tokens[i]
    first_score = first_c * locality_of(ends[i, picks[0]], n_i, n_tokens[picks[0]]) if wanted[0] else 0.0
    links = []
    for n, j in enumerate(picks):
        if not wanted[n]:
            continue
        aligned = aligned_of(ends[i, j], n_i, n_tokens[j])
        if aligned is not None:
            links.append(cover_link(i, j, n, len(picks), first_score, union, aligned))
    return links


# Forked processes inherit the scorer (no pickling of sentences); they run only with
# the ``fork`` start method, and only for batches large enough to pay the fork.
_FORK_MIN_PAIRS = 50_000
_CAN_FORK = "fork" in multiprocessing.get_all_start_methods()
_FORKED: tuple[BatchScorer, tuple[Any, ...]] | None = None
_FORK_LOCK = threading.Lock()


def _forked(
    scorer: BatchScorer, method: str, tasks: list[tuple[Any, ...]], shared: tuple[Any, ...] = ()
) -> list[Any]:
    """``getattr(scorer, method)(*task, *shared)`` for every task, one forked process each, in order.

    The children inherit ``scorer`` and ``shared`` from the fork: only the
    tasks and the results are pickled.
    """
    global _FORKED
    with _FORK_LOCK:  # one forked batch at a time: the children read the module global
        _FORKED = (scorer, shared)
        try:
            return _fork_map(method, tasks)
        finally:
            _FORKED = None


def _fork_map(method: str, tasks: list[tuple[Any, ...]]) -> list[Any]:
    # Frozen objects are skipped by the children's garbage collector, which would otherwise
    # walk (and so copy-on-write) every object of the parent's heap.
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(len(tasks)) as pool:
            return pool.map(_run_forked, [(method, task) for task in tasks], chunksize=1)
    finally:
        gc.unfreeze()


def _run_forked(job: tuple[str, tuple[Any, ...]]) -> Any:
    method, task = job
    assert _FORKED is not None
    scorer, shared = _FORKED
    return getattr(scorer, method)(*task, *shared)


def _keep_largest(heap: list[float], value: float) -> None:
    """Push ``value`` onto a min-heap holding the ``MAX_POOL`` largest values seen."""
    if len(heap) < MAX_POOL:
        heapq.heappush(heap, value)
    elif value > heap[0]:
        heapq.heapreplace(heap, value)


# stem -> small integer id, shared by all scorers of the process.  Ids only need to
# agree within one scorer: the table is cleared when it grows too large, and the
# lock keeps concurrent scorers (threads calling ``find_duplicates``) from handing
# one id to two stems or clearing the table while ids are being assigned.
_STEM_IDS: dict[str, int] = {}
_STEM_IDS_LIMIT = 1 << 21
_STEM_IDS_LOCK = threading.Lock()


def _renamed(covers: list[list[Link]], ids: _I64 | None) -> list[list[Link]]:
    """``covers`` with row ``i`` named ``ids[i]`` (unchanged without ``ids``)."""
    if ids is None:
        return covers
    g = ids.tolist()
    return [[Link(g[lk.i], g[lk.j], lk.score, lk.kind, lk.span_i, lk.span_j) for lk in row] for row in covers]


def norm_ids(norms: Sequence[str]) -> _I64:
    """One id per distinct normalised text, in order of first occurrence (equal texts, equal ids)."""
    distinct: dict[str, int] = {}
    return np.fromiter((distinct.setdefault(t, len(distinct)) for t in norms), np.int64, len(norms))


def _stem_ids(stems: list[str]) -> tuple[_I64, int]:
    """Ids of ``stems`` and a bound above every id handed out so far."""
    with _STEM_IDS_LOCK:
        if len(_STEM_IDS) > _STEM_IDS_LIMIT:
            _STEM_IDS.clear()
        # New stems get ids in order of first occurrence (so ids never depend on str hashing).
        known = _STEM_IDS
        for stem in dict.fromkeys(stems):
            if stem not in known:
                known[stem] = len(known) + 1
        ids = np.fromiter(map(_STEM_IDS.__getitem__, stems), dtype=np.int64, count=len(stems))
        return ids, len(_STEM_IDS) + 1
