"""Grid math: put one band file's pixels onto a target grid (the 20 m grid by default).

Rules (METHOD.md, "Input data"):

* A band finer than the target (10 m -> 20 m) is **area averaged**: each target
  pixel is the mean DN of the k x k source pixels it covers (k = 2). The source
  and target grids must be aligned (origin offset a whole number of source pixels).
* A band coarser than the target (60 m -> 20 m) is **bilinearly interpolated** at
  the target pixel centres, with pixel-centre alignment: target centre
  ``x0 + (j + 0.5) * res`` sits at fractional source column
  ``(x - src_x0) / src_res - 0.5``. Outside the outermost source centres the edge
  value is repeated. Coordinates are absolute, so reading a window gives exactly
  the same values as slicing a full read.
* A band at the target resolution is copied.

No data is DN 0 (Sentinel-2 L1C). A target pixel is no data when any source pixel
that contributes to it is; saturated (DN 65535) likewise. The functions here touch
files only through an open rasterio dataset, in windows, so memory stays bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

from ..errors import ConfigError, ProductError

__all__ = ["Grid", "BandOnGrid", "Decoder", "snap_grid", "read_band_on_grid", "dn_decoder",
           "block_mean", "bilinear", "as_dn"]

#: Sentinel-2 L1C no-data DN.
NODATA_DN = 0
#: Sentinel-2 L1C saturated DN (ESA S2 L1C product definition).
SATURATED_DN = 65535
#: Rows of target grid processed at once, to bound memory on a full 10 m tile.
_STRIP_ROWS = 1024


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: affine ``transform`` (pixel size ``res``) and ``shape`` (H, W)."""

    transform: Affine
    shape: tuple[int, int]
    crs: object = None

    @property
    def res(self) -> float:
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        left, top = self.transform.c, self.transform.f
        return left, top - self.shape[0] * self.res, left + self.shape[1] * self.res, top

    def window(self, window: Window | None) -> "Grid":
        """The sub-grid of a rasterio ``window`` (checked to lie inside this grid)."""
        if window is None:
            return self
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        if (r0 != window.row_off or c0 != window.col_off or h != window.height
                or w != window.width):
            raise ProductError(f"window {window} must have whole-pixel offsets and size")
        if r0 < 0 or c0 < 0 or h <= 0 or w <= 0 or r0 + h > self.shape[0] or c0 + w > self.shape[1]:
            raise ProductError(
                f"window rows {r0}:{r0 + h}, cols {c0}:{c0 + w} is outside the "
                f"{self.shape[0]} x {self.shape[1]} px grid; choose a window inside it"
            )
        return Grid(self.transform @ Affine.translation(c0, r0), (h, w), self.crs)

    def describe(self) -> str:
        """One line for messages: CRS, size, pixel size and origin (upper-left corner)."""
        crs = self.crs.to_string() if hasattr(self.crs, "to_string") else str(self.crs)
        return (f"{crs or 'no CRS'}, {self.shape[0]} x {self.shape[1]} px at {self.res:g} m, "
                f"origin ({self.transform.c:.10g}, {self.transform.f:.10g})")

    def matches(self, other: "Grid", tolerance_px: float = 1e-3) -> bool:
        """Same CRS, shape and transform (origin and pixel size within ``tolerance_px`` pixels)."""
        if self.shape != other.shape or (self.crs is None) != (other.crs is None):
            return False
        if self.crs is not None and self.crs != other.crs:
            return False
        tol = tolerance_px * self.res
        a, b = self.transform, other.transform
        return (all(abs(x - y) <= tol for x, y in ((a.c, b.c), (a.f, b.f)))
                and all(abs(x - y) <= tolerance_px * 1e-3 * self.res
                        for x, y in ((a.a, b.a), (a.b, b.b), (a.d, b.d), (a.e, b.e))))


@dataclass(frozen=True)
class BandOnGrid:
    """One band resampled onto a target grid.

    Attributes:
        dn: float32 (H, W) digital numbers (area mean or bilinear), 0 where no data.
        nodata: bool (H, W), True where any contributing source pixel had DN 0.
        saturated: bool (H, W), True where any contributing source pixel had DN 65535.
    """

    dn: np.ndarray
    nodata: np.ndarray
    saturated: np.ndarray


def snap_grid(bounds: tuple[float, float, float, float], res: float, crs: object = None,
              anchor: tuple[float, float] = (0.0, 0.0)) -> Grid:
    """The largest ``res`` grid inside ``bounds`` whose origin is aligned to ``anchor``.

    Sentinel-2 tile origins (ULX, ULY) are multiples of 60 m, so ``anchor=(ULX, ULY)``
    (or (0, 0) when unknown) keeps a crop on its tile's 20 m grid.

    Raises:
        ConfigError: if ``res`` is not a positive number of metres.
        ProductError: if the bounds hold less than one pixel.
    """
    if not (math.isfinite(res) and res > 0):
        raise ConfigError(f"resolution {res!r} is not a positive pixel size in metres; "
                          "use e.g. 20 (the method's grid)")
    left, bottom, right, top = bounds
    ax, ay = anchor
    x0 = ax + math.ceil((left - ax) / res - 1e-9) * res
    y0 = ay + math.floor((top - ay) / res + 1e-9) * res
    width = int(math.floor((right - x0) / res + 1e-9))
    height = int(math.floor((y0 - bottom) / res + 1e-9))
    if width <= 0 or height <= 0:
        raise ProductError(
            f"the band files' common footprint {bounds} holds no whole {res:g} m pixel; "
            "check that all band files cover the same area"
        )
    return Grid(Affine(res, 0.0, x0, 0.0, -res, y0), (height, width), crs)


