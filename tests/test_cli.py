"""The command line: readable text, JSON, stdin, clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEEDS

SEED = SEEDS / "000_2e71187361903d7a.txt"


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dedup", *args], input=stdin, capture_output=True, check=False
    )


def test_cli_prints_clusters_readably() -> None:
    out = _run(str(SEED))
    assert out.returncode == 0
    assert b"Cluster 1  score 1.000" in out.stdout


def test_cli_json_has_the_documented_shape(seed_text: str) -> None:
    out = _run(str(SEED), "--format", "json")
    data = json.loads(out.stdout)
    first = data["clusters"][0]
    assert set(first) == {"score", "passages"}
    p = first["passages"][0]
    assert set(p) == {"key", "start", "end", "text"}
    assert seed_text[p["start"] : p["end"]] == p["text"]


def test_cli_reads_standard_input(seed_text: str) -> None:
    out = _run("-", "--format", "json", stdin=seed_text.encode("utf-8"))
    assert out.returncode == 0
    assert json.loads(out.stdout)["clusters"]


def test_cli_rejects_non_utf8_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Café crème brûlée.\n".encode("latin-1"))
    out = _run(str(bad))
    assert out.returncode != 0
    err = out.stderr.decode()
    assert "not valid UTF-8" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    out = _run(str(tmp_path / "nope.txt"))
    assert out.returncode != 0
    assert b"Traceback" not in out.stderr


def test_cli_writes_a_standalone_html_report(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    out = _run(str(SEED), "--format", "html", "-o", str(target))
    assert out.returncode == 0
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<mark" in page
    assert "http://" not in page and "https://" not in page
