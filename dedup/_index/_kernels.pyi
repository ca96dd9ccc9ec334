"""Type stub of the index's compiled kernel (dedup/_index/_kernels.pyx)."""

import numpy as np
import numpy.typing as npt

def run_ranges(
    keys: npt.NDArray[np.uint64],
    run_keys: npt.NDArray[np.uint64],
    directory: npt.NDArray[np.int64],
    shift: int,
    /,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
