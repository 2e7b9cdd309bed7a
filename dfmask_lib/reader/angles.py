"""Sun and view angle grids of an L1C tile: detector means and interpolation to a pixel grid.

MTD_TL.xml gives view zenith/azimuth on a 5 km grid (23 x 23 nodes for a
109.8 km tile) separately for every band and detector, NaN where a detector does
not see the node. Fmask needs one view angle per pixel, so the grids are
averaged over bands and detectors (NaN-aware; azimuths as a circular mean, so
359 and 1 degree average to 0, not 180), gaps filled from the nearest node, and
interpolated bilinearly at the target pixel centres. Node (i, j) lies at
``(ULX + j * COL_STEP, ULY - i * ROW_STEP)``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from ..errors import ProductError
from .resample import Grid, bilinear

__all__ = ["mean_angle_grid", "fill_nan_nearest", "interpolate_angle_grid", "circular_mean_deg"]


def circular_mean_deg(angles: np.ndarray, axis: int | None = None) -> np.ndarray:
    """NaN-aware circular mean of angles in degrees, in [0, 360)."""
    rad = np.deg2rad(angles)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN nodes stay NaN
        s = np.nanmean(np.sin(rad), axis=axis)
        c = np.nanmean(np.cos(rad), axis=axis)
    return np.mod(np.rad2deg(np.arctan2(s, c)), 360.0)


def mean_angle_grid(zenith: np.ndarray, azimuth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over bands and detectors of per-detector view angle grids.

    Args:
        zenith, azimuth: float (n_grids, rows, cols) in degrees, NaN where a detector
            does not see a node.

    Returns:
        (zenith, azimuth) float64 (rows, cols); NaN only where no detector sees a node.

    Raises:
        ProductError: the grids are not matching (n, rows, cols) stacks.
    """
    if zenith.ndim != 3 or zenith.shape != azimuth.shape:
        raise ProductError(f"angle grids must be (n, rows, cols) pairs, got {zenith.shape} "
                         f"and {azimuth.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        zen = np.nanmean(zenith, axis=0)
    return zen, circular_mean_deg(azimuth, axis=0)


def fill_nan_nearest(values: np.ndarray) -> np.ndarray:
    """Replace NaN cells of a 2-D grid by the nearest non-NaN cell (all-NaN stays NaN)."""
    nan = np.isnan(values)
    if not nan.any() or nan.all():
        return values
    idx = ndimage.distance_transform_edt(nan, return_distances=False, return_indices=True)
    return values[tuple(idx)]


def interpolate_angle_grid(values: np.ndarray, ulx: float, uly: float, step: float,
                           grid: Grid, circular: bool = False) -> np.ndarray:
    """Bilinear interpolation of a 5 km angle grid at the pixel centres of ``grid``.

    Args:
        values: float (rows, cols) angles in degrees (NaN filled from the nearest node).
        ulx, uly: position of node (0, 0) (the tile's upper-left corner), CRS units.
        step: node spacing (COL_STEP = ROW_STEP = 5000 m).
        grid: the target pixel grid (same CRS).
        circular: interpolate sin/cos (azimuths) instead of the values.

    Returns:
        float32 (H, W) angles in degrees.
    """
    values = fill_nan_nearest(np.asarray(values, dtype=np.float64))
    h, w = grid.shape
    x = grid.transform.c + (np.arange(w) + 0.5) * grid.res
    y = grid.transform.f - (np.arange(h) + 0.5) * grid.res
    rows, cols = (uly - y) / step, (x - ulx) / step

    def interp(a: np.ndarray) -> np.ndarray:
        return bilinear(a, rows, cols).astype(np.float64)

    if circular:
        rad = np.deg2rad(values)
        out = np.mod(np.rad2deg(np.arctan2(interp(np.sin(rad)), interp(np.cos(rad)))), 360.0)
    else:
        out = interp(values)
    return out.astype(np.float32)
