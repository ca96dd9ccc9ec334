"""The Redis store of :class:`~dedup.DedupIndex`: one index shared by several scraper processes.

datasketch's Redis storage keeps LSH buckets of *keys*, one Redis set per
bucket; a scraper needs the passages and spans back, and one Redis key per band
key costs more than the text it protects (layout 1 used 78 bytes of
``used_memory`` per character of text).  This module packs the band table into
few keys in Redis's compact encodings, under one prefix ``dedup:{name}``
(layout 2):

* ``:meta``            settings (JSON): the build fingerprint, the retention
                       (``max_docs``, ``max_age``) and ``layout``, checked on connect and by every write
* ``:docs``            sorted set, document key -> timestamp (eviction, iteration)
* ``:doc:{key}``       hash: ``text``, ``ts``, ``id`` (the document's ordinal: its
                       insertion number) and ``sum`` (8 bytes: a digest of its sentences' keys)
* ``:o:{id // 128}``   hash, ordinal -> document key (128 documents a hash: listpack-encoded)
* ``:h:{n}``           bucket ``n`` of the band table, a hash: band or exact-copy key
                       (8 little-endian bytes) -> the ids of the stored sentences under it,
                       8 bytes each (``id << 24 | sentence``, big-endian), oldest first;
                       ``""`` when they are in ``:v:``.  Each hash holds ~``_LOAD`` keys
                       of at most ``_INLINE`` bytes, so it stays listpack-encoded at the
                       default ``hash-max-listpack-entries``/``-value`` (128/64)
* ``:v:{8 bytes}``     the ids of a key with more than ``_INLINE // 8`` sentences (boilerplate), a string
* ``:lh``              the band table's linear-hashing state: ``L`` (level), ``p``
                       (split pointer) and ``F`` (keys stored); key ``k`` (its low 32 bits
                       ``u``) is in bucket ``u mod 2**L``, or ``u mod 2**(L+1)`` when that is
                       below ``p``.  Writes split bucket ``p`` whenever ``F`` exceeds
                       ``_LOAD`` times the buckets, so a lookup reads one small hash per key
                       at any index size, and the table grows one bucket at a time
* ``:version``         counter bumped by every write (ordinals come from it)
* ``:w:{token}``       written by each write transaction with a random token of its
                       own, expiring after ``_TOKEN_TTL`` seconds: the try it names was applied

Per stored sentence of 3+ words with the default options that is 38 keys of
~20 bytes (field, ids, listpack headers) in bucket hashes; per document its
text, ~300 bytes of hash and sorted-set entries and its share of a ``:o:``
hash.  The sentences' keys are not stored: removing a document segments and
sketches its text again (what ``add`` did) and checks the result against
``sum``.  A dedup that segments differently would find other keys: their
entries are removed where found, the rest left behind (counted in ``:lh``
``stale``; they never match, as their document is gone, but count toward
bucket sizes until rebuilt with :meth:`RedisStore.upgrade`).

An atomic step is one optimistic transaction: ``WATCH :version :meta``, read
the version and the settings (one ``MGET``; other settings raise
:class:`IncompatibleIndexError`; none, after a ``FLUSHALL`` or a restart
without persistence, are written with the step), the band keys of an article
(one Lua call), the documents found (one more), then ``MULTI``/``EXEC`` the
writes (one Lua call for a document's band keys), bumping ``:version``.  If
another process wrote in between, ``EXEC`` fails and the step is redone against
the new state, so two processes adding near-identical articles can never both
see them as new, and nothing is ever half-written.

When the connection drops during ``EXEC``, the server may have applied the
transaction without its reply arriving: the redo first looks for the write's
token and, if found, returns the applied try's result instead of running again
(which would report the document as a duplicate of itself).  A timeout is not
waited out: it raises :class:`StorageError` saying that the write may have been
applied.  Every Redis error becomes :class:`StorageError`; a damaged value (a
version or id that is not an integer, text that is not UTF-8, ids that are not
8-byte records) becomes :class:`IndexFormatError` naming its Redis key.

An index written in layout 1 (dedup before this layout: one set per band key)
is refused with :class:`IncompatibleIndexError`;
``DedupIndex.from_redis(url, name=..., upgrade=True)`` rebuilds it in place
from its stored texts (:meth:`RedisStore.upgrade`).
"""

