"""The in-memory index's band keys: sorted runs of ``(key, sentence id)``, 8 bytes an entry.

Every stored sentence has one entry per LSH band and one for its exact-copy key
(38 with the default options), so the entries are most of the index: they are
kept as a few sorted runs (a log-structured merge).  The index keeps
:data:`KEY_BITS` (48) bits of each 64-bit key: a run is a directory of where
each value of the top 16 of them starts (65,537 offsets) and two flat arrays,
the low 32 bits of each key and its 32-bit sentence id, sorted by key then id.
Two different band values then share a stored key with probability 2**-48 per
pair: at 200 million entries (a million stored paragraphs) a lookup meets such
a stranger about once in 1.4 million keys, and a candidate needs two shared
bands.  New entries go into the smallest run; a run outgrowing its level is
merged into the next (a linear merge: ids only grow, so new entries go after
the equal keys of older runs).  Lookups find each key's range in every run
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

__all__ = [
    "KEY_BITS",
    "SortedRuns",
    "dense_directory",
    "directory",
    "ranges",
    "sparse_directory",
    "stored_keys",
]

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
B = npt.NDArray[np.bool_]

#: Entries of the smallest run before it is merged into the next; each level holds _GROWTH times more.
_LEVEL0 = 1 << 15
_GROWTH = 16
#: Bits of a band key the index keeps: the top 16 of them in a run's directory, the low 32 in its entries.
KEY_BITS = 48
_LOW_BITS = 32
_CELLS = 1 << (KEY_BITS - _LOW_BITS)
_MASK = np.uint64((1 << KEY_BITS) - 1)
_LOW = np.uint64((1 << _LOW_BITS) - 1)
#: Most entries of one run: the directory's offsets are 32-bit.
MAX_ENTRIES = (1 << 32) - 1
#: Runs of at most this many entries keep whole keys (see :class:`_Run`).
_SMALL = 1 << 16


def stored_keys(keys: U64) -> U64:
    """Keys as stored: their low :data:`KEY_BITS` bits, 0 becoming 1 (as the earlier hash
    table did, so buckets stay the same)."""
    keys = keys.astype(np.uint64, copy=False) & _MASK
    return np.where(keys == 0, np.uint64(1), keys)


def directory(keys: U64) -> U32:
    """Directory of a run of sorted stored ``keys``: where each value of their top 16 bits starts."""
    if keys.size > MAX_ENTRIES:
        raise OverflowError(f"a run of the index holds at most {MAX_ENTRIES} band key entries")
    out = np.zeros(_CELLS + 1, dtype=np.uint32)
    np.cumsum(np.bincount((keys >> np.uint64(_LOW_BITS)).astype(np.intp), minlength=_CELLS), out=out[1:])
    return out


def sparse_directory(cells: U32) -> tuple[npt.NDArray[np.uint16], U32]:
    """A directory as its non-empty cells and where each ends (a small run's file needs no 65,537
    offsets); :func:`dense_directory` undoes it."""
    ids = np.flatnonzero(cells[1:] > cells[:-1])
    return ids.astype(np.uint16), cells[ids + 1]


def dense_directory(ids: npt.NDArray[np.uint16], ends: U32, n: int) -> U32:
    """The directory of a run of ``n`` entries from :func:`sparse_directory` (``ValueError`` if the
    two do not describe one)."""
    if ids.shape != ends.shape or ids.ndim != 1 or ids.dtype != np.uint16 or ends.dtype != np.uint32:
        raise ValueError("the band key directory has the wrong size or type")
    if bool((ids[1:] <= ids[:-1]).any()) or bool((ends[1:] <= ends[:-1]).any()):
        raise ValueError("the band key directory is not increasing")
    if (int(ends[-1]) if ends.size else 0) != n or (ends.size and int(ends[0]) == 0):
        raise ValueError("the band key directory does not fit the keys")
    cells = np.zeros(_CELLS + 1, dtype=np.uint32)
    cells[ids.astype(np.intp) + 1] = ends
    return np.maximum.accumulate(cells)


_TOPS = np.arange(_CELLS, dtype=np.uint64) << np.uint64(_LOW_BITS)


def _full(lows: U32, cells: U32) -> U64:
    """The stored keys of a run, from its low bits and its directory."""
    return np.repeat(_TOPS, cells[1:] - cells[:-1]) | lows


def _bisect(lows: U32, lo: I64, hi: I64, want: U64, right: bool) -> I64:
    """First position in each ``[lo, hi)`` of the sorted ``lows`` holding a value above ``want``
    (``right``) or at least ``want``: a binary search run for all keys at once."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        open_ = np.flatnonzero(lo < hi)
        if open_.size == 0:
            return lo
        mid = lo[open_] + (hi[open_] - lo[open_]) // 2
        value = lows[mid].astype(np.uint64)
        go_right = value <= want[open_] if right else value < want[open_]
        lo[open_[go_right]] = mid[go_right] + 1
        hi[open_[~go_right]] = mid[~go_right]


