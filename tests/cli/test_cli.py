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
    # The cluster object of the output schema: the same fields as a corpus run's JSON line.
    assert list(first) == ["cluster", "score", "representative", "passages"]
    assert [c["cluster"] for c in data["clusters"]] == list(range(len(data["clusters"])))
    assert 0 <= first["representative"] < len(first["passages"])
    p = first["passages"][0]
    assert set(p) == {"key", "start", "end", "text"}
    assert seed_text[p["start"] : p["end"]] == p["text"]
    # And the match objects of a corpus run's ``--output-kind matches`` lines, best first.
    m = data["matches"][0]
    assert list(m) == ["score", "kind", "a", "b", "alignments"]
    assert seed_text[m["a"]["start"] : m["a"]["end"]] == m["a"]["text"]
    assert set(m["alignments"][0]) == {"a_start", "a_end", "b_start", "b_end", "score"}
    assert [x["score"] for x in data["matches"]] == sorted(
        (x["score"] for x in data["matches"]), reverse=True
    )


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


def test_help_lists_every_command_and_the_exit_statuses() -> None:
    out = _run("--help").stdout.decode()
    assert "dedup corpus INPUT" in out and "dedup spark INPUT" in out and "exit status" in out


def test_version_names_the_package_and_its_distribution() -> None:
    import dedup

    out = _run("--version")
    assert (
        out.returncode == 0 and out.stdout.decode().strip() == f"dedup {dedup.__version__} (dedup-passages)"
    )


def test_runtime_errors_exit_1_and_usage_errors_2(tmp_path: Path) -> None:
    assert _run(str(tmp_path / "nope.txt")).returncode == 1  # the input cannot be read
    assert _run(str(SEED), "--threshold", "high").returncode == 2  # wrong arguments
    assert _run(str(SEED), "--threshold", "1.5").returncode == 1  # a value the detector refuses
    assert _run().returncode == 2


def test_a_corpus_given_without_the_corpus_command_gets_a_hint(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": 1, "text": "A."}\n')
    for target in (docs, tmp_path):
        out = _run(str(target))
        assert out.returncode == 2 and f"run 'dedup corpus {target}'" in out.stderr.decode()


def test_fail_on_duplicates_gives_status_3_only_when_found(tmp_path: Path) -> None:
    clean = tmp_path / "clean.txt"
    clean.write_text("One sentence here.\nAnother, different one.\n")
    assert _run(str(SEED), "--fail-on-duplicates").returncode == 3
    assert _run(str(SEED)).returncode == 0
    assert _run(str(clean), "--fail-on-duplicates").returncode == 0
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": k, "text": SEED.read_text()}) + "\n" for k in "ab"))
    assert _run("corpus", str(docs), "--jobs", "1", "--quiet", "--fail-on-duplicates").returncode == 3


def test_every_command_takes_the_same_detection_options() -> None:
    for command in ([], ["corpus"], ["spark"]):
        text = _run(*command, "--help").stdout.decode()
        for option in (
            "--threshold",
            "--num-perm",
            "--seed",
            "--min-words",
            "--no-short-copies",
            "--fail-on-duplicates",
        ):
            assert option in text, (command, option)
    assert "--id-field" in _run("corpus", "--help").stdout.decode()
    assert "--id-field" in _run("spark", "--help").stdout.decode()  # --id-column stays as an alias


def test_min_words_reaches_the_corpus_detector(tmp_path: Path) -> None:
    text = "The harbour ferry sailed at dawn. Prices rose again in March."
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        json.dumps({"id": "a", "text": text})
        + "\n"
        + json.dumps({"id": "b", "text": "The harbour ferry sailed at dawn, they said. Rain fell."})
        + "\n"
    )
    loose = _run("corpus", str(docs), "--jobs", "1", "--quiet", "--min-words", "3").stdout
    strict = _run("corpus", str(docs), "--jobs", "1", "--quiet", "--min-words", "50").stdout
    assert loose.strip() and not strict.strip()


def test_no_short_copies_reaches_the_corpus_detector(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        json.dumps({"id": "a", "text": "Yes.\n\nThe harbour ferry sailed at dawn."})
        + "\n"
        + json.dumps({"id": "b", "text": "Prices rose again in March.\n\nYes."})
        + "\n"
    )
    kept = _run("corpus", str(docs), "--jobs", "1", "--quiet").stdout
    dropped = _run("corpus", str(docs), "--jobs", "1", "--quiet", "--no-short-copies").stdout
    assert b"Yes." in kept and not dropped.strip()


def test_spark_help_needs_no_pandas() -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from dedup._cli.main import main\n"
        "sys.exit(main(['spark', '--help']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert out.returncode == 0 and b"--id-field" in out.stdout, out.stderr
