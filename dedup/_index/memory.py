"""The in-memory store of :class:`~dedup.DedupIndex`: numpy arrays and a band table, under one lock.

Each stored sentence gets an integer id; its LSH band keys (and an exact-copy
key) go into a numpy :class:`~dedup._index.bandtable.BandTable`, so that all
keys of a new article are looked up in one vectorised batch.  Documents live in
*slots* numbered in insertion order (a document's ordinal is its slot).
Removal marks documents dead; ids are compacted and the table rebuilt once dead
ids outnumber live ones, so an endless stream with eviction stays bounded.
Lookups never return dead sentences, and buckets are capped by their live
sentences, so results do not depend on when compaction ran.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from dedup._errors import IncompatibleIndexError
from dedup._index.bandtable import BandTable
from dedup._index.crossmatch import Sketch, StoredDoc
from dedup._index.store import Document, Hits
from dedup._options import Options
from dedup._sketch.minhash import lsh_params
from dedup._text.segment import Sentence, segment

__all__ = ["COMPACT_MIN", "MemoryStore"]

T = TypeVar("T")
I64 = npt.NDArray[np.int64]

#: Dead sentence ids tolerated before compaction (and never more than live ones).
COMPACT_MIN = 4096


@dataclass(slots=True)
class _Entry:
    slot: int
    text: str
    timestamp: float
    first: int  # first sentence id
    count: int  # number of sentences


def _grown(arr: npt.NDArray[Any], need: int) -> npt.NDArray[Any]:
    if need <= arr.shape[0]:
        return arr
    size = max(need, 2 * arr.shape[0], 64)
    out = np.zeros((size, *arr.shape[1:]), dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class MemoryStore:
    """Documents in this process; a :class:`~dedup._index.store.Store` that is its own view."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._bands, _ = lsh_params(options.lsh_threshold, options.num_perm)
        self._lock = threading.RLock()
        self.clear()

    # -- Store -------------------------------------------------------------------

    def atomic(self, step: Callable[[MemoryStore], T]) -> T:
        with self._lock:
            return step(self)

    read = atomic

    def lock(self) -> threading.RLock:
        return self._lock

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._docs

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._docs)

    def text(self, key: str) -> str:
        with self._lock:
            return self._docs[key].text

    def timestamp(self, key: str) -> float:
        with self._lock:
            return self._docs[key].timestamp

    def documents(self) -> list[Document]:
        with self._lock:
            return [Document(k, e.text, self._sentences(k, e)) for k, e in self._docs.items()]

    def clear(self) -> None:
        with self._lock:
            self._docs: dict[str, _Entry] = {}
            self._sents: dict[int, tuple[Sentence, ...]] = {}
            self._slot_key: list[str | None] = []
            self._slot_alive = np.zeros(0, dtype=bool)
            self._slot_ts = np.zeros(0, dtype=np.float64)
            self._slot_first = np.zeros(0, dtype=np.int64)
            self._n_slots = 0
            self._sid_slot = np.zeros(0, dtype=np.int64)
            self._sid_keys = np.zeros((0, self._bands + 1), dtype=np.uint64)
            self._sid_ok = np.zeros(0, dtype=bool)
            self._n_sids = 0
            self._dead = 0
            self._table = BandTable()

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"MemoryStore(documents={len(self)})"

    # -- View: lookups -------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self._docs

    def lookup(
        self, bands: npt.NDArray[np.uint64], max_bucket: int, exact: npt.NDArray[np.uint64], limit: int
    ) -> tuple[Hits, Hits]:
        return self._hits(bands, max_bucket, truncate=False), self._hits(exact, limit, truncate=True)

    def _hits(self, keys: npt.NDArray[np.uint64], cap: int, *, truncate: bool) -> Hits:
        q, sids = self._table.lookup(keys, max_bucket=cap, truncate=truncate)
        if self._dead:
            live = self._slot_alive[self._sid_slot[sids]]
            if not live.all():
                q, sids = self._live_hits(keys, cap, q, sids, live)
        slots = self._sid_slot[sids]
        return Hits(q, slots, sids - self._slot_first[slots])

    def _live_hits(
        self, keys: npt.NDArray[np.uint64], cap: int, q: I64, sids: I64, live: npt.NDArray[np.bool_]
    ) -> tuple[I64, I64]:
        """The live part of a lookup; chains whose walk stopped at ``cap`` entries, dead ones among
        them, are walked in full."""
        full = np.bincount(q, minlength=keys.size) >= cap
        redo = np.unique(q[~live])
        redo = redo[full[redo]]
        keep = live & ~np.isin(q, redo)
        parts_q, parts_s = [q[keep]], [sids[keep]]
        for k in redo.tolist():
            chain = np.array(self._table.chain(int(keys[k]), self._table.entries), dtype=np.int64)
            chain = chain[self._slot_alive[self._sid_slot[chain]]][:cap]
            parts_q.append(np.full(chain.size, k, dtype=np.int64))
            parts_s.append(chain)
        return np.concatenate(parts_q), np.concatenate(parts_s)

    def resolve(self, docs: I64) -> tuple[I64, npt.NDArray[np.float64]]:
        return docs.astype(np.int64), self._slot_ts[docs]

    def stored(self, docs: Sequence[int]) -> list[StoredDoc]:
        out = []
        for slot in docs:
            key = self._slot_key[slot]
            assert key is not None
            entry = self._docs[key]
            out.append(StoredDoc(key, entry.text, self._sentences(key, entry), slot))
        return out

    def _sentences(self, key: str, entry: _Entry) -> tuple[Sentence, ...]:
        sents = self._sents.get(entry.slot)
        if sents is None:  # after load: segmentation is deterministic, ids line up
            sents = tuple(segment(entry.text))
            if len(sents) != entry.count:
                raise IncompatibleIndexError(
                    f"document {key!r} segments into {len(sents)} sentences, "
                    f"the index recorded {entry.count}: it was built by another dedup version"
                )
            self._sents[entry.slot] = sents
        return sents

    # -- View: writes ----------------------------------------------------------------

    def put(
        self, key: str, text: str, timestamp: float, sentences: tuple[Sentence, ...], sketch: Sketch
    ) -> None:
        first = self._insert(key, text, timestamp, sentences, sketch)
        self._table_insert(first + np.flatnonzero(sketch.eligible))

    def put_batch(self, docs: Sequence[tuple[str, str, float, tuple[Sentence, ...], Sketch]]) -> None:
        first = self._n_sids
        for key, text, ts, sents, sk in docs:
            self._insert(key, text, ts, sents, sk)
        # One band-table insert for the batch, in document order: the same chains as one by one.
        self._table_insert(first + np.flatnonzero(self._sid_ok[first : self._n_sids]))

    def _insert(self, key: str, text: str, ts: float, sents: tuple[Sentence, ...], sk: Sketch) -> int:
        """Store a sketched document (its band keys not yet in the table); its first sentence id."""
        slot = self._n_slots
        self._n_slots += 1
        self._slot_key.append(key)
        self._slot_alive = _grown(self._slot_alive, self._n_slots)
        self._slot_ts = _grown(self._slot_ts, self._n_slots)
        self._slot_first = _grown(self._slot_first, self._n_slots)
        first, n = self._n_sids, len(sents)
        self._slot_alive[slot] = True
        self._slot_ts[slot] = ts
        self._slot_first[slot] = first
        self._n_sids += n
        self._sid_slot = _grown(self._sid_slot, self._n_sids)
        self._sid_keys = _grown(self._sid_keys, self._n_sids)
        self._sid_ok = _grown(self._sid_ok, self._n_sids)
        self._sid_slot[first : first + n] = slot
        if n:
            self._sid_keys[first : first + n, :-1] = sk.bands
            self._sid_keys[first : first + n, -1] = sk.exact
        self._sid_ok[first : first + n] = sk.eligible
        self._docs[key] = _Entry(slot, text, ts, first, n)
        self._sents[slot] = sents
        return first

    def _table_insert(self, rows: I64) -> None:
        """Put the band and exact keys of sentence ids ``rows`` into the band table."""
        self._table.insert(self._sid_keys[rows].ravel(), np.repeat(rows, self._bands + 1).astype(np.int64))

    def remove(self, key: str) -> None:
        entry = self._docs.pop(key)
        self._slot_alive[entry.slot] = False
        self._slot_key[entry.slot] = None
        self._sents.pop(entry.slot, None)
        rows = entry.first + np.flatnonzero(self._sid_ok[entry.first : entry.first + entry.count])
        self._table.discard(self._sid_keys[rows].ravel())
        self._dead += entry.count
        if self._dead > max(COMPACT_MIN, self._n_sids - self._dead):
            self._compact()

    # -- View: retention ---------------------------------------------------------------

    def count(self) -> int:
        return len(self._docs)

    def newest(self) -> float | None:
        if not self._docs:
            return None
        return float(self._slot_ts[: self._n_slots][self._slot_alive[: self._n_slots]].max())

    def older_than(self, limit: float) -> list[str]:
        ts = self._slot_ts[: self._n_slots]
        slots = np.flatnonzero(self._slot_alive[: self._n_slots] & (ts < limit))
        return self._keys_of(slots[np.argsort(ts[slots], kind="stable")])

    def oldest(self, n: int) -> list[str]:
        alive = np.flatnonzero(self._slot_alive[: self._n_slots])
        return self._keys_of(alive[np.argsort(self._slot_ts[alive], kind="stable")][:n])

    def _keys_of(self, slots: I64) -> list[str]:
        return [k for k in (self._slot_key[s] for s in slots.tolist()) if k is not None]

    # -- compaction and persistence ----------------------------------------------------

    def _compact(self) -> None:
        """Renumber live documents and sentences densely and rebuild the band table."""
        live_slots = self._slot_alive[: self._n_slots]
        new_slot = np.cumsum(live_slots) - 1
        live_sids = live_slots[self._sid_slot[: self._n_sids]]
        new_sid = np.cumsum(live_sids) - 1
        self._sid_slot = new_slot[self._sid_slot[: self._n_sids][live_sids]]
        self._sid_keys = self._sid_keys[: self._n_sids][live_sids]
        self._sid_ok = self._sid_ok[: self._n_sids][live_sids]
        self._n_sids = int(live_sids.sum())
        self._slot_ts = self._slot_ts[: self._n_slots][live_slots]
        self._slot_key = [k for k, alive in zip(self._slot_key, live_slots.tolist(), strict=False) if alive]
        self._n_slots = len(self._slot_key)
        self._slot_alive = np.ones(self._n_slots, dtype=bool)
        self._slot_first = np.zeros(self._n_slots, dtype=np.int64)
        sents: dict[int, tuple[Sentence, ...]] = {}
        for entry in self._docs.values():
            old = entry.slot
            entry.slot = int(new_slot[old])
            entry.first = int(new_sid[entry.first]) if entry.count else 0
            self._slot_first[entry.slot] = entry.first
            if old in self._sents:
                sents[entry.slot] = self._sents[old]
        self._sents = sents
        self._dead = 0
        ok = np.flatnonzero(self._sid_ok[: self._n_sids])
        self._table = BandTable(capacity=2 * ok.size * (self._bands + 1))
        self._table_insert(ok)

    def export(self) -> dict[str, Any]:
        """The stored documents, sentences and band table (compacted first), for saving."""
        with self._lock:
            if self._dead:
                self._compact()
            entries = list(self._docs.items())
            return {
                "keys": [k for k, _ in entries],
                "texts": [e.text for _, e in entries],
                "doc_timestamp": np.array([e.timestamp for _, e in entries], dtype=np.float64),
                "doc_slot": np.array([e.slot for _, e in entries], dtype=np.int64),
                "doc_first": np.array([e.first for _, e in entries], dtype=np.int64),
                "doc_count": np.array([e.count for _, e in entries], dtype=np.int64),
                "sid_slot": self._sid_slot[: self._n_sids].copy(),
                "sid_keys": self._sid_keys[: self._n_sids].copy(),
                "sid_ok": self._sid_ok[: self._n_sids].copy(),
                "table": self._table.export(),
                "n_slots": self._n_slots,
            }

    @classmethod
    def restore(cls, options: Options, saved: dict[str, Any]) -> MemoryStore:
        """A store from :meth:`export` output; ``ValueError`` if its parts do not fit together."""
        store = cls(options)
        keys, texts = saved["keys"], saved["texts"]
        ts, slots = saved["doc_timestamp"], saved["doc_slot"]
        first, count = saved["doc_first"], saved["doc_count"]
        n_slots = int(saved["n_slots"])
        sid_slot, sid_keys, sid_ok = saved["sid_slot"], saved["sid_keys"], saved["sid_ok"]
        n_docs, n_sids = ts.size, sid_slot.size
        if not (
            len(keys) == len(texts) == slots.size == first.size == count.size == n_docs
            and sid_keys.shape == (n_sids, store._bands + 1)
            and sid_ok.size == n_sids
            and (n_docs == 0 or (slots.min() >= 0 and slots.max() < n_slots))
            and (n_sids == 0 or (sid_slot.min() >= 0 and sid_slot.max() < n_slots))
            and (n_docs == 0 or (first.min() >= 0 and (first + count).max() <= n_sids))
        ):
            raise ValueError("document and sentence tables do not fit together")
        slot_key: list[str | None] = [None] * n_slots
        alive = np.zeros(n_slots, dtype=bool)
        slot_ts = np.zeros(n_slots, dtype=np.float64)
        slot_first = np.zeros(n_slots, dtype=np.int64)
        for n, key in enumerate(keys):
            slot = int(slots[n])
            if key in store._docs or alive[slot]:
                raise ValueError(f"document {key!r} is stored twice")
            store._docs[key] = _Entry(slot, texts[n], float(ts[n]), int(first[n]), int(count[n]))
            slot_key[slot] = key
            alive[slot] = True
            slot_ts[slot] = ts[n]
            slot_first[slot] = first[n]
        store._slot_key = slot_key
        store._slot_alive = alive
        store._slot_ts = slot_ts
        store._slot_first = slot_first
        store._n_slots = n_slots
        store._sid_slot = sid_slot
        store._sid_keys = sid_keys
        store._sid_ok = sid_ok.astype(bool)
        store._n_sids = n_sids
        store._dead = int(n_sids - sum(e.count for e in store._docs.values()))
        table = BandTable.restore(saved["table"])
        if table.entries and int(saved["table"]["entry_sid"].max()) >= n_sids:
            raise ValueError("band table refers to sentences that are not stored")
        store._table = table
        return store
