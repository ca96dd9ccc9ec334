"""The ``dedup`` command line: one module per command."""
