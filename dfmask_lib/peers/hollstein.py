"""Hollstein et al. (2016) as peers: their decision tree and the Bayesian classifier trained on
their database.

Please cite: A. Hollstein, K. Segl, L. Guanter, M. Brell, M. Enesco (2016), "Ready-to-Use
Methods for the Detection of Clouds, Cirrus, Snow, Shadow, Water and Clear Sky Pixels in
Sentinel-2 MSI Images", Remote Sens. 8(8):666, doi:10.3390/rs8080666.

**The decision tree** (:class:`HollsteinTree`) is the paper's ready-to-use tree of Figure 8
(about 91 % of the validation spectra correct): thirteen node tests on single TOA bands B(x),
band differences S(a, b) = B(a) - B(b) and band ratios R(a, b) = B(a) / B(b), named below as
the paper names its features. Source and confidence: the figure itself (an image) could not
be read here; the nodes and thresholds were taken from two independent public transcriptions
of Figure 8 (the Sentinel Hub custom script "hollstein" and the Earth Engine ``geetools``
``hollstein_S2``, the latter in DN x 10^4), which agree on every test, threshold and leaf.
Confidence: high for the thresholds, but unverified against the figure. A test "x < t" sends a
pixel down the "yes" branch, as in the figure::

    B3 < 0.319
    |- yes: B8A < 0.166
    |   |- yes: S(B3,B7) < 0.027
    |   |   |- yes: S(B9,B11) < -0.097 -> clear, else shadow
    |   |   '- no:  S(B9,B11) < 0.021  -> water, else shadow
    |   '- no:  R(B2,B10) < 14.689
    |       |- yes: R(B2,B9) < 0.788   -> clear, else cirrus
    |       '- no:  clear
    '- no:  R(B5,B11) < 4.33
        |- yes: S(B11,B10) < 0.255
        |   |- yes: S(B6,B7) < -0.016  -> cloud, else cirrus
        |   '- no:  B1 < 0.3           -> clear, else cloud
        '- no:  B3 < 0.525
            |- yes: R(B1,B5) < 1.184   -> clear, else shadow
            '- no:  snow

Ratios are taken on reflectance clipped at 0 (the project's rule,
:data:`dfmask_lib.scene.NEGATIVE_REFLECTANCE_RULE`), and are +inf where the denominator is 0
(no signal in it: e.g. no cirrus reflectance in B10 makes R(B2,B10) large, "not cirrus").
Output via :data:`dfmask_lib.classes.HOLLSTEIN` (cirrus scored as cloud).

**The Bayesian classifier** (:class:`HollsteinBayes`) is the histogram classifier file
``sicor_hollstein/cld_mask_20160321_s2.h5`` (registry; shipped with GFZ's sicor, GPL-3.0).
Only the file's format is used here; the lookup below is written from its contents:

* ``band_names``: the 13 bands in S2 order; ``classifiers_fk`` / ``classifiers_id`` (JSON): the
  5 features as (kind, 0-based indices into ``band_names``): ``channel [i]`` = B_i,
  ``difference [i, j]`` = B_i - B_j, ``index [i, j]`` = (B_i - B_j) / (B_i + B_j) (computed by
  :func:`~dfmask_lib.scene.normalized_difference`, on reflectance clipped at 0). In this file:
  B03, B09 - B01, (B10 - B02)/(B10 + B02), B12, (B02 - B8A)/(B02 + B8A). The direction (first
  minus second) is not stated in the file; it is the one that puts the Betsiboka chip's values
  inside the file's bin ranges (B01 - B09 would leave 2.8 % of them above the last edge);
* ``bb_full_0..4``: 26 bin edges per feature (training minimum ... maximum);
* ``classes`` 10 clear, 20 water, 30 shadow, 40 cirrus, 50 cloud, 60 snow; ``hh_<c>_value``:
  the class-conditional histogram (26^5, each summing to 1).

A pixel's bin on feature f is k with ``edges[k] <= x < edges[k + 1]`` (k = 0 below ``edges[1]``,
k = 25 at or above the training maximum ``edges[25]``): 26 edges but 26 histogram bins, so the
file's last bin can only hold its maximum, which is where its histograms put almost no mass
(an inference from the file; it does not state its binning). Its class is the one whose histogram is
largest at its 5-d bin (equal priors; ties to the lower code). A bin where every histogram is 0
(no training spectrum came near it) gets no answer: project code 0.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..classes import CLEAR, CLOUD, HOLLSTEIN, SHADOW, SICOR_HOLLSTEIN, SNOW, WATER, MappingTable, \
    recode
from ..errors import DataFileError, DfmaskError
from ..scene import Scene, normalized_difference
from .base import Peer, PeerUnavailable, missing_bands

__all__ = ["HollsteinTree", "HollsteinBayes", "tree_classes", "bayes_classes", "BayesModel",
           "load_bayes_model", "model_bands", "BAYES_MODEL"]

_CITATION = "Hollstein et al. 2016, Remote Sens. 8:666, doi:10.3390/rs8080666"

# Hollstein et al. 2016, Figure 8: the node thresholds (TOA reflectance; S = difference,
# R = ratio), named after the feature each node tests.
B3_BRIGHT = 0.319       #: root: B3 < 0.319 -> the dark branch
B8A_DARK = 0.166        #: dark branch: B8A < 0.166 -> shadow / water / clear
S_B3_B7 = 0.027         #: S(B3,B7) < 0.027 -> clear or shadow, else water or shadow
S_B9_B11_CLEAR = -0.097  #: S(B9,B11) < -0.097 -> clear, else shadow
S_B9_B11_WATER = 0.021  #: S(B9,B11) < 0.021 -> water, else shadow
R_B2_B10 = 14.689       #: R(B2,B10) < 14.689 -> test R(B2,B9), else clear
R_B2_B9 = 0.788         #: R(B2,B9) < 0.788 -> clear, else cirrus
R_B5_B11 = 4.33         #: bright branch: R(B5,B11) < 4.33 -> cloud / cirrus, else snow side
S_B11_B10 = 0.255       #: S(B11,B10) < 0.255 -> test S(B6,B7), else test B1
S_B6_B7 = -0.016        #: S(B6,B7) < -0.016 -> cloud, else cirrus
B1_CLOUD = 0.3          #: B1 < 0.3 -> clear, else cloud
B3_SNOW = 0.525         #: B3 < 0.525 -> test R(B1,B5), else snow
R_B1_B5 = 1.184         #: R(B1,B5) < 1.184 -> clear, else shadow

# The tree's leaves in the codes of dfmask_lib.classes.HOLLSTEIN.
_CLEAR, _WATER, _SHADOW, _CIRRUS, _CLOUD, _SNOW = 1, 2, 3, 4, 5, 6

#: Registry name of the Hollstein-trained classifier file.
BAYES_MODEL = "sicor_hollstein/cld_mask_20160321_s2.h5"
_ALL_CLASSES = frozenset({CLEAR, CLOUD, SHADOW, SNOW, WATER})
#: Rows processed at once (a 5490-px-wide 20 m tile: about 20 MB per float32 temporary).
STRIP_ROWS = 1024


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """R(a, b) on reflectance clipped at 0; +inf where b is 0 (see the module docstring)."""
    a = np.maximum(a, np.float32(0))
    b = np.maximum(b, np.float32(0))
    out = np.full(np.broadcast(a, b).shape, np.inf, dtype=np.float32)
    np.divide(a, b, out=out, where=b > 0)
    return out


def tree_classes(scene: Scene) -> np.ndarray:
    """The Figure 8 tree of Hollstein et al. 2016 on every pixel of ``scene``.

    Args:
        scene: TOA reflectance with bands B01, B02, B03, B05, B06, B07, B8A, B09, B10, B11.

    Returns:
        uint8 (H, W) in the codes of :data:`~dfmask_lib.classes.HOLLSTEIN` (1 clear, 2 water,
        3 shadow, 4 cirrus, 5 cloud, 6 snow), 0 where the scene is not valid.

    Raises:
        BandError: a band is missing (the message names it).
    """
    bands = {n: scene.band(n) for n in HollsteinTree.bands}  # views; BandError if missing
    out = np.zeros(scene.shape, dtype=np.uint8)
    for r0 in range(0, scene.shape[0], STRIP_ROWS):  # row strips bound the temporaries
        rows = slice(r0, r0 + STRIP_ROWS)
        out[rows] = _tree({n: band[rows] for n, band in bands.items()})
    out[~scene.valid] = 0
    return out


def _tree(b: dict[str, np.ndarray]) -> np.ndarray:
    """The tree on band arrays of any one shape (see :func:`tree_classes`)."""

    def S(x: str, y: str) -> np.ndarray:  # the paper's difference feature
        return b[x] - b[y]

    def R(x: str, y: str) -> np.ndarray:  # the paper's ratio feature
        return _ratio(b[x], b[y])

    dark = np.where(
        b["B8A"] < B8A_DARK,
        np.where(S("B03", "B07") < S_B3_B7,
                 np.where(S("B09", "B11") < S_B9_B11_CLEAR, _CLEAR, _SHADOW),
                 np.where(S("B09", "B11") < S_B9_B11_WATER, _WATER, _SHADOW)),
        np.where(R("B02", "B10") < R_B2_B10,
                 np.where(R("B02", "B09") < R_B2_B9, _CLEAR, _CIRRUS),
                 _CLEAR))
    bright = np.where(
        R("B05", "B11") < R_B5_B11,
        np.where(S("B11", "B10") < S_B11_B10,
                 np.where(S("B06", "B07") < S_B6_B7, _CLOUD, _CIRRUS),
                 np.where(b["B01"] < B1_CLOUD, _CLEAR, _CLOUD)),
        np.where(b["B03"] < B3_SNOW,
                 np.where(R("B01", "B05") < R_B1_B5, _CLEAR, _SHADOW),
                 _SNOW))
    return np.where(b["B03"] < B3_BRIGHT, dark, bright).astype(np.uint8)


@dataclass(frozen=True)
class HollsteinTree(Peer):
    """The ready-to-use decision tree of Hollstein et al. 2016 (Figure 8), pixel by pixel.

    Cirrus is scored as cloud (:data:`~dfmask_lib.classes.HOLLSTEIN`). See the module docstring
    for the tree, its thresholds and where they come from.
    """

    name: ClassVar[str] = "hollstein"
    label: ClassVar[str] = "Hollstein 2016 decision tree"
    claims: ClassVar[frozenset[int]] = _ALL_CLASSES
    table: ClassVar[MappingTable | None] = HOLLSTEIN
    bands: ClassVar[tuple[str, ...]] = ("B01", "B02", "B03", "B05", "B06", "B07", "B8A", "B09",
                                        "B10", "B11")
    citation: ClassVar[str] = _CITATION

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        return recode(tree_classes(scene), HOLLSTEIN)


# --------------------------------------------------------------------------- Bayesian classifier

_FEATURE_KINDS = ("channel", "difference", "index")


@dataclass(frozen=True, eq=False)
class BayesModel:
    """The classifier file, reduced to what the lookup needs.

    Attributes:
        features: per feature (kind, band names), kind one of ``channel``, ``difference``,
            ``index`` (see the module docstring).
        edges: per feature the float64 bin edges (``bb_full_<i>``).
        table: uint8 flat array over the 5-d bins: the winning class code 10..60, 0 where every
            class histogram is 0.
        shape: the histograms' shape (26, 26, 26, 26, 26).
    """

    features: tuple[tuple[str, tuple[str, ...]], ...]
    edges: tuple[np.ndarray, ...]
    table: np.ndarray
    shape: tuple[int, ...]

    @property
    def bands(self) -> tuple[str, ...]:
        """The bands the features read, without repeats, in first-use order."""
        return tuple(dict.fromkeys(b for _, names in self.features for b in names))


def _json(f, key: str, path: Path):
    try:
        raw = f[key][()]
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (KeyError, ValueError, TypeError) as exc:
        raise DataFileError(f"{path.name}: no readable {key!r} ({exc}); is this the "
                            f"Hollstein classifier file {BAYES_MODEL}?") from None


def _read_features(f, path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    names = _json(f, "band_names", path)
    kinds, ids = _json(f, "classifiers_fk", path), _json(f, "classifiers_id", path)
    if len(kinds) != len(ids):
        raise DataFileError(f"{path.name}: {len(kinds)} feature kinds but {len(ids)} band lists")
    out = []
    for kind, idx in zip(kinds, ids):
        arity = {"channel": 1, "difference": 2, "index": 2}.get(kind)
        if arity is None or len(idx) != arity:
            raise DataFileError(f"{path.name}: feature {kind!r} {idx} is not one of "
                                f"{_FEATURE_KINDS} with its band count")
        out.append((kind, tuple(names[i] for i in idx)))
    return tuple(out)


def model_bands(path: str | os.PathLike) -> tuple[str, ...]:
    """The bands the classifier file's features read (reads only its small header datasets)."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            feats = _read_features(f, path)
    except OSError as exc:
        raise DataFileError(f"cannot read {path} as HDF5 ({exc}); fetch {BAYES_MODEL} "
                            "again") from None
    return tuple(dict.fromkeys(b for _, names in feats for b in names))


