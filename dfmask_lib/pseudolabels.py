"""Pseudo-labels: the previous stage's model relabels the training patches of the next stage.

Rule (Nambiar et al. 2022, Remote Sens. 14:1825, doi:10.3390/rs14081825, "Self-training"):
before stage k (1-3) the best model of stage k-1 relabels subsets 1..k of the training patch
file: softmax, argmax over classes 1-5, and label 0 (unlabelled: ignored by the loss) where the
top probability is below :data:`PSEUDO_LABEL_THRESHOLD` (0.4) or where the Fmask label is 0 (no
data, patch padding). Subset 0 always keeps its Fmask labels.

Patches of subsets > k are not used by stage k: they get label 0. The file then holds exactly the
labels stage k trains on, and nothing in it can be mistaken for a pseudo-label no model made
(the stored Fmask labels stay in the patch file, which is only ever read).

Deviation from the authors' code, on purpose: it rewrote the labels in place in the shared patch
files (non-atomically, class statistics going stale). Here every stage gets a new file
(``<exp>/stage<k>/pseudolabels.h5``, see :func:`relabel`), written atomically and cached with
:mod:`dfmask_lib.cache`:

* ``label`` (N, P, P) uint8 over all N patches of the training file (what
  :class:`~dfmask_lib.dataset.PatchDataset` takes as ``labels=``), ``subset`` (N,) int8 (a copy);
* attributes ``stage``, ``threshold``, ``relabelled_subsets`` (JSON list), ``amp``,
  ``checkpoint`` (path of the model that relabelled) and ``checkpoint_sha256``, ``source`` (the
  patch file) and ``source_fingerprint`` (:func:`dfmask_lib.patches.fingerprint`), ``version``;
* beside it ``pseudolabels.stats.json`` (:class:`RelabelStats` of the relabelled subsets, see
  :func:`stats_table`) and the cache sidecar ``pseudolabels.h5.recipe.json``.

:func:`pseudo_labels` and :func:`relabel_stats` are the pure core; :func:`relabel` is the I/O edge.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import h5py
import numpy as np
from tqdm.auto import tqdm

from .atomic import atomic_path
from .cache import Recipe, ensure
from .classes import CLASS_CODES, CLASS_NAMES, SCORED_CLASSES
from .device import resolve_device
from .errors import ConfigError, DataFileError, LabelError, MissingDataError
from .patches import check_label_codes, check_patch_file, fingerprint, read_patch_config
from .progress import disable_bar
from .train import load_checkpoint, predict_patches

__all__ = [
    "PSEUDO_LABEL_THRESHOLD", "RelabelStats", "PseudoLabels", "pseudo_labels", "relabel_stats",
    "relabelled_subsets", "relabel", "pseudolabel_recipe", "read_pseudo_labels", "stats_path",
    "load_stats", "stats_table",
]

log = logging.getLogger(__name__)

#: Minimum top softmax probability for a pixel to take the model's class; below it the pixel
#: is unlabelled (0). Nambiar et al. 2022, "Self-training": 0.4.
PSEUDO_LABEL_THRESHOLD = 0.4
#: Patches read, predicted and written at a time.
READ_BLOCK = 64
#: The rule, as stored in every pseudo-label file.
_RULE = ("subset 0: Fmask labels; subsets 1..stage: argmax over classes 1-5 of the previous "
         "stage's best model, 0 where the top softmax probability < threshold or the Fmask label "
         "is 0; other subsets: 0 (Nambiar et al. 2022)")
_N = len(CLASS_CODES)


# --------------------------------------------------------------------------- pure functions


def relabelled_subsets(stage: int) -> list[int]:
    """Subsets the stage ``stage - 1`` model relabels before stage ``stage`` (1-3): 1..stage."""
    if not isinstance(stage, (int, np.integer)) or not 1 <= stage <= 3:
        raise ConfigError(f"pseudo-labels are made before stages 1-3, got stage {stage!r} "
                          "(stage 0 trains on Fmask labels)")
    return list(range(1, int(stage) + 1))


def _check_threshold(threshold: float) -> float:
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)
            and 0.0 <= threshold <= 1.0):
        raise ConfigError(f"the pseudo-label threshold is a probability in [0, 1], got {threshold!r}")
    return float(threshold)


def pseudo_labels(
    classes: np.ndarray,
    top_prob: np.ndarray,
    fmask_labels: np.ndarray,
    subset: np.ndarray,
    stage: int,
    threshold: float = PSEUDO_LABEL_THRESHOLD,
) -> np.ndarray:
    """The labels stage ``stage`` trains on, from the previous stage's predictions.

    Args:
        classes: uint8 (N, H, W) predicted classes 1-5 (0 where the input has no data), as
            :func:`dfmask_lib.train.classes_from_logits` gives them.
        top_prob: float (N, H, W) top softmax probability of those classes, in [0, 1].
        fmask_labels: uint8 (N, H, W) the patch file's labels (Fmask, project codes 0-5).
        subset: int (N,) self-training subset of each patch (>= 0; the ``subset`` dataset).
        stage: the stage about to be trained, 1-3.
        threshold: minimum top probability (:data:`PSEUDO_LABEL_THRESHOLD`); a pixel at exactly
            the threshold keeps its class.

    Returns:
        uint8 (N, H, W): subset 0 -> its Fmask labels; subsets 1..stage -> the predicted class,
        0 where ``top_prob < threshold`` or the Fmask label is 0; subsets > stage -> 0.

    Raises:
        LabelError: shapes or dtypes do not match the contract, or codes outside 0-5.
        ConfigError: a stage outside 1-3 or a threshold outside [0, 1].
        DataFileError: negative subsets (a test-mode patch file).
    """
    relabelled = relabelled_subsets(stage)
    threshold = _check_threshold(threshold)
    classes, fmask_labels = np.asarray(classes), np.asarray(fmask_labels)
    top_prob, subset = np.asarray(top_prob), np.asarray(subset)
    if classes.ndim != 3 or classes.dtype != np.uint8 or fmask_labels.dtype != np.uint8:
        raise LabelError(f"classes and fmask_labels must be uint8 (N, H, W), got "
                         f"{classes.dtype} {classes.shape} and {fmask_labels.dtype} "
                         f"{fmask_labels.shape}")
    if fmask_labels.shape != classes.shape or top_prob.shape != classes.shape:
        raise LabelError(f"classes {classes.shape}, top_prob {top_prob.shape} and fmask_labels "
                         f"{fmask_labels.shape} must have one shape (N, H, W)")
    if not np.issubdtype(top_prob.dtype, np.floating):
        raise LabelError(f"top_prob must be float probabilities, got {top_prob.dtype}")
    if subset.shape != classes.shape[:1] or not np.issubdtype(subset.dtype, np.integer):
        raise LabelError(f"subset must be int ({len(classes)},), one per patch, got "
                         f"{subset.dtype} {subset.shape}")
    if (subset < 0).any():
        raise DataFileError("subset -1: these are test-mode patches without self-training "
                            "subsets; relabel a training patch file (make-data --mode train)")
    check_label_codes(classes, "classes")
    check_label_codes(fmask_labels, "fmask_labels")
    keep_fmask = (subset == 0)[:, None, None]
    relabel = np.isin(subset, relabelled)[:, None, None]
    confident = (top_prob >= threshold) & (fmask_labels > 0)
    out = np.where(keep_fmask, fmask_labels, np.where(relabel & confident, classes, 0))
    return out.astype(np.uint8)


@dataclass(frozen=True)
class RelabelStats:
    """What a relabelling did, over the pixels it was given (the relabelled subsets).

    Attributes:
        transitions: int64 (6, 6) pixel counts, row = Fmask class, column = new class.
        dropped: int64 (6,) per Fmask class: pixels Fmask labelled (1-5) that became 0 because
            the top probability was below the threshold.
    """

    transitions: np.ndarray
    dropped: np.ndarray

    @classmethod
    def zero(cls) -> RelabelStats:
        return cls(np.zeros((_N, _N), np.int64), np.zeros(_N, np.int64))

    def __add__(self, other: RelabelStats) -> RelabelStats:
        return RelabelStats(self.transitions + other.transitions, self.dropped + other.dropped)

    @property
    def labelled(self) -> int:
        """Pixels Fmask labelled (classes 1-5)."""
        return int(self.transitions[1:].sum())

    @property
    def kept(self) -> int:
        """Fmask-labelled pixels that kept their class."""
        return int(np.trace(self.transitions[1:, 1:]))

    @property
    def changed(self) -> int:
        """Fmask-labelled pixels that took another class 1-5."""
        return int(self.transitions[1:, 1:].sum()) - self.kept

    @property
    def n_dropped(self) -> int:
        """Fmask-labelled pixels unlabelled for a top probability below the threshold."""
        return int(self.dropped.sum())

    def summary(self) -> dict[str, int]:
        return {"labelled": self.labelled, "kept": self.kept, "changed": self.changed,
                "dropped": self.n_dropped}

    def to_dict(self) -> dict[str, Any]:
        return {"transitions": self.transitions.tolist(), "dropped": self.dropped.tolist(),
                "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RelabelStats:
        return cls(np.asarray(data["transitions"], np.int64), np.asarray(data["dropped"], np.int64))


def relabel_stats(fmask_labels: np.ndarray, new_labels: np.ndarray,
                  low_confidence: np.ndarray) -> RelabelStats:
    """Transition counts Fmask class -> new class, and the pixels dropped below the threshold.

    Args:
        fmask_labels: uint8 (...) the patch file's labels, codes 0-5.
        new_labels: uint8, same shape: the pseudo-labels (:func:`pseudo_labels`).
        low_confidence: bool, same shape: where the top probability was below the threshold
            (the mask of dropped pixels).

    Returns:
        :class:`RelabelStats` over all pixels given (pass only the relabelled patches).
    """
    fmask_labels, new_labels = np.asarray(fmask_labels), np.asarray(new_labels)
    low_confidence = np.asarray(low_confidence)
    if fmask_labels.dtype != np.uint8 or new_labels.dtype != np.uint8:
        raise LabelError(f"labels must be uint8, got {fmask_labels.dtype} and {new_labels.dtype}")
    if new_labels.shape != fmask_labels.shape or low_confidence.shape != fmask_labels.shape:
        raise LabelError(f"fmask_labels {fmask_labels.shape}, new_labels {new_labels.shape} and "
                         f"low_confidence {low_confidence.shape} must have one shape")
    if low_confidence.dtype != bool:
        raise LabelError(f"low_confidence must be a bool mask, got {low_confidence.dtype}")
    check_label_codes(fmask_labels, "fmask_labels")
    check_label_codes(new_labels, "new_labels")
    pair = fmask_labels.astype(np.int64).ravel() * _N + new_labels.ravel()
    transitions = np.bincount(pair, minlength=_N * _N).reshape(_N, _N)
    dropped_px = low_confidence & (fmask_labels > 0) & (new_labels == 0)
    dropped = np.bincount(fmask_labels[dropped_px], minlength=_N)
    return RelabelStats(transitions.astype(np.int64), dropped.astype(np.int64))


def stats_table(stats: RelabelStats | Mapping[str, Any]) -> list[dict[str, object]]:
    """Rows for :func:`dfmask_lib.metrics.format_table` (or a DataFrame): one per Fmask class.

    Each row: the Fmask class, its pixels in the relabelled subsets, the percentage of them the
    model gave each class 1-5 (the diagonal = kept), and the percentage dropped below the
    threshold (or set to 0 for no-data input); a last row pools the classes.

    Args:
        stats: a :class:`RelabelStats` or the content of a stats JSON (:func:`load_stats`).
    """
    if not isinstance(stats, RelabelStats):
        stats = RelabelStats.from_dict(stats)
    t = stats.transitions

    def row(name: str, counts: np.ndarray, n_dropped: int) -> dict[str, object]:
        total = int(counts.sum())
        pct = (lambda v: 100.0 * v / total) if total else (lambda v: float("nan"))
        out: dict[str, object] = {"Fmask class": name, "pixels": total}
        out.update({f"-> {CLASS_NAMES[c]} %": pct(counts[c]) for c in SCORED_CLASSES})
        out["dropped %"] = pct(n_dropped)
        out["no data %"] = pct(counts[0] - n_dropped)
        return out

    rows = [row(f"{c} {CLASS_NAMES[c]}", t[c], int(stats.dropped[c])) for c in SCORED_CLASSES]
    rows.append(row("all", t[1:].sum(axis=0), stats.n_dropped))
    return rows


# --------------------------------------------------------------------------- I/O edge


@dataclass(frozen=True)
class PseudoLabels:
    """A stage's pseudo-label file and what the relabelling did.

    Attributes:
        path: the ``pseudolabels.h5`` file.
        stats: the content of its stats JSON (:func:`load_stats`).
        built: True when it was (re)built by this call, False when a fresh file was reused.
    """

    path: Path
    stats: dict[str, Any]
    built: bool

    @property
    def relabel_stats(self) -> RelabelStats:
        return RelabelStats.from_dict(self.stats)


def stats_path(path: str | os.PathLike) -> Path:
    """The stats JSON beside a pseudo-label file: ``pseudolabels.h5`` -> ``pseudolabels.stats.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.stats.json")


