"""One contract for every store of DedupIndex: the same calls give the same results in memory and in Redis.

Each test runs on every store (Redis: a real ``redis-server`` on a free loopback
port, as in ``test_redis.py``) and checks the index algorithm's rules, the caps
included: more than ``MAX_EXACT`` exact copies, more than ``MAX_PER_SENTENCE``
candidates for one sentence, time windows applied before the caps, eviction by
``max_docs`` and ``max_age``, removal and re-adding.  ``test_stores_agree`` runs
every scenario on both stores and compares everything they returned.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dedup
from dedup._index.crossmatch import sketch
from dedup._index.index import MAX_EXACT, MAX_PER_SENTENCE
from dedup._text.segment import segment

Make = Callable[..., dedup.DedupIndex]

_WORDS = [
    "harbour", "council", "railway", "budget", "village", "minister", "river", "school", "market", "storm",
    "doctor", "bridge", "farmer", "engine", "garden", "library", "museum", "police", "weather", "airport",
    "teacher", "factory", "hospital", "station", "theatre", "election", "festival", "island", "mountain",
    "harvest", "contract", "pension", "tunnel", "vaccine", "orchestra", "satellite", "glacier", "volcano",
]  # fmt: skip


def sentence(rng: random.Random, n: int = 14) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


BOILER = "Sign up for our morning newsletter to get the latest headlines from the region."
LONG = (
    "The regional council approved the new harbour budget after a long debate about railway "
    "repairs, school funding and the future of the old market hall on Thursday evening."
)


def variant(n: int) -> str:
    """``LONG`` with one word changed: every variant shares most of its bands with ``LONG``."""
    words = LONG.split()
    at = 3 + n % (len(words) - 6)
    words[at] = f"{words[at]}{n}"
    return " ".join(words)


_names = itertools.count()


def _factory(kind: str, request: pytest.FixtureRequest) -> Iterator[Make]:
    made: list[dedup.DedupIndex] = []

    def make(**kwargs: Any) -> dedup.DedupIndex:
        if kind == "memory":
            index = dedup.DedupIndex(**kwargs)
        else:
            url = request.getfixturevalue("redis_url")
            index = dedup.DedupIndex.from_redis(url, name=f"contract-{next(_names)}", **kwargs)
            index.clear()
        made.append(index)
        return index

    yield make
    for index in made:
        index.clear()
        index.close()


@pytest.fixture(params=["memory", "redis"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    yield from _factory(request.param, request)


# -- scenarios: each returns everything the index said, for comparing stores -------------------


def _view(matches: list[dedup.Match]) -> list[tuple[Any, ...]]:
    return [(m.a.key, m.a.span, m.b.key, m.b.span, m.kind, m.score) for m in matches]


def _state(index: dedup.DedupIndex) -> dict[str, Any]:
    return {
        "keys": list(index),
        "len": len(index),
        "stamps": {k: index.timestamp(k) for k in index},
        "clusters": index.clusters().to_records(),
    }


COPIES = 70  # more than MAX_BUCKET: the copies' band buckets are skipped, only the exact key finds them


def exact_copies(index: dedup.DedupIndex) -> dict[str, Any]:
    """Many stored copies of one sentence, timestamps falling as keys rise (insertion and time disagree)."""
    rng = random.Random(1)
    for n in range(COPIES):
        index.add(f"d{n:02d}", f"{sentence(rng)}\n\n{BOILER}", timestamp=1000.0 - n)
    return {
        "add": _view(index.add("new", f"{sentence(rng)}\n\n{BOILER}", timestamp=2000.0)),
        "since": _view(index.query(BOILER, since=1000.0 - 40)),
        "outside": _view(index.query(BOILER + " " + sentence(rng), since=1000.0 - 15)),
        "state": _state(index),
    }


def many_candidates(index: dedup.DedupIndex) -> dict[str, Any]:
    """40 stored rewordings of one sentence: more candidates than a sentence may keep."""
    for n in range(40):
        index.add(f"v{n:02d}", variant(n), timestamp=float(n))
    out = {"query": _view(index.query(LONG)), "since": _view(index.query(LONG, since=20.0))}
    out["add"] = _view(index.add("new", LONG, timestamp=100.0))
    out["state"] = _state(index)
    return out


def retention(index: dedup.DedupIndex) -> dict[str, Any]:
    """Eviction by ``max_docs`` (with equal timestamps) and by ``max_age``, removal, re-adding."""
    rng = random.Random(2)
    said: list[Any] = []
    for n in range(30):
        text = f"{sentence(rng)}\n\n{variant(n % 7)}\n\n{BOILER if n % 3 else sentence(rng)}"
        said.append(_view(index.add(f"k{n}", text, timestamp=float(n // 4))))
    said.append(index.evict(older_than=3.0))
    index.remove("k20")
    said.append(_view(index.add("k20", f"{variant(3)}\n\n{BOILER}", timestamp=9.0)))
    said.append(_view(index.add("k21", f"{BOILER}\n\n{variant(4)}", timestamp=9.5, replace=True)))
    said.append(_view(index.query(f"{LONG}\n\n{BOILER}", window=1.0)))
    return {"said": said, "state": _state(index)}


def churn(index: dedup.DedupIndex) -> dict[str, Any]:
    """Replaced and removed documents among the newest under a key: the caps count live sentences only."""
    for n in range(40):
        index.add(f"c{n:02d}", f"{variant(n)}\n\n{BOILER}", timestamp=float(n))
    said = [
        _view(index.add(f"c{n:02d}", f"{BOILER}\n\n{variant(n + 1)}", timestamp=100.0 + n, replace=True))
        for n in range(10, 40)
    ]
    for n in range(15, 40):
        index.remove(f"c{n:02d}")
    said.append(_view(index.query(f"{LONG}\n\n{BOILER}")))
    said.append(_view(index.add("new", f"{BOILER}\n\n{LONG}", timestamp=150.0)))
    return {"said": said, "state": _state(index)}


SCENARIOS: dict[str, tuple[Callable[[dedup.DedupIndex], dict[str, Any]], dict[str, Any]]] = {
    "churn": (churn, {}),
    "exact_copies": (exact_copies, {}),
    "many_candidates": (many_candidates, {}),
    "retention_max_docs": (retention, {"max_docs": 12}),
    "retention_max_age": (retention, {"max_age": 4.0}),
}


# -- the contract, store by store ----------------------------------------------------------------


def test_more_than_max_exact_copies_gives_the_newest(make: Make) -> None:
    out = exact_copies(make())
    copies = [row[2] for row in out["add"] if row[4] == "exact"]
    assert len(copies) == MAX_EXACT
    assert copies == [f"d{n:02d}" for n in range(COPIES - MAX_EXACT, COPIES)]


def test_the_window_applies_between_the_two_exact_copy_caps(make: Make) -> None:
    out = exact_copies(make())
    # The newest 4 * MAX_EXACT copies (d39..d69 and "new") are looked at; of those, the ones in
    # the window (timestamps >= 960: d00..d40 and "new"), the newest MAX_EXACT of them.
    assert [row[2] for row in out["since"] if row[4] == "exact"] == ["d39", "d40", "new"]
    # d00..d15 are in the window, but older than the newest 32
    assert [row[2] for row in out["outside"] if row[4] == "exact"] == ["new"]


def test_more_than_max_per_sentence_candidates_are_capped(make: Make) -> None:
    index = make()
    for n in range(40):
        index.add(f"v{n:02d}", variant(n), timestamp=float(n))
    sents = tuple(segment(LONG))
    sk = sketch(sents, index.options)
    stored, pairs = index._store.read(lambda view: index._candidates(view, sents, sk, -np.inf))
    assert len(pairs) == MAX_PER_SENTENCE
    matched = {m.b.key for m in index.query(LONG)}
    assert len(matched) <= MAX_PER_SENTENCE and {d.key for d in stored} >= matched
    # Inside a window the cap is taken among the documents in it.
    stored, pairs = index._store.read(lambda view: index._candidates(view, sents, sk, 20.0))
    assert sorted(d.key for d in stored) == [f"v{n:02d}" for n in range(20, 40)]


def test_max_docs_and_max_age_keep_the_newest(make: Make) -> None:
    assert retention(make(max_docs=12))["state"]["len"] == 12
    kept = retention(make(max_age=4.0))["state"]
    assert min(kept["stamps"].values()) >= max(kept["stamps"].values()) - 4.0


def test_equal_timestamps_are_evicted_in_insertion_order(make: Make) -> None:
    index = make(max_docs=3)
    for key in ["z", "y", "x", "w", "v"]:
        index.add(key, f"Document {key} says {LONG}", timestamp=5.0)
    assert list(index) == ["x", "w", "v"]
    assert index.evict(older_than=6.0) == ["x", "w", "v"] and len(index) == 0


def test_remove_and_readd(make: Make) -> None:
    index = make()
    index.add("a", f"{LONG}\n\n{BOILER}", timestamp=1.0)
    index.add("b", BOILER, timestamp=2.0)
    index.remove("a")
    assert [m.b.key for m in index.query(f"{LONG}\n\n{BOILER}")] == ["b"]
    with pytest.raises(KeyError):
        index.remove("a")
    assert [m.b.key for m in index.add("a", LONG, timestamp=3.0)] == []
    # Replacing drops the old text before the check: a document never matches its old self.
    assert [m.b.key for m in index.add("a", f"{LONG}\n\n{BOILER}", timestamp=4.0, replace=True)] == ["b"]
    assert list(index) == ["b", "a"] and index.text("a") == f"{LONG}\n\n{BOILER}"


def test_clusters_equal_the_detector_on_the_stored_documents(make: Make) -> None:
    index = make()
    retention(index)
    fresh = dedup.DedupIndex.from_texts([(k, index.text(k)) for k in index], jobs=1)
    assert index.clusters().to_records() == fresh.clusters().to_records() != []
    assert list(index.iter_clusters()) == list(fresh.iter_clusters())


# -- across stores ----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_stores_agree(scenario: str, request: pytest.FixtureRequest) -> None:
    run, kwargs = SCENARIOS[scenario]
    results = {}
    for kind in ("memory", "redis"):
        factory = _factory(kind, request)
        results[kind] = run(next(factory)(**kwargs))
        next(factory, None)
    assert results["memory"] == results["redis"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_results_survive_a_round_trip(scenario: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Saved and loaded (memory), or reconnected (Redis)."""
    run, kwargs = SCENARIOS[scenario]
    memory = dedup.DedupIndex(**kwargs)
    run(memory)
    memory.save(tmp_path / "index.idx")
    loaded = dedup.DedupIndex.load(tmp_path / "index.idx")
    url = request.getfixturevalue("redis_url")
    shared = dedup.DedupIndex.from_redis(url, name=f"trip-{scenario}", **kwargs)
    shared.clear()
    run(shared)
    again = dedup.DedupIndex.from_redis(url, name=f"trip-{scenario}", **kwargs)
    probe = f"{LONG}\n\n{BOILER}\n\n{variant(5)}"
    expected = (_view(memory.query(probe)), _state(memory))
    assert (_view(loaded.query(probe)), _state(loaded)) == expected
    assert (_view(again.query(probe)), _state(again)) == expected
    # The band table is in bucket hashes of Redis's compact encoding; ``:lh`` counts their keys.
    import redis  # (the ``redis_url`` fixture skipped this test where redis-py is missing)

    client = redis.Redis.from_url(url)
    buckets = list(client.scan_iter(match=f"dedup:trip-{scenario}:h:*".encode()))
    assert {client.object("encoding", h) for h in buckets} == {b"listpack"}
    assert int(client.hget(f"dedup:trip-{scenario}:lh", "F")) == sum(client.hlen(h) for h in buckets)
    assert _view(again.add("later", probe, timestamp=50.0)) == _view(
        loaded.add("later", probe, timestamp=50.0)
    )
    shared.clear()
    client.close()
