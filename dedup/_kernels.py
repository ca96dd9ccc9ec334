"""The compiled numeric kernels (``dedup/_ckernels.c``), when they were built.

Each kernel computes exactly what the Python code beside its caller computes
(tests compare the two): the per-pair reference rules for verification
(:mod:`dedup._verify.scorer` chooses).  The sketch stage's and the band table's
kernels are Cython modules beside their callers, switched off by the same flag.  That code stays
as the reference and the fallback for installs without a C compiler.
``DEDUP_PURE_PYTHON=1`` turns the kernels off, as it does the compiled tokeniser.
"""

from __future__ import annotations

import os

__all__ = ["KERNELS", "PURE_PYTHON", "ckernels"]

#: ``DEDUP_PURE_PYTHON=1``: every compiled module stays unused (the stages' Python and numpy code runs).
PURE_PYTHON = os.environ.get("DEDUP_PURE_PYTHON") == "1"

try:  # built at install time when a C compiler is present
    from dedup import _ckernels as ckernels
except ImportError:  # pragma: no cover - installs without a C compiler
    ckernels = None  # type: ignore[assignment]
if PURE_PYTHON:
    ckernels = None  # type: ignore[assignment]

#: True when the compiled kernels are in use.
KERNELS = ckernels is not None