def load_stats(path: str | os.PathLike) -> dict[str, Any]:
    """The stats of a pseudo-label file (give the ``.h5`` or its ``.stats.json``)."""
    path = Path(path)
    json_path = path if path.name.endswith(".stats.json") else stats_path(path)
    try:
        return json.loads(json_path.read_text())
    except FileNotFoundError:
        raise MissingDataError(f"no pseudo-label statistics at {json_path}; relabel first "
                               "(`dfmask selftrain`)") from None
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{json_path} is not valid JSON ({exc}); relabel again") from None


def pseudolabel_recipe(checkpoint: str | os.PathLike, train_h5: str | os.PathLike, stage: int,
                       threshold: float = PSEUDO_LABEL_THRESHOLD, amp: bool = False) -> Recipe:
    """The cache recipe of a pseudo-label file: the model, the patch file and the rule's settings.

    Batch size and device are left out: they do not change the labels (bf16 ``amp`` does).
    """
    return Recipe("pseudolabels", inputs=(Path(checkpoint), Path(train_h5)),
                  extra={"stage": int(stage), "threshold": float(threshold), "amp": bool(amp)})


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _blocks(indices: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(indices), size):
        yield indices[start:start + size]


def relabel(
    checkpoint: str | os.PathLike,
    train_h5: str | os.PathLike,
    stage: int,
    out_path: str | os.PathLike,
    *,
    threshold: float = PSEUDO_LABEL_THRESHOLD,
    batch_size: int = 8,
    amp: bool = False,
    device: str = "auto",
    progress: bool = True,
    force: bool = False,
) -> PseudoLabels:
    """Write the pseudo-labels of stage ``stage`` to a new file (reused while it is fresh).

    Args:
        checkpoint: the best checkpoint of stage ``stage - 1`` (``stage<k-1>/best.pt``).
        train_h5: the training patch file (read only, never written).
        stage: the stage the labels are for, 1-3 (subsets 1..stage are relabelled).
        out_path: the new file (``<exp>/stage<k>/pseudolabels.h5``); never ``train_h5``.
        threshold, amp: see :func:`pseudo_labels`; bf16 autocast for the predictions.
        batch_size, device: inference batch and device ("auto", "cpu", "cuda[:N]").
        progress: a progress bar over the relabelled patches.
        force: rebuild even when the file is fresh.

    The file is rebuilt when the checkpoint, the patch file, the code version or the settings
    changed (:func:`pseudolabel_recipe`, :func:`dfmask_lib.cache.ensure`).

    Returns:
        :class:`PseudoLabels` (path, statistics, whether it was built).

    Raises:
        MissingDataError: no checkpoint or patch file. DataFileError: the checkpoint's input
        channels differ from the patch file's, it is not a stage ``stage - 1`` model, or the
        patch file has too few subsets. ConfigError: a bad stage, threshold or out_path.
    """
    relabelled = relabelled_subsets(stage)
    threshold = _check_threshold(threshold)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    checkpoint, train_h5, out_path = Path(checkpoint), Path(train_h5), Path(out_path)
    if out_path.resolve() == train_h5.resolve():
        raise ConfigError(f"pseudo-labels go to a new file, never into the patch file {train_h5}")
    if not checkpoint.is_file():
        raise MissingDataError(f"no checkpoint at {checkpoint}; train stage {stage - 1} first")
    n = check_patch_file(train_h5)
    patch_config = read_patch_config(train_h5)
    if patch_config.mode != "train" or patch_config.n_subsets <= stage:
        raise DataFileError(
            f"{train_h5} is a {patch_config.mode}-mode patch file with {patch_config.n_subsets} "
            f"subsets; stage {stage} needs a training patch file with subsets 0-{stage} "
            "(dfmask make-data --mode train)")

    recipe = pseudolabel_recipe(checkpoint, train_h5, stage, threshold, amp)

    def build(path: Path) -> None:
        model, cfg, _ = load_checkpoint(checkpoint, device=str(resolve_device(device)))
        if cfg.stage != stage - 1:
            raise DataFileError(f"{checkpoint} is a stage {cfg.stage} model; the labels of stage "
                                f"{stage} come from the best stage {stage - 1} model")
        check_patch_file(train_h5, cfg.in_channels)  # "... but the model takes C"
        attrs = {"stage": stage, "threshold": threshold, "amp": amp,
                 "relabelled_subsets": json.dumps(relabelled),
                 "checkpoint": str(checkpoint.resolve()), "checkpoint_sha256": _sha256(checkpoint),
                 "source": str(train_h5.resolve()), "source_fingerprint": fingerprint(train_h5),
                 "version": recipe.version, "rule": _RULE}
        stats, n_relabelled = _write(path, model, train_h5, n, stage, threshold, batch_size,
                                     amp, patch_config.compression, attrs, progress)
        meta = {k: (json.loads(v) if k == "relabelled_subsets" else v) for k, v in attrs.items()}
        with atomic_path(stats_path(path)) as tmp:
            tmp.write_text(json.dumps({**meta, "n_patches": n_relabelled, **stats.to_dict()},
                                      indent=1) + "\n")
        log.info("stage %d pseudo-labels: %s", stage, stats.summary())

    # The stats are part of the artefact: without them the file is rebuilt.
    path, built = ensure(out_path, recipe, build, force=force or not stats_path(out_path).is_file())
    return PseudoLabels(path, load_stats(path), built)



