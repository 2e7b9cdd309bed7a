"""Put a peer's class-map file (official Fmask output, Sen2Cor SCL) onto a scene's grid.

Shared by the file-reading adapters (:mod:`.fmask`, :mod:`.sen2cor`). The map is recoded to
project codes *before* it is regridded, and is never interpolated:

* same grid as the scene (CRS, transform, shape; :meth:`Grid.matches`): used as it is;
* finer by a whole factor k (a 10 m map on the 20 m grid, a 20 m SCL on a 60 m chip) and
  aligned to the scene's pixel edges: the **majority** of the k x k project codes under each
  scene pixel, ties going to the class of higher Fmask precedence (cloud > shadow > snow >
  water > clear > no data, the order in which Fmask 4 lays its masks over each other);
* coarser (a 30 m CFmask map, a 60 m SCL on the 20 m grid): **nearest** source pixel, i.e. the
  one that holds the scene pixel's centre.

Anything else (another CRS, a finer map not aligned or at a fractional factor, a map that does
not cover the scene) is refused with a :class:`~dfmask_lib.errors.LabelError` that says how to
reproject it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..classes import CLEAR, CLOUD, NODATA, SHADOW, SNOW, WATER
from ..errors import LabelError
from ..reader.labels import check_label_grid
from ..reader.resample import Grid
from ..scene import Scene

__all__ = ["scene_grid", "on_scene_grid", "PRECEDENCE"]

#: Tie-break order of the majority rule, lowest first (Fmask 4's output precedence, Qiu, Zhu &
#: He 2019: water < snow < shadow < cloud; no data loses to any observed class).
PRECEDENCE: tuple[int, ...] = (NODATA, CLEAR, WATER, SNOW, SHADOW, CLOUD)
#: Relative tolerance on "whole factor" and "aligned", in source pixels.
_TOL = 1e-6


def scene_grid(scene: Scene) -> Grid:
    """The scene's grid as a :class:`~dfmask_lib.reader.resample.Grid`."""
    return Grid(scene.transform, scene.shape, scene.crs)


def _majority(codes: np.ndarray, k: int) -> np.ndarray:
    """Majority of k x k blocks of project codes (H*k, W*k) -> (H, W), ties by PRECEDENCE."""
    h, w = codes.shape[0] // k, codes.shape[1] // k
    blocks = codes.reshape(h, k, w, k)
    counts = np.stack([(blocks == c).sum(axis=(1, 3)) for c in PRECEDENCE]).astype(np.int64)
    # more votes win; among equal votes the later (higher-precedence) class wins
    score = counts * len(PRECEDENCE) + np.arange(len(PRECEDENCE))[:, None, None]
    return np.asarray(PRECEDENCE, dtype=np.uint8)[np.argmax(score, axis=0)]


def on_scene_grid(codes: np.ndarray, profile: dict[str, Any], scene: Scene,
                  name: str) -> np.ndarray:
    """A class map in project codes brought onto ``scene``'s grid (rules in the module docstring).

    Args:
        codes: uint8 (h, w) project codes as read from the file (already recoded).
        profile: the file's rasterio profile (``transform``, ``height``, ``width``, ``crs``).
        scene: the scene the peer is scored on.
        name: the file's name, for messages.

    Returns:
        uint8 (H, W) project codes on the scene's grid.

    Raises:
        LabelError: another CRS, a grid that cannot be mapped without interpolation, or a map
            that does not cover the scene.
    """
    target = scene_grid(scene)
    source = Grid(profile["transform"], (int(profile["height"]), int(profile["width"])),
                  profile.get("crs"))
    if source.matches(target):
        return np.asarray(codes, dtype=np.uint8)
    product = scene.metadata.source or "the scene"
    if source.shape == target.shape and source.res == target.res:
        check_label_grid(profile, target, name, product)  # shifted or other CRS: its message
    if (source.crs is None) != (target.crs is None) or (
            source.crs is not None and source.crs != target.crs):
        raise LabelError(f"{name} is in {source.describe()}, the scene in {target.describe()}; "
                         "reproject it to the scene's CRS with nearest-neighbour resampling "
                         "(gdalwarp -r near -t_srs ...)")
    st, tt = source.transform, target.transform
    if st.b or st.d or tt.b or tt.d or st.e > 0 or tt.e > 0:
        raise LabelError(f"{name} or the scene is not a north-up grid; warp it north-up first")
    k = target.res / source.res
    if k > 1 - _TOL:  # same pixel size (a window of a larger map) or finer
        factor = round(k)
        col0 = (tt.c - st.c) / source.res
        row0 = (st.f - tt.f) / source.res
        if (abs(k - factor) > _TOL * factor or abs(col0 - round(col0)) > 1e-3
                or abs(row0 - round(row0)) > 1e-3):
            raise LabelError(f"{name} ({source.res:g} m) is not aligned to the scene's "
                             f"{target.res:g} m pixels at a whole factor; reproject it onto "
                             "the scene's grid (gdalwarp -r mode -te/-tr of the scene)")
        r0, c0 = int(round(row0)), int(round(col0))
        h, w = target.shape[0] * factor, target.shape[1] * factor
        if r0 < 0 or c0 < 0 or r0 + h > source.shape[0] or c0 + w > source.shape[1]:
            raise LabelError(f"{name} ({source.describe()}) does not cover the scene "
                             f"({target.describe()}); give the class map of this product")
        return _majority(np.asarray(codes)[r0:r0 + h, c0:c0 + w], factor)
    # coarser: the source pixel under each scene pixel's centre
    rows = (st.f - (tt.f + (np.arange(target.shape[0]) + 0.5) * tt.e)) / source.res
    cols = ((tt.c + (np.arange(target.shape[1]) + 0.5) * tt.a) - st.c) / source.res
    r = np.floor(rows).astype(np.int64)
    c = np.floor(cols).astype(np.int64)
    if r[0] < 0 or c[0] < 0 or r[-1] >= source.shape[0] or c[-1] >= source.shape[1]:
        raise LabelError(f"{name} ({source.describe()}) does not cover the scene "
                         f"({target.describe()}); give the class map of this product")
    return np.asarray(codes, dtype=np.uint8)[np.ix_(r, c)]


def locate_file(given: str | os.PathLike | None, product: str | os.PathLike | None,
                find: Callable[[Any], Path | None], *, label: str, what: str,
                no_product: str, not_found: str) -> tuple[Path | None, str | None]:
    """The class-map file of a file-reading peer: ``given`` when set (it must exist), else
    ``find(product)``; returns (path, None) or (None, the one-line reason it cannot run).

    ``what`` names the file kind in the "does not exist" reason; ``no_product`` is the reason
    without a product, ``not_found`` when ``find`` finds nothing (``find`` may raise
    :class:`LabelError` for several candidates: its message becomes the reason).
    """
    if given is not None:
        path = Path(given)
        if not path.is_file():
            return None, f"{label}: {path} does not exist; give an existing {what}"
        return path, None
    if product is None:
        return None, no_product
    try:
        found = find(product)
    except LabelError as exc:
        return None, str(exc)
    return (found, None) if found is not None else (None, not_found)

