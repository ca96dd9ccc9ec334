"""Shared fixtures: the seed article and its gold clusters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def seed_text() -> str:
    return (SEEDS / "000_2e71187361903d7a.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_gold() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEEDS / "000_2e71187361903d7a.gold.json").read_text(encoding="utf-8"))
    return data
