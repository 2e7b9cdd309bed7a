"""Every Fmask threshold in one frozen dataclass, named after the paper that defines it.

References (cited per field):

* ZW12: Zhu & Woodcock 2012, Remote Sens. Environ. 118:83-94 (Fmask).
* Z15: Zhu, Wang & Woodcock 2015, Remote Sens. Environ. 159:269-277 (Fmask 3.2, cirrus, S2).
* Q19: Qiu, Zhu & He 2019, Remote Sens. Environ. 231:111205 (Fmask 4.0).
* F18: Frantz et al. 2018, Remote Sens. Environ. 215:471-481 (cloud displacement index, CDI).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..errors import ConfigError

__all__ = ["FmaskConfig", "REFERENCE_RESOLUTION", "PIXEL_LENGTH_FIELDS", "PIXEL_WINDOW_FIELDS",
           "PIXEL_AREA_FIELDS"]

#: The grid the pixel-valued fields are defined on: Fmask 4 for Sentinel-2 runs at 20 m (Q19).
REFERENCE_RESOLUTION = 20.0
#: Fields that are lengths in 20 m pixels (square buffers): scaled by 20 / resolution.
PIXEL_LENGTH_FIELDS = ("cloud_buffer", "shadow_buffer", "snow_buffer")
#: Fields that are odd window sizes in 20 m pixels: scaled by 20 / resolution, kept odd (>= 3).
PIXEL_WINDOW_FIELDS = ("scsi_window", "cdi_window")
#: Fields that are pixel counts (areas) at 20 m: scaled by (20 / resolution) ** 2.
PIXEL_AREA_FIELDS = ("scsi_min_snow_pixels", "min_clear_pixels", "cdi_max_object",
                     "min_cloud_pixels")


@dataclass(frozen=True)
class FmaskConfig:
    """Fmask 4 for Sentinel-2 settings; the defaults are Fmask 4's S2 defaults.

    Reflectances are TOA. Distances are in metres (fields ending in ``_m``, heights) or in
    pixels **of the 20 m reference grid** on which Q19 define them for Sentinel-2 (windows,
    buffers, object and pixel counts: :data:`PIXEL_LENGTH_FIELDS`, :data:`PIXEL_WINDOW_FIELDS`,
    :data:`PIXEL_AREA_FIELDS`). :func:`~dfmask_lib.fmask.run_fmask` converts those to the
    scene's grid with :meth:`on_grid`, so a 60 m or 10 m scene gets the same ground
    distances and areas (a 3 px cloud buffer is 60 m on every grid). ``height_step_px`` is a
    shadow shift in pixels of the scene's own grid by definition (ZW12), and
    ``percentile_sample``, ``fill_max_pixels`` and ``match_sample`` are compute budgets.
    """

    # --- step 3: potential snow (ZW12 eq. 20; Q19 keeps it) ---
    #: NDSI above this may be snow (ZW12).
    snow_ndsi: float = 0.15
    #: NIR (B8A) above this: snow is bright in NIR (ZW12).
    snow_nir: float = 0.11
    #: green above this: snow is bright in the visible (ZW12).
    snow_green: float = 0.10
    # --- step 4: water (ZW12 eq. 5) ---
    #: NDVI below this with dark NIR is water (ZW12).
    water_ndvi: float = 0.01
    #: NIR ceiling for the first water test (ZW12).
    water_nir: float = 0.11
    #: 0 < NDVI < this with very dark NIR is water too (ZW12).
    water_ndvi_high: float = 0.10
    #: NIR ceiling for that second test (ZW12).
    water_nir_low: float = 0.05
    #: % occurrence above which global surface water says water (Q19 use GSWO).
    water_occurrence: float = 90.0
    # --- step 5: basic cloud test (ZW12 eqs. 1-4, 7; Z15 cirrus) ---
    #: SWIR2 (B12) above this: clouds are bright in SWIR2 (ZW12 eq. 1).
    pcp_swir2: float = 0.03
    #: NDSI below this: excludes snow (ZW12 eq. 1).
    pcp_ndsi: float = 0.8
    #: NDVI below this: excludes dense vegetation (ZW12 eq. 1).
    pcp_ndvi: float = 0.8
    #: whiteness below this: clouds are flat in the visible (ZW12 eq. 2).
    pcp_whiteness: float = 0.7
    #: HOT above this: haze optimised transformation (ZW12 eq. 3).
    pcp_hot: float = 0.0
    #: NIR/SWIR1 above this: excludes bright rock (ZW12 eq. 4).
    pcp_nir_swir1: float = 0.75
    #: normalised cirrus (B10) above this is cloud (Z15; Q19 for S2).
    pcp_cirrus: float = 0.01
    #: percentile of B10 over non-PCP removed as background (Q19).
    cirrus_dark_percentile: float = 2.0
    # --- step 6: spectral-contextual snow index (Q19 sect. 2.2.2) ---
    #: compute SCSI only when potential snow exceeds this (Q19; 333^2).
    scsi_min_snow_pixels: int = 110889
    #: 10 km square window at 20 m for the green-band std (Q19).
    scsi_window: int = 501
    #: SCSI below this with potential snow: absolute snow (Q19).
    scsi_threshold: float = 0.0009
    # --- step 7 ---
    #: fewer clear pixels than this: cloud = PCP, no probabilities or shadows (ZW12).
    min_clear_pixels: int = 40000
    # --- step 8: cloud probability (ZW12 eqs. 9-18; Z15; Q19) ---
    #: cirrus reflectance that gives thin-cloud probability 1 (Z15).
    thin_cloud_cirrus: float = 0.04
    #: weight of the thin-cloud term for S2 (Q19).
    thin_cloud_weight: float = 0.5
    #: SWIR1 that saturates water brightness probability (ZW12 eq. 10).
    water_brightness_swir1: float = 0.11
    #: lower HOT percentile over clear land (Q19).
    hot_low_percentile: float = 17.5
    #: upper HOT percentile over clear land (Q19).
    hot_high_percentile: float = 82.5
    #: widens the HOT range at both ends (Q19).
    hot_margin: float = 0.04
    #: dynamic threshold percentile over clear land / water (ZW12 eq. 17).
    prob_percentile: float = 82.5
    #: offset added to the dynamic threshold; 20 % for S2 (Q19).
    cloud_probability: float = 0.20
    #: percentiles on at most this many pixels (strided subsample; speed).
    percentile_sample: int = 2_000_000
    # --- step 9: commission of bright surfaces (Q19; F18) ---
    #: disk radius (m) eroding clouds to drop thin false positives (Q19).
    erode_m: float = 90.0
    #: CDI below this is never a bright-surface false positive (F18, Q19).
    cdi_false_positive: float = -0.8
    #: urban-like false positives are widened by a square of this half-width (m) before
    #: erosion, so a bright surface's whole neighbourhood (beach, built-up area) counts,
    #: not only the pixels whose NDBI passes (Fmask 4.0 of Q19, as released).
    false_positive_buffer_m: float = 250.0
    #: a cloud object needs a pixel with CDI below this (parallax evidence) ... (F18, Q19)
    cdi_cloud: float = -0.5
    #: ... unless it has at least this many pixels (Q19, S2).
    cdi_max_object: int = 10000
    #: window (px) of the ratio variances in the CDI (F18).
    cdi_window: int = 7
    #: cloud objects smaller than this are removed (Q19).
    min_cloud_pixels: int = 3
    # --- step 10: potential shadow (Q19 flood fill) ---
    #: flood-fill depth in NIR and SWIR1 that marks potential shadow (Q19).
    shadow_fill_difference: float = 0.02
    #: clear-land percentile used to fill no-data before flood fill (ZW12).
    background_percentile: float = 17.5
    #: above this size the flood fill runs on a grid of 3 x 3 block minima, a conservative
    #: approximation that may miss but never adds shadow (speed; see shadow.py).
    fill_max_pixels: int = 4_000_000
    # --- step 11: shadow matching (ZW12 sect. 3.2; Q19) ---
    #: lowest cloud height tried, m (ZW12).
    min_height: float = 200.0
    #: highest cloud height tried, m (ZW12).
    max_height: float = 12000.0
    #: height step moves the shadow by this many pixels (ZW12: 2 x res x tan(elev)).
    height_step_px: float = 2.0
    #: minimum match similarity for S2 (Q19).
    similarity: float = 0.425
    #: objects larger than this are matched on a strided subsample of pixels (speed).
    match_sample: int = 20000
    # --- step 12: buffers (Q19 defaults for S2) ---
    #: cloud dilation, pixels (square) (Q19).
    cloud_buffer: int = 3
    #: shadow dilation, pixels (square) (Q19).
    shadow_buffer: int = 3
    #: snow dilation, pixels (square) (Q19).
    snow_buffer: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"FmaskConfig.{f.name} must be a number, got {value!r}")
        for name in ("cloud_buffer", "shadow_buffer", "snow_buffer", "min_cloud_pixels",
                     "scsi_window", "cdi_window", "percentile_sample", "match_sample",
                     "fill_max_pixels"):
            if getattr(self, name) < 0 or int(getattr(self, name)) != getattr(self, name):
                raise ConfigError(f"FmaskConfig.{name} must be a non-negative integer")
        if not 0 < self.min_height < self.max_height:
            raise ConfigError("FmaskConfig needs 0 < min_height < max_height (metres)")
        if not self.false_positive_buffer_m >= 0:
            raise ConfigError("FmaskConfig.false_positive_buffer_m must be >= 0 metres")
        if self.height_step_px <= 0:
            raise ConfigError("FmaskConfig.height_step_px must be positive")
        for name in ("cirrus_dark_percentile", "hot_low_percentile", "hot_high_percentile",
                     "prob_percentile", "background_percentile"):
            if not 0 <= getattr(self, name) <= 100:
                raise ConfigError(f"FmaskConfig.{name} is a percentile: use 0-100")
        if not self.hot_low_percentile < self.hot_high_percentile:
            raise ConfigError("FmaskConfig needs hot_low_percentile < hot_high_percentile")
        # Divisors and window sizes: 0 would give inf/NaN probabilities or an empty window.
        for name in ("thin_cloud_cirrus", "water_brightness_swir1", "scsi_window", "cdi_window"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"FmaskConfig.{name} must be positive")
        if not 0 <= self.similarity <= 1:
            raise ConfigError("FmaskConfig.similarity is a fraction of the footprint: use 0-1")

    def on_grid(self, resolution: float) -> "FmaskConfig":
        """This config with its 20 m pixel fields converted to a grid of ``resolution`` metres.

        Lengths (buffers) scale by k = 20 / resolution and are rounded; windows scale by k
        and are rounded to the nearest odd size of at least 3; pixel counts scale by k**2
        and are rounded. At 20 m the config is returned unchanged. E.g. at 60 m:
        cloud buffer 3 -> 1 px, SCSI window 501 -> 167 px, CDI window 7 -> 3 px, the clear-pixel
        test 40000 -> 4444 px, the minimum cloud object 3 -> 0 px (one 60 m pixel is already
        larger than three 20 m ones).

        Raises:
            ConfigError: ``resolution`` is not a positive number of metres.
        """
        if not (isinstance(resolution, (int, float)) and math.isfinite(resolution)
                and resolution > 0):
            raise ConfigError(f"grid resolution must be a positive number of metres, got "
                              f"{resolution!r}")
        k = REFERENCE_RESOLUTION / float(resolution)
        if math.isclose(k, 1.0, rel_tol=1e-9):
            return self
        changes: dict[str, int] = {}
        for name in PIXEL_LENGTH_FIELDS:
            changes[name] = int(round(getattr(self, name) * k))
        for name in PIXEL_WINDOW_FIELDS:
            changes[name] = max(3, 2 * int(round((getattr(self, name) * k - 1) / 2)) + 1)
        for name in PIXEL_AREA_FIELDS:
            changes[name] = int(round(getattr(self, name) * k * k))
        return replace(self, **changes)

    def describe_on_grid(self, resolution: float) -> str:
        """One line saying which pixel fields :meth:`on_grid` changes at ``resolution`` m."""
        grid = self.on_grid(resolution)
        changed = [f"{name} {getattr(self, name)} -> {getattr(grid, name)}"
                   for name in PIXEL_LENGTH_FIELDS + PIXEL_WINDOW_FIELDS + PIXEL_AREA_FIELDS
                   if getattr(grid, name) != getattr(self, name)]
        if not changed:
            return f"at {resolution:g} m the pixel fields are used as defined (20 m grid)"
        return (f"pixel fields converted from the 20 m grid to {resolution:g} m pixels: "
                + ", ".join(changed))
