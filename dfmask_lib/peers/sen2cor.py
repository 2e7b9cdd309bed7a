"""Sen2Cor as a peer: the scene classification (SCL) of a Level-2A product.

Sen2Cor is an ESA binary that does not run here (``docs/PEERS.md``); it is compared from the
SCL it wrote: the 20 m ``*_SCL_20m.jp2`` of an L2A ``.SAFE`` (the resolution the method scores,
``docs/METHOD.md``) or any SCL raster the user gives. Codes are recoded through
:data:`dfmask_lib.classes.SEN2COR_SCL` (:func:`dfmask_lib.reader.labels.read_scl`; SCL 2 "dark
area" and 7 "unclassified" count as clear land, 8-10 as cloud) and brought onto the scene's grid
by :func:`dfmask_lib.peers._classmap.on_scene_grid` (same grid as is; majority of whole k x k
blocks when the SCL is finer; nearest pixel when coarser; anything else refused).

Please cite Main-Knorn et al. 2017, "Sen2Cor for Sentinel-2", Proc. SPIE 10427:1042704.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..classes import CLEAR, CLOUD, SEN2COR_SCL, SHADOW, SNOW, WATER, MappingTable
from ..errors import LabelError
from ..reader.labels import read_scl
from ..scene import Scene
from ._classmap import locate_file, on_scene_grid
from .base import Peer, PeerUnavailable

__all__ = ["Sen2Cor", "find_scl", "SCL_PATTERN"]

#: The 20 m SCL inside an L2A SAFE: ``GRANULE/<granule>/IMG_DATA/R20m/T..._SCL_20m.jp2``.
SCL_PATTERN = "GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2"


def _l2a_siblings(product: Path) -> list[Path]:
    """L2A SAFEs beside an L1C SAFE from the same datatake: same mission, sensing time,
    relative orbit and tile (``S2A_MSIL1C_<time>_N..._R..._T..._<gen>.SAFE`` ->
    ``S2A_MSIL2A_<time>_*_R..._T..._*.SAFE``)."""
    parts = product.name.split("_")
    if len(parts) != 7 or parts[1] != "MSIL1C":
        return []
    mission, _, sensing, _, orbit, tile, _ = parts
    return sorted(product.parent.glob(f"{mission}_MSIL2A_{sensing}_*_{orbit}_{tile}_*.SAFE"))


def find_scl(product: str | os.PathLike) -> Path | None:
    """The 20 m SCL of ``product``, or None.

    ``product`` may be an L2A ``.SAFE`` (its :data:`SCL_PATTERN`), or an L1C ``.SAFE`` with its
    L2A beside it in the same folder (same datatake, tile and orbit: :func:`_l2a_siblings`).

    Raises:
        LabelError: several SCL files (give the one to use as ``Sen2Cor(path=...)``).
    """
    root = Path(product)
    if not root.is_dir():
        return None
    found = sorted(root.glob(SCL_PATTERN))
    if not found:
        found = [p for l2a in _l2a_siblings(root) for p in sorted(l2a.glob(SCL_PATTERN))]
    if len(found) > 1:
        raise LabelError(f"{len(found)} SCL files belong to {root.name} ({found[0].name} ...); "
                         "choose one with Sen2Cor(path=...)")
    return found[0] if found else None


@dataclass(frozen=True)
class Sen2Cor(Peer):
    """Sen2Cor's SCL (from an L2A product or a given file) in project codes on the scene's grid.

    Attributes:
        path: an SCL raster (``*_SCL_20m.jp2``, a sen2r ``*_SCL_*.tif``, ...); None = find the
            20 m SCL of the product (:func:`find_scl`).
    """

    name: ClassVar[str] = "sen2cor"
    label: ClassVar[str] = "Sen2Cor (SCL)"
    claims: ClassVar[frozenset[int]] = frozenset({CLEAR, CLOUD, SHADOW, SNOW, WATER})
    table: ClassVar[MappingTable | None] = SEN2COR_SCL
    needs_product: ClassVar[bool] = True
    citation: ClassVar[str] = "Main-Knorn et al. 2017, Proc. SPIE 10427:1042704"

    path: str | os.PathLike | None = None

    def _file(self, product: str | os.PathLike | None) -> tuple[Path | None, str | None]:
        return locate_file(
            self.path, product, find_scl, label=self.label, what="SCL file",
            no_product=(f"{self.label} reads the SCL of a Level-2A product: give the product, "
                        "or Sen2Cor(path=...) with an SCL file"),
            not_found=(f"no Sen2Cor SCL (*_SCL_20m.jp2) in {Path(product).name if product else ''}"
                       " or an L2A beside it (a Level-1C product has none); give "
                       "Sen2Cor(path=...)"))

    def unavailable(self, scene: Scene | None = None,
                    product: str | os.PathLike | None = None) -> str | None:
        """Why no SCL can be read (none given, none in or beside the product), or None."""
        return self._file(product)[1]

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        path, reason = self._file(product)
        if path is None:
            raise PeerUnavailable(reason)
        # any pixel size: on_scene_grid maps it onto the scene's grid without interpolating
        classes, profile = read_scl(path, resolution=None)
        return on_scene_grid(classes, profile, scene, path.name)
