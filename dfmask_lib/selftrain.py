"""Self-training: four stages, each a bigger U-Net trained on more patches relabelled by the last.

The plan (Nambiar et al. 2022, Remote Sens. 14:1825, doi:10.3390/rs14081825, "Self-training"):

=====  ==================  =======  ===========  ===============================================
stage  net (filters/lev.)  Adam lr  trains on    labels
=====  ==================  =======  ===========  ===============================================
0      16 / 5              1e-3     subset 0     Fmask
1      32 / 5              7e-4     subsets 0-1  subset 0 Fmask, subset 1 from the stage-0 model
2      24 / 6              3e-4     subsets 0-2  subset 0 Fmask, 1-2 from the stage-1 model
3      32 / 6              1e-4     subsets 0-3  subset 0 Fmask, 1-3 from the stage-2 model
=====  ==================  =======  ===========  ===============================================

Network sizes, learning rates, subsets and augmentation (from stage 1 on) come from
:class:`dfmask_lib.train.TrainConfig`; the pseudo-label rule from :mod:`dfmask_lib.pseudolabels`.
Each stage's MFB class weights are computed from the labels it trains on, and its model is
selected on the human-labelled validation patches (:func:`dfmask_lib.train.train`). The
supervised baseline (all patches, Fmask labels) is ``dfmask train --full``, not this module.

An experiment folder (default ``runs/<EXP>`` under the project root)::

    manifest.json          settings, code version, input fingerprints, per-stage status
    stage0/                config.json, best.pt (+ best.pt.recipe.json), last.pt, log.csv, log.json
    stage<k>/ (k = 1-3)    pseudolabels.h5 (+ .recipe.json), pseudolabels.stats.json, the run files

``manifest.json`` holds ``config`` (the :class:`SelfTrainConfig`), ``version`` (the code that
last ran it), ``inputs`` (path, fingerprint, patches, channels, bands of both patch files; the
training file's subset sizes) and ``stages``: per stage a ``status`` (``pending``, ``running``,
``done``) and, once done, its ``train_config``, ``subsets``, ``n_train``, ``class_weights``,
``best_epoch``, ``best_miou``, ``epochs_run``, ``stopped_early``, ``checkpoint``, whether the
last run ``trained`` it (or reused it), its ``pseudolabels`` file and ``pseudolabel_stats``
(paths relative to the experiment folder).

Rerunning is safe after an interruption anywhere. A stage whose ``best.pt`` is fresh
(:mod:`dfmask_lib.cache`: same patch files, pseudo-labels, :class:`TrainConfig` and code
version) is skipped; a stale one is trained with ``resume=True``: an interrupted run with the same
settings and labels continues from its ``last.pt`` (bit-identical on CPU), a changed one (other
labels, settings or code version) starts afresh. Pseudo-labels are cached the same way, so a
retrained stage k-1 relabels and retrains everything after it. An experiment of other settings
or inputs is never replaced without ``overwrite``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

from . import version
from .atomic import atomic_path
from .cache import Recipe, ensure
from .config import config_to_dict
from .errors import ConfigError, DataFileError, MissingDataError
from .patches import INPUT_SETS, check_patch_file, fingerprint, read_patch_config
from .paths import PROJECT_ROOT
from .pseudolabels import PSEUDO_LABEL_THRESHOLD, PseudoLabels, read_pseudo_labels, relabel
from .train import (TrainConfig, TrainResult, clear_run, default_workers, load_result,
                    read_checkpoint, train)
from .unet import STAGES

__all__ = [
    "MANIFEST", "PSEUDOLABELS", "SelfTrainConfig", "StageResult", "SelfTrainResult", "selftrain",
    "experiment_dir", "stage_dir", "load_manifest", "best_checkpoint", "checkpoint_recipe",
    "histories", "summary_table",
]

log = logging.getLogger(__name__)

#: The experiment's record, in its folder.
MANIFEST = "manifest.json"
#: A stage's pseudo-label file, in its stage folder.
PSEUDOLABELS = "pseudolabels.h5"
#: :class:`SelfTrainConfig` fields that may change between runs of one experiment: they change
#: no stage's numbers (more stages extend it, fewer leave the later ones as they are).
REUSABLE_CHANGES = ("stages", "num_workers")
#: TrainConfig fields left out of a checkpoint's cache recipe (they do not change the model).
_NOT_IN_RECIPE = ("num_workers",)


@dataclass(frozen=True)
class SelfTrainConfig:
    """One self-training experiment (saved in ``manifest.json``).

    Attributes:
        stages: the stages to run, always 0..K (K <= 3): stage k relabels with stage k-1.
        max_epochs: epoch limit of every stage (400 in the paper), or one per stage.
        batch_size: 8, the project's deviation from the authors' batch 1 (see train.py).
        amp: bf16/fp16 mixed precision for training and relabelling.
        channels_last: NHWC memory format for training.
        num_workers: data-loader workers (default min(2, CPU count)).
        seed: seed of every stage's run (shuffling, augmentation, dropout).
        device: "auto", "cpu" or "cuda[:N]".
        threshold: pseudo-label confidence threshold (0.4, Nambiar et al. 2022).
        start_filters, depth: override every stage's network size (tiny nets for tests).
        photometric: photometric augmentation (:func:`dfmask_lib.augment.photometric`) in
            every stage, which also turns the geometric augmentation on in stage 0 (the paper
            augments from stage 1 only); off by default, as in the paper.
    """

    stages: tuple[int, ...] = (0, 1, 2, 3)
    max_epochs: int | tuple[int, ...] = 400
    batch_size: int = 8
    amp: bool = False
    channels_last: bool = False
    num_workers: int = field(default_factory=default_workers)
    seed: int = 0
    device: str = "auto"
    threshold: float = PSEUDO_LABEL_THRESHOLD
    start_filters: int | None = None
    depth: int | None = None
    photometric: bool = False

    def __post_init__(self) -> None:
        stages = tuple(int(s) for s in self.stages)
        object.__setattr__(self, "stages", stages)
        if not stages or stages != tuple(range(len(stages))) or stages[-1] not in STAGES:
            raise ConfigError(f"stages run in order from 0 (each relabels with the one before): "
                              f"give 0..K with K in 0-3, got {list(stages)}")
        if isinstance(self.max_epochs, (tuple, list)):
            object.__setattr__(self, "max_epochs", tuple(int(e) for e in self.max_epochs))
            if len(self.max_epochs) != len(stages):
                raise ConfigError(f"give one max_epochs for all stages or one per stage "
                                  f"({len(stages)} for stages 0-{stages[-1]}), got "
                                  f"{list(self.max_epochs)}")
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)
                and 0 <= self.threshold <= 1):
            raise ConfigError(f"threshold is a probability in [0, 1], got {self.threshold!r}")
        for k in stages:  # TrainConfig checks the rest, with its messages (any input set)
            self.train_config(k, in_channels=len(INPUT_SETS["swirndsi"]))

    def epochs(self, stage: int) -> int:
        """The epoch limit of ``stage``."""
        if isinstance(self.max_epochs, tuple):
            return self.max_epochs[self.stages.index(stage)]
        return int(self.max_epochs)

    def train_config(self, stage: int, in_channels: int) -> TrainConfig:
        """The :class:`TrainConfig` of ``stage`` (self-training mode: subsets 0..stage)."""
        return TrainConfig(stage=stage, in_channels=in_channels, batch_size=self.batch_size,
                           max_epochs=self.epochs(stage), amp=self.amp,
                           channels_last=self.channels_last, num_workers=self.num_workers,
                           seed=self.seed, device=self.device, start_filters=self.start_filters,
                           depth=self.depth, photometric=self.photometric,
                           augment=True if self.photometric else None)


@dataclass(frozen=True)
class StageResult:
    """One stage of an experiment.

    Attributes:
        stage: 0-3. config: its :class:`TrainConfig`.
        train: its run (history, best epoch, ``data["class_weights"]``).
        checkpoint: its ``best.pt``. pseudolabels: the labels it trained on (None for stage 0,
            which uses Fmask labels). trained: False when a fresh checkpoint was reused.
    """

    stage: int
    config: TrainConfig
    train: TrainResult
    checkpoint: Path
    pseudolabels: PseudoLabels | None
    trained: bool


@dataclass(frozen=True)
class SelfTrainResult:
    """What :func:`selftrain` produced: one :class:`StageResult` per stage run."""

    exp_dir: Path
    config: SelfTrainConfig
    stages: tuple[StageResult, ...]

    @property
    def best_checkpoint(self) -> Path:
        """The last stage's ``best.pt``."""
        return self.stages[-1].checkpoint


