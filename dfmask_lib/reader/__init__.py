"""Read Sentinel-2 products into a :class:`~dfmask_lib.scene.Scene` (step 1 of the pipeline).

One entry point, :func:`read_product`, dispatching on content:

* a ``.SAFE`` folder (or its MTD_MSIL1C.xml) or a ``.zip`` of one -> :func:`read_safe`;
* a folder of band files without metadata (``s2_B01.jp2`` ...) -> :func:`read_band_folder`;
* a multi-band GeoTIFF -> :func:`read_geotiff_stack` (band names must be declared).

Products without full metadata take declared options (:data:`PRODUCT_OPTIONS`, the CLI's
``--band-names --scale --offset --sun-zenith --sun-azimuth``). Integer files are L1C DN
(scale 10000), float files reflectance (scale 1); see :mod:`dfmask_lib.reader.geotiff`.

Labels: :func:`read_labels`, :func:`read_scl`, :func:`decode_scl`, :func:`find_label_file`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import zipfile
from pathlib import Path
from typing import Sequence

from rasterio.windows import Window

from ..errors import BandError, ConfigError, MissingDataError, ProductError
from ..scene import S2_BANDS, Scene
from .geotiff import find_band_files, read_band_folder, read_geotiff_stack
from .labels import decode_scl, find_label_file, read_labels, read_scl
from .metadata import parse_product_xml, parse_tile_xml
from .resample import Grid
from .safe import locate_safe, read_safe, safe_grid

__all__ = [
    "read_product", "read_safe", "read_band_folder", "read_geotiff_stack", "read_labels",
    "read_scl", "decode_scl", "find_label_file", "locate_safe", "parse_product_xml",
    "parse_tile_xml", "safe_grid", "Grid", "Window", "PRODUCT_OPTIONS", "product_kind",
    "product_grid", "product_stem", "output_path", "require_observed",
    "no_observed_pixel",
]

#: The keyword arguments of :func:`read_product` that declare what a product without
#: full metadata cannot say itself (the CLI's product options: --band-names, --scale, ...).
PRODUCT_OPTIONS: tuple[str, ...] = ("band_names", "scale", "offset", "sun_zenith", "sun_azimuth")


def _check_sun(sun_zenith: float | None, sun_azimuth: float | None) -> None:
    if (sun_zenith is None) != (sun_azimuth is None):
        raise ConfigError("give both sun_zenith and sun_azimuth (CLI: --sun-zenith and "
                          "--sun-azimuth), or neither")
    if sun_zenith is None:
        return
    if not (math.isfinite(sun_zenith) and 0 <= sun_zenith < 90):
        raise ConfigError(f"sun zenith {sun_zenith} deg is not a daytime angle; give 0 <= "
                          "zenith < 90 degrees")
    if not (math.isfinite(sun_azimuth) and 0 <= sun_azimuth <= 360):
        raise ConfigError(f"sun azimuth {sun_azimuth} deg is not an angle from north; give "
                          "0 to 360 degrees, clockwise")


def _refuse(kind: str, why: str, **given: object) -> None:
    """ConfigError naming the options in ``given`` that are set but mean nothing for ``kind``."""
    bad = [name for name, value in given.items() if value is not None]
    if bad:
        flags = ", ".join("--" + name.replace("_", "-") for name in bad)
        raise ConfigError(f"{', '.join(bad)} ({flags}) cannot be given for {kind}: {why}")


def read_product(path: str | os.PathLike, *, window: Window | None = None,
                 bands: Sequence[str] = S2_BANDS, resolution: float | None = 20,
                 band_names: Sequence[str] | None = None, scale: float | None = None,
                 offset: float | None = None, sun_zenith: float | None = None,
                 sun_azimuth: float | None = None, progress: bool = True) -> Scene:
    """Read any supported product as TOA reflectance on the ``resolution`` grid.

    Args:
        path: SAFE folder / MTD_MSIL1C.xml / zip of a SAFE / folder of band files /
            multi-band GeoTIFF.
        window: rasterio Window on the output grid (read a tile in pieces).
        bands: bands to return, in this order (default all 13 in :data:`S2_BANDS`).
        resolution: output pixel size in metres (20, the method's grid); None reads a
            GeoTIFF stack on its own grid (in its CRS units: degrees for EPSG:4326).
        band_names: GeoTIFF stack only: the name of each band in file order.
        scale, offset: GeoTIFF stack or band folder only: reflectance = (value + offset) /
            scale; defaults by data type (10000 for integer DN, 1 for float
            reflectance; offset 0). A SAFE product declares its own.
        sun_zenith, sun_azimuth: degrees, both or neither: the sun of a product without
            MTD_TL.xml (GeoTIFF stack, band folder); for a SAFE they replace its own.

    Raises:
        MissingDataError: no such path; ProductError: not a product dfmask can read
            (e.g. Level-2A, a stack in degrees on a metre grid); BandError: GeoTIFF
            without ``band_names``; ConfigError: an option the product cannot take, an
            impossible scale or sun angle.
    """
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path} does not exist; give a .SAFE folder, its .zip, a "
                               "folder of band files or a GeoTIFF")
    _check_sun(sun_zenith, sun_azimuth)
    sun = {} if sun_zenith is None else {"sun_zenith": float(sun_zenith),
                                         "sun_azimuth": float(sun_azimuth)}
    kind = product_kind(path)
    if kind == "safe":
        _refuse(f"a SAFE product ({path.name})", "it declares its bands and radiometry in "
                "MTD_MSIL1C.xml; these options are for GeoTIFF stacks and band folders",
                band_names=band_names, scale=scale, offset=offset)
        _native_only_for_stacks(resolution)
        scene = read_safe(path, window=window, bands=bands, resolution=resolution,
                          progress=progress)
        return dataclasses.replace(scene, **sun) if sun else scene
    if kind == "folder":
        _refuse(f"a folder of band files ({path.name})", "its band names come from the file "
                "names", band_names=band_names)
        _native_only_for_stacks(resolution)
        return read_band_folder(path, window=window, bands=bands, resolution=resolution,
                                quantification=scale, offset=offset, progress=progress, **sun)
    if band_names is None:
        raise BandError(f"{path.name} is not a SAFE product; to read it as a GeoTIFF band "
                        "stack pass band_names (CLI: --band-names), the name of each band "
                        "in file order")
    return read_geotiff_stack(path, band_names, scale, offset, window=window,
                              bands=bands if tuple(bands) != S2_BANDS else None,
                              resolution=resolution, progress=progress, **sun)


def product_kind(path: str | os.PathLike) -> str:
    """How :func:`read_product` reads ``path``: ``"safe"`` (a SAFE folder, its MTD_MSIL1C.xml,
    a zip, or a folder without band files: read_safe explains what is missing), ``"folder"``
    (a folder of band files without metadata) or ``"stack"`` (a multi-band GeoTIFF)."""
    path = Path(path)
    if path.is_dir():
        if (path / "MTD_MSIL1C.xml").exists() or (path / "MTD_MSIL2A.xml").exists() \
                or not find_band_files(path):
            return "safe"
        return "folder"
    if path.suffix.lower() in (".xml", ".zip") or zipfile.is_zipfile(path):
        return "safe"  # a damaged .zip is still meant as a SAFE: read_safe says what is wrong
    return "stack"


def product_grid(path: str | os.PathLike, resolution: float = 20) -> Grid:
    """The grid :func:`read_product` returns for ``path`` at ``resolution``, no pixels read.

    A SAFE -> its tile grid (:func:`safe_grid`); a folder of band files -> the bands' common
    footprint; a GeoTIFF stack -> its bounds snapped to ``resolution`` at its origin.

    Raises:
        MissingDataError: no such path; ProductError: not a readable product.
    """
    import rasterio

    from .geotiff import _refuse_degrees
    from .resample import snap_grid
    from .safe import GDAL_ENV, grid_of, open_bands

    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path} does not exist; give a .SAFE folder, its .zip, a "
                               "folder of band files or a GeoTIFF")
    kind = product_kind(path)
    if kind == "safe":
        return safe_grid(path, resolution=resolution)
    from contextlib import ExitStack

    with rasterio.Env(**GDAL_ENV), ExitStack() as stack:
        if kind == "folder":
            files = find_band_files(path)
            datasets = list(open_bands(stack, files, (), str(path)).values())
            for ds in datasets:
                _refuse_degrees(ds, Path(ds.name), resolution, native_hint=False)
            return grid_of(datasets, resolution)
        try:
            ds = stack.enter_context(rasterio.open(path))
        except rasterio.errors.RasterioError as exc:
            raise ProductError(f"{path} is not a readable GeoTIFF ({exc}); give a .SAFE "
                               "folder, its .zip, a folder of band files or a GeoTIFF") from None
        _refuse_degrees(ds, path, resolution, native_hint=True)
        return snap_grid(tuple(ds.bounds), resolution, ds.crs,
                         anchor=(ds.transform.c, ds.transform.f))


def product_stem(path: str | os.PathLike) -> str:
    """A product's name without ``.zip``, ``.SAFE`` or a GeoTIFF's ``.tif`` (the stem of the
    files dfmask writes beside it)."""
    path = Path(path)
    if path.name == "MTD_MSIL1C.xml":
        path = path.parent
    if path.suffix.lower() in (".tif", ".tiff"):
        return path.stem
    name = path.name
    for suffix in (".zip", ".SAFE"):
        name = name.removesuffix(suffix)
    return name


def output_path(product: str | os.PathLike, suffix: str,
                out_dir: str | os.PathLike | None = None) -> Path:
    """Where dfmask writes a per-product output ending in ``suffix`` (``_FMASK.tif``,
    ``_DFMASK_CLASSES.tif``, ...).

    * ``out_dir`` given: ``out_dir/<product_stem><suffix>``;
    * an L1C ``.SAFE`` folder (or its MTD_MSIL1C.xml): ``<granule>/IMG_DATA/T<tile>_<sensing
      datetime><suffix>``, named like the product's own band files (``..._B02.jp2``);
    * anything else (a zip, a band folder, a GeoTIFF stack): beside it,
      ``<product_stem><suffix>``.

    Raises:
        MissingDataError, ProductError: from :func:`locate_safe` (a SAFE without B02).
    """
    from ..errors import ProductError

    path = Path(product)
    if path.name == "MTD_MSIL1C.xml":
        path = path.parent
    if out_dir is not None:
        return Path(out_dir) / f"{product_stem(path)}{suffix}"
    if path.is_dir() and (path / "MTD_MSIL1C.xml").exists():
        layout = locate_safe(path)
        b02 = layout.band_files.get("B02")
        if layout.img_data is None or b02 is None:
            raise ProductError(f"{path}: no B02 band file in the granule's IMG_DATA")
        return layout.img_data / f"{Path(b02).name.rsplit('_', 1)[0]}{suffix}"
    return path.with_name(f"{product_stem(path)}{suffix}")


def _native_only_for_stacks(resolution: float | None) -> None:
    if resolution is None:
        raise ConfigError("resolution=None (the file's own grid; CLI: --resolution native) "
                          "applies to GeoTIFF stacks only; give a resolution in metres, e.g. 20")


def require_observed(scene: Scene, source: str | os.PathLike) -> Scene:
    """Return ``scene``; refuse a whole product without one observed pixel.

    A product in which every pixel is no data in some band is an incomplete download or a
    granule outside the swath: masking it would only write fill. (A *window* of a product may
    well be all no data; call this on whole products only.)

    Raises:
        ProductError: ``scene.valid`` has no True pixel.
    """
    if not scene.valid.any():
        raise no_observed_pixel(source)
    return scene


def no_observed_pixel(source: str | os.PathLike) -> ProductError:
    """The error for a whole product without one observed pixel (:func:`require_observed`)."""
    return ProductError(f"{source} has no observed pixel: every pixel is no data (DN 0) in at "
                        "least one band; the download is incomplete or the granule lies outside "
                        "the swath")
