"""Float32 row matrices: validation (shape, dtype, NaN) and L2 normalisation, shared by every layer.

FAISS reads float32 C-contiguous rows and silently copies anything else, so inputs are turned
into that layout once, here, with errors that name the caller's argument and row.
"""

from __future__ import annotations

import numpy as np

from fewshot.errors import InputError


def as_float32_matrix(
    vectors: np.ndarray, dim: int | None, what: str, first_row: int = 0
) -> np.ndarray:
    """Validate an ``N×d`` batch and return it as float32 C-contiguous.

    ``first_row`` is where this batch starts in the caller's, so errors name the caller's row.
    """
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise InputError(f"`{what}` must be a 2-D array N×d, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise InputError(
            f"`{what}` has dimension {array.shape[1]}, but the store holds {dim}-d vectors"
        )
    if array.dtype.kind not in "iuf":  # real numbers (bool, complex, object... are refused)
        raise InputError(f"`{what}` must be real numbers, got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = first_row + int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise InputError(f"`{what}` row {bad} contains NaN or infinite values")
    return array


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (a zero row stays zero); returns a new float32 array.

    Each row is first divided by its largest magnitude, so squares of tiny (~1e-38) or huge
    (~1e30) values neither underflow to a zero norm nor overflow to inf, as with
    ``faiss.normalize_L2``, which left such rows unnormalised or zeroed.
    """
    out = np.array(vectors, dtype=np.float32, copy=True, order="C")
    scale = np.abs(out).max(axis=1, keepdims=True) if out.size else np.ones((len(out), 1))
    np.divide(out, scale, out=out, where=scale > 0)
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
    np.divide(out, norms, out=out, where=norms > 0)
    return out
