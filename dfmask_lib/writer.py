"""Write class maps (and class probabilities) as GeoTIFFs that explain themselves.

:func:`write_classmap`: a single-band uint8 GeoTIFF, tiled (256 px) and
deflate-compressed, with

* ``nodata`` = the table's code that maps to project class 0 (0 for
  :data:`~dfmask_lib.classes.PROJECT`, 255 for :data:`~dfmask_lib.classes.FMASK`),
* an embedded colour table: each code gets the authors' colour of the project
  class it maps to (Nambiar et al. 2022, see :mod:`dfmask_lib.classes`); the
  no-data code is black and transparent,
* class names in the band description and in ``CLASS_<code>`` tags,
* the producing configuration (JSON) in ``DFMASK_CONFIG`` and the code's version in
  ``DFMASK_VERSION`` (package version + git commit, e.g. ``0.1.0+g7b7f24b``, see
  :func:`dfmask_lib.version.get_version`).

With ``overviews=True`` the map is a Cloud-Optimized GeoTIFF (GDAL's COG driver):
the same tiles, compression, colour table and tags, plus internal overviews (halving
until a level fits in one 256 px block) made with **mode** resampling, the class held
by most of the pixels below an overview pixel (no data excluded; nearest would pick one
pixel of four, averaging would invent classes), laid out so that a viewer or
``/vsicurl/`` reads only the level and tiles it shows.

:func:`probability_writer`: the class probabilities of a prediction, written block by
block (memory does not grow with the tile): five uint8 bands, band ``k`` = class ``k``
(1 clear ... 5 water), in **percent** (0-100, the rounded probability x 100; GDAL's
band scale 0.01 says so), 255 = no data; tiled, deflate, internal overviews (average).
Percent resolution is ample for thresholds such as the pseudo-labels' 0.4 (= 40) and a
tile costs 5 bytes per pixel instead of the 24 of float32.

Codes outside the table are refused before anything is written, and a file appears
under its final name only once complete (:func:`~dfmask_lib.atomic.atomic_path`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError
from rasterio.windows import Window

from .atomic import atomic_path
from .classes import CLASS_COLOURS, CLASS_NAMES, NODATA, PROJECT, MappingTable
from .config import config_to_json
from .errors import ConfigError, LabelError
from .version import get_version

__all__ = ["BLOCK_SIZE", "OVERVIEW_RESAMPLING", "PROBABILITY_NODATA", "write_classmap",
           "class_tags", "nodata_code", "probability_writer", "ProbabilityWriter"]

log = logging.getLogger(__name__)

#: Tile edge in pixels: GDAL's usual choice; a 5490 px tile is 22 x 22 blocks.
BLOCK_SIZE = 256
#: Overview resampling of class maps: the majority class (GDAL "mode"; no data excluded).
OVERVIEW_RESAMPLING = "mode"
#: No-data value of the probability GeoTIFF (valid values are percent, 0-100).
PROBABILITY_NODATA = 255


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
    overviews: bool = False,
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
        overviews: write a Cloud-Optimized GeoTIFF with internal overviews (mode
            resampling, see the module docstring); default a plain tiled GeoTIFF.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        LabelError: wrong shape/dtype, or codes outside ``table`` (nothing is written).
        ConfigError: ``config`` is not a dataclass instance, or ``crs``/``transform`` is invalid.
    """
    classes = _check_classes(classes, table)
    crs = _check_georeference(crs, transform)
    all_tags = {
        "DFMASK_VERSION": get_version(),
        "CLASS_TABLE": table.name,
        **class_tags(table),
    }
    all_tags.update(_config_tags(config, tags))

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
    if overviews:
        # GDAL's COG driver: same tiles and compression, overviews it builds itself
        # (down to one block), and the COG layout (overviews before the full resolution).
        for key in ("tiled", "blockxsize", "blockysize", "interleave"):
            del profile[key]
        profile.update(driver="COG", blocksize=BLOCK_SIZE, predictor="YES",
                       overviews="AUTO", overview_resampling=OVERVIEW_RESAMPLING)
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
    log.info("wrote %s (%d x %d px, %s codes%s)", path, height, width, table.name,
             ", COG with overviews" if overviews else "")
    return path


