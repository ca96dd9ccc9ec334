"""A DedupIndex kept in Redis, shared by several scraper processes.

datasketch's Redis storage keeps LSH buckets of *keys*; a scraper needs the
passages and spans back, so this module uses its own layout under one prefix
``dedup:{name}``:

* ``:meta``            build fingerprint (JSON), checked on connect
* ``:docs``            sorted set, document key -> timestamp (eviction, iteration)
* ``:doc:{key}``       hash: ``text``, ``ts``, ``n`` (sentences), ``id`` (insertion
                       number), ``keys`` (the sentences' band and exact keys, raw uint64)
* ``:b:{8 bytes}``     set of ``{key}\\0{sentence}`` per band or exact-copy key
* ``:version``         counter bumped by every write

``add`` is one optimistic transaction: ``WATCH :version``, look up candidates
(one Lua call for all band keys of the article), verify locally, then
``MULTI``/``EXEC`` the insert, bumping ``:version``.  If another process wrote
in between, ``EXEC`` fails and the add is redone against the new state, so two
processes adding near-identical articles can never both see them as new, and
nothing is ever half-written.  Every Redis error becomes :class:`StorageError`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from dedup._cluster.build import Detection
from dedup._cluster.result import Clusters, stream_clusters
from dedup._engine import detect
from dedup._errors import DuplicateKeyError, IncompatibleIndexError, InvalidOptionError, StorageError
from dedup._index.crossmatch import Sketch, StoredDoc, cross_matches, sketch
from dedup._index.index import (
    MAX_BUCKET,
    MAX_EXACT,
    MAX_PER_SENTENCE,
    MIN_SHARED_BANDS,
    check_retention,
    check_time,
    window_start,
)
from dedup._index.persist import fingerprint
from dedup._options import Options
from dedup._text.segment import Sentence, check_text, segment
from dedup._types import Cluster, Doc, Match

__all__ = ["RedisIndex"]

T = TypeVar("T")

# Members of every band set (capped) and of every exact-copy set (a few) in one call.
_LOOKUP = """
local cap, n_bands, n_exact = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i, k in ipairs(KEYS) do
  local n = redis.call('SCARD', k)
  if n == 0 then
    out[i] = {}
  elseif i <= n_bands then
    if n <= cap then out[i] = redis.call('SMEMBERS', k) else out[i] = {} end
  elseif n <= n_exact then
    out[i] = redis.call('SMEMBERS', k)
  else
    out[i] = redis.call('SRANDMEMBER', k, n_exact)
  end
