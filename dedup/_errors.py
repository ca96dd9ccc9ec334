"""Exception tree of dedup: every error the library raises derives from DedupError."""

from __future__ import annotations

__all__ = [
    "DedupError",
    "DuplicateKeyError",
    "IncompatibleIndexError",
    "IndexFormatError",
    "InvalidOptionError",
    "StorageError",
]


class DedupError(Exception):
    """Base class of every error raised by dedup."""


class InvalidOptionError(DedupError, ValueError):
    """An option is outside its documented range, e.g. ``threshold=1.5``."""


class DuplicateKeyError(DedupError, KeyError):
    """A document key is already in the index (pass ``replace=True`` to overwrite)."""

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0]) if self.args else ""


class IndexFormatError(DedupError, ValueError):
    """A saved index file is truncated, corrupted or not an index at all."""


class IncompatibleIndexError(DedupError):
    """A saved index was built with other settings or a newer format version."""


class StorageError(DedupError):
    """The storage backend (e.g. Redis) failed or could not be reached."""


class IndexNotFoundError(StorageError, FileNotFoundError):
    """No saved index at the path given: catchable as ``StorageError`` and as ``FileNotFoundError``."""
