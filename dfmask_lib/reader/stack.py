"""Band files -> reflectance stack on one grid: the radiometric step shared by every reader.

Reflectance = (DN + RADIO_ADD_OFFSET[band]) / QUANTIFICATION_VALUE (ESA L1C
product definition; the offset is -1000 from processing baseline 04.00 on).
DN 0 is no data: a pixel is valid only where every band read is > 0, and its
reflectance is 0 elsewhere (the :class:`~dfmask_lib.scene.Scene` contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import rasterio
from tqdm.auto import tqdm

from ..errors import ConfigError
from .resample import Grid, read_band_on_grid
from ..progress import disable_bar

__all__ = ["BandSource", "ReflectanceStack", "read_reflectance_stack", "SATURATION_BANDS"]

#: Bands whose saturation Fmask uses (Zhu & Woodcock 2012: visible bands).
SATURATION_BANDS: tuple[str, ...] = ("B02", "B03", "B04")


@dataclass(frozen=True)
class BandSource:
    """Where one named band lives: an open dataset, a 1-based band index, an extra no-data DN."""

    name: str
    dataset: rasterio.io.DatasetReader
    index: int = 1
    nodata_value: int | None = None


@dataclass(frozen=True)
class ReflectanceStack:
    """float32 (bands, H, W) reflectance, bool valid (H, W), bool saturated (H, W) or None."""

    reflectance: np.ndarray
    valid: np.ndarray
    saturated: np.ndarray | None


def read_reflectance_stack(sources: Sequence[BandSource], grid: Grid,
                           offsets: Mapping[str, float], quantification: float,
                           progress: bool = True) -> ReflectanceStack:
    """Read every source onto ``grid`` and convert DN to TOA reflectance.

    Args:
        sources: one per output band, in output order.
        grid: target grid (e.g. a window of the 20 m tile grid).
        offsets: band name -> RADIO_ADD_OFFSET (missing names mean 0).
        quantification: QUANTIFICATION_VALUE (10000 for L1C), > 0.
        progress: show a tqdm bar over bands.

    Raises:
        ConfigError: ``quantification`` is not a positive number.
    """
    if not (np.isfinite(quantification) and quantification > 0):
        raise ConfigError(f"the scale (quantification value) is {quantification!r}; it must be "
                          "a positive number of DN per unit reflectance (10000 for L1C)")
    h, w = grid.shape
    refl = np.zeros((len(sources), h, w), dtype=np.float32)
    nodata = np.zeros((h, w), dtype=bool)
    saturated = None
    q = np.float32(quantification)
    bar = tqdm(sources, desc="reading bands", unit="band",
               disable=disable_bar(progress and len(sources) >= 2),
               leave=False)
    for i, src in enumerate(bar):
        band = read_band_on_grid(src.dataset, grid, src.index, src.nodata_value)
        refl[i] = (band.dn + np.float32(offsets.get(src.name, 0.0))) / q
        nodata |= band.nodata
        if src.name in SATURATION_BANDS:
            saturated = band.saturated if saturated is None else saturated | band.saturated
    refl[:, nodata] = 0.0
    return ReflectanceStack(refl, ~nodata, saturated)
