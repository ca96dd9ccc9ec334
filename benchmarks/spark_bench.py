"""dedup.spark in Spark local mode beside the in-process engine, on the same synthetic corpus.

Run from the repository root::

    python benchmarks/spark_bench.py                          # 100k paragraphs, local[2]
    python benchmarks/spark_bench.py --paragraphs 20000 --check
    python benchmarks/spark_bench.py --paragraphs 1000000 --skip-in-process --master 'local[*]'

The corpus is synthetic news-like prose from a fixed seed: sentences of 10–28
tokens drawn from the token stream of ``../shared/datasets/lee_background``
(a Zipf law over pseudo-words when it is absent), 2–3 sentences per
paragraph, 25 paragraphs per document; 3% of paragraphs are copies of earlier
ones and 3% copies with a few words changed, so verification has real work.

Printed: wall time of the in-process engine (``DedupIndex.clusters()``) and of
``dedup.spark.find_duplicates`` with both result DataFrames materialised
(Spark session start-up reported apart), cluster and match counts, and with
``--check`` whether the two results are equal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dedup
import dedup.spark as dspark

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paragraphs", type=int, default=100_000)
    p.add_argument("--master", default="local[2]")
    p.add_argument("--partitions", type=int, default=8, help="input partitions and shuffle partitions")
    p.add_argument("--skip-in-process", action="store_true")
    p.add_argument("--check", action="store_true", help="also assert the two results are equal")
    args = p.parse_args()

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