@lru_cache(maxsize=2)
def _load(path: str, mtime_ns: int) -> BayesModel:
    import h5py

    p = Path(path)
    try:
        with h5py.File(p, "r") as f:
            features = _read_features(f, p)
            edges = tuple(np.asarray(f[f"bb_full_{i}"][()], dtype=np.float64)
                          for i in range(len(features)))
            classes = [int(c) for c in f["classes"][()]]
            best = table = None
            shape: tuple[int, ...] = ()
            for code in sorted(classes):  # ascending, strict ">": ties go to the lower code
                hist = np.asarray(f[f"hh_{code}_value"][()], dtype=np.float64)
                if best is None:
                    shape = hist.shape
                    best, table = hist.ravel().copy(), np.zeros(hist.size, dtype=np.uint8)
                    table[best > 0] = code
                    continue
                if hist.shape != shape:
                    raise DataFileError(f"{p.name}: histogram of class {code} is {hist.shape}, "
                                        f"not {shape}")
                win = hist.ravel() > best
                table[win] = code
                best[win] = hist.ravel()[win]
    except KeyError as exc:
        raise DataFileError(f"{p.name}: lacks dataset {exc}; is this {BAYES_MODEL}?") from None
    except OSError as exc:
        raise DataFileError(f"cannot read {p} as HDF5 ({exc}); fetch {BAYES_MODEL} again") from None
    if table is None or len(shape) != len(features) or any(
            len(e) != n for e, n in zip(edges, shape)):
        raise DataFileError(f"{p.name}: {len(features)} features, edges "
                            f"{[len(e) for e in edges]} and histograms {shape} do not fit")
    return BayesModel(features, edges, table, tuple(shape))


