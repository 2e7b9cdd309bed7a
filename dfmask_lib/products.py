"""Find Sentinel-2 products and their label files, and cut them into a patch file.

The I/O edge of the data step: :func:`find_products` lists the products of a folder,
:func:`make_data` reads each one (:func:`dfmask_lib.reader.read_product`), finds and checks its
label file and writes the patches with :func:`dfmask_lib.patches.write_patches`. Whether an
existing patch file is up to date is decided by :mod:`dfmask_lib.cache`, like every cached
artefact of the pipeline.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .cache import Recipe, ensure
from .errors import MissingDataError
from .patches import LABEL_KIND, LABEL_TABLE, PatchConfig, input_stack, write_patches

__all__ = ["make_data", "find_products", "short_name"]


def make_data(
    src_dir: str | os.PathLike,
    out: str | os.PathLike,
    config: PatchConfig = PatchConfig(),
    labels_dir: str | os.PathLike | None = None,
    *,
    reader_options: Mapping[str, Any] | None = None,
) -> Path:
    """Build a patch file from every product in ``src_dir`` (the I/O edge of this module).

    Each product is read with :func:`dfmask_lib.reader.read_product` (20 m grid; with
    ``reader_options``, e.g. ``band_names``, ``scale``, ``sun_zenith``, applied to every
    product); its label file (``*FMASK.tif`` in train mode, ``*LABELS.tif`` in test mode) is
    found with :func:`dfmask_lib.reader.find_label_file`, beside a GeoTIFF stack as
    ``<stem>*FMASK.tif``, or in ``labels_dir`` when given, recoded to project classes and
    checked to lie on the product's grid. Labels are set to 0 where the scene has no data.
    Rerunning with the same config, reader options, code version and unchanged inputs
    (sizes, mtimes) returns at once (:mod:`dfmask_lib.cache`, sidecar ``<out>.recipe.json``).

    Raises:
        MissingDataError: no products or a missing label file. DataFileError / LabelError: bad
            labels, or labels off the product's grid.
    """
    from . import reader  # the reader pulls in rasterio; import it only at the I/O edge
    from .reader.labels import check_label_grid
    from .reader.resample import Grid

    src_dir, out = Path(src_dir), Path(out)
    options = dict(reader_options or {})
    products = find_products(src_dir)
    kind = LABEL_KIND[config.mode]
    label_files = [_find_label(reader, p, kind, labels_dir) for p in products]
    # The one staleness rule (dfmask_lib.cache): products, label files, config, reader
    # options and code version; a Fmask label or prediction written into a product by
    # dfmask (it has a recipe) does not count as a change of the product.
    recipe = Recipe("patches", inputs=(*products, *label_files), config=config,
                    extra={"reader_options": options})

    def scenes() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for product, label_file in zip(products, label_files):
            scene = reader.read_product(product, progress=False, **options)
            label, profile = reader.read_labels(label_file, LABEL_TABLE[kind])
            check_label_grid(profile, Grid(scene.transform, scene.shape, scene.crs),
                             label_file.name, product.name)
            label = np.where(scene.valid, label, 0).astype(np.uint8)
            yield product.name, input_stack(scene, config.input_set), label

    def build(path: Path) -> None:
        write_patches(path, scenes(), config, recipe.describe(path)["inputs"],
                      total=len(products))

    return ensure(out, recipe, build)[0]


#: File names that are class maps, not products, when a folder also holds GeoTIFF stacks.
_CLASS_MAP_SUFFIXES = ("FMASK.TIF", "LABELS.TIF", "FMASK.TIFF", "LABELS.TIFF", "_DFMASK_CLASSES.TIF",
                       "_DFMASK_PROB.TIF")


#: A Sentinel-2 product name: mission, level, sensing date, baseline, orbit, tile.
_S2_NAME = re.compile(r"^(S2[A-D])_MSI(L1C|L2A)_(\d{8})T\d{6}_N(\d{4})_R\d{3}_T(\w{5})_")


def short_name(name: str | os.PathLike, width: int = 28) -> str:
    """A product's name as short as a table column or a figure title needs.

    ``S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE`` becomes
    ``S2A 2024-01-20 T31TCJ``; any other name loses a ``.SAFE``/``.zip`` suffix and is cut
    to ``width`` characters with an ellipsis.
    """
    base = Path(name).name.removesuffix(".zip").removesuffix(".SAFE")
    match = _S2_NAME.match(base + "_")
    if match:
        mission, _, day, _, tile = match.groups()
        return f"{mission} {day[:4]}-{day[4:6]}-{day[6:]} T{tile}"
    return base if len(base) <= width else base[:width - 1] + "\u2026"


def _is_stack(p: Path) -> bool:
    name = p.name.upper()
    return (p.is_file() and p.suffix.lower() in (".tif", ".tiff")
            and not name.endswith(_CLASS_MAP_SUFFIXES) and "_SCL" not in name)


def find_products(src_dir: str | os.PathLike) -> list[Path]:
    """The products in a folder, sorted: sub-folders (``.SAFE`` or band folders), ``.zip``
    files and GeoTIFF stacks (``.tif`` files other than ``*FMASK.tif``/``*LABELS.tif``/SCL).

    Raises:
        MissingDataError: the folder does not exist or holds no product.
    """
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise MissingDataError(f"{src_dir} is not a folder; give the folder holding the .SAFE products")
    products = sorted(p for p in src_dir.iterdir() if not p.name.startswith(".")
                      and (p.is_dir() or p.suffix.lower() == ".zip" or _is_stack(p)))
    if not products:
        raise MissingDataError(f"no Sentinel-2 products (.SAFE folders, .zip or GeoTIFF stacks) "
                               f"in {src_dir}")
    return products


def _find_label(reader: Any, product: Path, kind: str, labels_dir: str | os.PathLike | None) -> Path:
    """The label file of ``product``: in ``labels_dir`` (named after the product) or beside its bands."""
    stem = product.name.removesuffix(".zip").removesuffix(".SAFE")
    if product.is_file() and product.suffix.lower() in (".tif", ".tiff"):
        stem = product.stem
    if labels_dir is None and product.is_file():
        # a GeoTIFF stack (or zip): its label beside it, as `dfmask fmask` writes it
        hits = sorted(product.parent.glob(f"{stem}*{kind}.tif"))
        found, where = (hits[0] if hits else None), f"{product.parent} ({stem}*{kind}.tif)"
    elif labels_dir is None:
        found = reader.find_label_file(product, kind=kind)
        where = f"{product.name} (GRANULE/*/IMG_DATA/*{kind}.tif)"
    else:
        hits = sorted(Path(labels_dir).glob(f"{stem}*{kind}.tif"))
        found, where = (hits[0] if hits else None), f"{labels_dir} ({stem}*{kind}.tif)"
    if found is None:
        hint = "run `dfmask fmask` on it first" if kind == "FMASK" else "add its human labels"
        raise MissingDataError(f"no {kind} label file in {where}; {hint} or pass --labels-dir")
    return Path(found)
