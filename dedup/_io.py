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
import stat
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
    The file gets the permissions of the file it replaces, or those the umask
    gives a new file (not the 0600 of a temporary file).  A symbolic link is
    followed: the file it points to is replaced and the link stays.  A target
    that is not a regular file (a FIFO, ``/dev/stdout``) is written to
    directly, as there is nothing to rename over it.
    """
    target = os.path.realpath(os.fspath(path))  # through symbolic links, deliberately
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        with open(target, "wb") as direct:
            write(direct)
        return
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    folder = os.path.dirname(target)
    fd, tmp = owned_temp_file(folder, ".dedup-", ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
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


def _umask() -> int:
    """The process umask, read without changing it where the system says it (Linux)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    data = text.encode("utf-8")

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    atomic_write(path, write)
