"""Supervised training of one self-training stage: one readable loop, resumable bit for bit.

Recipe (Nambiar et al. 2022, Remote Sens. 14:1825, doi:10.3390/rs14081825, and the authors'
code): cross-entropy with class 0 ignored and median-frequency-balanced class weights, Adam (learning
rate per stage, weight decay 1e-5, no schedule), up to 400 epochs, early stopping when the
10-epoch moving average of the validation mIoU (classes 1-5, labelled pixels of the
human-labelled validation patches) has not improved for 10 epochs, keep the epoch with the best
validation mIoU. Augmentation from stage 1 on.

Deviation from the authors (documented): batch size 8 instead of 1 (BatchNorm statistics and
throughput; the learning rates of the table are kept), optional mixed precision.

The stages of the self-training (which subsets, which labels, pseudo-labels from the previous
stage) are run by :mod:`dfmask_lib.selftrain`; this module trains one of them.

Outputs in ``out_dir`` (default ``runs/<experiment>/stage<N>/``): ``config.json`` (the
:class:`TrainConfig`), ``last.pt`` and ``best.pt`` (model, optimizer, RNG states, epoch, history,
config), ``log.csv`` and ``log.json`` (one row per epoch). Every file is written atomically.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import json
import math
import os
import pickle
import random
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .atomic import atomic_path
from .augment import augment_batch, photometric
from .classes import CLASS_CODES, CLASS_NAMES, SCORED_CLASSES
from .config import config_from_dict, config_to_dict, save_config
from .device import autocast, needs_grad_scaler, resolve_device
from .distributed import (Distributed, ShardedBatchSampler, all_sum, global_batchnorm,
                          global_weighted_loss)
from .errors import BandError, ConfigError, DataFileError, MissingDataError
from .metrics import confusion_matrix, scores
from .patches import INPUT_SETS, fingerprint
from .dataset import PatchDataset
from .paths import PROJECT_ROOT
from .unet import STAGES, UNet, UNetConfig
from .progress import disable_bar
from .version import get_version

__all__ = [
    "LEARNING_RATES", "TrainConfig", "TrainResult", "mfb_weights", "moving_average",
    "should_stop", "train", "load_checkpoint", "load_result", "clear_run", "classes_from_logits",
    "predict_patches", "run_dir", "default_workers", "make_loader", "read_checkpoint",
]

#: Adam learning rate per stage (Nambiar et al. 2022, stage table).
LEARNING_RATES: Mapping[int, float] = MappingProxyType({0: 1e-3, 1: 7e-4, 2: 3e-4, 3: 1e-4})
#: Channel names of the patches by channel count (7 "swirndsi", 13 "all13"): what photometric
#: augmentation needs to find B03, B11 and NDSI.
_CHANNELS_BY_COUNT: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {len(v): tuple(v) for v in INPUT_SETS.values()})
#: Fields that may change when a run is resumed (they do not change the numbers).
RESUMABLE_CHANGES = ("max_epochs", "num_workers")
#: The files of a run in its output folder (``config.json`` is rewritten by every start).
RUN_FILES = ("last.pt", "best.pt", "log.csv", "log.json")


def default_workers() -> int:
    """Data-loader workers by default: min(2, CPU count)."""
    return min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class TrainConfig:
    """One training run of one stage (saved as ``config.json`` and in every checkpoint).

    Attributes:
        stage: self-training stage 0-3; picks the network size and learning rate.
        in_channels: network input channels (7 for "swirndsi" patches, 13 for "all13").
        lr: Adam learning rate; None = the stage's rate from :data:`LEARNING_RATES`.
        weight_decay: Adam L2 penalty, 1e-5 as in the authors' code.
        batch_size: 8, a deviation from the authors' batch 1: steadier BatchNorm statistics and
            much higher throughput; the learning rates of the table are kept.
        max_epochs: upper bound, 400 as in the paper (early stopping ends runs sooner).
        patience: epochs without improvement of the moving-average validation mIoU before
            stopping (10 in the paper).
        ma_window: epochs in that moving average (10 in the paper).
        augment: on-the-fly augmentation; None = the paper's choice (off in stage 0, on after).
        photometric: also apply :func:`~dfmask_lib.augment.photometric` (haze, blur, per-band
            gain/offset, noise; NDSI recomputed) after the geometric transforms, wherever
            ``augment`` is on (it needs ``augment``). Off by default: the paper has no such step.
        full: supervised mode: train on all patches (every subset) with their stored labels,
            instead of the self-training subsets 0..stage.
        amp: mixed precision (bf16 on CPU / bf16 or fp16 + grad scaling on CUDA).
        channels_last: NHWC memory format (faster convolutions on CPU and recent GPUs).
        num_workers: data-loader worker processes (default min(2, CPU count)).
        seed: seeds python, numpy, torch, the shuffling and the augmentation.
        device: "auto" (CUDA if available else CPU), "cpu" or "cuda[:N]".
        deterministic: deterministic algorithms (bit-identical reruns and resumes on CPU; on
            CUDA they cost speed and a few ops only warn).
        start_filters, depth: override the stage's network size (tiny nets for tests).
        dropout: Dropout2d probability of the U-Net blocks (0.25 as in the authors' code).
    """

    stage: int = 0
    in_channels: int = 7
    lr: float | None = None
    weight_decay: float = 1e-5
    batch_size: int = 8
    max_epochs: int = 400
    patience: int = 10
    ma_window: int = 10
    augment: bool | None = None
    photometric: bool = False
    full: bool = False
    amp: bool = False
    channels_last: bool = False
    num_workers: int = field(default_factory=default_workers)
    seed: int = 0
    device: str = "auto"
    deterministic: bool = True
    start_filters: int | None = None
    depth: int | None = None
    dropout: float = 0.25

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"stage must be one of {sorted(STAGES)}, got {self.stage}")
        if self.lr is None:
            object.__setattr__(self, "lr", LEARNING_RATES[self.stage])
        if self.augment is None:
            object.__setattr__(self, "augment", self.stage > 0)
        for name in ("batch_size", "max_epochs", "patience", "ma_window", "in_channels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.photometric and not self.augment:
            raise ConfigError("TrainConfig.photometric needs augment=True (stage 0 has no "
                              "augmentation by default); set augment=True or photometric=False")
        if self.photometric and self.in_channels not in _CHANNELS_BY_COUNT:
            raise ConfigError(f"photometric needs the channels of an input set "
                              f"({sorted(_CHANNELS_BY_COUNT)} channels), got in_channels="
                              f"{self.in_channels}")
        if self.num_workers < 0 or not self.lr > 0:
            raise ConfigError(f"need num_workers >= 0 and lr > 0, got {self.num_workers}, {self.lr}")

    def model_config(self) -> UNetConfig:
        """The :class:`UNetConfig` of this run (the stage's size unless overridden)."""
        filters, depth = STAGES[self.stage]
        return UNetConfig(in_channels=self.in_channels, start_filters=self.start_filters or filters,
                          depth=self.depth or depth, dropout=self.dropout)


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or stopped) run produced.

    ``data``: what it trained on, as its checkpoints record it (patch files, subsets, patch
    counts, the MFB ``class_weights`` of the labels used, data fingerprints).
    """

    out_dir: Path
    best_epoch: int
    best_miou: float
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, Any]]
    data: Mapping[str, Any] = field(default_factory=dict)


def run_dir(experiment: str, stage: int) -> Path:
    """Default output folder ``runs/<experiment>/stage<N>`` under the project root."""
    return PROJECT_ROOT / "runs" / experiment / f"stage{stage}"


# --------------------------------------------------------------------------- pure functions


def mfb_weights(hist: Sequence[int] | np.ndarray) -> np.ndarray:
    """Median-frequency-balanced class weights from pixel counts of classes 0-5.

    w_c = median(freq) / freq_c over the scored classes 1-5 present (freq_c > 0) (Eigen & Fergus
    2015, as used by Nambiar et al. 2022); class 0 and absent classes get weight 0 (a warning
    names the absent ones). Recompute from the labels actually used, every time they change.

    Args:
        hist: int counts (6,) of classes 0-5.

    Returns:
        float32 (6,) weights.

    Raises:
        DataFileError: if no pixel of classes 1-5 is labelled.
    """
    hist = np.asarray(hist, dtype=np.float64)
    if hist.shape != (len(CLASS_CODES),) or (hist < 0).any():
        raise ConfigError(f"class histogram must be 6 non-negative counts, got {hist}")
    scored = hist[list(SCORED_CLASSES)]
    present = scored > 0
    if not present.any():
        raise DataFileError("no labelled pixel (classes 1-5) in the training data; check its labels")
    absent = [CLASS_NAMES[c] for c, p in zip(SCORED_CLASSES, present) if not p]
    if absent:
        warnings.warn(f"classes absent from the training labels get weight 0: {absent}", stacklevel=2)
    freq = scored / scored.sum()
    median = np.median(freq[present])
    weights = np.zeros(len(CLASS_CODES), dtype=np.float32)
    weights[list(SCORED_CLASSES)] = np.where(present, median / np.where(present, freq, 1), 0)
    return weights


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average (over the last ``window`` values, fewer at the start)."""
    return [float(np.mean(values[max(0, i + 1 - window): i + 1])) for i in range(len(values))]


def should_stop(val_miou: Sequence[float], window: int = 10, patience: int = 10) -> bool:
    """True when the ``window``-epoch moving average has not improved for ``patience`` epochs."""
    if len(val_miou) <= patience:
        return False
    ma = moving_average([0.0 if math.isnan(v) else v for v in val_miou], window)
    best = int(np.argmax(ma))  # first epoch reaching the maximum
    return len(ma) - 1 - best >= patience


# --------------------------------------------------------------------------- checkpoints


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": [name, keys.tolist(), pos, has_gauss, cached]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def clear_run(out_dir: str | os.PathLike) -> None:
    """Remove a run's :data:`RUN_FILES` from ``out_dir`` (to start it afresh)."""
    for name in RUN_FILES:
        (Path(out_dir) / name).unlink(missing_ok=True)


def _save(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
                    mmap: bool = False) -> dict[str, Any]:
    """``torch.load`` of a dfmask checkpoint (weights only: no code is ever unpickled).

    Raises:
        DataFileError: the file is not a torch checkpoint of plain tensors and values
            (truncated, another format, a pickle of objects).
    """
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError,
            AttributeError, zipfile.BadZipFile) as exc:
        why = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise DataFileError(f"{path} is not a dfmask checkpoint ({why}); give a best.pt or "
                            "last.pt written by dfmask train") from None
    if not isinstance(ckpt, dict):
        raise DataFileError(f"{path} is not a dfmask checkpoint (it holds a "
                            f"{type(ckpt).__name__}, not a dict); give a best.pt written by "
                            "dfmask train")
    return ckpt


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[UNet, TrainConfig, dict]:
    """Rebuild a checkpoint's model from its stored config.

    Returns:
        (model in eval mode on ``device``, its :class:`TrainConfig`, the checkpoint dict).

    Raises:
        MissingDataError: no file. DataFileError: not a dfmask checkpoint, or weights that do
            not fit the U-Net of its stored config.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"no checkpoint at {path}; train with `dfmask train` first")
    try:
        ckpt = read_checkpoint(path, device)
        config = config_from_dict(TrainConfig, ckpt["config"])
    except (KeyError, ConfigError, TypeError) as exc:
        raise DataFileError(f"{path} is not a dfmask checkpoint ({exc}); retrain") from None
    model = UNet(config.model_config())
    try:
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError) as exc:  # weights of another architecture than its config
        lines = [ln.strip() for ln in str(exc).strip().splitlines()[1:] if ln.strip()]
        why = (lines[0][:160] if lines else str(exc)[:160]).rstrip(".")
        raise DataFileError(f"{path}: its weights do not fit the network of its stored config "
                            f"({why}); use a checkpoint written by dfmask train") from None
    return model.to(device).eval(), config, ckpt


# --------------------------------------------------------------------------- prediction


def classes_from_logits(logits: torch.Tensor, image: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Class map and top softmax probability from logits (N, 6, H, W).

    The argmax runs over classes 1-5 only: code 0 (no data) is never a prediction — no data
    comes from the input, not from the network. Where ``image`` (N, C, H, W) is 0 in every
    channel (no data, patch padding) the class is set to 0. The probability is the softmax over
    all logits (what the pseudo-labelling threshold of the later stages uses).

    Returns:
        classes uint8 (N, H, W) and confidence float32 (N, H, W).
    """
    prob = torch.softmax(logits.float(), dim=1)
    top, arg = prob[:, 1:].max(dim=1)
    classes = (arg + 1).to(torch.uint8)
    if image is not None:
        classes[(image == 0).all(dim=1)] = 0
    return classes, top


