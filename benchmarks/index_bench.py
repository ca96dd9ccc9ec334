"""DedupIndex size and latency: add/query of a ~25-paragraph article against N stored paragraphs.

Run from the repository root::

    python benchmarks/index_bench.py                      # 100k real-prose paragraphs, memory + file
    python benchmarks/index_bench.py --redis auto         # also Redis (starts a local redis-server)
    python benchmarks/index_bench.py --paragraphs 20000 --queries 100 --corpus synthetic

Stored text (``--corpus prose``, the default) is real prose: the paragraphs of
``benchmarks/prose.py`` (Python, Linux and Perl manuals, then news articles),
25 to an article.  Each probe article has 25 paragraphs not stored, of which 4
are replaced by stored paragraphs and 3 by stored paragraphs with a few words
changed, so every probe has real work to verify.  ``--corpus synthetic`` draws
news-like sentences from the CNN token distribution instead.

Printed: bytes per character of stored text in memory (what the store's arrays,
text buffer and key dict hold; and the growth of the process's resident memory
while building, the segmenter's and shingle hasher's caches warmed first), in the saved
file and in Redis (``INFO`` ``used_memory`` growth, per character and per
document, and ``MEMORY USAGE`` summed by kind of key); p50/p99 of ``query`` and
``add`` (ms), a split of one query's time, save/load time.  Beside them, in the
same run and on the same stored sentences (the first ``--baseline-paragraphs``):
datasketch's ``MinHashLSH`` (same signatures, one key per sentence) in memory
and with its Redis storage: bytes per character of the texts it indexes (it
keeps no text), and its candidate lookup per article (no verification).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dedup
from dedup._index.crossmatch import sketch
from dedup._index.index import MAX_BUCKET
from dedup._index.memory import MemoryStore
from dedup._text.segment import STOPWORDS, segment

try:
    from benchmarks.prose import prose_pool
except ImportError:  # run as a script: benchmarks/ is on the path
    from prose import prose_pool  # type: ignore[no-redef]

PARAS_PER_ARTICLE = 25


CNN = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "datasets"
    / "cnn_poc_highlights"
    / "articles.jsonl"
)


class Prose:
    """Deterministic news-like paragraphs: tokens drawn from a real news unigram distribution.

    With the CNN articles of ``../shared/datasets`` present, tokens are sampled
    from their token stream (so stop words, names, figures and content words
    occur at news rates); otherwise from a Zipf law over pseudo-words.
    """

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        if CNN.exists():
            import json

            stream: list[str] = []
            for line in CNN.read_text(encoding="utf-8").splitlines():
                stream.extend(json.loads(line)["text"].replace(".", " ").split())
            self.tokens = np.array(stream, dtype=object)
            self.source = f"unigram sample of {len(stream)} CNN tokens"
        else:
            syll = ["ka", "lo", "mi", "ra", "ten", "vo", "sa", "ne", "dri", "pol", "cor", "ban", "tu"]
            words = sorted(
                {"".join(syll[int(i)] for i in self.rng.integers(0, 13, 3)) for _ in range(30_000)}
            )
            ranks = np.arange(50, 50 + len(words), dtype=np.float64)
            p = 1 / ranks
            picks = self.rng.choice(len(words), 500_000, p=p / p.sum())
            stops = sorted(STOPWORDS)
            stream = [words[i] if self.rng.random() > 0.45 else stops[i % len(stops)] for i in picks]
            self.tokens = np.array(stream, dtype=object)
            self.source = "Zipf pseudo-words (CNN sample not found)"

    def sentence(self) -> str:
        words = list(self.tokens[self.rng.integers(0, self.tokens.size, int(self.rng.integers(10, 29)))])
        words[0] = words[0][:1].upper() + words[0][1:]
        return " ".join(words) + "."

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(int(self.rng.integers(1, 4))))

    def article(self) -> list[str]:
        return [self.paragraph() for _ in range(PARAS_PER_ARTICLE)]


class RealProse:
    """Real paragraphs (``benchmarks/prose.py``), handed out 25 to an article, never twice."""

    def __init__(self, paragraphs: int) -> None:
        self.pool = prose_pool(paragraphs)
        self.at = 0
        self.source = f"real prose: {len(self.pool)} paragraphs of benchmarks/prose.py"

    def article(self) -> list[str]:
        if self.at + PARAS_PER_ARTICLE > len(self.pool):
            raise SystemExit(f"the prose pool has only {len(self.pool)} paragraphs")
        self.at += PARAS_PER_ARTICLE
        return self.pool[self.at - PARAS_PER_ARTICLE : self.at]


def reword(paragraph: str, rng: np.random.Generator) -> str:
    words = paragraph.split()
    for _ in range(max(1, len(words) // 12)):
        k = int(rng.integers(0, len(words)))
        words[k] = "reportedly" if not words[k].endswith(".") else "today."
    return " ".join(words)


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000.0, q))


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def probes(prose: Prose | RealProse, stored: list[list[str]], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        paras = prose.article()
        for slot in rng.choice(PARAS_PER_ARTICLE, 7, replace=False).tolist()[:4]:
            src = stored[int(rng.integers(0, len(stored)))]
            paras[slot] = src[int(rng.integers(0, len(src)))]
        for slot in rng.choice(PARAS_PER_ARTICLE, 3, replace=False).tolist():
            src = stored[int(rng.integers(0, len(stored)))]
            paras[slot] = reword(src[int(rng.integers(0, len(src)))], rng)
        out.append("\n\n".join(paras))
    return out


def resident() -> int:
    """This process's resident memory in bytes (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def heap_of(build: Callable[[], object], *, traced: bool = False) -> tuple[object, int]:
    """What ``build`` returns, and the memory it left in use: the growth of the resident set
    (freed memory the allocator keeps counts too, as it does for a real process), or with
    ``traced`` the Python heap ``tracemalloc`` counts (slower)."""
    gc.collect()
    if traced:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if traced else resident()
    out = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if traced else resident()
    if traced:
        tracemalloc.stop()
    return out, after - before


