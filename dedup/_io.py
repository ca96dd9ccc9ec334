"""Atomic file writes (temporary file in the same folder, fsync, rename); temporary files that outlive no one.

Every temporary file is named after the host and process that made it, so
that the next one made in the same folder removes those left by processes
that died without cleaning up (SIGKILL, power loss): a killed save left a
full-size ``.dedup-*.tmp`` beside the index each time.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from collections.abc import Callable
from typing import IO

__all__ = ["atomic_write", "atomic_write_text", "owned_temp_file"]


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale(folder: str, prefix: str, suffix: str) -> None:
    """Remove ``prefix<host>.<pid>.*suffix`` files in ``folder`` left by dead processes of this host."""
    pattern = re.compile(
        re.escape(prefix) + re.escape(_host()) + r"\.(\d+)\.[A-Za-z0-9_]+" + re.escape(suffix) + "$"
    )
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = pattern.match(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def owned_temp_file(folder: str | None, prefix: str, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` named ``prefix<host>.<pid>.<random>suffix``, after removing stale ones."""
    folder = tempfile.gettempdir() if folder is None else folder
    remove_stale(folder, prefix, suffix)
    return tempfile.mkstemp(prefix=f"{prefix}{_host()}.{os.getpid()}.", suffix=suffix, dir=folder)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temporary file and move it over ``path`` only if it succeeds.

    A crash, a full disk or an exception inside ``write`` leaves ``path`` as it was.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = owned_temp_file(folder, ".dedup-", ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    data = text.encode("utf-8")

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    atomic_write(path, write)
