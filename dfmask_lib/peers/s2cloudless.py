"""s2cloudless (Sentinel Hub): a per-pixel LightGBM cloud detector, optional peer.

Please cite: Zupanc A. (2017), "Improving cloud detection with machine learning", Sentinel Hub
blog; Skakun S. et al. (2022), "Cloud mask intercomparison eXercise (CMIX)", Remote Sens.
Environ. 274:112990, doi:10.1016/j.rse.2022.112990. The model ships inside the ``s2cloudless``
wheel, so it runs offline (``pip install "dfmask[peers]"``, which pins 1.7.3).

Contract: the scene must hold the ten bands the model reads, B01, B02, B04, B05, B08, B8A, B09,
B10, B11, B12, as TOA reflectance on one grid (the scene's own, i.e. the comparison grid; the
classifier is pixel-wise, its averaging and dilation disks are in pixels). Output: 2 cloud,
1 (:attr:`~dfmask_lib.peers.base.Peer.background`) "not cloud", 0 no data. With the 1.7.3
defaults (threshold 0.4, ``average_over=1``, ``dilation_size=1``) the adapter reproduces the
Betsiboka reference mask that ships with s2cloudless exactly (``tests/peers/test_learned.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..classes import CLEAR, CLOUD, NODATA
from ..scene import Scene
from ._optional import PEERS_EXTRA, missing_modules
from .base import Peer

__all__ = ["S2Cloudless", "S2CLOUDLESS_BANDS"]

#: The bands s2cloudless's model reads, in its order (``s2cloudless.utils.MODEL_BANDS``).
S2CLOUDLESS_BANDS: tuple[str, ...] = ("B01", "B02", "B04", "B05", "B08", "B8A", "B09", "B10",
                                      "B11", "B12")


@dataclass(frozen=True)
class S2Cloudless(Peer):
    """s2cloudless 1.7.x cloud mask (claims cloud only; everything else valid is background 1).

    Attributes:
        threshold: cloud probability above which a pixel is cloud (s2cloudless default 0.4).
        average_over: disk radius (px) of the probability averaging; 1 = the 1.7.3 default
            (the older 4 changes 3.6 % of the Betsiboka pixels).
        dilation_size: disk radius (px) of the mask dilation; 1 = the 1.7.3 default.
        threads: LightGBM threads; 0 lets LightGBM choose.
    """

    name: ClassVar[str] = "s2cloudless"
    label: ClassVar[str] = "s2cloudless 1.7.3"
    claims: ClassVar[frozenset[int]] = frozenset({CLOUD})
    mapping_note: ClassVar[str] = ("cloud probability > threshold (0.4), dilated -> cloud; "
                                   "every other valid pixel -> not cloud (scored on cloud only)")
    background: ClassVar[int | None] = CLEAR
    bands: ClassVar[tuple[str, ...]] = S2CLOUDLESS_BANDS
    citation: ClassVar[str] = ("Zupanc 2017 (Sentinel Hub blog); Skakun et al. 2022, "
                               "Remote Sens. Environ. 274:112990")

    threshold: float = 0.4
    average_over: int = 1
    dilation_size: int = 1
    threads: int = 0

    def unavailable(self, scene: Scene | None = None, product=None) -> str | None:
        """None when s2cloudless is importable and ``scene`` has the ten bands."""
        reason = super().unavailable(scene, product)  # missing bands: nothing to install helps
        if reason is None and missing_modules("s2cloudless", "lightgbm"):
            reason = (f"s2cloudless is not installed; {PEERS_EXTRA} "
                      "(or pip install s2cloudless==1.7.3)")
        return reason

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        from s2cloudless import S2PixelCloudDetector

        detector = S2PixelCloudDetector(threshold=self.threshold, all_bands=False,
                                        average_over=self.average_over,
                                        dilation_size=self.dilation_size)
        data = np.moveaxis(scene.bands(self.bands), 0, -1)[np.newaxis]  # (1, H, W, 10)
        kwargs = {"num_threads": self.threads} if self.threads > 0 else {}
        cloud = detector.get_cloud_masks(data, **kwargs)[0].astype(bool)
        out = np.where(cloud, np.uint8(CLOUD), np.uint8(CLEAR))
        out[~scene.valid] = NODATA
        return out
