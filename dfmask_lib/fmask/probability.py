"""Steps 7-8: cloud probabilities over land and water and their dynamic thresholds.

Zhu & Woodcock 2012 (ZW12, RSE 118:83-94) eqs. 9-18 without the thermal band, as
Fmask 4 runs on Sentinel-2 (Qiu, Zhu & He 2019, Q19, RSE 231:111205), with the
cirrus thin-cloud term of Zhu et al. 2015 (Z15, RSE 159:269-277). Float32 (H, W)
in and out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._util import check_arrays, check_masks, masked_percentile
from .config import FmaskConfig

__all__ = [
    "thin_cloud_probability", "water_cloud_probability", "hot_range", "land_probability",
    "hot_percentiles", "land_cloud_probability", "probability_threshold",
    "CloudProbability", "cloud_probability",
]


def thin_cloud_probability(cirrus: np.ndarray, config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """max(cirrus / 0.04, 0) (Z15): normalised cirrus of 0.04 is certainly cloud. float32."""
    check_arrays("thin_cloud_probability", cirrus=cirrus)
    thin = np.divide(cirrus, np.float32(config.thin_cloud_cirrus), dtype=np.float32)
    return np.maximum(thin, 0, out=thin)


def water_cloud_probability(swir1: np.ndarray, thin: np.ndarray,
                            config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """min(SWIR1 / 0.11, 1) + 0.5 x thin (ZW12 eq. 10; Q19 weight for S2). float32 (H, W)."""
    check_arrays("water_cloud_probability", swir1=swir1, thin=thin)
    brightness = np.clip(swir1 / np.float32(config.water_brightness_swir1), None, 1)
    return (brightness + np.float32(config.thin_cloud_weight) * thin).astype(np.float32)


def hot_range(percentiles: np.ndarray, config: FmaskConfig = FmaskConfig()) -> tuple[float, float]:
    """The HOT scaling (low, high) of the land brightness from the clear-land HOT
    (17.5th, 82.5th) percentiles: widened by 0.04 each side (Q19); NaNs without clear land."""
    low, high = (float(v) for v in percentiles)
    if np.isnan(low):
        return float("nan"), float("nan")  # brightness 1
    return low - config.hot_margin, high + config.hot_margin


def land_probability(ndsi: np.ndarray, ndvi: np.ndarray, ndbi: np.ndarray,
                     whiteness: np.ndarray, hot: np.ndarray, thin: np.ndarray,
                     hot_scale: tuple[float, float],
                     config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """Variability x HOT brightness + 0.5 x thin (ZW12 eq. 15) with a given HOT scaling
    (:func:`hot_range`; NaN = brightness 1). Per pixel: any strip of rows. float32."""
    # in place (one (H, W) float32 at a time: a full tile is 120 MB per layer), the same
    # operations in the same order as 1 - max(|NDSI|, |NDVI|, |NDBI|, whiteness)
    prob = np.abs(ndsi, dtype=np.float32)
    for other in (np.abs(ndvi), np.abs(ndbi), whiteness):
        np.maximum(prob, other, out=prob)
    np.subtract(np.float32(1), prob, out=prob)  # variability
    low, high = hot_scale
    if not np.isnan(low):
        brightness = np.subtract(hot, np.float32(low), dtype=np.float32)
        brightness /= np.float32(high - low)
        prob *= np.clip(brightness, 0, 1, out=brightness)
        del brightness
    prob += np.float32(config.thin_cloud_weight) * thin
    return prob


def land_cloud_probability(ndsi: np.ndarray, ndvi: np.ndarray, ndbi: np.ndarray,
                           whiteness: np.ndarray, hot: np.ndarray, thin: np.ndarray,
                           clear_land: np.ndarray, config: FmaskConfig = FmaskConfig()
                           ) -> tuple[np.ndarray, tuple[float, float]]:
    """Variability x HOT brightness + 0.5 x thin (ZW12 eq. 15; Q19 HOT brightness).

    Variability = 1 - max(|NDSI|, |NDVI|, |NDBI|, whiteness). Brightness = HOT scaled
    linearly from its 17.5th percentile - 0.04 (0) to its 82.5th + 0.04 (1) over clear
    land, clipped to [0, 1].

    Returns:
        (probability float32 (H, W), (hot_low, hot_high)). Without clear land the HOT
        range is empty and brightness is 1 (the probability falls back to variability).
    """
    check_arrays("land_cloud_probability", ndsi=ndsi, ndvi=ndvi, ndbi=ndbi, whiteness=whiteness,
                 hot=hot, thin=thin, clear_land=clear_land)
    check_masks("land_cloud_probability", clear_land=clear_land)
    scale = hot_range(masked_percentile(hot, clear_land, hot_percentiles(config),
                                        config.percentile_sample), config)
    return land_probability(ndsi, ndvi, ndbi, whiteness, hot, thin, scale, config), scale


def hot_percentiles(config: FmaskConfig) -> list[float]:
    """The two clear-land HOT percentiles of the brightness scaling (Q19)."""
    return [config.hot_low_percentile, config.hot_high_percentile]


def probability_threshold(percentile: float, config: FmaskConfig = FmaskConfig()) -> float:
    """The dynamic threshold from the clear pixels' 82.5th probability percentile: + 0.20
    (ZW12 eq. 17; Q19 for S2); -inf when there was nothing clear (every PCP is cloud)."""
    return float("-inf") if np.isnan(percentile) else float(percentile) + config.cloud_probability


@dataclass(frozen=True, eq=False)
class CloudProbability:
    """What step 8 produced: probabilities, thresholds and the cloud decision.

    Attributes:
        land, water: float32 (H, W) cloud probabilities.
        land_threshold, water_threshold: 82.5th percentile over clear land (water) + 0.20;
            -inf when there was no clear land (water) to compute it from (then every
            PCP there is cloud, as in step 7).
        hot_range: the (low, high) HOT scaling of the land brightness.
        cloud: bool (H, W), PCP and (land prob > thr and not water, or water prob > thr and water).
    """

    land: np.ndarray
    water: np.ndarray
    land_threshold: float
    water_threshold: float
    hot_range: tuple[float, float]
    cloud: np.ndarray


def cloud_probability(pcp: np.ndarray, water: np.ndarray, obs: np.ndarray, swir1: np.ndarray,
                      ndsi: np.ndarray, ndvi: np.ndarray, ndbi: np.ndarray,
                      whiteness: np.ndarray, hot: np.ndarray, cirrus: np.ndarray,
                      config: FmaskConfig = FmaskConfig()) -> CloudProbability:
    """Step 8: probabilities, dynamic thresholds (ZW12 eq. 17; +0.20 for S2, Q19), cloud.

    Args:
        pcp, water, obs: bool (H, W) potential cloud, water, observed.
        swir1, ndsi, ndvi, ndbi, whiteness, hot: float32 (H, W).
        cirrus: float32 (H, W) normalised cirrus (zeros if the scene has no B10).
    """
    check_arrays("cloud_probability", pcp=pcp, water=water, obs=obs, swir1=swir1)
    check_masks("cloud_probability", pcp=pcp, water=water, obs=obs)
    clear = obs & ~pcp
    clear_land, clear_water = clear & ~water, clear & water
    thin = thin_cloud_probability(cirrus, config)
    land, hot_range = land_cloud_probability(ndsi, ndvi, ndbi, whiteness, hot, thin,
                                             clear_land, config)
    wprob = water_cloud_probability(swir1, thin, config)

    def threshold(prob: np.ndarray, where: np.ndarray) -> float:
        # Nothing clear to calibrate against: trust the PCP there, as step 7 does.
        return probability_threshold(masked_percentile(prob, where, config.prob_percentile,
                                                       config.percentile_sample), config)

    land_thr, water_thr = threshold(land, clear_land), threshold(wprob, clear_water)
    cloud = pcp & obs & (((land > land_thr) & ~water) | ((wprob > water_thr) & water))
    return CloudProbability(land, wprob, land_thr, water_thr, hot_range, cloud)