# --------------------------------------------------------------------------- layout


def experiment_dir(experiment: str, runs_dir: str | os.PathLike | None = None) -> Path:
    """``<runs_dir>/<experiment>``; default ``runs_dir``: ``runs/`` under the project root."""
    if not experiment or Path(experiment).name != experiment or experiment in (".", ".."):
        raise ConfigError(f"an experiment is a folder name, got {experiment!r}; use --runs-dir "
                          "for where it goes")
    return Path(runs_dir if runs_dir is not None else PROJECT_ROOT / "runs") / experiment


def stage_dir(exp_dir: str | os.PathLike, stage: int) -> Path:
    """``<exp_dir>/stage<N>``: a stage's run files (and its pseudo-labels for N > 0)."""
    return Path(exp_dir) / f"stage{int(stage)}"


def load_manifest(exp_dir: str | os.PathLike) -> dict[str, Any]:
    """The experiment's ``manifest.json`` (see the module docstring).

    Raises:
        MissingDataError: no manifest. DataFileError: not valid JSON.
    """
    path = Path(exp_dir) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MissingDataError(f"no self-training experiment at {exp_dir} (no {MANIFEST}); "
                               "run `dfmask selftrain` first") from None
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path} is not valid JSON ({exc}); rerun `dfmask selftrain` "
                            "with --overwrite") from None


