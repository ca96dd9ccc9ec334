"""Output files: permissions as a user expects, links followed, pipes written through, failures harmless."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import dedup
from dedup._io import atomic_write, atomic_write_text

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_2e71187361903d7a.txt"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_file_gets_the_permissions_the_umask_gives(tmp_path: Path, umask_022: object) -> None:
    target = tmp_path / "report.html"
    atomic_write_text(target, "<p>hi</p>")
    assert _mode(target) == 0o644  # readable by a web server, not the 0600 of a temporary file


def test_the_cli_report_and_a_saved_index_are_readable_by_others(tmp_path: Path, umask_022: object) -> None:
    report = tmp_path / "r.html"
    subprocess.run(
        [sys.executable, "-m", "dedup", str(SEED), "--format", "html", "-o", str(report)], check=True
    )
    index = dedup.DedupIndex()
    index.add("seed", SEED.read_text(encoding="utf-8"))
    saved = tmp_path / "x.idx"
    index.save(saved)
    assert _mode(report) == 0o644 and _mode(saved) == 0o644


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o640


def test_a_symbolic_link_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real) and real.read_text() == "new"


def test_a_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    subprocess.run(
        [sys.executable, "-m", "dedup", str(SEED), "--format", "json", "-o", str(fifo)], check=True
    )
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].startswith(b"{")


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("previous")

    def fail(fh: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)  # type: ignore[arg-type]
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
