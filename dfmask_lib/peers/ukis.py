"""ukis-csmask (DLR): U-Net cloud and cloud-shadow masks from six bands, two optional peers.

Please cite: Wieland M., Li Y., Martinis S. (2019), "Multi-sensor cloud and cloud shadow
segmentation with a convolutional neural network", Remote Sens. Environ. 230:111203,
doi:10.1016/j.rse.2019.05.022; software: github.com/dlr-eoc/ukis-csmask (Apache-2.0).

* :class:`UkisCsmask`: the ``ukis-csmask`` 1.0.0 package (its 6-band L1C model), called through
  its public ``CSmask`` class; classes 0 background, 1 cloud, 2 shadow -> background 1, 2, 3.
  Claims {cloud, shadow}.
* :class:`UkisCsmask021`: the 6-band ONNX model of ``ukis-csmask`` 0.2.1, run with onnxruntime
  directly (no install of 0.2.1, which cannot live beside 1.0.0). Its raw output has five
  classes, 0 shadow, 1 water, 2 snow/ice, 3 clear land, 4 cloud (:data:`~dfmask_lib.classes.
  UKIS_CSMASK`); 0.2.1's own ``CSmask`` reduces them to cloud/shadow, so the adapter takes the
  raw argmax instead: the only offline learned peer with snow and water. The model file comes
  from the data registry (``ukis_csmask_021/model_6b.onnx``, from the 0.2.1 sdist on PyPI,
  sha256-checked). The adapter refuses any model whose input is not 6 channels, which guards
  against 0.2.1's own pitfall (the band names ``swir16``/``swir22`` silently load
  ``model_4b.onnx``; docs/PEERS.md).

Input, both: bands B02, B03, B04, B08, B11, B12 (blue, green, red, nir, swir16, swir22) as
float32 TOA reflectance in [0, 1], on the scene's grid **as given**. The models were trained
on about 30 m pixels; the adapters do not resample, because every method of the comparison
must be scored on the same pixels and a Sentinel-2 tile is compared on its 20 m grid, already
close to 30 m. The bundled ukis chip is fed at its own 10 m, where ukis-csmask 1.0.0 is known
to mistake water for shadow (docs/PEERS.md); resample the scene first for a 30 m comparison.
Pixels outside ``scene.valid`` hold 0 reflectance in the input and 0 in the output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..classes import CLEAR, CLOUD, NODATA, SHADOW, SNOW, UKIS_CSMASK, WATER, MappingTable, \
    recode
from ..errors import DataFileError, DfmaskError
from ..scene import Scene
from ..windows import blend_weights, prediction_windows
from ._optional import PEERS_EXTRA, missing_modules
from .base import Peer

__all__ = ["UkisCsmask", "UkisCsmask021", "UKIS_BANDS", "UKIS_021_MODEL", "UKIS_021_MEAN",
           "UKIS_021_STD", "load_021_session", "run_021"]

#: The six bands both models read, in their order: blue, green, red, nir, swir16, swir22.
UKIS_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B11", "B12")
#: The 0.2.1 6-band model's registry name.
UKIS_021_MODEL = "ukis_csmask_021/model_6b.onnx"
#: 0.2.1's normalisation of the six bands (``(x - mean) / std``), documented in its mask.py.
UKIS_021_MEAN = np.array([0.19312, 0.18659, 0.18899, 0.30362, 0.23085, 0.16216], np.float32)
UKIS_021_STD = np.array([0.16431, 0.16762, 0.18230, 0.17409, 0.16020, 0.14164], np.float32)
#: Blending overlap (px) of the 256 px windows; a multiple of 32 as windows.py requires.
UKIS_021_OVERLAP = 64

_CITATION = ("Wieland, Li & Martinis 2019, Remote Sens. Environ. 230:111203, "
             "doi:10.1016/j.rse.2019.05.022")


# ----------------------------------------------------------------------------- ukis-csmask 1.0.0


@dataclass(frozen=True)
class UkisCsmask(Peer):
    """ukis-csmask 1.0.0, 6-band L1C model (claims cloud and shadow; the rest is background 1).

    Attributes:
        threads: onnxruntime intra-op threads; 0 lets onnxruntime choose.
        batch_size: 256 px tiles per onnxruntime call.
    """

    name: ClassVar[str] = "ukis-csmask"
    label: ClassVar[str] = "ukis-csmask 1.0.0"
    claims: ClassVar[frozenset[int]] = frozenset({CLOUD, SHADOW})
    mapping_note: ClassVar[str] = ("0 background -> other (not cloud, not shadow), 1 cloud -> "
                                   "cloud, 2 shadow -> cloud shadow (scored on cloud+shadow)")
    background: ClassVar[int | None] = CLEAR
    bands: ClassVar[tuple[str, ...]] = UKIS_BANDS
    citation: ClassVar[str] = _CITATION

    threads: int = 0
    batch_size: int = 1

    def unavailable(self, scene: Scene | None = None, product=None) -> str | None:
        """None when ukis-csmask and onnxruntime are importable and ``scene`` has the bands."""
        reason = super().unavailable(scene, product)  # missing bands: nothing to install helps
        missing = missing_modules("ukis_csmask", "onnxruntime")
        if reason is None and missing:
            reason = (f"ukis-csmask 1.0.0 needs {', '.join(missing)}; {PEERS_EXTRA} "
                      '(or pip install "ukis-csmask[cpu]==1.0.0")')
        return reason

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        import warnings

        from ukis_csmask.mask import CSmask

        img = np.ascontiguousarray(np.moveaxis(scene.bands(self.bands), 0, -1))
        with warnings.catch_warnings():  # its "image smaller than 256 px" note; tiles are padded
            warnings.simplefilter("ignore", UserWarning)
            cs = CSmask(img, band_order=["blue", "green", "red", "nir", "swir16", "swir22"],
                        product_level="l1c", intra_op_num_threads=self.threads,
                        batch_size=self.batch_size)
        if Path(cs.model_file).name != "model_6b_l1c.onnx":
            raise DfmaskError(f"ukis-csmask loaded {Path(cs.model_file).name}, not the 6-band "
                              'L1C model; reinstall "ukis-csmask[cpu]==1.0.0"')
        csm = np.asarray(cs.csm)[..., 0]
        out = np.choose(np.clip(csm, 0, 2), [np.uint8(CLEAR), np.uint8(CLOUD),
                                             np.uint8(SHADOW)]).astype(np.uint8)
        out[~scene.valid] = NODATA
        return out


# ----------------------------------------------------------------------------- ukis-csmask 0.2.1


@lru_cache(maxsize=4)
def load_021_session(model: str, threads: int = 0) -> Any:
    """An onnxruntime session of a ukis-csmask 0.2.1 model file, checked to be the 6-band one.

    The 0.2.1 graph has one input ``(N, 256, 256, 6)`` float32 (channels last, fixed 256 px
    tiles) and one output ``(N, 256, 256, 5)`` (the five raw classes).

    Raises:
        DataFileError: the file is not an ONNX model of that shape (e.g. ``model_4b.onnx``,
            whose input has 4 channels).
    """
    import onnxruntime

    so = onnxruntime.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(model, sess_options=so,
                                               providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own, unrelated exception classes
        raise DataFileError(f"{model} is not a readable ONNX model ({type(exc).__name__}); "
                            f"fetch {UKIS_021_MODEL} through the data registry") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape = list(inputs[0].shape) if len(inputs) == 1 else None
    if shape is None or len(shape) != 4 or shape[3] != 6:
        raise DataFileError(f"{Path(model).name} takes input {shape}, not (N, H, W, 6): it is "
                            f"not the 6-band ukis-csmask 0.2.1 model (model_4b.onnx?); use "
                            f"registry name {UKIS_021_MODEL}")
    if len(outputs) != 1 or list(outputs[0].shape)[3:] != [5]:
        raise DataFileError(f"{Path(model).name} gives output {outputs[0].shape}, not 5 "
                            "classes: not the ukis-csmask 0.2.1 model")
    if not all(isinstance(s, int) for s in shape[1:3]):
        raise DataFileError(f"{Path(model).name} has no fixed tile size ({shape}); expected "
                            "256 x 256")
    return session


def run_021(session: Any, img: np.ndarray, overlap: int = UKIS_021_OVERLAP) -> np.ndarray:
    """The 0.2.1 model's blended class scores of an image.

    Args:
        session: from :func:`load_021_session`.
        img: float32 (6, H, W) TOA reflectance, bands :data:`UKIS_BANDS`.
        overlap: blending overlap of the model's fixed windows (px, multiple of 32).

    Returns:
        float32 (5, H, W) model output blended over overlapping windows (raw class order
        0 shadow, 1 water, 2 snow/ice, 3 clear land, 4 cloud).

    The model takes fixed ``tile`` x ``tile`` windows (256): windows are laid out by
    :func:`dfmask_lib.windows.prediction_windows` on the image padded to at least one tile,
    the padding mirrors the image (symmetric), and the outputs are blended with
    :func:`dfmask_lib.windows.blend_weights`.
    """
    inp = session.get_inputs()[0]
    tile_h, tile_w = int(inp.shape[1]), int(inp.shape[2])
    if tile_h != tile_w:
        raise DataFileError(f"expected square model tiles, got {tile_h} x {tile_w}")
    _, h, w = img.shape
    norm = (np.moveaxis(img, 0, -1) - UKIS_021_MEAN) / UKIS_021_STD
    grid = (max(h, tile_h), max(w, tile_w))
    wins = prediction_windows(grid, window=tile_h, overlap=overlap)
    ph = int(max(wins[:, 0].max() + tile_h, grid[0]))
    pw = int(max(wins[:, 1].max() + tile_w, grid[1]))
    padded = np.pad(norm, ((0, ph - h), (0, pw - w), (0, 0)), mode="symmetric")
    weight = blend_weights(tile_h, tile_w, overlap)
    acc = np.zeros((ph, pw, 5), np.float32)
    wsum = np.zeros((ph, pw), np.float32)
    for r, c, _, _ in wins:
        x = padded[np.newaxis, r:r + tile_h, c:c + tile_w].astype(np.float32)
        y = session.run(None, {inp.name: x})[0][0]
        acc[r:r + tile_h, c:c + tile_w] += y * weight[..., np.newaxis]
        wsum[r:r + tile_h, c:c + tile_w] += weight
    return np.moveaxis(acc[:h, :w] / wsum[:h, :w, np.newaxis], -1, 0)


@dataclass(frozen=True)
class UkisCsmask021(Peer):
    """ukis-csmask 0.2.1's raw 5-class output (claims all five classes).

    Attributes:
        model: the 6-band model file; None fetches :data:`UKIS_021_MODEL` through the
            data registry (mirror, cache, or ``pip download ukis-csmask==0.2.1``).
        threads: onnxruntime intra-op threads; 0 lets onnxruntime choose.
    """

    name: ClassVar[str] = "ukis-csmask-0.2.1"
    label: ClassVar[str] = "ukis-csmask 0.2.1 (raw 5 classes)"
    claims: ClassVar[frozenset[int]] = frozenset({CLEAR, CLOUD, SHADOW, SNOW, WATER})
    table: ClassVar[MappingTable | None] = UKIS_CSMASK
    bands: ClassVar[tuple[str, ...]] = UKIS_BANDS
    citation: ClassVar[str] = _CITATION

    model: str | os.PathLike | None = None
    threads: int = 0

    def model_path(self) -> Path:
        """The model file (fetched through the registry when :attr:`model` is None).

        Raises:
            MissingDataError: not obtainable (offline without a cached copy); says how.
            DataFileError: the fetched copy fails its sha256 check.
        """
        if self.model is not None:
            return Path(self.model)
        from .. import registry

        return registry.fetch(UKIS_021_MODEL)

    def unavailable(self, scene: Scene | None = None, product=None) -> str | None:
        """None when ``scene`` has the bands, onnxruntime is importable and the model is
        obtainable (fetching it through the registry when needed)."""
        reason = super().unavailable(scene, product)
        if reason is not None:
            return reason
        if missing_modules("onnxruntime"):
            return (f"ukis-csmask 0.2.1 runs on onnxruntime, which is not installed; "
                    f"{PEERS_EXTRA} (or pip install onnxruntime)")
        try:
            path = self.model_path()
        except DfmaskError as exc:
            return f"the ukis-csmask 0.2.1 model is not available: {exc}"
        if not path.is_file():
            return f"the ukis-csmask 0.2.1 model file {path} does not exist"
        return None

    def scores(self, scene: Scene) -> np.ndarray:
        """float32 (5, H, W) raw model output on ``scene`` (see :func:`run_021`)."""
        session = load_021_session(str(self.model_path()), self.threads)
        return run_021(session, scene.bands(self.bands))

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        raw = np.argmax(self.scores(scene), axis=0).astype(np.uint8)
        out = recode(raw, UKIS_CSMASK)
        out[~scene.valid] = NODATA
        return out