def store_bytes(store: MemoryStore) -> int:
    """Bytes an in-memory store holds: its arrays (with their spare capacity), texts, keys, topic names."""
    arrays = (
        store._slot_alive, store._slot_ts, store._slot_first, store._slot_count, store._slot_text,
        store._slot_tlen, store._sid_slot, store._sid_span, store._frozen,
    )  # fmt: skip
    keys = sys.getsizeof(store._slot_of) + sys.getsizeof(store._slot_key) + sys.getsizeof(store._slot_topic)
    keys += sum(sys.getsizeof(k) for k in store._slot_of)
    keys += sum(sys.getsizeof(t) for t in store._slot_topic if t)  # "" is one shared object
    return sum(a.nbytes for a in arrays) + store._buffer.__sizeof__() + store._runs.nbytes + keys


def bench_memory(articles: list[list[str]], probe_texts: list[str], tmp: Path) -> dedup.DedupIndex:
    texts = ["\n\n".join(paras) for paras in articles]
    chars = sum(map(len, texts))
    options = dedup.Options()
    for text in texts:  # the segmenter's and shingle hasher's caches are the process's, not the index's
        sketch(tuple(segment(text)), options)
    warm = dedup.DedupIndex()  # and so are the modules a first add imports
    for n, text in enumerate(probe_texts[:3]):
        warm.add(str(n), text)
    del warm

    def build() -> dedup.DedupIndex:
        index = dedup.DedupIndex()
        for n, text in enumerate(texts):
            index.add(f"a{n}", text, timestamp=float(n))
        return index

    t = time.perf_counter()
    built, heap = heap_of(build)
    assert isinstance(built, dedup.DedupIndex)
    index = built
    build_s = time.perf_counter() - t
    store = index._store
    assert isinstance(store, MemoryStore)
    print(
        f"memory: built {len(articles)} articles ({len(articles) * PARAS_PER_ARTICLE} paragraphs, "
        f"{chars / 1e6:.1f}M characters, {store._n_sids} sentences, {store._runs.entries} band key "
        f"entries) in {build_s:.1f} s"
    )
    held = store_bytes(store)
    print(
        f"memory: {held / chars:.2f} bytes per character held by the index ({held / 1e6:.1f} MB: arrays, "
        f"text, keys); the process grew by {heap / chars:.2f} per character (allocator slack included)"
    )
    for text in probe_texts[:5]:  # warm caches
        index.query(text)
    q = [timed(lambda text=text: index.query(text)) for text in probe_texts]
    found = sum(len(index.query(text)) for text in probe_texts[:20]) / 20
    a = [
        timed(lambda n=n, text=text: index.add(f"probe{n}", text, timestamp=1e9 + n))
        for n, text in enumerate(probe_texts)
    ]
    print(
        f"memory: query p50 {pct(q, 50):.2f} ms  p99 {pct(q, 99):.2f} ms   "
        f"add p50 {pct(a, 50):.2f} ms  p99 {pct(a, 99):.2f} ms   ({found:.1f} matches per probe)"
    )
    # Where one query's time goes.
    parts = {"segment": [], "sketch": [], "lookup": [], "verify+build": []}
    from dedup._index.crossmatch import cross_matches

    for text in probe_texts:
        t0 = time.perf_counter()
        sents = tuple(segment(text))
        t1 = time.perf_counter()
        sk = sketch(sents, index.options)
        t2 = time.perf_counter()
        stored, pairs = store.read(lambda view, s=sents, k=sk: index._candidates(view, s, k, -float("inf")))
        t3 = time.perf_counter()
        cross_matches(None, text, sents, stored, pairs, index.options)
        t4 = time.perf_counter()
        for name, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[name].append(dt)
    print("memory: query split (p50 ms): " + ", ".join(f"{k} {pct(v, 50):.2f}" for k, v in parts.items()))
    path = tmp / "bench.idx"
    save = timed(lambda: index.save(path))
    load = timed(lambda: dedup.DedupIndex.load(path))
    size = os.path.getsize(path)
    saved_chars = chars + sum(map(len, probe_texts))  # the probes were added: the file holds them too
    print(
        f"memory: save {save:.2f} s, load {load:.2f} s, file {size / 1e6:.1f} MB "
        f"({size / saved_chars:.2f} bytes per character)"
    )
    return index


