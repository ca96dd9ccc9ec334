"""Type stub of the compiled numeric kernels (dedup/_ckernels.c)."""

from typing import overload

import numpy as np
import numpy.typing as npt

_A = npt.NDArray[np.generic]

def profiles(
    stem: _A, content: _A, entity: _A, lengths: _A,
    cw_start: _A, cw_stem: _A, cw_w: _A, all_start: _A, all_stem: _A, ent_start: _A, ent_stem: _A, total: _A,
    seq_start: _A, seq_stem: _A, seq_pos: _A, rules: tuple[float | int, ...],
    /,
) -> None: ...  # fmt: skip
def align_ends(i: _A, j: _A, seq_start: _A, seq_stem: _A, seq_pos: _A, out: _A, /) -> None: ...
def ratios(texts: list[str], i: _A, j: _A, out: _A, score_cutoff: float, /) -> None: ...
@overload
def flatten(
    sentences: list[tuple[object, ...]], words_at: int, stems_at: int, content_at: int, entity_at: int, /
) -> tuple[bytes, bytes, bytes, bytes, list[str]]: ...
@overload
def flatten(
    sentences: list[tuple[object, ...]],
    words_at: int,
    stems_at: int,
    content_at: int,
    entity_at: int,
    ids: dict[str, int],
    /,
) -> tuple[bytes, bytes, bytes, bytes, list[str]]: ...
def set_dense_limit(limit: int, /) -> int: ...
def pair_stage(
    i: _A, j: _A, /, *args: _A | list[str] | float | tuple[float | int, ...]
) -> tuple[bytes, bytes, bytes, bytes, bytes]: ...  # fmt: skip
def cover_stage(
    a: _A, b: _A, c: _A, /, *args: _A | list[str] | float | int | tuple[float | int, ...]
) -> tuple[bytes, bytes]: ...
