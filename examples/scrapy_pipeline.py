"""A demo spider whose items go through dedup's Scrapy pipeline before storage.

The pipeline ships with the package: enable it in any project by its dotted path::

    ITEM_PIPELINES = {"dedup.contrib.scrapy.DedupPipeline": 300}
    DEDUP_INDEX_PATH = "seen.idx"        # or DEDUP_REDIS_URL = "redis://localhost:6379/0"

(every setting is described in ``dedup.contrib.scrapy``).  Run the demo spider
on any site with article pages::

    scrapy runspider examples/scrapy_pipeline.py -a start=https://example.org/ -o items.json
"""

from __future__ import annotations

from typing import Any, ClassVar

import scrapy


class ArticleSpider(scrapy.Spider):
    """Demo spider: follows links from ``start`` and yields ``{url, title, text}`` per article page."""

    name = "articles"
    custom_settings: ClassVar[dict[str, Any]] = {
        "ITEM_PIPELINES": {"dedup.contrib.scrapy.DedupPipeline": 300}
    }

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
