"""Fmask as a peer: the project's own Fmask 4 (:class:`OwnFmask`) and an official output file
(:class:`FmaskFile`).

Both give Fmask codes (0 land, 1 water, 2 shadow, 3 snow, 4 cloud, 255 fill), recoded to project
codes through :data:`dfmask_lib.classes.FMASK`; both claim all five classes.

Please cite Zhu & Woodcock 2012 (RSE 118:83-94), Zhu et al. 2015 (RSE 159:269-277) and
Qiu, Zhu & He 2019 (RSE 231:111205, Fmask 4.0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..classes import CLEAR, CLOUD, FMASK, SHADOW, SNOW, WATER, MappingTable, recode
from ..errors import LabelError
from ..fmask import REQUIRED_BANDS, FmaskConfig
from ..fmask.strips import fmask_scene
from ..reader.labels import read_labels
from ..scene import Scene
from ._classmap import locate_file, on_scene_grid
from .base import Peer, PeerUnavailable

__all__ = ["OwnFmask", "OwnFmaskB08", "FmaskFile", "find_fmask_file", "FMASK_FILE_PATTERNS"]

_CITATION = ("Zhu & Woodcock 2012, RSE 118:83-94; Zhu et al. 2015, RSE 159:269-277; "
             "Qiu, Zhu & He 2019, RSE 231:111205")
#: Names (upper-cased, fnmatch) that mark an Fmask output GeoTIFF: dfmask's own and GERSL's
#: ``*_FMASK.tif`` / ``*FMASK*.tif``, MATLAB Fmask 4's ``<granule>_Fmask4.tif`` (in the
#: granule's ``FMASK_DATA``) and Fmask 5's ``*_Fmask5.tif``; CFmask's ``*_CFMASK.tif``.
FMASK_FILE_PATTERNS: tuple[str, ...] = ("*FMASK*.TIF", "*FMASK*.TIFF")
#: ... except dfmask's own predictions (``*_DFMASK_CLASSES.tif``, project codes).
_NOT_FMASK = "*DFMASK*"


@dataclass(frozen=True)
class OwnFmask(Peer):
    """The project's own Fmask 4 for Sentinel-2 (:func:`dfmask_lib.fmask.run_fmask`) as a peer.

    Runs on any scene :func:`run_fmask` accepts: bands B02, B03, B04, B8A, B11, B12 (B10, B07
    and B08 are used when present), daytime sun angles; view angles and a CRS are optional
    (nadir view, a bare array grid), so a chip built with
    :func:`dfmask_lib.fmask.product.array_scene` works.

    Attributes:
        config: Fmask thresholds (default: Fmask 4 for Sentinel-2).
    """

    name: ClassVar[str] = "fmask"
    label: ClassVar[str] = "Fmask 4 (dfmask)"
    claims: ClassVar[frozenset[int]] = frozenset({CLEAR, CLOUD, SHADOW, SNOW, WATER})
    table: ClassVar[MappingTable | None] = FMASK
    bands: ClassVar[tuple[str, ...]] = REQUIRED_BANDS
    citation: ClassVar[str] = _CITATION

    config: FmaskConfig = field(default_factory=FmaskConfig)

    def unavailable(self, scene: Scene | None = None,
                    product: str | os.PathLike | None = None) -> str | None:
        """As :meth:`Peer.unavailable`, plus the sun and grid that :func:`run_fmask` needs."""
        reason = super().unavailable(scene, product)
        if reason is not None or scene is None:
            return reason
        if not (np.isfinite(scene.sun_zenith) and 0 <= scene.sun_zenith < 90
                and np.isfinite(scene.sun_azimuth)):
            return (f"{self.label} needs daytime sun angles, the scene has zenith "
                    f"{scene.sun_zenith} / azimuth {scene.sun_azimuth} deg; set them "
                    "(sun_zenith=/sun_azimuth= when reading the product)")
        if scene.crs is not None and getattr(scene.crs, "is_geographic", False):
            return f"{self.label} needs a projected grid in metres; reproject the product to UTM"
        return None

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        # In strips (run_fmask's labels, bit for bit): a full tile costs ~0.5 GB beyond the
        # scene instead of ~2.5 GB of whole-tile layers.
        result = fmask_scene(scene, self.config, progress=False)
        return recode(result.fmask, FMASK)


@dataclass(frozen=True)
class OwnFmaskB08(OwnFmask):
    """The project's Fmask 4 on a scene without B8A, with the 10 m NIR band B08 in its place.

    Fmask 4 for Sentinel-2 reads the narrow NIR band B8A (865 nm); six-band chips such as the
    ukis-csmask one carry the broad NIR band B08 (842 nm) instead. Over most surfaces the two
    differ by a few per cent (both lie on the NIR plateau of vegetation), so B08 standing in
    for B8A is the closest Fmask-style threshold set such a chip allows -- an approximation,
    named as such in its label. On a scene that has B8A, use :class:`OwnFmask`.
    """

    name: ClassVar[str] = "fmask-b08"
    label: ClassVar[str] = "Fmask 4 (dfmask), B08 as B8A"
    bands: ClassVar[tuple[str, ...]] = tuple("B08" if b == "B8A" else b for b in REQUIRED_BANDS)

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        import dataclasses

        if "B8A" not in scene.band_names:
            scene = dataclasses.replace(
                scene, reflectance=np.concatenate([scene.reflectance, scene.band("B08")[None]]),
                band_names=(*scene.band_names, "B8A"))
        return super()._predict(scene, product)


def find_fmask_file(product: str | os.PathLike) -> Path | None:
    """The one Fmask output GeoTIFF that belongs to ``product``, or None.

    Looked for (names matched case-insensitively against :data:`FMASK_FILE_PATTERNS`):

    * ``product`` is a folder (a ``.SAFE`` or a band folder): anywhere below it, e.g.
      ``GRANULE/*/FMASK_DATA/*_Fmask4.tif`` (MATLAB Fmask 4);
    * ``product`` is a file (a zip, a GeoTIFF stack): beside it, named after it
      (``<name>*FMASK*.tif``).

    Files dfmask wrote itself (``dfmask fmask``'s ``*_FMASK.tif``, which carry a
    :mod:`dfmask_lib.cache` record) are not official outputs and are never taken: the
    project's own Fmask is the ``fmask`` peer.

    Raises:
        LabelError: several candidates (give the one to use as ``FmaskFile(path=...)``).
    """
    from fnmatch import fnmatch

    from ..cache import read_record
    from ..reader import product_stem

    root = Path(product)
    if root.is_dir():
        files = [p for p in root.rglob("*") if p.is_file()]
    elif root.exists():
        stem = product_stem(root)
        files = [p for p in root.parent.iterdir() if p.is_file() and p.name.startswith(stem)
                 and p != root]
    else:
        return None
    found = sorted(p for p in files if not fnmatch(p.name.upper(), _NOT_FMASK)
                   and any(fnmatch(p.name.upper(), pat) for pat in FMASK_FILE_PATTERNS)
                   and read_record(p) is None)
    if len(found) > 1:
        shown = ", ".join(str(p) for p in found[:3]) + (" ..." if len(found) > 3 else "")
        raise LabelError(f"{len(found)} Fmask files belong to {root.name} ({shown}); choose one "
                         "with FmaskFile(path=...)")
    return found[0] if found else None


@dataclass(frozen=True)
class FmaskFile(Peer):
    """An official Fmask 4 / Fmask 5 (GERSL, MATLAB) or CFmask output GeoTIFF as a peer.

    The file (single band, Fmask codes 0-4 and 255 fill) is ``path`` when given, else the one
    :func:`find_fmask_file` finds beside ``product``. It is recoded with
    :data:`~dfmask_lib.classes.FMASK` and put on the scene's grid by
    :func:`dfmask_lib.peers._classmap.on_scene_grid`: used as is on the same grid; a finer map
    (10 m) by the majority of the k x k pixels under each scene pixel (ties to the higher Fmask
    precedence, cloud first); a coarser one (30 m CFmask) by the nearest pixel. Other CRSs and
    unaligned grids are refused.

    Attributes:
        path: the Fmask GeoTIFF; None = find it beside the product.
    """

    name: ClassVar[str] = "fmask-file"
    label: ClassVar[str] = "Fmask (official output file)"
    claims: ClassVar[frozenset[int]] = frozenset({CLEAR, CLOUD, SHADOW, SNOW, WATER})
    table: ClassVar[MappingTable | None] = FMASK
    needs_product: ClassVar[bool] = True
    citation: ClassVar[str] = _CITATION

    path: str | os.PathLike | None = None

    def _file(self, product: str | os.PathLike | None) -> tuple[Path | None, str | None]:
        return locate_file(
            self.path, product, find_fmask_file, label=self.label, what="Fmask GeoTIFF",
            no_product=(f"{self.label} reads an Fmask output file: give the product it lies "
                        "beside, or FmaskFile(path=...)"),
            not_found=("no Fmask output file (*FMASK*.tif, *_Fmask4.tif) in or beside "
                       f"{Path(product).name if product else ''}; run Fmask 4 there or give "
                       "FmaskFile(path=...)"))

    def unavailable(self, scene: Scene | None = None,
                    product: str | os.PathLike | None = None) -> str | None:
        """Why no Fmask file can be read (none given, none beside the product), or None."""
        return self._file(product)[1]

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        path, reason = self._file(product)
        if path is None:
            raise PeerUnavailable(reason)
        codes, profile = read_labels(path, FMASK)
        return on_scene_grid(codes, profile, scene, path.name)  # fill (255) is 0 by now