def as_dn(array: np.ndarray) -> np.ndarray:
    """Cast a band read from file to uint16 DN, explicitly.

    Real L1C bands are uint16. Some crops (the CNES ALCD S2B fixtures, written by OTB)
    store the same bits as signed int16: reinterpret them, so DN 65535 stored as -1
    stays saturated instead of becoming a negative reflectance.
    """
    if array.dtype == np.uint16:
        return array
    if array.dtype == np.int16:
        return array.view(np.uint16)
    if array.dtype == np.uint8:
        return array.astype(np.uint16)
    raise ProductError(
        f"band data type {array.dtype} is not a Sentinel-2 L1C DN type (uint16); "
        "is this a Level-1C band file?"
    )


#: A decoder turns raw file values into (values, nodata, saturated) at the source
#: resolution, values 0 where nodata: what "no data" and "saturated" mean depends on
#: the kind of file.
Decoder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def dn_decoder(nodata_value: int | None = None) -> Decoder:
    """The L1C DN rule: uint16 DN (see :func:`as_dn`), DN 0 no data, DN 65535 saturated.

    ``nodata_value``: a second no-data DN (e.g. 65535 declared by sen2r GeoTIFFs), compared
    in the file's own type (an int16 file's nodata -1 is DN 65535 after :func:`as_dn`).
    """
    def decode(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dn = as_dn(raw)
        if nodata_value is not None and nodata_value != NODATA_DN:
            dn = np.where(raw == nodata_value, np.uint16(NODATA_DN), dn)
        return dn, dn == NODATA_DN, dn == SATURATED_DN
    return decode


def _block_reduce(values: np.ndarray, nodata: np.ndarray, saturated: np.ndarray,
                  k: int) -> BandOnGrid:
    """Area mean of k x k blocks; a block is no data / saturated if any of its pixels is."""
    h, w = values.shape[0] // k, values.shape[1] // k
    if values.shape != (h * k, w * k):
        raise ProductError(f"array {values.shape} is not a whole number of {k} x {k} blocks")
    if k == 1:  # same resolution: a copy
        mean = values.astype(np.float32)
        mean[nodata] = 0.0
        return BandOnGrid(mean, nodata, saturated)
    # DN sums are exact in float32 (<= 36 uint16 values < 2**24); float files sum in float64
    acc = np.float64 if values.dtype.kind == "f" else np.float32
    mean = (values.astype(acc).reshape(h, k, w, k).sum(axis=(1, 3)) / acc(k * k)).astype(
        np.float32, copy=False)
    nd = nodata.reshape(h, k, w, k).any(axis=(1, 3))
    sat = saturated.reshape(h, k, w, k).any(axis=(1, 3))
    mean[nd] = 0.0
    return BandOnGrid(mean, nd, sat)


def block_mean(dn: np.ndarray, k: int) -> BandOnGrid:
    """Area-average a (k*H, k*W) DN array to (H, W); no data/saturated if any sub-pixel is.

    Args:
        dn: uint16 (k*H, k*W) digital numbers.
        k: integer reduction factor (2 for 10 m -> 20 m).
    """
    return _block_reduce(dn, dn == NODATA_DN, dn == SATURATED_DN, k)


def _finer(src: rasterio.io.DatasetReader, band: int, grid: Grid, k: int,
           decode: Decoder) -> BandOnGrid:
    r = abs(src.transform.a)
    col = (grid.transform.c - src.transform.c) / r
    row = (src.transform.f - grid.transform.f) / r
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise ProductError(
            f"{src.name}: its {r:g} m pixels are not aligned with the {grid.res:g} m grid "
            f"(offset {col:.3f}, {row:.3f} px); band files of one product must share a grid"
        )
    col, row = int(round(col)), int(round(row))
    h, w = grid.shape
    if row < 0 or col < 0 or row + h * k > src.height or col + w * k > src.width:
        raise ProductError(f"{src.name} does not cover the requested grid {grid.bounds}")
    out = BandOnGrid(np.zeros(grid.shape, np.float32), np.zeros(grid.shape, bool),
                     np.zeros(grid.shape, bool))
    for r0 in range(0, h, _STRIP_ROWS):
        rh = min(_STRIP_ROWS, h - r0)
        raw = src.read(band, window=Window(col, row + r0 * k, w * k, rh * k))
        part = _block_reduce(*decode(raw), k)
        out.dn[r0:r0 + rh], out.nodata[r0:r0 + rh], out.saturated[r0:r0 + rh] = (
            part.dn, part.nodata, part.saturated)
    return out


def bilinear(a: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Separable bilinear interpolation of a 2-D array on a rectilinear set of positions.

    Args:
        a: (h, w) array.
        rows, cols: 1-D fractional positions (pixel-centre index units) along each axis;
            positions beyond the outermost centres take the edge value.

    Returns:
        float32 (len(rows), len(cols)); memory O(h * len(cols) + len(rows) * len(cols)),
        so a full 60 m band goes to 20 m without a per-pixel coordinate array.
    """
    def axis(pos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip(pos, 0, n - 1)
        i0 = np.floor(pos).astype(np.intp)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, (pos - i0).astype(np.float32)

    c0, c1, wc = axis(np.asarray(cols, np.float64), a.shape[1])
    r0, r1, wr = axis(np.asarray(rows, np.float64), a.shape[0])
    a = a.astype(np.float32, copy=False)
    along = a[:, c0] * (1 - wc) + a[:, c1] * wc
    return along[r0] * (1 - wr)[:, None] + along[r1] * wr[:, None]


def _coarser(src: rasterio.io.DatasetReader, band: int, grid: Grid,
             decode: Decoder) -> BandOnGrid:
    r = abs(src.transform.a)
    h, w = grid.shape
    # fractional source coordinates of the target pixel centres (pixel-centre alignment)
    cols = (grid.transform.c + (np.arange(w) + 0.5) * grid.res - src.transform.c) / r - 0.5
    rows = (src.transform.f - (grid.transform.f - (np.arange(h) + 0.5) * grid.res)) / r - 0.5
    # every target centre must fall inside the source's pixels (as _finer requires), else
    # the edge repetition below would silently invent values far outside the band
    eps = 1e-6
    if cols[0] < -0.5 - eps or cols[-1] > src.width - 0.5 + eps \
            or rows[0] < -0.5 - eps or rows[-1] > src.height - 0.5 + eps:
        raise ProductError(f"{src.name} does not cover the requested grid {grid.bounds}")
    cols = np.clip(cols, 0, src.width - 1)
    rows = np.clip(rows, 0, src.height - 1)
    # read only the source pixels that contribute (one-pixel margin), in absolute terms
    c0, c1 = int(math.floor(cols[0])), min(int(math.floor(cols[-1])) + 1, src.width - 1)
    r0, r1 = int(math.floor(rows[0])), min(int(math.floor(rows[-1])) + 1, src.height - 1)
    values, bad, sat = decode(src.read(band, window=Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1)))
    rows, cols = rows - r0, cols - c0
    values = bilinear(values, rows, cols)  # 0 where bad (the decoder contract)
    # a target pixel is no data / saturated when any source pixel with weight > 0 is
    nodata = bilinear(bad.astype(np.float32), rows, cols) > 0
    saturated = bilinear(sat.astype(np.float32), rows, cols) > 0
    values[nodata] = 0.0
    return BandOnGrid(values, nodata, saturated)


def read_band_on_grid(src: rasterio.io.DatasetReader, grid: Grid, band: int = 1,
                      nodata_value: int | None = None, *,
                      decode: Decoder | None = None) -> BandOnGrid:
    """Read band ``band`` of an open dataset onto ``grid`` (see module docstring for the rules).

    Args:
        src: open rasterio dataset, north-up, in the grid's CRS, uint16 (or int16) DN.
        grid: the target grid (e.g. a window of the 20 m tile grid).
        band: 1-based band index in ``src``.
        nodata_value: a second no-data DN besides 0 (e.g. 65535 declared by sen2r
            GeoTIFFs); such pixels are treated as DN 0.
        decode: how file values become (values, nodata, saturated); default
            :func:`dn_decoder` (``nodata_value``). A float reflectance file passes its own
            (:func:`dfmask_lib.reader.stack.float_decoder`); ``dn`` then holds its values.

    Raises:
        ProductError: rotated/misaligned grids, a resolution ratio that is not a whole
            number, or a band file that does not cover the grid.
    """
    t = src.transform
    if t.b != 0 or t.d != 0 or t.e >= 0 or abs(t.a) != abs(t.e):
        raise ProductError(f"{src.name}: only north-up square-pixel rasters are supported")
    r = abs(t.a)
    decode = dn_decoder(nodata_value) if decode is None else decode
    if math.isclose(r, grid.res):
        return _finer(src, band, grid, 1, decode)
    if r < grid.res:
        k = grid.res / r
        if abs(k - round(k)) > 1e-9:
            raise ProductError(
                f"{src.name}: {r:g} m pixels do not divide the {grid.res:g} m grid; "
                "choose a resolution that is a multiple of the band's"
            )
        return _finer(src, band, grid, int(round(k)), decode)
    return _coarser(src, band, grid, decode)
