"""Tests of dfmask_lib.selftrain and ``dfmask selftrain``: the stages, their labels and class
weights, the manifest, reuse of finished stages, --overwrite, and resuming after a SIGKILL."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import dfmask_lib.pseudolabels as pseudolabels_mod
import dfmask_lib.selftrain as selftrain_mod
from dfmask_lib.cli import main
from dfmask_lib.config import config_to_dict
from dfmask_lib.errors import ConfigError, DataFileError, MissingDataError
from dfmask_lib.patches import PatchConfig, fingerprint, write_patches
from dfmask_lib.pseudolabels import read_pseudo_labels
from dfmask_lib.selftrain import (
    MANIFEST, SelfTrainConfig, best_checkpoint, histories, load_manifest, selftrain, stage_dir,
    summary_table,
)
from dfmask_lib.train import LEARNING_RATES, load_checkpoint, mfb_weights
from dfmask_lib.unet import STAGES, count_parameters
from dfmask_lib.version import get_version

#: Tiny nets, a few epochs: all four stages in a few seconds on one CPU thread.
TINY = dict(max_epochs=3, batch_size=2, num_workers=0, device="cpu", start_filters=8, depth=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scenes(n: int, size: int = 32, seed: int = 0, channels: int = 7) -> list:
    """Scenes whose label is readable from the image: channel k is bright where class k+1."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        blocks = rng.integers(1, 6, (size // 8, size // 8))
        label = np.kron(blocks, np.ones((8, 8), dtype=np.int64)).astype(np.uint8)
        image = rng.normal(0, 0.1, (channels, size, size)).astype(np.float32)
        for c in range(5):
            image[c] += 5.0 * (label == c + 1)
        label[:2, :] = 0  # a few unlabelled pixels
        out.append((f"s{k}", image, label))
    return out


def patch_files(d: Path, seed: int = 0) -> tuple[Path, Path]:
    """16 training patches of 32 px (4 per subset) and 4 validation patches."""
    train_h5, val_h5 = d / "train.h5", d / "val.h5"
    write_patches(train_h5, scenes(16, seed=seed), PatchConfig(window=32, patch_size=32))
    write_patches(val_h5, scenes(4, seed=seed + 1),
                  PatchConfig(mode="test", window=32, patch_size=32))
    return train_h5, val_h5


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    return patch_files(tmp_path_factory.mktemp("patches"))


@pytest.fixture(scope="module")
def experiment(data, tmp_path_factory):
    """Stages 0-3, uninterrupted (the reference of the resume tests)."""
    exp = tmp_path_factory.mktemp("runs") / "exp"
    return exp, selftrain(SelfTrainConfig(**TINY), *data, exp, progress=False)


def _strip(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "time_s"} for row in history]


def _mtimes(exp: Path) -> dict[str, int]:
    return {str(p.relative_to(exp)): p.stat().st_mtime_ns for p in exp.rglob("*")
            if p.suffix in (".pt", ".h5")}


# ----------------------------------------------------------------------------- the config


def test_config_follows_the_stage_table() -> None:
    cfg = SelfTrainConfig()
    assert (cfg.stages, cfg.max_epochs, cfg.batch_size, cfg.threshold) == ((0, 1, 2, 3), 400, 8, 0.4)
    for k in range(4):
        tc = cfg.train_config(k, in_channels=7)
        assert tc.lr == LEARNING_RATES[k] and tc.augment is (k > 0) and not tc.full
        m = tc.model_config()
        assert (m.start_filters, m.depth) == STAGES[k] and tc.max_epochs == 400
    per_stage = SelfTrainConfig(max_epochs=[40, 30, 20, 10])
    assert per_stage.max_epochs == (40, 30, 20, 10) and per_stage.epochs(2) == 20
    assert SelfTrainConfig(stages=[0, 1]).stages == (0, 1)
    photo = SelfTrainConfig(photometric=True)
    assert all(photo.train_config(k, 7).augment and photo.train_config(k, 7).photometric
               for k in range(4))


