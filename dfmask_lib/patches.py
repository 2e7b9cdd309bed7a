"""Network data: cut scenes into 256 px patches, store them in HDF5, serve them to torch.

Patch geometry (Nambiar et al. 2022, Remote Sens. 14:1825, doi:10.3390/rs14081825, and the
authors' code): non-overlapping 254 px windows on the 20 m grid (22 x 22 = 484 per 5490 px
tile), the last row and column snapped to the scene edge, each zero-padded to 256 px (so that
2**(depth-1) divides it); patches whose label is all 0 (no data / unlabelled) are dropped. Training patches carry Fmask labels (``*FMASK.tif``);
validation and test patches keep the human labels (``*LABELS.tif``). Training patches are
shuffled once, seeded, into 4 subsets of ~25 % for the self-training plan (stored as ``subset``;
-1 in test mode).

HDF5 layout written by :func:`write_patches` (one patch per chunk, compressed):

* ``image`` (N, C, 256, 256) float32 — TOA reflectance (+ NDSI), channels in ``bands`` order;
* ``label`` (N, 256, 256) uint8 — project class codes 0-5, 0 in the padding;
* ``source`` (N,) str — product name; ``window`` (N, 4) int32 — row, col, height, width of the
  unpadded window on the scene grid; ``subset`` (N,) int8;
* attributes ``bands`` (JSON list), ``input_set``, ``mode``, ``version``, ``config`` (JSON of the
  :class:`PatchConfig`), ``inputs`` (JSON of the input files' names, sizes and mtimes).

This module holds the pure array functions (:func:`input_stack`, :func:`extract_patches`,
:func:`split_subsets`) and the HDF5 store (:func:`write_patches`, :func:`check_patch_file`,
:func:`fingerprint`). The other parts of the pipeline's data step live beside it: the window
arithmetic in :mod:`dfmask_lib.windows` (shared with prediction, re-exported here), finding
products and cutting them into a patch file (:func:`dfmask_lib.products.make_data`, the I/O
edge) in :mod:`dfmask_lib.products`, and the torch dataset in :mod:`dfmask_lib.dataset`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import h5py
import numpy as np
from tqdm.auto import tqdm

from .atomic import atomic_path
from .classes import CLASS_CODES, FMASK, PROJECT
from .config import config_from_dict, config_to_json
from .errors import BandError, ConfigError, DataFileError, LabelError, MissingDataError
from .progress import disable_bar
from .scene import S2_BANDS, Scene, ndsi
from .windows import labelled_windows, scene_windows, window_starts  # re-exported
from .version import get_version

__all__ = [
    "INPUT_SETS", "PatchConfig", "window_starts", "scene_windows", "labelled_windows",
    "input_stack",
    "extract_patches", "split_subsets", "write_patches", "check_label_codes", "check_patch_file",
    "read_patch_config", "fingerprint", "LABEL_KIND", "LABEL_TABLE", "bands_for",
]

#: Network input channels per input set. "swirndsi" is the authors' default (B02, B03, B04, B08,
#: B11, B12 + NDSI); "all13" is every MSI band in the canonical order.
INPUT_SETS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "swirndsi": ("B02", "B03", "B04", "B08", "B11", "B12", "NDSI"),
    "all13": S2_BANDS,
})
#: Channels computed from bands rather than read: channel -> the bands it needs.
DERIVED_CHANNELS: Mapping[str, tuple[str, ...]] = MappingProxyType({"NDSI": ("B03", "B11")})
MODES = ("train", "test")
#: Patches extracted and written at a time (one row of a 5490 px tile).
WRITE_BLOCK = 22
#: Label file kind per mode: Fmask labels for training, human labels for validation/test.
LABEL_KIND = {"train": "FMASK", "test": "LABELS"}
LABEL_TABLE = {"FMASK": FMASK, "LABELS": PROJECT}


def bands_for(input_set: str) -> tuple[str, ...]:
    """The bands :func:`input_stack` reads for ``input_set``, in S2 order (NDSI needs B03 and
    B11): ``bands_for("swirndsi")`` = B02 B03 B04 B08 B11 B12.

    Raises:
        ConfigError: an unknown input set.
    """
    if input_set not in INPUT_SETS:
        raise ConfigError(f"unknown input set {input_set!r}; choose from {', '.join(INPUT_SETS)}")
    wanted = set()
    for name in INPUT_SETS[input_set]:
        wanted.update(DERIVED_CHANNELS.get(name, (name,)))
    return tuple(b for b in S2_BANDS if b in wanted)


@dataclass(frozen=True)
class PatchConfig:
    """How scenes become patches (saved in the HDF5 ``config`` attribute).

    Attributes:
        mode: "train" (Fmask labels, split into subsets) or "test" (human labels, no split).
        input_set: key of :data:`INPUT_SETS`; decides the channel count of the network.
        window: patch window on the 20 m grid; 254 px as in the paper (22 x 22 per tile).
        patch_size: stored patch size; 256 so that a depth-6 U-Net (factor 32) divides it.
        n_subsets: self-training subsets (4 in the paper: stages 0-3 add one each).
        seed: seed of the one-off shuffle into subsets (the authors' split was unseeded).
        compression: HDF5 filter; "lzf" is fast (h5py only), "gzip" is readable everywhere.
    """

    mode: str = "train"
    input_set: str = "swirndsi"
    window: int = 254
    patch_size: int = 256
    n_subsets: int = 4
    seed: int = 0
    compression: str = "lzf"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.input_set not in INPUT_SETS:
            raise ConfigError(f"input_set must be one of {sorted(INPUT_SETS)}, got {self.input_set!r}")
        if not 0 < self.window <= self.patch_size:
            raise ConfigError(f"need 0 < window <= patch_size, got {self.window}, {self.patch_size}")
        if self.n_subsets < 1:
            raise ConfigError(f"n_subsets must be >= 1, got {self.n_subsets}")
        if self.compression not in ("lzf", "gzip", "none"):
            raise ConfigError(f"compression must be lzf, gzip or none, got {self.compression!r}")

    @property
    def bands(self) -> tuple[str, ...]:
        """Channel names in storage order."""
        return INPUT_SETS[self.input_set]


# --------------------------------------------------------------------------- pure array functions


def input_stack(scene: Scene, input_set: str = "swirndsi", *,
                out: np.ndarray | None = None) -> np.ndarray:
    """The network input of a scene: float32 (C, H, W) in :data:`INPUT_SETS` ``[input_set]`` order.

    NDSI = (B03 - B11) / (B03 + B11) is computed here (0 where the sum is 0); reflectance is used
    as is (no standardisation, as in the authors' final code); pixels without data are 0.
    ``out``: a float32 (C, H, W) array to fill instead of a new one (no stacked copy).
    """
    if input_set not in INPUT_SETS:
        raise ConfigError(f"input_set must be one of {sorted(INPUT_SETS)}, got {input_set!r}")
    names = INPUT_SETS[input_set]
    shape = (len(names), *scene.shape)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise BandError(f"out must be float32 {shape}, got {out.dtype} {out.shape}")
    for i, name in enumerate(names):
        # BandError names a missing band
        out[i] = ndsi(scene.band("B03"), scene.band("B11")) if name == "NDSI" else scene.band(name)
    out[:, ~scene.valid] = 0.0
    return out


def extract_patches(
    image: np.ndarray, label: np.ndarray, window: int = 254, patch_size: int = 256,
    windows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut an image and its label into zero-padded patches, dropping all-0-label patches.

    Args:
        image: float32 (C, H, W).
        label: uint8 (H, W) project codes 0-5 (0 = no data / unlabelled).
        window: window size on the grid (see :func:`window_starts`).
        patch_size: padded size (>= window); padding is 0 in image and label.
        windows: cut only these windows (rows of :func:`labelled_windows`), e.g. to write a
            tile in blocks; default all labelled windows.

    Returns:
        images float32 (N, C, P, P), labels uint8 (N, P, P), windows int32 (N, 4)
        (row, col, height, width of the unpadded part), N = kept patches.

    Raises:
        BandError / LabelError: wrong dtypes or shapes. DataFileError: label codes outside 0-5.
    """
    if image.ndim != 3 or image.dtype != np.float32:
        raise BandError(f"image must be float32 (C, H, W), got {image.dtype} {image.shape}")
    if label.shape != image.shape[1:] or label.dtype != np.uint8:
        raise LabelError(
            f"label must be uint8 {image.shape[1:]} (the image grid), got {label.dtype} {label.shape}"
        )
    if patch_size < window:
        raise ConfigError(f"patch_size {patch_size} is smaller than window {window}")
    wins = labelled_windows(label, window) if windows is None else np.asarray(windows, np.int32)
    images = np.zeros((len(wins), image.shape[0], patch_size, patch_size), dtype=np.float32)
    labels = np.zeros((len(wins), patch_size, patch_size), dtype=np.uint8)
    for k, (r, c, h, w) in enumerate(wins):
        images[k, :, :h, :w] = image[:, r:r + h, c:c + w]
        labels[k, :h, :w] = label[r:r + h, c:c + w]
    check_label_codes(labels, "label")
    return images, labels, wins


def split_subsets(n: int, n_subsets: int = 4, seed: int = 0) -> np.ndarray:
    """A seeded shuffle of ``n`` patches into ``n_subsets`` subsets of near-equal size.

    Returns int8 (n,) subset ids; sizes differ by at most one, and the same (n, n_subsets, seed)
    always gives the same split (self-training step 1, Nambiar et al. 2022).
    """
    perm = np.random.default_rng(seed).permutation(n)
    subset = np.empty(n, dtype=np.int8)
    subset[perm] = (np.arange(n) * n_subsets // max(n, 1)).astype(np.int8)
    return subset


def check_label_codes(label: np.ndarray, what: str) -> None:
    """Raise :class:`DataFileError` if ``label`` holds codes outside the project classes 0-5."""
    if label.size and int(label.max()) > max(CLASS_CODES):
        bad = sorted(int(v) for v in np.unique(label) if v > max(CLASS_CODES))
        raise DataFileError(
            f"{what} holds codes {bad[:10]} outside the project classes 0-5; "
            "recode labels with dfmask_lib.classes.recode before making patches"
        )


# --------------------------------------------------------------------------- HDF5 writing


def write_patches(
    out: str | os.PathLike,
    scenes: Iterable[tuple[str, np.ndarray, np.ndarray]],
    config: PatchConfig,
    inputs: Sequence[Any] = (),
    total: int | None = None,
    progress: bool = True,
) -> int:
    """Write patches of scenes to an HDF5 file atomically, one scene in memory at a time.

    Args:
        out: target ``.h5`` path (appears only when complete).
        scenes: iterable of (source name, image float32 (C, H, W), label uint8 (H, W)); C must
            be ``len(config.bands)``.
        config: the :class:`PatchConfig` (stored as attribute).
        inputs: JSON-able description of the inputs (for up-to-date checks), stored as attribute.
        total: number of scenes, for the progress bar.
        progress: a bar over scenes (on a terminal, unless ``dfmask -q``).

    Returns:
        Number of patches written.
    """
    n_ch, p = len(config.bands), config.patch_size
    comp = None if config.compression == "none" else config.compression
    str_dt = h5py.string_dtype()
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        img = f.create_dataset("image", (0, n_ch, p, p), np.float32, maxshape=(None, n_ch, p, p),
                               chunks=(1, n_ch, p, p), compression=comp)
        lab = f.create_dataset("label", (0, p, p), np.uint8, maxshape=(None, p, p),
                               chunks=(1, p, p), compression=comp)
        src = f.create_dataset("source", (0,), str_dt, maxshape=(None,), chunks=True)
        win = f.create_dataset("window", (0, 4), np.int32, maxshape=(None, 4), chunks=True)
        n = 0
        for name, image, label in tqdm(scenes, total=total, desc="patches", unit="scene",
                                         disable=disable_bar(progress)):
            if image.shape[0] != n_ch:
                raise BandError(
                    f"{name}: image has {image.shape[0]} channels, input set "
                    f"{config.input_set!r} needs {n_ch} ({list(config.bands)})"
                )
            kept = labelled_windows(label, config.window)
            # In blocks of one tile row (22 windows): a tile's patches never sit in memory at once.
            for block in np.array_split(kept, max(1, -(-len(kept) // WRITE_BLOCK))):
                images, labels, wins = extract_patches(image, label, config.window, p, block)
                k = len(images)
                for ds in (img, lab, src, win):
                    ds.resize(n + k, axis=0)
                img[n:n + k], lab[n:n + k], win[n:n + k] = images, labels, wins
                src[n:n + k] = [name] * k
                n += k
        if config.mode == "train":
            subset = split_subsets(n, config.n_subsets, config.seed)
        else:
            subset = np.full(n, -1, dtype=np.int8)
        f.create_dataset("subset", data=subset)
        f.attrs.update({
            "bands": json.dumps(list(config.bands)), "input_set": config.input_set,
            "mode": config.mode, "version": get_version(), "config": config_to_json(config),
            "inputs": json.dumps(list(inputs), sort_keys=True),
        })
    return n


def read_patch_config(path: str | os.PathLike) -> PatchConfig:
    """The :class:`PatchConfig` stored in a patch file."""
    with _open(path) as f:
        return config_from_dict(PatchConfig, json.loads(f.attrs["config"]))


def _open(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"no patch file at {path}; create it with `dfmask make-data`")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataFileError(f"{path} is not a readable HDF5 file ({exc}); recreate it") from None


def check_patch_file(path: str | os.PathLike, in_channels: int | None = None) -> int:
    """Check a patch file's layout; return its number of patches.

    Raises:
        MissingDataError: no file. DataFileError: a dataset or attribute is missing, shapes
        disagree, or the channel count differs from ``in_channels`` (the model's).
    """
    with _open(path) as f:
        missing = [k for k in ("image", "label", "subset") if k not in f]
        if missing or "config" not in f.attrs:
            what = missing or ["attribute 'config'"]
            raise DataFileError(f"{path} lacks {what}; recreate it with `dfmask make-data`")
        img, lab = f["image"], f["label"]
        n = img.shape[0]
        if img.ndim != 4 or lab.shape != (n, *img.shape[2:]) or f["subset"].shape != (n,):
            raise DataFileError(
                f"{path}: inconsistent shapes image {img.shape}, label {lab.shape}, "
                f"subset {f['subset'].shape}; recreate it with `dfmask make-data`"
            )
        if lab.dtype != np.uint8:
            raise DataFileError(f"{path}: label must be uint8, got {lab.dtype}")
        if img.dtype != np.float32:
            raise DataFileError(f"{path}: image must be float32 reflectance, got {img.dtype}; "
                                "recreate it with `dfmask make-data`")
        if in_channels is not None and img.shape[1] != in_channels:
            raise DataFileError(
                f"{path} has {img.shape[1]}-channel patches but the model takes {in_channels}; "
                "use patches made with the model's input set"
            )
        return int(n)


def fingerprint(path: str | os.PathLike) -> str:
    """A short hash of a patch file's identity: its config and inputs attributes, size and mtime.

    Changes whenever the file is rewritten (:func:`make_data` leaves an up-to-date file alone);
    used to refuse resuming a training run on different data.
    """
    st = Path(path).stat()
    with _open(path) as f:
        ident = [f.attrs.get("config", ""), f.attrs.get("inputs", ""), st.st_size, st.st_mtime_ns]
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:16]
