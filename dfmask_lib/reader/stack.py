"""Band files -> reflectance stack on one grid: the radiometric step shared by every reader.

Reflectance = (value + RADIO_ADD_OFFSET[band]) / QUANTIFICATION_VALUE (ESA L1C
product definition; the offset is -1000 from processing baseline 04.00 on).

Two kinds of file values:

* **integer DN** (uint16; int16 and uint8 accepted, see
  :func:`~dfmask_lib.reader.resample.as_dn`), as in every L1C product: DN 0 is no data,
  DN 65535 is saturated;
* **float values** (float32/float64), only for inputs whose radiometry the caller
  declares (GeoTIFF stacks, band folders; ``floats=True``), e.g. Earth Engine exports
  of TOA reflectance: NaN, +-inf and 0 are no data (inf is also logged as a warning: it
  is an arithmetic artefact of the tool that wrote the file, not a no-data marker),
  nothing is marked saturated. The same grid rules apply (copy, area mean, bilinear).

A pixel is valid only where every band read is valid; its reflectance is 0 elsewhere
(the :class:`~dfmask_lib.scene.Scene` contract).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from tqdm.auto import tqdm

from ..errors import ConfigError, ProductError
from ..progress import disable_bar
from .resample import Decoder, Grid, read_band_on_grid

__all__ = ["BandSource", "ReflectanceStack", "read_reflectance_stack", "float_decoder",
           "is_float", "SATURATION_BANDS"]

log = logging.getLogger(__name__)

#: Bands whose saturation Fmask uses (Zhu & Woodcock 2012: visible bands).
SATURATION_BANDS: tuple[str, ...] = ("B02", "B03", "B04")


@dataclass(frozen=True)
class BandSource:
    """Where one named band lives: an open dataset, a 1-based band index, an extra no-data value."""

    name: str
    dataset: rasterio.io.DatasetReader
    index: int = 1
    nodata_value: float | None = None

    @property
    def dtype(self) -> str:
        """The band's data type in the file, e.g. ``"uint16"``, ``"float32"``."""
        return self.dataset.dtypes[self.index - 1]


@dataclass(frozen=True)
class ReflectanceStack:
    """float32 (bands, H, W) reflectance, bool valid (H, W), bool saturated (H, W) or None."""

    reflectance: np.ndarray
    valid: np.ndarray
    saturated: np.ndarray | None


def is_float(dtype: str | np.dtype) -> bool:
    """True for floating-point file data (read as reflectance), False for integer DN."""
    return np.dtype(dtype).kind == "f"


def _invalid(raw: np.ndarray, nodata_value: float | None, name: str) -> np.ndarray:
    """No-data mask of float file values: NaN, +-inf, 0 and the declared no-data value."""
    bad = ~np.isfinite(raw) | (raw == 0)
    if nodata_value is not None and not math.isnan(nodata_value):
        bad |= raw == nodata_value
    n_inf = int(np.isinf(raw).sum())
    if n_inf:
        log.warning("%s: %d pixels hold inf; treated as no data", name, n_inf)
    return bad


def float_decoder(nodata_value: float | None = None, name: str = "") -> Decoder:
    """The float rule for :func:`~dfmask_lib.reader.resample.read_band_on_grid`.

    File values are kept as they are (no DN cast); NaN, +-inf, 0 and ``nodata_value`` are
    no data (see :func:`_invalid`); nothing is saturated. The reader's grid rules (copy,
    area mean, bilinear) then apply unchanged.
    """
    def decode(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        bad = _invalid(raw, nodata_value, name)
        return np.where(bad, 0, raw), bad, np.zeros(raw.shape, bool)
    return decode


def read_reflectance_stack(sources: Sequence[BandSource], grid: Grid,
                           offsets: Mapping[str, float], quantification: float,
                           progress: bool = True, *, floats: bool = False) -> ReflectanceStack:
    """Read every source onto ``grid`` and convert file values to TOA reflectance.

    Args:
        sources: one per output band, in output order.
        grid: target grid (e.g. a window of the 20 m tile grid).
        offsets: band name -> RADIO_ADD_OFFSET (missing names mean 0).
        quantification: QUANTIFICATION_VALUE (10000 for L1C DN; the declared scale of a
            float stack, 1 for reflectance), > 0.
        progress: show a tqdm bar over bands.
        floats: read float bands as values (see the module docstring); False (SAFE
            products) refuses them as not L1C DN.

    Raises:
        ConfigError: ``quantification`` is not a positive number.
        ProductError: a band cannot be put on the grid, or is float without ``floats``.
    """
    if not (np.isfinite(quantification) and quantification > 0):
        raise ConfigError(f"the scale (quantification value) is {quantification!r}; it must be "
                          "a positive number of file units per unit reflectance (10000 for "
                          "L1C DN, 1 for a float reflectance stack)")
    h, w = grid.shape
    refl = np.zeros((len(sources), h, w), dtype=np.float32)
    nodata = np.zeros((h, w), dtype=bool)
    saturated = None
    q = np.float32(quantification)
    bar = tqdm(sources, desc="reading bands", unit="band",
               disable=disable_bar(progress and len(sources) >= 2),
               leave=False)
    for i, src in enumerate(bar):
        try:
            if floats and is_float(src.dtype):
                band = read_band_on_grid(src.dataset, grid, src.index,
                                         decode=float_decoder(src.nodata_value, src.dataset.name))
            else:
                nd = src.nodata_value
                band = read_band_on_grid(src.dataset, grid, src.index,
                                         int(nd) if nd is not None and float(nd).is_integer()
                                         else None)
        except RasterioError as exc:
            raise ProductError(f"cannot decode band {src.name} ({src.dataset.name}): the file is "
                               f"damaged or incomplete ({exc}); download the product "
                               "again") from None
        log.debug("%s: band %d of %s (%s) on the %s m grid", src.name, src.index,
                  src.dataset.name, src.dtype, f"{grid.res:g}")
        refl[i] = (band.dn + np.float32(offsets.get(src.name, 0.0))) / q
        nodata |= band.nodata
        if src.name in SATURATION_BANDS:
            saturated = band.saturated if saturated is None else saturated | band.saturated
    refl[:, nodata] = 0.0
    return ReflectanceStack(refl, ~nodata, saturated)
