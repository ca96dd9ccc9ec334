"""Integrations with other tools; each module needs its tool installed (``dedup.contrib.scrapy``)."""
