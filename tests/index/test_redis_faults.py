"""Faults of the Redis index: lost replies, stalls, credentials, other settings, damaged values.

Every fault is real or injected below dedup: a redis-server started for these tests
(``DEBUG SLEEP`` stalls, ``FLUSHALL``, ``--requirepass``, values damaged with plain
Redis commands) and, for a reply lost after the server committed, redis-py's own
``Pipeline._execute_transaction`` run and then made to raise, as a dropped connection would.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dedup
from dedup._index.store import fingerprint
from dedup._options import VERIFY_ONLY
from tests.index.redis_server import REDIS_SERVER, free_port, running_server, start_server
from tests.index.test_redis import STORIES

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")

SECRET = "s3cret-Pa55"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of its own (these tests flush it and put it to sleep)."""
    with running_server(tmp_path_factory.mktemp("redis"), "--enable-debug-command", "local") as url:
        yield url


def _fresh(url: str, name: str, **kwargs: Any) -> dedup.DedupIndex:
    index = dedup.DedupIndex.from_redis(url, name=name, **kwargs)
    index.clear()
    return index


class LostReplies:
    """redis-py's transactions: the next ``armed`` are committed, then fail as if their reply was lost.

    ``watching``: the pipeline's state when the reply fails to arrive.  A connection dropped
    while redis-py reads the ``EXEC`` reply leaves it watching (redis-py then raises
    ``WatchError``); the issue's injection, raising after the read, leaves it not watching
    (redis-py raises the ``ConnectionError``).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, watching: bool) -> None:
        self.armed = 0
        self.fired = 0
        original = redis.client.Pipeline._execute_transaction

        def run(pipe: Any, connection: Any, commands: Any, raise_on_error: bool) -> Any:
            reply = original(pipe, connection, commands, raise_on_error)
            if self.armed:
                self.armed -= 1
                self.fired += 1
                pipe.watching = watching
                connection.disconnect()
                raise redis.ConnectionError("connection lost after the server committed (injected)")
            return reply

        monkeypatch.setattr(redis.client.Pipeline, "_execute_transaction", run)


# -- 1. a reply lost after the server committed ---------------------------------------------------


@pytest.mark.parametrize("watching", [True, False], ids=["while-watching", "after-exec"])
def test_add_whose_reply_was_lost_returns_its_own_matches(
    url: str, monkeypatch: pytest.MonkeyPatch, watching: bool
) -> None:
    index, memory = _fresh(url, f"lost-add-{watching}"), dedup.DedupIndex()
    for ix in (index, memory):
        ix.add("base", "\n\n".join(STORIES), timestamp=0.0)
    lost = LostReplies(monkeypatch, watching=watching)
    trials = 12
    for n in range(trials):
        text = f"Desk {n} reports.\n\n{STORIES[n % 4]}\n\n{STORIES[(n + 1) % 4]}"
        expected = memory.add(f"k{n}", text, timestamp=float(n + 1))
        lost.armed = 1
        assert index.add(f"k{n}", text, timestamp=float(n + 1)) == expected != []
    assert lost.fired == trials
    # each document stored once, under the next insertion number
    assert list(index) == list(memory) and index.clusters() == memory.clusters()


@pytest.mark.parametrize("watching", [True, False], ids=["while-watching", "after-exec"])
def test_remove_and_evict_whose_reply_was_lost_report_their_own_write(
    url: str, monkeypatch: pytest.MonkeyPatch, watching: bool
) -> None:
    index = _fresh(url, f"lost-remove-{watching}", max_docs=3)
    for n in range(6):
        index.add(f"d{n}", STORIES[n % 4] + f" Desk {n}.", timestamp=float(n))
    lost = LostReplies(monkeypatch, watching=watching)
    lost.armed = 1
    index.remove("d3")  # no KeyError for its own removal
    lost.armed = 1
    assert index.evict(older_than=5.0) == ["d4"]
    for n in (6, 7):
        index.add(f"d{n}", STORIES[n % 4] + f" Desk {n}.", timestamp=float(n))
    lost.armed = 2  # the add and the eviction after it (max_docs)
    assert index.add("d8", STORIES[0] + " Desk 8.", timestamp=8.0) == []
    lost.armed = 1
    index.remove("d6")
    assert lost.fired == 5 and list(index) == ["d7", "d8"]


# -- 2. timeouts ---------------------------------------------------------------------------------


def _stall_before_exec(url: str, monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[threading.Thread]:
    """Before the next ``EXEC``: ``DEBUG SLEEP`` from another client, until a third one's PING times out."""
    original = redis.client.Pipeline._execute_transaction
    sleeper: list[threading.Thread] = []

    def sleep() -> None:
        with redis.Redis.from_url(url) as other:
            other.execute_command("DEBUG", "SLEEP", seconds)

    def run(pipe: Any, connection: Any, commands: Any, raise_on_error: bool) -> Any:
        if not sleeper:
            sleeper.append(threading.Thread(target=sleep))
            sleeper[0].start()
            with redis.Redis.from_url(url, socket_timeout=0.05) as probe:
                for _ in range(1000):
                    try:
                        probe.ping()
                    except redis.TimeoutError:
                        break
                else:
                    pytest.fail("redis-server did not go to sleep")
        return original(pipe, connection, commands, raise_on_error)

    monkeypatch.setattr(redis.client.Pipeline, "_execute_transaction", run)
    return sleeper


