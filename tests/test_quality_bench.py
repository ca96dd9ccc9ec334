"""benchmarks/quality.py: its scoring helpers against slow references, and a run on the seeds."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dedup
from benchmarks.quality import (
    CLUSTERS,
    LINKS,
    Lines,
    Row,
    Score,
    best_threshold,
    cluster_pairs,
    eval_news,
    format_table,
    link_pairs,
)

ROOT = Path(__file__).resolve().parent.parent

pairs = st.lists(st.tuples(st.integers(0, 30)), unique=True, max_size=25)


@given(pairs, st.lists(st.integers(0, 100), min_size=25, max_size=25), pairs)
def test_best_threshold_matches_trying_every_cut(
    units: list[tuple[int]], scores: list[int], gold_units: list[tuple[int]]
) -> None:
    scored = {u: float(s) for u, s in zip(units, scores, strict=False)}
    gold = set(gold_units)
    _, f1 = best_threshold(scored, gold, lambda p: True)
    slow = max(
        (Score.of({p for p, s in scored.items() if s >= t}, gold).f1 for t in set(scored.values())),
        default=-1.0,
    )
    assert abs(f1 - slow) < 1e-12


def test_score_counts_false_pairs_only_where_labelled() -> None:
    score = Score.of({(1,), (2,), (3,)}, {(1,), (4,)}, counted=lambda p: p != (3,))
    assert (score.tp, score.fp, score.fn) == (1, 1, 1)
    assert score.precision == 0.5 and score.recall == 0.5


def test_quality_run_on_the_seeds_writes_every_method(tmp_path: Path) -> None:
    target = tmp_path / "q.json"
    cmd = [sys.executable, "benchmarks/quality.py", "--dataset", "seeds", "--json", str(target)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    payload = json.loads(target.read_text(encoding="utf-8"))
    rows = payload["rows"]
    assert [(r["method"], r["measure"]) for r in rows] == [
        ("dedup", LINKS),
        ("dedup", CLUSTERS),
        ("exact", LINKS),
        ("minhash", LINKS),
        ("tsr", LINKS),
    ]
    assert payload["schema"] == 2 and set(payload["measures"]) == {LINKS, CLUSTERS}
    assert all(r["tp"] + r["fn"] == 8 for r in rows)  # the seed's 8 gold paragraph pairs
    assert "paragraph pairs" in out.stdout and "pairs inside clusters" in out.stdout


def test_without_the_labelled_data_the_benchmark_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--data", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "pass --data DIR" in done.stderr and "Traceback" not in done.stderr


def test_the_speed_corpus_installs_nothing_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import prose

    calls: list[object] = []
    monkeypatch.setattr(prose, "_apt_install", calls.append)  # would run apt-get
    prose.ensure_prose(extra=True)
    assert calls == []
    prose.ensure_prose(extra=False, install=True)  # asked: only what is missing (here: nothing or all)
    assert all(isinstance(c, (list, tuple)) for c in calls)


# --- direct links against pairs inside clusters, on hand-made clusters: one passage per line

TEXT = "\n".join(f"line {k} says something." for k in range(8))
LINES = Lines(TEXT)


def _line(k: int) -> dedup.Passage:
    start = sum(len(f"line {j} says something.") + 1 for j in range(k))
    end = start + len(f"line {k} says something.")
    return dedup.Passage(None, dedup.Span(start, end), TEXT[start:end])


def _match(a: dedup.Passage, b: dedup.Passage) -> dedup.Match:
    return dedup.Match(a, b, 0.9)


def _components(n: int, edges: list[tuple[int, int]]) -> list[dedup.Cluster]:
    """Connected components of ``edges``, as clusters holding their matches (how dedup groups)."""
    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for a, b in edges:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for k in sorted({k for e in edges for k in e}):
        groups.setdefault(root(k), []).append(k)
    out = []
    for members in groups.values():
        ms = tuple(_match(_line(a), _line(b)) for a, b in edges if root(a) == root(members[0]))
        passages = tuple(_line(k) for k in members)
        out.append(dedup.Cluster(0.9, passages, passages[0], ms))
    return out


def test_a_chain_pairs_its_ends_inside_the_cluster_but_not_as_a_direct_link() -> None:
    a, b, c = _line(0), _line(1), _line(2)
    matches = [_match(a, b), _match(b, c)]
    cluster = dedup.Cluster(0.9, (a, b, c), b, tuple(matches))
    assert cluster_pairs([cluster], LINES.of_passage) == {(0, 1), (0, 2), (1, 2)}
    assert link_pairs(matches, LINES.of_passage) == {(0, 1), (1, 2)}


def test_a_direct_link_pairs_each_line_of_one_passage_with_each_line_of_the_other() -> None:
    two_lines = dedup.Passage(None, dedup.Span(_line(0).start, _line(1).end), "")
    assert link_pairs([_match(two_lines, _line(3))], LINES.of_passage) == {(0, 3), (1, 3)}


edges = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)).filter(lambda e: e[0] != e[1]), max_size=12)


@given(edges)
def test_direct_links_are_the_matches_and_clusters_add_every_pair_of_a_component(
    found: list[tuple[int, int]],
) -> None:
    clusters = _components(8, found)
    links = link_pairs([m for c in clusters for m in c.matches], LINES.of_passage)
    inside = cluster_pairs(clusters, LINES.of_passage)
    assert links == {tuple(sorted(e)) for e in found}
    slow = {
        tuple(sorted((LINES.of(p.start), LINES.of(q.start))))
        for c in clusters
        for p, q in itertools.combinations(c.passages, 2)
    }
    assert inside == slow
    assert links <= inside


def test_news_restatements_splits_by_sorted_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "news_restatements"
    folder.mkdir()
    seed = ROOT / "seeds"
    gold = json.loads(next(seed.glob("*.gold.json")).read_text(encoding="utf-8"))
    for name in ("c", "a", "b"):
        shutil.copy(seed / gold["text_file"], folder / f"{name}.txt")
        (folder / f"{name}.gold.json").write_text(json.dumps({**gold, "text_file": f"{name}.txt"}))
    tune, held_out, whole = eval_news(tmp_path)
    assert (tune.name, held_out.name, whole.name) == (
        "news_restatements/tune",
        "news_restatements/held-out",
        "news_restatements/all",
    )
    assert {p[0] for p in tune.gold} == {"a.txt"}
    assert {p[0] for p in held_out.gold} == {"b.txt", "c.txt"}
    assert whole.gold == tune.gold | held_out.gold
    assert held_out.tsr_cut == whole.tsr_cut == tune.tsr_cut is not None


def test_the_table_shows_no_cluster_measure_for_a_baseline() -> None:
    rows = [
        Row("set", "dedup", LINKS, Score(3, 1, 1)),
        Row("set", "dedup", CLUSTERS, Score(4, 3, 0)),
        Row("set", "exact", LINKS, Score(1, 0, 3), "no clusters"),
    ]
    table = format_table(rows, {"set": "pairs"}).splitlines()
    dedup_line = next(line for line in table if " dedup " in line)
    exact_line = next(line for line in table if " exact " in line)
    assert "0.750" in dedup_line.split("|")[0] and "0.571" in dedup_line.split("|")[1]
    assert exact_line.split("|")[1].split() == ["-", "no", "clusters"]


def test_before_prints_each_dedup_row_beside_the_earlier_run(tmp_path: Path) -> None:
    earlier = tmp_path / "before.json"
    cmd = [sys.executable, "benchmarks/quality.py", "--dataset", "seeds", "--json", str(earlier)]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    payload = json.loads(earlier.read_text(encoding="utf-8"))
    for row in payload["rows"]:
        if row["method"] == "dedup" and row["measure"] == "links":
            row["f1"] = 0.25  # as if the earlier code had scored worse
    earlier.write_text(json.dumps(payload), encoding="utf-8")
    cmd += ["--before", str(earlier), "--json", str(tmp_path / "now.json")]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    compared = [line.split() for line in out.splitlines() if line.startswith("seeds ")][-2:]
    assert [c[1] for c in compared] == ["links", "clusters"]
    assert compared[0][-1] == "+0.750" and compared[1][-1] == "+0.000"


def test_before_that_is_neither_a_table_nor_a_revision_is_a_clear_error(tmp_path: Path) -> None:
    cmd = [sys.executable, "benchmarks/quality.py", "--dataset", "seeds", "--before", "no-such-revision"]
    cmd += ["--json", str(tmp_path / "q.json")]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1
    assert "--before no-such-revision: neither a table file nor a revision" in out.stderr
    assert "Traceback" not in out.stderr
