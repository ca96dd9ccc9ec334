"""A real Scrapy crawl of a local site whose pages share paragraphs, through the example pipeline."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("scrapy")

ROOT = Path(__file__).resolve().parent.parent

P = {
    "bridge": "The mayor opened the new bridge over the river on Tuesday morning.",
    "cost": "The bridge cost twelve million pounds and took three years to build.",
    "fire": "Firefighters contained the warehouse blaze after six hours of work.",
    "cause": "Investigators believe an electrical fault in the loading bay started it.",
    "rates": "The central bank left interest rates unchanged for a third month.",
    "snow": "Heavy snow is expected across the northern hills this weekend.",
}
PAGES = {
    "bridge.html": ["bridge", "cost"],
    "fire.html": ["fire", "cause", "bridge"],  # repeats one paragraph of bridge.html
    "bridge-copy.html": ["bridge", "cost"],  # syndicated copy: nothing new
    "roundup.html": ["rates", "fire", "snow"],  # one repeated paragraph, two new
}


def _page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{P[k]}</p>" for k in paragraphs)
    head = f"<head><title>{title}</title></head>"
    return f"<html>{head}<body><nav>Menu</nav><article>{body}</article></body></html>"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    links = "".join(f'<a href="{name}">{name}</a> ' for name in PAGES)
    (root / "index.html").write_text(f"<html><body>{links}</body></html>")
    for name, paragraphs in PAGES.items():
        (root / name).write_text(_page(name, paragraphs))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def _crawl(start: str, tmp_path: Path, index_path: Path) -> list[dict[str, object]]:
    out = tmp_path / f"items-{len(list(tmp_path.glob('items-*')))}.json"
    cmd = [
        sys.executable, "-m", "scrapy", "runspider", str(ROOT / "examples" / "scrapy_pipeline.py"),
        "-a", f"start={start}", "-O", str(out),
        "-s", f"DEDUP_INDEX_PATH={index_path}", "-s", "LOG_LEVEL=WARNING",
        "-s", "ROBOTSTXT_OBEY=False", "-s", "TELNETCONSOLE_ENABLED=False",
    ]  # fmt: skip
    env = {"PYTHONPATH": str(ROOT / "examples"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    items: list[dict[str, object]] = json.loads(out.read_text())
    return items


def test_a_crawl_stores_every_paragraph_exactly_once(site: str, tmp_path: Path) -> None:
    index_path = tmp_path / "seen.idx"
    items = _crawl(site, tmp_path, index_path)
    stored = [str(item["text"]) for item in items]
    for key, text in P.items():
        assert sum(s.count(text) for s in stored) == 1, key
    # One of the two identical pages is dropped whole; the others keep what was new.
    urls = sorted(str(item["url"]).rsplit("/", 1)[1] for item in items)
    assert len(urls) == 3 and ("bridge.html" in urls) != ("bridge-copy.html" in urls)
    assert all(item["duplicate_of"] is not None for item in items)

    # A second crawl with the saved index finds nothing new at all.
    assert index_path.exists()
    assert _crawl(site, tmp_path, index_path) == []