def load_bayes_model(path: str | os.PathLike) -> BayesModel:
    """The classifier file as a :class:`BayesModel` (read once per file version and cached).

    Raises:
        DataFileError: the file is not the Hollstein classifier (missing datasets, shapes).
    """
    path = Path(path)
    return _load(str(path.resolve()), path.stat().st_mtime_ns)


def _feature(band, kind: str, bands: tuple[str, ...]) -> np.ndarray:
    if kind == "channel":
        return band(bands[0])
    a, b = band(bands[0]), band(bands[1])
    return a - b if kind == "difference" else normalized_difference(a, b)


def bayes_classes(scene: Scene, model: BayesModel) -> np.ndarray:
    """The classifier's class of every pixel: uint8 (H, W) codes 10..60, 0 for no answer
    (an empty bin, or a pixel outside ``scene.valid``).

    Raises:
        BandError: the scene lacks a band the model's features read.
    """
    for name in model.bands:
        scene.band(name)  # the missing band's message, before any work
    codes = np.zeros(scene.shape, dtype=np.uint8)
    for r0 in range(0, scene.shape[0], STRIP_ROWS):  # row strips bound the temporaries
        rows = slice(r0, r0 + STRIP_ROWS)
        flat = np.zeros(codes[rows].shape, dtype=np.int64)
        for (kind, bands), edges, n in zip(model.features, model.edges, model.shape):
            x = _feature(lambda b: scene.band(b)[rows], kind, bands)
            k = np.searchsorted(edges[1:], x, side="right")  # edges[k] <= x < edges[k + 1]
            flat = flat * n + np.clip(k, 0, n - 1)  # C order, as np.ravel_multi_index
        codes[rows] = model.table[flat]
    codes[~scene.valid] = 0
    return codes


