"""Small helpers shared by the Fmask steps: input checks and subsampled percentiles."""

from __future__ import annotations

import numpy as np

from ..errors import BandError

__all__ = ["check_arrays", "check_masks", "masked_percentile", "disk"]


def check_arrays(where: str, **arrays: np.ndarray | None) -> tuple[int, int]:
    """Check that every given (non-None) array is 2-D and of one shape; return that shape.

    Raises:
        BandError: naming the function and the offending argument.
    """
    shape: tuple[int, int] | None = None
    for name, a in arrays.items():
        if a is None:
            continue
        if not isinstance(a, np.ndarray) or a.ndim != 2:
            raise BandError(f"{where}: {name} must be a 2-D (H, W) array, got "
                            f"{getattr(a, 'shape', type(a).__name__)}")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise BandError(f"{where}: {name} has shape {a.shape}, expected {shape} like the "
                            "other inputs; put every layer on the same grid first")
    if shape is None:
        raise BandError(f"{where}: no arrays given")
    return shape  # type: ignore[return-value]


def check_masks(where: str, **masks: np.ndarray | None) -> None:
    """Check that every given (non-None) mask is a 2-D bool array.

    An integer 0/1 mask would be taken as fancy indices by ``a[mask]`` (rows 0 and 1)
    and give a silently wrong answer, so it is refused.

    Raises:
        BandError: naming the function and the offending argument.
    """
    given = {name: m for name, m in masks.items() if m is not None}
    if not given:
        return
    check_arrays(where, **given)
    for name, m in given.items():
        if m.dtype != bool:
            raise BandError(f"{where}: {name} must be a bool mask, got dtype {m.dtype}; "
                            "pass mask.astype(bool) (or mask != 0)")


def masked_percentile(values: np.ndarray, mask: np.ndarray, q: float | list[float],
                      max_samples: int) -> np.ndarray | float:
    """Percentile(s) ``q`` (0-100) of ``values[mask]``; NaN when the mask is empty.

    With more than ``max_samples`` selected pixels, a regular stride through them is
    used (deterministic; percentiles of a 2-million-pixel sample differ from the full
    tile's by far less than the thresholds' precision).
    """
    picked = values[mask]
    if picked.size == 0:
        return np.full(np.shape(q), np.nan) if np.ndim(q) else float("nan")
    if max_samples and picked.size > max_samples:
        picked = picked[:: int(np.ceil(picked.size / max_samples))]
    result = np.percentile(picked, q)
    return result if np.ndim(q) else float(result)


def disk(radius: int) -> np.ndarray:
    """A bool disk structuring element of the given radius in pixels."""
    r = int(radius)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy * yy + xx * xx) <= r * r
