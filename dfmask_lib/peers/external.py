"""Learned peers whose weights cannot be downloaded here: available only when the user has them.

Each adapter runs only when its package is installed **and** a local folder of its weights is
named by an environment variable; otherwise :meth:`~dfmask_lib.peers.base.Peer.unavailable`
says, in one line, which package to install and where the weights come from, and the
comparison skips the peer. dfmask pins none of these packages (they bring their own torch and
download their weights at run time); install them yourself.

===================  ============================  ===========================  ==============
adapter              package (import)              weights folder variable      classes
===================  ============================  ===========================  ==============
OmniCloudMask        ``omnicloudmask``             DFMASK_OMNICLOUDMASK_WEIGHTS cloud, shadow
CloudSEN12           ``cloudsen12_models``         DFMASK_CLOUDSEN12_WEIGHTS    cloud, shadow
SEnSeIv2             ``senseiv2``                  DFMASK_SENSEIV2_WEIGHTS      cloud, shadow
KappaMask            none (the ``km_predict`` CLI)  -                           never runs here
===================  ============================  ===========================  ==============

**Untested here**: no weights were obtainable on the machine this was written on, so the calls
follow each project's documented API (README / PyPI page, checked 2026-12) and have never run.
Their outputs map to project codes as documented: thick and thin cloud -> cloud (2), shadow ->
shadow (3), clear -> the background 1 ("neither"); none of them has snow or water classes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..classes import CLEAR, CLOUD, NODATA, SHADOW
from ..errors import DfmaskError
from ..scene import S2_BANDS, Scene
from ._optional import missing_modules
from .base import Peer, PeerUnavailable

__all__ = ["ExternalPeer", "OmniCloudMask", "CloudSEN12", "SEnSeIv2", "KappaMask",
           "FOUR_CLASS_TO_PROJECT"]

#: clear, thick cloud, thin cloud, cloud shadow (OmniCloudMask, CloudSEN12) -> project codes.
FOUR_CLASS_TO_PROJECT = np.array([CLEAR, CLOUD, CLOUD, SHADOW], dtype=np.uint8)


def _four_class(mask: np.ndarray, scene: Scene, who: str) -> np.ndarray:
    """A (H, W) or (1, H, W) class map 0 clear, 1 thick, 2 thin, 3 shadow -> project codes."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.shape != scene.shape or not np.issubdtype(mask.dtype, np.integer):
        raise DfmaskError(f"{who} returned {mask.dtype} {mask.shape}, expected an integer "
                          f"{scene.shape} class map; its API may have changed (untested adapter)")
    if mask.size and (mask.min() < 0 or mask.max() > 3):
        raise DfmaskError(f"{who} returned codes outside 0-3 (clear, thick, thin, shadow); "
                          "its class structure may differ (untested adapter)")
    out = FOUR_CLASS_TO_PROJECT[mask]
    out[~scene.valid] = NODATA
    return out


@dataclass(frozen=True)
class ExternalPeer(Peer):
    """A peer run through a package the user installs, with weights in a local folder.

    Class attributes (besides :class:`Peer`'s): ``module`` (import name), ``install`` (how to
    install it), ``weights_env`` (the variable naming the weights folder), ``weights_url``
    (where the weights come from).

    Attributes:
        weights: the weights folder; None reads ``$weights_env``.
        device: torch device, for the packages that take one (OmniCloudMask).
    """

    module: ClassVar[str] = ""
    install: ClassVar[str] = ""
    weights_env: ClassVar[str] = ""
    weights_url: ClassVar[str] = ""
    claims: ClassVar[frozenset[int]] = frozenset({CLOUD, SHADOW})
    mapping_note: ClassVar[str] = ("clear -> other, thick cloud and thin cloud -> cloud, "
                                   "shadow -> cloud shadow (scored on cloud+shadow)")
    background: ClassVar[int | None] = CLEAR

    weights: str | os.PathLike | None = None
    device: str = "cpu"

    def weights_dir(self) -> Path | None:
        """The weights folder (:attr:`weights` or ``$weights_env``), or None when unset."""
        where = self.weights if self.weights is not None else os.environ.get(self.weights_env)
        return Path(where) if where else None

    def unavailable(self, scene: Scene | None = None, product=None) -> str | None:
        """None when ``scene`` has the bands, the package imports and the weights folder
        holds files."""
        reason = super().unavailable(scene, product)
        if reason is not None:
            return reason
        who = self.label or self.name
        if missing_modules(self.module):
            return (f"{who} is not installed ({self.install}; weights from {self.weights_url}, "
                    f"then set {self.weights_env}); dfmask does not pin it")
        folder = self.weights_dir()
        if folder is None:
            return (f"{who} weights are not here: download them from {self.weights_url} into a "
                    f"folder and set {self.weights_env} to it")
        if not folder.is_dir() or not any(folder.iterdir()):
            return (f"{who} weights folder {folder} is missing or empty; put the files from "
                    f"{self.weights_url} there")
        return None


