"""The torch dataset over a patch file (:mod:`dfmask_lib.patches` layout)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .classes import CLASS_CODES
from .errors import DataFileError
from .patches import _open, check_label_codes, check_patch_file
from .progress import disable_bar

__all__ = ["PatchDataset"]


class PatchDataset(Dataset):
    """Torch dataset over a patch file: samples ``{"image": (C, P, P) float32, "mask": (P, P) int64}``.

    Args:
        path: patch file written by :func:`write_patches`.
        subsets: keep only patches whose ``subset`` is in this list (None = all).
        labels: optional (N, P, P) uint8 array over *all* patches of the file that replaces the
            stored labels (pseudo-labels of the later self-training stages).
        in_channels: the model's input channels, checked against the file.

    The HDF5 file is opened lazily in each data-loader worker (h5py handles must not cross
    processes). Sample ``"index"`` is the patch's row in the file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        subsets: Sequence[int] | None = None,
        labels: np.ndarray | None = None,
        in_channels: int | None = None,
    ) -> None:
        self.path = Path(path)
        n = check_patch_file(self.path, in_channels)
        with _open(self.path) as f:
            subset = f["subset"][:]
            self.bands = tuple(json.loads(f.attrs.get("bands", "[]")))
            self.in_channels = int(f["image"].shape[1])
            patch_shape = tuple(f["label"].shape[1:])
        if subsets is None:
            self.indices = np.arange(n)
        else:
            self.indices = np.flatnonzero(np.isin(subset, list(subsets)))
        if labels is not None:
            if labels.dtype != np.uint8 or labels.shape != (n, *patch_shape):
                raise DataFileError(
                    f"label override must be uint8 {(n, *patch_shape)} over all patches of "
                    f"{self.path.name}, got {labels.dtype} {labels.shape}"
                )
            check_label_codes(labels, "label override")
        #: self-training subset of each sample (int8, -1 in test-mode files).
        self.subset = subset[self.indices]
        self.labels = labels
        self._file: h5py.File | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.indices)

    def _h5(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_file"] = None  # reopened in the worker
        return state

    def label_array(self, i: int) -> np.ndarray:
        """uint8 (P, P) label of sample ``i`` (override if given), checked to be in 0-5."""
        j = int(self.indices[i])
        label = self.labels[j] if self.labels is not None else self._h5()["label"][j]
        check_label_codes(label, f"{self.path.name} patch {j}")
        return label

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        j = int(self.indices[i])
        image = self._h5()["image"][j]
        return {
            "image": torch.from_numpy(image),
            "mask": torch.from_numpy(self.label_array(i).astype(np.int64)),
            "index": torch.tensor(j),
        }

    def class_histogram(self) -> np.ndarray:
        """Pixel counts (6,) int64 of classes 0-5 over the labels this dataset serves."""
        hist = np.zeros(len(CLASS_CODES), dtype=np.int64)
        source = self.labels if self.labels is not None else self._h5()["label"]
        for j in tqdm(self.indices, desc="class statistics", unit="patch", leave=False,
                      disable=disable_bar(len(self.indices) >= 500)):
            label = np.asarray(source[int(j)])
            check_label_codes(label, f"{self.path.name} patch {int(j)}")
            hist += np.bincount(label.ravel(), minlength=len(CLASS_CODES))[: len(CLASS_CODES)]
        return hist