def bench_datasketch(
    index: dedup.DedupIndex, probe_texts: list[str], limit: int, redis_url: str | None
) -> None:
    """Baseline: datasketch MinHashLSH over the same signatures, one key per sentence."""
    from datasketch import MinHashLSH

    from dedup._sketch.minhash import lsh_params, signatures, to_datasketch
    from dedup._sketch.shingle import sentence_shingle_hashes

    opts = index.options
    bands, rows = lsh_params(opts.lsh_threshold, opts.num_perm)
    keys = list(index)[:limit]
    chars = sum(len(index.text(key)) for key in keys)
    items = []
    for key in keys:
        sents = [s for s in segment(index.text(key)) if len(s.words) >= opts.min_words]
        if sents:
            h, off = sentence_shingle_hashes(sents, opts.shingle_size)
            items += [
                (f"{key}/{k}", sig) for k, sig in enumerate(signatures(h, off, opts.num_perm, opts.seed))
            ]

    def build(lsh: MinHashLSH) -> MinHashLSH:
        with lsh.insertion_session() as session:
            for name, sig in items:
                session.insert(name, to_datasketch(sig, opts.seed), check_duplication=False)
        return lsh

    t = time.perf_counter()
    lsh, heap = heap_of(lambda: build(MinHashLSH(num_perm=opts.num_perm, params=(bands, rows))), traced=True)
    build_s = time.perf_counter() - t
    assert isinstance(lsh, MinHashLSH)

    def lookups(lsh: MinHashLSH) -> list[float]:
        times = []
        for text in probe_texts:
            t0 = time.perf_counter()
            sents = [s for s in segment(text) if len(s.words) >= opts.min_words]
            h, off = sentence_shingle_hashes(sents, opts.shingle_size)
            for sig in signatures(h, off, opts.num_perm, opts.seed):
                lsh.query(to_datasketch(sig, opts.seed))
            times.append(time.perf_counter() - t0)
        return times

    times = lookups(lsh)
    print(
        f"baseline datasketch MinHashLSH in memory ({len(items)} sentences of {len(keys)} articles, "
        f"{chars / 1e6:.1f}M characters, built in {build_s:.1f} s): {heap / chars:.2f} bytes per character "
        f"(Python heap, no text kept); candidate lookup alone p50 {pct(times, 50):.2f} ms "
        f"p99 {pct(times, 99):.2f} ms per article (no verification)"
    )
    if redis_url is None:
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    before = int(client.info("memory")["used_memory"])
    host, port = (
        client.connection_pool.connection_kwargs["host"],
        client.connection_pool.connection_kwargs["port"],
    )
    config = {"type": "redis", "basename": b"dsbench", "redis": {"host": host, "port": port}}
    t = time.perf_counter()
    rlsh = build(MinHashLSH(num_perm=opts.num_perm, params=(bands, rows), storage_config=config))
    build_s = time.perf_counter() - t
    used = int(client.info("memory")["used_memory"]) - before
    times = lookups(rlsh)
    print(
        f"baseline datasketch MinHashLSH in Redis (built in {build_s:.1f} s, {client.dbsize()} keys): "
        f"{used / chars:.2f} bytes per character (used_memory growth, no text kept); candidate lookup "
        f"alone p50 {pct(times, 50):.2f} ms p99 {pct(times, 99):.2f} ms per article"
    )
    client.flushdb()
    client.close()


