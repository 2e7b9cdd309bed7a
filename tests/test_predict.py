"""Tests of dfmask_lib.predict and ``dfmask predict``: blended windows, no-data, products, CLI.

A tiny U-Net (4 filters, depth 3) trained for a few seconds on a seeded smooth scene stands in
for a stage model: it is decisive enough (median top-2 margin ~0.2) for window effects to show.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from scipy import ndimage

from conftest import fetch_real_dir  # tests/conftest.py: skip, or fail in CI
from dfmask_lib.cache import sidecar
from dfmask_lib.classes import CLASS_COLOURS
from dfmask_lib.cli import main
from dfmask_lib.config import config_to_dict
from dfmask_lib.errors import BandError, ConfigError, DataFileError, LabelError, MissingDataError
from dfmask_lib.metrics import confusion_matrix, scores
from dfmask_lib.patches import input_stack
from dfmask_lib.predict import (PredictConfig, blend_blocks, class_fractions, default_output,
                                predict_array, predict_product, resolve_checkpoint)
from dfmask_lib.reader import read_product
from dfmask_lib.train import TrainConfig
from dfmask_lib.unet import UNet, UNetConfig

SAFE_A = "alcd_toulouse_safe/S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"
STACK_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
TINY = dict(start_filters=4, depth=3)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: one thread is faster and not disturbed by other processes' load."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def smooth_scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    """float32 (7, h, w) smooth fields ~0-0.7, a no-data block (all channels 0) bottom left."""
    rng = np.random.default_rng(seed)
    img = np.stack([ndimage.gaussian_filter(rng.random((h, w)), 4) for _ in range(7)])
    img = ((img - 0.5) * 8 + 0.3).astype(np.float32)
    img[:, int(h * 0.75):, : w // 6] = 0
    return img


def train_tiny(steps: int = 40) -> UNet:
    """The tiny U-Net fitted for ``steps`` Adam steps to a contextual rule (largest 9 px mean
    of channels 0-4), seeded: same weights every run."""
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    img = smooth_scene(128, 128, seed=1)
    means = np.stack([ndimage.uniform_filter(img[c], 9) for c in range(5)])
    label = np.argmax(means, 0) + 1
    label[(img == 0).all(0)] = 0
    model = UNet(UNetConfig(in_channels=7, **TINY))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.from_numpy(img)[None], torch.from_numpy(label)[None]
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y, ignore_index=0).backward()
        opt.step()
    torch.set_num_threads(n)
    return model.eval()


@pytest.fixture(scope="module")
def trained() -> UNet:
    return train_tiny()


@pytest.fixture(scope="module")
def checkpoint(trained, tmp_path_factory) -> Path:
    """``trained`` saved as load_checkpoint reads it (train.train()'s dict, model + config)."""
    cfg = TrainConfig(stage=0, in_channels=7, num_workers=0, **TINY)
    path = tmp_path_factory.mktemp("run") / "best.pt"
    torch.save({"model": trained.state_dict(), "config": config_to_dict(cfg), "epoch": 7}, path)
    return path


class Pointwise(torch.nn.Module):
    """A 1x1 convolution: no context, so any tiling must give its softmax exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.config = UNetConfig(in_channels=7, depth=1)
        self.conv = torch.nn.Conv2d(7, 6, 1)
        torch.manual_seed(3)
        torch.nn.init.normal_(self.conv.weight, std=3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


# --------------------------------------------------------------------------- pure core


@pytest.mark.parametrize("shape", [(15, 15), (33, 70), (200, 230)])
@pytest.mark.parametrize(("window", "overlap"), [(32, 0), (64, 32), (96, 64), (512, 64)])
def test_blending_is_exact_for_a_model_without_context(shape, window, overlap):
    model = Pointwise().eval()
    img = smooth_scene(*shape)
    pred = predict_array(model, img, window=window, overlap=overlap, batch_size=3,
                         probabilities=True, device="cpu")
    with torch.no_grad():
        direct = torch.softmax(model(torch.from_numpy(img)[None]), 1)[0].numpy()
    valid = (img != 0).any(0)
    np.testing.assert_allclose(pred.probabilities[:, valid], direct[:, valid], atol=2e-6)
    assert (pred.probabilities[:, ~valid] == 0).all()
    expected = np.where(valid, direct[1:].argmax(0) + 1, 0)
    np.testing.assert_array_equal(pred.classes, expected)
    np.testing.assert_allclose(pred.confidence, np.where(valid, direct[1:].max(0), 0), atol=2e-6)
    assert pred.classes.dtype == np.uint8 and pred.confidence.dtype == np.float32


def test_one_window_equals_the_network_on_the_padded_scene(trained):
    img = smooth_scene(70, 90)
    pred = predict_array(trained, img, window=512, device="cpu", channels_last=False)
    padded = np.zeros((7, 96, 96), np.float32)
    padded[:, :70, :90] = img
    with torch.no_grad():
        prob = torch.softmax(trained(torch.from_numpy(padded)[None]), 1)[0, :, :70, :90].numpy()
    valid = (img != 0).any(0)
    np.testing.assert_array_equal(pred.classes, np.where(valid, prob[1:].argmax(0) + 1, 0))
    np.testing.assert_allclose(pred.confidence[valid], prob[1:].max(0)[valid], atol=1e-6)


def test_classes_do_not_depend_on_the_window_size(trained):
    """Windows of 64-160 px agree with one window over the whole scene: blended probabilities
    within 0.03 (measured: 0.028 at overlap 32, 0.006 at overlap 64, where a pixel near one
    window's border saw less context), so classes differ only where the reference's top two
    are within 0.06 (< 0.1 % of pixels). Without blending (overlap 0) the window borders
    show: probabilities off by 0.7, 4 % of the classes differ."""
    img = smooth_scene(200, 230)
    valid = (img != 0).any(0)
    ref = predict_array(trained, img, window=256, overlap=0, probabilities=True, device="cpu")
    top2 = np.sort(ref.probabilities[1:], axis=0)[-2:]
    decided = (top2[1] - top2[0]) > 0.06
    assert np.median(top2[1] - top2[0]) > 0.1  # a decisive model: the test means something
    for window, overlap in ((64, 32), (96, 32), (128, 64), (160, 32)):
        pred = predict_array(trained, img, window=window, overlap=overlap, batch_size=5,
                             probabilities=True, device="cpu")
        assert np.abs(pred.probabilities - ref.probabilities).max() < 0.03, (window, overlap)
        np.testing.assert_array_equal(pred.classes[decided], ref.classes[decided])
        assert (pred.classes == ref.classes).mean() > 0.999
        assert (pred.classes[~valid] == 0).all() and (pred.classes[valid] > 0).all()  # no strips
    unblended = predict_array(trained, img, window=64, overlap=0, probabilities=True,
                              device="cpu")
    assert np.abs(unblended.probabilities - ref.probabilities).max() > 0.3
    assert (unblended.classes == ref.classes).mean() < 0.97


def test_pinned_prediction_of_the_seeded_model():
    # The seeded tiny U-Net before training: its float32 forward pass gives these numbers on
    # every CPU kernel set (checked with ATEN_CPU_CAPABILITY=default and avx2). A trained model
    # is no pin: 40 Adam steps amplify the kernels' rounding into other weights (its class
    # counts moved by 20 % from one CPU to another, even when trained in float64).
    torch.manual_seed(0)
    model = UNet(UNetConfig(in_channels=7, **TINY)).eval()
    pred = predict_array(model, smooth_scene(200, 230), device="cpu")
    assert np.bincount(pred.classes.ravel(), minlength=6).tolist() == PINNED_COUNTS
    assert float(pred.confidence.mean()) == pytest.approx(PINNED_CONFIDENCE, abs=1e-5)


#: Class counts (0-5) and mean confidence of the seeded model on smooth_scene(200, 230).
PINNED_COUNTS = [1900, 36576, 742, 6782, 0, 0]
PINNED_CONFIDENCE = 0.164244


def test_no_data_everywhere_gives_class_0(trained):
    pred = predict_array(trained, np.zeros((7, 40, 50), np.float32), device="cpu")
    assert not pred.classes.any() and not pred.confidence.any()


def test_explicit_valid_mask(trained):
    img = smooth_scene(64, 64)
    valid = np.ones((64, 64), bool)
    valid[:10] = False
    pred = predict_array(trained, img, valid=valid, device="cpu")
    assert not pred.classes[:10].any() and pred.classes[10:].all()


def test_contracts_checked_on_entry(trained):
    img = smooth_scene(40, 40)
    with pytest.raises(BandError, match="float32 \\(C, H, W\\)"):
        predict_array(trained, img.astype(np.float64))
    with pytest.raises(BandError, match="float32 \\(C, H, W\\)"):
        predict_array(trained, img[0])
    with pytest.raises(BandError, match="valid must be bool"):
        predict_array(trained, img, valid=np.ones((4, 4), bool))
    model13 = UNet(UNetConfig(in_channels=13, start_filters=2, depth=2))
    with pytest.raises(BandError, match=r"takes 13 input channels \(all13\) but the input has "
                                        r"7 \(swirndsi\)"):
        predict_array(model13, img)
    with pytest.raises(ConfigError, match="multiple of 32"):
        predict_array(trained, img, window=100)
    with pytest.raises(ConfigError, match="batch_size"):
        predict_array(trained, img, batch_size=0)


def test_blend_blocks_yields_every_pixel_once_in_order(trained):
    seen = []
    img = smooth_scene(300, 40)

    def rows(r0, r1):
        seen.append((r0, r1))
        return img[:, r0:r1], (img[:, r0:r1] != 0).any(0)

    cfg = PredictConfig(window=96, overlap=32, device="cpu")
    out = list(blend_blocks(trained, rows, (300, 40), cfg))
    assert seen == [(0, 96), (64, 160), (128, 224), (192, 288), (224, 300)]
    assert [(r0, c0, p.shape[1:]) for r0, c0, p, _ in out] == [
        (0, 0, (64, 40)), (64, 0, (64, 40)), (128, 0, (64, 40)), (192, 0, (32, 40)),
        (224, 0, (76, 40))]


def _assemble(model, img, cfg):
    h, w = img.shape[1:]
    out, blocks = np.full((6, h, w), np.nan, np.float32), []
    for r0, c0, p, v in blend_blocks(model, lambda a, b: (img[:, a:b], (img[:, a:b] != 0).any(0)),
                                     (h, w), cfg):
        assert np.isnan(out[:, r0:r0 + p.shape[1], c0:c0 + p.shape[2]]).all()  # each pixel once
        out[:, r0:r0 + p.shape[1], c0:c0 + p.shape[2]] = p
        blocks.append((r0, c0, p.shape[2]))
    return out, blocks


def test_column_panels_change_memory_not_the_result(trained):
    # windows start at 0, 64, ..., 192, 224 on both axes: 5 window columns
    img = smooth_scene(300, 310)
    img[:, 100:180, 120:200] = 0  # a hole of no data: windows inside it are skipped
    one, blocks1 = _assemble(trained, img, PredictConfig(window=96, overlap=32, device="cpu",
                                                         panel_windows=10))
    two, blocks2 = _assemble(trained, img, PredictConfig(window=96, overlap=32, device="cpu",
                                                         panel_windows=2))
    single, _ = _assemble(trained, img, PredictConfig(window=96, overlap=32, device="cpu",
                                                      panel_windows=1))
    assert not np.isnan(one).any() and not np.isnan(two).any()
    assert [c for r, c, _ in blocks1 if r == 0] == [0]
    assert [(c, w) for r, c, w in blocks2 if r == 0] == [(0, 128), (128, 96), (224, 86)]
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-6)
    np.testing.assert_allclose(single, one, rtol=0, atol=1e-6)
    np.testing.assert_allclose(one.sum(0)[(img != 0).any(0)], 1.0, atol=1e-5)


def test_class_fractions_of_observed_pixels():
    classes = np.array([[0, 1, 1, 2], [5, 5, 5, 5]], np.uint8)
    assert class_fractions(classes) == {"clear land": 2 / 7, "cloud": 1 / 7, "cloud shadow": 0.0,
                                        "snow/ice": 0.0, "water": 4 / 7}
    assert set(class_fractions(np.zeros((2, 2), np.uint8)).values()) == {0.0}


def test_predict_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="multiple of 32"):
        PredictConfig(window=510)
    with pytest.raises(ConfigError, match="overlap"):
        PredictConfig(overlap=608)
    with pytest.raises(ConfigError, match="strip_rows"):
        PredictConfig(strip_rows=0)


# --------------------------------------------------------------------------- products


def write_stack(path: Path, h: int = 300, w: int = 280, seed: int = 0) -> Path:
    """A 6-band uint16 DN GeoTIFF stack (B02 B03 B04 B08 B11 B12), DN 0 in a corner."""
    rng = np.random.default_rng(seed)
    fields = np.stack([ndimage.gaussian_filter(rng.random((h, w)), 5) for _ in STACK_BANDS])
    dn = np.clip((fields - 0.5) * 8 + 0.3, 0.01, 1.2) * 10000
    dn = dn.astype(np.uint16)
    dn[:, : h // 5, w - w // 4:] = 0
    with rasterio.open(path, "w", driver="GTiff", count=6, height=h, width=w, dtype="uint16",
                       crs="EPSG:32633", transform=Affine(20, 0, 500000, 0, -20, 7000000)) as dst:
        dst.write(dn)
    return path


BAND_OPTION = ["--band-names", ",".join(STACK_BANDS)]


def test_product_in_strips_equals_the_array_at_once(checkpoint, trained, tmp_path):
    stack = write_stack(tmp_path / "scene.tif")
    options = {"band_names": STACK_BANDS}
    cfg = PredictConfig(window=96, overlap=32, strip_rows=40, device="cpu", probabilities=True)
    res = predict_product(checkpoint, stack, reader_options=options, config=cfg, progress=False)
    assert res.path == tmp_path / "scene_DFMASK_CLASSES.tif" and not res.skipped
    scene = read_product(stack, bands=STACK_BANDS, band_names=STACK_BANDS, progress=False)
    want = predict_array(trained, input_stack(scene), valid=scene.valid, window=96,
                         overlap=32, device="cpu", probabilities=True)
    with rasterio.open(res.path) as ds:
        got = ds.read(1)
        assert ds.crs == scene.crs and ds.transform == scene.transform
        assert ds.nodata == 0 and ds.overviews(1) == [2]
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.colormap(1)[2] == (*CLASS_COLOURS[2], 255)
        tags = ds.tags()
    np.testing.assert_array_equal(got, want.classes)
    assert not got[: 300 // 5, 280 - 280 // 4:].any()  # no data
    assert json.loads(tags["DFMASK_CONFIG"])["window"] == 96
    assert json.loads(tags["DFMASK_TRAIN_CONFIG"])["start_filters"] == 4
    assert tags["DFMASK_CHECKPOINT_EPOCH"] == "7" and len(tags["DFMASK_CHECKPOINT_SHA256"]) == 64
    assert tags["DFMASK_INPUT_SET"] == "swirndsi" and tags["CLASS_3"] == "cloud shadow"
    assert res.class_fractions == class_fractions(want.classes)
    assert res.mpx_per_s > 0 and res.scores is None
    with rasterio.open(res.probabilities_path) as ds:
        assert ds.count == 5 and ds.nodata == 255 and ds.scales == (0.01,) * 5
        percent = ds.read()
    expected = np.rint(want.probabilities[1:] * 100)
    assert np.abs(percent[:, scene.valid] - expected[:, scene.valid]).max() <= 1
    assert (percent[:, ~scene.valid] == 255).all()
    assert res.probabilities_path.name == "scene_DFMASK_PROB.tif"


def synthetic_safe(folder: Path, size: int = 60) -> Path:
    from dfmask_lib.synthetic.safe_writer import ProductInfo, write_safe
    from dfmask_lib.synthetic.scene import SynthConfig, generate

    info = ProductInfo(tile_id="33XWJ", epsg=32633, ulx=399960, uly=8000040,
                       sensing_time="2020-07-12T12:05:21", relative_orbit=38, absolute_orbit=1)
    return write_safe(generate(SynthConfig(size=size, seed=2)), info, folder)


def test_safe_with_labels_is_scored_and_cached(checkpoint, tmp_path):
    safe = synthetic_safe(tmp_path)
    res = predict_product(checkpoint, safe, device="cpu", progress=False)
    (img_data,) = safe.glob("GRANULE/*/IMG_DATA")
    assert res.path == img_data / "T33XWJ_20200712T120521_DFMASK_CLASSES.tif"
    assert res.label_path == img_data / "T33XWJ_20200712T120521_LABELS.tif"
    with rasterio.open(res.path) as ds, rasterio.open(res.label_path) as lab:
        got, truth = ds.read(1), lab.read(1)
        assert ds.transform == lab.transform and ds.crs == lab.crs
    assert res.scores.oa == scores(confusion_matrix(truth, got)).oa
    assert res.scores.n_pixels == int((truth > 0).sum())
    again = predict_product(checkpoint, safe, device="cpu", progress=False)
    assert again.skipped and again.mpx_per_s is None and again.scores.oa == res.scores.oa
    assert sidecar(res.path).exists()
    # batch size, strip rows, device and memory format change speed and rounding only
    cfg = PredictConfig(batch_size=1, strip_rows=7, channels_last=False, device="cpu")
    assert predict_product(checkpoint, safe, config=cfg, progress=False).skipped
    # other settings: the stale prediction is recomputed (dfmask_lib.cache), not refused
    redo = predict_product(checkpoint, safe, window=64, overlap=32, device="cpu",
                           progress=False)
    assert not redo.skipped and redo.path == res.path
    with rasterio.open(redo.path) as ds:
        assert json.loads(ds.tags()["DFMASK_CONFIG"])["window"] == 64
    forced = predict_product(checkpoint, safe, window=64, overlap=32, device="cpu",
                             progress=False, overwrite=True)
    assert not forced.skipped
    # a file dfmask did not write is never replaced without overwrite
    sidecar(res.path).unlink()
    with pytest.raises(ConfigError, match=r"not a dfmask prediction.*--overwrite"):
        predict_product(checkpoint, safe, window=64, overlap=32, device="cpu", progress=False)


def test_labels_off_the_grid_are_refused_before_predicting(checkpoint, tmp_path):
    safe = synthetic_safe(tmp_path)
    (labels,) = safe.glob("GRANULE/*/IMG_DATA/*LABELS.tif")
    with rasterio.open(labels, "r+") as ds:
        t = ds.transform
        ds.transform = Affine(t.a, 0, t.c + 20, 0, t.e, t.f)  # one pixel east
    with pytest.raises(LabelError, match="not on the grid"):
        predict_product(checkpoint, safe, device="cpu", progress=False)
    assert not default_output(safe).exists()


def test_missing_checkpoint_and_other_models_refused(checkpoint, tmp_path):
    stack = write_stack(tmp_path / "s.tif", 40, 40)
    opts = {"band_names": STACK_BANDS}
    with pytest.raises(MissingDataError, match="no checkpoint at"):
        predict_product(tmp_path / "none.pt", stack, reader_options=opts)
    bad = tmp_path / "five.pt"
    cfg = TrainConfig(in_channels=5, num_workers=0, **TINY)
    model = UNet(cfg.model_config())
    torch.save({"model": model.state_dict(), "config": config_to_dict(cfg)}, bad)
    with pytest.raises(DataFileError, match="takes 5 input channels; no input set"):
        predict_product(bad, stack, reader_options=opts, device="cpu")
    mixed = tmp_path / "mixed.pt"
    ckpt = torch.load(checkpoint, weights_only=True)
    ckpt["config"]["depth"] = 2
    torch.save(ckpt, mixed)
    with pytest.raises(DataFileError, match="do not fit the network of its stored config"):
        predict_product(mixed, stack, reader_options=opts, device="cpu")


# --------------------------------------------------------------------------- experiments


def _stage(root: Path, stage: int, epochs: int | None, max_epochs: int = 5) -> None:
    d = root / f"stage{stage}"
    d.mkdir(parents=True)
    (d / "best.pt").write_bytes(b"x")
    if epochs is not None:
        cfg = TrainConfig(stage=stage, max_epochs=max_epochs, num_workers=0)
        (d / "config.json").write_text(json.dumps(config_to_dict(cfg)))
        (d / "log.json").write_text(json.dumps([{"val_miou": 0.5}] * epochs))


def test_resolve_checkpoint(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("dfmask_lib.train.PROJECT_ROOT", tmp_path)
    exp = tmp_path / "runs" / "exp"
    _stage(exp, 0, 5)
    _stage(exp, 1, None)      # a bare best.pt: counts as finished
    _stage(exp, 3, 2)         # still training (2 of 5 epochs)
    (exp / "stage2").mkdir()  # no best.pt
    assert resolve_checkpoint("exp") == exp / "stage1" / "best.pt"
    assert "stage 3 of" in caplog.text and "still training" in caplog.text
    assert resolve_checkpoint("exp/stage3") == exp / "stage3" / "best.pt"
    assert resolve_checkpoint(exp / "stage0") == exp / "stage0" / "best.pt"  # a folder path
    with pytest.raises(MissingDataError, match="no experiment folder"):
        resolve_checkpoint("nothing")
    with pytest.raises(MissingDataError, match="holds no best.pt"):
        resolve_checkpoint("exp/stage2")
    # a self-training experiment: its manifest says which stages are done
    (exp / "manifest.json").write_text(json.dumps(
        {"stages": {"0": {"status": "done"}, "1": {"status": "done"},
                    "3": {"status": "running"}}}))
    assert resolve_checkpoint("exp") == exp / "stage1" / "best.pt"


# --------------------------------------------------------------------------- CLI


def test_cli_predicts_the_real_safe(capsys, checkpoint, trained, tmp_path):
    safe = Path(shutil.copytree(fetch_real_dir(SAFE_A), tmp_path / Path(SAFE_A).name))
    code, out, err = run(capsys, "-q", "predict", safe, "--checkpoint", checkpoint,
                         "--device", "cpu")
    assert code == 0, err
    target = default_output(safe)
    assert target.name == "T31TCJ_20240120T105341_DFMASK_CLASSES.tif"
    assert f"wrote {target} (15 x 15 px" in out and "clear land" in out
    scene = read_product(safe, bands=STACK_BANDS, progress=False)
    want = predict_array(trained, input_stack(scene), valid=scene.valid, device="cpu")
    with rasterio.open(target) as ds:
        np.testing.assert_array_equal(ds.read(1), want.classes)
        assert ds.crs.to_epsg() == 32631 and ds.transform == scene.transform
        assert ds.nodata == 0 and ds.colormap(1)[4] == (*CLASS_COLOURS[4], 255)
        assert ds.tags()["TILE_ID"] == "31TCJ" and ds.tags()["SOURCE"] == safe.name
    assert want.classes.all()  # every pixel observed, none left 0 by the tiling


def test_cli_folder_of_stacks_skips_finished_outputs(capsys, checkpoint, tmp_path):
    folder = tmp_path / "products"
    folder.mkdir()
    for k in range(2):
        write_stack(folder / f"scene{k}.tif", 64, 80, seed=k)
    (folder / "scene0_FMASK.tif").write_bytes(b"")  # labels of make-data: not a product
    args = ["-q", "predict", folder, "--checkpoint", checkpoint, *BAND_OPTION, "--device",
            "cpu", "--probabilities"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert out.count("wrote ") == 2 and "2 products" in out
    assert (folder / "scene1_DFMASK_CLASSES.tif").exists()
    assert (folder / "scene1_DFMASK_PROB.tif").exists()
    code, out, err = run(capsys, *args)  # outputs beside the stacks are not products
    assert code == 0, err
    assert out.count("up to date ") == 2 and "wrote" not in out and "2 products" in out
    code, out, _ = run(capsys, *args, "--overwrite")
    assert code == 0 and out.count("wrote ") == 2


def test_cli_out_dir_and_labels(capsys, checkpoint, tmp_path):
    safe = synthetic_safe(tmp_path / "in")
    code, out, err = run(capsys, "-q", "predict", safe, "--checkpoint", checkpoint, "-o",
                         tmp_path / "maps", "--device", "cpu", "--window", "64", "--overlap",
                         "32")
    assert code == 0, err
    target = tmp_path / "maps" / f"{safe.name.removesuffix('.SAFE')}_DFMASK_CLASSES.tif"
    assert target.exists() and f"wrote {target}" in out
    assert "vs T33XWJ_20200712T120521_LABELS.tif: OA 0." in out


def test_cli_user_errors_are_one_line(capsys, checkpoint, tmp_path, monkeypatch):
    stack = write_stack(tmp_path / "s.tif", 40, 40)
    code, _, err = run(capsys, "predict", stack, "--checkpoint", tmp_path / "no.pt",
                       *BAND_OPTION)
    assert code == 2 and err.startswith("dfmask: error: no checkpoint at") \
        and len(err.strip().splitlines()) == 1
    cfg = TrainConfig(in_channels=13, num_workers=0, **TINY)
    all13 = tmp_path / "all13.pt"
    torch.save({"model": UNet(cfg.model_config()).state_dict(), "config": config_to_dict(cfg)},
               all13)
    code, _, err = run(capsys, "predict", stack, "--checkpoint", all13, *BAND_OPTION,
                       "--device", "cpu")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "s.tif has no B01, B05, B06, B07, B8A, B09, B10, which the model's input set " \
        "'all13' needs" in err
    monkeypatch.setattr("dfmask_lib.train.PROJECT_ROOT", tmp_path)
    code, _, err = run(capsys, "predict", stack, "-e", "nope", *BAND_OPTION)
    assert code == 2 and "dfmask: error: no experiment folder" in err
    code, _, err = run(capsys, "predict", stack, *BAND_OPTION)
    assert code == 2 and "give either -e EXPERIMENT or --checkpoint FILE" in err
    code, _, err = run(capsys, "predict", stack, "--checkpoint", checkpoint, *BAND_OPTION,
                       "--window", "100")
    assert code == 2 and "dfmask: error: prediction window 100 px must be" in err
    (tmp_path / "s_DFMASK_CLASSES.tif").write_bytes(b"not ours")
    code, _, err = run(capsys, "predict", stack, "--checkpoint", checkpoint, *BAND_OPTION,
                       "--device", "cpu")
    assert code == 2 and "pass overwrite=True (--overwrite)" in err
