"""Write class maps as GeoTIFFs that explain themselves.

One function, :func:`write_classmap`: a single-band uint8 GeoTIFF, tiled (256 px)
and deflate-compressed, with

* ``nodata`` = the table's code that maps to project class 0 (0 for
  :data:`~dfmask_lib.classes.PROJECT`, 255 for :data:`~dfmask_lib.classes.FMASK`),
* an embedded colour table: each code gets the authors' colour of the project
  class it maps to (Nambiar et al. 2022, see :mod:`dfmask_lib.classes`); the
  no-data code is black and transparent,
* class names in the band description and in ``CLASS_<code>`` tags,
* the producing configuration (JSON) in ``DFMASK_CONFIG`` and the code's version in
  ``DFMASK_VERSION`` (package version + git commit, e.g. ``0.1.0+g7b7f24b``, see
  :func:`dfmask_lib.version.get_version`).

Codes outside the table are refused before anything is written, and the file
appears under its final name only once complete (:func:`~dfmask_lib.atomic.atomic_path`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from .atomic import atomic_path
from .classes import CLASS_COLOURS, CLASS_NAMES, NODATA, PROJECT, MappingTable
from .config import config_to_json
from .errors import ConfigError, LabelError
from .version import get_version

__all__ = ["BLOCK_SIZE", "write_classmap", "class_tags", "nodata_code"]

log = logging.getLogger(__name__)

#: Tile edge in pixels: GDAL's usual choice; a 5490 px tile is 22 x 22 blocks.
BLOCK_SIZE = 256


def nodata_code(table: MappingTable) -> int | None:
    """The source code of ``table`` that maps to project class 0, or None if none does.

    Raises:
        LabelError: if several codes map to 0 (a GeoTIFF has one nodata value).
    """
    codes = sorted(src for src, dst in table.mapping.items() if dst == NODATA)
    if len(codes) > 1:
        raise LabelError(
            f"table {table.name!r} maps several codes {codes} to no data; recode the map "
            "with dfmask_lib.classes.recode and write it with the PROJECT table"
        )
    return codes[0] if codes else None


def class_tags(table: MappingTable) -> dict[str, str]:
    """``{"CLASS_<code>": name}`` for each code of ``table`` (its own names, else the project's)."""
    return {
        f"CLASS_{src}": table.source_names.get(src, CLASS_NAMES[dst])
        for src, dst in sorted(table.mapping.items())
    }


def _check_classes(classes: np.ndarray, table: MappingTable) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.ndim != 2 or classes.dtype != np.uint8:
        raise LabelError(
            f"class map must be uint8 (H, W), got {classes.dtype} {classes.shape}; "
            "cast with .astype(np.uint8) after checking the codes"
        )
    if 0 in classes.shape:
        raise LabelError(f"class map is empty {classes.shape}; nothing to write")
    present = np.flatnonzero(np.bincount(classes.ravel(), minlength=256))
    unknown = [int(c) for c in present if int(c) not in table.mapping]
    if unknown:
        raise LabelError(
            f"codes {unknown[:10]} are not in the {table.name!r} table "
            f"(known: {sorted(table.mapping)}); pass the table the map was made with"
        )
    return classes


def write_classmap(
    path: str | os.PathLike,
    classes: np.ndarray,
    *,
    crs: Any,
    transform: Affine,
    table: MappingTable = PROJECT,
    config: Any = None,
    tags: Mapping[str, Any] | None = None,
) -> Path:
    """Write a class map as a tiled, compressed, colour-tabled GeoTIFF.

    Args:
        path: output file (``.tif``); its folder is created if needed.
        classes: uint8 (H, W) class map in the codes of ``table``.
        crs: anything :class:`rasterio.crs.CRS` accepts (CRS, ``"EPSG:32631"``, WKT), or None
            for an ungeoreferenced map (synthetic scenes).
        transform: affine transform of the grid (e.g. ``scene.transform``).
        table: the codes' :class:`~dfmask_lib.classes.MappingTable`; ``PROJECT`` (0-5)
            or e.g. ``FMASK`` (0-4 + 255 fill).
        config: the frozen config dataclass that produced the map (stored as JSON in
            ``DFMASK_CONFIG``), or None.
        tags: extra dataset tags (values are written with ``str``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        LabelError: wrong shape/dtype, or codes outside ``table`` (nothing is written).
        ConfigError: ``config`` is not a dataclass instance, or ``crs``/``transform`` is invalid.
    """
    classes = _check_classes(classes, table)
    if not isinstance(transform, Affine):
        raise ConfigError(f"transform must be an affine.Affine, got {type(transform).__name__}")
    try:
        crs = None if crs is None else CRS.from_user_input(crs)
    except (CRSError, ValueError) as exc:
        raise ConfigError(f"invalid crs {crs!r}: {exc}") from None
    all_tags = {
        "DFMASK_VERSION": get_version(),
        "CLASS_TABLE": table.name,
        **class_tags(table),
    }
    if config is not None:
        all_tags["DFMASK_CONFIG"] = config_to_json(config)
    all_tags.update({str(k): str(v) for k, v in (tags or {}).items()})

    height, width = classes.shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "nodata": nodata_code(table),
        "tiled": True,
        "blockxsize": BLOCK_SIZE,
        "blockysize": BLOCK_SIZE,
        "compress": "deflate",
        "predictor": 2,
        "interleave": "band",
    }
    # No data is transparent (alpha 0), as GDAL renders a nodata entry anyway.
    colours = {src: (*CLASS_COLOURS[dst], 0 if dst == NODATA else 255)
               for src, dst in table.mapping.items()}
    description = "classes: " + ", ".join(
        f"{src} {name}" for src, name in
        ((int(k[len("CLASS_"):]), v) for k, v in class_tags(table).items())
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(classes, 1)
            dst.write_colormap(1, colours)
            dst.set_band_description(1, description)
            dst.update_tags(**all_tags)
    log.info("wrote %s (%d x %d px, %s codes)", path, height, width, table.name)
    return path
