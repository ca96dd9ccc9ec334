"""Stage 2, sketch: shingles of each sentence, MinHash signatures, LSH band keys and candidate pairs."""

from dedup._kernels import PURE_PYTHON

try:  # the stage's compiled kernels (dedup/_sketch/_kernels.pyx), built where a C compiler is
    from dedup._sketch import _kernels as compiled
except ImportError:  # pragma: no cover - installs without a C compiler
    compiled = None  # type: ignore[assignment]
if PURE_PYTHON:
    compiled = None  # type: ignore[assignment]