@dataclass(frozen=True)
class HollsteinBayes(Peer):
    """The Hollstein-trained histogram (naive Bayes) classifier, reimplemented from its file.

    Needs the bands its features read (B01, B02, B03, B8A, B09, B10, B12 of the file's 13);
    see the module docstring for the features and the lookup. Pixels in an empty bin get 0.

    Attributes:
        model: the classifier HDF5; None = :data:`BAYES_MODEL` from the data registry.
    """

    name: ClassVar[str] = "hollstein-bayes"
    label: ClassVar[str] = "Hollstein-trained Bayes (sicor file)"
    claims: ClassVar[frozenset[int]] = _ALL_CLASSES
    table: ClassVar[MappingTable | None] = SICOR_HOLLSTEIN
    bands: ClassVar[tuple[str, ...]] = ("B01", "B02", "B03", "B8A", "B09", "B10", "B12")
    citation: ClassVar[str] = _CITATION

    model: str | os.PathLike | None = None

    def _model_path(self) -> Path:
        if self.model is not None:
            return Path(self.model)
        from .. import registry

        return registry.fetch(BAYES_MODEL)

    def unavailable(self, scene: Scene | None = None,
                    product: str | os.PathLike | None = None) -> str | None:
        """Bands missing, or the classifier file not obtainable; None if it can run."""
        reason = super().unavailable(scene, product)
        if reason is not None:
            return reason
        try:
            path = self._model_path()
            if not path.is_file():
                return f"{self.label}: model file {path} does not exist; give an existing one"
            needed = model_bands(path)
        except DfmaskError as exc:
            return f"{self.label}: {exc}"
        if scene is not None and missing_bands(scene, needed):
            return (f"{self.label} needs bands {', '.join(missing_bands(scene, needed))}, which "
                    "this scene does not have")
        return None

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        try:
            model = load_bayes_model(self._model_path())
        except DfmaskError as exc:
            raise PeerUnavailable(f"{self.label}: {exc}") from None
        return recode(bayes_classes(scene, model), SICOR_HOLLSTEIN)
