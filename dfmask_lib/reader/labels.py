"""Read class maps (label GeoTIFFs, Fmask output, Sen2Cor SCL) into project class codes.

Every map goes through an explicit :class:`~dfmask_lib.classes.MappingTable`
(:func:`~dfmask_lib.classes.recode` refuses unknown codes), and is read without
resampling: labels are never interpolated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from ..classes import FMASK, PROJECT, SEN2COR_SCL, TABLES, MappingTable, recode
from ..errors import LabelError, MissingDataError, ProductError
from .resample import Grid
from .safe import GDAL_ENV

__all__ = ["read_labels", "read_scl", "decode_scl", "find_label_file", "table_for",
           "check_label_grid"]

#: Native resolution of the Sen2Cor SCL the method scores (METHOD.md: "Read the 20 m SCL").
SCL_RESOLUTION = 20.0


def table_for(path: str | os.PathLike, table: MappingTable | str | None = None) -> MappingTable:
    """The mapping table of a class map: given, or by name (``*LABELS.tif`` and dfmask
    predictions ``*_DFMASK_CLASSES.tif``: project codes; ``*FMASK.tif``: Fmask 4 codes)."""
    if isinstance(table, MappingTable):
        return table
    if isinstance(table, str):
        if table not in TABLES:
            raise LabelError(f"unknown mapping table {table!r}; choose one of {sorted(TABLES)}")
        return TABLES[table]
    name = Path(path).name.upper()
    if name.endswith(("LABELS.TIF", "_DFMASK_CLASSES.TIF")):  # human labels, dfmask predictions
        return PROJECT
    if name.endswith("FMASK.TIF"):
        return FMASK
    raise LabelError(f"cannot tell the class codes of {Path(path).name}; pass table= one of "
                     f"{sorted(TABLES)}")


def _read_single_band(path: Path, window: Window | None) -> tuple[np.ndarray, dict[str, Any]]:
    if not path.is_file():
        raise MissingDataError(f"label file {path} does not exist")
    try:
        with rasterio.Env(**GDAL_ENV), rasterio.open(path) as ds:
            if ds.count != 1:
                raise LabelError(f"{path} has {ds.count} bands; a class map has exactly one")
            profile = dict(ds.profile)
            if window is not None:
                # rasterio would silently crop a window reaching outside the file (a smaller
                # array; for a negative offset, a transform that misses the pixels)
                try:
                    sub = Grid(ds.transform, (ds.height, ds.width)).window(window)
                except ProductError as exc:
                    raise LabelError(f"{path.name}: {exc}") from None
                profile.update(transform=sub.transform, height=sub.shape[0], width=sub.shape[1])
            return ds.read(1, window=window), profile
    except RasterioError as exc:
        raise LabelError(f"cannot read label file {path}: {exc}") from None


def read_labels(path: str | os.PathLike, table: MappingTable | str | None = None, *,
                window: Window | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a single-band class map and recode it into project codes.

    Args:
        path: ``*LABELS.tif`` (project codes, table PROJECT), ``*FMASK.tif`` (Fmask 4
            codes, table FMASK) or any class map with ``table`` given.
        table: a MappingTable or its name in :data:`~dfmask_lib.classes.TABLES`.
        window: optional rasterio Window (native grid).

    Returns:
        (uint8 (H, W) project codes 0-5, the file's rasterio profile updated for the window).

    Raises:
        MissingDataError: no such file. LabelError: several bands, unreadable, or codes
            outside the table.
    """
    path = Path(path)
    tab = table_for(path, table)
    array, profile = _read_single_band(path, window)
    try:
        return recode(array, tab), profile
    except LabelError as exc:
        raise LabelError(f"{path.name}: {exc}") from None


