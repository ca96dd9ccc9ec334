"""A Scrapy item pipeline that drops passages (or whole items) already stored, before storage.

Enable it in your project's settings::

    ITEM_PIPELINES = {"scrapy_pipeline.DedupPipeline": 300}
    DEDUP_FIELD = "text"                 # item field holding the article text
    DEDUP_KEY_FIELD = "url"              # item field used as the document key
    DEDUP_INDEX_PATH = "seen.idx"        # in-memory index, loaded/saved here; or
    DEDUP_REDIS_URL = "redis://localhost:6379/0"   # one index shared by many crawlers
    DEDUP_NAME = "news"                  # name of the Redis index
    DEDUP_WINDOW = 7 * 24 * 3600         # only match articles of the last week (optional)

For each item the pipeline calls ``index.add(key, text)`` — which checks the
article against everything stored and stores it in one atomic step — and then
keeps only the sentences that were not seen before (``dedup.strip_duplicates``
with those matches).  An item with nothing new left is dropped; otherwise its
text field is replaced by the new part, and ``duplicate_of`` lists the keys of
the stored articles it repeated.

Run the demo spider on any site with article pages::

    scrapy runspider examples/scrapy_pipeline.py -a start=https://example.org/ -o items.json
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import scrapy
from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

import dedup


class DedupPipeline:
    """Strip already-stored passages from each item's text; drop items with nothing new."""

    def __init__(
        self,
        *,
        field: str = "text",
        key_field: str = "url",
        index_path: str | None = None,
        redis_url: str | None = None,
        name: str = "dedup",
        window: float | None = None,
    ) -> None:
        self.field = field
        self.key_field = key_field
        self.index_path = index_path
        self.redis_url = redis_url
        self.name = name
        self.window = window
        self.index: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupPipeline:
        s = crawler.settings
        window = s.getfloat("DEDUP_WINDOW", 0.0)
        return cls(
            field=s.get("DEDUP_FIELD", "text"),
            key_field=s.get("DEDUP_KEY_FIELD", "url"),
            index_path=s.get("DEDUP_INDEX_PATH"),
            redis_url=s.get("DEDUP_REDIS_URL"),
            name=s.get("DEDUP_NAME", "dedup"),
            window=window or None,
        )

    def open_spider(self, spider: scrapy.Spider) -> None:
        if self.redis_url:
            self.index = dedup.DedupIndex.from_redis(self.redis_url, name=self.name)
        elif self.index_path and os.path.exists(self.index_path):
            self.index = dedup.DedupIndex.load(self.index_path)
        else:
            self.index = dedup.DedupIndex()

    def close_spider(self, spider: scrapy.Spider) -> None:
        if self.index_path and not self.redis_url:
            self.index.save(self.index_path)

    def process_item(self, item: Any, spider: scrapy.Spider) -> Any:
        adapter = ItemAdapter(item)
        text = adapter.get(self.field)
        if not isinstance(text, str) or not text.strip():
            return item
        key = str(adapter.get(self.key_field))
        if key in self.index:
            raise DropItem(f"{key} was stored before")
        seen = self.index.add(key, text, window=self.window)
        fresh = dedup.strip_duplicates(text, self.index, seen=seen)
        if not fresh.strip():
            raise DropItem(f"every passage of {key} was stored before")
        adapter[self.field] = fresh
        if "duplicate_of" in adapter.field_names() or isinstance(item, dict):
            adapter["duplicate_of"] = sorted({m.b.key for m in seen})
        return item


class ArticleSpider(scrapy.Spider):
    """Demo spider: follows links from ``start`` and yields ``{url, title, text}`` per article page."""

    name = "articles"
    custom_settings: ClassVar[dict[str, Any]] = {"ITEM_PIPELINES": {f"{__name__}.DedupPipeline": 300}}

    def __init__(self, start: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start] if start else []

    def parse(self, response: Any) -> Any:
        paragraphs = [" ".join(p.css("::text").getall()).strip() for p in response.css("article p")]
        paragraphs = [p for p in paragraphs if p]
        if paragraphs:
            yield {
                "url": response.url,
                "title": response.css("title::text").get(default="").strip(),
                "text": "\n\n".join(paragraphs),
            }
        yield from response.follow_all(css="a", callback=self.parse)
