"""benchmarks/quality.py: its scoring helpers against slow references, and a run on the seeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.quality import Score, best_threshold

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
    rows = json.loads(target.read_text(encoding="utf-8"))["rows"]
    assert [r["method"] for r in rows] == ["dedup", "links", "exact", "minhash", "tsr"]
    assert all(r["tp"] + r["fn"] == 8 for r in rows)  # the seed's 8 gold paragraph pairs
    assert "paragraph pairs" in out.stdout


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