def _write(path: Path, model: Any, train_h5: Path, n: int, stage: int, threshold: float,
           batch_size: int, amp: bool, compression: str, attrs: Mapping[str, Any],
           progress: bool) -> tuple[RelabelStats, int]:
    """Write the pseudo-label file atomically (``model`` on its device, in eval mode); return
    the stats and the number of patches relabelled."""
    comp = None if compression == "none" else compression
    stats = RelabelStats.zero()
    with h5py.File(train_h5, "r") as src:
        subset = src["subset"][:]
        patch = tuple(src["label"].shape[1:])
        todo = np.flatnonzero(np.isin(subset, relabelled_subsets(stage)))
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as dst:
            label = dst.create_dataset("label", (n, *patch), np.uint8, chunks=(1, *patch),
                                       compression=comp, fillvalue=0)
            dst.create_dataset("subset", data=subset)
            for idx in _blocks(np.flatnonzero(subset == 0), READ_BLOCK):
                label[idx] = src["label"][idx]
            bar = tqdm(total=len(todo), desc=f"pseudo-labels stage {stage}", unit="patch",
                       leave=False, disable=disable_bar(progress))
            for idx in _blocks(todo, READ_BLOCK):
                fmask = src["label"][idx]
                classes, top = predict_patches(model, src["image"][idx], batch_size=batch_size,
                                               amp=amp)
                new = pseudo_labels(classes, top, fmask, subset[idx], stage, threshold)
                label[idx] = new
                stats = stats + relabel_stats(fmask, new, top < threshold)
                bar.update(len(idx))
            bar.close()
            dst.attrs.update(attrs)
    return stats, len(todo)


def read_pseudo_labels(path: str | os.PathLike, train_h5: str | os.PathLike) -> np.ndarray:
    """The ``label`` array of a pseudo-label file, checked to belong to ``train_h5``.

    Returns:
        uint8 (N, P, P) over all patches of ``train_h5`` (the ``labels=`` of
        :class:`~dfmask_lib.dataset.PatchDataset`).

    Raises:
        MissingDataError: no file. DataFileError: not a pseudo-label file, or made from another
        (version of the) patch file.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"no pseudo-label file at {path}; relabel first (`dfmask selftrain`)")
    try:
        with h5py.File(path, "r") as f:
            made_from = f.attrs.get("source_fingerprint")
            labels = f["label"][:]
    except (OSError, KeyError) as exc:
        raise DataFileError(f"{path} is not a pseudo-label file ({exc}); relabel again") from None
    if made_from != fingerprint(train_h5):
        raise DataFileError(f"{path} was made from another version of {train_h5}; relabel again "
                            "(rerun `dfmask selftrain`)")
    return labels