@pytest.mark.parametrize("op", ["add", "remove"])
def test_timeout_during_exec_and_unwatch_raises_storage_error(
    url: str, monkeypatch: pytest.MonkeyPatch, op: str
) -> None:
    index = _fresh(url, f"stall-{op}", socket_timeout=0.3)
    index.add("a", STORIES[0])
    sleeper = _stall_before_exec(url, monkeypatch, 1.5)
    with pytest.raises(dedup.StorageError, match="may have been applied") as caught:
        if op == "add":
            index.add("b", STORIES[1])
        else:
            index.remove("a")
    sleeper[0].join()
    assert isinstance(caught.value.__cause__, redis.RedisError)
    monkeypatch.undo()
    assert len(index) in ((1, 2) if op == "add" else (0, 1))  # usable again once the server is awake


# -- 3. credentials --------------------------------------------------------------------------------


def _with_secret(url: str, secret: str) -> list[str]:
    host = url.removeprefix("redis://")
    return [f"redis://:{secret}@{host}", f"redis://default:{secret}@{host}", f"{url}?password={secret}"]


def _shown(err: BaseException) -> str:
    """Everything a traceback of ``err`` shows (its causes included)."""
    return "".join(traceback.format_exception(err))


def test_redis_password_is_never_shown(tmp_path: Path) -> None:
    plain, proc = start_server(tmp_path, "--requirepass", SECRET)
    try:
        for url in _with_secret(plain, SECRET):
            index = dedup.DedupIndex.from_redis(url, name="secret")
            index.add("a", STORIES[0], replace=True)
            assert SECRET not in repr(index) and "127.0.0.1" in repr(index)
            index.close()
        for url in _with_secret(plain, "wr0ng-Pa55"):
            with pytest.raises(dedup.StorageError) as caught:
                dedup.DedupIndex.from_redis(url, name="secret")
            assert "wr0ng-Pa55" not in _shown(caught.value) and "127.0.0.1" in str(caught.value)
        alive = [dedup.DedupIndex.from_redis(url, name="secret") for url in _with_secret(plain, SECRET)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for index in alive:
        with pytest.raises(dedup.StorageError) as caught:
            index.add("b", STORIES[1])
        assert SECRET not in _shown(caught.value) and "127.0.0.1" in str(caught.value)
    for url in _with_secret(f"redis://127.0.0.1:{free_port()}/0", SECRET):
        with pytest.raises(dedup.StorageError) as caught:
            dedup.DedupIndex.from_redis(url, name="secret")
        assert SECRET not in _shown(caught.value)


# -- 4. settings ---------------------------------------------------------------------------------


def test_retention_is_part_of_the_stored_settings(url: str) -> None:
    index = _fresh(url, "retention")
    for n, story in enumerate(STORIES):
        index.add(f"d{n}", story)
    with pytest.raises(dedup.IncompatibleIndexError, match="max_docs"):
        dedup.DedupIndex.from_redis(url, name="retention", max_docs=1)
    with pytest.raises(dedup.IncompatibleIndexError, match="max_age"):
        dedup.DedupIndex.from_redis(url, name="retention", max_age=60.0)
    assert len(index) == len(STORIES)
    same = dedup.DedupIndex.from_redis(url, name="retention")
    assert same.add("d9", STORIES[0])[0].b.key == "d0"


def test_settings_are_checked_on_every_write_after_the_index_was_flushed(url: str) -> None:
    name = "flushed"
    mine = _fresh(url, name)  # num_perm=128
    mine.add("a0", STORIES[0])
    flusher = redis.Redis.from_url(url)
    flusher.flushall()  # as a restart without persistence
    theirs = dedup.DedupIndex.from_redis(url, name=name, num_perm=64)  # finds no index: makes one
    theirs.add("b0", STORIES[1])
    writes: list[Callable[[], object]] = [
        lambda: mine.add("a1", STORIES[2]),
        lambda: mine.add("b0", STORIES[2], replace=True),
        lambda: mine.remove("b0"),
        lambda: mine.evict(older_than=1e12),
    ]
    for write in writes:
        with pytest.raises(dedup.IncompatibleIndexError, match="num_perm") as caught:
            write()
        assert "max_docs" not in str(caught.value)  # only the fields that differ
    assert list(theirs) == ["b0"]
    flusher.flushall()
    mine.add("a2", STORIES[2])  # the first write after a flush makes the index again
    with pytest.raises(dedup.IncompatibleIndexError, match="num_perm"):
        theirs.add("b1", STORIES[3])
    flusher.flushall()
    evicting = dedup.DedupIndex.from_redis(url, name=name, max_docs=1)
    evicting.add("c0", STORIES[0])
    with pytest.raises(dedup.IncompatibleIndexError, match="max_docs"):
        mine.add("a3", STORIES[1])
    assert list(evicting) == ["c0"]
    flusher.close()


def test_settings_stored_before_retention_are_completed_by_the_first_write(url: str) -> None:
    old = fingerprint(dedup.Options())
    del old["library_version"]
    raw = redis.Redis.from_url(url)
    _fresh(url, "older").close()
    raw.set(b"dedup:older:meta", json.dumps(old, sort_keys=True))  # as earlier versions stored it
    first = dedup.DedupIndex.from_redis(url, name="older", max_docs=2)
    first.add("a", STORIES[0])
    stored = {**old, "options": {k: v for k, v in old["options"].items() if k not in VERIFY_ONLY}}
    assert json.loads(raw.get(b"dedup:older:meta")) == {**stored, "max_docs": 2, "max_age": None, "layout": 2}
    with pytest.raises(dedup.IncompatibleIndexError, match=re.escape("max_docs 2 (this client: None)")):
        dedup.DedupIndex.from_redis(url, name="older")
    raw.close()


# -- 5. damaged values ---------------------------------------------------------------------------

_DAMAGE: dict[str, tuple[Callable[[Any, bytes], object], str]] = {
    "version": (lambda r, p: r.set(p + b":version", b"twelve"), ":version"),
    "id": (lambda r, p: r.hset(p + b":doc:a", "id", b"1.5"), ":doc:a"),
    "timestamp": (lambda r, p: r.hset(p + b":doc:a", "ts", b"noon"), ":doc:a"),
    "text": (lambda r, p: r.hset(p + b":doc:a", "text", b"caf\xe9 \xff"), ":doc:a"),
    "band-table": (
        lambda r, p: [r.hset(h, f, b"123") for h in r.scan_iter(p + b":h:*") for f in r.hkeys(h)],
        ":h:",
    ),
    "document-key": (
        lambda r, p: r.zadd(p + b":docs", {b"b\xff": 3.0}) + r.rename(p + b":doc:b", p + b":doc:b\xff"),
        ":docs",
    ),
    "settings": (lambda r, p: r.set(p + b":meta", b"{not json"), ":meta"),
}
_OPS: dict[str, Callable[[dedup.DedupIndex], object]] = {
    "add": lambda ix: ix.add("z", STORIES[3]),
    "add-matching": lambda ix: ix.add("z", STORIES[0]),
    "query-matching": lambda ix: ix.query(STORIES[0]),
    "remove": lambda ix: ix.remove("a"),
    "evict": lambda ix: ix.evict(older_than=1e12),
    "keys": lambda ix: list(ix),
    "clusters": lambda ix: ix.clusters(),
    "text": lambda ix: ix.text("a"),
}
_CASES = [
    ("version", "add"),
    ("version", "remove"),
    ("id", "add-matching"),
    ("id", "keys"),
    ("id", "evict"),
    ("id", "clusters"),
    ("timestamp", "add-matching"),
    ("timestamp", "query-matching"),
    ("text", "query-matching"),
    ("text", "clusters"),
    ("text", "text"),
    ("band-table", "remove"),
    ("band-table", "add-matching"),
    ("band-table", "query-matching"),
    ("document-key", "keys"),
    ("document-key", "evict"),
    ("settings", "add"),
]


@pytest.mark.parametrize(("damage", "op"), _CASES, ids=[f"{d}-{o}" for d, o in _CASES])
def test_damaged_redis_value_raises_index_format_error_naming_the_key(url: str, damage: str, op: str) -> None:
    name = f"damaged-{damage}-{op}"
    writer = _fresh(url, name)
    writer.add("a", STORIES[0], timestamp=1.0)
    writer.add("b", STORIES[1], timestamp=2.0)
    damage_fn, suffix = _DAMAGE[damage]
    raw = redis.Redis.from_url(url)
    damage_fn(raw, f"dedup:{name}".encode())
    raw.close()
    with pytest.raises(dedup.IndexFormatError, match=f"dedup:{name}{suffix}"):
        _OPS[op](dedup.DedupIndex.from_redis(url, name=name))  # a new client: nothing cached