@dataclass(frozen=True)
class OmniCloudMask(ExternalPeer):
    """OmniCloudMask (Wright et al. 2025): red, green and NIR at 10-50 m; untested here.

    Calls ``omnicloudmask.predict_from_array`` on the (3, H, W) stack B04, B03, B8A (B8A: the
    NIR band native on the 20 m comparison grid) with the weights folder as
    ``destination_model_dir`` and its own no-data masking off (no data is the scene's
    ``valid``, kept apart from clear, the request of its issue #11).
    """

    name: ClassVar[str] = "omnicloudmask"
    label: ClassVar[str] = "OmniCloudMask"
    bands: ClassVar[tuple[str, ...]] = ("B04", "B03", "B8A")
    citation: ClassVar[str] = "Wright et al. 2025, Remote Sens. Environ. 322:114694"
    module: ClassVar[str] = "omnicloudmask"
    install: ClassVar[str] = "pip install omnicloudmask"
    weights_env: ClassVar[str] = "DFMASK_OMNICLOUDMASK_WEIGHTS"
    weights_url: ClassVar[str] = "the links in https://github.com/DPIRD-DMA/OmniCloudMask"

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        from omnicloudmask import predict_from_array

        try:
            mask = predict_from_array(scene.bands(self.bands), inference_device=self.device,
                                      destination_model_dir=str(self.weights_dir()),
                                      apply_no_data_mask=False)
        except TypeError as exc:  # an older release without destination_model_dir
            raise PeerUnavailable(f"this omnicloudmask release does not take a weights folder "
                                  f"({exc}); pip install -U omnicloudmask") from None
        return _four_class(mask, scene, self.label)


@dataclass(frozen=True)
class CloudSEN12(ExternalPeer):
    """CloudSEN12 UNetMobV2 (Aybar et al. 2022, 2024), all 13 L1C bands; untested here.

    Calls ``cloudsen12_models.cloudsen12.load_model_by_name(name=model_name,
    weights_folder=...)`` and the model's ``predict`` on the (13, H, W) TOA reflectance (the
    package documents ``image / 10000``, i.e. reflectance).

    Attributes:
        model_name: one of the package's model names (default ``"UNetMobV2_V2"``).
    """

    name: ClassVar[str] = "cloudsen12"
    label: ClassVar[str] = "CloudSEN12 UNetMobV2"
    bands: ClassVar[tuple[str, ...]] = S2_BANDS
    citation: ClassVar[str] = ("Aybar et al. 2022, Sci. Data, doi:10.1038/s41597-022-01878-2; "
                               "Aybar et al. 2024, Data Brief, doi:10.1016/j.dib.2024.110852")
    module: ClassVar[str] = "cloudsen12_models"
    install: ClassVar[str] = "pip install cloudsen12_models"
    weights_env: ClassVar[str] = "DFMASK_CLOUDSEN12_WEIGHTS"
    weights_url: ClassVar[str] = "https://huggingface.co/isp-uv-es/cloudsen12_models"

    model_name: str = "UNetMobV2_V2"

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        from cloudsen12_models import cloudsen12

        model = cloudsen12.load_model_by_name(name=self.model_name,
                                              weights_folder=str(self.weights_dir()))
        mask = model.predict(scene.bands(self.bands))
        return _four_class(np.asarray(mask).astype(np.int64), scene, self.label)


