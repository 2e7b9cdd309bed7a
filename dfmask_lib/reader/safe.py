"""Read a Sentinel-2 L1C SAFE product (folder or .zip) into a :class:`~dfmask_lib.scene.Scene`.

The output grid is built from the band files' own georeferencing (the common
footprint of all its band files, snapped to the tile's grid anchored at ULX/ULY of
MTD_TL.xml), so a product whose images are cropped (the CNES ALCD fixtures:
30 x 30 px) gives the crop's grid, not the full tile's. Bands are found by name
(``*_B8A.jp2``), never by sort order, and read by content (GDAL picks the driver).
"""

from __future__ import annotations

import os
import re
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ..errors import BandError, MissingDataError, ProductError
from ..scene import S2_BANDS, ProductMetadata, Scene
from .angles import interpolate_view_angles
from .metadata import (_L2A_MESSAGE, TileXml, check_same_product, parse_product_xml,
                       parse_tile_xml)
from .resample import Grid, snap_grid
from .stack import BandSource, read_reflectance_stack

__all__ = ["SafeLayout", "locate_safe", "read_safe", "safe_grid", "check_bands",
           "band_file_pattern", "grid_of", "open_bands", "GDAL_ENV"]

#: GDAL settings for every read: decode JPEG2000 on all cores, never write .aux.xml files, and
#: a block cache of 256 MB (rasterio takes an int as bytes) instead of GDAL's 5 % of the RAM:
#: dfmask reads each block once, so a cache that keeps every decoded block only adds memory
#: (reading the 6 bands of a 5490 px tile in one call: peak RSS 3.65 GB before, 2.68 GB after,
#: ``benchmarks/predict_tile.py``, 2026-12-01).
GDAL_ENV: Mapping[str, object] = {"GDAL_NUM_THREADS": "ALL_CPUS", "GDAL_PAM_ENABLED": "NO",
                                  "GDAL_CACHEMAX": 256 * 2**20}
_BAND_RE = re.compile(r"(?:^|_)(B(?:0[1-9]|1[0-2]|8A))\.(?:jp2|tif|tiff)$", re.IGNORECASE)


def band_file_pattern() -> re.Pattern[str]:
    """The regular expression that finds a band file by name (group 1: ``B01`` ... ``B8A``)."""
    return _BAND_RE


def check_bands(bands: Sequence[str]) -> tuple[str, ...]:
    """Validate a band selection: known names, no duplicates. Returns it as a tuple."""
    bands = tuple(bands)
    bad = [b for b in bands if b not in S2_BANDS]
    if bad or not bands or len(set(bands)) != len(bands):
        raise BandError(f"bands must be distinct names from {list(S2_BANDS)}, got {list(bands)}")
    return bands


@dataclass(frozen=True)
class SafeLayout:
    """Where the parts of one SAFE product are.

    Attributes:
        root: the ``.SAFE`` folder or the ``.zip``.
        product_xml, tile_xml: contents of MTD_MSIL1C.xml and the granule's MTD_TL.xml.
        band_files: band name -> path GDAL can open (``/vsizip/...`` inside a zip).
        img_data: the granule's IMG_DATA folder (None inside a zip).
    """

    root: Path
    product_xml: bytes
    tile_xml: bytes
    band_files: Mapping[str, str]
    img_data: Path | None