def best_checkpoint(exp_dir: str | os.PathLike, stage: int | None = None) -> Path:
    """The ``best.pt`` of ``stage``, or of the highest finished stage when None.

    Without a manifest (a folder of ``dfmask train`` runs) the highest ``stage<N>/best.pt``
    present is taken.

    Raises:
        MissingDataError: the stage is not finished, or no stage is.
    """
    exp_dir = Path(exp_dir)
    if (exp_dir / MANIFEST).is_file():
        done = sorted(int(k) for k, v in load_manifest(exp_dir)["stages"].items()
                      if v.get("status") == "done")
    else:
        done = sorted(k for k in STAGES if (stage_dir(exp_dir, k) / "best.pt").is_file())
    if stage is not None and stage not in done:
        raise MissingDataError(f"stage {stage} of {exp_dir} is not finished (finished: "
                               f"{done or 'none'}); run `dfmask selftrain` first")
    if not done:
        raise MissingDataError(f"no finished stage in {exp_dir}; run `dfmask selftrain` first")
    path = stage_dir(exp_dir, done[-1] if stage is None else stage) / "best.pt"
    if not path.is_file():
        raise MissingDataError(f"{path} is missing; rerun `dfmask selftrain`")
    return path


def checkpoint_recipe(cfg: TrainConfig, train_h5: str | os.PathLike, val_h5: str | os.PathLike,
                      pseudolabels: str | os.PathLike | None) -> Recipe:
    """The cache recipe of a stage's ``best.pt``: its patch files, pseudo-labels and config."""
    inputs = [Path(train_h5), Path(val_h5)] + ([] if pseudolabels is None else [Path(pseudolabels)])
    config = {k: v for k, v in config_to_dict(cfg).items() if k not in _NOT_IN_RECIPE}
    return Recipe("checkpoint", inputs=tuple(inputs), config=config, extra={"stage": cfg.stage})


# --------------------------------------------------------------------------- the experiment


