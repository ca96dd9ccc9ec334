"""A numpy open-addressing hash table from 64-bit band keys to chains of sentence ids.

The in-memory index looks up every band key of a new article (bands × sentences,
a few thousand keys) at once; doing that with Python dicts costs about a
microsecond per cold lookup, while these vectorised probes cost a few
microseconds for the whole batch.  Each slot holds one key, the head of a chain
of entries (newest first) and the chain length; entries hold a sentence id and
the next entry.  Removal is lazy: :meth:`BandTable.discard` only lowers the live
count of each key's bucket (what ``max_bucket`` is checked against); the caller
filters dead ids from the chains and rebuilds the table now and then.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedup._arrays import run_firsts
from dedup._kernels import PURE_PYTHON

try:  # the index's compiled kernel (dedup/_index/_kernels.pyx), built where a C compiler is
    from dedup._index import _kernels as _compiled
except ImportError:  # pragma: no cover - installs without a C compiler
    _compiled = None  # type: ignore[assignment]
if PURE_PYTHON:
    _compiled = None  # type: ignore[assignment]

__all__ = ["BandTable"]

_EMPTY = np.uint64(0)
_MIX = np.uint64(0x9E3779B97F4A7C15)
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def _fix(keys: U64) -> U64:
    # 0 marks an empty slot; move the (rare) key 0 elsewhere.
    return np.where(keys == _EMPTY, np.uint64(1), keys)


class BandTable:
    """Multimap ``uint64 key -> sentence ids`` with vectorised insert and lookup."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        cap = 1 << max(4, (capacity - 1).bit_length())
        self._keys = np.zeros(cap, dtype=np.uint64)
        # int32 links and counts: 16 bytes a slot, 8 an entry (ids below 2**31).
        self._head = np.full(cap, -1, dtype=np.int32)
        self._count = np.zeros(cap, dtype=np.int32)
        self._live = np.zeros(cap, dtype=np.int32)  # entries minus discarded ones
        self._used = 0
        self._esid = np.empty(1 << 10, dtype=np.int32)
        self._enext = np.empty(1 << 10, dtype=np.int32)
        self._n_entries = 0

    @property
    def entries(self) -> int:
        """Number of (key, id) entries stored, dead ones included."""
        return self._n_entries

    def _home(self, keys: U64) -> I64:
        mask = np.uint64(self._keys.size - 1)
        with np.errstate(over="ignore"):
            return ((keys * _MIX) >> np.uint64(20) & mask).astype(np.int64)

    def _probe(self, keys: U64) -> tuple[I64, npt.NDArray[np.bool_]]:
        """Slot of each key, or of the empty slot ending its probe; and whether it was found."""
        slots = self._home(keys)
        found = np.zeros(keys.size, dtype=bool)
        active = np.arange(keys.size)
        mask = self._keys.size - 1
        while active.size:
            k = self._keys[slots[active]]
            hit = k == keys[active]
            found[active[hit]] = True
            go = ~hit & (k != _EMPTY)
            active = active[go]
            slots[active] = (slots[active] + 1) & mask
        return slots, found

    def _claim(self, keys: U64) -> I64:
        """Slots for distinct keys that are not in the table yet (claiming empty slots)."""
        slots = self._home(keys)
        out = np.empty(keys.size, dtype=np.int64)
        active = np.arange(keys.size)
        mask = self._keys.size - 1
        while active.size:
            s = slots[active]
            free = self._keys[s] == _EMPTY
            cand = active[free]
            # Keys landing on the same free slot: one write sticks, and that key wins it
            # (which one does not matter to lookups; this avoids sorting millions of keys).
            self._keys[slots[cand]] = keys[cand]
            winners = cand[self._keys[slots[cand]] == keys[cand]]
            out[winners] = slots[winners]
            won = np.zeros(keys.size, dtype=bool)
            won[winners] = True
            active = active[~won[active]]
            slots[active] = (slots[active] + 1) & mask
        self._used += keys.size
        return out

    def _grow(self, need: int) -> None:
        cap = self._keys.size
        if (self._used + need) * 2 <= cap:
            return
        while (self._used + need) * 2 > cap:
            cap *= 2
        occupied = np.flatnonzero(self._keys != _EMPTY)
        old_keys, old_head, old_count = self._keys[occupied], self._head[occupied], self._count[occupied]
        old_live = self._live[occupied]
        self._keys = np.zeros(cap, dtype=np.uint64)
        self._head = np.full(cap, -1, dtype=np.int32)
        self._count = np.zeros(cap, dtype=np.int32)
        self._live = np.zeros(cap, dtype=np.int32)
        self._used = 0
        slots = self._claim(old_keys)
        self._head[slots] = old_head
        self._count[slots] = old_count
        self._live[slots] = old_live

    def _reserve_entries(self, n: int) -> None:
        need = self._n_entries + n
        if need <= self._esid.size:
            return
        size = max(need, self._esid.size * 2)
        self._esid = np.resize(self._esid, size)
        self._enext = np.resize(self._enext, size)

    def insert(self, keys: U64, sids: I64) -> None:
        """Add one entry per ``(keys[n], sids[n])``; later entries come first in their chain."""
        if keys.size == 0:
            return
        keys = _fix(keys.astype(np.uint64, copy=False))
        n = keys.size
        # One stable sort groups equal keys (in input order): it serves both to find
        # the distinct keys and to chain each key's new entries.
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        first = run_firsts(sorted_keys)
        uniq = sorted_keys[first]
        self._grow(uniq.size)
        slots, found = self._probe(uniq)
        if not found.all():
            slots[~found] = self._claim(uniq[~found])
        self._reserve_entries(n)
        e_sorted = (self._n_entries + order).astype(np.int32)
        self._esid[e_sorted] = sids[order]
        s_sorted = slots[np.cumsum(first) - 1]
        nxt = self._head[s_sorted]
        same = np.flatnonzero(~first)
        nxt[same] = e_sorted[same - 1]
        self._enext[e_sorted] = nxt
        last = np.ones(n, dtype=bool)
        last[:-1] = first[1:]
        self._head[s_sorted[last]] = e_sorted[last]
        added = np.diff(np.append(np.flatnonzero(first), n)).astype(np.int32)
        self._count[slots] += added
        self._live[slots] += added
        self._n_entries += keys.size

    def discard(self, keys: U64) -> None:
        """One entry under each of ``keys`` is dead: lower its bucket's live count (chains keep it)."""
        if keys.size == 0:
            return
        slots, found = self._probe(_fix(keys.astype(np.uint64, copy=False)))
        np.subtract.at(self._live, slots[found], 1)

    def lookup(self, keys: U64, *, max_bucket: int, truncate: bool = False) -> tuple[I64, I64]:
        """``(query_index, sid)`` for the newest ``max_bucket`` entries under ``keys[query_index]``.

        Keys with more than ``max_bucket`` live entries (see :meth:`discard`) are
        skipped (boilerplate sharing common words; the detector skips such
        buckets too), unless ``truncate``.  Dead entries are returned like live
        ones and count towards ``max_bucket``.
        """
        if keys.size == 0 or self._n_entries == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        keys = _fix(keys.astype(np.uint64, copy=False))
        if _compiled is not None:  # the same entries in the same order, without a numpy step per chain link
            n = self._n_entries
            return _compiled.table_lookup(
                np.ascontiguousarray(keys), self._keys, self._head, self._live,
                self._esid[:n], self._enext[:n], max_bucket=max_bucket, truncate=truncate,
            )  # fmt: skip
        slots, found = self._probe(keys)
        ok = found if truncate else found & (self._live[slots] <= max_bucket)
        q = np.flatnonzero(ok)
        cur = self._head[slots[q]]
        out_q: list[I64] = []
        out_s: list[npt.NDArray[np.int32]] = []
        steps = 0
        while q.size and steps < max_bucket:  # the cap also guards against a corrupt cyclic chain
            steps += 1
            out_q.append(q)
            out_s.append(self._esid[cur])
            cur = self._enext[cur]
            live = cur >= 0
            q, cur = q[live], cur[live]
        if not out_q:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(out_q), np.concatenate(out_s).astype(np.int64)

    def chain(self, key: int, limit: int) -> list[int]:
        """The newest ``limit`` ids stored under one key (no bucket cap)."""
        slots, found = self._probe(_fix(np.array([key], dtype=np.uint64)))
        if not found[0]:
            return []
        out: list[int] = []
        cur = int(self._head[slots[0]])
        steps = 0
        while cur >= 0 and len(out) < limit and steps < self._n_entries:
            steps += 1
            out.append(int(self._esid[cur]))
            cur = int(self._enext[cur])
        return out

    def export(self) -> dict[str, npt.NDArray[np.generic]]:
        """The occupied slots and the entries, for saving (empty slots are left out)."""
        occupied = np.flatnonzero(self._keys != _EMPTY)
        n = self._n_entries
        return {
            "table_capacity": np.array([self._keys.size], dtype=np.int64),
            "table_slots": occupied.astype(np.int64),
            "table_keys": self._keys[occupied],
            "table_head": self._head[occupied],
            "table_count": self._count[occupied],
            "entry_sid": self._esid[:n].copy(),
            "entry_next": self._enext[:n].copy(),
        }

    @classmethod
    def restore(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> BandTable:
        """A table from :meth:`export` output; ``ValueError`` if the arrays do not fit together."""
        cap = int(arrays["table_capacity"][0])
        slots, keys = arrays["table_slots"].astype(np.int64), arrays["table_keys"].astype(np.uint64)
        head, count = arrays["table_head"].astype(np.int32), arrays["table_count"].astype(np.int32)
        esid, enext = arrays["entry_sid"].astype(np.int32), arrays["entry_next"].astype(np.int32)
        n = esid.size
        if cap < 16 or cap & (cap - 1) or not slots.size == keys.size == head.size == count.size:
            raise ValueError("band table arrays have inconsistent sizes")
        if enext.size != n or int(count.sum()) != n or (keys == _EMPTY).any():
            raise ValueError("band table chains do not add up to its entries")
        for name, links in (("slot", head), ("entry", enext)):
            if links.size and (links.min() < -1 or links.max() >= n):
                raise ValueError(f"band table {name} links point outside the entries")
        if slots.size and (slots.min() < 0 or slots.max() >= cap or 2 * slots.size > cap):
            raise ValueError("band table slots lie outside the table")
        table = cls(capacity=cap)
        table._keys[slots] = keys
        table._head[slots] = head
        table._count[slots] = count
        table._live[slots] = count  # saved tables hold no dead entries
        table._used = int(slots.size)
        table._esid, table._enext, table._n_entries = esid, enext, n
        return table