def _bands_from_names(names: Sequence[str], prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for n in sorted(names):
        m = _BAND_RE.search(PurePosixPath(n).name)
        if m:
            found.setdefault(m.group(1).upper(), prefix + n)
    return found


def _locate_folder(path: Path) -> SafeLayout:
    if path.is_file():
        if not path.name.startswith("MTD_MSIL"):
            raise ProductError(f"{path.name} is not MTD_MSIL1C.xml; give the .SAFE folder")
        path = path.parent
    if (path / "MTD_MSIL2A.xml").exists():
        raise ProductError(_L2A_MESSAGE)
    mtd = path / "MTD_MSIL1C.xml"
    if not mtd.is_file():
        if not any(path.iterdir()):
            raise ProductError(f"{path} is an empty folder, not a Sentinel-2 SAFE product")
        raise ProductError(f"{path} has no MTD_MSIL1C.xml; give the path of an L1C .SAFE "
                           "folder (or its .zip)")
    granules = sorted((path / "GRANULE").glob("*/MTD_TL.xml"))
    if len(granules) != 1:
        raise ProductError(f"{path}: expected one GRANULE/*/MTD_TL.xml, found {len(granules)}")
    img = granules[0].parent / "IMG_DATA"
    names = [p.relative_to(img).as_posix() for p in img.rglob("*") if p.is_file()] \
        if img.is_dir() else []
    return SafeLayout(path, mtd.read_bytes(), granules[0].read_bytes(),
                      _bands_from_names(names, str(img) + "/"), img)


def _locate_zip(path: Path) -> SafeLayout:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ProductError(f"{path} is not a readable zip file ({exc})") from None
    with zf:
        names = zf.namelist()
        if any(PurePosixPath(n).name == "MTD_MSIL2A.xml" for n in names):
            raise ProductError(_L2A_MESSAGE)
        mtd = [n for n in names if re.fullmatch(r"[^/]+\.SAFE/MTD_MSIL1C\.xml", n)]
        if len(mtd) != 1:
            raise ProductError(f"{path} is a zip but not of one Sentinel-2 L1C SAFE product "
                               "(no <name>.SAFE/MTD_MSIL1C.xml inside)")
        safe = mtd[0].split("/")[0]
        tiles = [n for n in names
                 if re.fullmatch(re.escape(safe) + r"/GRANULE/[^/]+/MTD_TL\.xml", n)]
        if len(tiles) != 1:
            raise ProductError(f"{path}: expected one GRANULE/*/MTD_TL.xml, found {len(tiles)}")
        img = tiles[0].rsplit("/", 1)[0] + "/IMG_DATA/"
        bands = _bands_from_names([n for n in names if n.startswith(img)],
                                  f"/vsizip/{path.resolve()}/")
        return SafeLayout(path, zf.read(mtd[0]), zf.read(tiles[0]), bands, None)


def locate_safe(path: str | os.PathLike) -> SafeLayout:
    """Find the metadata and band files of an L1C SAFE folder or zip.

    Raises:
        MissingDataError: the path does not exist.
        ProductError: not a SAFE, Level-2A, several or no granules.
    """
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path} does not exist")
    if path.is_dir() or path.suffix.lower() == ".xml":
        return _locate_folder(path)
    if zipfile.is_zipfile(path):
        return _locate_zip(path)
    raise ProductError(f"{path} is neither a .SAFE folder nor a zip of one")


def grid_of(datasets: Sequence[rasterio.io.DatasetReader], resolution: float,
            anchor: tuple[float, float] = (0.0, 0.0)) -> Grid:
    """The ``resolution`` grid covering the common footprint of ``datasets`` (see snap_grid)."""
    crs = datasets[0].crs
    for ds in datasets[1:]:
        if ds.crs != crs:
            raise ProductError(f"{ds.name} is in {ds.crs}, {datasets[0].name} in {crs}; "
                               "band files of one product must share a CRS")
    b = [ds.bounds for ds in datasets]
    common = (max(x.left for x in b), max(x.bottom for x in b),
              min(x.right for x in b), min(x.top for x in b))
    return snap_grid(common, resolution, crs, anchor)


def open_bands(stack: ExitStack, band_files: Mapping[str, str], bands: Sequence[str],
               where: str) -> dict[str, rasterio.io.DatasetReader]:
    """Open every band file found (inside ``stack``), requiring those in ``bands``.

    All files are opened (headers only) because the output grid is the common footprint
    of *all* the product's bands: a band subset must land on the same grid as a full read.

    Raises:
        MissingDataError: a requested band has no file. ProductError: a file is unreadable.
    """
    missing = [b for b in bands if b not in band_files]
    if missing:
        raise MissingDataError(f"{where} has no band file for {', '.join(missing)} "
                               f"(looked for *_<band>.jp2); the product is incomplete")
    out = {}
    for b in S2_BANDS:
        if b not in band_files:
            continue
        try:
            out[b] = stack.enter_context(rasterio.open(band_files[b]))
        except RasterioError as exc:
            raise ProductError(f"cannot read band {b} ({band_files[b]}): {exc}") from None
    return out


def _tile_origin(tile: TileXml, resolution: float) -> tuple[float, float]:
    anchor_res = min(tile.geoposition, key=lambda r: abs(r - resolution))
    return tile.geoposition[anchor_res][:2]


def _safe_grid(datasets: Sequence[rasterio.io.DatasetReader], tile: TileXml,
               resolution: float) -> Grid:
    for ds in datasets:
        if ds.crs is not None and ds.crs != CRS.from_epsg(tile.epsg):
            raise ProductError(f"{ds.name} is in {ds.crs} but MTD_TL.xml says "
                               f"EPSG:{tile.epsg}; the product is inconsistent")
    return grid_of(datasets, resolution, anchor=_tile_origin(tile, resolution))


