"""The package version and distribution name, in one place (package, saved indexes, hints, build)."""

__version__ = "0.1.0"

#: The name to ``pip install``: ``dedup`` on PyPI is an unrelated project; the import name stays ``dedup``.
DISTRIBUTION = "dedup-passages"


def install_hint(extra: str) -> str:
    """The command that installs an optional extra, e.g. ``pip install 'dedup-passages[redis]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"
