"""Type stub of the index's compiled kernel (dedup/_index/_kernels.pyx)."""

import numpy as np
import numpy.typing as npt

def table_lookup(
    keys: npt.NDArray[np.uint64],
    table_keys: npt.NDArray[np.uint64],
    head: npt.NDArray[np.int32],
    count: npt.NDArray[np.int32],
    esid: npt.NDArray[np.int32],
    enext: npt.NDArray[np.int32],
    /,
    *,
    max_bucket: int,
    truncate: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