def safe_grid(path: str | os.PathLike, *, resolution: float = 20) -> Grid:
    """The full output grid of a SAFE (what :func:`read_safe` would return), reading no pixels.

    Use it to plan windowed reads of a whole tile:
    ``for r0 in range(0, grid.shape[0], 1024): read_safe(p, window=Window(0, r0, W, h))``.
    """
    layout = locate_safe(path)
    product = parse_product_xml(layout.product_xml)  # refuses L2A and broken metadata early
    tile = parse_tile_xml(layout.tile_xml)
    check_same_product(product, tile, str(layout.root))
    with rasterio.Env(**GDAL_ENV), ExitStack() as stack:
        datasets = open_bands(stack, layout.band_files, (), str(layout.root))
        if not datasets:
            raise MissingDataError(f"{layout.root} has no band files")
        grid = _safe_grid(list(datasets.values()), tile, resolution)
    return Grid(grid.transform, grid.shape, CRS.from_epsg(tile.epsg))


def read_safe(path: str | os.PathLike, *, window: Window | None = None,
              bands: Sequence[str] = S2_BANDS, resolution: float = 20,
              progress: bool = True) -> Scene:
    """Read an L1C SAFE folder or zip as TOA reflectance on the ``resolution`` grid.

    Args:
        path: the ``.SAFE`` folder, its MTD_MSIL1C.xml, or a ``.zip`` of the SAFE.
        window: rasterio Window on the output grid (default: all of it); read a full
            tile in pieces with bounded memory.
        bands: which bands, in output order (default all 13, :data:`S2_BANDS`).
        resolution: output pixel size in metres (20: the method's grid).
        progress: tqdm bar over bands.

    Returns:
        A :class:`Scene`: float32 reflectance (DN + RADIO_ADD_OFFSET) / QUANTIFICATION_VALUE,
        valid = every band read > 0, saturated = DN 65535 in B02/B03/B04 (None if none
        of them is read), sun angles (tile means), per-pixel view angles (5 km detector
        means interpolated bilinearly). ``metadata.extra`` holds ``tile_offset`` (row, col
        of the first pixel in the tile's grid at this resolution: where a crop sits)
        and ``full_shape`` (the product's whole grid, to plan windows).

    Raises:
        MissingDataError, ProductError, BandError: see :func:`locate_safe`; missing band
            files; unreadable or misaligned band files; bad band names.
    """
    bands = check_bands(bands)
    layout = locate_safe(path)
    product = parse_product_xml(layout.product_xml)
    tile = parse_tile_xml(layout.tile_xml)
    check_same_product(product, tile, str(layout.root))
    ulx, uly = _tile_origin(tile, resolution)
    with rasterio.Env(**GDAL_ENV), ExitStack() as stack:
        datasets = open_bands(stack, layout.band_files, bands, str(layout.root))
        full = _safe_grid(list(datasets.values()), tile, resolution)
        grid = full.window(window)
        sources = [BandSource(b, datasets[b]) for b in bands]
        # a band that cannot be decoded is a ProductError naming it (read_reflectance_stack)
        data = read_reflectance_stack(sources, grid, product.radio_add_offset,
                                      product.quantification_value, progress)

    view_zen = view_az = None
    if tile.view_zenith_grid is not None and not np.isnan(tile.view_zenith_grid).all():
        # parallax vectors, not zenith and azimuth separately (see reader.angles)
        view_zen, view_az = interpolate_view_angles(tile.view_zenith_grid, tile.view_azimuth_grid,
                                                    ulx, uly, tile.angle_step, grid)
    row0 = int(round((uly - grid.transform.f) / grid.res))
    col0 = int(round((grid.transform.c - ulx) / grid.res))
    meta = ProductMetadata(
        product_type=product.product_type,
        processing_baseline=product.processing_baseline,
        quantification_value=product.quantification_value,
        radio_add_offset={b: product.radio_add_offset[b] for b in bands},
        spacecraft=product.spacecraft,
        sensing_time=product.sensing_time or tile.sensing_time,
        tile_id=tile.tile_id,
        source=str(layout.root),
        mean_view_zenith=tile.mean_view_zenith,
        mean_view_azimuth=tile.mean_view_azimuth,
        extra={"product_uri": product.product_uri, "tile_origin": (ulx, uly),
               "tile_offset": (row0, col0), "full_shape": full.shape},
    )
    return Scene(
        reflectance=data.reflectance, band_names=bands, valid=data.valid,
        crs=CRS.from_epsg(tile.epsg), transform=grid.transform,
        sun_zenith=tile.sun_zenith, sun_azimuth=tile.sun_azimuth, metadata=meta,
        view_zenith=view_zen, view_azimuth=view_az, saturated=data.saturated,
    )
