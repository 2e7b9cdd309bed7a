"""Sun and view angle grids of an L1C tile: detector means and interpolation to a pixel grid.

MTD_TL.xml gives view zenith/azimuth on a 5 km grid (23 x 23 nodes for a
109.8 km tile) separately for every band and detector, NaN where a detector does
not see the node. Fmask needs one view direction per pixel, so the grids are
averaged over bands and detectors, gaps filled from the nearest node, and
interpolated bilinearly at the target pixel centres. Node (i, j) lies at
``(ULX + j * COL_STEP, ULY - i * ROW_STEP)``.

What is averaged and interpolated is the quantity the shadow geometry uses, the
parallax vector ``tan(zenith) * (sin(azimuth), cos(azimuth))`` (east, north): a
cloud at height h appears displaced by h times that vector. Neighbouring
detectors look in different along-track directions, so where they overlap their
azimuths can be ~180 degrees apart (e.g. 100 and 280): a separate mean of the
azimuths (190) is no direction any detector looks in, and a separate mean of the
zeniths overstates the displacement. The vector mean is converted back to
zenith = atan(|v|) and azimuth = atan2(east, north) in [0, 360); over one
detector (a single grid) it is the detector's own angles.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from ..errors import ProductError
from .resample import Grid, bilinear

__all__ = ["mean_angle_grid", "fill_nan_nearest", "interpolate_angle_grid",
           "interpolate_view_angles", "circular_mean_deg", "parallax_vector", "vector_angles"]


def circular_mean_deg(angles: np.ndarray, axis: int | None = None) -> np.ndarray:
    """NaN-aware circular mean of angles in degrees, in [0, 360)."""
    rad = np.deg2rad(angles)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN nodes stay NaN
        s = np.nanmean(np.sin(rad), axis=axis)
        c = np.nanmean(np.cos(rad), axis=axis)
    return np.mod(np.rad2deg(np.arctan2(s, c)), 360.0)


def parallax_vector(zenith: np.ndarray, azimuth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(east, north) = tan(zenith) * (sin(azimuth), cos(azimuth)); angles in degrees."""
    t = np.tan(np.deg2rad(zenith))
    az = np.deg2rad(azimuth)
    return t * np.sin(az), t * np.cos(az)


