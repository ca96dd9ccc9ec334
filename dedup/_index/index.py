"""DedupIndex: a long-lived, thread-safe index of documents that answers "seen this before?".

The one index algorithm, over a store (:mod:`dedup._index.store`: in memory,
:mod:`dedup._index.memory`; shared, :mod:`dedup._index.redis`).  ``add``/``query``
sketch the new text, look all of its band and exact-copy keys up in the store,
choose candidates (the caps and the time window below), and verify them with
the detector's scoring (:mod:`dedup._index.crossmatch`).

Candidates of a new sentence, in this order: stored sentences sharing a band
key, from buckets of at most ``MAX_BUCKET`` sentences; then only those of
documents inside the time window; then those sharing at least
``MIN_SHARED_BANDS`` bands, the ``MAX_PER_SENTENCE`` sharing most (ties: the
oldest); plus the newest ``MAX_EXACT`` exact copies inside the window among the
newest ``4 * MAX_EXACT`` stored.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Unpack

import numpy as np
import numpy.typing as npt

from dedup._cluster.build import Detection
from dedup._cluster.result import Clusters, stream_clusters
from dedup._engine import detect
from dedup._errors import DuplicateKeyError, InvalidOptionError
from dedup._index.crossmatch import Sketch, StoredDoc, cross_matches, sketch
from dedup._index.memory import MemoryStore
from dedup._index.persist import load_index, save_index
from dedup._index.store import Store, View
from dedup._options import Options, OptionValues, options_from
from dedup._parallel import check_jobs, paused_gc, process_pool
from dedup._progress import progress_bar
from dedup._rules import INDEX_MAX_BUCKET as MAX_BUCKET
from dedup._rules import MAX_EXACT, MAX_PER_SENTENCE, MIN_SHARED_BANDS
from dedup._text.segment import Sentence, check_text, segment, segment_with_topic
from dedup._types import Cluster, Doc, Match

__all__ = ["MAX_BUCKET", "MAX_EXACT", "MAX_PER_SENTENCE", "MIN_SHARED_BANDS", "DedupIndex"]

_Pairs = tuple[list[StoredDoc], list[tuple[int, int, int]]]


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


def _rank_in_group(groups: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Position of each entry within its run of equal ``groups`` (which must be sorted)."""
    return np.arange(groups.size) - np.searchsorted(groups, groups, side="left")


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
    storage : Store, optional
        Where the documents live (:mod:`dedup._index.store`), built with the
        options; default: in this process.  :meth:`from_redis` passes a Redis
        store: the same class, calls and results.
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

    def __init__(
        self,
        *,
        max_docs: int | None = None,
        max_age: float | None = None,
        storage: Store | None = None,
        **options: Unpack[OptionValues],
    ) -> None:
        if storage is None:
            self.options = options_from(options)
            storage = MemoryStore(self.options)
        else:
            self.options = storage.options
            if options and options_from(options).to_dict() != self.options.to_dict():
                raise InvalidOptionError("pass options either to the storage or here, not both")
        self.max_docs, self.max_age = check_retention(max_docs, max_age)
        self._store: Store = storage

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
        **options: Unpack[OptionValues],
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

        def store(part: _Sketched) -> Callable[[View], None]:
            def step(view: View) -> None:
                keys = [key for key, _, _, _ in part]
                if len(set(keys)) < len(keys) or any(view.has(key) for key in keys):
                    repeated = next(k for n, k in enumerate(keys) if k in keys[:n] or view.has(k))
                    raise DuplicateKeyError(f"key {repeated!r} occurs twice in items: keys must be unique")
                view.put_batch([(key, text, time.time(), sents, sk) for key, text, sents, sk in part])

            return step

        with (
            paused_gc(),
            process_pool(workers) as pool,
            progress_bar(progress, unit="doc", desc="index") as bar,
        ):
            done = pool.imap(_sketch_batch, batches) if pool is not None else map(_sketch_batch, batches)
            for part in done:
                index._store.atomic(store(part))
                bar(len(part))
        index._apply_policy()
        return index

    @classmethod
    def from_redis(
        cls,
        url: str,
        *,
        name: str = "dedup",
        max_docs: int | None = None,
        max_age: float | None = None,
        socket_timeout: float = 10.0,
        upgrade: bool = False,
        **options: Unpack[OptionValues],
    ) -> DedupIndex:
        """An index kept in Redis at ``url``, shared by every process using the same ``name``.

        Same calls and results as an in-memory index; ``add`` is atomic across
        processes.  The options and the retention (``max_docs``, ``max_age``)
        are stored with the index and checked by every write: a client with
        others raises :class:`~dedup.IncompatibleIndexError`.  Unreachable
        Redis or any Redis failure raises :class:`~dedup.StorageError`.  Needs the ``redis`` extra; see
        :mod:`dedup._index.redis` for the layout.  An index written in an older layout raises
        :class:`~dedup.IncompatibleIndexError`; ``upgrade=True`` rebuilds it from its stored
        texts first (while no other process writes to it).
        """
        if not isinstance(upgrade, bool):
            raise TypeError(f"upgrade must be a bool, got {type(upgrade).__name__}")
        from dedup._index.redis import RedisStore

        docs, age = check_retention(max_docs, max_age)
        store = RedisStore(
            url,
            options_from(options),
            name=name,
            socket_timeout=socket_timeout,
            max_docs=docs,
            max_age=age,
            upgrade=upgrade,
        )
        return cls(max_docs=docs, max_age=age, storage=store)

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
        found, topic = segment_with_topic(text)
        sents = tuple(found)
        sk = sketch(sents, self.options, topic)

        def step(view: View) -> list[Match]:
            if view.has(key):
                if not replace:
                    raise DuplicateKeyError(
                        f"key {key!r} is already in the index (pass replace=True to overwrite)"
                    )
                view.remove(key)
            stored, pairs = self._candidates(view, sents, sk, start)
            # Verified inside the step: a concurrent add must see this document's result.
            matches = cross_matches(key, text, sents, stored, pairs, self.options)
            view.put(key, text, ts, sents, sk)
            return matches

        with self._store.lock():
            matches = self._store.atomic(step)
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
        stored, pairs = self._store.read(lambda view: self._candidates(view, sents, sk, start))
        return cross_matches(None, text, sents, stored, pairs, self.options)

    def remove(self, key: str) -> None:
        """Drop the document stored under ``key`` (``KeyError`` if absent)."""
        _check_key(key)

        def step(view: View) -> None:
            if not view.has(key):
                raise KeyError(key)
            view.remove(key)

        self._store.atomic(step)

    def evict(self, older_than: float) -> list[str]:
        """Drop every document with a timestamp before ``older_than``; return their keys (oldest first)."""
        limit = check_time("older_than", older_than)

        def step(view: View) -> list[str]:
            gone = view.older_than(limit)
            for k in gone:
                view.remove(k)
            return gone

        return self._store.atomic(step)

    def text(self, key: str) -> str:
        """The text stored under ``key``."""
        return self._store.text(key)

    def timestamp(self, key: str) -> float:
        """The timestamp stored with ``key``."""
        return self._store.timestamp(key)

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
        stored = self._store.documents()
        if not stored:
            return None
        docs = [Doc(d.key, d.text, n) for n, d in enumerate(stored)]
        segmented = [d.sentences for d in stored]
        if any(s is None for s in segmented):
            return detect(docs, self.options)
        return detect(docs, self.options, segmented=segmented)  # type: ignore[arg-type]

    # -- persistence -------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an in-memory index to ``path`` atomically (format: :mod:`dedup._index.persist`)."""
        save_index(self._store, {"max_docs": self.max_docs, "max_age": self.max_age}, path)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Unpack[OptionValues]) -> DedupIndex:
        """Read an index written by :meth:`save`.

        Options given here must equal those the index was built with
        (:class:`IncompatibleIndexError` otherwise); a truncated or corrupted
        file raises :class:`IndexFormatError` naming it.
        """
        store, policy = load_index(path, options)
        return cls(max_docs=policy["max_docs"], max_age=policy["max_age"], storage=store)

    def clear(self) -> None:
        """Drop every document (of a Redis index: for every process sharing it)."""
        self._store.clear()

    def close(self) -> None:
        """Release the store's connections (Redis); the in-memory index needs none."""
        self._store.close()

    # -- container protocol ------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.keys())

    def __repr__(self) -> str:
        if isinstance(self._store, MemoryStore):
            return f"DedupIndex(documents={len(self)}, threshold={self.options.threshold})"
        return f"DedupIndex({self._store!r}, threshold={self.options.threshold})"

    # -- the algorithm over the store ---------------------------------------------

    def _candidates(self, view: View, sents: tuple[Sentence, ...], sk: Sketch, start: float) -> _Pairs:
        """Stored documents and candidate pairs ``(new sentence, stored doc, its sentence)`` of ``sents``."""
        rows = np.flatnonzero(sk.eligible)
        if rows.size == 0:
            return [], []
        n_bands = sk.bands.shape[1]
        band, exact = view.lookup(sk.bands[rows].ravel(), MAX_BUCKET, sk.exact[rows], 4 * MAX_EXACT)
        # Bands shared per (new sentence, stored sentence); the window drops whole documents, so
        # counting first and applying the window after keeps the same pairs.
        b_row, b_doc, b_sent, shared = _count_shared(band.query // n_bands, band.doc, band.sentence)
        strong = shared >= MIN_SHARED_BANDS
        b_row, b_doc, b_sent, shared = b_row[strong], b_doc[strong], b_sent[strong], shared[strong]
        docs = np.unique(np.concatenate((b_doc, exact.doc)))
        if docs.size == 0:
            return [], []
        ordinal, ts = view.resolve(docs)
        usable = ts >= start  # NaN (gone meanwhile) is never usable
        b_at, e_at = np.searchsorted(docs, b_doc), np.searchsorted(docs, exact.doc)
        ok = usable[b_at]
        b_row, b_at, b_sent, shared = b_row[ok], b_at[ok], b_sent[ok], shared[ok]
        # The MAX_PER_SENTENCE sharing most bands; ties: the oldest stored sentence.
        order = np.lexsort((b_sent, ordinal[b_at], -shared, b_row))
        top = order[_rank_in_group(b_row[order]) < MAX_PER_SENTENCE]
        # Exact copies: the newest few of each, however many there are (boilerplate).
        ok = usable[e_at]
        e_row, e_at, e_sent = exact.query[ok], e_at[ok], exact.sentence[ok]
        order = np.lexsort((-e_sent, -ordinal[e_at], e_row))
        newest = order[_rank_in_group(e_row[order]) < MAX_EXACT]
        found = set(
            zip(
                rows[np.concatenate((b_row[top], e_row[newest]))].tolist(),
                np.concatenate((b_at[top], e_at[newest])).tolist(),
                np.concatenate((b_sent[top], e_sent[newest])).tolist(),
                strict=True,
            )
        )
        if not found:
            return [], []
        used = sorted({at for _, at, _ in found}, key=lambda at: int(ordinal[at]))
        wanted: dict[int, set[int]] = {at: set() for at in used}
        for _, at, s in found:
            wanted[at].add(s)
        stored = view.stored([int(docs[at]) for at in used], [wanted[at] for at in used])
        index_of = {at: d for d, at in enumerate(used)}
        pairs = sorted((i, index_of[at], s) for i, at, s in found if s < len(stored[index_of[at]].sentences))
        return stored, pairs

    def _apply_policy(self) -> None:
        if self.max_age is None and self.max_docs is None:
            return
        max_age, max_docs = self.max_age, self.max_docs

        def step(view: View) -> None:
            if max_age is not None:
                newest = view.newest()
                if newest is not None:
                    for k in view.older_than(newest - max_age):
                        view.remove(k)
            excess = 0 if max_docs is None else view.count() - max_docs
            if excess > 0:
                for k in view.oldest(excess):
                    view.remove(k)

        self._store.atomic(step)


def _count_shared(
    row: npt.NDArray[np.int64], doc: npt.NDArray[np.int64], sent: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct ``(row, doc, sent)`` triples, sorted, with how often each occurs."""
    if row.size == 0:
        return row, doc, sent, row
    docs, doc_at = np.unique(doc, return_inverse=True)
    width = int(sent.max()) + 1
    codes, counts = np.unique((row * docs.size + doc_at) * width + sent, return_counts=True)
    sent_of, rest = codes % width, codes // width
    return rest // docs.size, docs[rest % docs.size], sent_of, counts.astype(np.int64)


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
        found, topic = segment_with_topic(text)
        sents = tuple(found)
        out.append((key, text, sents, sketch(sents, options, topic)))
    return out
