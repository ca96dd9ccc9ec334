"""The Redis layout (2): a band table of few compact hashes, refusal and upgrade of layout 1, stale keys."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dedup
from dedup._index.crossmatch import sketch
from dedup._index.redis import LAYOUT
from dedup._index.store import fingerprint
from dedup._options import VERIFY_ONLY
from dedup._text.segment import segment
from tests.index.redis_server import REDIS_SERVER
from tests.index.test_redis import STORIES
from tests.index.test_store_contract import BOILER, _state, _view, sentence, variant

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


@pytest.fixture
def url(redis_url: str) -> str:
    return redis_url


@pytest.fixture
def raw(url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(url)
    yield client
    client.close()


def _texts(n: int, seed_text: str) -> list[tuple[str, str]]:
    """``n`` articles: paragraphs of the seed article and random sentences, boilerplate in each."""
    rng = random.Random(5)
    paras = [p for p in seed_text.split("\n\n") if p.strip()]
    out = []
    for k in range(n):
        body = [rng.choice(paras), " ".join(sentence(rng) for _ in range(3)), variant(k), BOILER]
        rng.shuffle(body)
        out.append((f"doc{k}", "\n\n".join(body)))
    return out


def test_band_table_stays_compact_at_the_default_server_config(
    url: str, raw: redis.Redis, seed_text: str
) -> None:
    index = dedup.DedupIndex.from_redis(url, name="compact")
    index.clear()
    for n, (key, text) in enumerate(_texts(60, seed_text)):
        index.add(key, text, timestamp=float(n))
    keys = list(raw.scan_iter(match=b"dedup:compact:*"))
    buckets = [k for k in keys if k.startswith(b"dedup:compact:h:")]
    state = raw.hgetall(b"dedup:compact:lh")
    level, split, stored = int(state[b"L"]), int(state[b"p"]), int(state[b"F"])
    assert len(buckets) <= 2**level + split and stored == sum(raw.hlen(h) for h in buckets)
    assert stored <= 40 * (2**level + split)  # the table grew with the keys it holds
    assert {raw.object("encoding", h) for h in buckets} == {b"listpack"}
    assert max(raw.hlen(h) for h in buckets) <= 128
    # Keys under more than 8 sentences (boilerplate, repeated paragraphs) keep their ids in strings.
    overflow = [k for k in keys if k.startswith(b"dedup:compact:v:")]
    assert overflow and all(raw.strlen(v) > 64 and raw.strlen(v) % 8 == 0 for v in overflow)
    assert len(keys) - len(buckets) - len(overflow) <= 2 * 60 + 10  # per document: its hash and ordinal


def test_band_table_lookups_equal_the_memory_store(url: str, seed_text: str) -> None:
    """Every key of every document, looked up in both stores after splits, removals and replacements."""
    shared = dedup.DedupIndex.from_redis(url, name="lookups")
    shared.clear()
    memory = dedup.DedupIndex()
    docs = _texts(40, seed_text)
    for ix in (shared, memory):
        for n, (key, text) in enumerate(docs):
            ix.add(key, text, timestamp=float(n))
        for key in ("doc3", "doc17", "doc30"):
            ix.remove(key)
        ix.add("doc5", docs[6][1], timestamp=99.0, replace=True)
    for _, text in docs[::7]:
        sk = sketch(tuple(segment(text)), memory.options)
        rows = np.flatnonzero(sk.eligible)
        found = []
        for ix in (shared, memory):

            def step(view: Any, sk: Any = sk, rows: Any = rows) -> list[list[tuple[int, str, int]]]:
                out = []
                for hits in view.lookup(sk.bands[rows].ravel(), 64, sk.exact[rows], 32):
                    docs = np.unique(hits.doc)
                    view.resolve(docs)
                    key = {int(d): sd.key for d, sd in zip(docs, view.stored(docs.tolist()), strict=True)}
                    out.append(
                        sorted(
                            zip(
                                hits.query.tolist(),
                                map(key.get, hits.doc.tolist()),
                                hits.sentence.tolist(),
                                strict=True,
                            )
                        )
                    )
                return out

            found.append(ix._store.read(step))
        assert found[0] == found[1]


def _layout_1(raw: redis.Redis, name: str, docs: list[tuple[str, str, float]]) -> None:
    """An index as dedup before layout 2 wrote it: settings without ``layout``, a set per band key."""
    options = dedup.Options()
    meta = fingerprint(options)
    del meta["library_version"]
    meta["options"] = {k: v for k, v in meta["options"].items() if k not in VERIFY_ONLY}
    meta.update(max_docs=None, max_age=None)
    p = f"dedup:{name}".encode()
    raw.set(p + b":meta", json.dumps(meta, sort_keys=True))
    for ident, (key, text, ts) in enumerate(docs, start=1):
        sents = tuple(segment(text))
        sk = sketch(sents, options)
        rows = np.flatnonzero(sk.eligible)
        keys = np.concatenate((sk.bands, sk.exact[:, None]), axis=1)[rows]
        fields = {"text": text, "ts": repr(ts), "n": len(sents), "id": ident}
        raw.hset(p + b":doc:" + key.encode(), mapping={**fields, "keys": keys.tobytes() + rows.tobytes()})
        raw.zadd(p + b":docs", {key.encode(): ts})
        for row, band_keys in zip(rows.tolist(), keys, strict=True):
            for k in band_keys.astype("<u8").tobytes().hex(" ", 8).split():
                raw.sadd(p + b":b:" + bytes.fromhex(k), key.encode() + b"\0" + str(row).encode())
    raw.set(p + b":version", len(docs))


def test_an_index_in_layout_1_is_refused_then_upgraded(url: str, raw: redis.Redis, seed_text: str) -> None:
    docs = [(k, t, float(n)) for n, (k, t) in enumerate(_texts(12, seed_text))]
    docs += [("old-b", f"{STORIES[0]}\n\n{BOILER}", 3.0)]  # equal timestamps: insertion order decides
    raw.delete(*raw.keys(b"dedup:old:*") or [b"none"])
    _layout_1(raw, "old", docs)
    with pytest.raises(dedup.IncompatibleIndexError, match=r"layout 1 .*upgrade=True"):
        dedup.DedupIndex.from_redis(url, name="old")
    with pytest.raises(dedup.IncompatibleIndexError, match="num_perm"):
        dedup.DedupIndex.from_redis(url, name="old", upgrade=True, num_perm=64)
    upgraded = dedup.DedupIndex.from_redis(url, name="old", upgrade=True)
    assert not list(raw.scan_iter(match=b"dedup:old:b:*"))
    assert json.loads(raw.get(b"dedup:old:meta"))["layout"] == LAYOUT
    memory = dedup.DedupIndex()
    for key, text, ts in docs:
        memory.add(key, text, timestamp=ts)
    probe = f"{BOILER}\n\n{variant(4)}\n\n{STORIES[0]}"
    assert _view(upgraded.query(probe)) == _view(memory.query(probe)) != []
    assert _state(upgraded) == _state(memory)
    upgraded.remove("doc4")
    memory.remove("doc4")
    assert _view(upgraded.add("new", probe, timestamp=50.0)) == _view(
        memory.add("new", probe, timestamp=50.0)
    )
    # Upgrading an index in the current layout changes nothing.
    again = dedup.DedupIndex.from_redis(url, name="old", upgrade=True)
    assert _state(again) == _state(memory)
    again.clear()


def test_a_document_whose_keys_changed_since_it_was_stored_is_still_removed(
    url: str, raw: redis.Redis
) -> None:
    """As after an upgrade of dedup that segments otherwise: what is found is removed, the rest counted."""
    index = dedup.DedupIndex.from_redis(url, name="stale")
    index.clear()
    index.add("a", f"{STORIES[0]}\n\n{STORIES[1]}", timestamp=1.0)
    index.add("b", STORIES[2], timestamp=2.0)
    raw.hset(b"dedup:stale:doc:a", "sum", b"\0" * 8)
    index.remove("a")
    assert index.query(STORIES[0]) == [] and [m.b.key for m in index.query(STORIES[2])] == ["b"]
    assert raw.hget(b"dedup:stale:lh", "stale") == b"1"
    index.clear()


def test_ids_hold_large_ordinals_and_sentence_numbers(url: str, raw: redis.Redis, tmp_path: Path) -> None:
    index = dedup.DedupIndex.from_redis(url, name="big-ids")
    index.clear()
    raw.set(b"dedup:big-ids:version", 2**38)
    index.add("a", "\n\n".join(STORIES), timestamp=1.0)
    [m] = index.query(STORIES[3])
    assert (m.b.key, m.b.span.start) == ("a", "\n\n".join(STORIES).index(STORIES[3]))
    index.clear()
