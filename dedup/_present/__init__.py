"""Presentation: HTML views and the standalone report over result objects."""