def start_redis() -> tuple[str, subprocess.Popen[bytes]]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", proc


def memory_usage(client: object, prefix: bytes, chars: int) -> str:
    """``MEMORY USAGE`` of every key under ``prefix``, summed by the part of the name after it."""
    kinds: dict[str, list[int]] = {}
    names = list(client.scan_iter(match=prefix + b"*", count=1000))  # type: ignore[attr-defined]
    pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
    for name in names:
        pipe.memory_usage(name, samples=0)
    for name, size in zip(names, pipe.execute(), strict=True):
        kind = name[len(prefix) :].split(b":")[0].decode("ascii", "replace")
        kinds.setdefault(kind, [0, 0])
        kinds[kind][0] += 1
        kinds[kind][1] += int(size or 0)
    return ", ".join(
        f":{kind} {size / chars:.2f} ({count} keys)"
        for kind, (count, size) in sorted(kinds.items(), key=lambda kv: -kv[1][1])
    )


def bench_redis(url: str, articles: list[list[str]], probe_texts: list[str]) -> None:
    index = dedup.DedupIndex.from_redis(url, name="bench")
    index.clear()
    client = index._store._r  # type: ignore[attr-defined]
    before = int(client.info("memory")["used_memory"])
    texts = ["\n\n".join(paras) for paras in articles]
    chars = sum(map(len, texts))
    t = time.perf_counter()
    for n, text in enumerate(texts):
        index.add(f"a{n}", text, timestamp=float(n))
    build = time.perf_counter() - t
    used = int(client.info("memory")["used_memory"]) - before
    print(
        f"redis: built {len(articles)} articles in {build:.1f} s ({len(articles) / build:.0f} adds/s), "
        f"{client.dbsize()} keys ({client.dbsize() / len(texts):.1f} per document), "
        f"{used / chars:.2f} bytes per character (used_memory growth), {used / len(texts):.0f} per document"
    )
    print(
        "redis: MEMORY USAGE by kind of key, bytes per character: "
        + memory_usage(client, b"dedup:bench:", chars)
    )
    for text in probe_texts[:5]:
        index.query(text)
    q = [timed(lambda text=text: index.query(text)) for text in probe_texts]
    a = [
        timed(lambda n=n, text=text: index.add(f"probe{n}", text, timestamp=1e9 + n))
        for n, text in enumerate(probe_texts)
    ]
    print(
        f"redis: query p50 {pct(q, 50):.2f} ms  p99 {pct(q, 99):.2f} ms   "
        f"add p50 {pct(a, 50):.2f} ms  p99 {pct(a, 99):.2f} ms"
    )
    index.clear()
    index.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paragraphs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--corpus", choices=("prose", "synthetic"), default="prose")
    ap.add_argument("--redis", default=None, help="Redis URL, or 'auto' to start a local redis-server")
    ap.add_argument("--redis-paragraphs", type=int, default=None, help="stored paragraphs for Redis")
    ap.add_argument("--baseline-paragraphs", type=int, default=20_000)
    args = ap.parse_args()
    n_articles = max(1, args.paragraphs // PARAS_PER_ARTICLE)
    t = time.perf_counter()
    prose: Prose | RealProse = (
        Prose() if args.corpus == "synthetic" else RealProse((n_articles + args.queries) * PARAS_PER_ARTICLE)
    )
    articles = [prose.article() for _ in range(n_articles)]
    probe_texts = probes(prose, articles, args.queries, seed=11)
    print(
        f"{prose.source}; {n_articles} articles + {len(probe_texts)} probes "
        f"in {time.perf_counter() - t:.1f} s (max bucket {MAX_BUCKET})"
    )
    proc = None
    url = args.redis
    if url == "auto":
        url, proc = start_redis()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            index = bench_memory(articles, probe_texts, Path(tmp))
        bench_datasketch(index, probe_texts[:50], args.baseline_paragraphs // PARAS_PER_ARTICLE, url)
        del index
        if url:
            n = (args.redis_paragraphs or args.paragraphs) // PARAS_PER_ARTICLE
            bench_redis(url, articles[:n], probe_texts)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