@pytest.mark.parametrize("kw, match", [
    (dict(stages=(1, 2)), "run in order from 0"),
    (dict(stages=()), "run in order from 0"),
    (dict(stages=(0, 1, 2, 3, 4)), "K in 0-3"),
    (dict(max_epochs=(3, 2)), "one per stage"),
    (dict(max_epochs=0), "max_epochs must be >= 1"),
    (dict(threshold=1.2), r"\[0, 1\]"),
    (dict(batch_size=0), "batch_size must be >= 1"),
])
def test_config_refuses_impossible_settings(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SelfTrainConfig(**kw)


# ----------------------------------------------------------------------------- the stages


def test_selftrain_runs_the_stages_and_writes_the_manifest(experiment, data) -> None:
    exp, res = experiment
    train_h5, val_h5 = data
    assert [s.stage for s in res.stages] == [0, 1, 2, 3]
    assert {p.name for p in exp.iterdir()} == {MANIFEST, "stage0", "stage1", "stage2", "stage3"}
    run_files = {"config.json", "best.pt", "best.pt.recipe.json", "last.pt", "log.csv", "log.json"}
    assert {p.name for p in stage_dir(exp, 0).iterdir()} == run_files
    for k in (1, 2, 3):
        assert {p.name for p in stage_dir(exp, k).iterdir()} == run_files | {
            "pseudolabels.h5", "pseudolabels.h5.recipe.json", "pseudolabels.stats.json"}

    m = load_manifest(exp)
    assert m["config"] == json.loads(json.dumps(config_to_dict(SelfTrainConfig(**TINY))))
    assert m["version"] == get_version() and m["experiment"] == "exp"
    assert m["inputs"]["train_h5"] == {
        "path": str(train_h5.resolve()), "fingerprint": fingerprint(train_h5), "n_patches": 16,
        "in_channels": 7, "bands": ["B02", "B03", "B04", "B08", "B11", "B12", "NDSI"],
        "subset_sizes": [4, 4, 4, 4]}
    assert m["inputs"]["val_h5"]["fingerprint"] == fingerprint(val_h5)
    stages = [m["stages"][str(k)] for k in range(4)]
    assert [s["status"] for s in stages] == ["done"] * 4
    assert [s["n_train"] for s in stages] == [4, 8, 12, 16]
    assert [s["subsets"] for s in stages] == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]
    assert [s["train_config"]["lr"] for s in stages] == [1e-3, 7e-4, 3e-4, 1e-4]
    assert [s["train_config"]["augment"] for s in stages] == [False, True, True, True]
    assert [s["checkpoint"] for s in stages] == [f"stage{k}/best.pt" for k in range(4)]
    assert [s["pseudolabels"] for s in stages] == [None] + [
        f"stage{k}/pseudolabels.h5" for k in (1, 2, 3)]
    for s, r in zip(stages, res.stages):
        assert (s["best_epoch"], s["best_miou"], s["epochs_run"]) == (
            r.train.best_epoch, r.train.best_miou, 3) and r.train.epochs_run == 3
    for k in (1, 2, 3):
        stats = res.stages[k].pseudolabels.stats
        assert stages[k]["pseudolabel_stats"]["summary"] == stats["summary"]
        assert stats["relabelled_subsets"] == list(range(1, k + 1))
        assert stats["summary"]["labelled"] == 3840 * k  # 4 patches x 960 labelled px per subset
        with h5py.File(stage_dir(exp, k) / "pseudolabels.h5") as f:  # made by stage k-1's best
            assert f.attrs["checkpoint"] == str(stage_dir(exp, k - 1).resolve() / "best.pt")

    assert best_checkpoint(exp) == stage_dir(exp, 3) / "best.pt" == res.best_checkpoint
    assert best_checkpoint(exp, 1) == stage_dir(exp, 1) / "best.pt"
    _, cfg, _ = load_checkpoint(best_checkpoint(exp, 2))
    assert (cfg.stage, cfg.lr, cfg.full) == (2, 3e-4, False)
    curves = histories(exp)
    assert sorted(curves) == [0, 1, 2, 3] and _strip(curves[2]) == _strip(res.stages[2].train.history)
    rows = summary_table(exp)
    assert [r["lr"] for r in rows] == ["0.001", "0.0007", "0.0003", "0.0001"]
    assert [r["patches"] for r in rows] == [4, 8, 12, 16] and rows[0]["relabelled px"] == 0
    assert rows[3]["relabelled px"] == 11520 and rows[0]["net"] == "8/2"


