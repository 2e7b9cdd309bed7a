"""Steps 1 and 3-6: observation, potential snow, water, potential cloud pixels, absolute snow.

Pure array functions: float32 (H, W) TOA reflectance and indices in, bool (H, W)
masks out. Thresholds come from :class:`~dfmask_lib.fmask.config.FmaskConfig`,
named after Zhu & Woodcock 2012 (ZW12, RSE 118:83-94), Zhu et al. 2015 (Z15,
RSE 159:269-277) and Qiu, Zhu & He 2019 (Q19, RSE 231:111205).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import BandError, ConfigError
from ._util import BoxSums, check_arrays, check_masks, masked_percentile
from .config import FmaskConfig

__all__ = [
    "observation_mask", "potential_snow", "water_test", "basic_cloud_test",
    "normalized_cirrus", "remove_cirrus_background", "ScsiRows", "scsi", "absolute_snow",
]


def observation_mask(reflectance: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Step 1: pixels observed in every band Fmask uses.

    "Observed" means the band has data (DN > 0, Zhu & Woodcock 2012), not that its
    reflectance is positive: from processing baseline 04.00 on, reflectance is
    (DN - 1000) / 10000, so a real dark pixel (DN 1-1000) has reflectance <= 0 and must
    not become fill. The reader's ``valid`` carries exactly that test, so when it is
    given it is the answer; for a bare array (no DN), no data is 0 in every band
    (the :class:`~dfmask_lib.scene.Scene` contract) and a pixel is observed when no
    used band is exactly 0.

    Args:
        reflectance: float32 (bands, H, W) of the bands Fmask uses.
        valid: optional bool (H, W) from the reader (False where any DN was 0).

    Returns:
        bool (H, W).
    """
    if reflectance.ndim != 3:
        raise BandError(f"observation_mask needs (bands, H, W), got {reflectance.shape}")
    if valid is not None:
        check_masks("observation_mask", valid=valid)
        if valid.shape != reflectance.shape[1:]:
            raise BandError(f"observation_mask: valid has shape {valid.shape}, bands have "
                            f"{reflectance.shape[1:]}")
        return valid.copy()
    return np.all(reflectance != 0, axis=0)


