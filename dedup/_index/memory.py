"""The in-memory store of :class:`~dedup.DedupIndex`: flat numpy arrays and sorted runs, under one lock.

Per stored document: its key (a dict entry), its text as UTF-8 bytes in one
buffer, timestamp and positions (about 40 bytes).  Per stored sentence: the id
of its document and its span and paragraph (16 bytes); and, for a sentence long
enough to take part, one 8-byte entry per LSH band and one for its exact-copy
key in :class:`~dedup._index.runs.SortedRuns` (38 entries with the default
options: 304 bytes).  Sentence objects are not kept: a stored document taking
part in a verification gets its sentences rebuilt from the text and the stored
spans (:func:`~dedup._text.segment.make_sentence` gives what segmentation gave),
and only those of the paragraphs holding candidates.

Documents live in *slots* numbered in insertion order (a document's ordinal is
its slot); sentence ids follow the same order.  Removal marks documents dead;
ids are compacted, the runs and the text buffer rewritten, once dead sentences
outnumber live ones, so an endless stream with eviction stays bounded.  Lookups
never return dead sentences, and buckets are capped by their live sentences, so
results do not depend on when compaction ran.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from dedup._errors import IncompatibleIndexError
from dedup._index.crossmatch import Sketch, StoredDoc
from dedup._index.runs import SortedRuns
from dedup._index.store import Document, Hits
from dedup._options import Options
from dedup._sketch.minhash import lsh_params
from dedup._text.segment import Sentence, clear_topic_names, make_sentence

__all__ = ["COMPACT_MIN", "STUB", "MemoryStore"]

T = TypeVar("T")
I64 = npt.NDArray[np.int64]

#: Dead sentence ids tolerated before compaction (and never more than live ones).
COMPACT_MIN = 4096
#: What stands for a sentence of a paragraph holding no candidate (see :meth:`MemoryStore.stored`).
STUB = Sentence(-1, 0, 0, (), (), (), (), (), ())


def _grown(arr: npt.NDArray[Any], need: int) -> npt.NDArray[Any]:
    if need <= arr.shape[0]:
        return arr
    size = max(need, 2 * arr.shape[0], 64)
    out = np.zeros((size, *arr.shape[1:]), dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


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
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._slot_of

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._slot_of)

    def text(self, key: str) -> str:
        with self._lock:
            return self._text(self._slot_of[key])

    def timestamp(self, key: str) -> float:
        with self._lock:
            return float(self._slot_ts[self._slot_of[key]])

    def documents(self) -> list[Document]:
        with self._lock:
            return [Document(k, self._text(slot), None) for k, slot in self._slot_of.items()]

    def clear(self) -> None:
        with self._lock:
            self._slot_of: dict[str, int] = {}
            self._slot_key: list[str | None] = []
            # Each document's topic names (segment's rule), space-separated: its sentences are
            # rebuilt one by one, and their entity flags depend on the whole document.
            self._slot_topic: list[str] = []
            self._slot_alive = np.zeros(0, dtype=bool)
            self._slot_ts = np.zeros(0, dtype=np.float64)
            self._slot_first = np.zeros(0, dtype=np.int64)  # first sentence id
            self._slot_count = np.zeros(0, dtype=np.int32)  # number of sentences
            self._slot_text = np.zeros(0, dtype=np.int64)  # start of the text's bytes in the buffer
            self._slot_tlen = np.zeros(0, dtype=np.int64)  # their length
            self._n_slots = 0
            # Texts: bytes frozen (e.g. mapped from a saved file) and bytes appended since.
            self._frozen: npt.NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
            self._buffer = bytearray()
            self._sid_slot = np.zeros(0, dtype=np.int32)
            self._sid_span = np.zeros((0, 3), dtype=np.int32)  # paragraph, start, end
            self._n_sids = 0
            self._dead = 0
            self._runs = SortedRuns()

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"MemoryStore(documents={len(self)})"

    def _text(self, slot: int) -> str:
        start, n = int(self._slot_text[slot]), int(self._slot_tlen[slot])
        frozen = self._frozen.size
        if start >= frozen:
            raw = bytes(self._buffer[start - frozen : start - frozen + n])
        else:
            raw = self._frozen[start : start + n].tobytes()
        return raw.decode("utf-8", "surrogatepass")

    # -- View: lookups -------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self._slot_of

    def lookup(
        self, bands: npt.NDArray[np.uint64], max_bucket: int, exact: npt.NDArray[np.uint64], limit: int
    ) -> tuple[Hits, Hits]:
        return self._hits(bands, max_bucket, truncate=False), self._hits(exact, limit, truncate=True)

    def _alive(self, sids: I64) -> npt.NDArray[np.bool_]:
        return self._slot_alive[self._sid_slot[sids]]

    def _hits(self, keys: npt.NDArray[np.uint64], cap: int, *, truncate: bool) -> Hits:
        alive = self._alive if self._dead else None
        q, sids = self._runs.lookup(keys, cap=cap, truncate=truncate, alive=alive, dead=self._dead)
        slots = self._sid_slot[sids].astype(np.int64)
        return Hits(q, slots, sids - self._slot_first[slots])

    def resolve(self, docs: I64) -> tuple[I64, npt.NDArray[np.float64]]:
        return docs.astype(np.int64), self._slot_ts[docs]

    def stored(self, docs: Sequence[int], wanted: Sequence[set[int]] | None = None) -> list[StoredDoc]:
        """Documents with their sentences rebuilt from text and spans (:func:`make_sentence` gives what
        segmentation gave); with ``wanted``, only those of paragraphs holding a wanted sentence, the
        others :data:`STUB`."""
        texts = [self._text(slot) for slot in docs]
        firsts = self._slot_first[list(docs)]
        counts = self._slot_count[list(docs)].astype(np.int64)
        # Sentence ids to rebuild: with ``wanted``, those of the paragraphs holding wanted sentences.
        doc_of = np.repeat(np.arange(len(docs)), counts)
        sids = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts) + firsts[doc_of]
        if wanted is not None:
            chosen = [firsts[n] + s for n, want in enumerate(wanted) for s in want if s < counts[n]]
            chosen_doc = [n for n, want in enumerate(wanted) for s in want if s < counts[n]]
            para_key = doc_of << 32 | self._sid_span[sids, 0].astype(np.int64)
            wanted_key = np.array(chosen_doc, dtype=np.int64) << 32 | self._sid_span[
                np.array(chosen, dtype=np.int64), 0
            ].astype(np.int64)
            keep = np.isin(para_key, wanted_key)
            doc_of, sids = doc_of[keep], sids[keep]
        out = [[STUB] * int(c) for c in counts.tolist()]
        rows = self._sid_span[sids].tolist()
        at = (sids - firsts[doc_of]).tolist()
        for n, s, (para, start, end) in zip(doc_of.tolist(), at, rows, strict=True):
            sent = make_sentence(texts[n], para, start, end)
            if sent is None:
                raise IncompatibleIndexError(
                    f"document {self._slot_key[docs[n]]!r} has no words where the index recorded a "
                    "sentence: it was built by another dedup version"
                )
            out[n][s] = sent
        for n, slot in enumerate(docs):
            if self._slot_topic[slot]:
                topic = frozenset(self._slot_topic[slot].split(" "))
                out[n] = [t if t is STUB else clear_topic_names([t], topic)[0] for t in out[n]]
        keys = [self._slot_key[slot] for slot in docs]
        return [
            StoredDoc(key, text, tuple(sents), slot)  # type: ignore[arg-type]  # live: keys are str
            for key, text, sents, slot in zip(keys, texts, out, docs, strict=True)
        ]

    # -- View: writes ----------------------------------------------------------------

    def put(
        self, key: str, text: str, timestamp: float, sentences: tuple[Sentence, ...], sketch: Sketch
    ) -> None:
        first = self._insert(key, text, timestamp, sentences, sketch.topic)
        self._runs_insert(first, [sketch])

    def put_batch(self, docs: Sequence[tuple[str, str, float, tuple[Sentence, ...], Sketch]]) -> None:
        first = self._n_sids
        for key, text, ts, sents, sk in docs:
            self._insert(key, text, ts, sents, sk.topic)
        # One insert for the batch, in document order: the same runs as one by one.
        self._runs_insert(first, [sk for *_, sk in docs])

    def _insert(
        self, key: str, text: str, ts: float, sents: Sequence[Sentence], topic: frozenset[str]
    ) -> int:
        """Store a document (its keys not yet in the runs; ``topic``: its topic names).

        Returns its first sentence id.
        """
        raw = _utf8(text)
        if len(text) >= 1 << 31:
            raise ValueError("a document of 2**31 characters or more cannot be stored")
        slot = self._n_slots
        self._n_slots += 1
        self._slot_key.append(key)
        self._slot_topic.append(" ".join(sorted(topic)))
        self._slot_alive = _grown(self._slot_alive, self._n_slots)
        self._slot_ts = _grown(self._slot_ts, self._n_slots)
        self._slot_first = _grown(self._slot_first, self._n_slots)
        self._slot_count = _grown(self._slot_count, self._n_slots)
        self._slot_text = _grown(self._slot_text, self._n_slots)
        self._slot_tlen = _grown(self._slot_tlen, self._n_slots)
        first, n = self._n_sids, len(sents)
        self._slot_alive[slot] = True
        self._slot_ts[slot] = ts
        self._slot_first[slot] = first
        self._slot_count[slot] = n
        self._slot_text[slot] = self._frozen.size + len(self._buffer)
        self._slot_tlen[slot] = len(raw)
        self._buffer += raw
        self._n_sids += n
        self._sid_slot = _grown(self._sid_slot, self._n_sids)
        self._sid_span = _grown(self._sid_span, self._n_sids)
        self._sid_slot[first : first + n] = slot
        if n:
            self._sid_span[first : first + n] = [(s.para, s.start, s.end) for s in sents]
        self._slot_of[key] = slot
        return first

    def _runs_insert(self, first: int, sketches: Sequence[Sketch]) -> None:
        """Put the band and exact keys of the eligible sentences of ``sketches`` (ids from ``first``)."""
        keys, sids = [], []
        for sk in sketches:
            rows = np.flatnonzero(sk.eligible)
            if rows.size:
                keys.append(np.concatenate((sk.bands[rows], sk.exact[rows, None]), axis=1).ravel())
                sids.append(np.repeat(first + rows, self._bands + 1))
            first += sk.eligible.size
        if keys:
            self._runs.insert(np.concatenate(keys), np.concatenate(sids))

    def remove(self, key: str) -> None:
        slot = self._slot_of.pop(key)
        self._slot_alive[slot] = False
        self._slot_key[slot] = None
        self._dead += int(self._slot_count[slot])
        if self._dead > max(COMPACT_MIN, self._n_sids - self._dead):
            self._compact()

    # -- View: retention ---------------------------------------------------------------

    def count(self) -> int:
        return len(self._slot_of)

    def newest(self) -> float | None:
        if not self._slot_of:
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
        """Renumber live documents and sentences densely; rewrite the runs and the text buffer."""
        n_slots, n_sids = self._n_slots, self._n_sids
        live_slots = self._slot_alive[:n_slots]
        new_slot = np.cumsum(live_slots) - 1
        live_sids = live_slots[self._sid_slot[:n_sids]]
        new_sid = np.cumsum(live_sids) - 1
        self._runs.keep(live_sids, new_sid)
        self._sid_slot = new_slot[self._sid_slot[:n_sids][live_sids]].astype(np.int32)
        self._sid_span = self._sid_span[:n_sids][live_sids]
        self._n_sids = int(live_sids.sum())
        texts = [_utf8(self._text(s)) for s in np.flatnonzero(live_slots).tolist()]
        self._slot_ts = self._slot_ts[:n_slots][live_slots]
        self._slot_count = self._slot_count[:n_slots][live_slots]
        self._slot_first = np.zeros(self._slot_count.size, dtype=np.int64)
        np.cumsum(self._slot_count[:-1], out=self._slot_first[1:])
        self._slot_tlen = np.array([len(t) for t in texts], dtype=np.int64)
        self._slot_text = np.zeros(len(texts), dtype=np.int64)
        np.cumsum(self._slot_tlen[:-1], out=self._slot_text[1:])
        self._frozen, self._buffer = np.zeros(0, dtype=np.uint8), bytearray(b"".join(texts))
        self._slot_key = [k for k, alive in zip(self._slot_key, live_slots.tolist(), strict=False) if alive]
        self._slot_topic = [
            t for t, alive in zip(self._slot_topic, live_slots.tolist(), strict=False) if alive
        ]
        self._n_slots = len(self._slot_key)
        self._slot_alive = np.ones(self._n_slots, dtype=bool)
        self._slot_of = {k: n for n, k in enumerate(self._slot_key) if k is not None}
        self._dead = 0

    def export(self) -> dict[str, Any]:
        """The stored documents, sentences and band key entries (compacted first), for saving."""
        with self._lock:
            if self._dead or self._frozen.size:
                self._compact()
            n, m = self._n_slots, self._n_sids
            run_lows, run_sids, cells = self._runs.export()
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(self._slot_tlen[:n], out=offsets[1:])
            return {
                "keys": [k for k in self._slot_key],
                "topics": list(self._slot_topic),
                "text_bytes": np.frombuffer(bytes(self._buffer), dtype=np.uint8),
                "text_offsets": offsets,
                "doc_timestamp": self._slot_ts[:n].copy(),
                "doc_count": self._slot_count[:n].copy(),
                "sent_span": self._sid_span[:m].copy(),
                "run_lows": run_lows,
                "run_sids": run_sids,
                "run_cells": cells,
            }

    @classmethod
    def restore(cls, options: Options, saved: dict[str, Any]) -> MemoryStore:
        """A store from :meth:`export` output (arrays may be mapped from a file); ``ValueError`` if
        its parts do not fit together."""
        store = cls(options)
        keys, text, offsets = saved["keys"], saved["text_bytes"], saved["text_offsets"]
        ts, count, span = saved["doc_timestamp"], saved["doc_count"], saved["sent_span"]
        n = len(keys)
        if not (
            ts.shape == count.shape == (n,)
            and offsets.shape == (n + 1,)
            and span.ndim == 2
            and span.shape[1] == 3
            and (n == 0 or int(count.min()) >= 0)
            and int(count.sum(dtype=np.int64)) == span.shape[0]
            and int(offsets[0]) == 0
            and int(offsets[-1]) == text.size
            and not bool((offsets[1:] < offsets[:-1]).any())
        ):
            raise ValueError("document and sentence tables do not fit together")
        if span.shape[0] and (
            int(span[:, 0].min()) < 0 or int(span[:, 1].min()) < 0 or bool((span[:, 2] < span[:, 1]).any())
        ):
            raise ValueError("sentence spans are negative or reversed")
        store._slot_of = {}
        for slot, key in enumerate(keys):
            if key in store._slot_of:
                raise ValueError(f"document {key!r} is stored twice")
            store._slot_of[key] = slot
        store._slot_key = list(keys)
        store._slot_topic = list(saved["topics"])
        if len(store._slot_topic) != n:
            raise ValueError("document and topic tables do not fit together")
        store._n_slots = n
        store._slot_alive = np.ones(n, dtype=bool)
        store._slot_ts = np.array(ts, dtype=np.float64)
        store._slot_count = np.array(count, dtype=np.int32)
        store._slot_first = np.zeros(n, dtype=np.int64)
        np.cumsum(store._slot_count[:-1], out=store._slot_first[1:])
        store._slot_text = np.array(offsets[:-1], dtype=np.int64)
        store._slot_tlen = np.diff(offsets).astype(np.int64)
        store._frozen = text
        store._n_sids = int(span.shape[0])
        store._sid_span = span
        store._sid_slot = np.repeat(np.arange(n, dtype=np.int32), store._slot_count)
        if span.shape[0] and bool((span[:, 2] > store._slot_tlen[store._sid_slot]).any()):
            raise ValueError("sentence spans run past their document's text")
        run_sids = saved["run_sids"]
        if run_sids.size and int(run_sids.max()) >= store._n_sids:
            raise ValueError("band key entries refer to sentences that are not stored")
        if "run_keys" in saved:  # format 2: 64-bit keys, sorted into a run of stored keys
            store._runs = SortedRuns.from_keys(saved["run_keys"], run_sids)
        else:
            store._runs = SortedRuns.restore(saved["run_lows"], run_sids, saved["run_cells"])
        return store

    @classmethod
    def from_sketched(
        cls, options: Options, docs: Sequence[tuple[str, str, float, tuple[Sentence, ...], Sketch]]
    ) -> MemoryStore:
        """A store holding ``docs``, as :meth:`put_batch` stores them."""
        store = cls(options)
        store.put_batch(docs)
        return store
