"""Type stub of the sketch stage's compiled kernels (dedup/_sketch/_kernels.pyx)."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

def minhash(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    out: npt.NDArray[np.uint32],
    /,
) -> None: ...
def shingles(
    sentences: list[tuple[object, ...]],
    stems_at: int,
    content_at: int,
    cache: dict[str, int],
    fill: Callable[[str], int],
    n: int,
    /,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]: ...
def band_keys(
    sigs: npt.NDArray[np.uint32], bands: int, rows: int, out: npt.NDArray[np.uint64], /
) -> None: ...
def pair_counts(
    keys: npt.NDArray[np.uint64],
    max_bucket: int,
    min_shared: int,
    want_counts: bool,
    *,
    thread_min_rows: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None, bool]: ...
def lsh_pairs(
    sigs: npt.NDArray[np.uint32],
    doc: npt.NDArray[np.int64],
    across: tuple[int, int],
    within: tuple[int, int],
    *,
    min_shared: int,
    max_bucket: int,
    max_per_row: int,
    doc_mix: int,
) -> npt.NDArray[np.int64] | None: ...