def potential_snow(ndsi: np.ndarray, nir: np.ndarray, green: np.ndarray,
                   config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """Step 3: NDSI > 0.15 and NIR > 0.11 and green > 0.10 (ZW12 eq. 20). bool (H, W)."""
    check_arrays("potential_snow", ndsi=ndsi, nir=nir, green=green)
    return (ndsi > config.snow_ndsi) & (nir > config.snow_nir) & (green > config.snow_green)


def water_test(ndvi: np.ndarray, nir: np.ndarray, config: FmaskConfig = FmaskConfig(),
               water_occurrence: np.ndarray | None = None) -> np.ndarray:
    """Step 4: (NDVI < 0.01 and NIR < 0.11) or (0 < NDVI < 0.1 and NIR < 0.05) (ZW12 eq. 5).

    Args:
        ndvi, nir: float32 (H, W).
        water_occurrence: optional global surface water occurrence, percent (H, W);
            pixels at or above ``config.water_occurrence`` are water as well (Q19 use
            the GSWO to catch water the spectral test misses, e.g. turbid or frozen-edge water).

    Returns:
        bool (H, W).
    """
    check_arrays("water_test", ndvi=ndvi, nir=nir, water_occurrence=water_occurrence)
    water = ((ndvi < config.water_ndvi) & (nir < config.water_nir)) | (
        (ndvi > 0) & (ndvi < config.water_ndvi_high) & (nir < config.water_nir_low))
    if water_occurrence is not None:
        water |= water_occurrence >= config.water_occurrence
    return water


def basic_cloud_test(swir2: np.ndarray, ndsi: np.ndarray, ndvi: np.ndarray,
                     whiteness: np.ndarray, hot: np.ndarray, nir: np.ndarray,
                     swir1: np.ndarray, saturated: np.ndarray | None = None,
                     config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """Step 5, spectral part of the potential cloud pixels (ZW12 eqs. 1-4).

    SWIR2 > 0.03 and NDSI < 0.8 and NDVI < 0.8 and whiteness < 0.7 and
    (HOT > 0 or visible saturated) and NIR / SWIR1 > 0.75. bool (H, W).
    """
    check_arrays("basic_cloud_test", swir2=swir2, ndsi=ndsi, ndvi=ndvi, whiteness=whiteness,
                 hot=hot, nir=nir, swir1=swir1, saturated=saturated)
    check_masks("basic_cloud_test", saturated=saturated)
    haze = hot > config.pcp_hot
    if saturated is not None:
        haze |= saturated
    # NIR / SWIR1 > t  <=>  NIR > t * SWIR1 for SWIR1 > 0 (observed pixels); no division needed.
    return ((swir2 > config.pcp_swir2) & (ndsi < config.pcp_ndsi) & (ndvi < config.pcp_ndvi)
            & (whiteness < config.pcp_whiteness) & haze
            & (nir > config.pcp_nir_swir1 * swir1) & (swir1 > 0))


def normalized_cirrus(cirrus: np.ndarray, pcp: np.ndarray, obs: np.ndarray,
                      config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """Step 5, cirrus: B10 minus its 2nd percentile over clear observed pixels, >= 0 (Q19).

    Removes the scene's cirrus-band background (water vapour, terrain) before the
    0.01 test. float32 (H, W); 0 outside ``obs``.
    """
    check_arrays("normalized_cirrus", cirrus=cirrus, pcp=pcp, obs=obs)
    check_masks("normalized_cirrus", pcp=pcp, obs=obs)
    dark = masked_percentile(cirrus, obs & ~pcp, config.cirrus_dark_percentile,
                             config.percentile_sample)
    return remove_cirrus_background(cirrus, dark, obs)


def remove_cirrus_background(cirrus: np.ndarray, dark: float, obs: np.ndarray) -> np.ndarray:
    """max(cirrus - dark, 0), 0 outside ``obs`` (``dark`` NaN: nothing to remove). float32."""
    if np.isnan(dark):
        dark = 0.0
    out = np.maximum(cirrus - np.float32(dark), 0).astype(np.float32)
    out[~obs] = 0
    return out


class ScsiRows:
    """The spectral-contextual snow index (:func:`scsi`) of a scene, strip by strip.

    ``rows(a, b)`` gives (green float32, obs bool) of image rows a .. b; calling the object
    with (r0, r1, ndsi of those rows) returns the SCSI of rows r0 .. r1 (strips in order,
    each starting where the last ended). The window sums are :class:`BoxSums`, so the values
    do not depend on the strips: :func:`scsi` on a whole scene is this object over strips.
    """

    def __init__(self, rows: Callable[[int, int], tuple[np.ndarray, np.ndarray]],
                 height: int, window: int = 501) -> None:
        if window < 1 or window % 2 == 0:
            raise ConfigError(f"the SCSI window must be an odd number of pixels, got {window}")

        def layers(a: int, b: int) -> np.ndarray:
            green, obs = rows(a, b)
            g = np.where(obs, green, 0).astype(np.float64)
            return np.stack([obs.astype(np.float64), g, g * g])

        self._sums = BoxSums(layers, height, window // 2)

    def __call__(self, r0: int, r1: int, ndsi: np.ndarray) -> np.ndarray:
        n, total, squares = self._sums(r0, r1)  # observed pixels, sum g, sum g^2 per window
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(squares, n, out=squares)  # E[g^2]
            np.divide(total, n, out=total)  # E[g]
        del n
        np.square(total, out=total)
        np.subtract(squares, total, out=squares)
        del total
        np.nan_to_num(squares, copy=False)  # no observed pixel in the window: 0
        np.clip(squares, 0, None, out=squares)
        np.sqrt(squares, out=squares)  # the std
        squares *= 1 - ndsi
        return squares.astype(np.float32)


#: Rows per strip when :func:`scsi` runs on a whole scene (float64 temporaries: ~24 B/px).
_SCSI_STRIP_PIXELS = 2_000_000


def scsi(green: np.ndarray, ndsi: np.ndarray, obs: np.ndarray, window: int = 501) -> np.ndarray:
    """Spectral-contextual snow index (Q19 sect. 2.2.2): local std of green x (1 - NDSI).

    The std is over a ``window`` square (501 px = 10 km at 20 m) of observed pixels (zero
    outside the image), from window sums of 1, green and green^2 (float64: the variance is
    ~1e-6). Snow fields are smooth and high in NDSI, so SCSI is tiny there, while clouds
    over snow are textured. float32 (H, W). Computed in strips (:class:`ScsiRows`).
    """
    check_arrays("scsi", green=green, ndsi=ndsi, obs=obs)
    check_masks("scsi", obs=obs)
    h, w = green.shape
    stream = ScsiRows(lambda a, b: (green[a:b], obs[a:b]), h, window)
    out = np.empty((h, w), np.float32)
    step = max(1, _SCSI_STRIP_PIXELS // max(w, 1))
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        out[r0:r1] = stream(r0, r1, ndsi[r0:r1])
    return out


def absolute_snow(green: np.ndarray, ndsi: np.ndarray, snow: np.ndarray, obs: np.ndarray,
                  config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """Step 6: potential snow with SCSI < 0.0009 (Q19), removed from the potential clouds.

    Computed only when the scene has more than ``scsi_min_snow_pixels`` potential
    snow pixels (Q19); otherwise all False. bool (H, W).
    """
    check_arrays("absolute_snow", green=green, ndsi=ndsi, snow=snow, obs=obs)
    check_masks("absolute_snow", snow=snow, obs=obs)
    if np.count_nonzero(snow) <= config.scsi_min_snow_pixels:
        return np.zeros_like(snow)
    return snow & (scsi(green, ndsi, obs, config.scsi_window) < config.scsi_threshold)
