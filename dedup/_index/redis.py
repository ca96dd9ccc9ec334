"""The Redis store of :class:`~dedup.DedupIndex`: one index shared by several scraper processes.

datasketch's Redis storage keeps LSH buckets of *keys*; a scraper needs the
passages and spans back, so this module uses its own layout under one prefix
``dedup:{name}``:

* ``:meta``            settings (JSON): the build fingerprint and the retention
                       (``max_docs``, ``max_age``), checked on connect and by every write
* ``:docs``            sorted set, document key -> timestamp (eviction, iteration)
* ``:doc:{key}``       hash: ``text``, ``ts``, ``n`` (sentences), ``id`` (insertion
                       number: the document's ordinal), ``keys`` (the sentences' band
                       and exact keys, raw uint64, then the sentence numbers, int64)
* ``:b:{8 bytes}``     set of ``{key}\\0{sentence}`` per band or exact-copy key
* ``:x:{8 bytes}``     for an exact-copy key with more copies than a lookup takes,
                       its set again as a sorted set scored ``id * 2**20 + sentence``
                       (the newest copies first, without reading them all); made by
                       the first lookup that needs it, kept by later writes, and
                       rebuilt from ``:b:`` when its size differs (a dedup without
                       it wrote meanwhile)
* ``:version``         counter bumped by every write (ids come from it)
* ``:w:{token}``       written by each write transaction with a random token of its
                       own, expiring after ``_TOKEN_TTL`` seconds: the try it names was applied

An atomic step is one optimistic transaction: ``WATCH :version :meta``, read
the version and the settings (one ``MGET``; other settings raise
:class:`IncompatibleIndexError`; none, after a ``FLUSHALL`` or a restart
without persistence, are written with the step), the band keys of an article
(one Lua call), then ``MULTI``/``EXEC`` the writes, bumping ``:version``.  If
another process wrote in between, ``EXEC`` fails and the step is redone against
the new state, so two processes adding near-identical articles can never both
see them as new, and nothing is ever half-written.

When the connection drops during ``EXEC``, the server may have applied the
transaction without its reply arriving: the redo first looks for the write's
token and, if found, returns the applied try's result instead of running again
(which would report the document as a duplicate of itself).  A timeout is not
waited out: it raises :class:`StorageError` saying that the write may have been
applied.  Every Redis error becomes :class:`StorageError`; a damaged value (a
version or id that is not an integer, text that is not UTF-8) becomes
:class:`IndexFormatError` naming its Redis key.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import urllib.parse
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from dedup._errors import IncompatibleIndexError, IndexFormatError, InvalidOptionError, StorageError
from dedup._index.crossmatch import Sketch, StoredDoc
from dedup._index.store import Document, Hits, fingerprint
from dedup._options import VERIFY_ONLY, Options
from dedup._text.segment import Sentence, segment
from dedup._version import install_hint

__all__ = ["RedisStore"]

T = TypeVar("T")
I64 = npt.NDArray[np.int64]

# Members of every band set with at most ARGV[1] members (ARGV[5..]: members of a document being
# replaced, not counted), and the newest ARGV[3] members of every exact-copy set.  KEYS: the
# ARGV[2] band sets, then the exact sets, then their sorted twins.
_LOOKUP = """
local cap, n_bands, limit, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local n_exact = (#KEYS - n_bands) / 2
local out = {}
for i = 1, n_bands do
  local n = redis.call('SCARD', KEYS[i]) - tonumber(ARGV[4 + i] or 0)
  if n > 0 and n <= cap then out[i] = redis.call('SMEMBERS', KEYS[i]) else out[i] = {} end
end
for j = 1, n_exact do
  local s, z = KEYS[n_bands + j], KEYS[n_bands + n_exact + j]
  local skip = tonumber(ARGV[4 + n_bands + j] or 0)
  local n = redis.call('SCARD', s)
  if n == 0 then
    out[n_bands + j] = {}
  elseif n <= limit + skip then
    out[n_bands + j] = redis.call('SMEMBERS', s)
  else
    if redis.call('ZCARD', z) ~= n then
      redis.call('DEL', z)
      for _, m in ipairs(redis.call('SMEMBERS', s)) do
        local key, sent = string.match(m, '^(.*)%z(%d+)$')
        local id = key and redis.call('HGET', prefix .. ':doc:' .. key, 'id')
        redis.call('ZADD', z, id and (tonumber(id) * 1048576 + tonumber(sent)) or 0, m)
      end
    end
    out[n_bands + j] = redis.call('ZREVRANGE', z, 0, limit + skip - 1)
  end
end
return out
"""

# One command for all set writes of a document (instead of one SADD/SREM each).
_SADD = "for i, k in ipairs(KEYS) do redis.call('SADD', k, ARGV[i]) end return #KEYS"
_SREM = "for i, k in ipairs(KEYS) do redis.call('SREM', k, ARGV[i]) end return #KEYS"
# Sorted twins exist only for exact-copy keys with many copies (the lookup makes them): add to those.
_ZADD = """
local h = #KEYS
for i = 1, h do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('ZADD', KEYS[i], ARGV[i], ARGV[h + i]) end
end
return h
"""
_ZREM = "for i, k in ipairs(KEYS) do redis.call('ZREM', k, ARGV[i]) end return #KEYS"

_RETRIES = 200
_DROPPED = 3  # connections lost during one write before giving up
_TOKEN_TTL = 600  # seconds a write's token is kept: for its own retries, which come within seconds
_CACHE = 4096  # segmented documents kept per client
_SENTENCE_BITS = 20  # sentence numbers in an exact-copy score


def _redis_module() -> Any:
    try:
        import redis
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"the Redis backend needs redis-py: {install_hint('redis')}") from err
    return redis


def _utf8(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def _redact(url: str) -> str:
    """``url`` as messages and reprs show it: user name and password, and ``password=`` values, as ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<a Redis URL that cannot be parsed>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = re.sub(r"(?i)((?:^|[&;])[^=&;]*pass[^=&;]*=)[^&;]*", r"\1***", parts.query)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def _secrets(url: str) -> list[str]:
    """The credentials in ``url`` as they may appear in a message: raw and unquoted."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.netloc.rpartition("@")[0]] if "@" in parts.netloc else []
    found += [found[0].partition(":")[2]] if found else []  # the password (a lone user name may be one too)
    found += re.findall(r"(?i)(?:^|[&;])[^=&;]*pass[^=&;]*=([^&;]*)", parts.query)
    found += [urllib.parse.unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


_MISSING = object()


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings with nested ones (``options``) brought up: field name -> value."""
    out: dict[str, Any] = {}
    for k, v in settings.items():
        out.update(_flat(v) if isinstance(v, dict) else {k: v})
    return out


def _shown(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


class RedisStore:
    """Documents in Redis at ``url`` under ``dedup:{name}``: a :class:`~dedup._index.store.Store`."""

    def __init__(
        self,
        url: str,
        options: Options,
        *,
        name: str = "dedup",
        socket_timeout: float = 10.0,
        max_docs: int | None = None,
        max_age: float | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be str, got {type(url).__name__}")
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(f"name must be a non-empty str, got {name!r}")
        self.options = options
        self.name = name
        self._prefix = f"dedup:{name}".encode()
        self._n_bands = fingerprint(options)["lsh_bands"]
        self._settings = {**fingerprint(options), "max_docs": max_docs, "max_age": max_age}
        del self._settings["library_version"]
        # Verification settings are each client's own: nothing stored depends on them.
        self._settings["options"] = {
            k: v for k, v in self._settings["options"].items() if k not in VERIFY_ONLY
        }
        self._meta = json.dumps(self._settings, sort_keys=True).encode()
        self._cache: OrderedDict[tuple[str, int], tuple[str, tuple[Sentence, ...]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        redis = _redis_module()
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._watch_error: type[BaseException] = redis.exceptions.WatchError
        self._dropped: type[BaseException] = redis.exceptions.ConnectionError
        self._url = _redact(url)  # the only form kept: credentials never reach a message or repr
        self._secrets = _secrets(url)
        try:
            self._r = redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=5.0)
        except (ValueError, *self._errors) as err:
            raise StorageError(f"cannot use Redis at {self._url!r}: {self._scrub(err)}") from None
        self._lookup = self._call(self._r.register_script, _LOOKUP)
        self._sadd = self._call(self._r.register_script, _SADD)
        self._srem = self._call(self._r.register_script, _SREM)
        self._zadd = self._call(self._r.register_script, _ZADD)
        self._zrem = self._call(self._r.register_script, _ZREM)
        self._check_fingerprint()

    # -- plumbing ------------------------------------------------------------------

    def _k(self, *parts: bytes | str) -> bytes:
        return b":".join([self._prefix, *(_utf8(p) if isinstance(p, str) else p for p in parts)])

    def _scrub(self, err: BaseException) -> str:
        """``err``'s message without the URL's credentials (redis-py's messages should hold none)."""
        text = str(err)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _damaged(self, key: bytes, what: str) -> IndexFormatError:
        return IndexFormatError(f"the Redis index {self.name!r} is damaged: {_shown(key)} {what}")

    def _int(self, raw: bytes, key: bytes, field: str) -> int:
        try:
            return int(raw)
        except ValueError:
            raise self._damaged(key, f"holds {field} {raw!r:.40}, not an integer") from None

    def _float(self, raw: bytes, key: bytes, field: str) -> float:
        try:
            return float(raw)
        except ValueError:
            raise self._damaged(key, f"holds {field} {raw!r:.40}, not a number") from None

    def _str(self, raw: bytes, key: bytes, field: str) -> str:
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as err:
            raise self._damaged(
                key, f"holds {field} that is not UTF-8 text ({err.reason} at byte {err.start})"
            ) from None

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except self._errors as err:
            if isinstance(err, self._watch_error):
                raise
            raise StorageError(f"Redis at {self._url!r} failed: {self._scrub(err)}") from err

    def _check_fingerprint(self) -> None:
        meta = self._k("meta")
        self._call(lambda: self._r.setnx(meta, self._meta))
        self._check_settings(self._call(lambda: self._r.get(meta)))

    def _check_settings(self, stored: bytes | None) -> bool:
        """Whether the index's stored settings must be written (none stored); raise if they differ from ours.

        Settings stored before retention was part of them count as ours, to be completed.
        """
        if stored == self._meta:
            return False
        if stored is None:
            return True
        meta = self._k("meta")
        try:
            theirs = json.loads(stored)
        except ValueError:
            raise self._damaged(meta, f"holds {stored!r:.60}, not the index's settings") from None
        if not isinstance(theirs, dict):
            raise self._damaged(meta, f"holds {stored!r:.60}, not the index's settings")
        mine, theirs = _flat(self._settings), _flat(theirs)
        older = "max_docs" not in theirs and "max_age" not in theirs
        differ = [
            f"{k} {theirs.get(k, 'not stored')!r} (this client: {mine.get(k, 'not set')!r})"
            for k in sorted(mine.keys() | theirs.keys())
            if theirs.get(k, _MISSING) != mine.get(k, _MISSING)
            and not (older and k in ("max_docs", "max_age"))
            and k not in VERIFY_ONLY  # stored by earlier versions
        ]
        if differ:
            raise IncompatibleIndexError(
                f"the Redis index {self.name!r} was built with other settings: {', '.join(differ)}"
            )
        return older

    def _set_keys(self, keys: npt.NDArray[np.uint64], kind: bytes = b"b") -> list[bytes]:
        """Redis key of each band (or exact-copy) key: the prefix and its 8 little-endian bytes."""
        prefix = self._prefix + b":" + kind + b":"
        raw = keys.astype("<u8").tobytes()
        return [prefix + raw[n : n + 8] for n in range(0, len(raw), 8)]

    def _unpack(self, key: str, packed: bytes) -> tuple[npt.NDArray[np.uint64], I64]:
        """A document's stored ``keys`` field: its sentences' keys (one row each) and sentence numbers."""
        width = self._n_bands + 1
        n = len(packed) // (8 * (width + 1))
        if len(packed) != n * 8 * (width + 1):
            raise self._damaged(self._k("doc", key), f"holds sentence keys of {len(packed)} bytes")
        keys = np.frombuffer(packed[: n * width * 8], dtype=np.uint64).reshape(n, width)
        return keys, np.frombuffer(packed[n * width * 8 :], dtype=np.int64)

    def _remember(self, key: str, ident: int, text: str, sents: tuple[Sentence, ...]) -> None:
        with self._cache_lock:
            self._cache[(key, ident)] = (text, sents)
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)

    def _recall(self, key: str, ident: int) -> tuple[str, tuple[Sentence, ...]] | None:
        with self._cache_lock:
            hit = self._cache.get((key, ident))
            if hit is not None:
                self._cache.move_to_end((key, ident))
            return hit

    def _ids(self, raw_keys: list[bytes]) -> list[int | None]:
        """Insertion ids of documents (``None``: gone)."""
        pipe = self._r.pipeline(transaction=False)
        for d in raw_keys:
            pipe.hget(self._k("doc", d), "id")
        return [
            None if i is None else self._int(i, self._k("doc", d), "id")
            for d, i in zip(raw_keys, self._call(pipe.execute), strict=True)
        ]

    def _in_order(self, raw: list[tuple[bytes, float]]) -> list[str]:
        """Keys of ``(key, timestamp)`` pairs ordered by timestamp, then insertion."""
        ids = self._ids([k for k, _ in raw]) if len(raw) > 1 else [0] * len(raw)
        rows = sorted((ts, -1 if i is None else i, k) for (k, ts), i in zip(raw, ids, strict=True))
        return [self._str(k, self._k("docs"), "a document key") for _, _, k in rows]

    # -- Store -----------------------------------------------------------------------

    def atomic(self, step: Callable[[_RedisView], T]) -> T:
        version, meta = self._k("version"), self._k("meta")
        token = self._k("w", os.urandom(12).hex())
        # Result and new documents of each try that sent its EXEC: its reply may be lost after the
        # server applied it, so later tries look for ``token``, which names the try that was applied.
        sent: list[tuple[T, list[tuple[str, int, str, tuple[Sentence, ...]]]]] = []
        dropped = 0
        for _ in range(_RETRIES):
            pipe = self._r.pipeline()
            broken = False
            try:
                pipe.watch(version, meta)
                stored = pipe.mget(version, meta, token) if sent else pipe.mget(version, meta)
                if sent and stored[2] is not None:
                    result, fresh = sent[self._int(stored[2], token, "a try number")]
                else:
                    claim = self._check_settings(stored[1])
                    view = _RedisView(
                        self, pipe, 0 if stored[0] is None else self._int(stored[0], version, "the version")
                    )
                    result, fresh = step(view), view.fresh
                    if view.writes:
                        pipe.multi()
                        pipe.incrby(version, max(1, view.puts))
                        if claim:
                            pipe.set(meta, self._meta)
                        for write in view.writes:
                            write(pipe)
                        pipe.set(token, len(sent), ex=_TOKEN_TTL)
                        sent.append((result, fresh))
                        pipe.execute()
            except self._watch_error:
                continue  # another write came first, or the connection dropped while watching
            except self._dropped as err:
                broken = True
                dropped += 1
                if sent and dropped <= _DROPPED:
                    continue
                raise self._failure(err, sent=bool(sent)) from err
            except self._errors as err:
                broken = True
                raise self._failure(err, sent=bool(sent)) from err
            finally:
                self._release(pipe, broken)
            for args in fresh:
                self._remember(*args)
            return result
        raise StorageError(
            f"a write to the Redis index {self.name!r} kept conflicting with others ({_RETRIES} tries)"
        )

    def _failure(self, err: BaseException, *, sent: bool) -> StorageError:
        unsure = "; the write may have been applied" if sent else ""
        return StorageError(f"Redis at {self._url!r} failed: {self._scrub(err)}{unsure}")

    def _release(self, pipe: Any, broken: bool) -> None:
        """End ``pipe``'s WATCH, return its connection; a broken one is closed rather than sent UNWATCH."""
        try:
            if broken and pipe.connection is not None:
                pipe.connection.disconnect()
                pipe.watching = False  # closing the connection ended the WATCH
            pipe.reset()
        except self._errors:  # UNWATCH failed: close the connection instead
            if pipe.connection is not None:
                pipe.connection.disconnect()
            pipe.watching = False
            pipe.reset()

    def read(self, step: Callable[[_RedisView], T]) -> T:
        return step(_RedisView(self, None))

    def lock(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def __len__(self) -> int:
        return int(self._call(lambda: self._r.zcard(self._k("docs"))))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return bool(self._call(lambda: self._r.exists(self._k("doc", key))))

    def keys(self) -> list[str]:
        raw = self._call(lambda: self._r.zrange(self._k("docs"), 0, -1))
        ids = self._ids(raw)
        docs = self._k("docs")
        live = sorted((i, k) for i, k in zip(ids, raw, strict=True) if i is not None)
        return [self._str(k, docs, "a document key") for _, k in live]

    def text(self, key: str) -> str:
        raw = self._call(lambda: self._r.hget(self._k("doc", key), "text"))
        if raw is None:
            raise KeyError(key)
        return self._str(raw, self._k("doc", key), "text")

    def timestamp(self, key: str) -> float:
        raw = self._call(lambda: self._r.zscore(self._k("docs"), _utf8(key)))
        if raw is None:
            raise KeyError(key)
        return float(raw)

    def documents(self) -> list[Document]:
        keys = self._call(lambda: self._r.zrange(self._k("docs"), 0, -1))
        pipe = self._r.pipeline(transaction=False)
        for k in keys:
            pipe.hmget(self._k("doc", k), "text", "id")
        rows = []
        for k, (text, ident) in zip(keys, self._call(pipe.execute), strict=True):
            if text is not None:
                doc = self._k("doc", k)
                rows.append(
                    (self._int(ident, doc, "id"), self._str(k, self._k("docs"), "a document key"), text, doc)
                )
        rows.sort(key=lambda row: row[0])
        return [Document(k, self._str(text, doc, "text"), None) for _, k, text, doc in rows]

    def clear(self) -> None:
        """Delete every Redis key of this index (all processes lose it)."""

        def run() -> None:
            batch = list(self._r.scan_iter(match=self._prefix + b":*", count=1000))
            for n in range(0, len(batch), 1000):
                self._r.delete(*batch[n : n + 1000])

        self._call(run)
        self._check_fingerprint()

    def close(self) -> None:
        self._call(self._r.close)

    def __repr__(self) -> str:
        return f"RedisStore(name={self.name!r}, url={self._url!r})"


class _RedisView:
    """One transaction's reads (immediate, under ``WATCH``) and writes (queued for ``EXEC``)."""

    def __init__(self, store: RedisStore, pipe: Any, version: int = 0) -> None:
        self.s = store
        self.pipe = pipe
        self.writes: list[Callable[[Any], None]] = []
        self.puts = 0
        self.fresh: list[tuple[str, int, str, tuple[Sentence, ...]]] = []
        self.version = version  # of the index when the transaction began (0 when reading only)
        self._packed: dict[str, bytes | None] = {}
        self._removed: dict[bytes, Counter[int]] = {}  # document -> its set keys (removed in this step)
        self._refs: list[bytes] = []
        self._ref_of: dict[bytes, int] = {}
        self._ids: dict[int, int] = {}

    # -- reads -----------------------------------------------------------------------

    def _packed_keys(self, key: str) -> bytes | None:
        if key not in self._packed:
            hget = self.pipe.hget if self.pipe is not None else self.s._r.hget
            self._packed[key] = self.s._call(hget, self.s._k("doc", key), "keys")
        return self._packed[key]

    def has(self, key: str) -> bool:
        return _utf8(key) not in self._removed and self._packed_keys(key) is not None

    def lookup(
        self, bands: npt.NDArray[np.uint64], max_bucket: int, exact: npt.NDArray[np.uint64], limit: int
    ) -> tuple[Hits, Hits]:
        s = self.s
        values = [*bands.tolist(), *exact.tolist()]
        skip = [sum(c[v] for c in self._removed.values()) for v in values] if self._removed else []
        keys = [*s._set_keys(bands), *s._set_keys(exact), *s._set_keys(exact, b"x")]
        args = [max_bucket, bands.size, limit, s._prefix, *skip]
        replies = s._call(lambda: s._lookup(keys=keys, args=args))
        n = bands.size
        return self._hits(replies[:n], None, keys[:n]), self._hits(replies[n:], limit, keys[n:])

    def _hits(self, replies: list[list[bytes]], limit: int | None, set_keys: list[bytes]) -> Hits:
        """Entries of the lookup's replies; ``limit``: at most that many of each (the newest come first)."""
        q: list[int] = []
        docs: list[int] = []
        sents: list[int] = []
        removed = self._removed
        n, m = 0, b""
        try:
            for n, members in enumerate(replies):
                taken = 0
                for m in members:
                    doc, _, sent = m.rpartition(b"\0")
                    if doc in removed:
                        continue
                    if taken == limit:
                        break
                    taken += 1
                    ref = self._ref_of.get(doc)
                    if ref is None:
                        ref = self._ref_of[doc] = len(self._refs)
                        self._refs.append(doc)
                    q.append(n)
                    docs.append(ref)
                    sents.append(int(sent))
        except ValueError:
            raise self.s._damaged(set_keys[n], f"holds {m!r:.60}, not a key and a sentence number") from None
        return Hits(
            np.array(q, dtype=np.int64), np.array(docs, dtype=np.int64), np.array(sents, dtype=np.int64)
        )

    def resolve(self, docs: I64) -> tuple[I64, npt.NDArray[np.float64]]:
        s = self.s
        pipe = s._r.pipeline(transaction=False)
        for ref in docs.tolist():
            pipe.hmget(s._k("doc", self._refs[ref]), "ts", "id")
        ordinal = np.zeros(docs.size, dtype=np.int64)
        ts = np.full(docs.size, math.nan)
        for n, (ref, (stamp, ident)) in enumerate(zip(docs.tolist(), s._call(pipe.execute), strict=True)):
            if stamp is not None:
                doc = s._k("doc", self._refs[ref])
                ordinal[n], ts[n] = s._int(ident, doc, "id"), s._float(stamp, doc, "timestamp")
                self._ids[ref] = int(ordinal[n])
        return ordinal, ts

    def stored(self, docs: Sequence[int], wanted: Sequence[set[int]] | None = None) -> list[StoredDoc]:
        s = self.s
        out: list[StoredDoc | None] = [None] * len(docs)
        missing: list[int] = []
        for n, ref in enumerate(docs):
            key, ident = self._key(ref), self._ids[ref]
            hit = s._recall(key, ident)
            if hit is None:
                missing.append(n)
            else:
                out[n] = StoredDoc(key, hit[0], hit[1], ident)
        if missing:
            pipe = s._r.pipeline(transaction=False)
            for n in missing:
                pipe.hget(s._k("doc", self._refs[docs[n]]), "text")
            for n, text in zip(missing, s._call(pipe.execute), strict=True):
                key, ident = self._key(docs[n]), self._ids[docs[n]]
                body = "" if text is None else s._str(text, s._k("doc", self._refs[docs[n]]), "text")
                sents = tuple(segment(body))  # gone meanwhile: no sentences, so no pairs
                if text is not None:
                    s._remember(key, ident, body, sents)
                out[n] = StoredDoc(key, body, sents, ident)
        return [d for d in out if d is not None]

    def _key(self, ref: int) -> str:
        return self.s._str(self._refs[ref], self.s._k("doc", self._refs[ref]), "a key")

    def count(self) -> int:
        return len(self.s) - len(self._removed) + self.puts

    def newest(self) -> float | None:
        newest = self.s._call(lambda: self.s._r.zrange(self.s._k("docs"), -1, -1, withscores=True))
        return float(newest[0][1]) if newest else None

    def older_than(self, limit: float) -> list[str]:
        s = self.s
        raw = s._call(lambda: s._r.zrangebyscore(s._k("docs"), "-inf", f"({limit!r}", withscores=True))
        return [k for k in s._in_order(raw) if _utf8(k) not in self._removed]

    def oldest(self, n: int) -> list[str]:
        s = self.s
        head = s._call(lambda: s._r.zrange(s._k("docs"), 0, n + len(self._removed) - 1, withscores=True))
        head = [(k, ts) for k, ts in head if k not in self._removed]
        if not head:
            return []
        edge = head[-1][1]  # documents with the same timestamp go in insertion order
        ties = s._call(lambda: s._r.zrangebyscore(s._k("docs"), edge, edge, withscores=True))
        raw = [(k, ts) for k, ts in head if ts < edge] + [(k, ts) for k, ts in ties if k not in self._removed]
        return s._in_order(raw)[:n]

    # -- writes (queued) ------------------------------------------------------------------

    def put(
        self, key: str, text: str, timestamp: float, sentences: tuple[Sentence, ...], sketch: Sketch
    ) -> None:
        s = self.s
        self.puts += 1
        ident = self.version + self.puts
        rows = np.flatnonzero(sketch.eligible)
        all_keys = (
            np.concatenate((sketch.bands, sketch.exact[:, None]), axis=1) if len(sentences) else sketch.bands
        )
        mine = all_keys[rows]
        set_keys = s._set_keys(mine.ravel())
        width = all_keys.shape[1]
        doc = _utf8(key)
        members = [doc + b"\0" + str(r).encode() for r in rows.tolist()]
        set_members = [m for m in members for _ in range(width)]
        exact_keys = s._set_keys(mine[:, -1], b"x") if rows.size else []
        scores = [ident * (1 << _SENTENCE_BITS) + r for r in rows.tolist()]
        if rows.size and int(rows[-1]) >= 1 << _SENTENCE_BITS:
            raise InvalidOptionError(f"document {key!r} has more than {1 << _SENTENCE_BITS} sentences")
        fields = {
            "text": _utf8(text),
            "ts": repr(timestamp),
            "n": len(sentences),
            "id": ident,
            "keys": mine.tobytes() + rows.astype(np.int64).tobytes(),
        }

        def write(pipe: Any) -> None:
            pipe.hset(s._k("doc", key), mapping=fields)
            pipe.zadd(s._k("docs"), {doc: timestamp})
            if set_keys:
                s._sadd(keys=set_keys, args=set_members, client=pipe)
                s._zadd(keys=exact_keys, args=[*scores, *members], client=pipe)

        self.writes.append(write)
        self.fresh.append((key, ident, text, sentences))

    def put_batch(self, docs: Sequence[tuple[str, str, float, tuple[Sentence, ...], Sketch]]) -> None:
        for doc in docs:
            self.put(*doc)

    def remove(self, key: str) -> None:
        s = self.s
        packed = self._packed_keys(key)
        if packed is None or _utf8(key) in self._removed:
            raise KeyError(key)
        keys, rows = s._unpack(key, packed)
        doc = _utf8(key)
        self._removed[doc] = Counter(keys.ravel().tolist())
        set_keys = s._set_keys(keys.ravel())
        members = [doc + b"\0" + str(r).encode() for r in rows.tolist()]
        exact_keys = s._set_keys(keys[:, -1], b"x") if rows.size else []

        def write(pipe: Any) -> None:
            if set_keys:
                s._srem(keys=set_keys, args=[m for m in members for _ in range(keys.shape[1])], client=pipe)
                s._zrem(keys=exact_keys, args=members, client=pipe)
            pipe.delete(s._k("doc", key))
            pipe.zrem(s._k("docs"), doc)

        self.writes.append(write)
