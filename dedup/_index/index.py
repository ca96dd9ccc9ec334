"""DedupIndex: a long-lived, thread-safe index of documents that answers "seen this before?".

Each stored sentence gets an integer id; its LSH band keys (and an exact-copy
key) go into a numpy :class:`~dedup._index.bandtable.BandTable`.  ``add``/``query``
sketch the new text, look all of its keys up in one vectorised batch, and
verify the candidates with the detector's scoring (:mod:`dedup._index.crossmatch`).
Removal marks documents dead; ids are compacted and the table rebuilt once dead
ids outnumber live ones, so an endless stream with eviction stays bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dedup._cluster.build import Detection
from dedup._cluster.result import Clusters, stream_clusters
from dedup._engine import detect
from dedup._errors import DuplicateKeyError, IncompatibleIndexError, InvalidOptionError
from dedup._index.bandtable import BandTable
from dedup._index.crossmatch import Sketch, StoredDoc, cross_matches, sketch
from dedup._options import Options
from dedup._parallel import check_jobs, paused_gc, process_pool
from dedup._progress import progress_bar
from dedup._rules import INDEX_MAX_BUCKET as MAX_BUCKET
from dedup._rules import MAX_EXACT, MAX_PER_SENTENCE, MIN_SHARED_BANDS
from dedup._sketch.minhash import lsh_params
from dedup._text.segment import Sentence, check_text, segment
from dedup._types import Cluster, Doc, Match

if TYPE_CHECKING:
    from dedup._index.redis import RedisIndex

__all__ = ["COMPACT_MIN", "MAX_BUCKET", "MAX_EXACT", "MAX_PER_SENTENCE", "MIN_SHARED_BANDS", "DedupIndex"]

#: Dead sentence ids tolerated before compaction (and never more than live ones).
COMPACT_MIN = 4096


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key must be str, got {type(key).__name__}")
    return key


def check_time(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as a float, or a clear error for non-numbers, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidOptionError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise InvalidOptionError(f"{name} must be > 0, got {value!r}")
    return float(value)


def check_retention(max_docs: object, max_age: object) -> tuple[int | None, float | None]:
    """Validated ``(max_docs, max_age)`` retention policy of an index (``None``: no limit)."""
    if max_docs is not None and (isinstance(max_docs, bool) or not isinstance(max_docs, int) or max_docs < 1):
        raise InvalidOptionError(f"max_docs must be an int >= 1, got {max_docs!r}")
    age = None if max_age is None else check_time("max_age", max_age, positive=True)
    return max_docs, age


def window_start(since: float | None, window: float | None, now: float) -> float:
    """The earliest stored timestamp a lookup may match (``-inf`` for no limit)."""
    start = -math.inf
    if since is not None:
        start = check_time("since", since)
    if window is not None:
        start = max(start, now - check_time("window", window, positive=True))
    return start


def top_per_row(rows: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.bool_]:
    """Mask of the ``k`` entries with the highest counts in each row (ties: earlier entry)."""
    order = np.lexsort((np.arange(rows.size), -counts, rows))
    sorted_rows = rows[order]
    rank = np.arange(rows.size) - np.searchsorted(sorted_rows, sorted_rows, side="left")
    mask = np.zeros(rows.size, dtype=bool)
    mask[order[rank < k]] = True
    return mask


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


class DedupIndex:
    """Documents under string keys; ``add`` reports which passages were stored before.

    Parameters
    ----------
    max_docs : int, optional
        Keep at most this many documents: each ``add`` evicts the oldest
        (by timestamp) beyond it.
    max_age : float, optional
        Each ``add`` evicts documents older than ``max_age`` seconds before the
        newest stored timestamp.
    **options
        Keyword options of :class:`dedup.Options` (``threshold``, ``num_perm``, …).

    Notes
    -----
    All methods are thread-safe; ``add`` checks and stores in one atomic step,
    so two threads adding near-identical texts cannot both see them as new.
    ``clusters()`` equals running the detector on the stored documents.

    Examples
    --------
    >>> import dedup
    >>> index = dedup.DedupIndex()
    >>> index.add("a", "Troops are leaving the border region today.\\nMarkets were calm.")
    []
    >>> [m] = index.add("b", "Analysts expect a rebound.\\nTroops are leaving the border region today.")
    >>> m.a.key, m.a.span, m.b.key, m.b.span, m.kind
    ('b', Span(start=27, end=70), 'a', Span(start=0, end=43), 'exact')
    >>> "a" in index, len(index), list(index)
    (True, 2, ['a', 'b'])
    >>> for p in index.clusters()[0].passages:
    ...     print(p.key, p.span, p.text)
    a Span(start=0, end=43) Troops are leaving the border region today.
    b Span(start=27, end=70) Troops are leaving the border region today.
    """

    def __init__(self, *, max_docs: int | None = None, max_age: float | None = None, **options: Any) -> None:
        self.options = Options(**options)
        self.max_docs, self.max_age = check_retention(max_docs, max_age)
        self._bands, self._rows = lsh_params(self.options.lsh_threshold, self.options.num_perm)
        self._lock = threading.RLock()
        self._docs: dict[str, _Entry] = {}
        self._sents: dict[int, tuple[Sentence, ...]] = {}
        self._slot_key: list[str | None] = []
        self._slot_alive = np.zeros(0, dtype=bool)
        self._slot_ts = np.zeros(0, dtype=np.float64)
        self._n_slots = 0
        self._sid_slot = np.zeros(0, dtype=np.int64)
        self._sid_keys = np.zeros((0, self._bands + 1), dtype=np.uint64)
        self._sid_ok = np.zeros(0, dtype=bool)
        self._n_sids = 0
        self._dead = 0
        self._table = BandTable()

    # -- construction ---------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        items: Iterable[tuple[str, str]],
        *,
        jobs: int | None = None,
        progress: bool = False,
        max_docs: int | None = None,
        max_age: float | None = None,
        **options: Any,
    ) -> DedupIndex:
        """An index holding every ``(key, text)`` of ``items``, built in one batch.

        Documents are segmented and sketched in ``jobs`` worker processes and
        stored in order, without checking each against the ones before it
        (call :meth:`clusters` for that): faster than ``add`` in a loop, same
        index.

        Parameters
        ----------
        items : iterable of (str, str)
            ``(key, text)`` pairs; keys must be unique.
        jobs : int or None, default None
            Worker processes (``None``: all cores; one for fewer than 512
            documents).  The index does not depend on it.
        progress : bool, default False
            Show a progress bar (documents) on standard error.
        max_docs, max_age, **options
            As for :class:`DedupIndex`; the retention policy is applied once, at the end.

        Examples
        --------
        >>> import dedup
        >>> docs = [("a", "Troops are leaving the border region today."),
        ...         ("b", "Markets were calm.\\nTroops are leaving the border region today.")]
        >>> index = dedup.DedupIndex.from_texts(docs, jobs=2)
        >>> len(index), [(p.key, p.span.start) for p in index.clusters()[0].passages]
        (2, [('a', 0), ('b', 19)])
        """
        processes = check_jobs(jobs)
        index = cls(max_docs=max_docs, max_age=max_age, **options)
        batches = _checked_batches(items, index.options)
        # Worker processes only pay off from the second batch of documents on.
        head = list(itertools.islice(batches, 2))
        workers = processes if len(head) > 1 else 1
        batches = itertools.chain(head, batches)
        with paused_gc(), process_pool(workers) as pool, _bar(progress) as bar:
            done = pool.imap(_sketch_batch, batches) if pool is not None else map(_sketch_batch, batches)
            for part in done:
                with index._lock:
                    first = index._n_sids
                    for key, text, sents, sk in part:
                        if key in index._docs:
                            raise DuplicateKeyError(f"key {key!r} occurs twice in items: keys must be unique")
                        index._insert(key, text, time.time(), sents, sk, table=False)
                    # One band-table insert per batch, in document order: the same chains as one by one.
                    index._table_insert(first + np.flatnonzero(index._sid_ok[first : index._n_sids]))
                bar(len(part))
        with index._lock:
            index._apply_policy()
        return index

    @classmethod
    def from_redis(cls, url: str, *, name: str = "dedup", **options: Any) -> RedisIndex:
        """An index kept in Redis at ``url``, shared by every process using the same ``name``.

        See :class:`dedup._index.redis.RedisIndex`; needs the ``redis`` extra.
        """
        from dedup._index.redis import RedisIndex

        return RedisIndex(url, name=name, **options)

    # -- the scraper's calls ---------------------------------------------------

    def add(
        self,
        key: str,
        text: str,
        *,
        replace: bool = False,
        timestamp: float | None = None,
        since: float | None = None,
        window: float | None = None,
    ) -> list[Match]:
        """Check ``text`` against every stored document, then store it under ``key``.

        Checking and storing are one atomic step.

        Parameters
        ----------
        key : str
            Document key; an existing key raises :class:`DuplicateKeyError`
            unless ``replace=True`` (the old text is dropped before the check).
        text : str
            The document.
        timestamp : float, optional
            Seconds since the epoch; default: now.  Used by eviction and windows.
        since, window : float, optional
            Match only stored documents with timestamps ``>= since`` and within
            ``window`` seconds before ``timestamp``.

        Returns
        -------
        list of Match
            One per passage of ``text`` already stored: ``a`` is in ``text``
            (key ``key``), ``b`` in a stored document, with the score; sorted
            by position in ``text``.
        """
        _check_key(key)
        check_text(text)
        if not isinstance(replace, bool):
            raise TypeError(f"replace must be a bool, got {type(replace).__name__}")
        ts = time.time() if timestamp is None else check_time("timestamp", timestamp)
        start = window_start(since, window, ts)
        sents = tuple(segment(text))
        sk = sketch(sents, self.options)
        with self._lock:
            if key in self._docs:
                if not replace:
                    raise DuplicateKeyError(
                        f"key {key!r} is already in the index (pass replace=True to overwrite)"
                    )
                self._remove(key)
            stored, pairs = self._candidates(sents, sk, start)
            # Verified under the lock: a concurrent add must see this document's result.
            matches = cross_matches(key, text, sents, stored, pairs, self.options)
            self._insert(key, text, ts, sents, sk)
            self._apply_policy()
        return matches

    def query(self, text: str, *, since: float | None = None, window: float | None = None) -> list[Match]:
        """Like :meth:`add` without storing: passages of ``text`` already stored.

        Matches have ``a.key is None`` (the queried text) and ``b`` in a stored
        document.  ``window`` counts back from now.

        Examples
        --------
        >>> import dedup
        >>> index = dedup.DedupIndex()
        >>> _ = index.add("old", "The mayor opened the new bridge on Tuesday.\\nIt cost ten million.")
        >>> [m] = index.query("Crowds cheered. The mayor opened the new bridge on Tuesday.")
        >>> m.a.text, m.b.key, m.score
        ('The mayor opened the new bridge on Tuesday.', 'old', 1.0)
        """
        check_text(text)
        start = window_start(since, window, time.time())
        sents = tuple(segment(text))
        sk = sketch(sents, self.options)
        with self._lock:
            stored, pairs = self._candidates(sents, sk, start)
        return cross_matches(None, text, sents, stored, pairs, self.options)

    def remove(self, key: str) -> None:
        """Drop the document stored under ``key`` (``KeyError`` if absent)."""
        _check_key(key)
        with self._lock:
            if key not in self._docs:
                raise KeyError(key)
            self._remove(key)

    def evict(self, older_than: float) -> list[str]:
        """Drop every document with a timestamp before ``older_than``; return their keys."""
        limit = check_time("older_than", older_than)
        with self._lock:
            gone = self._older_than(limit)
            for k in gone:
                self._remove(k)
        return gone

    def text(self, key: str) -> str:
        """The text stored under ``key``."""
        with self._lock:
            return self._docs[key].text

    def timestamp(self, key: str) -> float:
        """The timestamp stored with ``key``."""
        with self._lock:
            return self._docs[key].timestamp

    def clusters(self) -> Clusters:
        """Clusters of passages repeated within or across the stored documents, best first.

        See :meth:`iter_clusters` for the same clusters one group at a time.
        """
        detection = self._detection()
        if detection is None:
            return Clusters(threshold=self.options.threshold)
        return Clusters._from_detection(detection, self.options.threshold)

    def iter_clusters(self) -> Iterator[Cluster]:
        """The clusters of :meth:`clusters`, streamed one group of linked documents at a time.

        Documents that share a passage form a group; groups come in the order
        their first document was added, each group's clusters best first.
        Only one group's clusters (with their passage texts) exist at a time,
        so a large index can be written out without holding every cluster;
        the scored sentence links of the whole index are computed first.

        Examples
        --------
        >>> index = DedupIndex()
        >>> _ = index.add("a", "Lavrov chastised NATO for encouraging turmoil in Eastern Europe.")
        >>> _ = index.add("b", "Markets were calm on Friday. Traders waited for the Fed.")
        >>> _ = index.add("c", "Lavrov slammed NATO for fanning turmoil in Eastern Europe.")
        >>> for cluster in index.iter_clusters():
        ...     print([p.key for p in cluster.passages], cluster.score)
        ['a', 'c'] 0.75
        """
        return stream_clusters(self._detection(), self.options.threshold)

    def _detection(self) -> Detection | None:
        with self._lock:
            docs = [Doc(k, e.text, n) for n, (k, e) in enumerate(self._docs.items())]
            segmented = [self._sentences(e.slot, e) for e in self._docs.values()]
        if not docs:
            return None
        return detect(docs, self.options, segmented=segmented)

    # -- persistence -------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (see :mod:`dedup._index.persist` for the format)."""
        from dedup._index.persist import save_index

        save_index(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> DedupIndex:
        """Read an index written by :meth:`save`.

        Options given here must equal those the index was built with
        (:class:`IncompatibleIndexError` otherwise); a truncated or corrupted
        file raises :class:`IndexFormatError` naming it.
        """
        from dedup._index.persist import load_index

        return load_index(cls, path, options)

    # -- container protocol ------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._docs))

    def __repr__(self) -> str:
        return f"DedupIndex(documents={len(self)}, threshold={self.options.threshold})"

    # -- internals (callers hold the lock) ----------------------------------------

    def _sentences(self, slot: int, entry: _Entry) -> tuple[Sentence, ...]:
        sents = self._sents.get(slot)
        if sents is None:  # after load: segmentation is deterministic, ids line up
            sents = tuple(segment(entry.text))
            if len(sents) != entry.count:
                raise IncompatibleIndexError(
                    f"document {self._slot_key[slot]!r} segments into {len(sents)} sentences, "
                    f"the index recorded {entry.count}: it was built by another dedup version"
                )
            self._sents[slot] = sents
        return sents

    def _candidates(
        self, sents: tuple[Sentence, ...], sk: Sketch, start: float
    ) -> tuple[list[StoredDoc], list[tuple[int, int, int]]]:
        rows = np.flatnonzero(sk.eligible)
        if rows.size == 0 or not self._docs:
            return [], []
        qi, sids = self._table.lookup(sk.bands[rows].ravel(), max_bucket=MAX_BUCKET)
        new_sent = rows[qi // self._bands]
        keep = self._usable(sids, start)
        new_sent, sids = new_sent[keep], sids[keep]
        if sids.size:
            codes, counts = np.unique(new_sent * self._n_sids + sids, return_counts=True)
            lo, hi = codes // self._n_sids, codes % self._n_sids
            top = top_per_row(lo, counts, MAX_PER_SENTENCE) & (counts >= MIN_SHARED_BANDS)
            found = set(zip(lo[top].tolist(), hi[top].tolist(), strict=True))
        else:
            found = set()
        # Exact copies: the newest few of each, however many there are (boilerplate).
        qi, sids = self._table.lookup(sk.exact[rows], max_bucket=4 * MAX_EXACT, truncate=True)
        keep = self._usable(sids, start)
        qi, sids = qi[keep], sids[keep]
        order = np.lexsort((-sids, qi))
        qi, sids = qi[order], sids[order]
        rank = np.arange(qi.size) - np.searchsorted(qi, qi, side="left")
        found.update(zip(rows[qi[rank < MAX_EXACT]].tolist(), sids[rank < MAX_EXACT].tolist(), strict=True))
        stored: list[StoredDoc] = []
        index_of: dict[int, int] = {}
        pairs: list[tuple[int, int, int]] = []
        for i, sid in sorted(found):
            slot = int(self._sid_slot[sid])
            d = index_of.get(slot)
            key = self._slot_key[slot]
            assert key is not None
            entry = self._docs[key]
            if d is None:
                d = index_of[slot] = len(stored)
                stored.append(StoredDoc(key, entry.text, self._sentences(slot, entry), slot))
            pairs.append((i, d, sid - entry.first))
        return stored, pairs

    def _usable(self, sids: npt.NDArray[np.int64], start: float) -> npt.NDArray[np.bool_]:
        slots = self._sid_slot[sids]
        ok: npt.NDArray[np.bool_] = self._slot_alive[slots] & self._sid_ok[sids]
        if start > -math.inf:
            ok &= self._slot_ts[slots] >= start
        return ok

    def _insert(
        self,
        key: str,
        text: str,
        ts: float,
        sents: tuple[Sentence, ...],
        sk: Sketch,
        *,
        table: bool = True,
    ) -> None:
        """Store a sketched document; with ``table=False`` its band keys are left for the caller to insert."""
        slot = self._n_slots
        self._n_slots += 1
        self._slot_key.append(key)
        self._slot_alive = _grown(self._slot_alive, self._n_slots)
        self._slot_ts = _grown(self._slot_ts, self._n_slots)
        self._slot_alive[slot] = True
        self._slot_ts[slot] = ts
        first, n = self._n_sids, len(sents)
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
        if table:
            self._table_insert(first + np.flatnonzero(sk.eligible))

    def _table_insert(self, rows: npt.NDArray[np.int64]) -> None:
        """Put the band and exact keys of sentence ids ``rows`` into the band table."""
        self._table.insert(self._sid_keys[rows].ravel(), np.repeat(rows, self._bands + 1).astype(np.int64))

    def _remove(self, key: str) -> None:
        entry = self._docs.pop(key)
        self._slot_alive[entry.slot] = False
        self._slot_key[entry.slot] = None
        self._sents.pop(entry.slot, None)
        self._dead += entry.count
        if self._dead > max(COMPACT_MIN, self._n_sids - self._dead):
            self._compact()

    def _older_than(self, limit: float) -> list[str]:
        """Keys of live documents with timestamps before ``limit``, oldest first."""
        ts = self._slot_ts[: self._n_slots]
        slots = np.flatnonzero(self._slot_alive[: self._n_slots] & (ts < limit))
        slots = slots[np.argsort(ts[slots], kind="stable")]
        return [k for k in (self._slot_key[s] for s in slots.tolist()) if k is not None]

    def _apply_policy(self) -> None:
        if self.max_age is not None and self._docs:
            newest = float(self._slot_ts[: self._n_slots][self._slot_alive[: self._n_slots]].max())
            for k in self._older_than(newest - self.max_age):
                self._remove(k)
        if self.max_docs is not None and len(self._docs) > self.max_docs:
            ts = self._slot_ts[: self._n_slots]
            alive = np.flatnonzero(self._slot_alive[: self._n_slots])
            oldest = alive[np.argsort(ts[alive], kind="stable")][: len(self._docs) - self.max_docs]
            for k in [self._slot_key[s] for s in oldest.tolist()]:
                assert k is not None
                self._remove(k)

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
        sents: dict[int, tuple[Sentence, ...]] = {}
        for entry in self._docs.values():
            old = entry.slot
            entry.slot = int(new_slot[old])
            entry.first = int(new_sid[entry.first]) if entry.count else 0
            if old in self._sents:
                sents[entry.slot] = self._sents[old]
        self._sents = sents
        self._dead = 0
        self._rebuild_table()

    def _rebuild_table(self) -> None:
        ok = np.flatnonzero(self._sid_ok[: self._n_sids])
        self._table = BandTable(capacity=2 * ok.size * (self._bands + 1))
        self._table_insert(ok)


# --- batch construction (``DedupIndex.from_texts``) ----------------------------------------------

_BATCH_DOCS = 256
_Sketched = list[tuple[str, str, tuple[Sentence, ...], Sketch]]


def _checked_batches(
    items: Iterable[tuple[str, str]], options: Options
) -> Iterator[tuple[list[tuple[str, str]], Options]]:
    batch: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"items must be (key, text) pairs, got {item!r:.80}")
        key, text = item
        _check_key(key)
        check_text(text)
        batch.append((key, text))
        if len(batch) >= _BATCH_DOCS:
            yield batch, options
            batch = []
    if batch:
        yield batch, options


def _sketch_batch(task: tuple[list[tuple[str, str]], Options]) -> _Sketched:
    docs, options = task
    out: _Sketched = []
    for key, text in docs:
        sents = tuple(segment(text))
        out.append((key, text, sents, sketch(sents, options)))
    return out


@contextlib.contextmanager
def _bar(enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    with progress_bar(True, unit="doc", desc="index") as advance:
        yield advance
