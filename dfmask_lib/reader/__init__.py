"""Read Sentinel-2 products into a :class:`~dfmask_lib.scene.Scene` (step 1 of the pipeline).

One entry point, :func:`read_product`, dispatching on content:

* a ``.SAFE`` folder (or its MTD_MSIL1C.xml) or a ``.zip`` of one -> :func:`read_safe`;
* a folder of band files without metadata (``s2_B01.jp2`` ...) -> :func:`read_band_folder`;
* a multi-band GeoTIFF -> :func:`read_geotiff_stack` (band names must be declared).

Labels: :func:`read_labels`, :func:`read_scl`, :func:`decode_scl`, :func:`find_label_file`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Sequence

from rasterio.windows import Window

from ..errors import BandError, MissingDataError
from ..scene import S2_BANDS, Scene
from .geotiff import find_band_files, read_band_folder, read_geotiff_stack
from .labels import decode_scl, find_label_file, read_labels, read_scl
from .metadata import parse_product_xml, parse_tile_xml
from .resample import Grid
from .safe import locate_safe, read_safe, safe_grid

__all__ = [
    "read_product", "read_safe", "read_band_folder", "read_geotiff_stack", "read_labels",
    "read_scl", "decode_scl", "find_label_file", "locate_safe", "parse_product_xml",
    "parse_tile_xml", "safe_grid", "Grid", "Window",
]


def read_product(path: str | os.PathLike, *, window: Window | None = None,
                 bands: Sequence[str] = S2_BANDS, resolution: float = 20,
                 band_names: Sequence[str] | None = None, progress: bool = True) -> Scene:
    """Read any supported product as TOA reflectance on the ``resolution`` grid.

    Args:
        path: SAFE folder / MTD_MSIL1C.xml / zip of a SAFE / folder of band files /
            multi-band GeoTIFF.
        window: rasterio Window on the output grid (read a tile in pieces).
        bands: bands to return, in this order (default all 13 in :data:`S2_BANDS`).
        resolution: output pixel size in metres (20, the method's grid).
        band_names: for a GeoTIFF stack only: the name of each band in file order.

    Raises:
        MissingDataError: no such path; ProductError: not a product dfmask can read
            (e.g. Level-2A); BandError: GeoTIFF without ``band_names``.
    """
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path} does not exist; give a .SAFE folder, its .zip, a "
                               "folder of band files or a GeoTIFF")
    if path.is_dir():
        if (path / "MTD_MSIL1C.xml").exists() or (path / "MTD_MSIL2A.xml").exists() \
                or not find_band_files(path):
            return read_safe(path, window=window, bands=bands, resolution=resolution,
                             progress=progress)
        return read_band_folder(path, window=window, bands=bands, resolution=resolution,
                                progress=progress)
    if path.suffix.lower() == ".xml" or zipfile.is_zipfile(path):
        return read_safe(path, window=window, bands=bands, resolution=resolution,
                         progress=progress)
    if band_names is None:
        raise BandError(f"{path.name} is not a SAFE product; to read it as a GeoTIFF band "
                        "stack pass band_names (CLI: --band-names), the name of each band "
                        "in file order")
    return read_geotiff_stack(path, band_names, window=window,
                              bands=bands if tuple(bands) != S2_BANDS else None,
                              resolution=resolution, progress=progress)
