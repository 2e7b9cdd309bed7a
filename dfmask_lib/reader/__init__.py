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

from ..errors import BandError, ConfigError, MissingDataError
from ..scene import S2_BANDS, Scene
from .geotiff import find_band_files, read_band_folder, read_geotiff_stack
from .labels import decode_scl, find_label_file, read_labels, read_scl
from .metadata import parse_product_xml, parse_tile_xml
from .resample import Grid
from .safe import locate_safe, read_safe, safe_grid

__all__ = [
    "read_product", "read_safe", "read_band_folder", "read_geotiff_stack", "read_labels",
    "read_scl", "decode_scl", "find_label_file", "locate_safe", "parse_product_xml",
    "parse_tile_xml", "safe_grid", "Grid", "Window", "PRODUCT_OPTIONS",
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
    is_folder = path.is_dir()
    if (is_folder and ((path / "MTD_MSIL1C.xml").exists() or (path / "MTD_MSIL2A.xml").exists()
                       or not find_band_files(path))) \
            or (not is_folder and (path.suffix.lower() == ".xml" or zipfile.is_zipfile(path))):
        _refuse(f"a SAFE product ({path.name})", "it declares its bands and radiometry in "
                "MTD_MSIL1C.xml; these options are for GeoTIFF stacks and band folders",
                band_names=band_names, scale=scale, offset=offset)
        _native_only_for_stacks(resolution)
        scene = read_safe(path, window=window, bands=bands, resolution=resolution,
                          progress=progress)
        return dataclasses.replace(scene, **sun) if sun else scene
    if is_folder:
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


def _native_only_for_stacks(resolution: float | None) -> None:
    if resolution is None:
        raise ConfigError("resolution=None (the file's own grid; CLI: --resolution native) "
                          "applies to GeoTIFF stacks only; give a resolution in metres, e.g. 20")
