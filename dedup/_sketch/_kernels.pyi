"""Type stub of the sketch stage's compiled kernels (dedup/_sketch/_kernels.pyx)."""

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