def check_label_grid(profile: dict[str, Any], grid: Grid, label_name: str,
                     product_name: str) -> None:
    """Refuse a class map that is not on its product's grid (CRS, transform and shape).

    Comparing shapes alone lets a label file shifted by a pixel, or in another UTM zone,
    label the wrong pixels silently; human labels (PANGAEA) and official Fmask files are
    made by other tools, so the check matters most for them.

    Args:
        profile: the label file's rasterio profile (as :func:`read_labels` returns it).
        grid: the product's grid (``Grid(scene.transform, scene.shape, scene.crs)``).
        label_name, product_name: for the message.

    Raises:
        LabelError: naming both grids.
    """
    label_grid = Grid(profile["transform"], (int(profile["height"]), int(profile["width"])),
                      profile.get("crs"))
    if not label_grid.matches(grid):
        raise LabelError(
            f"{label_name} is not on the grid of {product_name}: labels {label_grid.describe()}; "
            f"product {grid.describe()}. Labels must be on the 20 m grid of their product: "
            "reproject them with nearest-neighbour resampling (e.g. gdalwarp -r near -te/-tr "
            "of the product) or relabel"
        )


def decode_scl(scl: np.ndarray) -> np.ndarray:
    """Sen2Cor SCL codes (integer, or float holding integers as in eo-learn) -> project codes.

    Args:
        scl: any shape; a trailing axis of length 1 (eo-learn's (T, H, W, 1)) is dropped.

    Returns:
        uint8 array of project codes via :data:`~dfmask_lib.classes.SEN2COR_SCL`.
    """
    scl = np.asarray(scl)
    if scl.ndim >= 3 and scl.shape[-1] == 1:
        scl = scl[..., 0]
    if np.issubdtype(scl.dtype, np.floating):
        if not np.all(np.isfinite(scl)) or np.any(scl != np.round(scl)):
            raise LabelError("SCL array holds non-integer values; it must hold codes 0-11")
        if scl.size and (scl.min() < 0 or scl.max() > 255):
            raise LabelError(f"SCL codes must be 0-11, found {scl.min()}..{scl.max()}")
        scl = scl.astype(np.uint8)
    return recode(scl, SEN2COR_SCL)


def read_scl(path: str | os.PathLike, *, window: Window | None = None,
             resolution: float | None = SCL_RESOLUTION) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a Sen2Cor SCL raster recoded through SEN2COR_SCL.

    Args:
        path: the SCL file (e.g. ``*_SCL_20m.jp2`` or a sen2r ``*_SCL_*.tif``).
        window: optional rasterio Window.
        resolution: required pixel size (20 m); None accepts any.

    Returns:
        (uint8 (H, W) project codes, rasterio profile).
    """
    path = Path(path)
    array, profile = _read_single_band(path, window)
    res = abs(profile["transform"].a)
    if resolution is not None and not np.isclose(res, resolution):
        raise LabelError(f"{path.name} has {res:g} m pixels; use the {resolution:g} m SCL "
                         "(the method scores Sen2Cor at 20 m)")
    try:
        return decode_scl(array), profile
    except LabelError as exc:
        raise LabelError(f"{path.name}: {exc}") from None


def find_label_file(product_path: str | os.PathLike,
                    kind: Literal["FMASK", "LABELS"] = "FMASK") -> Path | None:
    """The ``*FMASK.tif`` / ``*LABELS.tif`` beside a SAFE's bands (GRANULE/*/IMG_DATA), or None.

    This is where Fmask 4 writes its output and where the paper's human labels are
    placed. ``product_path`` may be the ``.SAFE`` folder or a folder of band files.
    """
    if kind not in ("FMASK", "LABELS"):
        raise LabelError(f"kind must be 'FMASK' or 'LABELS', got {kind!r}")
    root = Path(product_path)
    if not root.is_dir():
        return None
    candidates = (sorted(root.glob(f"GRANULE/*/IMG_DATA/*{kind}.tif"))
                  + sorted(root.glob(f"*{kind}.tif")))
    return candidates[0] if candidates else None
