"""Type stub of the compiled numeric kernels (dedup/_ckernels.c)."""

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
