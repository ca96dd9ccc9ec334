"""dedup.spark in Spark local[2] mode: the same clusters and matches as the in-process engine."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import dedup
import dedup._cluster.build
import dedup._text.segment
import dedup.spark as dspark
from dedup.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
# The first 40 documents of ../shared/datasets/lee_background (copied: tests must not need shared/).
DATA = ROOT / "tests" / "data" / "lee_background_40.jsonl"

if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("pyarrow") is None:
    pytest.skip(
        "Spark tests need pyspark and pyarrow: pip install -e '.[spark]' (scripts/test.sh does)",
        allow_module_level=True,
    )
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip(
        "Spark tests need Java: apt-get install default-jre-headless (scripts/test.sh does)",
        allow_module_level=True,
    )

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _lee_docs(n: int) -> list[tuple[str, str]]:
    with DATA.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line, _ in zip(fh, range(n), strict=False)]
    return [(str(r["id"]), str(r["text"])) for r in rows]


def _sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in dedup._text.segment.segment(text)]


def _mid_copy(text: str) -> str:
    """``text`` from the middle of its second sentence to the middle of its fifth, at words."""
    sents = dedup._text.segment.segment(text)
    start = text.index(" ", (sents[1].start + sents[1].end) // 2) + 1
    end = text.index(" ", (sents[4].start + sents[4].end) // 2)
    return text[start:end]


@pytest.fixture(scope="session")
def corpus() -> list[tuple[str, str]]:
    """30 real documents plus copies: exact, reworded, fused, repeated within a doc, cross-partition."""
    docs = _lee_docs(30)
    s3, s7, s12 = _sentences(docs[3][1]), _sentences(docs[7][1]), _sentences(docs[12][1])
    fused = s12[0].rstrip(".") + ", while " + s12[1][0].lower() + s12[1][1:]
    reworded = " ".join(s3[:2]).replace(" the ", " a ").replace(" and ", " as well as ")
    extra = [
        ("copy-exact", "An unrelated opening about the weather today.\n\n" + " ".join(s7[1:4])),
        ("copy-reworded", reworded + "\n\nSomething else entirely was said by nobody in particular."),
        ("copy-fused", fused),
        ("copy-repeat", docs[5][1][:300] + "\n\nA short bridge paragraph here.\n\n" + docs[5][1][:300]),
        # The first and the last key: range partitioning puts them in different partitions.
        ("aaa-early", "Lead paragraph of the early document.\n\n" + " ".join(s12[2:4])),
        ("zzz-late", " ".join(s12[2:4]) + "\n\nClosing remarks of the late document follow here."),
        # Exact copies under ``min_words``: clustered by their copy chain alone.
        ("short-1", "Read more.\n\nLead paragraph of a document about something else."),
        ("short-2", "Another opening paragraph with its own words in it.\n\nRead more."),
        ("short-3", "Read more."),
        # A passage copied from mid-sentence to mid-sentence (its match extends to the copy's edges).
        ("copy-trimmed", "A paragraph of our own comes first here.\n\n" + _mid_copy(docs[9][1])),
    ]
    return sorted(docs + extra)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    # Tiny data: few shuffle partitions, and no code generation (compiling costs more than it saves).
    conf = [
        "spark.sql.shuffle.partitions=4",
        "spark.default.parallelism=4",
        "spark.sql.codegen.wholeStage=false",
        "spark.ui.enabled=false",
        "spark.ui.showConsoleProgress=false",
    ]
    session = dspark.session("local[2]", conf)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _expected_records(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return dedup.DedupIndex.from_texts(items).clusters().to_records()


def _expected_matches(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "a_key": m.a.key,
            "a_start": m.a.start,
            "a_end": m.a.end,
            "a_text": m.a.text,
            "b_key": m.b.key,
            "b_start": m.b.start,
            "b_end": m.b.end,
            "b_text": m.b.text,
            "score": m.score,
            "kind": m.kind,
            "alignments": [
                {
                    "a_start": al.a.start,
                    "a_end": al.a.end,
                    "b_start": al.b.start,
                    "b_end": al.b.end,
                    "score": al.score,
                }
                for al in m.alignments
            ],
        }
        for m in dedup.DedupIndex.from_texts(items).clusters().matches
    ]


@pytest.fixture(scope="session")
def result(spark: SparkSession, corpus: list[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
    from pyspark.sql import functions as F

    df = spark.createDataFrame(corpus, "id string, text string").repartitionByRange(4, "id")
    parts = dict(df.select("id", F.spark_partition_id().alias("p")).collect())  # type: ignore[arg-type]
    assert parts["aaa-early"] != parts["zzz-late"]
    found = dspark.find_duplicates(df)
    out = {
        "clusters": [r.asDict() for r in found.clusters.collect()],
        "matches": [r.asDict(recursive=True) for r in found.matches.collect()],
    }
    found.unpersist()
    return out


def test_clusters_equal_the_in_process_engine(
    result: dict[str, list[dict[str, Any]]], corpus: list[tuple[str, str]]
) -> None:
    expected = _expected_records(corpus)
    assert expected, "the corpus should hold duplicates"
    assert result["clusters"] == expected


def test_matches_equal_the_in_process_engine(
    result: dict[str, list[dict[str, Any]]], corpus: list[tuple[str, str]]
) -> None:
    assert result["matches"] == _expected_matches(corpus)


def test_distributed_stages_give_the_same_result(
    spark: SparkSession,
    corpus: list[tuple[str, str]],
    result: dict[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing collected to the driver: components in rounds, clusters ranked by a distributed sort.
    monkeypatch.setattr(dspark, "DRIVER_ROWS", 0)
    found = dspark.find_duplicates(spark.createDataFrame(corpus, "id string, text string"))
    assert [r.asDict() for r in found.clusters.collect()] == result["clusters"]
    assert [r.asDict(recursive=True) for r in found.matches.collect()] == result["matches"]
    found.unpersist()


def test_copy_in_another_partition_is_found(result: dict[str, list[dict[str, Any]]]) -> None:
    by_cluster: dict[int, set[str]] = {}
    for row in result["clusters"]:
        by_cluster.setdefault(row["cluster"], set()).add(row["key"])
    assert any({"aaa-early", "zzz-late"} <= keys for keys in by_cluster.values())


def test_short_exact_copies_are_clustered(result: dict[str, list[dict[str, Any]]]) -> None:
    assert len("Read more.".split()) < dedup.Options().min_words
    by_cluster: dict[int, set[tuple[str, str]]] = {}
    for row in result["clusters"]:
        by_cluster.setdefault(row["cluster"], set()).add((row["key"], row["text"]))
    expected = {(key, "Read more.") for key in ("short-1", "short-2", "short-3")}
    assert expected in by_cluster.values()


def test_short_copies_off_equals_the_in_process_engine(
    spark: SparkSession, corpus: list[tuple[str, str]]
) -> None:
    df = spark.createDataFrame(corpus, "id string, text string")
    found = dspark.find_duplicates(df, short_copies=False)
    rows = [r.asDict() for r in found.clusters.collect()]
    found.unpersist()
    assert rows == dedup.DedupIndex.from_texts(corpus, short_copies=False).clusters().to_records()
    assert "Read more." not in {row["text"] for row in rows}


@pytest.mark.parametrize("driver_edges", [0, 9, 10])  # in rounds on DataFrames; on the driver
def test_connected_components_match_union_find(spark: SparkSession, driver_edges: int) -> None:
    edges = [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (20, 25), (21, 25), (22, 21), (7, 30), (30, 8)]
    df = spark.createDataFrame(edges, "u long, v long")
    got = dict(dspark.connected_components(df, driver_edges=driver_edges).collect())  # type: ignore[arg-type]
    uf = dedup._cluster.build.UnionFind(31)
    for u, v in edges:
        uf.union(u, v)
    nodes = {x for e in edges for x in e}
    assert got == {x: uf.find(x) for x in nodes}


def test_command_line_round_trip(spark: SparkSession, tmp_path: Path) -> None:
    items = [
        ("d1", "Troops are leaving the border region today, officials said.\n\nMarkets were calm."),
        ("d2", "Analysts expect a rebound.\n\nTroops are leaving the border region today, officials said."),
        ("3", "The central bank left rates unchanged on Thursday after a long meeting."),
        ("d4", "On Thursday the central bank left its rates unchanged after a long meeting."),
    ]
    src = tmp_path / "docs.jsonl"
    lines = [json.dumps({"id": int(k) if k.isdigit() else k, "text": t}) + "\n" for k, t in items]
    src.write_text("".join(lines), encoding="utf-8")  # (a number as id: its JSON text is the key)
    out = tmp_path / "out"
    assert main(["spark", str(src), "-o", str(out), "--format", "jsonl", "--master", "local[2]"]) == 0
    rows = [
        json.loads(line)
        for part in sorted((out / "clusters").glob("part-*.json"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    assert (out / "matches").is_dir()
    assert rows == _expected_records(items)
    assert len({r["cluster"] for r in rows}) == 2


def test_missing_columns_are_reported(spark: SparkSession) -> None:
    df = spark.createDataFrame([("a", "text")], "key string, body string")
    with pytest.raises(dedup.DedupError, match="column 'id' not in the DataFrame"):
        dspark.find_duplicates(df)


def test_null_and_repeated_ids_are_reported(spark: SparkSession) -> None:
    repeated = spark.createDataFrame([("a", "x"), ("b", "y"), ("a", "z")], "id string, text string")
    with pytest.raises(dedup.DuplicateKeyError, match="key 'a' appears more than once"):
        dspark.find_duplicates(repeated)
    null = spark.createDataFrame([("a", "x"), (None, "y")], "id string, text string")
    with pytest.raises(dedup.DedupError, match="null ids"):
        dspark.find_duplicates(null)


def test_a_copy_from_mid_sentence_is_matched_to_its_edges(
    result: dict[str, list[dict[str, Any]]], corpus: list[tuple[str, str]]
) -> None:
    texts = dict(corpus)
    copied = texts["copy-trimmed"].split("\n\n", 1)[1]
    found = [
        m
        for m in result["matches"]
        if "copy-trimmed" in (m["a_key"], m["b_key"]) and copied in (m["a_text"], m["b_text"])
    ]
    assert found, "the copied passage is one match, edges included"