def ranges(keys: U64, lows: U32, cells: U32) -> tuple[I64, I64]:
    """``[lo, hi)`` of each stored key of ``keys`` in a run (``lows``, ``cells``): the reference of
    ``_kernels.run_ranges``."""
    if _compiled is not None:
        return _compiled.run_ranges(np.ascontiguousarray(keys), lows, cells)
    cell = (keys >> np.uint64(_LOW_BITS)).astype(np.intp)
    start, stop = cells[cell].astype(np.int64), cells[cell + 1].astype(np.int64)
    low = keys & _LOW
    first = _bisect(lows, start, stop, low, right=False)
    return first, _bisect(lows, first, stop, low, right=True)


class _Run:
    """A sorted run: small ones (up to :data:`_SMALL` entries, the newest) keep their stored keys
    whole, 12 bytes an entry but no directory to rebuild at each insert; larger ones are split
    into a directory and low bits, 8 bytes an entry."""

    __slots__ = ("cells", "keys", "lows", "sids")

    def __init__(self, keys: U64, sids: U32) -> None:
        """A run of sorted stored ``keys`` and their ids."""
        self.sids = sids
        if keys.size <= _SMALL:
            self.keys: U64 | None = keys
            self.lows: U32 | None = None
            self.cells: U32 | None = None
        else:
            self.keys = None
            self.lows, self.cells = (keys & _LOW).astype(np.uint32), directory(keys)

    @classmethod
    def split(cls, lows: U32, sids: U32, cells: U32) -> _Run:
        """A run from its low bits, ids and directory (as saved)."""
        run = cls.__new__(cls)
        run.keys, run.lows, run.sids, run.cells = None, lows, sids, cells
        return run

    @property
    def size(self) -> int:
        return int(self.sids.size)

    @property
    def nbytes(self) -> int:
        parts = (self.keys, self.lows, self.cells, self.sids)
        return sum(int(a.nbytes) for a in parts if a is not None)

    def full(self) -> U64:
        """The stored keys, sorted."""
        if self.keys is not None:
            return self.keys
        assert self.lows is not None and self.cells is not None
        return _full(self.lows, self.cells)

    def parts(self) -> tuple[U32, U32]:
        """Low bits and directory (made for a small run)."""
        if self.lows is not None and self.cells is not None:
            return self.lows, self.cells
        assert self.keys is not None
        return (self.keys & _LOW).astype(np.uint32), directory(self.keys)

    def ranges(self, keys: U64) -> tuple[I64, I64]:
        """``[lo, hi)`` of each stored key of ``keys`` (see :func:`ranges`)."""
        if self.keys is not None:
            return self.keys.searchsorted(keys, "left"), self.keys.searchsorted(keys, "right")
        assert self.lows is not None and self.cells is not None
        return ranges(keys, self.lows, self.cells)


