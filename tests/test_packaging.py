"""The distribution users install by name: its metadata, and every install hint that names it."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import dedup
from dedup._version import DISTRIBUTION, install_hint

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_distribution_is_ours_under_its_own_name() -> None:
    assert DISTRIBUTION != "dedup"  # "dedup" on PyPI is an unrelated project (0.0.2, 2017)
    assert importlib.metadata.version(DISTRIBUTION) == dedup.__version__


def test_every_install_hint_names_our_distribution() -> None:
    files = [
        ROOT / "README.md",
        *sorted((ROOT / "dedup").rglob("*.py")),
        *sorted((ROOT / "examples").glob("*.py")),
    ]
    wrong = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in files
        for m in re.finditer(
            r"pip install (?!-e )['\"]?dedup\b(?!-passages)[^\s'\"]*", path.read_text(encoding="utf-8")
        )
    ]
    assert wrong == []
    assert install_hint("redis") == f"pip install '{DISTRIBUTION}[redis]'"