def test_each_stage_trains_on_its_labels_with_their_class_weights(experiment, data) -> None:
    exp, res = experiment
    train_h5, _ = data
    with h5py.File(train_h5) as f:
        fmask, subset = f["label"][:], f["subset"][:]

    def hist(labels: np.ndarray, stage: int) -> np.ndarray:
        return np.bincount(labels[subset <= stage].ravel(), minlength=6)

    weights = [np.asarray(s.train.data["class_weights"], np.float32) for s in res.stages]
    # stage 0: the Fmask labels of subset 0 (pinned: a stub would not give them)
    np.testing.assert_array_equal(weights[0], mfb_weights(hist(fmask, 0)))
    np.testing.assert_allclose(weights[0], [0, 1.378, 0.75, 0.895, 1.889, 1.0], atol=1e-3)
    for k in (1, 2, 3):
        labels = read_pseudo_labels(stage_dir(exp, k) / "pseudolabels.h5", train_h5)
        np.testing.assert_array_equal(labels[subset == 0], fmask[subset == 0])
        assert not labels[subset > k].any() and not labels[fmask == 0].any()
        assert labels[(subset >= 1) & (subset <= k)].any()
        np.testing.assert_array_equal(weights[k], mfb_weights(hist(labels, k)))
        assert not np.allclose(weights[k], weights[k - 1])
        ckpt = torch.load(stage_dir(exp, k) / "last.pt", weights_only=True)
        assert ckpt["data"]["fingerprint"][2] == hashlib.sha256(labels).hexdigest()[:16]


def test_a_rerun_reuses_every_finished_stage(experiment, data, monkeypatch) -> None:
    exp, first = experiment
    before = _mtimes(exp)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished stage was redone")

    monkeypatch.setattr(selftrain_mod, "train", refuse)
    monkeypatch.setattr(pseudolabels_mod, "predict_patches", refuse)
    again = selftrain(SelfTrainConfig(**TINY), *data, exp, progress=False)
    assert [s.trained for s in again.stages] == [False] * 4
    assert [s.pseudolabels.built for s in again.stages[1:]] == [False] * 3
    assert _mtimes(exp) == before
    for a, b in zip(first.stages, again.stages):
        assert b.train.history == a.train.history and b.train.best_epoch == a.train.best_epoch


def test_other_settings_inputs_or_folders_need_overwrite(data, tmp_path) -> None:
    exp = tmp_path / "exp"
    one = selftrain(SelfTrainConfig(**{**TINY, "stages": (0,), "max_epochs": 2}), *data, exp,
                    progress=False)
    # more stages (and other workers) extend the experiment: stage 0 is reused
    two = selftrain(SelfTrainConfig(**{**TINY, "stages": (0, 1), "max_epochs": 2}), *data, exp,
                    progress=False)
    assert [s.trained for s in two.stages] == [False, True]
    assert two.stages[0].train.history == one.stages[0].train.history

    longer = SelfTrainConfig(**{**TINY, "stages": (0, 1), "max_epochs": 3})
    with pytest.raises(ConfigError, match=r"other settings or inputs \(max_epochs 2 -> 3\); "
                                          "pass --overwrite") as exc:
        selftrain(longer, *data, exp, progress=False)
    assert "\n" not in str(exc.value)
    with pytest.warns(UserWarning, match="stage1 afresh.*labels"):
        three = selftrain(longer, *data, exp, overwrite=True, progress=False)
    assert [s.trained for s in three.stages] == [True, True]
    assert three.stages[1].pseudolabels.built  # stage 0 changed: relabelled
    # stage 0 was continued from its last epoch, not restarted
    assert _strip(three.stages[0].train.history[:2]) == _strip(one.stages[0].train.history)
    assert three.stages[0].train.epochs_run == 3

    other_val = tmp_path / "other" / "val.h5"
    patch_files(other_val.parent, seed=5)
    with pytest.raises(ConfigError, match="val_h5 .*val.h5 -> .*other/val.h5"):
        selftrain(longer, data[0], other_val, exp, progress=False)
    foreign = tmp_path / "foreign"
    (foreign / "stage0").mkdir(parents=True)
    (foreign / "stage0" / "last.pt").write_bytes(b"a dfmask train run")
    with pytest.raises(ConfigError, match="holds no self-training experiment"):
        selftrain(longer, *data, foreign, progress=False)