def _check_georeference(crs: Any, transform: Any) -> CRS | None:
    if not isinstance(transform, Affine):
        raise ConfigError(f"transform must be an affine.Affine, got {type(transform).__name__}")
    try:
        return None if crs is None else CRS.from_user_input(crs)
    except (CRSError, ValueError) as exc:
        raise ConfigError(f"invalid crs {crs!r}: {exc}") from None


def _config_tags(config: Any, tags: Mapping[str, Any] | None) -> dict[str, str]:
    out = {} if config is None else {"DFMASK_CONFIG": config_to_json(config)}
    out.update({str(k): str(v) for k, v in (tags or {}).items()})
    return out


class ProbabilityWriter:
    """Writes the blocks of a probability map into an open dataset (:func:`probability_writer`)."""

    def __init__(self, dataset: Any, shape: tuple[int, int]) -> None:
        self._ds = dataset
        self.shape = shape
        self.pixels_written = 0

    def write(self, row0: int, probabilities: np.ndarray, valid: np.ndarray, *,
              col0: int = 0) -> None:
        """Write the block of rows ``row0 .. row0 + h``, columns ``col0 .. col0 + w``.

        Args:
            row0, col0: the block's first row and column on the map's grid.
            probabilities: float32 (6, h, w) class probabilities 0-1 of classes 0-5 (the
                network's softmax; class 0 is not written: its share is 1 - the rest).
            valid: bool (h, w); False pixels are written as no data (255).
        """
        h, w = valid.shape
        if probabilities.shape != (6, h, w) or not (0 <= row0 <= self.shape[0] - h
                                                    and 0 <= col0 <= self.shape[1] - w):
            raise ConfigError(
                f"probability block must be (6, h, w) float inside the {self.shape} grid, got "
                f"{probabilities.shape} at row {row0}, column {col0}")
        percent = np.rint(np.clip(probabilities[1:], 0.0, 1.0) * 100).astype(np.uint8)
        percent[:, ~valid] = PROBABILITY_NODATA
        self._ds.write(percent, window=Window(col0, row0, w, h))
        self.pixels_written += h * w


@contextlib.contextmanager
def probability_writer(
    path: str | os.PathLike,
    shape: tuple[int, int],
    *,
    crs: Any,
    transform: Affine,
    config: Any = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[ProbabilityWriter]:
    """Open a probability GeoTIFF for writing block by block (see the module docstring).

    Yields a :class:`ProbabilityWriter`; the file appears under ``path`` only when the block
    ends without an error and every row has been written, with internal overviews (average).

    Args:
        path: output ``.tif``. shape: (H, W) of the grid. crs, transform, config, tags: as
            for :func:`write_classmap`.
    """
    crs = _check_georeference(crs, transform)
    height, width = (int(v) for v in shape)
    if height < 1 or width < 1:
        raise ConfigError(f"probability map needs a grid of at least 1 x 1 px, got {shape}")
    profile = {"driver": "GTiff", "height": height, "width": width, "count": 5,
               "dtype": "uint8", "crs": crs, "transform": transform,
               "nodata": PROBABILITY_NODATA, "tiled": True, "blockxsize": BLOCK_SIZE,
               "blockysize": BLOCK_SIZE, "compress": "deflate", "predictor": 2,
               "interleave": "band"}
    all_tags = {"DFMASK_VERSION": get_version(), "UNITS": "percent",
                **{f"BAND_{c}": f"probability of class {c} {CLASS_NAMES[c]} (percent)"
                   for c in range(1, 6)}}
    all_tags.update(_config_tags(config, tags))
    path = Path(path)
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            writer = ProbabilityWriter(dst, (height, width))
            yield writer
            if writer.pixels_written != height * width:
                raise ConfigError(f"{path}: {writer.pixels_written} of {height * width} "
                                  "pixels written; write every block before closing")
            for c in range(1, 6):
                dst.set_band_description(c, f"P({CLASS_NAMES[c]}) percent")
            dst.scales = (0.01,) * 5
            dst.update_tags(**all_tags)
            factors = [2 ** k for k in range(1, 16) if max(height, width) / 2 ** k >= BLOCK_SIZE / 2]
            if factors:
                dst.build_overviews(factors, Resampling.average)
    log.info("wrote %s (%d x %d px, class probabilities in percent)", path, height, width)