@dataclass(frozen=True)
class SEnSeIv2(ExternalPeer):
    """SEnSeIv2 (Francis 2024), sensor-independent; untested here.

    Follows its README: ``CloudMask(config, weights, descriptors=...)`` called on the scene's
    13 bands, with the package's Sentinel-2 band descriptors, and a model whose classes are
    clear, thin, thick, shadow (the 4-class structure of its command line's default). The
    weights folder must hold one model from its Hugging Face repository: exactly one ``*.yaml``
    config and one ``*.pt`` weights file. Any other class structure is refused (its 7-class
    models would need their own mapping).
    """

    name: ClassVar[str] = "senseiv2"
    label: ClassVar[str] = "SEnSeIv2"
    bands: ClassVar[tuple[str, ...]] = S2_BANDS
    citation: ClassVar[str] = ("Francis 2024, IEEE Trans. Geosci. Remote Sens., "
                               "https://ieeexplore.ieee.org/document/10505181")
    module: ClassVar[str] = "senseiv2"
    install: ClassVar[str] = "pip install senseiv2"
    weights_env: ClassVar[str] = "DFMASK_SENSEIV2_WEIGHTS"
    weights_url: ClassVar[str] = "https://huggingface.co/aliFrancis/SEnSeIv2"

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        from senseiv2.inference import CloudMask

        try:
            from senseiv2.constants import SENTINEL2_DESCRIPTORS
        except ImportError:
            raise PeerUnavailable("this senseiv2 release has no senseiv2.constants."
                                  "SENTINEL2_DESCRIPTORS; the adapter (untested) needs "
                                  "it") from None
        folder = self.weights_dir()
        configs, weights = sorted(folder.glob("*.yaml")), sorted(folder.glob("*.pt"))
        if len(configs) != 1 or len(weights) != 1:
            raise PeerUnavailable(f"{folder} must hold one SEnSeIv2 model: one *.yaml config "
                                  f"and one *.pt weights file from {self.weights_url}")
        cm = CloudMask(str(configs[0]), str(weights[0]), descriptors=SENTINEL2_DESCRIPTORS,
                       verbose=False)
        out = np.asarray(cm(scene.bands(self.bands)))
        if out.ndim == 3 and out.shape[0] == 4 and np.issubdtype(out.dtype, np.floating):
            out = np.argmax(out, axis=0)  # class scores -> classes
        # SEnSeIv2's 4-class order is clear, thin, thick, shadow: thin and thick are both cloud
        return _four_class(np.asarray(out).astype(np.int64), scene, self.label)


@dataclass(frozen=True)
class KappaMask(Peer):
    """KappaMask (Domnich et al. 2021): a command-line tool on SAFE products; never runs here.

    KappaMask has no documented in-process Python API: it runs as ``km_predict``
    (github.com/kappazeta/km_predict) on a whole L1C/L2A product and writes its own GeoTIFF.
    dfmask does not drive that tool, so :meth:`unavailable` always gives the reason; compare
    its output file instead.
    """

    name: ClassVar[str] = "kappamask"
    label: ClassVar[str] = "KappaMask"
    claims: ClassVar[frozenset[int]] = frozenset({CLOUD, SHADOW})
    background: ClassVar[int | None] = CLEAR
    mapping_note: ClassVar[str] = ("clear -> other, cloud and semi-transparent cloud -> cloud, "
                                   "cloud shadow -> cloud shadow (scored on cloud+shadow)")
    citation: ClassVar[str] = "Domnich et al. 2021, Remote Sens. 13:4100"

    def unavailable(self, scene: Scene | None = None, product=None) -> str | None:
        """Always a reason: there is no in-process KappaMask call."""
        return ("KappaMask runs only as its own tool on a SAFE product (tool and weights: "
                "https://github.com/kappazeta/km_predict); dfmask has no in-process adapter: "
                "run km_predict and compare its output file")

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        raise PeerUnavailable(self.unavailable(scene, product))
