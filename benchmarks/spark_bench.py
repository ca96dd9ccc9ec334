"""dedup.spark in Spark local mode beside the in-process engine, on the same synthetic corpus.

Run from the repository root::

    python benchmarks/spark_bench.py                          # 100k paragraphs, local[2]
    python benchmarks/spark_bench.py --paragraphs 20000 --check
    python benchmarks/spark_bench.py --paragraphs 1000000 --skip-in-process --master 'local[*]'
    python benchmarks/spark_bench.py --input corpus.jsonl --check   # beside corpus mode

The corpus is synthetic news-like prose from a fixed seed: sentences of 10–28
tokens drawn from the token stream of ``../shared/datasets/lee_background``
(a Zipf law over pseudo-words when it is absent), 2–3 sentences per
paragraph, 25 paragraphs per document; 3% of paragraphs are copies of earlier
ones and 3% copies with a few words changed, so verification has real work.

With ``--input FILE.jsonl`` (``id`` and ``text`` fields) the comparison is
with corpus mode instead: wall time of ``python -m dedup corpus FILE --jobs 2``
(a fresh process) and of a fresh Spark process (session start included)
that writes its clusters; ``--check`` runs corpus mode again on the documents
sorted by id (the order Spark numbers them in) and compares the clusters.

Printed: wall time of the in-process engine (``DedupIndex.clusters()``) and of
``dedup.spark.find_duplicates`` with both result DataFrames materialised
(Spark session start-up reported apart), cluster and match counts, and with
``--check`` whether the two results are equal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dedup
import dedup.spark as dspark
from dedup._cli.spark import read_documents

_LEE = Path("shared") / "datasets" / "lee_background" / "docs.jsonl"
LEE = next(
    (p for p in (Path(__file__).resolve().parent.parent.parent / _LEE, Path("/work") / _LEE) if p.exists()),
    None,
)
PARAS_PER_DOC = 25


def corpus(paragraphs: int, seed: int = 11) -> list[tuple[str, str]]:
    """``(id, text)`` documents of ``PARAS_PER_DOC`` paragraphs each, ``paragraphs`` in all."""
    rng = np.random.default_rng(seed)
    if LEE is not None:
        stream = [w for line in LEE.open(encoding="utf-8") for w in json.loads(line)["text"].split()]
        tokens = [w.strip(".,;:!?\"'()") or w for w in stream]
    else:
        syll = ["ka", "lo", "mi", "ra", "ten", "vo", "sa", "ne", "dri", "pol", "cor", "ban", "tu"]
        tokens = ["".join(syll[int(i)] for i in rng.integers(0, 13, 3)) for _ in range(30_000)]
    lengths = rng.integers(10, 29, size=(paragraphs, 3))
    n_sents = rng.integers(2, 4, size=paragraphs)
    draws = iter(rng.integers(0, len(tokens), size=int(lengths.sum())).tolist())
    rolls = rng.random(paragraphs)
    paras: list[str] = []
    for n in range(paragraphs):
        if paras and rolls[n] < 0.03:
            paras.append(paras[int(rng.integers(len(paras)))])
            continue
        if paras and rolls[n] < 0.06:
            words = paras[int(rng.integers(len(paras)))].split(" ")
            for k in rng.integers(0, len(words), 3).tolist():
                words[k] = tokens[next(draws)]
            paras.append(" ".join(words))
            continue
        sents = []
        for k in range(int(n_sents[n])):
            words = [tokens[next(draws)] for _ in range(int(lengths[n, k]))]
            words[0] = words[0][:1].upper() + words[0][1:]
            sents.append(" ".join(words) + ".")
        paras.append(" ".join(sents))
    return [
        (f"doc-{n // PARAS_PER_DOC:07d}", "\n\n".join(paras[n : n + PARAS_PER_DOC]))
        for n in range(0, len(paras), PARAS_PER_DOC)
    ]


def _spark_clusters(path: str, out: str, master: str, partitions: int) -> None:
    """Run in a fresh process (``--spark-only``): Spark on a JSON-lines file, clusters to ``out``
    as corpus mode writes them (one JSON line per cluster)."""
    t0 = time.perf_counter()
    conf = [f"spark.sql.shuffle.partitions={partitions}", "spark.ui.showConsoleProgress=false"]
    spark = dspark.session(master, conf)
    spark.sparkContext.setLogLevel("ERROR")
    t1 = time.perf_counter()
    result = dspark.find_duplicates(read_documents(spark, path, "jsonl", "id", "text"))  # as `dedup spark`
    rows = [r.asDict() for r in result.clusters.toLocalIterator()]
    n_matches = result.matches.count()
    with open(out, "w", encoding="utf-8") as fh:
        for line in _as_corpus_lines(rows):
            fh.write(line)
    spark.stop()
    print(f"  (session {t1 - t0:.1f} s, {n_matches} matches)")


def _as_corpus_lines(rows: list[dict[str, object]]) -> list[str]:
    """Spark's passage rows as the JSON lines of ``python -m dedup corpus``."""
    lines = []
    n = 0
    while n < len(rows):
        cluster = rows[n]["cluster"]
        own = []
        while n < len(rows) and rows[n]["cluster"] == cluster:
            own.append(rows[n])
            n += 1
        rep = own[0]["representative"]
        passages = ", ".join(
            json.dumps({"key": r["key"], "start": r["start"], "end": r["end"], "text": r["text"]},
                       ensure_ascii=False)
            for r in own
        )  # fmt: skip
        head = f'{{"cluster": {cluster}, "score": {own[0]["score"]!r}, "representative": {rep}'
        lines.append(f'{head}, "passages": [{passages}]}}\n')
    return lines


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def against_corpus_mode(args: argparse.Namespace) -> None:
    """Spark (a fresh process, session start included) beside ``python -m dedup corpus --jobs 2``."""
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        corpus_out, spark_out = f"{tmp}/corpus.jsonl", f"{tmp}/spark.jsonl"
        corpus = _timed([py, "-m", "dedup", "corpus", args.input, "--quiet", "--jobs", "2", "-o", corpus_out])
        print(f"corpus mode --jobs 2: {corpus:.1f} s")
        me = [py, str(Path(__file__).resolve()), "--spark-only", args.input, spark_out]
        spark = _timed([*me, "--master", args.master, "--partitions", str(args.partitions)])
        print(f"spark {args.master}: {spark:.1f} s ({spark / corpus:.1f}x corpus mode)")
        if args.check:
            with open(args.input, encoding="utf-8") as fh:
                docs = sorted((str(json.loads(line)["id"]), line) for line in fh if line.strip())
            by_id = f"{tmp}/by_id.jsonl"
            with open(by_id, "w", encoding="utf-8") as fh:
                fh.writelines(line if line.endswith("\n") else line + "\n" for _, line in docs)
            subprocess.run([py, "-m", "dedup", "corpus", by_id, "--quiet", "--jobs", "2", "-o", corpus_out],
                           check=True)  # fmt: skip
            same = Path(corpus_out).read_bytes() == Path(spark_out).read_bytes()
            n = len(Path(corpus_out).read_text(encoding="utf-8").splitlines())
            print(f"spark clusters == corpus mode clusters (documents by id, {n} clusters): {same}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paragraphs", type=int, default=100_000)
    p.add_argument("--input", help="a JSON-lines corpus: compare with corpus mode on it")
    p.add_argument("--spark-only", nargs=2, metavar=("INPUT", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--partitions", type=int, default=8, help="input partitions and shuffle partitions")
    p.add_argument("--skip-in-process", action="store_true")
    p.add_argument("--check", action="store_true", help="also assert the two results are equal")
    args = p.parse_args()
    if args.spark_only:
        _spark_clusters(*args.spark_only, args.master, args.partitions)
        return
    if args.input:
        against_corpus_mode(args)
        return

    items = corpus(args.paragraphs)
    print(
        f"corpus: {args.paragraphs} paragraphs in {len(items)} documents, "
        f"{sum(len(t) for _, t in items)} chars"
    )

    expected = None
    if not args.skip_in_process:
        t0 = time.perf_counter()
        found = dedup.DedupIndex.from_texts(items).clusters()
        print(
            f"in-process: {time.perf_counter() - t0:.1f} s, {len(found)} clusters, "
            f"{len(found.matches)} matches"
        )
        expected = found.to_records()

    t0 = time.perf_counter()
    conf = [f"spark.sql.shuffle.partitions={args.partitions}", "spark.ui.showConsoleProgress=false"]
    spark = dspark.session(args.master, conf)
    spark.sparkContext.setLogLevel("ERROR")
    print(f"spark session ({args.master}): {time.perf_counter() - t0:.1f} s")
    df = spark.createDataFrame(items, "id string, text string").repartition(args.partitions)
    df = df.cache()
    df.count()
    t0 = time.perf_counter()
    result = dspark.find_duplicates(df)
    clusters = result.clusters.cache()
    n_passages = clusters.count()
    n_clusters = clusters.select("cluster").distinct().count()
    n_matches = result.matches.count()
    print(
        f"spark: {time.perf_counter() - t0:.1f} s, {n_clusters} clusters "
        f"({n_passages} passages), {n_matches} matches"
    )
    if args.check and expected is not None:
        same = [r.asDict() for r in clusters.collect()] == expected
        print(f"spark == in-process: {same}")
    spark.stop()


if __name__ == "__main__":
    main()
