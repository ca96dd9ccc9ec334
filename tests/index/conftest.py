"""The index tests' shared fixture: a redis-server of each module's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.index.redis_server import REDIS_SERVER, running_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server started for the module (skipped without redis-server or redis-py)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis")
    with running_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
