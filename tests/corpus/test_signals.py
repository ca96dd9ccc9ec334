"""Real signals against real processes: Ctrl-C and SIGTERM during corpus runs, SIGKILL during a save."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dedup._io import atomic_write_text

DATA = Path(__file__).resolve().parents[1] / "data"

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20k documents mixing real sentences and random words: a few seconds of work on two cores."""
    rng = random.Random(7)
    sents: list[str] = []
    for name in ("lee_background_40.jsonl", "cnn_poc_highlights_40.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            sents += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 4]
    words = sorted({w for s in sents for w in s.split()})
    path = tmp_path_factory.mktemp("signals") / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for k in range(20000):
            head = " ".join(rng.sample(words, 12)).capitalize()
            tail = " ".join(rng.sample(words, 15)).capitalize()
            fh.write(json.dumps({"id": f"d{k}", "text": f"{head}. {rng.choice(sents)} {tail}."}) + "\n")
    return path


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _start_corpus_run(args: list[str], tmp: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", "corpus", *args, "--quiet", "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        **kwargs,  # type: ignore[call-overload]
    )
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 2:  # the two workers run: the run is under way
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.02)
    return proc


def _group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("delay", [0.0, 0.7, 1.5])
def test_ctrl_c_stops_a_parallel_corpus_run_with_status_130(
    big_corpus: Path, tmp_path: Path, delay: float
) -> None:
    out = tmp_path / "out.jsonl"
    proc = _start_corpus_run([str(big_corpus), "-o", str(out)], tmp_path)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
    _, err = proc.communicate(timeout=60)  # a hang fails here
    assert proc.returncode == 130, err
    assert b"interrupted; no output written" in err
    assert [p.name for p in tmp_path.iterdir()] == []  # no output, no temporary file
    deadline = time.monotonic() + 10
    while not _group_is_gone(proc.pid):  # every worker has exited too
        assert time.monotonic() < deadline, "worker processes outlived the run"
        time.sleep(0.05)


def test_sigterm_stops_a_corpus_run_from_stdin_and_removes_its_spool_file(
    big_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    with big_corpus.open("rb") as stdin:
        proc = _start_corpus_run(["-", "-o", str(out)], tmp_path, stdin=stdin)
        spooled = [p.name for p in tmp_path.iterdir()]
        assert any(name.startswith("dedup-corpus-") for name in spooled), spooled
        proc.send_signal(signal.SIGTERM)  # the parent only, as `kill PID` or a service manager
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert b"terminated; no output written" in err
    assert [p.name for p in tmp_path.iterdir()] == []


_SLOW_SAVE = """
import sys, time
from dedup._io import atomic_write

def write(fh):
    fh.write(b"x" * 100_000)
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)

atomic_write(sys.argv[1], write)
"""


def test_a_save_killed_midway_leaves_the_old_file_and_the_next_save_removes_its_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "index.bin"
    target.write_bytes(b"old")
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SAVE, str(target)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"writing\n"
    proc.kill()
    proc.wait()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert target.read_bytes() == b"old" and len(left) == 2  # the old file and the dead save's temporary
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["index.bin"]


def test_a_live_process_temporary_file_is_left_alone(tmp_path: Path) -> None:
    from dedup._io import owned_temp_file

    fd, mine = owned_temp_file(str(tmp_path), ".dedup-", ".tmp")
    os.close(fd)
    atomic_write_text(tmp_path / "other", "x")  # another save in the same folder, same (live) process
    assert Path(mine).exists()


def test_a_sigterm_whose_exception_python_swallowed_still_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler's exception can land where Python only prints "Exception ignored in"
    # (logging's lock release after a fork, as the worker pool starts): seen once under load,
    # the run then finished with status 0.  The flag the handler sets stops it before writing.
    import dedup._cli.corpus as cli

    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "text": "Some text here."}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    real_find = cli._find

    def find_then_lose_the_signal(*args: object, **kwargs: object) -> object:
        found = real_find(*args, **kwargs)  # type: ignore[arg-type]
        with contextlib.suppress(cli._Terminated):  # what "Exception ignored in ..." amounts to
            cli._raise_terminated(signal.SIGTERM, None)
        return found

    monkeypatch.setattr(cli, "_find", find_then_lose_the_signal)
    assert cli.corpus_main([str(docs), "-o", str(out), "--jobs", "1"]) == 143
    assert not out.exists()