def _merged(old_keys: U64, old_sids: U32, keys: U64, sids: U32) -> tuple[U64, U32]:
    """Sorted stored keys and ids of two runs, the second's ids all larger, as one run still
    sorted by key then id."""
    n, m = old_keys.size, keys.size
    at = np.searchsorted(old_keys, keys, side="right") + np.arange(m)
    out_keys = np.empty(n + m, dtype=np.uint64)
    out_sids = np.empty(n + m, dtype=np.uint32)
    is_new = np.zeros(n + m, dtype=bool)
    is_new[at] = True
    out_keys[at], out_sids[at] = keys, sids
    out_keys[~is_new], out_sids[~is_new] = old_keys, old_sids
    return out_keys, out_sids


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
        return sum(r.size for r in self._runs)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays."""
        return sum(r.nbytes for r in self._runs)

    def insert(self, keys: U64, sids: I64) -> None:
        """Add ``(keys[n], sids[n])``; ``sids`` is non-decreasing and above every stored id."""
        if keys.size == 0:
            return
        keys = stored_keys(keys)
        order = np.argsort(keys, kind="stable")
        carry_keys, carry_sids = keys[order], sids[order].astype(np.uint32)
        level = 0
        while True:  # like a binary counter: a level that overflows is carried into the next
            if level == len(self._levels):
                self._levels.append(None)
            old = self._levels[level]
            if old is not None:
                carry_keys, carry_sids = _merged(old.full(), old.sids, carry_keys, carry_sids)
            if carry_keys.size <= self._level0 * _GROWTH**level or (
                level == len(self._levels) - 1 and old is None
            ):
                self._levels[level] = _Run(carry_keys, carry_sids)
                return
            self._levels[level] = None
            level += 1

    def _place(self, run: _Run) -> None:
        """Make ``run`` the only run, at the first level it fits."""
        level = 0
        while run.size > self._level0 * _GROWTH**level:
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
        keys = stored_keys(keys)
        found = [r.ranges(keys) for r in runs]
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
        runs = self._runs
        if len(runs) <= 1:
            return runs[0] if runs else None
        keys, sids = runs[-1].full(), runs[-1].sids
        for newer in reversed(runs[:-1]):
            keys, sids = _merged(keys, sids, newer.full(), newer.sids)
        return _Run(keys, sids)

    def keep(self, alive: B, new_id: I64) -> None:
        """Drop entries of dead ids and renumber the others (``new_id`` must keep their order)."""
        run = self._single()
        if run is None:
            return
        live = alive[run.sids]
        self._place(_Run(run.full()[live], new_id[run.sids[live]].astype(np.uint32)))

    def export(self) -> tuple[U32, U32, U32]:
        """Every entry in one sorted run: the low bits of its keys, its ids, and its directory."""
        run = self._single()
        if run is None:
            run = _Run(np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32))
        else:
            self._place(run)
        lows, cells = run.parts()
        return lows, run.sids, cells

    @classmethod
    def restore(cls, lows: U32, sids: U32, cells: U32) -> SortedRuns:
        """Runs of one run as :meth:`export` gives it (``ValueError`` if it is not sorted, or its
        directory does not fit)."""
        if lows.shape != sids.shape or lows.ndim != 1 or lows.dtype != np.uint32 or sids.dtype != np.uint32:
            raise ValueError("band key and sentence arrays differ in size or type")
        n = lows.size
        if cells.shape != (_CELLS + 1,) or cells.dtype != np.uint32:
            raise ValueError("the band key directory has the wrong size or type")
        if int(cells[0]) != 0 or int(cells[-1]) != n or bool((cells[1:] < cells[:-1]).any()):
            raise ValueError("the band key directory does not fit the keys")
        # Sorted within each cell: the low bits only fall where a cell starts.
        falls = np.flatnonzero(lows[1:] < lows[:-1]) + 1
        if falls.size and not bool(np.isin(falls, cells).all()):
            raise ValueError("band keys are not sorted")
        out = cls()
        if n:
            out._place(_Run.split(lows, sids, cells))
        return out

    @classmethod
    def from_keys(cls, keys: U64, sids: U32) -> SortedRuns:
        """Runs holding ``(keys[n], sids[n])`` (any 64-bit keys, any order): an earlier file's run."""
        if keys.shape != sids.shape or keys.ndim != 1:
            raise ValueError("band key and sentence arrays differ in size")
        keys = stored_keys(keys)
        order = np.lexsort((sids, keys))
        out = cls()
        if keys.size:
            out._place(_Run(keys[order], sids[order].astype(np.uint32)))
        return out