from __future__ import annotations

import hashlib
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

from dedup._errors import (
    DedupError,
    IncompatibleIndexError,
    IndexFormatError,
    InvalidOptionError,
    StorageError,
)
from dedup._index.crossmatch import Sketch, StoredDoc, sketch
from dedup._index.store import Document, Hits, fingerprint
from dedup._options import VERIFY_ONLY, Options
from dedup._text.segment import Sentence, segment
from dedup._version import install_hint

__all__ = ["LAYOUT", "RedisStore"]

T = TypeVar("T")
I64 = npt.NDArray[np.int64]

#: Version of the Redis layout, stored in ``:meta``.
LAYOUT = 2
_LOAD = 40  # band-table keys per bucket before a split: unsplit buckets hold up to ~2x, below 128
_INLINE = 64  # bytes of ids kept in a bucket (8 sentences); more go to ``:v:``
_SENT_BITS = 24  # sentence numbers in an id; the document's ordinal takes the other 40 bits
_ORD_SHARD = 128  # ordinals per ``:o:`` hash

# Bucket of a band key (8 bytes, little-endian) under the linear-hashing state L, p.
_ADDRESS = """
local function address(k, L, p)
  local u = struct.unpack('<I4', k)
  local a = u % 2 ^ L
  if a < p then a = u % 2 ^ (L + 1) end
  return string.format('%d', a)
end
local function check(name, v)
  if v and #v % 8 ~= 0 then
    error({err = 'DAMAGED ' .. name .. ' |~| holds ids of ' .. #v .. ' bytes, not 8-byte records'})
  end
  return v
end
"""

# Ids under the band keys (ARGV[5]: 8 bytes each) of the first ARGV[4]: all of them for a key
# holding at most ARGV[2] (not counting ARGV[6]'s removed ones, 4 bytes a key), none otherwise;
# the newest ARGV[3] (plus the removed) under each of the others (exact-copy keys).  Returns the
# ids, concatenated, and how many each key gave (4 bytes each).
_LOOKUP = (
    _ADDRESS
    + """
local prefix, cap, limit, n_bands = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local keys, skips = ARGV[5], ARGV[6]
local st = redis.call('HMGET', KEYS[1], 'L', 'p')
local L, p = tonumber(st[1] or 0), tonumber(st[2] or 0)
local ids, counts = {}, {}
for i = 1, #keys / 8 do
  local k = string.sub(keys, i * 8 - 7, i * 8)
  local h = prefix .. ':h:' .. address(k, L, p)
  local v = check(h, redis.call('HGET', h, k))
  local got = ''
  if v then
    local skip = 0
    if #skips > 0 then skip = struct.unpack('<I4', skips, i * 4 - 3) end
    local over = prefix .. ':v:' .. k
    local size = #v / 8
    if v == '' then size = math.floor(redis.call('STRLEN', over) / 8) end
    if i <= n_bands then
      if size - skip > 0 and size - skip <= cap then
        if v == '' then got = redis.call('GET', over) else got = v end
      end
    else
      local take = math.min(size, limit + skip)
      if take <= 0 then
        got = ''
      elseif v == '' then
        got = redis.call('GETRANGE', over, -take * 8, -1)
      else
        got = string.sub(v, -take * 8)
      end
    end
  end
  ids[i] = got
  counts[i] = struct.pack('<I4', #got / 8)
end
return {table.concat(ids), table.concat(counts)}
"""
)