def selftrain(config: SelfTrainConfig, train_h5: str | os.PathLike, val_h5: str | os.PathLike,
              exp_dir: str | os.PathLike, *, overwrite: bool = False,
              progress: bool = True) -> SelfTrainResult:
    """Run (or continue) the self-training stages of ``config`` in ``exp_dir``.

    Args:
        config: the :class:`SelfTrainConfig`.
        train_h5: training patch file (``make-data --mode train``: Fmask labels, subsets 0-3).
        val_h5: validation patch file with human labels, same input channels.
        exp_dir: the experiment folder (:func:`experiment_dir`).
        overwrite: take over a folder holding an experiment of other settings or inputs (or
            other runs); its stages still valid for the new ones are reused, the rest rebuilt.
        progress: progress bars.

    Returns:
        :class:`SelfTrainResult`.

    Raises:
        ConfigError: ``exp_dir`` holds another experiment and ``overwrite`` is False.
        MissingDataError / DataFileError: missing or unfit patch files.
    """
    exp_dir = Path(exp_dir)
    train_h5, val_h5 = Path(train_h5).resolve(), Path(val_h5).resolve()  # cache keys on paths
    inputs = _describe_inputs(config, train_h5, val_h5)
    manifest = _claim(exp_dir, config, inputs, overwrite)
    in_channels = inputs["train_h5"]["in_channels"]
    results: list[StageResult] = []
    for k in config.stages:
        _set_stage(exp_dir, manifest, k, status="running")
        res = _run_stage(config.train_config(k, in_channels), config, train_h5, val_h5,
                         stage_dir(exp_dir, k), progress)
        log.info("stage %d %s: best validation mIoU %.3f at epoch %d", k,
                 "trained" if res.trained else "reused", res.train.best_miou,
                 res.train.best_epoch)
        results.append(res)
        _set_stage(exp_dir, manifest, k, **_stage_entry(exp_dir, res))
        if res.trained:
            _outdate_later_stages(exp_dir, manifest, k)
    return SelfTrainResult(exp_dir, config, tuple(results))


def _run_stage(cfg: TrainConfig, config: SelfTrainConfig, train_h5: Path, val_h5: Path,
               out: Path, progress: bool) -> StageResult:
    """Relabel (stages 1-3) and train one stage, each only if its cached result is stale."""
    k, pl = cfg.stage, None
    if k > 0:
        pl = relabel(out.with_name(f"stage{k - 1}") / "best.pt", train_h5, k, out / PSEUDOLABELS,
                     threshold=config.threshold, batch_size=config.batch_size, amp=config.amp,
                     device=config.device, progress=progress)
    recipe = checkpoint_recipe(cfg, train_h5, val_h5, None if pl is None else pl.path)
    build = functools.partial(_train_stage, cfg=cfg, train_h5=train_h5, val_h5=val_h5, out=out,
                              pseudolabels=pl, progress=progress)
    best, trained = ensure(out / "best.pt", recipe, build, force=not (out / "last.pt").is_file())
    return StageResult(k, cfg, load_result(out), best, pl, trained)


def _train_stage(_: Path, *, cfg: TrainConfig, train_h5: Path, val_h5: Path, out: Path,
                 pseudolabels: PseudoLabels | None, progress: bool) -> None:
    """Train (or resume) a stage into ``out``; ``best.pt`` is written by :func:`train`."""
    _discard_outdated_run(out, cfg)
    labels = None if pseudolabels is None else read_pseudo_labels(pseudolabels.path, train_h5)
    train(cfg, train_h5, val_h5, out, resume=True, restart_on_change=True, labels=labels,
          progress=progress)


def _discard_outdated_run(out: Path, cfg: TrainConfig) -> None:
    """Clear a stage's run that must not be resumed: other code, or more epochs than allowed.

    Other settings or labels are caught by ``train(restart_on_change=True)`` itself; a run of
    another code version would be resumed (or reused, finished) by it.
    """
    last = out / "last.pt"
    if not last.is_file():
        clear_run(out)  # a best.pt without its run is left from something else
        return
    try:
        ckpt = read_checkpoint(last, mmap=True)
        made_by, epochs = ckpt.get("version"), int(ckpt["epoch"])
    except (KeyError, TypeError, ValueError, DataFileError) as exc:
        why = f"its last.pt is unreadable ({exc})"
    else:
        now = version.get_version()
        why = (f"it was made by dfmask {made_by}, this is {now}" if made_by != now else
               f"it ran {epochs} epochs, more than max_epochs {cfg.max_epochs}"
               if epochs > cfg.max_epochs else None)
    if why:
        warnings.warn(f"starting {out} afresh: {why}", stacklevel=2)
        clear_run(out)