def vector_angles(east: np.ndarray, north: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`parallax_vector`: (zenith in [0, 90), azimuth in [0, 360)) degrees.

    A zero vector (nadir) has azimuth 0; NaN components give NaN angles.
    """
    zen = np.rad2deg(np.arctan(np.hypot(east, north)))
    az = np.mod(np.rad2deg(np.arctan2(east, north)), 360.0)
    return zen, az


def mean_angle_grid(zenith: np.ndarray, azimuth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over bands and detectors of per-detector view angle grids, as parallax vectors.

    A grid sees a node where both its zenith and its azimuth are numbers; the
    parallax vectors of the grids that see a node are averaged (see the module
    docstring) and converted back to angles.

    Args:
        zenith, azimuth: float (n_grids, rows, cols) in degrees, NaN where a detector
            does not see a node; zenith in [0, 90).

    Returns:
        (zenith, azimuth) float64 (rows, cols), azimuth in [0, 360); NaN only where no
        detector sees a node.

    Raises:
        ProductError: the grids are not matching (n, rows, cols) stacks, or a zenith
            is outside [0, 90) degrees.
    """
    zenith = np.asarray(zenith, dtype=np.float64)
    azimuth = np.asarray(azimuth, dtype=np.float64)
    if zenith.ndim != 3 or zenith.shape != azimuth.shape:
        raise ProductError(f"angle grids must be (n, rows, cols) pairs, got {zenith.shape} "
                           f"and {azimuth.shape}")
    seen = np.isfinite(zenith) & np.isfinite(azimuth)
    if ((zenith[seen] < 0) | (zenith[seen] >= 90)).any():
        raise ProductError("a view zenith in the angle grids is outside [0, 90) degrees; "
                           "the metadata is damaged, download the product again")
    east, north = parallax_vector(np.where(seen, zenith, 0.0), np.where(seen, azimuth, 0.0))
    count = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # unseen nodes: 0 / 0 = NaN
        mean_east = np.where(seen, east, 0.0).sum(axis=0) / count
        mean_north = np.where(seen, north, 0.0).sum(axis=0) / count
    return vector_angles(mean_east, mean_north)


def fill_nan_nearest(values: np.ndarray) -> np.ndarray:
    """Replace NaN cells of a 2-D grid by the nearest non-NaN cell (all-NaN stays NaN)."""
    nan = np.isnan(values)
    if not nan.any() or nan.all():
        return values
    idx = ndimage.distance_transform_edt(nan, return_distances=False, return_indices=True)
    return values[tuple(idx)]


def _pixel_positions(ulx: float, uly: float, step: float,
                     grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Fractional node (rows, cols) of the pixel centres of ``grid``."""
    h, w = grid.shape
    x = grid.transform.c + (np.arange(w) + 0.5) * grid.res
    y = grid.transform.f - (np.arange(h) + 0.5) * grid.res
    return (uly - y) / step, (x - ulx) / step


def interpolate_angle_grid(values: np.ndarray, ulx: float, uly: float, step: float,
                           grid: Grid, circular: bool = False) -> np.ndarray:
    """Bilinear interpolation of a 5 km angle grid at the pixel centres of ``grid``.

    For view angles prefer :func:`interpolate_view_angles`, which interpolates the
    parallax vector and so keeps zenith and azimuth consistent between nodes.

    Args:
        values: float (rows, cols) angles in degrees (NaN filled from the nearest node).
        ulx, uly: position of node (0, 0) (the tile's upper-left corner), CRS units.
        step: node spacing (COL_STEP = ROW_STEP = 5000 m).
        grid: the target pixel grid (same CRS).
        circular: interpolate sin/cos (azimuths) instead of the values, so 359 and 1
            degrees interpolate through 0, not 180.

    Returns:
        float32 (H, W) angles in degrees.
    """
    values = fill_nan_nearest(np.asarray(values, dtype=np.float64))
    rows, cols = _pixel_positions(ulx, uly, step, grid)

    def interp(a: np.ndarray) -> np.ndarray:
        return bilinear(a, rows, cols).astype(np.float64)

    if circular:
        rad = np.deg2rad(values)
        out = np.mod(np.rad2deg(np.arctan2(interp(np.sin(rad)), interp(np.cos(rad)))), 360.0)
    else:
        out = interp(values)
    return out.astype(np.float32)


def interpolate_view_angles(zenith: np.ndarray, azimuth: np.ndarray, ulx: float, uly: float,
                            step: float, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear interpolation of 5 km view angle grids as parallax vectors.

    The east and north components of ``tan(zenith) * (sin(azimuth), cos(azimuth))``
    are interpolated and converted back, so the azimuth never wraps (359 and 1
    degrees meet at 0) and a pixel between nodes gets the parallax the nodes'
    parallaxes interpolate to, which is what the shadow matching uses.

    Args:
        zenith, azimuth: float (rows, cols) degrees from :func:`mean_angle_grid`
            (NaN nodes filled from the nearest node).
        ulx, uly, step, grid: as for :func:`interpolate_angle_grid`.

    Returns:
        (zenith, azimuth) float32 (H, W) degrees, azimuth in [0, 360).

    Raises:
        ProductError: the two grids differ in shape.
    """
    zenith = np.asarray(zenith, dtype=np.float64)
    azimuth = np.asarray(azimuth, dtype=np.float64)
    if zenith.ndim != 2 or zenith.shape != azimuth.shape:
        raise ProductError(f"view angle grids must be matching (rows, cols) arrays, got "
                           f"{zenith.shape} and {azimuth.shape}")
    nan = np.isnan(zenith) | np.isnan(azimuth)
    east, north = parallax_vector(np.where(nan, np.nan, zenith), np.where(nan, np.nan, azimuth))
    rows, cols = _pixel_positions(ulx, uly, step, grid)
    east_px = bilinear(fill_nan_nearest(east), rows, cols).astype(np.float64)
    north_px = bilinear(fill_nan_nearest(north), rows, cols).astype(np.float64)
    zen, az = vector_angles(east_px, north_px)
    return zen.astype(np.float32), az.astype(np.float32)
