"""Step 12: buffers and precedence into the Fmask 4 output codes (Qiu, Zhu & He 2019).

Fmask codes: 0 clear land, 1 water, 2 cloud shadow, 3 snow, 4 cloud, 255 fill.
Later classes overwrite earlier ones: water < snow < shadow < cloud < fill.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import numpy as np
from scipy import ndimage as ndi

from ..errors import LabelError
from ._util import check_masks
from .config import FmaskConfig

__all__ = ["LAND", "WATER", "SHADOW", "SNOW", "CLOUD", "FILL", "FMASK_NAMES",
           "buffer", "compose", "class_fractions"]

LAND, WATER, SHADOW, SNOW, CLOUD, FILL = 0, 1, 2, 3, 4, 255
FMASK_NAMES: Mapping[int, str] = MappingProxyType({
    LAND: "clear land", WATER: "water", SHADOW: "cloud shadow", SNOW: "snow",
    CLOUD: "cloud", FILL: "fill",
})


def buffer(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate a bool (H, W) mask by a square of ``pixels`` on each side (0 = unchanged)."""
    check_masks("buffer", mask=mask)
    if pixels <= 0 or not mask.any():
        return mask.copy()
    # A square max filter is separable: fast on a 5490 x 5490 tile.
    return ndi.maximum_filter(mask.view(np.uint8), size=2 * pixels + 1, mode="constant") > 0


def compose(cloud: np.ndarray, shadow: np.ndarray, snow: np.ndarray, water: np.ndarray,
            obs: np.ndarray, config: FmaskConfig = FmaskConfig()) -> np.ndarray:
    """Buffer cloud (3 px), shadow (3 px), snow (0 px) and stack them by precedence.

    Args:
        cloud, shadow, snow, water, obs: bool (H, W).

    Returns:
        uint8 (H, W) in Fmask codes.
    """
    check_masks("compose", cloud=cloud, shadow=shadow, snow=snow, water=water, obs=obs)
    out = np.full(cloud.shape, LAND, dtype=np.uint8)
    out[water] = WATER
    out[buffer(snow, config.snow_buffer)] = SNOW
    out[buffer(shadow, config.shadow_buffer)] = SHADOW
    out[buffer(cloud, config.cloud_buffer)] = CLOUD
    out[~obs] = FILL
    return out


def class_fractions(fmask: np.ndarray) -> dict[str, float]:
    """Fraction of observed (non-fill) pixels in each Fmask class, by class name.

    Raises:
        LabelError: ``fmask`` is not an integer array of Fmask codes (0-4, 255).
    """
    fmask = np.asarray(fmask)
    if not np.issubdtype(fmask.dtype, np.integer):
        raise LabelError(f"class_fractions needs integer Fmask codes, got dtype {fmask.dtype}")
    if fmask.size and (fmask.min() < 0 or fmask.max() > FILL):
        outside = np.unique(fmask[(fmask < 0) | (fmask > FILL)])[:5]
        raise LabelError(f"class_fractions: codes {outside.tolist()} are not Fmask codes "
                         f"{sorted(FMASK_NAMES)}; recode the map first")
    counts = np.bincount(fmask.ravel(), minlength=256)
    bad = [int(c) for c in np.flatnonzero(counts) if c not in FMASK_NAMES]
    if bad:
        raise LabelError(f"class_fractions: codes {bad} are not Fmask codes "
                         f"{sorted(FMASK_NAMES)}; recode the map first")
    observed = counts.sum() - counts[FILL]
    return {FMASK_NAMES[c]: (counts[c] / observed if observed else 0.0)
            for c in (LAND, WATER, SHADOW, SNOW, CLOUD)}
