"""Real Scrapy crawls of a local site whose pages share paragraphs, through dedup's Scrapy pipeline."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("scrapy")

import dedup

ROOT = Path(__file__).resolve().parents[2]

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


class _SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site; ``slow-*`` pages answer after a minute (a crawl still running)."""

    def do_GET(self) -> None:
        if "slow-" in self.path:
            time.sleep(60)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(tmp_path: Path, pages: dict[str, tuple[str, list[str]]]) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    links = "".join(f'<a href="{name}">{name}</a> ' for name in pages)
    (root / "index.html").write_text(f"<html><body>{links}</body></html>")
    for name, (title, paragraphs) in pages.items():
        (root / name).write_text(_page(title, paragraphs))
    handler = functools.partial(_SlowHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path, {name: (name, paragraphs) for name, paragraphs in PAGES.items()})


def _command(start: str, out: Path, settings: dict[str, object]) -> list[str]:
    cmd = [
        sys.executable, "-m", "scrapy", "runspider", str(ROOT / "examples" / "scrapy_pipeline.py"),
        "-a", f"start={start}", "-O", str(out), "-s", "LOG_LEVEL=WARNING",
        "-s", "ROBOTSTXT_OBEY=False", "-s", "TELNETCONSOLE_ENABLED=False",
    ]  # fmt: skip
    for name, value in settings.items():
        cmd += ["-s", f"{name}={value}"]
    return cmd


_ENV = {"PATH": "/usr/bin:/bin"}


def _crawl(
    start: str, tmp_path: Path, index_path: Path | None, **settings: object
) -> list[dict[str, object]]:
    out = tmp_path / f"items-{len(list(tmp_path.glob('items-*')))}.json"
    if index_path is not None:
        settings["DEDUP_INDEX_PATH"] = index_path
    done = subprocess.run(
        _command(start, out, settings), capture_output=True, text=True, timeout=180, env=_ENV, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Deprecat" not in done.stderr, done.stderr[-3000:]  # current hook signatures
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
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


def _name(item: dict[str, object]) -> str:
    return str(item["url"]).rsplit("/", 1)[1]


def test_flag_mode_keeps_every_item_whole_and_says_what_it_repeats(site: str, tmp_path: Path) -> None:
    items = {_name(i): i for i in _crawl(site, tmp_path, tmp_path / "seen.idx", DEDUP_MODE="flag")}
    assert set(items) == set(PAGES)  # nothing dropped
    for name, paragraphs in PAGES.items():
        assert items[name]["text"] == "\n\n".join(P[k] for k in paragraphs)  # nothing changed
    copies = [items["bridge.html"], items["bridge-copy.html"]]
    shares = sorted(float(c["duplicate_share"]) for c in copies)  # type: ignore[arg-type]
    assert shares[1] > 0.95  # the later of two identical pages: all but the blank lines between paragraphs
    # Whatever order the pages came in, every later occurrence of a paragraph counts as repeated.
    repeated = sum(float(i["duplicate_share"]) * len(str(i["text"])) for i in items.values())  # type: ignore[arg-type]
    counts = Counter(k for paragraphs in PAGES.values() for k in paragraphs)
    expected = sum((n - 1) * len(P[k]) for k, n in counts.items())
    assert abs(repeated - expected) <= 2 * len(items)


def test_drop_mode_drops_only_items_with_nothing_new_and_changes_no_text(site: str, tmp_path: Path) -> None:
    items = _crawl(site, tmp_path, tmp_path / "seen.idx", DEDUP_MODE="drop")
    assert len(items) == 3  # one of the two identical pages is gone
    for item in items:
        assert item["text"] == "\n\n".join(P[k] for k in PAGES[_name(item)])


def test_items_with_the_same_key_at_once_store_one_and_drop_the_other(tmp_path: Path) -> None:
    # Keyed by title, two different pages share a key: their adds race in the worker threads.
    pages = {
        "a.html": ("Same title", ["bridge"]),
        "b.html": ("Same title", ["snow"]),
        "c.html": ("C", ["fire"]),
    }
    for start in _serve(tmp_path, pages):
        items = _crawl(start, tmp_path, tmp_path / "seen.idx", DEDUP_KEY_FIELD="title")
    assert sorted(str(i["title"]) for i in items) == ["C", "Same title"]
    index = dedup.DedupIndex.load(tmp_path / "seen.idx")
    assert sorted(index) == ["C", "Same title"]


def test_a_killed_crawl_keeps_the_index_saved_so_far(tmp_path: Path) -> None:
    pages = {
        "bridge.html": ("bridge", ["bridge", "cost"]),
        "fire.html": ("fire", ["fire", "cause"]),
        "slow-page.html": ("slow", ["snow"]),  # answers after a minute: the crawl is still running
    }
    index_path = tmp_path / "seen.idx"
    for start in _serve(tmp_path, pages):
        settings = {"DEDUP_INDEX_PATH": index_path, "DEDUP_SAVE_INTERVAL": 0, "DEDUP_KEY_FIELD": "title"}
        proc = subprocess.Popen(_command(start, tmp_path / "items.json", settings), env=_ENV, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 120
            while not (index_path.exists() and len(dedup.DedupIndex.load(index_path)) == 2):
                assert proc.poll() is None and time.monotonic() < deadline, (
                    "the two fast pages were not saved"
                )
                time.sleep(0.2)
        finally:
            proc.kill()  # a crash: no close_spider
            proc.wait()
    assert sorted(dedup.DedupIndex.load(index_path)) == ["bridge", "fire"]


def test_a_crawl_that_yields_nothing_still_saves_its_index(tmp_path: Path) -> None:
    index_path = tmp_path / "seen.idx"
    for start in _serve(tmp_path, {}):  # a site of one page with no article
        assert _crawl(start, tmp_path, index_path) == []
    assert len(dedup.DedupIndex.load(index_path)) == 0  # the next run, or a tool, finds the index


def test_crawls_share_an_index_in_redis(site: str, tmp_path: Path, redis_url: str) -> None:
    first = _crawl(site, tmp_path, None, DEDUP_REDIS_URL=redis_url, DEDUP_NAME="crawl")
    assert len(first) == 3
    index = dedup.DedupIndex.from_redis(redis_url, name="crawl")
    try:
        assert len(index) == len(PAGES)  # every page the first crawl saw, seen by another process
    finally:
        index.close()
    assert _crawl(site, tmp_path, None, DEDUP_REDIS_URL=redis_url, DEDUP_NAME="crawl") == []
