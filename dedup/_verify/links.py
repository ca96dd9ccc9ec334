"""Links as columns: what verification hands the cluster stage at corpus scale; pair and cover merge."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup._arrays import run_firsts, sorted_find
from dedup._verify.reference import Link

_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]


#: Link kinds by their code in :attr:`LinkTable.kind`.
KINDS = ("exact", "near", "fusion")


_KIND_CODE = {k: n for n, k in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class LinkTable:
    """Scored sentence pairs as columns: row ``r`` is ``Link(i[r], j[r], score[r], KINDS[kind[r]], ...)``."""

    i: _I64
    j: _I64
    score: _F64
    kind: npt.NDArray[np.int8]
    span_i: _I64  # (n, 2) token spans
    span_j: _I64

    def __len__(self) -> int:
        return int(self.i.size)

    @classmethod
    def from_links(cls, links: Sequence[Link]) -> LinkTable:
        """The table of ``links``, in their order."""
        n = len(links)
        if not n:
            return cls.concat([])
        i, j, score, kind, span_i, span_j = zip(*links, strict=True)
        return cls(
            np.fromiter(i, np.int64, n),
            np.fromiter(j, np.int64, n),
            np.fromiter(score, np.float64, n),
            np.fromiter(map(_KIND_CODE.__getitem__, kind), np.int8, n),
            np.array(span_i, dtype=np.int64).reshape(n, 2),
            np.array(span_j, dtype=np.int64).reshape(n, 2),
        )

    def to_links(self) -> list[Link]:
        """The links as :class:`~dedup._verify.reference.Link` tuples."""
        return [
            Link(i, j, s, KINDS[k], (a0, a1), (b0, b1))
            for i, j, s, k, (a0, a1), (b0, b1) in zip(
                self.i.tolist(),
                self.j.tolist(),
                self.score.tolist(),
                self.kind.tolist(),
                self.span_i.tolist(),
                self.span_j.tolist(),
                strict=True,
            )
        ]

    @classmethod
    def concat(cls, parts: Sequence[LinkTable]) -> LinkTable:
        """The rows of ``parts``, one after another."""

        def join(field: str, dtype: type[np.generic], shape: tuple[int, ...]) -> npt.NDArray[Any]:
            arrays = [getattr(p, field) for p in parts]
            return np.concatenate(arrays) if arrays else np.zeros(shape, dtype)

        return cls(
            join("i", np.int64, (0,)),
            join("j", np.int64, (0,)),
            join("score", np.float64, (0,)),
            join("kind", np.int8, (0,)),
            join("span_i", np.int64, (0, 2)),
            join("span_j", np.int64, (0, 2)),
        )

    def take(self, rows: npt.NDArray[Any]) -> LinkTable:
        """The rows selected by an index array or a boolean mask."""
        return LinkTable(
            self.i[rows],
            self.j[rows],
            self.score[rows],
            self.kind[rows],
            self.span_i[rows],
            self.span_j[rows],
        )

    def sorted(self) -> LinkTable:
        """The rows by ``(i, j)``."""
        return self.take(np.lexsort((self.j, self.i)))


def merge_links(
    best: MutableMapping[tuple[int, int], Link],
    pair_links: Iterable[Link],
    covers: Iterable[Link],
    floor: float,
) -> None:
    """Add scored links to ``best`` (the best link of each sentence pair; ties keep the earlier one).

    Pair links go in as they are; each cover link, turned to ``i < j``, if it scores at
    least ``floor`` and more than the link it would replace.
    """
    for link in pair_links:
        best[(link.i, link.j)] = link
    for link in covers:
        key = (min(link.i, link.j), max(link.i, link.j))
        if link.i > link.j:  # keep (i < j) orientation
            link = Link(link.j, link.i, link.score, link.kind, link.span_j, link.span_i)
        old = best.get(key)
        if link.score >= floor and (old is None or link.score > old.score):
            best[key] = link


def best_links(pair_links: LinkTable, covers: LinkTable, floor: float) -> LinkTable:
    """:func:`merge_links` on tables: the best link of each sentence pair, as a dict filled with
    ``pair_links`` (one per pair) and then each of ``covers`` in order, if it scores at least
    ``floor`` and more than the link it would replace.

    Cover links are turned to ``i < j``.  Sorted by sentence pair.
    """
    c = covers.take(np.flatnonzero(covers.score >= floor))
    turn = c.i > c.j
    c = LinkTable(
        np.where(turn, c.j, c.i), np.where(turn, c.i, c.j), c.score, c.kind,
        np.where(turn[:, None], c.span_j, c.span_i), np.where(turn[:, None], c.span_i, c.span_j),
    )  # fmt: skip
    width = int(max(c.j.max(initial=0), pair_links.j.max(initial=0))) + 1
    codes = c.i * width + c.j
    # Of each pair's covers, the first of the highest: later equal ones never replace it.
    order = np.lexsort((np.arange(codes.size), -c.score, codes))
    top = order[run_firsts(codes[order])]
    c, codes = c.take(top), codes[top]
    pairs = pair_links.sorted()
    at, hit = sorted_find(pairs.i * width + pairs.j, codes)
    higher = hit.copy()
    higher[hit] = c.score[hit] > pairs.score[at[hit]]
    replaced = np.zeros(len(pairs), dtype=bool)
    replaced[at[higher]] = True
    keep = np.flatnonzero(~replaced)
    return LinkTable.concat([pairs.take(keep), c.take(np.flatnonzero(higher | ~hit))]).sorted()


def rounded6(values: _F64) -> _F64:
    """Python's ``round(v, 6)`` of each value (not ``np.round``'s), once per distinct value."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return np.array([round(v, 6) for v in distinct.tolist()], dtype=np.float64)[inverse]
