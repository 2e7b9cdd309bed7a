"""Tests of dfmask_lib.pseudolabels: the relabelling rule, its statistics, the per-stage file."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from conftest import learnable_scenes
from dfmask_lib.config import config_to_dict
from dfmask_lib.errors import ConfigError, DataFileError, LabelError, MissingDataError
from dfmask_lib.patches import PatchConfig, fingerprint, write_patches
from dfmask_lib.pseudolabels import (
    PSEUDO_LABEL_THRESHOLD, RelabelStats, load_stats, pseudo_labels, read_pseudo_labels, relabel,
    relabel_stats, stats_path, stats_table,
)
from dfmask_lib.train import TrainConfig, load_checkpoint, predict_patches, train
from dfmask_lib.unet import UNet
from dfmask_lib.version import get_version


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- the rule


#: Four patches of 1 x 5 pixels, subsets 0, 1, 2, 3.
FMASK = np.array([[[1, 2, 0, 5, 4]]] * 4, dtype=np.uint8)
CLASSES = np.array([[[2, 2, 3, 4, 0]]] * 4, dtype=np.uint8)   # last pixel: no-data input
TOP = np.array([[[0.9, 0.4, 0.99, 0.39, 0.8]]] * 4, dtype=np.float32)
SUBSET = np.array([0, 1, 2, 3], dtype=np.int8)


def test_the_threshold_is_the_papers() -> None:
    assert PSEUDO_LABEL_THRESHOLD == 0.4


@pytest.mark.parametrize("stage, expected", [
    # subset 0 keeps Fmask; relabelled subsets: class where top >= 0.4 and Fmask > 0; others 0
    (1, [[1, 2, 0, 5, 4], [2, 2, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]),
    (2, [[1, 2, 0, 5, 4], [2, 2, 0, 0, 0], [2, 2, 0, 0, 0], [0, 0, 0, 0, 0]]),
    (3, [[1, 2, 0, 5, 4], [2, 2, 0, 0, 0], [2, 2, 0, 0, 0], [2, 2, 0, 0, 0]]),
])
def test_pseudo_labels_threshold_and_subset_rule(stage: int, expected: list) -> None:
    out = pseudo_labels(CLASSES, TOP, FMASK, SUBSET, stage)
    assert out.dtype == np.uint8 and out.shape == (4, 1, 5)
    np.testing.assert_array_equal(out[:, 0], np.array(expected, dtype=np.uint8))


def test_a_lower_threshold_keeps_more_and_0_keeps_every_labelled_pixel() -> None:
    out = pseudo_labels(CLASSES, TOP, FMASK, SUBSET, 3, threshold=0.39)
    np.testing.assert_array_equal(out[1, 0], [2, 2, 0, 4, 0])
    out = pseudo_labels(CLASSES, np.zeros_like(TOP), FMASK, SUBSET, 3, threshold=0.0)
    np.testing.assert_array_equal(out[3, 0], [2, 2, 0, 4, 0])  # Fmask 0 and no data stay 0
    out = pseudo_labels(CLASSES, TOP, FMASK, SUBSET, 3, threshold=1.0)
    assert not out[1:].any() and (out[0] == FMASK[0]).all()


@pytest.mark.parametrize("change, error, match", [
    (dict(classes=CLASSES.astype(np.int64)), LabelError, "uint8"),
    (dict(fmask_labels=FMASK[:, :, :4]), LabelError, "one shape"),
    (dict(top_prob=TOP.astype(np.uint8)), LabelError, "float"),
    (dict(subset=SUBSET[:3]), LabelError, r"int \(4,\)"),
    (dict(subset=np.array([0, 1, -1, 3])), DataFileError, "test-mode"),
    (dict(classes=CLASSES + 5), DataFileError, r"classes holds codes \[7, 8, 9\]"),
    (dict(stage=0), ConfigError, "stages 1-3"),
    (dict(stage=4), ConfigError, "stages 1-3"),
    (dict(threshold=1.5), ConfigError, r"\[0, 1\]"),
    (dict(threshold=float("nan")), ConfigError, r"\[0, 1\]"),
])
def test_pseudo_labels_refuses_bad_inputs(change: dict, error: type, match: str) -> None:
    args = dict(classes=CLASSES, top_prob=TOP, fmask_labels=FMASK, subset=SUBSET, stage=2)
    with pytest.raises(error, match=match):
        pseudo_labels(**{**args, **change})


def test_relabel_stats_count_transitions_and_drops() -> None:
    new = pseudo_labels(CLASSES, TOP, FMASK, SUBSET, 3)
    stats = relabel_stats(FMASK[1:], new[1:], TOP[1:] < 0.4)  # the relabelled subsets 1-3
    expected = np.zeros((6, 6), np.int64)
    expected[1, 2] = 3   # clear -> cloud (p 0.9)
    expected[2, 2] = 3   # cloud kept (p 0.4, at the threshold)
    expected[0, 0] = 3   # Fmask no data stays 0 (even at p 0.99)
    expected[5, 0] = 3   # water dropped (p 0.39)
    expected[4, 0] = 3   # snow on a no-data input pixel: 0, not a drop (p 0.8)
    np.testing.assert_array_equal(stats.transitions, expected)
    np.testing.assert_array_equal(stats.dropped, [0, 0, 0, 0, 0, 3])
    assert stats.transitions.dtype == stats.dropped.dtype == np.int64
    assert stats.summary() == {"labelled": 12, "kept": 3, "changed": 3, "dropped": 3}
    both = stats + stats
    assert both.summary() == {"labelled": 24, "kept": 6, "changed": 6, "dropped": 6}
    again = RelabelStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    np.testing.assert_array_equal(again.transitions, stats.transitions)
    with pytest.raises(LabelError, match="bool"):
        relabel_stats(FMASK, new, TOP)
    with pytest.raises(LabelError, match="one shape"):
        relabel_stats(FMASK, new[:2], TOP < 0.4)


def test_stats_table_rows() -> None:
    new = pseudo_labels(CLASSES, TOP, FMASK, SUBSET, 3)
    rows = stats_table(relabel_stats(FMASK[1:], new[1:], TOP[1:] < 0.4))
    assert [r["Fmask class"] for r in rows] == [
        "1 clear land", "2 cloud", "3 cloud shadow", "4 snow/ice", "5 water", "all"]
    clear, cloud, shadow, snow, water, pooled = rows
    assert clear["pixels"] == 3 and clear["-> cloud %"] == 100.0 and clear["-> clear land %"] == 0
    assert cloud["-> cloud %"] == 100.0 and cloud["dropped %"] == 0.0
    assert water["dropped %"] == 100.0 and water["no data %"] == 0.0
    assert snow["no data %"] == 100.0 and snow["dropped %"] == 0.0
    assert shadow["pixels"] == 0 and np.isnan(shadow["dropped %"])
    assert pooled["pixels"] == 12 and pooled["-> cloud %"] == 50.0 and pooled["dropped %"] == 25.0
    assert pooled["no data %"] == 25.0


# ----------------------------------------------------------------------------- the file


def scenes(n: int, seed: int = 0) -> list:
    """Clearly learnable scenes (bright class channels, little noise)."""
    return learnable_scenes(n, seed=seed, gain=5.0, noise=0.1)


@pytest.fixture(scope="module")
def stage0(tmp_path_factory) -> tuple[Path, Path]:
    """A patch file (16 patches, 4 per subset) and a tiny stage-0 model trained on subset 0."""
    d = tmp_path_factory.mktemp("pl")
    train_h5, val_h5 = d / "train.h5", d / "val.h5"
    write_patches(train_h5, scenes(16), PatchConfig(window=32, patch_size=32))
    write_patches(val_h5, scenes(4, seed=1), PatchConfig(mode="test", window=32, patch_size=32))
    cfg = TrainConfig(stage=0, start_filters=8, depth=2, batch_size=2, max_epochs=4,
                      num_workers=0, device="cpu")
    train(cfg, train_h5, val_h5, d / "stage0", progress=False)
    return train_h5, d / "stage0" / "best.pt"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_stage(ckpt: Path, stage: int, out: Path) -> Path:
    """The trained weights under the config of another stage (same tiny size)."""
    data = torch.load(ckpt, weights_only=True)
    data["config"]["stage"] = stage
    torch.save(data, out)
    return out


def test_relabel_writes_a_new_file_and_never_touches_the_patch_file(stage0, tmp_path) -> None:
    train_h5, ckpt = stage0
    ckpt = _as_stage(ckpt, 1, tmp_path / "stage1.pt")  # stage 2 is relabelled by stage 1
    before, mtime = _sha(train_h5), train_h5.stat().st_mtime_ns
    out = tmp_path / "stage2" / "pseudolabels.h5"
    res = relabel(ckpt, train_h5, 2, out, batch_size=3, device="cpu", progress=False)
    assert res.built and res.path == out and out.is_file()
    assert _sha(train_h5) == before and train_h5.stat().st_mtime_ns == mtime

    # the labels are the rule applied to the model's predictions
    model, _, _ = load_checkpoint(ckpt)
    with h5py.File(train_h5) as f:
        images, fmask, subset = f["image"][:], f["label"][:], f["subset"][:]
    classes, top = predict_patches(model, images)
    expected = pseudo_labels(classes, top, fmask, subset, 2)
    with h5py.File(out) as f:
        labels = f["label"][:]
        attrs = dict(f.attrs)
        np.testing.assert_array_equal(f["subset"][:], subset)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(labels[subset == 0], fmask[subset == 0])
    assert not labels[subset == 3].any()
    assert labels[np.isin(subset, [1, 2])].any()  # the model is confident somewhere
    np.testing.assert_array_equal(read_pseudo_labels(out, train_h5), labels)

    assert attrs["stage"] == 2 and attrs["threshold"] == 0.4 and not attrs["amp"]
    assert json.loads(attrs["relabelled_subsets"]) == [1, 2]
    assert attrs["checkpoint"] == str(ckpt.resolve())
    assert attrs["checkpoint_sha256"] == _sha(ckpt)
    assert attrs["source"] == str(train_h5.resolve())
    assert attrs["source_fingerprint"] == fingerprint(train_h5)
    assert attrs["version"] == get_version()

    # the statistics are those of the relabelled patches
    sel = np.isin(subset, [1, 2])
    want = relabel_stats(fmask[sel], expected[sel], top[sel] < 0.4)
    stats = load_stats(out)
    assert stats == res.stats and stats_path(out).name == "pseudolabels.stats.json"
    assert stats["transitions"] == want.transitions.tolist() and stats["n_patches"] == 8
    assert stats["dropped"] == want.dropped.tolist() and stats["summary"] == want.summary()
    assert stats["summary"]["labelled"] == int((fmask[sel] > 0).sum())


def test_relabel_is_cached_on_the_checkpoint_patch_file_and_settings(stage0, tmp_path) -> None:
    train_h5, ckpt = stage0
    out = tmp_path / "pseudolabels.h5"
    first = relabel(ckpt, train_h5, 1, out, device="cpu", progress=False)
    mtime = out.stat().st_mtime_ns
    again = relabel(ckpt, train_h5, 1, out, device="cpu", progress=False)
    assert first.built and not again.built and out.stat().st_mtime_ns == mtime
    assert again.stats == first.stats
    lower = relabel(ckpt, train_h5, 1, out, threshold=0.2, device="cpu", progress=False)
    assert lower.built and lower.stats["summary"]["dropped"] < first.stats["summary"]["dropped"]
    st = ckpt.stat()
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a retrained checkpoint
    assert relabel(ckpt, train_h5, 1, out, threshold=0.2, device="cpu", progress=False).built
    stats_path(out).unlink()  # the statistics belong to the artefact
    assert relabel(ckpt, train_h5, 1, out, threshold=0.2, device="cpu", progress=False).built


def _checkpoint(path: Path, **kw) -> Path:
    cfg = TrainConfig(start_filters=4, depth=2, **kw)
    torch.save({"model": UNet(cfg.model_config()).state_dict(), "config": config_to_dict(cfg)},
               path)
    return path


def test_relabel_errors(stage0, tmp_path) -> None:
    train_h5, ckpt = stage0
    out = tmp_path / "pl.h5"
    with pytest.raises(DataFileError, match="model takes 13"):
        relabel(_checkpoint(tmp_path / "c13.pt", in_channels=13), train_h5, 1, out,
                device="cpu", progress=False)
    with pytest.raises(DataFileError, match="stage 1 model; the labels of stage 1 come from"):
        relabel(_checkpoint(tmp_path / "s1.pt", stage=1), train_h5, 1, out, device="cpu",
                progress=False)
    assert not out.exists()
    with pytest.raises(ConfigError, match="never into the patch file"):
        relabel(ckpt, train_h5, 1, train_h5, progress=False)
    with pytest.raises(MissingDataError, match="train stage 0 first"):
        relabel(tmp_path / "none.pt", train_h5, 1, out, progress=False)
    with pytest.raises(MissingDataError, match="make-data"):
        relabel(ckpt, tmp_path / "none.h5", 1, out, progress=False)
    test_mode = tmp_path / "test.h5"
    write_patches(test_mode, scenes(2), PatchConfig(mode="test", window=32, patch_size=32))
    with pytest.raises(DataFileError, match="test-mode patch file"):
        relabel(ckpt, test_mode, 1, out, progress=False)
    relabel(ckpt, train_h5, 1, out, device="cpu", progress=False)
    other = tmp_path / "other.h5"
    write_patches(other, scenes(16, seed=4), PatchConfig(window=32, patch_size=32))
    with pytest.raises(DataFileError, match="another version of"):
        read_pseudo_labels(out, other)