# Store ids (ARGV[6], 8 bytes each) under their sentences' keys (ARGV[5]: ARGV[4] keys of 8 bytes
# per id), then split buckets until at most ARGV[2] keys a bucket.  KEYS[1]: the state.
_PUT = (
    _ADDRESS
    + """
local prefix, load, inline, width = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local keys, ids = ARGV[5], ARGV[6]
local st = redis.call('HMGET', KEYS[1], 'L', 'p', 'F')
local L, p, F = tonumber(st[1] or 0), tonumber(st[2] or 0), tonumber(st[3] or 0)
for r = 0, #ids / 8 - 1 do
  local id = string.sub(ids, r * 8 + 1, r * 8 + 8)
  for c = 0, width - 1 do
    local at = (r * width + c) * 8
    local k = string.sub(keys, at + 1, at + 8)
    local h = prefix .. ':h:' .. address(k, L, p)
    local v = false
    -- Most keys of a new text are new: one command stores them.
    if redis.call('HSETNX', h, k, id) == 1 then
      F = F + 1
    else
      v = check(h, redis.call('HGET', h, k))
    end
    if not v then
      v = false
    elseif v == '' then
      redis.call('APPEND', prefix .. ':v:' .. k, id)
    elseif #v + 8 > inline then
      redis.call('SET', prefix .. ':v:' .. k, v .. id)
      redis.call('HSET', h, k, '')
    else
      redis.call('HSET', h, k, v .. id)
    end
  end
end
local function hset(h, pairs)
  for n = 1, #pairs, 512 do
    redis.call('HSET', h, unpack(pairs, n, math.min(n + 511, #pairs)))
  end
end
while F > load * (2 ^ L + p) do
  local h = prefix .. ':h:' .. string.format('%d', p)
  local all = redis.call('HGETALL', h)
  if #all > 0 then
    redis.call('DEL', h)
    local stay, go = {}, {}
    for n = 1, #all, 2 do
      local t = go
      if struct.unpack('<I4', all[n]) % 2 ^ (L + 1) == p then t = stay end
      t[#t + 1] = all[n]
      t[#t + 1] = all[n + 1]
    end
    hset(h, stay)
    hset(prefix .. ':h:' .. string.format('%d', p + 2 ^ L), go)
  end
  p = p + 1
  if p == 2 ^ L then
    L = L + 1
    p = 0
  end
end
redis.call('HSET', KEYS[1], 'L', L, 'p', p, 'F', F)
return F
"""
)

# Remove ids (ARGV[5]) from under their sentences' keys (ARGV[4]), as _PUT stored them;
# ARGV[6] == '1': the document's keys differ from those stored (count it in ``stale``).
_REMOVE = (
    _ADDRESS
    + """
local prefix, inline, width, keys, ids = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local st = redis.call('HMGET', KEYS[1], 'L', 'p', 'F')
local L, p, F = tonumber(st[1] or 0), tonumber(st[2] or 0), tonumber(st[3] or 0)
local function cut(s, id)
  local from = 1
  while true do
    local at = string.find(s, id, from, true)
    if not at then return s end
    if (at - 1) % 8 == 0 then return string.sub(s, 1, at - 1) .. string.sub(s, at + 8) end
    from = at + 1
  end
end
for r = 0, #ids / 8 - 1 do
  local id = string.sub(ids, r * 8 + 1, r * 8 + 8)
  for c = 0, width - 1 do
    local at = (r * width + c) * 8
    local k = string.sub(keys, at + 1, at + 8)
    local h = prefix .. ':h:' .. address(k, L, p)
    local v = check(h, redis.call('HGET', h, k))
    if v == '' then
      local over = prefix .. ':v:' .. k
      local s = cut(check(over, redis.call('GET', over)) or '', id)
      if #s <= inline then
        redis.call('DEL', over)
        v = s
      else
        redis.call('SET', over, s)
        v = nil
      end
    elseif v then
      v = cut(v, id)
    end
    if v == '' then
      redis.call('HDEL', h, k)
      F = F - 1
    elseif v then
      redis.call('HSET', h, k, v)
    end
  end
end
redis.call('HSET', KEYS[1], 'F', F)
if ARGV[6] == '1' then redis.call('HINCRBY', KEYS[1], 'stale', 1) end
return F
"""
)

# Key, timestamp and id of each document ordinal of ARGV[2..] (false: gone).
_RESOLVE = """
local prefix, shard, out = ARGV[1], tonumber(ARGV[2]), {}
for i = 3, #ARGV do
  local o = prefix .. ':o:' .. string.format('%d', math.floor(tonumber(ARGV[i]) / shard))
  local key = redis.call('HGET', o, ARGV[i])
  if key then
    local row = redis.call('HMGET', prefix .. ':doc:' .. key, 'ts', 'id')
    out[#out + 1] = key
    out[#out + 1] = row[1]
    out[#out + 1] = row[2]
  else
    out[#out + 1] = false
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
return out
"""

