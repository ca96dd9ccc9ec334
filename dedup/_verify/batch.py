"""The compiled scorer: verification of many candidate pairs at once, in Cython kernels (``_kernels.pyx``).

:class:`dedup._verify.reference.Verifier` states the scoring rules one pair and one
sentence at a time; :class:`BatchScorer` computes *the same links* for a whole batch
of candidates, far faster: per-sentence stem sets in CSR form with stem ids local
to the batch (:class:`StemSets`), then one call for the pair stage (containment both
ways, substitution factor, rapidfuzz's character ratio, locality where it can matter)
and one for the cover stage (pool trimming, greedy covers, which links can count,
alignment spans); Python only rounds scores and builds the links.  Without the
kernels, :mod:`dedup._verify.scorer` runs the reference rules instead (it makes
that choice); ``tests/verify/test_batchverify.py`` checks the two give the same links on
real articles and random texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from dedup._arrays import last_of_equal, sorted_unique
from dedup._kernels import PURE_PYTHON
from dedup._rules import (
    ALSO_RESTATES,
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
from dedup._verify.reference import Link, whole

try:  # the verify stage's compiled kernels (dedup/_verify/_kernels.pyx), built where a C compiler is
    from dedup._verify import _kernels as compiled
except ImportError:  # pragma: no cover - installs without a C compiler
    compiled = None  # type: ignore[assignment]
if PURE_PYTHON:
    compiled = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from dedup._verify._kernels import Batch

__all__ = [
    "COLUMNS",
    "KERNEL_MAX_SOURCES",
    "KERNEL_RULES",
    "BatchScorer",
    "KernelRules",
    "StemSets",
    "compiled",
    "norm_ids",
]

# Scores are rounded to 6 decimals before the floor is applied: anything this
# close below the floor may still round up to it.
_EPS = 1e-6

_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]
_BY_PAIR = itemgetter(0, 1)  # a Link's (i, j)
# Most sources per fused sentence the compiled cover stage handles.  A cover never has more
# than ``MAX_POOL`` (the partners it picks from), so larger ``max_sources`` are cut to that.
KERNEL_MAX_SOURCES = 64
# Tokens per thread, at least, when the stem sets are computed in threads.
_PROFILE_SPLIT_TOKENS = 1 << 18
# Pairs, at least, for the pair and cover stages to be split over ``workers`` threads.
_SPLIT_MIN_PAIRS = 50_000
COLUMNS = (
    Sentence._fields.index("words"),
    Sentence._fields.index("stems"),
    Sentence._fields.index("content"),
    Sentence._fields.index("entity"),
)


class KernelRules(NamedTuple):
    """The rule constants the compiled verification kernels read (their ``Rules`` struct)."""

    entity_weight: float
    shrink: float
    ratio_zero: float
    spread: float
    strong_first: float
    also_restates: float
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
    also_restates=ALSO_RESTATES,
    whole_share=WHOLE_SHARE,
    min_new_words=MIN_NEW_WORDS,
    max_pool=MAX_POOL,
    edge_slack_min=EDGE_SLACK_MIN,
    edge_slack_divisor=EDGE_SLACK_DIVISOR,
)


class StemSets(NamedTuple):
    """The stem sets of a batch's sentences, as the kernels' ``profiles`` makes them.

    Per sentence ``s``, rows ``*_start[s]:*_start[s + 1]`` of: its content stems (all its
    stems when it has no content word), sorted, with their weights; all its stems, sorted;
    the stems of its names and figures, sorted; its content stems in text order with their
    token positions (what alignment compares).  ``total`` is its content weight.  The row
    arrays may be longer than their last offset.
    """

    cw_start: _I64
    cw_stem: _I64
    cw_w: _F64
    all_start: _I64
    all_stem: _I64
    ent_start: _I64
    ent_stem: _I64
    total: _F64
    seq_start: _I64
    seq_stem: _I64
    seq_pos: _I64

    @classmethod
    def empty(cls, n: int, n_tokens: int) -> StemSets:
        """Arrays for ``n`` sentences of ``n_tokens`` tokens in all, for ``profiles`` to fill."""
        i64, f64 = np.int64, np.float64
        return cls(
            cw_start=np.empty(n + 1, i64),
            cw_stem=np.empty(n_tokens, i64),
            cw_w=np.empty(n_tokens, f64),
            all_start=np.empty(n + 1, i64),
            all_stem=np.empty(n_tokens, i64),
            ent_start=np.empty(n + 1, i64),
            ent_stem=np.empty(n_tokens, i64),
            total=np.empty(n, f64),
            seq_start=np.empty(n + 1, i64),
            seq_stem=np.empty(n_tokens, i64),
            seq_pos=np.empty(n_tokens, i64),
        )

    @classmethod
    def concat(cls, parts: Sequence[StemSets]) -> StemSets:
        """The stem sets of consecutive runs of sentences, joined: those of all of them at once."""
        joined = {}
        for name in cls._fields:
            if name.endswith("_start"):  # offsets, shifted by the rows of the runs before
                shift = np.cumsum([0] + [int(getattr(p, name)[-1]) for p in parts]).tolist()
                pieces = [getattr(p, name)[:-1] + s for p, s in zip(parts, shift, strict=False)]
                joined[name] = np.concatenate([*pieces, np.array([shift[-1]], np.int64)])
            elif name == "total":  # one per sentence
                joined[name] = np.concatenate([p.total for p in parts])
            else:  # rows, up to their last offset
                start = _STARTS[name]
                joined[name] = np.concatenate([getattr(p, name)[: int(getattr(p, start)[-1])] for p in parts])
        return cls(**joined)


# The offsets of each row array of :class:`StemSets`.
_STARTS = {
    "cw_stem": "cw_start",
    "cw_w": "cw_start",
    "all_stem": "all_start",
    "ent_stem": "ent_start",
    "seq_stem": "seq_start",
    "seq_pos": "seq_start",
}


class _PairScores(NamedTuple):
    """Candidate pairs that link: near pairs ``(i, j)`` with their scores, and equal texts."""

    i: _I64
    j: _I64
    score: _F64
    eq_i: _I64
    eq_j: _I64


class BatchScorer:
    """Scores candidate pairs among a fixed list of sentences, as :class:`~.reference.Verifier` does."""

    total: _F64  # content weight of each sentence
    n_tokens: _I64  # tokens (= words) of each sentence
    norms: list[str]  # each sentence's words joined by spaces
    norm_id: _I64  # equal norms, equal ids
    _sets: StemSets  # per-sentence stem sets
    _batch: Batch  # the sentences as the kernels read them
    #: Stem ids up to which the kernels keep per-row tables of the stems (beyond, they merge
    #: sorted runs instead: same results, slower; tests set 0 to run the merges).
    dense_limit: ClassVar[int] = 1 << 24

    def __init__(self, sentences: Sequence[Sentence], sent_doc: Sequence[int] | npt.ArrayLike) -> None:
        if compiled is None:
            raise RuntimeError("BatchScorer needs the compiled kernels (dedup._verify._kernels)")
        rows = sentences if type(sentences) is list else list(sentences)  # (the kernel takes a list)
        # The token columns in one compiled pass; stem ids local to this batch.
        stem_ids, content, entity, lengths, norms = compiled.flatten(rows, COLUMNS)
        self._set_columns(stem_ids, content, entity, lengths, norms, sent_doc)

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
        (else they are numbered here).  ``workers`` threads compute the stem sets (same result).
        """
        if compiled is None:
            raise RuntimeError("BatchScorer needs the compiled kernels (dedup._verify._kernels)")
        self = cls.__new__(cls)
        self._set_columns(stem_ids, content, entity, lengths, norms, sent_doc, norm_id, workers)
        return self

    def _set_columns(
        self,
        stem_ids: _I64,
        content: npt.NDArray[np.bool_],
        entity: npt.NDArray[np.bool_],
        lengths: _I64,
        norms: list[str],
        sent_doc: Sequence[int] | npt.ArrayLike,
        norm_id: _I64 | None = None,
        workers: int = 1,
    ) -> None:
        self.n = len(norms)
        self.doc = np.asarray(sent_doc, dtype=np.int64).reshape(-1)
        self.norms = norms
        self.n_tokens = lengths
        self._sets = self._kernel_profiles(stem_ids, content, entity, lengths, workers)
        self.total = self._sets.total
        self.norm_id = norm_ids(norms) if norm_id is None else norm_id
        assert compiled is not None
        self._batch = compiled.Batch(
            self._sets,
            norms,
            np.ascontiguousarray(self.norm_id, np.int64),
            np.ascontiguousarray(lengths, np.int64),
        )

    def _kernel_profiles(
        self,
        stem_ids: _I64,
        content: npt.NDArray[np.bool_],
        entity: npt.NDArray[np.bool_],
        lengths: _I64,
        workers: int = 1,
    ) -> StemSets:
        """The per-sentence stem sets of the compiled kernels (CSR arrays).

        With ``workers`` > 1 and many tokens, runs of sentences are done in threads (the kernel
        releases the GIL) and their arrays joined: the same arrays as one call.
        """
        n, n_tok = self.n, stem_ids.size
        parts = max(1, min(workers, n_tok // _PROFILE_SPLIT_TOKENS, n))
        if parts == 1:  # an article: one call, nothing to join (this path is in its latency)
            return _profiles(stem_ids, content, entity, lengths)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        cuts = [0, *np.searchsorted(offsets, [n_tok * k // parts for k in range(1, parts)]).tolist(), n]
        runs = [(a, b, int(offsets[a]), int(offsets[b])) for a, b in pairwise(cuts)]

        def run(part: tuple[int, int, int, int]) -> StemSets:
            a, b, t0, t1 = part
            return _profiles(stem_ids[t0:t1], content[t0:t1], entity[t0:t1], lengths[a:b])

        with ThreadPoolExecutor(len(runs)) as pool:
            return StemSets.concat(list(pool.map(run, runs)))

    # --- the two verification steps -----------------------------------------------------------

    def score(
        self,
        pairs: _I64,
        *,
        floor: float,
        min_gain: float,
        max_sources: int,
        workers: int = 1,
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

        With ``workers`` > 1 and enough pairs, pair scores and covers are
        split over that many threads (same results, joined in order).  With
        ``ids`` (an increasing array), the links returned name sentence
        ``ids[i]`` for row ``i``: block-wise verification gets them in corpus
        numbering without building every link twice.
        """
        if not pairs.size:
            return [], []
        found, c_ij, c_ji, split = self._pair_scores(pairs, floor, workers)
        pair_links, pair_scores = self._pair_links(found, floor, ids)
        beaten = dict(known or {})
        beaten.update(pair_scores)
        del pair_scores
        args = (floor, min_gain, min(max_sources, MAX_POOL), beaten)
        parts = self._cover_parts(pairs, c_ij, c_ji, args, split, workers, "_covers")
        return pair_links, _renamed(parts, ids)

    def score_table(
        self,
        pairs: _I64,
        *,
        floor: float,
        min_gain: float,
        max_sources: int,
        workers: int = 1,
        known: tuple[_I64, _F64] | None = None,
        ids: _I64 | None = None,
    ) -> LinkTable:
        """:meth:`score`, its links merged as the caller of :meth:`score` merges them, as columns.

        The best link of each sentence pair: its pair link, unless a cover link
        scores higher (the first of the highest covers, in row order).  Sorted
        by sentence pair, named by ``ids``.  No object per link: at corpus scale
        they were most of verification's Python time.  ``known`` is the known
        links as pairs ``(k, 2)`` and their scores.
        """
        if not pairs.size:
            return LinkTable.concat([])
        found, c_ij, c_ji, split = self._pair_scores(pairs, floor, workers)
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
            min(max_sources, MAX_POOL),
            (codes[last], np.concatenate((known_scores, pair_table.score))[last]),
        )
        parts = self._cover_parts(pairs, c_ij, c_ji, args, split, workers, "_cover_table")
        best = best_links(pair_table, LinkTable.concat(parts), floor)
        if ids is None:
            return best
        return LinkTable(ids[best.i], ids[best.j], best.score, best.kind, best.span_i, best.span_j)

    def _pair_scores(self, pairs: _I64, floor: float, workers: int) -> tuple[_PairScores, _F64, _F64, bool]:
        """:meth:`_pair_stage` of ``pairs``, in ``workers`` threads if there are enough (and if so)."""
        split = workers > 1 and pairs.shape[0] >= _SPLIT_MIN_PAIRS
        if not split:
            return (*self._pair_stage(pairs, floor), False)
        chunks = np.array_split(pairs, workers)
        parts = self._split(workers, "_pair_stage", [(chunk, floor) for chunk in chunks])
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
        split: bool,
        workers: int,
        method: str,
    ) -> list[Any]:
        """``method`` (:meth:`_covers` or :meth:`_cover_table`) over the rows with a candidate in
        their own document: its results for runs of rows, in row order (in ``workers`` threads if
        ``split``)."""
        # Covers (fusion) only pool sentences of the same document: the directed arrays are built
        # for those pairs alone (across a corpus they are a few percent of the candidates, and the
        # arrays of all of them in both directions took gigabytes at 1M paragraphs).
        same = np.flatnonzero(self.doc[pairs[:, 0]] == self.doc[pairs[:, 1]])
        i, j = pairs[same, 0], pairs[same, 1]
        a = np.concatenate((i, j))
        b = np.concatenate((j, i))
        pool = self.total[b] >= POOL_RATIO * self.total[a]
        c_dir = np.concatenate((c_ij[same], c_ji[same]))
        if not split:
            return [getattr(self, method)(a[pool], b[pool], c_dir[pool], *args)]
        if not a.size:
            return []
        # Covers are computed row by row: contiguous row ranges with similar numbers of
        # pool pairs go to the threads, and their results are joined in row order.
        pa, pb, pc = a[pool], b[pool], c_dir[pool]
        order = np.argsort(pa, kind="stable")
        pa, pb, pc = pa[order], pb[order], pc[order]
        rows = sorted_unique(a)
        cuts = [int(pa[k]) for k in range(0, pa.size, -(-pa.size // workers))][1:] if pa.size else []
        bounds = [rows[0], *cuts, rows[-1] + 1]
        tasks = []
        for lo, hi in pairwise(bounds):
            s, e = np.searchsorted(pa, [lo, hi])
            tasks.append((pa[s:e], pb[s:e], pc[s:e]))
        return self._split(workers, method, tasks, args)

    def _split(
        self, workers: int, method: str, tasks: list[tuple[Any, ...]], shared: tuple[Any, ...] = ()
    ) -> list[Any]:
        """``getattr(self, method)(*task, *shared)`` for every task, in threads, results in order.

        The kernels release the GIL (their Python parts hold it), and threads share
        the scorer (forked processes, each counting its pages again, made the peak
        RSS of 1M paragraphs).
        """
        run = getattr(self, method)
        with ThreadPoolExecutor(min(workers, len(tasks))) as pool:
            return list(pool.map(lambda task: run(*task, *shared), tasks))

    def _pair_stage(self, pairs: _I64, floor: float) -> tuple[_PairScores, _F64, _F64]:
        """Pairs of ``pairs`` that link, and the containment of each pair in both directions
        (without the locality factor), in one compiled call."""
        assert compiled is not None
        i, j = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
        ki, kj, ks, ei, ej, c_ij, c_ji = compiled.pair_stage(
            self._batch, i, j, floor=floor - _EPS, rules=KERNEL_RULES, dense_limit=self.dense_limit
        )
        return _PairScores(ki, kj, ks, ei, ej), c_ij, c_ji

    def _pair_links(
        self, found: _PairScores, floor: float, ids: _I64 | None = None
    ) -> tuple[list[Link], dict[tuple[int, int], float]]:
        """The links of :meth:`_pair_stage`'s arrays, sorted by sentence pair, and their scores by
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
        floor: float,
        min_gain: float,
        max_sources: int,
        beaten: tuple[_I64, _F64],
    ) -> LinkTable:
        """The cover links of :meth:`_covers` as a table (in row order); ``beaten`` as sorted
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
        floor: float,
        min_gain: float,
        max_sources: int,
        beaten: Mapping[tuple[int, int], float],
    ) -> list[Link]:
        """``Verifier.cover`` of every row in one compiled call: the cover links of all rows, in row order.

        ``a -> b`` are the pool pairs (same document, enough weight) and ``c`` their
        containment without the locality factor.  A link that cannot score above
        ``beaten`` (``(i, j)`` -> score, ``i < j``) is left out.
        """
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
        """``_kernels.cover_stage``: rows ``(i, j, fused, i0, i1, j0, j1)`` and raw scores of cover links."""
        assert compiled is not None
        return compiled.cover_stage(
            self._batch,
            np.ascontiguousarray(a),
            np.ascontiguousarray(b),
            np.ascontiguousarray(c, dtype=np.float64),
            self._norm_rank(),
            codes,
            scores,
            floor=floor - _EPS,
            min_gain=min_gain,
            max_sources=max_sources,
            rules=KERNEL_RULES,
            dense_limit=self.dense_limit,
        )

    def _norm_rank(self) -> _I64:
        """Rank of each sentence's normalised text in sorted order (equal texts, equal ranks)."""
        first = np.unique(self.norm_id, return_index=True)[1]
        by_text = sorted(first.tolist(), key=self.norms.__getitem__)
        rank = np.empty(first.size, dtype=np.int64)
        rank[self.norm_id[by_text]] = np.arange(first.size)
        return rank[self.norm_id]


def _profiles(
    stem_ids: _I64, content: npt.NDArray[np.bool_], entity: npt.NDArray[np.bool_], lengths: _I64
) -> StemSets:
    """``_kernels.profiles`` of some sentences (offsets from 0)."""
    assert compiled is not None
    sets = StemSets.empty(lengths.size, stem_ids.size)
    compiled.profiles(
        np.ascontiguousarray(stem_ids),
        np.ascontiguousarray(content).view(np.uint8),
        np.ascontiguousarray(entity).view(np.uint8),
        np.ascontiguousarray(lengths),
        sets,
        rules=KERNEL_RULES,
    )
    return sets


def _renamed(covers: list[list[Link]], ids: _I64 | None) -> list[list[Link]]:
    """``covers`` with sentence ``i`` named ``ids[i]`` (unchanged without ``ids``)."""
    if ids is None:
        return covers
    g = ids.tolist()
    return [[Link(g[lk.i], g[lk.j], lk.score, lk.kind, lk.span_i, lk.span_j) for lk in row] for row in covers]


def norm_ids(norms: Sequence[str]) -> _I64:
    """One id per distinct normalised text, in order of first occurrence (equal texts, equal ids)."""
    distinct: dict[str, int] = {}
    return np.fromiter((distinct.setdefault(t, len(distinct)) for t in norms), np.int64, len(norms))
