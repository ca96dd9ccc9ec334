"""Type stub of the index's compiled kernel (dedup/_index/_kernels.pyx)."""

import numpy as np
import numpy.typing as npt

def run_ranges(
    keys: npt.NDArray[np.uint64],
    lows: npt.NDArray[np.uint32],
    directory: npt.NDArray[np.uint32],
    /,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
