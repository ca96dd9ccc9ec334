"""Shared fixtures: the seed article and its gold clusters; a redis-server of each module's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.index.redis_server import REDIS_SERVER, running_server

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def seed_text() -> str:
    return (SEEDS / "000_2e71187361903d7a.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_gold() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEEDS / "000_2e71187361903d7a.gold.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server started for the module (skipped without redis-server or redis-py)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis")
    with running_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
