"""Tests of dfmask_lib.train: class weights, early stopping, learning, exact resume, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import learnable_scenes
from dfmask_lib.errors import ConfigError, DataFileError, MissingDataError
from dfmask_lib.patches import PatchConfig, write_patches
from dfmask_lib.train import (
    LEARNING_RATES, RUN_FILES, TrainConfig, classes_from_logits, clear_run, load_checkpoint,
    load_result, mfb_weights, moving_average, predict_patches, should_stop, train,
)
from dfmask_lib.unet import UNet


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("h5")
    train_h5, val_h5 = d / "train.h5", d / "val.h5"
    # window 32 = patch 32: one patch per scene
    write_patches(train_h5, learnable_scenes(16), PatchConfig(window=32, patch_size=32))
    write_patches(val_h5, learnable_scenes(4, seed=1),
                  PatchConfig(mode="test", window=32, patch_size=32))
    return train_h5, val_h5


def tiny(**kw) -> TrainConfig:
    base = dict(start_filters=4, depth=2, batch_size=4, num_workers=0, device="cpu",
                full=True, lr=1e-2)
    return TrainConfig(**{**base, **kw})


# ----------------------------------------------------------------------------- pure functions


def test_mfb_weights_of_a_known_histogram() -> None:
    # classes 1,2,3,5 present with freq 0.1, 0.2, 0.3, 0.4 -> median 0.25
    with pytest.warns(UserWarning, match="snow/ice"):
        w = mfb_weights([1000, 10, 20, 30, 0, 40])
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, [0, 2.5, 1.25, 0.25 / 0.3, 0, 0.625], rtol=1e-6)
    w = mfb_weights([0, 1, 1, 1, 1, 4])  # freq 1/8 x4, 1/2 -> median 1/8
    np.testing.assert_allclose(w, [0, 1, 1, 1, 1, 0.25], rtol=1e-6)
    with pytest.raises(DataFileError, match="no labelled pixel"):
        mfb_weights([5, 0, 0, 0, 0, 0])


def test_moving_average_and_early_stopping() -> None:
    assert moving_average([1, 3, 5, 7], 2) == [1, 2, 4, 6]
    rising = list(np.linspace(0.1, 0.9, 30))
    assert not should_stop(rising, 10, 10)
    plateau = [0.5] * 11
    assert should_stop(plateau, 10, 10)       # best MA at epoch 1, 10 epochs without gain
    assert not should_stop(plateau[:10], 10, 10)
    dip = [0.1, 0.9] + [0.2] * 9              # MA peaks at epoch 2 then falls
    assert not should_stop(dip, 3, 10) and should_stop(dip + [0.2], 3, 10)


def test_config_defaults_follow_the_stage_table() -> None:
    assert [TrainConfig(stage=s).lr for s in range(4)] == [1e-3, 7e-4, 3e-4, 1e-4]
    assert dict(LEARNING_RATES) == {0: 1e-3, 1: 7e-4, 2: 3e-4, 3: 1e-4}
    assert TrainConfig().augment is False and TrainConfig(stage=2).augment is True
    cfg = TrainConfig()
    assert (cfg.batch_size, cfg.max_epochs, cfg.patience, cfg.weight_decay) == (8, 400, 10, 1e-5)
    assert TrainConfig(stage=3).model_config().start_filters == 32
    with pytest.raises(ConfigError):
        TrainConfig(stage=5)
    with pytest.raises(ConfigError):
        TrainConfig(batch_size=0)


def test_photometric_is_opt_in_needs_augment_and_old_configs_still_load() -> None:
    from dfmask_lib.config import config_from_dict, config_to_dict

    assert TrainConfig().photometric is False and TrainConfig(stage=1).photometric is False
    assert TrainConfig(stage=1, photometric=True).photometric is True
    with pytest.raises(ConfigError, match="needs augment=True"):
        TrainConfig(photometric=True)  # stage 0: no augmentation by default
    with pytest.raises(ConfigError, match="in_channels"):
        TrainConfig(stage=1, photometric=True, in_channels=5)
    old = config_to_dict(TrainConfig(stage=1))
    del old["photometric"]  # a checkpoint written before the field existed
    assert config_from_dict(TrainConfig, old) == TrainConfig(stage=1)


# ----------------------------------------------------------------------------- training


def test_photometric_training_runs_and_changes_the_batches(data, tmp_path: Path) -> None:
    train_h5, val_h5 = data
    plain = train(tiny(max_epochs=1, augment=True), train_h5, val_h5, tmp_path / "a",
                  progress=False)
    photo = train(tiny(max_epochs=1, augment=True, photometric=True), train_h5, val_h5,
                  tmp_path / "b", progress=False)
    assert np.isfinite(photo.history[0]["train_loss"])
    assert photo.history[0]["train_loss"] != plain.history[0]["train_loss"]
    assert json.loads((tmp_path / "b" / "config.json").read_text())["photometric"] is True


def test_training_lowers_the_loss_and_writes_its_outputs(data, tmp_path: Path) -> None:
    train_h5, val_h5 = data
    res = train(tiny(max_epochs=4), train_h5, val_h5, tmp_path / "run", progress=False)
    losses = [h["train_loss"] for h in res.history]
    assert res.epochs_run == 4 and losses[-1] < 0.7 * losses[0]
    assert res.history[-1]["val_miou"] > res.history[0]["val_miou"]
    assert {p.name for p in (tmp_path / "run").iterdir()} == {
        "config.json", "last.pt", "best.pt", "log.csv", "log.json"}
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert [r["epoch"] for r in log] == [1, 2, 3, 4]
    assert set(log[0]) >= {"train_loss", "val_loss", "val_miou", "iou_1", "iou_5", "time_s"}
    csv_lines = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("epoch,train_loss")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr"] == 1e-2

    model, cfg, ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    assert cfg == tiny(max_epochs=4) and ckpt["epoch"] == res.best_epoch
    images = torch.from_numpy(learnable_scenes(2, seed=5)[0][1][None])
    classes, conf = predict_patches(model, images)
    assert classes.shape == (1, 32, 32) and classes.dtype == np.uint8
    # the top of the 6-way softmax among classes 1-5: in (0, 1], above chance once trained
    assert conf.dtype == np.float32 and np.all((conf > 0) & (conf <= 1.0))
    assert conf.mean() > 1.5 / 6  # above the uniform 1/6
    again, _ = predict_patches(model, images, batch_size=1, device="cpu")
    np.testing.assert_array_equal(again, classes)
    with pytest.raises(ConfigError, match="batch_size"):
        predict_patches(model, images, batch_size=0)
    with pytest.raises(ConfigError, match="unknown device"):
        predict_patches(model, images, device="gpu0")


def test_interrupted_run_resumes_bit_identically(data, tmp_path: Path) -> None:
    train_h5, val_h5 = data
    cfg = tiny(max_epochs=4, augment=True)
    full = train(cfg, train_h5, val_h5, tmp_path / "a", progress=False)
    train(tiny(max_epochs=2, augment=True), train_h5, val_h5, tmp_path / "b", progress=False)
    resumed = train(cfg, train_h5, val_h5, tmp_path / "b", resume=True, progress=False)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 4
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    assert strip(full.history) == strip(resumed.history)
    # a finished run resumes to itself without training
    again = train(cfg, train_h5, val_h5, tmp_path / "b", resume=True, progress=False)
    assert strip(again.history) == strip(full.history)


def test_resume_with_data_loader_workers_is_bit_identical(data, tmp_path: Path) -> None:
    # Persistent workers draw a base seed when the loader first starts (once per run, again
    # after a resume); that draw must not shift the shuffle order or the dropout RNG.
    train_h5, val_h5 = data
    cfg = tiny(max_epochs=3, num_workers=1)
    train(cfg, train_h5, val_h5, tmp_path / "a", progress=False)
    train(tiny(max_epochs=2, num_workers=1), train_h5, val_h5, tmp_path / "b", progress=False)
    train(cfg, train_h5, val_h5, tmp_path / "b", resume=True, progress=False)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


def test_resume_loads_the_checkpoint_on_the_cpu(data, tmp_path: Path, monkeypatch) -> None:
    # A checkpoint mapped to the GPU holds CUDA RNG-state tensors that torch.set_rng_state
    # refuses: resuming on a GPU must load on the CPU (checked here without a GPU).
    import dfmask_lib.train as train_mod

    train_h5, val_h5 = data
    train(tiny(max_epochs=1), train_h5, val_h5, tmp_path / "r", progress=False)
    seen, real_load = [], torch.load

    def load(path, *args, **kw):
        seen.append(kw.get("map_location"))  # "cpu" itself, not the run's device
        return real_load(path, *args, **kw)

    monkeypatch.setattr(train_mod.torch, "load", load)
    res = train(tiny(max_epochs=2), train_h5, val_h5, tmp_path / "r", resume=True,
                progress=False)
    assert res.epochs_run == 2 and seen == ["cpu"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_resume_on_a_gpu(data, tmp_path: Path) -> None:
    train_h5, val_h5 = data
    train(tiny(max_epochs=1, device="cuda"), train_h5, val_h5, tmp_path / "g", progress=False)
    res = train(tiny(max_epochs=2, device="cuda"), train_h5, val_h5, tmp_path / "g",
                resume=True, progress=False)
    assert res.epochs_run == 2


@pytest.mark.parametrize("workers", [0, 1])
def test_bad_validation_labels_fail_before_training(data, tmp_path: Path, workers: int) -> None:
    import h5py

    train_h5, val_h5 = data
    bad = tmp_path / "bad_val.h5"
    bad.write_bytes(val_h5.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["label"][1, 5, 5] = 9
    with pytest.raises(DataFileError, match=r"^bad_val.h5 patch 1 holds codes \[9\]") as exc:
        train(tiny(max_epochs=1, num_workers=workers), train_h5, bad, tmp_path / "r",
              progress=False)
    assert "\n" not in str(exc.value) and not (tmp_path / "r" / "last.pt").exists()
    empty = tmp_path / "empty_val.h5"
    empty.write_bytes(val_h5.read_bytes())
    with h5py.File(empty, "r+") as f:
        f["label"][...] = 0
    with pytest.raises(DataFileError, match="no labelled pixel"):
        train(tiny(max_epochs=1, num_workers=workers), train_h5, empty, tmp_path / "r",
              progress=False)


def test_run_errors(data, tmp_path: Path) -> None:
    train_h5, val_h5 = data
    with pytest.raises(ConfigError, match="self-training"):
        train(tiny(stage=1, full=False), train_h5, val_h5, tmp_path / "s1", progress=False)
    train(tiny(max_epochs=1), train_h5, val_h5, tmp_path / "r", progress=False)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tiny(max_epochs=1), train_h5, val_h5, tmp_path / "r", progress=False)
    with pytest.raises(ConfigError, match=r"differs in \['lr'\]"):
        train(tiny(max_epochs=2, lr=0.5), train_h5, val_h5, tmp_path / "r", resume=True,
              progress=False)
    other = tmp_path / "other.h5"
    write_patches(other, learnable_scenes(16, seed=9), PatchConfig(window=32, patch_size=32))
    with pytest.raises(ConfigError, match="data .or labels. changed"):
        train(tiny(max_epochs=2), other, val_h5, tmp_path / "r", resume=True, progress=False)
    with pytest.warns(UserWarning, match="afresh.*data .or labels. changed"):
        res = train(tiny(max_epochs=1), other, val_h5, tmp_path / "r", resume=True,
                    restart_on_change=True, progress=False)
    assert res.epochs_run == 1
    again = train(tiny(max_epochs=1), other, val_h5, tmp_path / "r", resume=True,
                  restart_on_change=True, progress=False)  # unchanged: reloaded as it is
    assert again.history == res.history
    with pytest.raises(DataFileError, match="model takes 13"):
        train(tiny(in_channels=13), train_h5, val_h5, tmp_path / "c", progress=False)
    with pytest.raises(MissingDataError):
        train(tiny(), tmp_path / "nope.h5", val_h5, tmp_path / "m", progress=False)
    with pytest.raises(MissingDataError):
        load_checkpoint(tmp_path / "nope.pt")
    ckpt = torch.load(tmp_path / "r" / "best.pt", weights_only=True)
    ckpt["model"].pop(next(iter(ckpt["model"])))  # weights that no longer fit the config
    torch.save(ckpt, tmp_path / "edited.pt")
    with pytest.raises(DataFileError, match="do not fit the network of its stored config"):
        load_checkpoint(tmp_path / "edited.pt")


def test_train_command(data, tmp_path: Path, capsys) -> None:
    from dfmask_lib.cli import main

    train_h5, val_h5 = data
    args = ["train", "exp", "--full", "--train-h5", str(train_h5), "--val-h5", str(val_h5),
            "--epochs", "1", "--batch-size", "8", "--workers", "0", "--device", "cpu",
            "--out-dir", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 0
    assert "1 epochs (done); best validation mIoU" in capsys.readouterr().out
    model, cfg, _ = load_checkpoint(tmp_path / "run" / "best.pt")
    assert (cfg.stage, cfg.in_channels, cfg.full, cfg.lr) == (0, 7, True, 1e-3)
    assert (cfg.augment, cfg.photometric) == (False, False)
    with pytest.raises(SystemExit) as exc:  # photometric without augmentation: one line
        main(args[:-1] + [str(tmp_path / "p"), "--photometric"])
    assert exc.value.code == 2 and "needs augment=True" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(args[:-1] + [str(tmp_path / "p"), "--augment", "--photometric"])
    assert exc.value.code == 0
    capsys.readouterr()
    _, cfg, _ = load_checkpoint(tmp_path / "p" / "best.pt")
    assert (cfg.augment, cfg.photometric) == (True, True)
    with pytest.raises(SystemExit) as exc:  # stage 1 needs pseudo-labels: a clear error
        main([a if a != "--full" else "--stage=1" for a in args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "relabelled by the stage 0 model: run the self-training " \
        "with `dfmask selftrain`" in err and "--full" in err


def test_pseudo_labels_set_the_data_and_class_weights_and_restart_a_changed_run(
        data, tmp_path: Path) -> None:
    """Stage 1 on a label override: subsets 0-1 only, MFB weights from the override."""
    import h5py

    train_h5, val_h5 = data
    with h5py.File(train_h5) as f:
        stored, subset = f["label"][:], f["subset"][:]
    labels = stored.copy()
    labels[(subset == 1)[:, None, None] & (stored > 0)] = 2  # subset 1 "relabelled" all cloud
    labels[subset > 1] = 0
    cfg = tiny(stage=1, full=False, max_epochs=1)
    out = tmp_path / "s1"
    res = train(cfg, train_h5, val_h5, out, labels=labels, progress=False)
    hist = np.bincount(labels[subset <= 1].ravel(), minlength=6)
    assert res.data["subsets"] == [0, 1] and res.data["n_train"] == 8
    np.testing.assert_array_equal(np.float32(res.data["class_weights"]), mfb_weights(hist))
    stored_hist = np.bincount(stored[subset <= 1].ravel(), minlength=6)
    assert not np.allclose(res.data["class_weights"], mfb_weights(stored_hist))
    again = load_result(out)  # what train() returned, from last.pt
    assert (again.history, again.best_epoch, again.best_miou, again.data) == (
        res.history, res.best_epoch, res.best_miou, res.data)

    other = labels.copy()
    other[subset == 1] = stored[subset == 1]
    with pytest.raises(ConfigError, match="data .or labels. changed"):
        train(cfg, train_h5, val_h5, out, resume=True, labels=other, progress=False)
    with pytest.warns(UserWarning, match="afresh.*labels"):
        new = train(cfg, train_h5, val_h5, out, resume=True, restart_on_change=True,
                    labels=other, progress=False)
    np.testing.assert_array_equal(np.float32(new.data["class_weights"]), mfb_weights(stored_hist))
    clear_run(out)
    assert not any((out / name).exists() for name in RUN_FILES)
    assert (out / "config.json").exists()
    with pytest.raises(MissingDataError, match="no last.pt"):
        load_result(out)


def test_classes_from_logits_never_predicts_no_data_and_masks_empty_input() -> None:
    logits = torch.zeros(1, 6, 1, 3)
    logits[0, 0] = 10.0           # "no data" has the largest logit everywhere ...
    logits[0, 4, 0, 0] = 1.0      # ... but snow wins among classes 1-5 at pixel 0
    logits[0, 2, 0, 1] = 1.0      # cloud at pixel 1
    image = torch.ones(1, 2, 1, 3)
    image[0, :, 0, 2] = 0         # pixel 2: no data in every channel
    classes, conf = classes_from_logits(logits, image)
    assert classes.tolist() == [[[4, 2, 0]]] and classes.dtype == torch.uint8
    expected = np.exp(1.0) / (np.exp(10.0) + np.exp(1.0) + 4)
    assert conf[0, 0, 0].item() == pytest.approx(expected, rel=1e-5)


def test_mixed_precision_channels_last_and_workers(data, tmp_path: Path) -> None:
    train_h5, val_h5 = data
    cfg = tiny(max_epochs=2, amp=True, channels_last=True, num_workers=1)
    res = train(cfg, train_h5, val_h5, tmp_path / "amp", progress=False)
    assert res.epochs_run == 2 and np.isfinite(res.history[-1]["train_loss"])
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    model, _, _ = load_checkpoint(tmp_path / "amp" / "last.pt")
    assert next(model.parameters()).dtype == torch.float32  # weights stay fp32 under autocast


def test_device_helpers() -> None:
    from dfmask_lib.device import amp_dtype, needs_grad_scaler, resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert amp_dtype(torch.device("cpu")) == torch.bfloat16
    assert not needs_grad_scaler(torch.device("cpu"), amp=True)
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.slow
def test_full_size_stage0_on_synthetic_products(tmp_path: Path) -> None:
    """The real pipeline at real sizes: synthetic SAFE products, Fmask labels, 256 px patches,
    the 1.94 M-parameter stage-0 U-Net, two epochs, resumed once."""
    from dfmask_lib.fmask import fmask_product
    from dfmask_lib.products import make_data
    from dfmask_lib.synthetic.splits import write_splits

    splits = write_splits(tmp_path / "synth", n_train=2, n_val=1, n_test=0, size=258,
                          progress=False)
    for product in splits["TRAIN"]:
        fmask_product(product)
    train_h5 = make_data(tmp_path / "synth" / "TRAIN", tmp_path / "train.h5")
    val_h5 = make_data(tmp_path / "synth" / "VALIDATION", tmp_path / "val.h5",
                       PatchConfig(mode="test"))
    cfg = TrainConfig(full=True, max_epochs=1, num_workers=0, device="cpu")
    train(cfg, train_h5, val_h5, tmp_path / "run", progress=False)
    res = train(TrainConfig(full=True, max_epochs=2, num_workers=0, device="cpu"), train_h5,
                val_h5, tmp_path / "run", resume=True, progress=False)
    assert res.epochs_run == 2 and res.history[1]["train_loss"] < res.history[0]["train_loss"]
    model, cfg, _ = load_checkpoint(tmp_path / "run" / "best.pt")
    assert sum(p.numel() for p in model.parameters()) == 1_944_710


# ----------------------------------------------------------------------------- the loss in train()


def skewed_scene(size: int = 32, seed: int = 3) -> tuple[str, np.ndarray, np.ndarray]:
    """One scene with pixel counts 64 / 480 / 240 / 120 / 60 / 60 of classes 0-5.

    Frequencies over classes 1-5: 1/2, 1/4, 1/8, 1/16, 1/16 -> median 1/8 -> MFB weights
    0.25, 0.5, 1, 2, 2 (and 0 for class 0).
    """
    counts = [64, 480, 240, 120, 60, 60]
    label = np.repeat(np.arange(6, dtype=np.uint8), counts).reshape(size, size)
    image = np.random.default_rng(seed).normal(0, 0.3, (7, size, size)).astype(np.float32)
    for c in range(5):
        image[c] += label == c + 1  # learnable: the per-class losses soon differ
    return "skewed", image, label


def test_the_training_step_uses_mfb_weights_and_ignores_class_0(tmp_path: Path,
                                                                monkeypatch) -> None:
    """Each epoch's loss is the weighted, ignore-0 cross-entropy of the logits it saw.

    One training patch and one batch per epoch: an epoch's train_loss is the loss of its
    single step, taken on logits recorded from the model's forward pass (train mode, before
    the update). Once the net has learnt a little, the per-class losses differ and a plain
    ``CrossEntropyLoss()`` (or one without the weights, or one counting class 0) gives
    another number.
    """
    import dfmask_lib.train as train_mod

    train_h5, val_h5 = tmp_path / "train.h5", tmp_path / "val.h5"
    scene = skewed_scene()
    write_patches(train_h5, [scene], PatchConfig(window=32, patch_size=32))
    write_patches(val_h5, [scene], PatchConfig(mode="test", window=32, patch_size=32))
    seen: list[torch.Tensor] = []

    class RecordingUNet(train_mod.UNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = super().forward(x)
            if self.training:
                seen.append(out.detach().clone())
            return out

    monkeypatch.setattr(train_mod, "UNet", RecordingUNet)
    res = train(tiny(max_epochs=6, batch_size=4), train_h5, val_h5, tmp_path / "run",
                progress=False)
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    np.testing.assert_allclose(ckpt["data"]["class_weights"], [0, 0.25, 0.5, 1, 2, 2], rtol=1e-6)

    assert len(seen) == res.epochs_run == 6  # one training forward pass per epoch
    y = torch.from_numpy(scene[2].astype(np.int64))[None]
    w = torch.tensor([0, 0.25, 0.5, 1, 2, 2], dtype=torch.float64)[y]
    w0 = torch.where(y > 0, w, 1.0)
    for logits, row in zip(seen, res.history):
        nll = -torch.log_softmax(logits.double(), dim=1).gather(1, y[:, None])[:, 0]
        expected = float((w * nll).sum() / w.sum())    # weight 0 on class 0 = ignored
        assert row["train_loss"] == pytest.approx(expected, rel=1e-5), row["epoch"]
    got = res.history[-1]["train_loss"]
    wrong = {"CrossEntropyLoss()": float(nll.mean()),
             "ignore 0, no weights": float(nll[y > 0].mean()),
             "weights, class 0 counted": float((w0 * nll).sum() / w0.sum())}
    for name, value in wrong.items():
        assert abs(value - got) > 0.01 * got, name  # 1000x the tolerance: told apart


# ----------------------------------------------------------------------------- early stopping


def test_early_stopping_ends_a_run_whose_validation_cannot_improve(tmp_path: Path) -> None:
    """All-zero validation images are no data: every prediction is 0, mIoU is 0 every epoch.

    A flat moving average peaks at epoch 1 (the first maximum) and has not improved for
    10 epochs after epoch 11: the run stops there, far below max_epochs 40.
    """
    train_h5, val_h5 = tmp_path / "train.h5", tmp_path / "val.h5"
    write_patches(train_h5, learnable_scenes(2), PatchConfig(window=32, patch_size=32))
    (name, image, label), = learnable_scenes(1, seed=1)
    write_patches(val_h5, [(name, np.zeros_like(image), label)],
                  PatchConfig(mode="test", window=32, patch_size=32))
    res = train(tiny(max_epochs=40), train_h5, val_h5, tmp_path / "run", progress=False)
    assert res.stopped_early and res.epochs_run == 11
    assert [h["val_miou"] for h in res.history] == [0.0] * 11
    assert res.best_epoch == 1 and res.best_miou == 0.0
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert [r["epoch"] for r in log] == list(range(1, 12))
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert last["epoch"] == 11 and last["stopped_early"] is True
    # A stopped run resumes to itself: no 12th epoch.
    again = train(tiny(max_epochs=40), train_h5, val_h5, tmp_path / "run", resume=True,
                  progress=False)
    assert again.epochs_run == 11 and again.stopped_early


def test_early_stopping_follows_the_10_epoch_moving_average(tmp_path: Path, monkeypatch) -> None:
    """Scripted validation mIoU: 0 x 10, then 1.0 at epoch 11, then 0.6 for ever.

    The raw mIoU peaks at epoch 11 (patience on it would stop after epoch 21). The trailing
    10-epoch moving average keeps rising while the 1.0 is in its window: it peaks at epoch 20
    ((1.0 + 9 x 0.6) / 10 = 0.64) and then stays at 0.6, so the run stops after epoch 30. The
    kept (best) epoch is the best raw mIoU, epoch 11.
    """
    import dfmask_lib.train as train_mod

    script = [0.0] * 10 + [1.0] + [0.6] * 40
    real_evaluate, calls = train_mod._evaluate, []

    def scripted(*args, **kwargs):
        val_loss, _ = real_evaluate(*args, **kwargs)
        cm = np.zeros((6, 6), dtype=np.int64)
        correct = round(10 * script[len(calls)])
        cm[1, 1], cm[1, 0] = correct, 10 - correct  # class 1 only: IoU = correct / 10
        calls.append(cm)
        return val_loss, cm

    monkeypatch.setattr(train_mod, "_evaluate", scripted)
    train_h5, val_h5 = tmp_path / "train.h5", tmp_path / "val.h5"
    write_patches(train_h5, learnable_scenes(2), PatchConfig(window=32, patch_size=32))
    write_patches(val_h5, learnable_scenes(1, seed=1),
                  PatchConfig(mode="test", window=32, patch_size=32))
    res = train(tiny(max_epochs=45), train_h5, val_h5, tmp_path / "run", progress=False)
    assert [h["val_miou"] for h in res.history] == pytest.approx(script[:30])
    assert res.stopped_early and res.epochs_run == 30
    ma = moving_average([h["val_miou"] for h in res.history], 10)
    assert int(np.argmax(ma)) + 1 == 20 and max(ma) == pytest.approx(0.64)
    assert res.best_epoch == 11 and res.best_miou == 1.0
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["epoch"] == 11


def test_on_epoch_sees_every_epoch_checkpoint_and_changes_nothing(data, tmp_path: Path) -> None:
    train_h5, val_h5 = data
    seen = []

    def keep(epoch: int, last: Path) -> None:
        ckpt = torch.load(last, weights_only=True)
        seen.append((epoch, ckpt["epoch"], round(float(ckpt["history"][-1]["val_miou"]), 6)))

    plain = train(tiny(max_epochs=3), train_h5, val_h5, tmp_path / "a", progress=False)
    hooked = train(tiny(max_epochs=3), train_h5, val_h5, tmp_path / "b", progress=False,
                   on_epoch=keep)
    assert [s[:2] for s in seen] == [(1, 1), (2, 2), (3, 3)]
    assert [s[2] for s in seen] == [round(float(h["val_miou"]), 6) for h in plain.history]
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    assert hooked.best_epoch == plain.best_epoch


LOADER_SCRIPT = '''
import gc, sys
import torch
from torch.utils.data import DataLoader, Dataset
from dfmask_lib.train import make_loader


class Collecting(Dataset):  # a worker whose collector runs while it loads
    def __len__(self):
        return 2

    def __getitem__(self, i):
        gc.collect()
        return torch.zeros(1)


gc.disable()  # the parent has not collected yet when the next loader forks
old = iter(DataLoader(range(8), batch_size=1, num_workers=1))
next(old)  # an iterator left unfinished, in a reference cycle
cycle = [old]
cycle.append(cycle)
del old, cycle
mode = sys.argv[1]
if mode == "plain":
    loader = DataLoader(Collecting(), batch_size=1, num_workers=1)
else:
    loader = make_loader(Collecting(), 1, 1, torch.device("cpu"))
print(len(list(loader)))
'''


@pytest.mark.parametrize("mode, clean", [("plain", False), ("frozen", True)])
def test_loader_workers_never_finalise_the_parents_iterators(tmp_path: Path, mode: str,
                                                              clean: bool) -> None:
    # An older loader's iterator freed by a forked worker's collector printed torch's
    # "AssertionError: can only test a child process" traceback into the book's stage page.
    # The plain DataLoader shows the failure happens; make_loader's workers must not.
    import subprocess
    import sys
    script = tmp_path / "loaders.py"
    script.write_text(LOADER_SCRIPT)
    done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
    assert ("can only test a child process" not in done.stderr) is clean, done.stderr


# ----------------------------------------------------------------------------- torchrun

DDP_SCRIPT = '''
import json
import sys
from dfmask_lib.config import config_from_dict
from dfmask_lib.train import TrainConfig, train
cfg = config_from_dict(TrainConfig, json.loads(sys.argv[1]))
train(cfg, sys.argv[2], sys.argv[3], sys.argv[4], progress=False)
'''


def test_two_gloo_processes_train_like_one_with_the_same_global_batch(data, tmp_path: Path):
    # torchrun with 2 CPU processes (gloo): each takes half of every global batch of 4;
    # BatchNorm statistics and the loss are the global batch's, so the weights must match
    # one process with batch 4 up to float rounding. Dropout off: its draws are per process.
    import subprocess
    import sys

    from dfmask_lib.config import config_to_dict

    cfg = tiny(max_epochs=3, dropout=0.0, augment=False, full=True)
    single = train(cfg, *data, tmp_path / "one", progress=False)
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", str(script), json.dumps(config_to_dict(cfg)), *map(str, data),
           str(tmp_path / "two")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    files = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "one").iterdir())  # one writer
    assert not any(".part" in f for f in files)
    a = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    torch.manual_seed(cfg.seed)  # as train() seeds it before building the network
    start = UNet(cfg.model_config()).state_dict()
    for name, value in a["model"].items():
        if value.is_floating_point():
            torch.testing.assert_close(b["model"][name], value, rtol=1e-4, atol=1e-5,
                                       msg=name)
        else:
            assert torch.equal(b["model"][name], value), name
    moved = max(float((a["model"][k] - v).abs().max()) for k, v in start.items()
                if v.is_floating_point())
    assert moved > 1e-3  # equal by learning the same, not by not moving
    hist = lambda h: [(r["epoch"], round(r["train_loss"], 4), round(r["val_miou"], 4))  # noqa
                      for r in h]
    assert hist(b["history"]) == hist(single.history)
