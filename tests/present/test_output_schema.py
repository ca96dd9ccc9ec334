"""One output schema: the same fields everywhere, loadable in one line by pandas, DuckDB and polars."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dedup
from dedup._cluster.result import RECORD_FIELDS

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = DATA.parent.parent


def _corpus(tmp_path: Path) -> tuple[Path, dedup.Clusters]:
    docs = tmp_path / "docs.jsonl"
    with (DATA / "cnn_poc_highlights_40.jsonl").open(encoding="utf-8") as fh:
        lines = [line for _, line in zip(range(12), fh, strict=False)]
    docs.write_text("".join(lines), encoding="utf-8")
    found = dedup.find_corpus_duplicates([(r["id"], r["text"]) for r in map(json.loads, lines)], jobs=1)
    return docs, found


def test_the_cluster_object_is_the_same_in_every_output(tmp_path: Path) -> None:
    docs, found = _corpus(tmp_path)
    out = tmp_path / "clusters.jsonl"
    cmd = [sys.executable, "-m", "dedup", "corpus", str(docs), "-o", str(out), "--jobs", "1", "--quiet"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == found.to_json()["clusters"]  # corpus JSON lines = single-file JSON's clusters
    assert all(list(c) == ["cluster", "score", "representative", "passages"] for c in lines)
    records = found.to_records()
    assert records and all(tuple(r) == RECORD_FIELDS for r in records)
    for r in records:  # the flat rows say what the nested objects say
        c = lines[r["cluster"]]
        assert (r["score"], r["representative"]) == (c["score"], c["representative"])
        assert c["passages"][r["passage"]] == {k: r[k] for k in ("key", "start", "end", "text")}


def test_the_match_object_is_the_same_in_every_output(tmp_path: Path) -> None:
    docs, found = _corpus(tmp_path)
    out = tmp_path / "matches.jsonl"
    cmd = [sys.executable, "-m", "dedup", "corpus", str(docs), "-o", str(out), "--output-kind", "matches"]
    subprocess.run([*cmd, "--jobs", "1", "--quiet"], check=True, cwd=ROOT)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == found.to_json()["matches"]  # corpus JSON lines = single-file JSON's matches
    assert lines and len(lines) == len(found.matches)
    for line, m in zip(lines, found.matches, strict=True):
        assert list(line) == ["score", "kind", "a", "b", "alignments"]
        assert (line["a"]["start"], line["b"]["end"]) == (m.a.span.start, m.b.span.end)
        # Spark's ``matches`` rows carry the same alignment objects (tests/spark).
        assert [list(al) for al in line["alignments"]] == [
            ["a_start", "a_end", "b_start", "b_end", "score"]
        ] * len(m.alignments)


@pytest.mark.parametrize("library", ["pandas", "duckdb", "polars"])
def test_outputs_load_in_one_line(tmp_path: Path, library: str) -> None:
    _, found = _corpus(tmp_path)
    nested = tmp_path / "clusters.jsonl"
    nested.write_text("".join(json.dumps(c) + "\n" for c in found.to_json()["clusters"]), encoding="utf-8")
    flat = tmp_path / "passages.jsonl"
    flat.write_text("".join(json.dumps(r) + "\n" for r in found.to_records()), encoding="utf-8")
    lib = pytest.importorskip(library)
    if library == "pandas":
        clusters, passages = lib.read_json(nested, lines=True), lib.read_json(flat, lines=True)
        n_clusters, columns, n_rows = len(clusters), list(passages.columns), len(passages)
        first = clusters["passages"][0][0]
    elif library == "duckdb":
        clusters = lib.sql(f"SELECT * FROM read_json_auto('{nested}')")
        passages = lib.sql(f"SELECT * FROM read_json_auto('{flat}')")
        n_clusters, columns, n_rows = len(clusters.fetchall()), passages.columns, len(passages.fetchall())
        first = lib.sql(f"SELECT passages[1] AS p FROM read_json_auto('{nested}') LIMIT 1").fetchall()[0][0]
    else:
        clusters, passages = lib.read_ndjson(nested), lib.read_ndjson(flat)
        n_clusters, columns, n_rows = clusters.height, passages.columns, passages.height
        first = clusters["passages"][0][0]
    assert n_clusters == len(found)
    assert list(columns) == list(RECORD_FIELDS)
    assert n_rows == sum(len(c) for c in found)
    p = found[0].passages[0]
    assert (first["key"], first["start"], first["end"], first["text"]) == (
        p.key,
        p.span.start,
        p.span.end,
        p.text,
    )