_RETRIES = 200
_DROPPED = 3  # connections lost during one write before giving up
_TOKEN_TTL = 600  # seconds a write's token is kept: for its own retries, which come within seconds
_CACHE = 4096  # segmented documents kept per client


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


def _ids_bytes(ident: int, rows: I64) -> bytes:
    """The ids of a document's sentences ``rows``: ``ident << 24 | row``, 8 big-endian bytes each."""
    return ((np.uint64(ident) << np.uint64(_SENT_BITS)) | rows.astype(np.uint64)).astype(">u8").tobytes()


def _entries(sentences: tuple[Sentence, ...], sk: Sketch) -> tuple[npt.NDArray[np.uint64], I64]:
    """The band and exact keys of a document's stored sentences (a row each) and their sentence numbers."""
    rows = np.flatnonzero(sk.eligible).astype(np.int64)
    all_keys = np.concatenate((sk.bands, sk.exact[:, None]), axis=1) if len(sentences) else sk.bands
    return np.ascontiguousarray(all_keys[rows]), rows


def _digest(keys: npt.NDArray[np.uint64], rows: I64) -> bytes:
    return hashlib.blake2b(
        keys.astype("<u8").tobytes() + rows.astype("<i8").tobytes(), digest_size=8
    ).digest()


class RedisStore:
    """Documents in Redis at ``url`` under ``dedup:{name}``: a :class:`~dedup._index.store.Store`.

    ``upgrade=True`` first rebuilds an index written in an older layout (:meth:`upgrade`).
    """

    def __init__(
        self,
        url: str,
        options: Options,
        *,
        name: str = "dedup",
        socket_timeout: float = 10.0,
        max_docs: int | None = None,
        max_age: float | None = None,
        upgrade: bool = False,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be str, got {type(url).__name__}")
        if not isinstance(name, str) or not name:
            raise InvalidOptionError(f"name must be a non-empty str, got {name!r}")
        self.options = options
        self.name = name
        self._prefix = f"dedup:{name}".encode()
        self._n_bands = fingerprint(options)["lsh_bands"]
        self._settings = {**fingerprint(options), "max_docs": max_docs, "max_age": max_age, "layout": LAYOUT}
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
        self._put = self._call(self._r.register_script, _PUT)
        self._remove = self._call(self._r.register_script, _REMOVE)
        self._resolve = self._call(self._r.register_script, _RESOLVE)
        if upgrade:
            self.upgrade()
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

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except self._errors as err:
            if isinstance(err, self._watch_error):
                raise
            raise self._failure(err, sent=False) from err

    def _failure(self, err: BaseException, *, sent: bool) -> DedupError:
        """What a Redis error means: a damaged value a script found, or a failure of Redis."""
        damaged = re.search(r"DAMAGED (.*?) \|~\| (.*)", str(err), re.DOTALL)
        if damaged is not None:
            return self._damaged(damaged[1].encode("utf-8", "surrogateescape"), damaged[2])
        unsure = "; the write may have been applied" if sent else ""
        return StorageError(f"Redis at {self._url!r} failed: {self._scrub(err)}{unsure}")

    def _check_fingerprint(self) -> None:
        meta = self._k("meta")
        self._call(lambda: self._r.setnx(meta, self._meta))
        self._check_settings(self._call(lambda: self._r.get(meta)), self._r)

    def _stored_settings(self, stored: bytes) -> dict[str, Any]:
        try:
            theirs = json.loads(stored)
        except ValueError:
            raise self._damaged(self._k("meta"), f"holds {stored!r:.60}, not the index's settings") from None
        if not isinstance(theirs, dict):
            raise self._damaged(self._k("meta"), f"holds {stored!r:.60}, not the index's settings")
        return theirs

    def _check_settings(self, stored: bytes | None, client: Any) -> bool:
        """Whether the index's stored settings must be written (none stored); raise if they differ from ours.

        Settings stored before retention or the layout were part of them count as ours, to be
        completed, if no document is stored; with documents, an older layout is refused.
        """
        if stored == self._meta:
            return False
        if stored is None:
            return True
        theirs = self._stored_settings(stored)
        layout = theirs.pop("layout", 1)
        if layout != LAYOUT and (layout != 1 or self._call(client.zcard, self._k("docs"))):
            raise self._old_layout(layout)
        return self._compare(theirs) or layout != LAYOUT

    def _compare(self, theirs: dict[str, Any]) -> bool:
        """Raise if stored settings ``theirs`` (no ``layout``) differ from ours; whether to complete them."""
        mine, theirs = _flat({k: v for k, v in self._settings.items() if k != "layout"}), _flat(theirs)
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

    def _old_layout(self, layout: object) -> IncompatibleIndexError:
        if isinstance(layout, int) and layout < LAYOUT:
            return IncompatibleIndexError(
                f"the Redis index {self.name!r} was written in layout {layout} (by an older dedup); "
                f"this dedup reads layout {LAYOUT}: rebuild it from its stored texts with "
                f"DedupIndex.from_redis(url, name={self.name!r}, upgrade=True) while no other "
                "process writes to it (or clear it)"
            )
        return IncompatibleIndexError(
            f"the Redis index {self.name!r} was written in layout {layout!r}, which this dedup "
            f"(layout {LAYOUT}) cannot read: upgrade dedup"
        )

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

    def _sentences(self, key: str, ident: int, text: str) -> tuple[Sentence, ...]:
        hit = self._recall(key, ident)
        if hit is not None and hit[0] == text:
            return hit[1]
        sents = tuple(segment(text))
        self._remember(key, ident, text, sents)
        return sents

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

    def _write_doc(
        self,
        pipe: Any,
        key: str,
        text: str,
        timestamp: float,
        ident: int,
        keys: npt.NDArray[np.uint64],
        rows: I64,
    ) -> None:
        """Queue on ``pipe`` the writes storing a document with ordinal ``ident``."""
        doc = _utf8(key)
        pipe.hset(
            self._k("doc", key),
            mapping={"text": _utf8(text), "ts": repr(timestamp), "id": ident, "sum": _digest(keys, rows)},
        )
        pipe.zadd(self._k("docs"), {doc: timestamp})
        pipe.hset(self._k("o", str(ident // _ORD_SHARD)), str(ident), doc)
        if rows.size:
            args = [
                self._prefix,
                _LOAD,
                _INLINE,
                keys.shape[1],
                keys.astype("<u8").tobytes(),
                _ids_bytes(ident, rows),
            ]
            self._put(keys=[self._k("lh")], args=args, client=pipe)

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
                    claim = self._check_settings(stored[1], pipe)
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
        return [Document(k, text, None) for _, k, text, _ in self._rows()]

    def _rows(self) -> list[tuple[int, str, str, float]]:
        """``(id, key, text, timestamp)`` of every stored document, in insertion order."""
        keys = self._call(lambda: self._r.zrange(self._k("docs"), 0, -1, withscores=True))
        pipe = self._r.pipeline(transaction=False)
        for k, _ in keys:
            pipe.hmget(self._k("doc", k), "text", "id")
        rows = []
        for (k, ts), (text, ident) in zip(keys, self._call(pipe.execute), strict=True):
            if text is not None:
                doc = self._k("doc", k)
                rows.append(
                    (
                        self._int(ident, doc, "id"),
                        self._str(k, self._k("docs"), "a document key"),
                        self._str(text, doc, "text"),
                        float(ts),
                    )
                )
        rows.sort(key=lambda row: row[0])
        return rows

    def clear(self) -> None:
        """Delete every Redis key of this index (all processes lose it)."""
        self._delete(b"*")
        self._check_fingerprint()

    def _delete(self, *patterns: bytes) -> None:
        """Delete the keys of this index matching ``:{pattern}`` for each of ``patterns``."""

        def run() -> None:
            for pattern in patterns:
                batch = list(self._r.scan_iter(match=self._prefix + b":" + pattern, count=1000))
                for n in range(0, len(batch), 1000):
                    self._r.delete(*batch[n : n + 1000])

        self._call(run)

    def upgrade(self) -> bool:
        """Rebuild an index written in an older layout from its stored texts; whether there was one.

        The documents keep their keys, texts, timestamps and insertion order; the band
        table is made again.  Run it while no other process writes to the index: an
        upgrade that stops half-way is finished by running it again.
        """
        stored = self._call(lambda: self._r.get(self._k("meta")))
        if stored is None:
            return False
        layout = self._stored_settings(stored).get("layout", 1)
        if layout == LAYOUT:
            return False
        if not isinstance(layout, int) or layout > LAYOUT:
            raise self._old_layout(layout)
        self._compare({k: v for k, v in self._stored_settings(stored).items() if k != "layout"})
        # Layout 1's sets and sorted sets, and whatever a stopped upgrade wrote of layout 2.
        self._delete(b"b:*", b"x:*", b"h:*", b"v:*", b"o:*", b"lh")
        rows = self._rows()
        for start in range(0, len(rows), 256):
            pipe = self._r.pipeline()
            for ident, key, text, ts in rows[start : start + 256]:
                sents = tuple(segment(text))
                keys, sentence_rows = _entries(sents, sketch(sents, self.options))
                self._write_doc(pipe, key, text, ts, ident, keys, sentence_rows)
                pipe.hdel(self._k("doc", key), "keys", "n")
            self._call(pipe.execute)
        self._call(lambda: self._r.set(self._k("meta"), self._meta))
        return True

    def close(self) -> None:
        self._call(self._r.close)

    def __repr__(self) -> str:
        return f"RedisStore(name={self.name!r}, url={self._url!r})"


class _RedisView:
    """One transaction's reads (immediate, under ``WATCH``) and writes (queued for ``EXEC``).

    Documents are referred to by their ordinals (as the band table's ids name them).
    """

    def __init__(self, store: RedisStore, pipe: Any, version: int = 0) -> None:
        self.s = store
        self.pipe = pipe
        self.writes: list[Callable[[Any], None]] = []
        self.puts = 0
        self.fresh: list[tuple[str, int, str, tuple[Sentence, ...]]] = []
        self.version = version  # of the index when the transaction began (0 when reading only)
        self._ident: dict[str, int | None] = {}
        self._removed: dict[
            bytes, Counter[int]
        ] = {}  # document -> its band-table keys (removed in this step)
        self._removed_ids: set[int] = set()
        self._key_of: dict[int, str] = {}

    # -- reads -----------------------------------------------------------------------

    def _client(self) -> Any:
        return self.pipe if self.pipe is not None else self.s._r

    def _id(self, key: str) -> int | None:
        if key not in self._ident:
            raw = self.s._call(self._client().hget, self.s._k("doc", key), "id")
            self._ident[key] = None if raw is None else self.s._int(raw, self.s._k("doc", key), "id")
        return self._ident[key]

    def has(self, key: str) -> bool:
        return _utf8(key) not in self._removed and self._id(key) is not None

    def lookup(
        self, bands: npt.NDArray[np.uint64], max_bucket: int, exact: npt.NDArray[np.uint64], limit: int
    ) -> tuple[Hits, Hits]:
        s = self.s
        values = np.concatenate((bands, exact)).astype(np.uint64)
        skips = b""
        if self._removed:
            skip = [sum(c[v] for c in self._removed.values()) for v in values.tolist()]
            skips = np.array(skip, dtype="<u4").tobytes()
        args = [s._prefix, max_bucket, limit, bands.size, values.astype("<u8").tobytes(), skips]
        raw, counts = s._call(s._lookup, keys=[s._k("lh")], args=args, client=s._r)
        per_key = np.frombuffer(counts, dtype="<u4").astype(np.int64)
        ids = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
        query = np.repeat(np.arange(values.size, dtype=np.int64), per_key)
        docs = (ids >> np.uint64(_SENT_BITS)).astype(np.int64)
        sents = (ids & np.uint64((1 << _SENT_BITS) - 1)).astype(np.int64)
        if self._removed_ids:
            live = ~np.isin(docs, np.fromiter(self._removed_ids, dtype=np.int64))
            query, docs, sents = query[live], docs[live], sents[live]
        n = bands.size
        first = int(np.searchsorted(query, n))
        band = Hits(query[:first], docs[:first], sents[:first])
        q, d, t = query[first:] - n, docs[first:], sents[first:]
        # Each exact key's ids come oldest first: keep the newest ``limit`` (removed ones dropped).
        from_end = np.searchsorted(q, q, side="right") - 1 - np.arange(q.size)
        keep = from_end < limit
        return band, Hits(q[keep], d[keep], t[keep])

    def resolve(self, docs: I64) -> tuple[I64, npt.NDArray[np.float64]]:
        s = self.s
        ts = np.full(docs.size, math.nan)
        if docs.size == 0:
            return docs.copy(), ts
        args = [s._prefix, _ORD_SHARD, *docs.tolist()]
        reply = s._call(s._resolve, keys=[], args=args, client=s._r)
        for n, ordinal in enumerate(docs.tolist()):
            key, stamp, ident = reply[3 * n : 3 * n + 3]
            if key is None:
                continue
            doc = s._k("doc", key)
            if stamp is None or ident is None or s._int(ident, doc, "id") != ordinal:
                continue  # removed meanwhile (a reader's view)
            ts[n] = s._float(stamp, doc, "timestamp")
            self._key_of[ordinal] = s._str(key, s._k("o", str(ordinal // _ORD_SHARD)), "a document key")
        return docs.copy(), ts

    def stored(self, docs: Sequence[int], wanted: Sequence[set[int]] | None = None) -> list[StoredDoc]:
        s = self.s
        out: list[StoredDoc | None] = [None] * len(docs)
        missing: list[int] = []
        for n, ident in enumerate(docs):
            key = self._key_of[ident]
            hit = s._recall(key, ident)
            if hit is None:
                missing.append(n)
            else:
                out[n] = StoredDoc(key, hit[0], hit[1], ident)
        if missing:
            pipe = s._r.pipeline(transaction=False)
            for n in missing:
                pipe.hmget(s._k("doc", self._key_of[docs[n]]), "text", "id")
            for n, (text, ident) in zip(missing, s._call(pipe.execute), strict=True):
                key = self._key_of[docs[n]]
                doc = s._k("doc", key)
                gone = text is None or ident is None or s._int(ident, doc, "id") != docs[n]
                body = "" if gone else s._str(text, doc, "text")
                sents = () if gone else s._sentences(key, docs[n], body)  # gone meanwhile: no pairs
                out[n] = StoredDoc(key, body, sents, docs[n])
        return [d for d in out if d is not None]

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
        keys, rows = _entries(sentences, sketch)
        if rows.size and int(rows[-1]) >= 1 << _SENT_BITS:
            raise InvalidOptionError(f"document {key!r} has more than {1 << _SENT_BITS} sentences")
        self.writes.append(lambda pipe: s._write_doc(pipe, key, text, timestamp, ident, keys, rows))
        self.fresh.append((key, ident, text, sentences))

    def put_batch(self, docs: Sequence[tuple[str, str, float, tuple[Sentence, ...], Sketch]]) -> None:
        for doc in docs:
            self.put(*doc)

    def remove(self, key: str) -> None:
        s = self.s
        ident = self._id(key)
        doc = _utf8(key)
        if ident is None or doc in self._removed:
            raise KeyError(key)
        name = s._k("doc", key)
        text, digest = s._call(self._client().hmget, name, "text", "sum")
        body = "" if text is None else s._str(text, name, "text")
        sents = s._sentences(key, ident, body)
        keys, rows = _entries(sents, sketch(sents, s.options))
        stale = digest != _digest(keys, rows)  # segmented otherwise when stored (another dedup)
        self._removed[doc] = Counter(keys.ravel().tolist())
        self._removed_ids.add(ident)
        args = [s._prefix, _INLINE, keys.shape[1], keys.astype("<u8").tobytes(), _ids_bytes(ident, rows)]

        def write(pipe: Any) -> None:
            if rows.size:
                s._remove(keys=[s._k("lh")], args=[*args, "1" if stale else "0"], client=pipe)
            pipe.delete(name)
            pipe.zrem(s._k("docs"), doc)
            pipe.hdel(s._k("o", str(ident // _ORD_SHARD)), str(ident))

        self.writes.append(write)
