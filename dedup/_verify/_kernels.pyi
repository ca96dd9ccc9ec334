"""Type stub of the verify stage's compiled kernels (dedup/_verify/_kernels.pyx)."""

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from dedup._verify.batch import KernelRules, StemSets

_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]
_U8 = npt.NDArray[np.uint8]
_Bool = npt.NDArray[np.bool_]

RAPIDFUZZ_CAPI: Final[bool]
MAX_SOURCES: Final[int]

class Batch:
    def __init__(self, sets: StemSets, texts: Sequence[str], norm_id: _I64, n_tokens: _I64) -> None: ...
    def __len__(self) -> int: ...

def flatten(
    sentences: list[tuple[object, ...]], columns: tuple[int, int, int, int], ids: dict[str, int] | None = None
) -> tuple[_I64, _Bool, _Bool, _I64, list[str]]: ...
def profiles(
    stem_ids: _I64, content: _U8, entity: _U8, lengths: _I64, out: StemSets, *, rules: KernelRules
) -> None: ...
def ratios(texts: Sequence[str], i: _I64, j: _I64, out: _F64, score_cutoff: float) -> None: ...
def align_ends(sets: StemSets, i: _I64, j: _I64, out: _I64) -> None: ...
def pair_stage(
    batch: Batch, i: _I64, j: _I64, *, floor: float, rules: KernelRules, dense_limit: int
) -> tuple[_I64, _I64, _F64, _I64, _I64, _F64, _F64]: ...
def cover_stage(
    batch: Batch,
    a: _I64,
    b: _I64,
    c: _F64,
    rank: _I64,
    beaten_codes: _I64,
    beaten_scores: _F64,
    *,
    floor: float,
    min_gain: float,
    max_sources: int,
    rules: KernelRules,
    dense_limit: int,
) -> tuple[_I64, _F64]: ...
