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
from rasterio.windows import Window
from tqdm.auto import tqdm

from ..errors import ConfigError, ProductError
from ..progress import disable_bar
from .resample import BandOnGrid, Grid, bilinear, read_band_on_grid

__all__ = ["BandSource", "ReflectanceStack", "read_reflectance_stack", "read_float_band_on_grid",
           "is_float", "SATURATION_BANDS"]

log = logging.getLogger(__name__)

#: Bands whose saturation Fmask uses (Zhu & Woodcock 2012: visible bands).
SATURATION_BANDS: tuple[str, ...] = ("B02", "B03", "B04")
#: Rows of the target grid read at once from a float band (bounds memory on a 10 m tile).
_STRIP_ROWS = 1024


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


def read_float_band_on_grid(src: rasterio.io.DatasetReader, grid: Grid, band: int = 1,
                            nodata_value: float | None = None) -> BandOnGrid:
    """Read a float band onto ``grid`` by the reader's grid rules, without a DN cast.

    The rules of :mod:`dfmask_lib.reader.resample`: a band at the grid's resolution is
    copied, a finer one (10 m -> 20 m) is area averaged over whole aligned blocks, a
    coarser one (60 m -> 20 m) is bilinear at the target pixel centres; a target pixel is
    no data when any source pixel that contributes to it is.

    Returns:
        :class:`~dfmask_lib.reader.resample.BandOnGrid` whose ``dn`` holds the file's
        values (float32, 0 where no data) and whose ``saturated`` is all False.

    Raises:
        ProductError: a rotated or misaligned raster, a resolution that does not divide the
            grid's, or a band that does not cover the grid.
    """
    t = src.transform
    if t.b != 0 or t.d != 0 or t.e >= 0 or abs(t.a) != abs(t.e):
        raise ProductError(f"{src.name}: only north-up square-pixel rasters are supported")
    r, (h, w) = abs(t.a), grid.shape
    if r > grid.res and not math.isclose(r, grid.res):
        return _float_coarser(src, grid, band, nodata_value)
    k = 1 if math.isclose(r, grid.res) else grid.res / r
    if abs(k - round(k)) > 1e-9:
        raise ProductError(f"{src.name}: {r:g} m pixels do not divide the {grid.res:g} m grid; "
                           "choose a resolution that is a multiple of the band's")
    k = int(round(k))
    col, row = (grid.transform.c - t.c) / r, (t.f - grid.transform.f) / r
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise ProductError(
            f"{src.name}: its {r:g} m pixels are not aligned with the {grid.res:g} m grid "
            f"(offset {col:.3f}, {row:.3f} px); band files of one product must share a grid")
    col, row = int(round(col)), int(round(row))
    if row < 0 or col < 0 or row + h * k > src.height or col + w * k > src.width:
        raise ProductError(f"{src.name} does not cover the requested grid {grid.bounds}")
    values = np.zeros(grid.shape, np.float32)
    nodata = np.zeros(grid.shape, bool)
    for r0 in range(0, h, _STRIP_ROWS):
        rh = min(_STRIP_ROWS, h - r0)
        raw = src.read(band, window=Window(col, row + r0 * k, w * k, rh * k))
        bad = _invalid(raw, nodata_value, src.name)
        blocks = np.where(bad, 0.0, raw.astype(np.float64)).reshape(rh, k, w, k)
        values[r0:r0 + rh] = blocks.mean(axis=(1, 3))
        nodata[r0:r0 + rh] = bad.reshape(rh, k, w, k).any(axis=(1, 3))
    values[nodata] = 0.0
    return BandOnGrid(values, nodata, np.zeros(grid.shape, bool))


def _float_coarser(src: rasterio.io.DatasetReader, grid: Grid, band: int,
                   nodata_value: float | None) -> BandOnGrid:
    r, t, (h, w) = abs(src.transform.a), src.transform, grid.shape
    # fractional source coordinates of the target pixel centres (pixel-centre alignment)
    cols = (grid.transform.c + (np.arange(w) + 0.5) * grid.res - t.c) / r - 0.5
    rows = (t.f - (grid.transform.f - (np.arange(h) + 0.5) * grid.res)) / r - 0.5
    eps = 1e-6
    if cols[0] < -0.5 - eps or cols[-1] > src.width - 0.5 + eps \
            or rows[0] < -0.5 - eps or rows[-1] > src.height - 0.5 + eps:
        raise ProductError(f"{src.name} does not cover the requested grid {grid.bounds}")
    cols, rows = np.clip(cols, 0, src.width - 1), np.clip(rows, 0, src.height - 1)
    c0, c1 = int(math.floor(cols[0])), min(int(math.floor(cols[-1])) + 1, src.width - 1)
    r0, r1 = int(math.floor(rows[0])), min(int(math.floor(rows[-1])) + 1, src.height - 1)
    raw = src.read(band, window=Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1))
    bad = _invalid(raw, nodata_value, src.name)
    rows, cols = rows - r0, cols - c0
    values = bilinear(np.where(bad, 0.0, raw).astype(np.float32), rows, cols)
    nodata = bilinear(bad.astype(np.float32), rows, cols) > 0
    values[nodata] = 0.0
    return BandOnGrid(values, nodata, np.zeros(grid.shape, bool))


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
        if floats and is_float(src.dtype):
            band = read_float_band_on_grid(src.dataset, grid, src.index, src.nodata_value)
        else:
            nd = src.nodata_value
            band = read_band_on_grid(src.dataset, grid, src.index,
                                     int(nd) if nd is not None and float(nd).is_integer() else None)
        log.debug("%s: band %d of %s (%s) on the %s m grid", src.name, src.index,
                  src.dataset.name, src.dtype, f"{grid.res:g}")
        refl[i] = (band.dn + np.float32(offsets.get(src.name, 0.0))) / q
        nodata |= band.nodata
        if src.name in SATURATION_BANDS:
            saturated = band.saturated if saturated is None else saturated | band.saturated
    refl[:, nodata] = 0.0
    return ReflectanceStack(refl, ~nodata, saturated)