def _describe_inputs(config: SelfTrainConfig, train_h5: Path, val_h5: Path) -> dict[str, Any]:
    """Check the patch files against the stages; their description for the manifest."""
    n_train = check_patch_file(train_h5)
    pc = read_patch_config(train_h5)
    need = config.stages[-1] + 1
    if pc.mode != "train":
        raise DataFileError(f"{train_h5} is a {pc.mode}-mode patch file without self-training "
                            "subsets; give the training patches (dfmask make-data --mode train)")
    if pc.n_subsets < need:
        raise DataFileError(f"{train_h5} has {pc.n_subsets} subsets; stages 0-{need - 1} need "
                            f"{need} (remake it with n_subsets >= {need})")
    n_val = check_patch_file(val_h5)
    out = {}
    for name, path, n in (("train_h5", train_h5, n_train), ("val_h5", val_h5, n_val)):
        with h5py.File(path, "r") as f:
            out[name] = {"path": str(path), "fingerprint": fingerprint(path), "n_patches": n,
                         "in_channels": int(f["image"].shape[1]),
                         "bands": json.loads(f.attrs.get("bands", "[]"))}
            if name == "train_h5":
                sizes = np.bincount(f["subset"][:], minlength=pc.n_subsets)
                out[name]["subset_sizes"] = sizes.tolist()
    t, v = out["train_h5"], out["val_h5"]
    if (t["in_channels"], t["bands"]) != (v["in_channels"], v["bands"]):
        raise DataFileError(
            f"{val_h5} has {v['in_channels']}-channel patches {v['bands']}, {train_h5} has "
            f"{t['in_channels']} {t['bands']}; make both with the same --input-set")
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _differences(old: Mapping[str, Any], config: SelfTrainConfig,
                 inputs: Mapping[str, Any]) -> list[str]:
    """What differs between an experiment's manifest and the run asked for now."""
    now, was = _jsonable(config_to_dict(config)), old.get("config", {})
    diff = [f"{k} {was.get(k)!r} -> {now[k]!r}" for k in now
            if k not in (*REUSABLE_CHANGES, "__class__") and was.get(k) != now[k]]
    for name, new in inputs.items():
        before = old.get("inputs", {}).get(name, {})
        if before.get("path") != new["path"]:
            diff.append(f"{name} {before.get('path')} -> {new['path']}")
        elif before.get("fingerprint") != new["fingerprint"]:
            diff.append(f"{name} rewritten since")
    return diff


def _claim(exp_dir: Path, config: SelfTrainConfig, inputs: dict[str, Any],
           overwrite: bool) -> dict[str, Any]:
    """Refuse a folder holding something else (unless ``overwrite``); write the new manifest."""
    stages: dict[str, Any] = {}
    if (exp_dir / MANIFEST).is_file():
        old = load_manifest(exp_dir)
        diff = _differences(old, config, inputs)
        if diff and not overwrite:
            raise ConfigError(
                f"{exp_dir} holds a self-training experiment with other settings or inputs "
                f"({'; '.join(diff)}); pass --overwrite to replace it (stages still valid are "
                "reused) or choose another experiment name")
        stages = dict(old.get("stages", {}))
        if diff:  # stages beyond this run's were made for the old settings
            for k, entry in stages.items():
                if int(k) not in config.stages:
                    stages[k] = {**entry, "status": "pending"}
    elif exp_dir.is_dir() and any(exp_dir.iterdir()) and not overwrite:
        raise ConfigError(
            f"{exp_dir} exists but holds no self-training experiment (no {MANIFEST}; runs of "
            "`dfmask train`?); choose another experiment name, or pass --overwrite to use it")
    for k in config.stages:
        stages.setdefault(str(k), {"status": "pending"})
    manifest = {"format": 1, "experiment": exp_dir.name, "config": config_to_dict(config),
                "version": version.get_version(), "inputs": inputs,
                "stages": dict(sorted(stages.items())), "updated": _now()}
    _write_manifest(exp_dir, manifest)
    return manifest


