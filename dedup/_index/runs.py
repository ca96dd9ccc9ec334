"""The in-memory index's band keys: sorted runs of ``(key, sentence id)``, 12 bytes an entry.

Every stored sentence has one entry per LSH band and one for its exact-copy key
(38 with the default options), so the entries are most of the index: they are
kept as a few sorted runs (a log-structured merge), each two flat arrays, 64-bit
keys and 32-bit sentence ids, sorted by key then id, plus a directory of the
positions where each top-bits prefix of the keys starts (about half a byte an
entry).  New entries go into the smallest run; a run outgrowing its level is
merged into the next (a linear merge: ids only grow, so new entries go after the
equal keys of older runs).  Lookups find each key's range in every run
(``_kernels.run_ranges``, or :func:`ranges` in numpy) and read the newest
entries of the ranges, the smallest run first.

Removal is lazy: the caller passes which sentence ids are still alive, and
lookups cap buckets by their live entries, so answers do not depend on when
dead entries are dropped (:meth:`SortedRuns.keep`, at compaction).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from dedup._kernels import PURE_PYTHON

try:  # the index's compiled kernel (dedup/_index/_kernels.pyx), built where a C compiler is
    from dedup._index import _kernels as _compiled
except ImportError:  # pragma: no cover - installs without a C compiler
    _compiled = None  # type: ignore[assignment]
if PURE_PYTHON:
    _compiled = None  # type: ignore[assignment]

__all__ = ["SortedRuns", "directory", "fix_keys", "ranges"]

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
B = npt.NDArray[np.bool_]

#: Entries of the smallest run before it is merged into the next; each level holds _GROWTH times more.
_LEVEL0 = 1 << 15
_GROWTH = 16
#: Entries per directory cell, on average.
_PER_CELL = 16


def fix_keys(keys: U64) -> U64:
    """Keys as stored: 0 becomes 1 (as the earlier hash table did, so buckets stay the same)."""
    keys = keys.astype(np.uint64, copy=False)
    return np.where(keys == 0, np.uint64(1), keys)


def directory(keys: U64) -> tuple[I64, int]:
    """Directory of a sorted run: start of every top-bits prefix, and the shift giving the prefix."""
    bits = max(1, min(24, int(keys.size // _PER_CELL).bit_length()))
    shift = 64 - bits
    bounds = np.arange(1 << bits, dtype=np.uint64) << np.uint64(shift)
    out = np.empty((1 << bits) + 1, dtype=np.int64)
    out[:-1] = np.searchsorted(keys, bounds, side="left")
    out[-1] = keys.size
    return out, shift


def ranges(keys: U64, run_keys: U64, cells: I64, shift: int) -> tuple[I64, I64]:
    """``[lo, hi)`` of each key in the sorted ``run_keys``: the reference of ``_kernels.run_ranges``."""
    if _compiled is not None:
        return _compiled.run_ranges(np.ascontiguousarray(keys), run_keys, cells, shift)
    return np.searchsorted(run_keys, keys, side="left"), np.searchsorted(run_keys, keys, side="right")


class _Run:
    __slots__ = ("cells", "keys", "shift", "sids")

    def __init__(self, keys: U64, sids: U32) -> None:
        self.keys, self.sids = keys, sids
        self.cells, self.shift = directory(keys)


def _merged(old: _Run, new: _Run) -> _Run:
    """One run of ``old`` and ``new`` (whose ids are all larger), still sorted by key then id."""
    n, m = old.keys.size, new.keys.size
    at = np.searchsorted(old.keys, new.keys, side="right") + np.arange(m)
    keys = np.empty(n + m, dtype=np.uint64)
    sids = np.empty(n + m, dtype=np.uint32)
    is_new = np.zeros(n + m, dtype=bool)
    is_new[at] = True
    keys[at], sids[at] = new.keys, new.sids
    keys[~is_new], sids[~is_new] = old.keys, old.sids
    return _Run(keys, sids)


def _newest(runs: list[_Run], found: list[tuple[I64, I64]], want: I64) -> tuple[I64, I64]:
    """The newest ``want[k]`` entries of each key ``k`` (``found``: its range in each run, newest
    run first): ``(k, id)`` grouped by key, newest first."""
    parts_q: list[I64] = []
    parts_s: list[I64] = []
    left = want.copy()
    for run, (lo, hi) in zip(runs, found, strict=True):
        take = np.minimum(hi - lo, left)
        left -= take
        has = np.flatnonzero(take)
        if has.size == 0:
            continue
        t = take[has]
        ends = np.cumsum(t)
        # Positions hi - 1, hi - 2, ..., hi - t of each key: its newest entries in this run.
        pos = np.repeat(hi[has] - 1 + ends - t, t) - np.arange(ends[-1])
        parts_q.append(np.repeat(has, t))
        parts_s.append(run.sids[pos].astype(np.int64))
    if not parts_q:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    q = np.concatenate(parts_q)
    order = np.argsort(q, kind="stable")
    return q[order], np.concatenate(parts_s)[order]


class SortedRuns:
    """Multimap ``uint64 key -> sentence ids`` in sorted runs; ids must be inserted in increasing order."""

    def __init__(self, level0: int = _LEVEL0) -> None:
        self._level0 = level0
        self._levels: list[_Run | None] = []  # level n holds up to _LEVEL0 * _GROWTH**n entries, newest first

    @property
    def entries(self) -> int:
        """Number of ``(key, id)`` entries stored, dead ones included."""
        return sum(r.keys.size for r in self._runs)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays."""
        return sum(r.keys.nbytes + r.sids.nbytes + r.cells.nbytes for r in self._runs)

    def insert(self, keys: U64, sids: I64) -> None:
        """Add ``(keys[n], sids[n])``; ``sids`` is non-decreasing and above every stored id."""
        if keys.size == 0:
            return
        keys = fix_keys(keys)
        order = np.argsort(keys, kind="stable")
        carry = _Run(keys[order], sids[order].astype(np.uint32))
        level = 0
        while True:  # like a binary counter: a level that overflows is carried into the next
            if level == len(self._levels):
                self._levels.append(None)
            old = self._levels[level]
            merged = carry if old is None else _merged(old, carry)
            if merged.keys.size <= self._level0 * _GROWTH**level or (
                level == len(self._levels) - 1 and old is None
            ):
                self._levels[level] = merged
                return
            self._levels[level] = None
            carry = merged
            level += 1

    def _place(self, run: _Run) -> None:
        """Make ``run`` the only run, at the first level it fits."""
        level = 0
        while run.keys.size > self._level0 * _GROWTH**level:
            level += 1
        self._levels = [None] * level + [run]

    @property
    def _runs(self) -> list[_Run]:
        """The runs, newest first."""
        return [r for r in self._levels if r is not None]

    def lookup(
        self, keys: U64, *, cap: int, truncate: bool, alive: Callable[[I64], B] | None, dead: int
    ) -> tuple[I64, I64]:
        """``(query_index, id)`` of live entries under ``keys[query_index]``, each key's newest first.

        Keys with more than ``cap`` live entries are skipped, unless ``truncate``:
        then their newest ``cap``.  ``alive(ids)`` says which ids are live
        (``None``: all are); ``dead`` bounds the dead entries under any key.
        """
        empty = np.empty(0, dtype=np.int64)
        runs = self._runs
        if keys.size == 0 or not runs:
            return empty, empty
        keys = fix_keys(keys)
        found = [ranges(keys, r.keys, r.cells, r.shift) for r in runs]
        total = np.sum([hi - lo for lo, hi in found], axis=0)
        if alive is None:
            return _newest(runs, found, np.where(total <= cap, total, cap if truncate else 0))
        # Read each key's newest entries until ``goal`` live ones are found or the bucket ends.
        goal = cap if truncate else cap + 1
        want = np.minimum(total, goal)
        if not truncate:
            want[total - dead > cap] = 0  # certainly more than ``cap`` live entries
        while True:
            q, sids = _newest(runs, found, want)
            live = alive(sids)
            q, sids = q[live], sids[live]
            counts = np.bincount(q, minlength=keys.size)
            short = (counts < goal) & (want < total) & (want > 0)
            if not short.any():
                break
            want[short] = np.minimum(total[short], 2 * want[short])
        if truncate:
            rank = np.arange(q.size) - np.repeat(np.cumsum(counts) - counts, counts)
            keep = rank < cap
        else:
            keep = counts[q] <= cap
        return q[keep], sids[keep]

    def _single(self) -> _Run | None:
        """All entries as one run (``None``: no entries)."""
        run: _Run | None = None
        for newer in reversed(self._runs):
            run = newer if run is None else _merged(run, newer)
        return run

    def keep(self, alive: B, new_id: I64) -> None:
        """Drop entries of dead ids and renumber the others (``new_id`` must keep their order)."""
        run = self._single()
        if run is None:
            return
        live = alive[run.sids]
        self._place(_Run(run.keys[live], new_id[run.sids[live]].astype(np.uint32)))

    def export(self) -> tuple[U64, U32, I64, int]:
        """Every entry in one sorted run: keys, ids, and the run's directory and shift."""
        run = self._single()
        if run is None:
            run = _Run(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32))
        else:
            self._place(run)
        return run.keys, run.sids, run.cells, run.shift

    @classmethod
    def restore(cls, keys: U64, sids: U32, cells: I64 | None = None, shift: int = 0) -> SortedRuns:
        """Runs of one sorted run (``ValueError`` if it is not sorted, or its directory does not fit)."""
        if keys.shape != sids.shape or keys.ndim != 1:
            raise ValueError("band key and sentence arrays differ in size")
        out = cls()
        if bool((keys[1:] < keys[:-1]).any()) or bool((keys == 0).any()):
            raise ValueError("band keys are not sorted")
        run = _Run.__new__(_Run)
        run.keys, run.sids = keys, sids
        want, want_shift = directory(keys)
        if cells is None:
            run.cells, run.shift = want, want_shift
        elif shift != want_shift or not np.array_equal(cells, want):
            raise ValueError("the band key directory does not fit the keys")
        else:
            run.cells, run.shift = cells, shift
        if keys.size:
            out._place(run)
        return out
