"""Fmask 4 for Sentinel-2 on a :class:`~dfmask_lib.scene.Scene`: steps 1-12 in order.

Zhu & Woodcock 2012 (RSE 118:83-94), Zhu et al. 2015 (RSE 159:269-277), Qiu, Zhu &
He 2019 (RSE 231:111205), Frantz et al. 2018 (RSE 215:471-481). Each step is a pure
array function in its own module; this one only wires them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..classes import FMASK, recode
from ..errors import BandError, ConfigError
from ..scene import S2_BANDS, Scene
from . import commission, compose, indices, masks, probability, shadow
from .config import FmaskConfig
from ..progress import disable_bar

__all__ = ["REQUIRED_BANDS", "OPTIONAL_BANDS", "READ_BANDS", "FmaskResult", "run_fmask"]

#: Bands Fmask cannot run without: blue, green, red, NIR (B8A), SWIR1, SWIR2.
REQUIRED_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B8A", "B11", "B12")
#: Optional bands: cirrus (B10) for the cirrus test and thin-cloud probability,
#: B07 and B08 for the cloud displacement index.
OPTIONAL_BANDS: tuple[str, ...] = ("B10", "B07", "B08")
#: What :func:`dfmask_lib.fmask.fmask_product` reads of a product: these nine bands in
#: product order (B01, B05, B06 and B09 are never used: 4 of 13 float32 layers saved).
READ_BANDS: tuple[str, ...] = tuple(b for b in S2_BANDS if b in REQUIRED_BANDS + OPTIONAL_BANDS)
#: Scenes at least this large show a progress bar by default.
_PROGRESS_PIXELS = 4_000_000


@dataclass(frozen=True, eq=False)
class FmaskResult:
    """The output of :func:`run_fmask`.

    Attributes:
        fmask: uint8 (H, W) in Fmask codes (0 land, 1 water, 2 shadow, 3 snow, 4 cloud, 255 fill).
        classes: uint8 (H, W) in project codes (``recode(fmask, FMASK)``).
        layers: named intermediate arrays and numbers for figures (see :func:`run_fmask`).
        config: the :class:`FmaskConfig` as given (its pixel fields at 20 m; the one converted
            to the scene's grid is ``layers["grid_config"]``).
    """

    fmask: np.ndarray
    classes: np.ndarray
    layers: dict[str, Any] = field(default_factory=dict)
    config: FmaskConfig = FmaskConfig()


def _check_inputs(scene: Scene, config: FmaskConfig, dem: np.ndarray | None,
                  water_occurrence: np.ndarray | None) -> None:
    if not isinstance(config, FmaskConfig):
        raise ConfigError(f"config must be an FmaskConfig, got {type(config).__name__}; build "
                          "one with FmaskConfig(field=value, ...)")
    if not isinstance(scene, Scene):
        raise BandError(f"run_fmask needs a dfmask_lib.scene.Scene, got {type(scene).__name__}; "
                        "read the product with dfmask_lib.reader.read_product")
    missing = [b for b in REQUIRED_BANDS if b not in scene.band_names]
    if missing:
        raise BandError(f"Fmask needs bands {missing} that the scene lacks (it has "
                        f"{list(scene.band_names)}); read the product with these bands")
    if not (np.isfinite(scene.sun_zenith) and 0 <= scene.sun_zenith < 90):
        raise ConfigError(f"sun zenith {scene.sun_zenith} deg is not a daytime angle; Fmask "
                          "needs sun angles: read a SAFE product (MTD_TL.xml) or set the "
                          "Scene's sun_zenith/sun_azimuth (dataclasses.replace)")
    if not np.isfinite(scene.sun_azimuth):
        raise ConfigError("the scene's sun azimuth is not a number; check the product metadata")
    if scene.crs is not None and getattr(scene.crs, "is_geographic", False):
        raise ConfigError("the scene's grid is in degrees (geographic CRS); Fmask needs a "
                          "projected grid in metres: reproject the product to its UTM zone "
                          "(e.g. gdalwarp -t_srs EPSG:326xx -tr 20 20)")
    for name, grid in (("dem", dem), ("water_occurrence", water_occurrence)):
        if grid is not None and np.shape(grid) != scene.shape:
            raise BandError(f"{name} has shape {np.shape(grid)} but the scene is {scene.shape}; "
                            "resample it onto the scene's 20 m grid first")


def _view_angles(scene: Scene) -> tuple[Any, Any]:
    if scene.view_zenith is not None and scene.view_azimuth is not None:
        return scene.view_zenith, scene.view_azimuth
    meta = scene.metadata
    if meta.mean_view_zenith is not None and meta.mean_view_azimuth is not None:
        return meta.mean_view_zenith, meta.mean_view_azimuth
    return 0.0, 0.0  # nadir


def run_fmask(scene: Scene, config: FmaskConfig = FmaskConfig(), *,
              dem: np.ndarray | None = None, water_occurrence: np.ndarray | None = None,
              progress: bool | None = None, keep_layers: bool = True) -> FmaskResult:
    """Fmask 4 (Sentinel-2) on a scene on one grid (the 20 m grid for a tile).

    Args:
        scene: needs bands B02, B03, B04, B8A, B11, B12 (B10 and B07/B08 used when present),
            sun angles, and view angles as grids, metadata means, or neither (nadir).
        config: thresholds (defaults: Fmask 4 for S2). Its pixel-valued fields are pixels of
            the 20 m grid; on a scene of another resolution they are converted with
            :meth:`FmaskConfig.on_grid` (the converted config is ``layers["grid_config"]``).
        dem: optional float (H, W) terrain height, metres (shadow matching on terrain).
        water_occurrence: optional (H, W) global surface water occurrence, percent.
        progress: tqdm bars; None = only for scenes of 4 Mpx or more.
        keep_layers: keep the intermediate rasters in ``layers`` (for figures). False keeps
            only its numbers and frees each raster after its last use. This function holds
            the whole scene (a 5490 px tile with all 13 bands read and the layers kept peaks
            at about 4 GB, ``benchmarks/fmask_tile.py``); for a product, the CLI and
            :func:`~dfmask_lib.fmask.ensure_fmask` run the same steps in strips
            (:func:`dfmask_lib.fmask.strips.fmask_strips`: the same labels, bit for bit, in
            a fraction of the memory).

    Returns:
        :class:`FmaskResult`. ``layers`` holds float32 ``ndvi, ndsi, ndbi, whiteness, hot,
        cdi`` (None without B07/B08), ``normalized_cirrus`` (None without B10),
        ``cloud_probability_land/water``, ``shadow_depth``; bool ``observed, potential_snow,
        absolute_snow, water, potential_cloud, potential_false_positive, cloud_before_commission,
        potential_shadow, cloud, shadow`` (cloud and shadow before buffering); numbers
        ``land_threshold, water_threshold, hot_range``; ``cloud_labels`` int32 (H, W),
        ``cloud_heights`` (metres per object id, NaN = unmatched, index 0 unused),
        ``similarity`` per object; ``skipped``: the steps the scene made moot;
        ``grid_config``: the config converted to the scene's grid. ``result.config`` is the
        config as given.

    Raises:
        BandError, ConfigError: on a scene Fmask cannot run on (missing bands, bad angles).
    """
    _check_inputs(scene, config, dem, water_occurrence)
    user_config = config
    # Windows, buffers and pixel counts are defined on the 20 m grid (Q19): convert them.
    config = config.on_grid(scene.resolution)
    if progress is None:
        progress = scene.shape[0] * scene.shape[1] >= _PROGRESS_PIXELS
    bar = tqdm(total=12, desc="fmask", disable=disable_bar(progress), leave=False)
    has = set(scene.band_names)
    blue, green, red = scene.band("B02"), scene.band("B03"), scene.band("B04")
    nir, swir1, swir2 = scene.band("B8A"), scene.band("B11"), scene.band("B12")
    cirrus = scene.band("B10") if "B10" in has else None
    layers: dict[str, Any] = {"skipped": [], "grid_config": config}

    def put(**named: Any) -> None:  # rasters only when kept; numbers always
        layers.update(named if keep_layers else
                      {k: v for k, v in named.items()
                       if not (isinstance(v, np.ndarray) and v.ndim >= 2)})

    # 1. Observation (all used bands > 0) and saturation.
    used = [b for b in REQUIRED_BANDS + OPTIONAL_BANDS if b in has]
    obs = masks.observation_mask(scene.bands(used), scene.valid)
    put(observed=obs)
    bar.update()
    # 2. Indices. The CDI first: its float64 local variances are among the largest
    # temporaries of the pipeline, and they cost least while no other layer is held.
    cdi = (indices.cdi(scene.band("B07"), scene.band("B08"), nir, config.cdi_window)
           if {"B07", "B08"} <= has else None)
    ndvi, ndsi = indices.ndvi(red, nir), indices.ndsi(green, swir1)
    ndbi, white = indices.ndbi(swir1, nir), indices.whiteness(blue, green, red)
    hot = indices.hot(blue, red)
    put(ndvi=ndvi, ndsi=ndsi, ndbi=ndbi, whiteness=white, hot=hot, cdi=cdi)
    bar.update()
    # 3-4. Potential snow and water.
    snow = masks.potential_snow(ndsi, nir, green, config) & obs
    water = masks.water_test(ndvi, nir, config, water_occurrence) & obs
    put(potential_snow=snow, water=water)
    bar.update(2)
    # 5. Potential cloud pixels, with the normalised cirrus test.
    pcp = masks.basic_cloud_test(swir2, ndsi, ndvi, white, hot, nir, swir1, scene.saturated,
                                 config) & obs
    ncirrus = None
    if cirrus is not None:
        ncirrus = masks.normalized_cirrus(cirrus, pcp, obs, config)
        pcp |= (ncirrus > config.pcp_cirrus) & obs
    put(normalized_cirrus=ncirrus)
    bar.update()
    # 6. Absolute snow leaves the potential clouds.
    abs_snow = masks.absolute_snow(green, ndsi, snow, obs, config)
    pcp &= ~abs_snow
    put(absolute_snow=abs_snow, potential_cloud=pcp)
    del abs_snow
    bar.update()
    # 7-8. Too few clear pixels: cloud = PCP; else probabilities and thresholds.
    few_clear = np.count_nonzero(obs & ~pcp) <= config.min_clear_pixels
    if few_clear:
        cloud = pcp.copy()
        layers["skipped"] += ["probabilities", "shadow matching"]
        put(cloud_probability_land=None, cloud_probability_water=None,
            land_threshold=float("nan"), water_threshold=float("nan"),
            hot_range=(float("nan"), float("nan")))
    else:
        prob = probability.cloud_probability(
            pcp, water, obs, swir1, ndsi, ndvi, ndbi, white, hot,
            ncirrus if ncirrus is not None else np.zeros_like(nir), config)
        cloud = prob.cloud
        put(cloud_probability_land=prob.land, cloud_probability_water=prob.water,
            land_threshold=prob.land_threshold, water_threshold=prob.water_threshold,
            hot_range=prob.hot_range)
        del prob
    bar.update(2)
    # 9. Bright-surface commission.
    put(cloud_before_commission=cloud)
    pfp = commission.potential_false_positives(ndbi, ndvi, snow, cdi, config, water=water,
                                               obs=obs, resolution=scene.resolution)
    del ndvi, ndsi, ndbi, white, hot, ncirrus  # not needed any more: freed before the objects
    cloud = commission.remove_commission(cloud, pfp, cdi, scene.resolution, config)
    put(potential_false_positive=pfp, cloud=cloud)
    del pfp, cdi
    bar.update()
    # 10-11. Potential shadow and matching.
    if few_clear or not cloud.any():
        if not few_clear:
            layers["skipped"].append("shadow matching")
        cast = np.zeros_like(cloud)
        put(potential_shadow=None, shadow_depth=None, cloud_labels=None,
            cloud_heights=np.full(1, np.nan), similarity=np.zeros(1))
    else:
        clear_land = obs & ~pcp & ~water
        pshadow, depth = shadow.potential_shadow(nir, swir1, obs, clear_land, config)
        vz, va = _view_angles(scene)
        match = shadow.match_shadows(cloud, pshadow, obs, scene.sun_zenith, scene.sun_azimuth,
                                     scene.resolution, vz, va, dem, config, progress)
        cast = match.shadow
        put(potential_shadow=pshadow, shadow_depth=depth, cloud_labels=match.labels,
            cloud_heights=match.heights, similarity=match.similarity)
        del pshadow, depth, match, clear_land
    put(shadow=cast)
    bar.update(2)
    # 12. Buffers and precedence.
    fmask = compose.compose(cloud, cast, snow & ~cloud, water, obs, config)
    bar.update()
    bar.close()
    return FmaskResult(fmask, recode(fmask, FMASK), layers, user_config)
