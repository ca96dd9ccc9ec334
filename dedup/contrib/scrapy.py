"""A Scrapy item pipeline that finds, before storage, which passages of each scraped article were seen.

Enable it in your project's ``settings.py``::

    ITEM_PIPELINES = {"dedup.contrib.scrapy.DedupPipeline": 300}
    DEDUP_FIELD = "text"               # item field holding the article text
    DEDUP_KEY_FIELD = "url"            # item field used as the document key
    DEDUP_MODE = "strip"               # strip | drop | flag (see below)
    DEDUP_INDEX_PATH = "seen.idx"      # an in-memory index loaded from and saved to this file; or
    DEDUP_REDIS_URL = "redis://localhost:6379/0"   # one index shared by many crawlers
    DEDUP_NAME = "news"                # name of the Redis index
    DEDUP_WINDOW = 7 * 24 * 3600       # only match articles of the last week (optional)
    DEDUP_SAVE_INTERVAL = 60           # seconds between saves of DEDUP_INDEX_PATH (0: after every item)

Each item's text is checked against everything stored and stored in one
atomic step (``index.add``); then, by ``DEDUP_MODE``:

* ``strip``: the text field keeps only the sentences not seen before
  (:func:`dedup.strip_duplicates`); an item with nothing new is dropped;
* ``drop``: an item with nothing new is dropped, the others pass unchanged;
* ``flag``: nothing is dropped or changed.

In every mode the item gains ``duplicate_of`` (the keys of the stored
articles it repeats) and ``duplicate_share`` (the share of its characters in
repeated passages) when it can hold them (a ``dict``, or an ``Item`` that
declares those fields).  An item whose key was stored before is dropped.

The index work (CPU, and Redis round trips) runs in a worker thread, never on
the reactor thread; the index is saved every ``DEDUP_SAVE_INTERVAL`` seconds
and when the spider closes, so a crash loses at most that interval; a Redis
client is closed when the spider closes.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

import dedup
from dedup._errors import DuplicateKeyError
from dedup._text.cut import covered

__all__ = ["MODES", "DedupPipeline"]

#: What the pipeline does with an item that repeats stored passages (see the module docstring).
MODES = ("strip", "drop", "flag")


class DedupPipeline:
    """Check each item's text against an index of the articles stored before, and store it there.

    Parameters
    ----------
    field, key_field : str
        Item fields holding the text and the document key.
    mode : {"strip", "drop", "flag"}
        What to do with repeated passages (module docstring).
    index_path : str, optional
        File of an in-memory index: loaded if it exists, saved periodically and at the end.
    redis_url, name : str, optional
        A Redis index shared by several crawlers (``DedupIndex.from_redis``).
    window : float, optional
        Only match articles stored within this many seconds.
    save_interval : float
        Seconds between saves of ``index_path`` (0: after every item).
    """

    def __init__(
        self,
        *,
        field: str = "text",
        key_field: str = "url",
        mode: str = "strip",
        index_path: str | None = None,
        redis_url: str | None = None,
        name: str = "dedup",
        window: float | None = None,
        save_interval: float = 60.0,
    ) -> None:
        if mode not in MODES:
            raise NotConfigured(f"DEDUP_MODE must be one of {', '.join(MODES)}, got {mode!r}")
        if index_path and redis_url:
            raise NotConfigured("set DEDUP_INDEX_PATH or DEDUP_REDIS_URL, not both")
        if save_interval < 0:
            raise NotConfigured(f"DEDUP_SAVE_INTERVAL must be >= 0, got {save_interval}")
        self.field, self.key_field, self.mode = field, key_field, mode
        self.index_path, self.redis_url, self.name = index_path, redis_url, name
        self.window, self.save_interval = window, save_interval
        self.index: Any = None
        self._save_lock = threading.Lock()
        self._last_save = time.monotonic()
        self._added = 0  # documents added by this run (under _save_lock) ...
        self._saved = 0  # ... and how many of them the last save had

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupPipeline:
        """The pipeline configured from the crawler's ``DEDUP_*`` settings."""
        s = crawler.settings
        return cls(
            field=s.get("DEDUP_FIELD", "text"),
            key_field=s.get("DEDUP_KEY_FIELD", "url"),
            mode=s.get("DEDUP_MODE", "strip"),
            index_path=s.get("DEDUP_INDEX_PATH"),
            redis_url=s.get("DEDUP_REDIS_URL"),
            name=s.get("DEDUP_NAME", "dedup"),
            window=s.getfloat("DEDUP_WINDOW", 0.0) or None,
            save_interval=s.getfloat("DEDUP_SAVE_INTERVAL", 60.0),
        )

    # ``spider`` is optional: Scrapy >= 2.13 passes none (and warns when a hook requires one).
    def open_spider(self, spider: Any = None) -> None:
        """Open the Redis index, or load the saved one, or start an empty one."""
        if self.redis_url:
            self.index = dedup.DedupIndex.from_redis(self.redis_url, name=self.name)
        elif self.index_path and os.path.exists(self.index_path):
            self.index = dedup.DedupIndex.load(self.index_path)
        else:
            self.index = dedup.DedupIndex()

    async def close_spider(self, spider: Any = None) -> None:
        """Save the in-memory index (off the reactor thread) or close the Redis client."""
        await maybe_deferred_to_future(threads.deferToThread(self._close))

    def _close(self) -> None:
        if self.index is None:
            return
        if self.redis_url:
            self.index.close()
        else:
            self._save(force=True)

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        """Check and store the item's text in a worker thread; return the item or raise ``DropItem``."""
        return await maybe_deferred_to_future(threads.deferToThread(self._process, item))

    def _process(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        text = adapter.get(self.field)
        if not isinstance(text, str) or not text.strip():
            return item
        key = str(adapter.get(self.key_field))
        try:
            seen = self.index.add(key, text, window=self.window)
        except DuplicateKeyError:  # stored before, or by a concurrent item with the same key
            raise DropItem(f"{key} was stored before") from None
        with self._save_lock:
            self._added += 1
        self._save(force=False)
        (repeated,) = covered([(0, len(text))], [(m.a.span.start, m.a.span.end) for m in seen])
        share = repeated / len(text)
        for name, value in (("duplicate_of", sorted({m.b.key for m in seen})), ("duplicate_share", share)):
            if isinstance(item, dict) or name in adapter.field_names():
                adapter[name] = value
        if self.mode == "flag" or not seen:
            return item
        fresh = dedup.strip_duplicates(text, self.index, seen=seen)
        if not fresh.strip():
            raise DropItem(f"every passage of {key} was stored before")
        if self.mode == "strip":
            adapter[self.field] = fresh
        return item

    def _save(self, *, force: bool) -> None:
        if not self.index_path or self.redis_url:
            return
        with self._save_lock:
            due = time.monotonic() - self._last_save >= self.save_interval
            added = self._added  # an add finishing during the save leaves the next one due
            # At the end, a crawl that stored nothing still leaves its (maybe empty) index file.
            missing = force and not os.path.exists(self.index_path)
            if (added > self._saved or missing) and (force or due):
                self.index.save(self.index_path)
                self._last_save, self._saved = time.monotonic(), added
