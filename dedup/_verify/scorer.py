"""The one place that chooses how candidate pairs are scored: the compiled kernels, or the reference rules.

Both scorers take the same inputs (sentences, or their token columns) and give
the same links, bit for bit (``tests/verify/test_batchverify.py``):

* :class:`~dedup._verify.batch.BatchScorer`, the compiled kernels
  (``dedup/_verify/_kernels.pyx``), when they were built and rapidfuzz exports the
  C interface they call (:func:`compiled_usable`);
* :class:`ReferenceScorer`, the per-pair rules of
  :class:`~dedup._verify.reference.Verifier` driven over the batch: the path of
  installs without a C compiler (and of ``DEDUP_PURE_PYTHON=1``), and the oracle
  the compiled one is tested against.

Nothing else in the package looks at whether the kernels loaded to verify.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from dedup._rules import MAX_POOL
from dedup._text.segment import Sentence
from dedup._verify.batch import COLUMNS, KERNEL_MAX_SOURCES, BatchScorer, compiled, norm_ids
from dedup._verify.links import LinkTable, merge_links
from dedup._verify.reference import Link, Profile, Verifier, profile, profile_of

__all__ = [
    "COMPILED",
    "ReferenceScorer",
    "Scorer",
    "compiled_usable",
    "flatten",
    "scorer",
    "scorer_from_columns",
]

_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]
_BY_PAIR = itemgetter(0, 1)  # a Link's (i, j)


def compiled_usable(kernels: ModuleType | None) -> bool:
    """Whether the compiled scorer can run on ``kernels`` (the verify stage's compiled module, if built).

    They call rapidfuzz's ratio through the C interface rapidfuzz exports: without it (another
    version of its structures), the reference rules run.  Their cover holds at most
    ``KERNEL_MAX_SOURCES`` sources, and a cover never has more than ``MAX_POOL`` (its pool).
    """
    return kernels is not None and bool(kernels.RAPIDFUZZ_CAPI) and MAX_POOL <= KERNEL_MAX_SOURCES


#: Whether verification runs the compiled kernels: the one place that chooses.
COMPILED = compiled_usable(compiled)


class Scorer(Protocol):
    """Scores candidate pairs among a fixed list of sentences (what both implementations offer)."""

    n_tokens: _I64  # tokens (= words) of each sentence
    norm_id: _I64  # equal normalised texts, equal ids

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
        """Pair links scoring at least ``floor`` (sorted by pair), and cover links by row, in row order.

        ``pairs`` are candidate pairs ``(i, j)``, ``i < j``, exact copies already
        removed.  Merged into the best link of each sentence pair
        (:func:`~dedup._verify.links.merge_links`), over the ``known`` links, they give
        the links of ``Verifier.pair`` over ``pairs`` and ``Verifier.cover`` over
        every sentence with its sorted partners (a scorer may leave out cover links
        that cannot win that merge).  With ``ids`` (increasing), row ``i`` is named
        ``ids[i]``.  ``workers`` threads may share the work (same result).
        """
        ...

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
        """:meth:`score`, merged: the best new link of each sentence pair, sorted by pair, as columns.

        ``known`` gives links already found (pairs ``(k, 2)`` and their scores): a
        cover link for one of those pairs is kept only if it scores higher.
        """
        ...


def scorer(sentences: Sequence[Sentence], sent_doc: Sequence[int] | npt.ArrayLike) -> Scorer:
    """The scorer of ``sentences`` (of documents ``sent_doc``)."""
    if COMPILED:
        return BatchScorer(sentences, sent_doc)
    return ReferenceScorer([profile(s) for s in sentences], sent_doc)


def scorer_from_columns(
    stem_ids: npt.NDArray[np.integer[Any]],
    content: npt.NDArray[np.bool_],
    entity: npt.NDArray[np.bool_],
    lengths: _I64,
    norms: list[str],
    sent_doc: Sequence[int] | npt.ArrayLike,
    *,
    norm_id: _I64 | None = None,
    workers: int = 1,
) -> Scorer:
    """The scorer of sentences given as token columns (see :func:`flatten`), stem ids of one numbering.

    ``norm_id`` may give ids ``0..k-1`` equal exactly where ``norms`` are;
    ``workers`` threads may prepare the compiled scorer's arrays (same result).
    """
    if COMPILED:
        return BatchScorer.from_columns(
            np.asarray(stem_ids, dtype=np.int64), content, entity, lengths, norms, sent_doc,
            norm_id=norm_id, workers=workers,
        )  # fmt: skip
    stems, cont, ent = stem_ids.tolist(), content.tolist(), entity.tolist()
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    profiles = [
        profile_of(stems[a:b], cont[a:b], ent[a:b], norm)
        for a, b, norm in zip(starts, ends, norms, strict=True)
    ]
    return ReferenceScorer(profiles, sent_doc, norm_id=norm_id)


def flatten(
    sentences: Sequence[Sentence], vocabulary: dict[str, int] | None = None
) -> tuple[_I64, npt.NDArray[np.bool_], npt.NDArray[np.bool_], _I64, list[str]]:
    """The token columns of ``sentences``: stem ids, content and entity flags, tokens per sentence, norms.

    Stems are numbered in order of first occurrence, continuing ``vocabulary``
    (stem -> id, filled here) when it is given, so that consecutive batches share
    one numbering.
    """
    ids: dict[str, int] = {} if vocabulary is None else vocabulary
    rows = sentences if type(sentences) is list else list(sentences)  # (the kernel takes a list)
    if compiled is not None:  # the same columns in one compiled pass
        return compiled.flatten(rows, COLUMNS, ids)
    lengths = np.fromiter((len(s.stems) for s in rows), dtype=np.int64, count=len(rows))
    n_tok = int(lengths.sum())
    stems = np.fromiter(
        (ids.setdefault(t, len(ids)) for s in rows for t in s.stems), dtype=np.int64, count=n_tok
    )
    content = np.fromiter(chain.from_iterable(s.content for s in rows), dtype=np.bool_, count=n_tok)
    entity = np.fromiter(chain.from_iterable(s.entity for s in rows), dtype=np.bool_, count=n_tok)
    return stems, content, entity, lengths, [s.norm for s in rows]


class ReferenceScorer:
    """:class:`Scorer` by the reference rules: ``Verifier.pair`` of each pair, ``cover`` of each row."""

    def __init__(
        self, profiles: list[Profile], sent_doc: Sequence[int] | npt.ArrayLike, *, norm_id: _I64 | None = None
    ) -> None:
        docs = np.asarray(sent_doc, dtype=np.int64).reshape(-1).tolist()
        self._verifier = Verifier.of_profiles(profiles, min_words=0, sent_doc=docs)
        self.n_tokens = np.fromiter((p.n_tokens for p in profiles), dtype=np.int64, count=len(profiles))
        self.norm_id = norm_ids([p.norm for p in profiles]) if norm_id is None else norm_id

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
        """See :meth:`Scorer.score` (all cover links are returned: ``known`` is not needed, nor threads)."""
        verifier = self._verifier
        pair_links = []
        partners: dict[int, list[int]] = {}
        for i, j in pairs.tolist():
            link = verifier.pair(i, j)
            if link is not None and link.score >= floor:
                pair_links.append(link)
            partners.setdefault(i, []).append(j)
            partners.setdefault(j, []).append(i)
        pair_links.sort(key=_BY_PAIR)
        covers = [
            verifier.cover(i, sorted(partners[i]), min_gain=min_gain, max_sources=max_sources)
            for i in sorted(partners)
        ]
        if ids is None:
            return pair_links, covers
        g = ids.tolist()
        return [_renamed(lk, g) for lk in pair_links], [[_renamed(lk, g) for lk in row] for row in covers]

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
        """See :meth:`Scorer.score_table`."""
        pair_links, covers = self.score(pairs, floor=floor, min_gain=min_gain, max_sources=max_sources)
        best: dict[tuple[int, int], Link] = {}
        if known is not None:  # they stand in the merge, and are not returned
            for (i, j), v in zip(known[0].tolist(), known[1].tolist(), strict=True):
                best[(min(i, j), max(i, j))] = Link(i, j, v, "exact", (0, 0), (0, 0))
        stand_ins = list(best.items())
        merge_links(best, pair_links, chain.from_iterable(covers), floor)
        for key, link in stand_ins:
            if best[key] is link:
                del best[key]
        table = LinkTable.from_links([best[k] for k in sorted(best)])
        if ids is None:
            return table
        return LinkTable(ids[table.i], ids[table.j], table.score, table.kind, table.span_i, table.span_j)


def _renamed(link: Link, ids: list[int]) -> Link:
    return Link(ids[link.i], ids[link.j], link.score, link.kind, link.span_i, link.span_j)