def test_a_new_code_version_retrains(data, tmp_path, monkeypatch) -> None:
    import dfmask_lib.version

    cfg = SelfTrainConfig(**{**TINY, "stages": (0, 1), "max_epochs": 2})
    old = selftrain(SelfTrainConfig(**{**TINY, "stages": (0, 1, 2), "max_epochs": 2}), *data,
                    tmp_path / "exp", progress=False)
    assert best_checkpoint(tmp_path / "exp") == tmp_path / "exp" / "stage2" / "best.pt"
    monkeypatch.setattr(dfmask_lib.version, "get_version", lambda: "9.9.9+gnew")
    with pytest.warns(UserWarning, match=r"afresh: it was made by dfmask .*, this is "
                                         r"9\.9\.9\+gnew") as caught:
        new = selftrain(cfg, *data, tmp_path / "exp", progress=False)
    assert sorted(Path(str(w.message).split()[1]).name for w in caught) == ["stage0", "stage1"]
    assert [s.trained for s in new.stages] == [True, True] and new.stages[1].pseudolabels.built
    m = load_manifest(tmp_path / "exp")
    assert m["version"] == "9.9.9+gnew"
    # stage 2 was made from the old stage 1: outdated until a run reaches it again
    assert [m["stages"][k]["status"] for k in "012"] == ["done", "done", "pending"]
    assert best_checkpoint(tmp_path / "exp") == tmp_path / "exp" / "stage1" / "best.pt"
    with pytest.raises(MissingDataError, match="stage 2 .* is not finished"):
        best_checkpoint(tmp_path / "exp", 2)
    for a, b in zip(old.stages, new.stages):  # retrained from scratch: the same numbers
        assert _strip(a.train.history) == _strip(b.train.history)
    again = selftrain(cfg, *data, tmp_path / "exp", progress=False)
    assert [s.trained for s in again.stages] == [False, False]


def test_input_contracts(data, tmp_path) -> None:
    train_h5, val_h5 = data
    val13 = tmp_path / "val13.h5"
    write_patches(val13, scenes(2, channels=13),
                  PatchConfig(mode="test", input_set="all13", window=32, patch_size=32))
    with pytest.raises(DataFileError, match="13-channel patches.*has 7.*same --input-set"):
        selftrain(SelfTrainConfig(**TINY), train_h5, val13, tmp_path / "e", progress=False)
    with pytest.raises(DataFileError, match="test-mode patch file without self-training"):
        selftrain(SelfTrainConfig(**TINY), val_h5, val_h5, tmp_path / "e", progress=False)
    with pytest.raises(MissingDataError, match="no patch file"):
        selftrain(SelfTrainConfig(**TINY), tmp_path / "no.h5", val_h5, tmp_path / "e",
                  progress=False)
    assert not (tmp_path / "e").exists()
    with pytest.raises(MissingDataError, match="no self-training experiment"):
        load_manifest(tmp_path / "e")
    with pytest.raises(MissingDataError, match="no finished stage"):
        best_checkpoint(tmp_path / "e")
    plain = tmp_path / "plain"  # runs of `dfmask train` (no manifest): the highest stage
    for k in (0, 1):
        (plain / f"stage{k}").mkdir(parents=True)
        (plain / f"stage{k}" / "best.pt").write_bytes(b"")
    assert best_checkpoint(plain) == plain / "stage1" / "best.pt"
    assert best_checkpoint(plain, 0) == plain / "stage0" / "best.pt"


# ----------------------------------------------------------------------------- interruptions

CHILD = textwrap.dedent("""
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    import dfmask_lib.pseudolabels as pl
    import dfmask_lib.train as tr
    from dfmask_lib.selftrain import SelfTrainConfig, selftrain

    where = sys.argv[1]
    if where == "train":  # right after stage 1 saved its first epoch
        real_save = tr._save
        def save(path, obj):
            real_save(path, obj)
            if path.parent.name == "stage1" and path.name == "last.pt" and obj["epoch"] == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        tr._save = save
    else:  # while stage 2's pseudo-labels are being written
        real_rule = pl.pseudo_labels
        def rule(*args, **kwargs):
            if args[4] == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_rule(*args, **kwargs)
        pl.pseudo_labels = rule
    selftrain(SelfTrainConfig(**{config}), sys.argv[2], sys.argv[3], sys.argv[4], progress=False)
""")