end
return out
"""

# One command for all set writes of a document (instead of one SADD/SREM each).
_SADD = "for i, k in ipairs(KEYS) do redis.call('SADD', k, ARGV[i]) end return #KEYS"
_SREM = "for i, k in ipairs(KEYS) do redis.call('SREM', k, ARGV[i]) end return #KEYS"

_RETRIES = 200
_CACHE = 4096  # segmented documents kept per client


def _redis_module() -> Any:
    try:
        import redis
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the Redis backend needs redis-py: pip install 'dedup[redis]'") from err
    return redis


class RedisIndex:
    """A :class:`~dedup.DedupIndex` whose documents live in Redis (same calls and results).

    Create it with :meth:`dedup.DedupIndex.from_redis`.  Every process using
    the same Redis ``url`` and ``name`` shares the index; ``add`` is atomic
    across processes.  Unreachable Redis or any Redis failure raises
    :class:`~dedup.StorageError`.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "dedup",
        max_docs: int | None = None,
        max_age: float | None = None,
        socket_timeout: float = 10.0,
        **options: Any,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be str, got {type(url).__name__}")
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(f"name must be a non-empty str, got {name!r}")
        self.options = Options(**options)
        self.max_docs, self.max_age = check_retention(max_docs, max_age)
        self.name = name
        self._prefix = f"dedup:{name}".encode()
        self._n_bands = fingerprint(self.options)["lsh_bands"]
        self._cache: OrderedDict[tuple[str, int], tuple[str, tuple[Sentence, ...]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        redis = _redis_module()
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._watch_error: type[BaseException] = redis.exceptions.WatchError
        try:
            self._r = redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=5.0)
        except (ValueError, *self._errors) as err:
            raise StorageError(f"cannot use Redis at {url!r}: {err}") from err
        self._url = url
        self._lookup = self._call(self._r.register_script, _LOOKUP)
        self._sadd = self._call(self._r.register_script, _SADD)
        self._srem = self._call(self._r.register_script, _SREM)
        self._check_fingerprint()

    # -- plumbing ------------------------------------------------------------------

    def _k(self, *parts: bytes | str) -> bytes:
        return b":".join(
            [self._prefix, *(p.encode("utf-8", "surrogatepass") if isinstance(p, str) else p for p in parts)]
        )

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except self._errors as err:
            if isinstance(err, self._watch_error):
                raise
            raise StorageError(f"Redis at {self._url!r} failed: {err}") from err

    def _check_fingerprint(self) -> None:
        fp = fingerprint(self.options)
        fp.pop("library_version")
        mine = json.dumps(fp, sort_keys=True)
        meta = self._k("meta")
        self._call(lambda: self._r.setnx(meta, mine))
        theirs = self._call(lambda: self._r.get(meta))
        if theirs is not None and theirs.decode() != mine:
            raise IncompatibleIndexError(
                f"the Redis index {self.name!r} was built with other settings: {theirs.decode()} "
                f"(this client: {mine})"
            )

    def _band_keys(self, keys: npt.NDArray[np.uint64]) -> list[bytes]:
        """Redis key of each band (or exact-copy) key: the prefix and its 8 little-endian bytes."""
        prefix = self._prefix + b":b:"
        raw = keys.astype("<u8").tobytes()
        return [prefix + raw[n : n + 8] for n in range(0, len(raw), 8)]

    def _member(self, key: str, sent: int) -> bytes:
        return key.encode("utf-8", "surrogatepass") + b"\0" + str(sent).encode()

    # -- lookups -------------------------------------------------------------------

    def _candidates(
        self, sents: tuple[Sentence, ...], sk: Sketch, start: float, skip: str | None
    ) -> tuple[list[StoredDoc], list[tuple[int, int, int]]]:
        rows = np.flatnonzero(sk.eligible)
        if rows.size == 0:
            return [], []
        band = sk.bands[rows].ravel()
        keys = self._band_keys(band) + self._band_keys(sk.exact[rows])
        n_band = band.size
        replies = self._call(lambda: self._lookup(keys=keys, args=[MAX_BUCKET, n_band, MAX_EXACT]))
        counts: dict[tuple[int, bytes, int], int] = {}
        exact: set[tuple[int, bytes, int]] = set()
        for q, members in enumerate(replies):
            if not members:
                continue
            i = int(rows[q // self._n_bands] if q < n_band else rows[q - n_band])
            for m in members:
                doc, _, s = m.rpartition(b"\0")
                c = (i, doc, int(s))
                if q < n_band:
                    counts[c] = counts.get(c, 0) + 1
                else:
                    exact.add(c)
        by_sentence: dict[int, list[tuple[int, bytes, int]]] = {}
        for c, n in counts.items():
            if n >= MIN_SHARED_BANDS:
                by_sentence.setdefault(c[0], []).append((-n, c[1], c[2]))
        found = set(exact)
        for i, cands in by_sentence.items():
            found.update((i, d, s) for _, d, s in sorted(cands)[:MAX_PER_SENTENCE])
        doc_keys = sorted({d for _, d, _ in found})
        if skip is not None:
            doc_keys = [d for d in doc_keys if d != skip.encode("utf-8", "surrogatepass")]
        if not doc_keys:
            return [], []
        docs = self._fetch(doc_keys, start)
        stored: list[StoredDoc] = []
        index_of: dict[bytes, int] = {}
        for d, doc in zip(doc_keys, docs, strict=True):
            if doc is not None:
                index_of[d] = len(stored)
                stored.append(doc)
        pairs = sorted(
            (i, index_of[d], s)
            for i, d, s in found
            if d in index_of and s < len(stored[index_of[d]].sentences)
        )
        return stored, pairs

    def _fetch(self, doc_keys: list[bytes], start: float) -> list[StoredDoc | None]:
        """Stored documents (``None`` for gone or out of the window), segmented via the cache."""
        pipe = self._r.pipeline(transaction=False)
        for d in doc_keys:
            pipe.hmget(self._k("doc", d), "ts", "id")
        heads = self._call(pipe.execute)
        out: list[StoredDoc | None] = [None] * len(doc_keys)
        missing: list[int] = []
        for n, (d, (ts, ident)) in enumerate(zip(doc_keys, heads, strict=True)):
            if ts is None or float(ts) < start:
                continue
            key = d.decode("utf-8", "surrogatepass")
            with self._cache_lock:
                hit = self._cache.get((key, int(ident)))
                if hit is not None:
                    self._cache.move_to_end((key, int(ident)))
            if hit is None:
                missing.append(n)
            else:
                out[n] = StoredDoc(key, hit[0], hit[1], int(ident))
        if missing:
            pipe = self._r.pipeline(transaction=False)
            for n in missing:
                pipe.hmget(self._k("doc", doc_keys[n]), "text", "id")
            for n, (text, ident) in zip(missing, self._call(pipe.execute), strict=True):
                if text is None:
                    continue
                key, body = (
                    doc_keys[n].decode("utf-8", "surrogatepass"),
                    text.decode("utf-8", "surrogatepass"),
                )
                sents = tuple(segment(body))
                self._remember(key, int(ident), body, sents)
                out[n] = StoredDoc(key, body, sents, int(ident))
        return out

    def _remember(self, key: str, ident: int, text: str, sents: tuple[Sentence, ...]) -> None:
        with self._cache_lock:
            self._cache[(key, ident)] = (text, sents)
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)

    # -- the scraper's calls -----------------------------------------------------------

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
        """Check ``text`` against the shared index, then store it; atomic across processes.

        Same parameters and results as :meth:`dedup.DedupIndex.add`.
        """
        if not isinstance(key, str):
            raise TypeError(f"key must be str, got {type(key).__name__}")
        check_text(text)
        ts = time.time() if timestamp is None else check_time("timestamp", timestamp)
        start = window_start(since, window, ts)
        sents = tuple(segment(text))
        sk = sketch(sents, self.options)
        rows = np.flatnonzero(sk.eligible)
        all_keys = np.concatenate((sk.bands, sk.exact[:, None]), axis=1) if len(sents) else sk.bands
        set_keys = self._band_keys(all_keys[rows].ravel())
        width = all_keys.shape[1]
        set_members = [m for m in map(self._member, [key] * rows.size, rows.tolist()) for _ in range(width)]
        doc_k = self._k("doc", key)
        for _ in range(_RETRIES):
            try:
                with self._r.pipeline() as pipe:
                    self._call(pipe.watch, self._k("version"))
                    version = int(self._call(pipe.get, self._k("version")) or 0)
                    old = self._call(pipe.hget, doc_k, "keys")
                    if old is not None and not replace:
                        raise DuplicateKeyError(
                            f"key {key!r} is already in the index (pass replace=True to overwrite)"
                        )
                    stored, pairs = self._candidates(sents, sk, start, skip=key if old is not None else None)
                    matches = cross_matches(key, text, sents, stored, pairs, self.options)
                    pipe.multi()
                    pipe.incr(self._k("version"))
                    if old is not None:
                        self._queue_removal(pipe, key, old)
                    pipe.hset(
                        doc_k,
                        mapping={
                            "text": text.encode("utf-8", "surrogatepass"),
                            "ts": repr(ts),
                            "n": len(sents),
                            "id": version + 1,
                            "keys": all_keys[rows].tobytes() + rows.astype(np.int64).tobytes(),
                        },
                    )
                    pipe.zadd(self._k("docs"), {key.encode("utf-8", "surrogatepass"): ts})
                    if set_keys:
                        self._sadd(keys=set_keys, args=set_members, client=pipe)
                    self._call(pipe.execute)
                self._remember(key, version + 1, text, sents)
                break
            except self._watch_error:
                continue
        else:
            raise StorageError(f"add({key!r}) kept conflicting with other writers ({_RETRIES} tries)")
        self._apply_policy()
        return matches

    def _queue_removal(self, pipe: Any, key: str, packed: bytes) -> None:
        width = self._n_bands + 1
        n = len(packed) // (8 * (width + 1))
        keys = np.frombuffer(packed[: n * width * 8], dtype=np.uint64).reshape(n, width)
        rows = np.frombuffer(packed[n * width * 8 :], dtype=np.int64)
        set_keys = self._band_keys(keys.ravel())
        members = [self._member(key, r) for r in rows.tolist() for _ in range(width)]
        if set_keys:
            self._srem(keys=set_keys, args=members, client=pipe)
        pipe.delete(self._k("doc", key))
        pipe.zrem(self._k("docs"), key.encode("utf-8", "surrogatepass"))

    def query(self, text: str, *, since: float | None = None, window: float | None = None) -> list[Match]:
        """Passages of ``text`` already in the shared index, without storing it."""
        check_text(text)
        start = window_start(since, window, time.time())
        sents = tuple(segment(text))
        sk = sketch(sents, self.options)
        stored, pairs = self._candidates(sents, sk, start, skip=None)
        return cross_matches(None, text, sents, stored, pairs, self.options)

    def _remove_keys(self, keys: list[str], *, missing_ok: bool) -> list[str]:
        for _ in range(_RETRIES):
            try:
                with self._r.pipeline() as pipe:
                    self._call(pipe.watch, self._k("version"))
                    packed = [self._call(pipe.hget, self._k("doc", k), "keys") for k in keys]
                    if not missing_ok and any(p is None for p in packed):
                        raise KeyError(keys[0])
                    gone = [k for k, p in zip(keys, packed, strict=True) if p is not None]
                    pipe.multi()
                    pipe.incr(self._k("version"))
                    for k, p in zip(keys, packed, strict=True):
                        if p is not None:
                            self._queue_removal(pipe, k, p)
                    self._call(pipe.execute)
                return gone
            except self._watch_error:
                continue
        raise StorageError(f"removing {len(keys)} documents kept conflicting with other writers")

    def remove(self, key: str) -> None:
        """Drop the document stored under ``key`` (``KeyError`` if absent)."""
        if not isinstance(key, str):
            raise TypeError(f"key must be str, got {type(key).__name__}")
        self._remove_keys([key], missing_ok=False)

    def evict(self, older_than: float) -> list[str]:
        """Drop every document with a timestamp before ``older_than``; return their keys."""
        limit = check_time("older_than", older_than)
        raw = self._call(lambda: self._r.zrangebyscore(self._k("docs"), "-inf", f"({limit!r}"))
        keys = [k.decode("utf-8", "surrogatepass") for k in raw]
        return self._remove_keys(keys, missing_ok=True) if keys else []

    def _apply_policy(self) -> None:
        if self.max_age is not None:
            newest = self._call(lambda: self._r.zrange(self._k("docs"), -1, -1, withscores=True))
            if newest:
                self.evict(newest[0][1] - self.max_age)
        if self.max_docs is not None:
            excess = len(self) - self.max_docs
            if excess > 0:
                raw = self._call(lambda: self._r.zrange(self._k("docs"), 0, excess - 1))
                self._remove_keys([k.decode("utf-8", "surrogatepass") for k in raw], missing_ok=True)

    def text(self, key: str) -> str:
        """The text stored under ``key``."""
        raw = self._call(lambda: self._r.hget(self._k("doc", key), "text"))
        if raw is None:
            raise KeyError(key)
        return str(raw.decode("utf-8", "surrogatepass"))

    def timestamp(self, key: str) -> float:
        """The timestamp stored with ``key``."""
        raw = self._call(lambda: self._r.zscore(self._k("docs"), key.encode("utf-8", "surrogatepass")))
        if raw is None:
            raise KeyError(key)
        return float(raw)

    def clusters(self) -> Clusters:
        """Clusters over every stored document (in insertion order), as the detector finds them."""
        detection = self._detection()
        if detection is None:
            return Clusters(threshold=self.options.threshold)
        return Clusters._from_detection(detection, self.options.threshold)

    def iter_clusters(self) -> Iterator[Cluster]:
        """The clusters of :meth:`clusters`, one group of linked documents at a time.

        As :meth:`DedupIndex.iter_clusters`: groups in the order of their first
        document, each group's clusters best first.
        """
        return stream_clusters(self._detection(), self.options.threshold)

    def _detection(self) -> Detection | None:
        keys = list(self)
        pipe = self._r.pipeline(transaction=False)
        for k in keys:
            pipe.hmget(self._k("doc", k), "text", "id")
        rows = [
            (int(ident), k, text.decode("utf-8", "surrogatepass"))
            for k, (text, ident) in zip(keys, self._call(pipe.execute), strict=True)
            if text is not None
        ]
        rows.sort()
        docs = [Doc(k, text, n) for n, (_, k, text) in enumerate(rows)]
        return detect(docs, self.options) if docs else None

    def clear(self) -> None:
        """Delete every Redis key of this index (all processes lose it)."""

        def run() -> None:
            batch = list(self._r.scan_iter(match=self._prefix + b":*", count=1000))
            for n in range(0, len(batch), 1000):
                self._r.delete(*batch[n : n + 1000])

        self._call(run)
        self._check_fingerprint()

    def close(self) -> None:
        """Release the connection pool."""
        self._call(self._r.close)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return bool(self._call(lambda: self._r.exists(self._k("doc", key))))

    def __len__(self) -> int:
        return int(self._call(lambda: self._r.zcard(self._k("docs"))))

    def __iter__(self) -> Iterator[str]:
        raw = self._call(lambda: self._r.zrange(self._k("docs"), 0, -1))
        return iter([k.decode("utf-8", "surrogatepass") for k in raw])

    def __repr__(self) -> str:
        return f"RedisIndex(name={self.name!r}, url={self._url!r}, threshold={self.options.threshold})"