def _write_manifest(exp_dir: Path, manifest: dict[str, Any]) -> None:
    manifest["updated"] = _now()
    with atomic_path(exp_dir / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")


def _set_stage(exp_dir: Path, manifest: dict[str, Any], stage: int, **entry: Any) -> None:
    manifest["stages"][str(stage)] = {**manifest["stages"].get(str(stage), {}), **entry,
                                      "updated": _now()}
    _write_manifest(exp_dir, manifest)


def _outdate_later_stages(exp_dir: Path, manifest: dict[str, Any], stage: int) -> None:
    """Stages after a retrained one that this run does not reach were made from old labels."""
    later = [k for k, v in manifest["stages"].items() if int(k) > stage
             and int(k) > max(int(s) for s in manifest["config"]["stages"])
             and v.get("status") == "done"]
    for k in later:
        manifest["stages"][k]["status"] = "pending"
    if later:
        _write_manifest(exp_dir, manifest)


def _stage_entry(exp_dir: Path, res: StageResult) -> dict[str, Any]:
    """A finished stage's record in the manifest (paths relative to the experiment)."""
    data = res.train.data
    entry: dict[str, Any] = {
        "status": "done", "dir": stage_dir(exp_dir, res.stage).name,
        "checkpoint": str(res.checkpoint.relative_to(exp_dir)),
        "train_config": config_to_dict(res.config), "subsets": data.get("subsets"),
        "n_train": data.get("n_train"), "class_weights": data.get("class_weights"),
        "best_epoch": res.train.best_epoch, "best_miou": res.train.best_miou,
        "epochs_run": res.train.epochs_run, "stopped_early": res.train.stopped_early,
        "trained": res.trained, "pseudolabels": None, "pseudolabel_stats": None}
    if res.pseudolabels is not None:
        entry["pseudolabels"] = str(res.pseudolabels.path.relative_to(exp_dir))
        entry["pseudolabel_stats"] = {k: res.pseudolabels.stats[k] for k in (
            "threshold", "relabelled_subsets", "n_patches", "summary", "transitions", "dropped")}
    return entry


# --------------------------------------------------------------------------- for notebooks


def histories(exp_dir: str | os.PathLike) -> dict[int, list[dict[str, Any]]]:
    """Per finished stage, its training log (rows of ``log.json``: losses, mIoU, IoUs, seconds)."""
    exp_dir = Path(exp_dir)
    out = {}
    for k, entry in sorted(load_manifest(exp_dir)["stages"].items(), key=lambda kv: int(kv[0])):
        if entry.get("status") == "done":
            path = stage_dir(exp_dir, int(k)) / "log.json"
            try:
                out[int(k)] = json.loads(path.read_text())
            except FileNotFoundError:
                raise MissingDataError(f"{path} is missing; rerun `dfmask selftrain`") from None
    return out


def summary_table(exp_dir: str | os.PathLike) -> list[dict[str, object]]:
    """One row per stage of the manifest, for :func:`dfmask_lib.metrics.format_table`.

    Columns: stage, status, network (start filters / levels), learning rate, subsets, training
    patches, epochs run, best epoch, best validation mIoU, and for stages 1-3 the Fmask-labelled
    pixels relabelled, the percentage that changed class and the percentage dropped below the
    threshold.
    """
    rows = []
    for k, e in sorted(load_manifest(exp_dir)["stages"].items(), key=lambda kv: int(kv[0])):
        tc = e.get("train_config") or {}
        net = STAGES[int(k)]
        stats = (e.get("pseudolabel_stats") or {}).get("summary")
        labelled = stats["labelled"] if stats else 0
        pct = (lambda v: 100.0 * v / labelled) if labelled else (lambda v: float("nan"))
        rows.append({
            "stage": int(k), "status": e.get("status", "pending"),
            "net": f"{tc.get('start_filters') or net[0]}/{tc.get('depth') or net[1]}",
            "lr": f"{tc['lr']:g}" if "lr" in tc else "-",
            "subsets": "-" if e.get("subsets") is None else
            f"{min(e['subsets'])}-{max(e['subsets'])}",
            "patches": e.get("n_train", 0), "epochs": e.get("epochs_run", 0),
            "best epoch": e.get("best_epoch", 0),
            "val mIoU": float(e.get("best_miou", float("nan"))),
            "relabelled px": labelled,
            "changed %": pct(stats["changed"]) if stats else float("nan"),
            "dropped %": pct(stats["dropped"]) if stats else float("nan"),
        })
    return rows