@pytest.mark.parametrize("where", ["train", pytest.param("relabel", marks=pytest.mark.slow)])
def test_an_interrupted_experiment_resumes_to_the_uninterrupted_result(
        experiment, data, tmp_path, where: str) -> None:
    ref_exp, ref = experiment
    exp = tmp_path / "exp"
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("{config}", repr(TINY)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), where, *map(str, data), str(exp)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    killed_in = 1 if where == "train" else 2
    m = load_manifest(exp)
    assert [m["stages"][str(k)]["status"] for k in range(4)] == (
        ["done"] * killed_in + ["running"] + ["pending"] * (3 - killed_in))
    if where == "train":
        assert torch.load(exp / "stage1" / "last.pt", weights_only=True)["epoch"] == 1
    else:
        assert not (exp / "stage2" / "pseudolabels.h5").exists()
    before = _mtimes(exp)

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "starting afresh": a true resume
        warnings.filterwarnings("ignore", message="classes absent")
        res = selftrain(SelfTrainConfig(**TINY), *data, exp, progress=False)
    assert [s.trained for s in res.stages] == [k >= killed_in for k in range(4)]
    for name, mtime in before.items():
        if name.startswith(tuple(f"stage{k}/" for k in range(killed_in))):
            assert _mtimes(exp)[name] == mtime, name  # finished stages untouched
    for k in range(4):
        a = torch.load(stage_dir(ref_exp, k) / "last.pt", weights_only=True)
        b = torch.load(stage_dir(exp, k) / "last.pt", weights_only=True)
        for key, value in a["model"].items():
            assert torch.equal(value, b["model"][key]), (k, key)
        assert _strip(a["history"]) == _strip(b["history"])
        assert _strip(res.stages[k].train.history) == _strip(ref.stages[k].train.history)
        if k:
            np.testing.assert_array_equal(
                read_pseudo_labels(stage_dir(exp, k) / "pseudolabels.h5", data[0]),
                read_pseudo_labels(stage_dir(ref_exp, k) / "pseudolabels.h5", data[0]))
    assert [load_manifest(exp)["stages"][str(k)]["status"] for k in range(4)] == ["done"] * 4


# ----------------------------------------------------------------------------- the command


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_selftrain_command(data, tmp_path, capsys) -> None:
    """The real stage sizes (stages 0-1, one epoch), then a rerun that reuses both."""
    train_h5, val_h5 = data
    args = ["selftrain", "cli", "--train-h5", train_h5, "--val-h5", val_h5, "--stages", "0-1",
            "--epochs", "1", "--workers", "0", "--device", "cpu", "--runs-dir", tmp_path]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    exp = tmp_path / "cli"
    lines = out.splitlines()
    assert lines[0].startswith("stage 0: 1 epochs (done); best validation mIoU")
    assert lines[1].startswith("stage 1 pseudo-labels, subsets 1-1: 3,840 Fmask-labelled px, ")
    assert "dropped below 0.4 -> " in lines[1] and lines[2].startswith("stage 1: 1 epochs (done)")
    assert lines[3] == f"{exp}: best model {exp / 'stage1' / 'best.pt'}"
    model, cfg, _ = load_checkpoint(exp / "stage1" / "best.pt")
    assert count_parameters(model) == 7_767_302 and cfg.lr == 7e-4
    code, out, _ = run(capsys, *args)
    assert code == 0 and "(done, reused)" in out and "(reused) -> " in out

    code, _, err = run(capsys, *[a if a != "1" else "2" for a in args])
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("dfmask: error: ") and "max_epochs 1 -> 2" in err and "--overwrite" in err


@pytest.mark.parametrize("change, message", [
    (("--train-h5", "missing.h5"), "dfmask: error: no patch file at "),
    (("--val-h5", "val13.h5"), "dfmask: error: "),
    (("--stages", "1-3"), "give 0-K with K in 0-3"),
    (("--epochs", "0"), "give a number of epochs >= 1"),
])
def test_selftrain_command_user_errors(data, tmp_path, capsys, change, message) -> None:
    train_h5, val_h5 = data
    write_patches(tmp_path / "val13.h5", scenes(2, channels=13),
                  PatchConfig(mode="test", input_set="all13", window=32, patch_size=32))
    capsys.readouterr()
    opts = {"--train-h5": train_h5, "--val-h5": val_h5, "--stages": "0-1", "--epochs": "1"}
    key, value = change
    opts[key] = value if key in ("--stages", "--epochs") else tmp_path / value
    code, out, err = run(capsys, "selftrain", "e", *[x for kv in opts.items() for x in kv],
                         "--runs-dir", tmp_path / "runs", "--workers", "0", "--device", "cpu")
    assert code == 2 and message in err and out == ""
    if key == "--val-h5":
        assert err.count("\n") == 1 and "13-channel patches" in err
    assert not (tmp_path / "runs" / "e").exists()