@torch.no_grad()
def predict_patches(
    model: nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 8,
    amp: bool = False, device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Class map and top softmax probability of patches.

    Args:
        model: a :class:`UNet` (put in eval mode here).
        images: float32 (N, C, H, W) in the model's channel order, H and W multiples of
            2**(depth-1).
        device: where to run (the model is moved there); default the model's device.

    Returns:
        classes uint8 (N, H, W) and confidence float32 (N, H, W), see :func:`classes_from_logits`.
    """
    images = torch.as_tensor(images)
    if images.ndim != 4 or images.dtype != torch.float32:
        raise BandError(f"images must be float32 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if device is None:
        device = next(model.parameters()).device
    else:
        device = resolve_device(str(device))
        model.to(device)  # the inputs go to ``device``: the weights must be there too
    model.eval()
    classes, confidence = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        with autocast(device, amp):
            logits = model(x)
        cls, top = classes_from_logits(logits, x)
        classes.append(cls.cpu())
        confidence.append(top.cpu())
    return torch.cat(classes).numpy(), torch.cat(confidence).numpy()


# --------------------------------------------------------------------------- loaders


def _freeze_inherited(worker_id: int) -> None:
    """``worker_init_fn``: a forked worker never collects what it inherited from the parent.

    A worker is a fork of the training process, so it holds copies of the parent's objects,
    among them garbage in reference cycles not yet collected. Were the worker's collector to
    free an older loader's iterator, its finaliser would run in the wrong process and print
    "AssertionError: can only test a child process". ``gc.freeze`` moves everything the
    worker inherited out of the collector's reach; what the worker itself allocates is still
    collected.
    """
    gc.freeze()


def make_loader(dataset: torch.utils.data.Dataset, batch_size: int, num_workers: int,
                device: torch.device, generator: torch.Generator | None = None,
                batch_sampler: torch.utils.data.Sampler | None = None) -> DataLoader:
    """A batch loader: shuffled when given a ``generator``, workers started afresh per pass.

    With a ``batch_sampler`` (torchrun: :class:`~dfmask_lib.distributed.ShardedBatchSampler`)
    the batches are its own and ``generator`` seeds only the workers.

    Workers are not persistent (see :func:`train`), pin memory only for CUDA, and each worker
    freezes what it inherits (:func:`_freeze_inherited`).
    """
    init = _freeze_inherited if num_workers > 0 else None
    if batch_sampler is not None:
        return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=num_workers,
                          generator=generator, pin_memory=device.type == "cuda",
                          worker_init_fn=init)
    return DataLoader(dataset, batch_size=batch_size, shuffle=generator is not None,
                      drop_last=False, num_workers=num_workers, generator=generator,
                      pin_memory=device.type == "cuda", worker_init_fn=init)


# --------------------------------------------------------------------------- the loop


def _train_epoch(model: nn.Module, loader: DataLoader, loss_fn: nn.CrossEntropyLoss,
                 optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, cfg: TrainConfig,
                 device: torch.device, augment_gen: torch.Generator, desc: str,
                 progress: bool, ddp: Distributed = Distributed()) -> float:
    """One pass over the training loader; returns the mean batch loss.

    Under torchrun (``ddp.enabled``) the batches are this rank's shares of the global batches
    and the loss is the global batch's (:func:`dfmask_lib.distributed.global_weighted_loss`).
    """
    model.train()
    loss_sum, n_batches = 0.0, 0
    # A bar of its own, not tqdm(loader): tqdm.auto's asyncio class calls iter() on what it
    # wraps, and a second, never-used DataLoader iterator started its own workers each epoch
    # (time, a shifted shuffle, and "can only test a child process" when it was collected).
    bar = tqdm(total=len(loader), desc=desc, unit="batch", leave=False,
               disable=disable_bar(progress))
    for batch in loader:
        bar.update()
        x, y = _to_device(batch, device, cfg.channels_last)
        if cfg.augment:
            x, y = augment_batch(x, y, augment_gen)
            if cfg.photometric:
                x = photometric(x, augment_gen, _CHANNELS_BY_COUNT[cfg.in_channels])
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        labelled = bool((y > 0).any())
        if ddp.enabled:  # every rank skips, or none does: they meet in the gradient all-reduce
            labelled = bool(all_sum(torch.tensor([float(labelled)], device=device))[0] > 0)
        if not labelled:
            continue  # nothing labelled left (cut-out): the weighted mean would be 0/0
        with autocast(device, cfg.amp):
            if ddp.enabled:
                loss, value = global_weighted_loss(model(x).float(), y, loss_fn.weight,
                                                   ddp.world_size)
            else:
                loss = loss_fn(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += value if ddp.enabled else float(loss.detach())
        n_batches += 1
    bar.close()
    return loss_sum / max(n_batches, 1)


def _evaluate(model: nn.Module, loader: DataLoader, loss_fn: nn.Module, cfg: TrainConfig,
              device: torch.device) -> tuple[float, np.ndarray]:
    """Validation loss and confusion matrix over the labelled pixels."""
    model.eval()
    cm = np.zeros((len(CLASS_CODES), len(CLASS_CODES)), dtype=np.int64)
    loss_sum, n = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            x, y = _to_device(batch, device, cfg.channels_last)
            with autocast(device, cfg.amp):
                logits = model(x)
            if (y > 0).any():
                loss_sum += float(loss_fn(logits.float(), y)) * len(y)
                n += len(y)
            pred = classes_from_logits(logits, x)[0].cpu().numpy()
            cm += confusion_matrix(y.cpu().numpy().astype(np.uint8), pred)
    return (loss_sum / n if n else float("nan")), cm


def _to_device(batch: Mapping[str, torch.Tensor], device: torch.device,
               channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x = batch["image"].to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, batch["mask"].to(device, non_blocking=True)


def _write_logs(out_dir: Path, history: list[dict[str, Any]]) -> None:
    with atomic_path(out_dir / "log.json") as tmp:
        tmp.write_text(json.dumps(history, indent=1) + "\n")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    with atomic_path(out_dir / "log.csv") as tmp:
        tmp.write_text(buf.getvalue())


def _check_resumable(ckpt: dict, cfg: TrainConfig, data_info: dict, out_dir: Path) -> None:
    """Refuse to resume a run with another configuration or other data."""
    now, saved = config_to_dict(cfg), ckpt["config"]
    diff = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if diff:
        raise ConfigError(
            f"cannot resume: the configuration differs in {diff}; resume with the same settings "
            "or train into a new --out-dir"
        )
    if ckpt["data"]["fingerprint"] != data_info["fingerprint"]:
        raise ConfigError(
            f"cannot resume {out_dir}: its training or validation data (or labels) changed "
            "since the run started; train into a new out dir or delete the old run"
        )


def _epoch_row(epoch: int, train_loss: float, val_loss: float, cm: np.ndarray,
               seconds: float) -> dict[str, Any]:
    """One line of the training log."""
    sc = scores(cm)
    return {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
            "val_miou": sc.miou, "val_oa": sc.oa,
            **{f"iou_{c}": sc.iou[c] for c in SCORED_CLASSES}, "time_s": round(seconds, 3)}


def train(
    cfg: TrainConfig,
    train_h5: str | os.PathLike,
    val_h5: str | os.PathLike,
    out_dir: str | os.PathLike,
    resume: bool = False,
    restart_on_change: bool = False,
    labels: np.ndarray | None = None,
    progress: bool = True,
    on_epoch: Callable[[int, Path], None] | None = None,
) -> TrainResult:
    """Train one stage; resume from ``out_dir/last.pt`` when ``resume`` (bit-identical on CPU).

    Args:
        cfg: the run's :class:`TrainConfig`.
        train_h5: training patch file (Fmask labels, ``subset`` split); ``val_h5``: validation
            patch file (human labels).
        out_dir: output folder (see the module docstring).
        resume: continue an interrupted run; a finished run is returned as it is.
        restart_on_change: with ``resume``, start afresh (replacing the old run's files, with a
            warning) when the old run had another configuration or other data, instead of
            raising (for the book: regenerated data retrain, an unchanged run is only reloaded).
        labels: pseudo-labels (N, P, P) uint8 over all training patches, required for stages > 0
            outside ``full`` mode (they come from the previous stage's model:
            :func:`dfmask_lib.pseudolabels.relabel`); the class weights follow them.
        progress: show tqdm bars.
        on_epoch: called as ``on_epoch(epoch, last_pt)`` after each epoch's checkpoint is
            written (1-based epoch; e.g. to keep or score every epoch's weights). Not part of
            the run's configuration: it never changes what is trained.

    Raises:
        ConfigError: an impossible setting, an existing run without ``resume``, or a resume with
            a different configuration. DataFileError / MissingDataError: bad patch files.
    """
    out_dir = Path(out_dir)
    last = out_dir / "last.pt"
    if cfg.stage > 0 and not cfg.full and labels is None:
        raise ConfigError(
            f"stage {cfg.stage} trains on subsets 0..{cfg.stage} relabelled by the stage "
            f"{cfg.stage - 1} model: run the self-training with `dfmask selftrain` "
            "(dfmask_lib.selftrain), or use full mode (--full) for supervised training on "
            "Fmask labels"
        )
    if last.exists() and not resume:
        raise ConfigError(f"{out_dir} already holds a run; pass resume=True (--resume) or a new out dir")
    device = resolve_device(cfg.device)
    ddp = Distributed.from_env(device)  # a torchrun job: one rank of it (see distributed.py)
    try:
        return _train(cfg, train_h5, val_h5, out_dir, resume, restart_on_change, labels,
                      progress and ddp.is_writer, on_epoch, ddp.device(device), ddp)
    finally:
        ddp.close()


def _train(cfg: TrainConfig, train_h5: str | os.PathLike, val_h5: str | os.PathLike,
           out_dir: Path, resume: bool, restart_on_change: bool, labels: np.ndarray | None,
           progress: bool, on_epoch: Callable[[int, Path], None] | None, device: torch.device,
           ddp: Distributed) -> TrainResult:
    """The body of :func:`train` for one process (rank ``ddp.rank`` of a torchrun job)."""
    last = out_dir / "last.pt"
    if cfg.deterministic:
        # Process-wide setting (torch has no scoped form); ops without a deterministic
        # implementation only warn.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by cuBLAS
        torch.use_deterministic_algorithms(True, warn_only=True)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    subsets = None if cfg.full else list(range(cfg.stage + 1))
    train_set = PatchDataset(train_h5, subsets=subsets, labels=labels, in_channels=cfg.in_channels)
    val_set = PatchDataset(val_h5, in_channels=cfg.in_channels)
    if len(train_set) == 0 or len(val_set) == 0:
        raise DataFileError(
            f"no patches to train on ({len(train_set)}) or validate with ({len(val_set)})")
    # MFB weights from the labels this run actually uses (never stale after relabelling).
    class_weights = mfb_weights(train_set.class_histogram())
    # Validation label codes checked here, in this process: an error raised later inside a
    # data-loader worker would arrive as a worker traceback, after a whole training epoch.
    if not val_set.class_histogram()[list(SCORED_CLASSES)].any():
        raise DataFileError(f"{val_h5} holds no labelled pixel (classes 1-5); check its labels")

    net = UNet(cfg.model_config()).to(device)
    if ddp.enabled:
        global_batchnorm(net)  # BatchNorm statistics of the global batch
    if cfg.channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=needs_grad_scaler(device, cfg.amp))
    loss_fn = nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights).to(device), ignore_index=0)

    data_info = {"train_h5": str(train_h5), "val_h5": str(val_h5), "subsets": subsets,
                 "n_train": len(train_set), "n_val": len(val_set),
                 "class_weights": class_weights.tolist(),
                 "fingerprint": [fingerprint(train_h5), fingerprint(val_h5),
                                 "" if labels is None else hashlib.sha256(labels).hexdigest()[:16]]}
    start_epoch, history, stopped = 0, [], False
    if resume and last.exists() and restart_on_change:
        try:
            _check_resumable(read_checkpoint(last), cfg, data_info, out_dir)
        except ConfigError as exc:
            warnings.warn(f"starting {out_dir} afresh: {exc}", stacklevel=2)
            ddp.barrier()  # every rank has read the old run before the writer removes it
            if ddp.is_writer:
                clear_run(out_dir)
            ddp.barrier()
    if resume and last.exists():
        # On the CPU: RNG states must stay CPU byte tensors (torch.set_rng_state refuses CUDA
        # ones); load_state_dict moves weights and optimizer state to the model's device.
        ckpt = read_checkpoint(last)
        _check_resumable(ckpt, cfg, data_info, out_dir)
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scaler.load_state_dict(ckpt["scaler"])
        _set_rng_state(ckpt["rng"])
        start_epoch, history, stopped = ckpt["epoch"], list(ckpt["history"]), ckpt["stopped_early"]
    if ddp.is_writer:
        save_config(cfg, out_dir / "config.json")
    model: nn.Module = net
    if ddp.enabled:  # after any resume: every rank starts from the same weights
        model = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)

    # Shuffling and augmentation draw from generators reseeded per epoch: the order of an
    # epoch never depends on how the run got there (resume-safe); dropout uses the global RNG,
    # whose state travels in the checkpoint. Workers are not persistent: a loader draws its
    # worker base seed (from its generator, or the global RNG) each time it starts workers,
    # and only a fresh start every epoch makes that draw the same in a resumed run as in an
    # uninterrupted one.
    shuffle_gen, augment_gen = torch.Generator(), torch.Generator()
    workers = cfg.num_workers
    if ddp.enabled:  # this rank's shares of the global batches one process would draw
        sampler = ShardedBatchSampler(len(train_set), cfg.batch_size, ddp.rank, ddp.world_size,
                                      shuffle_gen)
        train_loader = make_loader(train_set, cfg.batch_size, workers, device,
                                   generator=torch.Generator(), batch_sampler=sampler)
    else:
        train_loader = make_loader(train_set, cfg.batch_size, workers, device,
                                   generator=shuffle_gen)
    val_loader = make_loader(val_set, cfg.batch_size, workers, device)
    epochs = tqdm(range(start_epoch, cfg.max_epochs), desc=f"stage {cfg.stage}", unit="epoch",
                  initial=start_epoch, total=cfg.max_epochs, disable=disable_bar(progress and not stopped))
    for epoch in epochs:
        if stopped:
            break
        t0 = time.perf_counter()
        shuffle_gen.manual_seed(cfg.seed * 100_003 + epoch)
        augment_gen.manual_seed(cfg.seed * 100_019 + epoch + 1 + 7919 * ddp.rank)
        if ddp.enabled:
            train_loader.generator.manual_seed(cfg.seed * 100_043 + epoch + 7919 * ddp.rank)
        train_loss = _train_epoch(model, train_loader, loss_fn, optimizer, scaler, cfg, device,
                                  augment_gen, f"epoch {epoch + 1}", progress, ddp)
        val_loss, cm = _evaluate(net, val_loader, loss_fn, cfg, device)  # every rank: all of it
        row = _epoch_row(epoch + 1, train_loss, val_loss, cm, time.perf_counter() - t0)
        history.append(row)
        mious = [h["val_miou"] for h in history]
        stopped = should_stop(mious, cfg.ma_window, cfg.patience)
        if not ddp.is_writer:  # one checkpoint writer: rank 0
            if stopped:
                break
            continue
        ckpt = {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(), "rng": _rng_state(), "epoch": epoch + 1,
                "history": history, "config": config_to_dict(cfg), "stopped_early": stopped,
                "data": data_info, "version": get_version()}
        scored = np.nan_to_num(mious, nan=-1.0)  # an all-NaN epoch is never the best
        if not (out_dir / "best.pt").exists() or scored[-1] > scored[:-1].max(initial=-1.0):
            _save(out_dir / "best.pt", ckpt)
        _save(last, ckpt)  # last, so that a crash in between resumes from the older epoch
        _write_logs(out_dir, history)
        if on_epoch is not None:
            on_epoch(epoch + 1, last)
        epochs.set_postfix(loss=f"{row['train_loss']:.3f}", miou=f"{row['val_miou']:.3f}")
        if stopped:
            break
    epochs.close()
    ddp.barrier()  # the writer's last checkpoint is complete before any rank returns
    if not history:
        raise ConfigError(f"no epoch was run (max_epochs {cfg.max_epochs}, resumed at {start_epoch})")
    return _result(out_dir, history, stopped, data_info)


def _result(out_dir: Path, history: list[dict[str, Any]], stopped: bool,
            data: Mapping[str, Any]) -> TrainResult:
    mious = np.nan_to_num([h["val_miou"] for h in history], nan=-1.0)
    best = int(np.argmax(mious))  # the epoch best.pt holds
    return TrainResult(out_dir, best + 1, float(history[best]["val_miou"]), len(history),
                       stopped, history, dict(data))


def load_result(out_dir: str | os.PathLike) -> TrainResult:
    """The :class:`TrainResult` of the run in ``out_dir`` as it stands (from its ``last.pt``).

    What :func:`train` returned when the run ended, without building data or model.

    Raises:
        MissingDataError: no ``last.pt``. DataFileError: not a dfmask checkpoint.
    """
    out_dir = Path(out_dir)
    last = out_dir / "last.pt"
    if not last.is_file():
        raise MissingDataError(f"no run in {out_dir} (no last.pt); train it first")
    try:
        ckpt = read_checkpoint(last, mmap=True)
        history, stopped, data = list(ckpt["history"]), bool(ckpt["stopped_early"]), ckpt["data"]
    except (KeyError, TypeError) as exc:
        raise DataFileError(f"{last} is not a dfmask checkpoint ({exc}); retrain") from None
    if not history:
        raise DataFileError(f"{last} holds no epoch; retrain")
    return _result(out_dir, history, stopped, data)
