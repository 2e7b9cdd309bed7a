"""The in-memory contract every pipeline step works on: a :class:`Scene`.

A Scene is what :mod:`dfmask_lib.reader` returns for any product (L1C SAFE,
GeoTIFF band stack, synthetic scene) and what Fmask, patch extraction and
prediction consume. Contract:

* ``reflectance``: float32, shape (n_bands, H, W), top-of-atmosphere reflectance
  (unitless, ~0-1.5) on one grid (the 20 m grid for SAFE products), bands in
  ``band_names`` order. Slightly negative values are real for dark pixels of baseline
  >= 04.00 products and are kept; indices clip them (:func:`normalized_difference`). For a full L1C product that order is :data:`S2_BANDS`
  (B01 ... B08, B8A, B09 ... B12). Pixels outside ``valid`` hold 0.
* ``valid``: bool (H, W); False where any band is no data (DN 0).
* ``saturated``: bool (H, W); True where B02, B03 or B04 had DN 65535.
* ``crs``/``transform``: rasterio CRS and affine transform of that grid.
* Sun angles in degrees (tile means). View angles as per-pixel float32 (H, W)
  grids in degrees (the parallax-vector mean over bands and detectors, interpolated
  from the 5 km grids as vectors: see :mod:`dfmask_lib.reader.angles`), or
  None when the product has none (then use the scene means in ``metadata``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
from affine import Affine

from .errors import BandError

__all__ = ["S2_BANDS", "NATIVE_RESOLUTION", "NEGATIVE_REFLECTANCE_RULE", "ProductMetadata", "Scene",
           "normalized_difference", "ndsi"]

#: All 13 Sentinel-2 MSI bands in the project's canonical order.
S2_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
)
#: The rule for reflectance below 0 (see :func:`normalized_difference`), for docs and tags.
NEGATIVE_REFLECTANCE_RULE = (
    "reflectance is clipped at 0 before every normalised difference or ratio index; "
    "band values keep their raw (possibly negative) reflectance"
)
#: Native ground sampling distance of each band, metres.
NATIVE_RESOLUTION: Mapping[str, int] = MappingProxyType({
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
    "B08": 10, "B8A": 20, "B09": 60, "B10": 60, "B11": 20, "B12": 20,
})


@dataclass(frozen=True)
class ProductMetadata:
    """What a product says about itself (from MTD_MSIL1C.xml / MTD_TL.xml, or declared).

    Attributes:
        product_type: e.g. ``"S2MSI1C"``; ``"GeoTIFF"`` for a band stack.
        processing_baseline: e.g. ``"05.10"``; ``""`` when unknown.
        quantification_value: DN per unit reflectance (10000 for L1C).
        radio_add_offset: band name -> offset added to DN before scaling
            (-1000 from baseline 04.00 on, 0 before).
        spacecraft: ``"Sentinel-2A"`` ...; ``""`` when unknown.
        sensing_time: ISO 8601 string; ``""`` when unknown.
        tile_id: MGRS tile, e.g. ``"31TCJ"``; ``""`` when unknown.
        source: path of the product that was read.
        mean_view_zenith / mean_view_azimuth: scene means (degrees) or None.
        extra: anything else worth keeping (never needed for processing).
    """

    product_type: str
    processing_baseline: str = ""
    quantification_value: float = 10000.0
    radio_add_offset: Mapping[str, float] = field(default_factory=dict)
    spacecraft: str = ""
    sensing_time: str = ""
    tile_id: str = ""
    source: str = ""
    mean_view_zenith: float | None = None
    mean_view_azimuth: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Scene:
    """Reflectance and geometry of one product on one grid (see module docstring)."""

    reflectance: np.ndarray
    band_names: tuple[str, ...]
    valid: np.ndarray
    crs: Any
    transform: Affine
    sun_zenith: float
    sun_azimuth: float
    metadata: ProductMetadata
    view_zenith: np.ndarray | None = None
    view_azimuth: np.ndarray | None = None
    saturated: np.ndarray | None = None

    def __post_init__(self) -> None:
        r = self.reflectance
        if r.ndim != 3 or r.dtype != np.float32:
            raise BandError(f"reflectance must be float32 (bands, H, W), got {r.dtype} {r.shape}")
        if r.shape[0] != len(self.band_names):
            raise BandError(
                f"reflectance has {r.shape[0]} bands but {len(self.band_names)} names "
                f"{list(self.band_names)}"
            )
        hw = r.shape[1:]
        if self.valid.shape != hw or self.valid.dtype != bool:
            raise BandError(f"valid must be bool {hw}, got {self.valid.dtype} {self.valid.shape}")
        for name in ("view_zenith", "view_azimuth", "saturated"):
            a = getattr(self, name)
            if a is not None and a.shape != hw:
                raise BandError(f"{name} must have shape {hw}, got {a.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the grid."""
        return self.reflectance.shape[1], self.reflectance.shape[2]

    @property
    def resolution(self) -> float:
        """Pixel size in CRS units (metres), from the transform."""
        return abs(self.transform.a)

    def band(self, name: str) -> np.ndarray:
        """One band (H, W) float32 by name, e.g. ``scene.band("B8A")``."""
        try:
            return self.reflectance[self.band_names.index(name)]
        except ValueError:
            raise BandError(
                f"band {name!r} is not in this scene (it has {list(self.band_names)})"
            ) from None

    def bands(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """A (len(names), H, W) float32 stack of the named bands, in that order."""
        return np.stack([self.band(n) for n in names])


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b) on reflectance clipped at 0: float32 in [-1, 1], 0 where a + b == 0.

    The project's one rule for negative reflectance (:data:`NEGATIVE_REFLECTANCE_RULE`):
    from processing baseline 04.00 on, a dark pixel (water, shadowed snow in SWIR) can
    have (DN - 1000) / 10000 < 0. A ratio of such values is meaningless (green -0.01 and
    SWIR1 0.0105 give an "NDSI" of -41), so both operands are clipped at 0 first: a
    negative band counts as "no signal", which keeps the index in [-1, 1] and gives -1 or
    +1 when only one band has signal. Every normalised difference and ratio index (the
    network's NDSI channel, Fmask's NDVI, NDSI, NDBI, whiteness and CDI ratios) follows
    this rule; band values themselves (network input channels, thresholds on a band, HOT,
    the flood fill) keep the raw reflectance.

    Args:
        a, b: float arrays of equal shape (TOA reflectance).

    Returns:
        float32 array of the same shape in [-1, 1].
    """
    a = np.maximum(np.asarray(a, dtype=np.float32), np.float32(0))
    b = np.maximum(np.asarray(b, dtype=np.float32), np.float32(0))
    num = a - b
    den = a + b
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float32)
    np.divide(num, den, out=out, where=den != 0)
    return out


def ndsi(green: np.ndarray, swir1: np.ndarray) -> np.ndarray:
    """Normalised difference snow index (B03 - B11) / (B03 + B11), 0 where the sum is 0.

    Computed by :func:`normalized_difference`, so on reflectance clipped at 0 (the
    project's rule for negative reflectance).

    Args:
        green, swir1: float arrays of equal shape (TOA reflectance B03 and B11).

    Returns:
        float32 array of the same shape in [-1, 1].
    """
    return normalized_difference(green, swir1)
