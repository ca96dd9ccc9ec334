"""Type stub of the compiled numeric kernels (dedup/_ckernels.c)."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

_A = npt.NDArray[np.generic]

def band_keys(sigs: _A, num_perm: int, bands: int, rows: int, out: _A, /) -> None: ...
def pair_counts(
    keys: _A, n: int, max_bucket: int, min_shared: int, want_counts: bool, /
) -> tuple[bytes, bytes | None, bool]: ...
def set_thread_min_rows(rows: int, /) -> int: ...
def table_lookup(
    keys: _A, table_keys: _A, head: _A, count: _A, esid: _A, enext: _A, max_bucket: int, truncate: bool, /
) -> tuple[bytes, bytes]: ...
def lsh_pairs(
    sigs: _A, doc: _A, num_perm: int, bands: int, rows: int, min_shared: int,
    local_bands: int, local_rows: int, max_bucket: int, max_per_row: int, /,
) -> bytes | None: ...  # fmt: skip
def shingles(
    sentences: list[tuple[object, ...]],
    stems_at: int,
    content_at: int,
    cache: dict[str, int],
    fill: Callable[[str], int],
    n: int,
    /,
) -> tuple[bytes, bytes]: ...
