"""The I/O edge of Fmask: read a product (the nine bands of :data:`READ_BANDS`), run
:func:`run_fmask`, write the Fmask GeoTIFF.

The output uses Fmask 4's codes (0 land, 1 water, 2 shadow, 3 snow, 4 cloud, 255 fill)
so that it can stand in for the authors' Fmask 4 label files; the training pipeline
finds it as ``<granule>/IMG_DATA/*FMASK.tif`` and recodes it with
:data:`dfmask_lib.classes.FMASK`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from affine import Affine
from rasterio.errors import RasterioError

from ..classes import FMASK
from ..errors import BandError, ConfigError, DfmaskError
from ..scene import S2_BANDS, ProductMetadata, Scene
from .config import FmaskConfig
from .pipeline import READ_BANDS, FmaskResult, run_fmask

__all__ = ["default_output", "fmask_product", "fmask_product_result", "ensure_fmask",
           "array_scene"]

#: Suffix the training pipeline looks for in IMG_DATA.
SUFFIX = "_FMASK.tif"


def default_output(product: str | os.PathLike) -> Path:
    """Where :func:`fmask_product` writes by default: :func:`dfmask_lib.reader.output_path`
    with ``_FMASK.tif`` (in a SAFE's ``IMG_DATA`` named like its band files, else beside the
    input).

    Raises:
        MissingDataError, ProductError: from :func:`dfmask_lib.reader.locate_safe`.
    """
    from ..reader import output_path

    return output_path(product, SUFFIX)


def _bands_to_read(options: Mapping[str, Any]) -> tuple[str, ...]:
    """:data:`READ_BANDS`, or those of them a GeoTIFF stack declares (``band_names``; all
    it declares when none: :func:`run_fmask` then names the bands it lacks)."""
    names = options.get("band_names")
    if names is None:
        return READ_BANDS
    return tuple(b for b in READ_BANDS if b in names) or tuple(names)


def fmask_product_result(product: str | os.PathLike, out: str | os.PathLike | None = None, *,
                         config: FmaskConfig | None = None, overwrite: bool = False,
                         sun: tuple[float, float] | None = None,
                         reader_options: Mapping[str, Any] | None = None,
                         progress: bool = True,
                         keep_layers: bool = False) -> tuple[Path, FmaskResult]:
    """Like :func:`fmask_product`, also returning the :class:`FmaskResult` (CLI, notebook).

    ``sun`` = (zenith, azimuth) in degrees replaces the product's sun angles: needed for a
    folder of band files, which has no MTD_TL.xml. ``reader_options`` go to
    :func:`~dfmask_lib.reader.read_product` (``band_names``, ``scale``, ``offset``,
    ``sun_zenith``, ``sun_azimuth``: what the CLI's product options give) and are recorded in
    the output's ``PRODUCT_OPTIONS`` tag. The result's intermediate rasters are dropped as
    Fmask goes unless ``keep_layers`` (see :func:`run_fmask`).
    """
    from ..reader import read_product, require_observed
    from ..writer import write_classmap

    options = dict(reader_options or {})
    if sun is not None:
        if "sun_zenith" in options or "sun_azimuth" in options:
            raise ConfigError("give the sun either as sun= or in reader_options, not both")
        options.update(sun_zenith=float(sun[0]), sun_azimuth=float(sun[1]))

    config = FmaskConfig() if config is None else config
    if not isinstance(config, FmaskConfig):
        raise ConfigError(f"config must be an FmaskConfig, got {type(config).__name__}")
    target = Path(out) if out is not None else default_output(product)
    if target.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"output {target} must be a .tif GeoTIFF")
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    bands = _bands_to_read(options)
    if keep_layers:  # the whole scene in memory, every layer kept
        scene = require_observed(read_product(product, bands=bands, progress=progress,
                                              **options), product)
        result = run_fmask(scene, config, progress=None if progress else False)
        meta, crs, transform = scene.metadata, scene.crs, scene.transform
    else:
        result, (meta, crs, transform) = _fmask_in_strips(product, target, bands, options,
                                                          config, progress)
    tags = {"SOURCE": Path(product).name, "SENSING_TIME": meta.sensing_time,
            "TILE_ID": meta.tile_id, "PRODUCT_OPTIONS": json.dumps(options, sort_keys=True)}
    try:
        path = write_classmap(target, result.fmask, crs=crs, transform=transform,
                              table=FMASK, config=config, tags=tags)
    except DfmaskError:
        raise
    except (OSError, RasterioError) as exc:
        raise ConfigError(f"cannot write {target} ({exc}); choose a writable output with "
                          "out= (-o)") from None
    return path, result


def _fmask_in_strips(product: str | os.PathLike, target: Path, bands: tuple[str, ...],
                     options: Mapping[str, Any], config: FmaskConfig,
                     progress: bool) -> tuple[FmaskResult, tuple[ProductMetadata, Any, Affine]]:
    """:func:`~dfmask_lib.fmask.strips.fmask_strips` on a product read in strips of
    :func:`~dfmask_lib.windows.strip_rows_for` rows (the bands' scratch file beside
    ``target``); returns the result and the product's (metadata, CRS, transform)."""
    from ..atomic import scratch_path
    from ..reader import Window, no_observed_pixel, product_grid, read_product
    from ..windows import strip_rows_for
    from .strips import fmask_strips

    grid = product_grid(product, 20)
    h, w = grid.shape
    georef: list[tuple[ProductMetadata, Any, Affine]] = []  # of the first strip (row 0)

    def read(r0: int, r1: int) -> Scene:
        scene = read_product(product, window=Window(0, r0, w, r1 - r0), bands=bands,
                             progress=False, **options)
        if not georef:
            georef.append((scene.metadata, scene.crs, scene.transform))
        return scene

    try:
        with scratch_path(target, ".bands") as scratch:
            result = fmask_strips(read, (h, w), config, scratch=scratch,
                                  read_rows=strip_rows_for(w),
                                  progress=None if progress else False,
                                  on_empty=lambda: no_observed_pixel(product))
    except OSError as exc:
        raise ConfigError(f"cannot write Fmask's scratch file beside {target} ({exc}); free "
                          "disk space there (4 bytes per layer and pixel: 1.6 GB for a "
                          "5490 px tile) or choose another output with out= (-o)") from None
    return result, georef[0]


def fmask_product(product: str | os.PathLike, out: str | os.PathLike | None = None, *,
                  config: FmaskConfig | None = None, overwrite: bool = False,
                  sun: tuple[float, float] | None = None) -> Path:
    """Run Fmask 4 on a Sentinel-2 L1C product and write the Fmask GeoTIFF.

    Args:
        product: a ``.SAFE`` folder, its zip, a folder of band files (see
            :func:`dfmask_lib.reader.read_product`).
        out: output ``.tif``; default :func:`default_output`.
        config: thresholds (default ``FmaskConfig()``), stored in the file's
            ``DFMASK_CONFIG`` tag.
        overwrite: replace an existing output.
        sun: (zenith, azimuth) degrees replacing the product's own sun angles (a band
            folder has none).

    Returns:
        The path written: uint8 Fmask codes, nodata 255, on the product's 20 m grid,
        tiled and deflate-compressed with a colour table (:func:`dfmask_lib.writer.write_classmap`).

    Raises:
        DfmaskError: a bad product (MissingDataError, ProductError, BandError), an
            existing output without ``overwrite`` or an unwritable one (ConfigError).
    """
    return fmask_product_result(product, out, config=config, overwrite=overwrite, sun=sun)[0]


def ensure_fmask(product: str | os.PathLike, out: str | os.PathLike | None = None, *,
                 config: FmaskConfig | None = None,
                 reader_options: Mapping[str, Any] | None = None,
                 progress: bool = False) -> tuple[Path, bool]:
    """The Fmask label file of a product, (re)computed only when it is stale.

    Stale means: missing, or made from another product state (its files' sizes and
    mtimes), another :class:`FmaskConfig`, other reader options or another code version
    (:mod:`dfmask_lib.cache`; the file's recipe is in ``<out>.recipe.json``). A label file
    without a recipe (e.g. one an earlier dfmask or another tool wrote) is recomputed.

    Returns:
        (path of the ``*FMASK.tif``, True if it was computed now).
    """
    from ..cache import Recipe, ensure

    config = FmaskConfig() if config is None else config
    target = Path(out) if out is not None else default_output(product)
    recipe = Recipe("fmask", inputs=(Path(product),), config=config,
                    extra={"reader_options": dict(reader_options or {})})

    def build(path: Path) -> None:
        fmask_product_result(product, path, config=config, overwrite=True,
                             reader_options=reader_options, progress=progress)

    return ensure(target, recipe, build)


def array_scene(reflectance: np.ndarray, *, resolution: float, sun_zenith: float,
                sun_azimuth: float, band_names: tuple[str, ...] = S2_BANDS,
                source: str = "array") -> Scene:
    """A :class:`Scene` from a bare reflectance array without georeference (e.g. a test chip).

    Args:
        reflectance: TOA reflectance, (H, W, bands) (channels last, as s2cloudless and
            ukis-csmask store chips) or (bands, H, W); a leading batch axis of 1 is dropped.
        resolution: pixel size in metres; the transform is a north-up grid with origin (0, 0).
        sun_zenith, sun_azimuth: degrees; the array carries none, so state the assumption.
        band_names: band of each channel, in order (default all 13 in S2 order).
        source: a name for ``metadata.source``.

    Returns:
        A Scene with ``valid`` = every band > 0, nadir view (no view angles), no CRS.
    """
    if not (np.isfinite(resolution) and resolution > 0):
        raise ConfigError(f"resolution must be a positive pixel size in metres, got {resolution}")
    arr = np.asarray(reflectance)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    n = len(band_names)
    if arr.ndim != 3 or n not in (arr.shape[0], arr.shape[-1]):
        raise BandError(f"expected a (H, W, {n}) or ({n}, H, W) reflectance array for bands "
                        f"{list(band_names)}, got shape {arr.shape}")
    if arr.shape[0] != n:
        arr = np.moveaxis(arr, -1, 0)
    if np.issubdtype(arr.dtype, np.integer) or np.nanmax(arr) > 10:
        raise BandError("reflectance looks like DN (values > 10); divide by the "
                        "quantification value (10000) first")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    valid = np.all(arr > 0, axis=0)
    return Scene(arr, tuple(band_names), valid, None,
                 Affine(resolution, 0, 0, 0, -resolution, 0), float(sun_zenith),
                 float(sun_azimuth), ProductMetadata("array", source=source))
