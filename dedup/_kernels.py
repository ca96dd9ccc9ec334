"""The switch of the compiled layer.

The compiled modules are Cython, each beside the stage that calls it:
``dedup/_text/_segment.pyx`` (tokeniser), ``dedup/_sketch/_kernels.pyx`` (shingles,
MinHash, band keys, LSH pairs), ``dedup/_verify/_kernels.pyx`` (the pair scores and
covers of a verification batch) and ``dedup/_index/_kernels.pyx`` (band-table probes).
Each computes exactly what the Python code beside its caller computes (tests compare
the two); that code is the reference and the fallback for installs without a C
compiler.  ``DEDUP_PURE_PYTHON=1`` leaves every compiled module unused.
"""

from __future__ import annotations

import os

__all__ = ["PURE_PYTHON"]

#: ``DEDUP_PURE_PYTHON=1``: every compiled module stays unused (the stages' Python and numpy code runs).
PURE_PYTHON = os.environ.get("DEDUP_PURE_PYTHON") == "1"
