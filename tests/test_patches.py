"""Tests of dfmask_lib.patches: window math, patch extraction, subsets, HDF5 files, the dataset."""

from __future__ import annotations

import dataclasses
import re

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from affine import Affine

from dfmask_lib.errors import BandError, ConfigError, DataFileError, LabelError, MissingDataError
from dfmask_lib.patches import (
    PatchConfig, check_patch_file, extract_patches, input_stack, read_patch_config,
    scene_windows, split_subsets, window_starts, write_patches,
)
from dfmask_lib.dataset import PatchDataset
from dfmask_lib.scene import S2_BANDS, ProductMetadata, Scene


def tiny_scene(h: int = 20, w: int = 30, seed: int = 0) -> Scene:
    """A synthetic 13-band scene with the last column invalid."""
    rng = np.random.default_rng(seed)
    refl = rng.uniform(0.01, 0.9, (13, h, w)).astype(np.float32)
    valid = np.ones((h, w), bool)
    valid[:, -1] = False
    refl[:, ~valid] = 0
    return Scene(refl, S2_BANDS, valid, None, Affine(20, 0, 0, 0, -20, 0), 60.0, 150.0,
                 ProductMetadata("synthetic"))


# ----------------------------------------------------------------------------- window math


def test_a_full_tile_gives_22_by_22_windows_with_the_last_snapped_to_the_edge() -> None:
    starts = window_starts(5490, 254)
    assert len(starts) == 22
    assert starts[:3].tolist() == [0, 254, 508]
    assert starts[-2] == 20 * 254 == 5080
    assert starts[-1] == 5490 - 254 == 5236
    wins = scene_windows((5490, 5490))
    assert wins.shape == (484, 4) and wins.dtype == np.int32
    assert wins[-1].tolist() == [5236, 5236, 254, 254]


@pytest.mark.parametrize(
    "length, window, expected",
    [(10, 4, [0, 4, 6]), (8, 4, [0, 4]), (4, 4, [0]), (3, 4, [0]), (9, 4, [0, 4, 5])],
)
def test_window_starts(length: int, window: int, expected: list[int]) -> None:
    assert window_starts(length, window).tolist() == expected


def test_extract_patches_pads_with_zeros_and_drops_empty_labels() -> None:
    image = np.arange(2 * 10 * 7, dtype=np.float32).reshape(2, 10, 7) + 1
    label = np.zeros((10, 7), np.uint8)
    label[0, 0] = 1       # window (0, 0)
    label[9, 6] = 5       # window (6, 3): the snapped corner
    images, labels, wins = extract_patches(image, label, window=4, patch_size=6)
    # windows rows 0,4,6 x cols 0,3: 6 windows, 2 with a label
    assert wins.tolist() == [[0, 0, 4, 4], [6, 3, 4, 4]]
    assert images.shape == (2, 2, 6, 6) and labels.shape == (2, 6, 6)
    np.testing.assert_array_equal(images[1, :, :4, :4], image[:, 6:10, 3:7])
    assert np.all(images[:, :, 4:, :] == 0) and np.all(images[:, :, :, 4:] == 0)
    assert labels[0, 0, 0] == 1 and labels[1, 3, 3] == 5 and labels.sum() == 6


def test_extract_patches_of_a_scene_smaller_than_a_window() -> None:
    image = np.ones((1, 3, 5), np.float32)
    label = np.full((3, 5), 2, np.uint8)
    images, labels, wins = extract_patches(image, label, window=8, patch_size=8)
    assert wins.tolist() == [[0, 0, 3, 5]]
    assert images.sum() == 15 and labels.sum() == 30


def test_extract_patches_refuses_bad_inputs() -> None:
    with pytest.raises(BandError):
        extract_patches(np.ones((2, 4, 4), np.float64), np.ones((4, 4), np.uint8), 4, 4)
    with pytest.raises(LabelError):
        extract_patches(np.ones((2, 4, 4), np.float32), np.ones((4, 5), np.uint8), 4, 4)
    with pytest.raises(DataFileError, match="outside the project classes"):
        extract_patches(np.ones((2, 4, 4), np.float32), np.full((4, 4), 255, np.uint8), 4, 4)


def test_split_subsets_is_seeded_and_balanced() -> None:
    a = split_subsets(10, 4, seed=3)
    assert a.dtype == np.int8
    assert sorted(np.bincount(a).tolist()) == [2, 2, 3, 3]
    np.testing.assert_array_equal(a, split_subsets(10, 4, seed=3))
    assert not np.array_equal(a, split_subsets(10, 4, seed=4))
    assert np.bincount(split_subsets(484 * 3, 4)).tolist() == [363, 363, 363, 363]


def test_input_stack_swirndsi_order_and_ndsi() -> None:
    scene = tiny_scene()
    stack = input_stack(scene, "swirndsi")
    assert stack.shape == (7, 20, 30) and stack.dtype == np.float32
    np.testing.assert_array_equal(stack[4], scene.band("B11"))
    g, s = scene.band("B03")[3, 4], scene.band("B11")[3, 4]
    assert stack[6, 3, 4] == pytest.approx((g - s) / (g + s), rel=1e-6)
    assert np.all(stack[:, :, -1] == 0)  # invalid pixels, NDSI included
    assert input_stack(scene, "all13").shape == (13, 20, 30)
    with pytest.raises(ConfigError):
        input_stack(scene, "rgb")


def test_input_stack_ndsi_follows_the_negative_reflectance_rule() -> None:
    # The network's NDSI channel clips at 0 as Fmask does; the band channels keep raw values.
    scene = tiny_scene()
    refl = scene.reflectance.copy()
    g, s = scene.band_names.index("B03"), scene.band_names.index("B11")
    refl[g, 0, 0], refl[s, 0, 0] = -0.01, 0.0105
    refl[g, 0, 1], refl[s, 0, 1] = 0.02, -0.005
    stack = input_stack(dataclasses.replace(scene, reflectance=refl), "swirndsi")
    assert stack[6, 0, 0] == pytest.approx(-1.0) and stack[6, 0, 1] == pytest.approx(1.0)
    assert stack[1, 0, 0] == pytest.approx(-0.01) and stack[4, 0, 1] == pytest.approx(-0.005)
    assert np.abs(stack[6]).max() <= 1


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        PatchConfig(mode="validate")
    with pytest.raises(ConfigError):
        PatchConfig(window=300)
    assert PatchConfig().bands == ("B02", "B03", "B04", "B08", "B11", "B12", "NDSI")


# ----------------------------------------------------------------------------- HDF5 files


def scenes(n: int, channels: int = 2, size: int = 12) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    out = []
    for k in range(n):
        image = rng.uniform(0, 1, (channels, size, size)).astype(np.float32)
        label = rng.integers(0, 6, (size, size)).astype(np.uint8)
        label[:6, :6] = 0  # one empty window per scene: dropped
        out.append((f"scene{k}", image, label))
    return out


CFG = PatchConfig(window=6, patch_size=8, input_set="swirndsi")


def write_tiny(path: Path, n: int = 3, channels: int = 7, mode: str = "train") -> int:
    cfg = PatchConfig(mode=mode, window=6, patch_size=8)
    return write_patches(path, scenes(n, channels), cfg, inputs=[["x", 1, 2]])


def test_write_patches_layout(tmp_path: Path) -> None:
    out = tmp_path / "p.h5"
    n = write_tiny(out)
    assert n == 9  # 3 scenes x (4 windows - 1 empty)
    with h5py.File(out) as f:
        assert f["image"].shape == (9, 7, 8, 8) and f["image"].dtype == np.float32
        assert f["image"].chunks == (1, 7, 8, 8) and f["image"].compression == "lzf"
        assert f["label"].shape == (9, 8, 8) and f["label"].dtype == np.uint8
        assert f["window"][:3].tolist() == [[0, 6, 6, 6], [6, 0, 6, 6], [6, 6, 6, 6]]
        assert [s.decode() for s in f["source"][:]] == ["scene0"] * 3 + ["scene1"] * 3 + ["scene2"] * 3
        assert sorted(np.bincount(f["subset"][:]).tolist()) == [2, 2, 2, 3]
        assert json.loads(f.attrs["bands"])[-1] == "NDSI"
        assert f.attrs["mode"] == "train" and f.attrs["input_set"] == "swirndsi"
        assert json.loads(f.attrs["inputs"]) == [["x", 1, 2]]
        img0 = scenes(1, 7)[0][1]
        np.testing.assert_array_equal(f["image"][0, :, :6, :6], img0[:, 0:6, 6:12])
    assert read_patch_config(out) == PatchConfig(window=6, patch_size=8)
    assert check_patch_file(out, in_channels=7) == 9
    assert list(tmp_path.iterdir()) == [out]  # no temporary left behind


def test_test_mode_has_no_subsets(tmp_path: Path) -> None:
    write_tiny(tmp_path / "t.h5", mode="test")
    with h5py.File(tmp_path / "t.h5") as f:
        assert set(f["subset"][:].tolist()) == {-1}


def test_a_failing_write_leaves_nothing(tmp_path: Path) -> None:
    bad = scenes(2, 7)
    bad[1] = ("bad", bad[1][1], np.full((12, 12), 9, np.uint8))
    with pytest.raises(DataFileError):
        write_patches(tmp_path / "p.h5", bad, CFG)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BandError, match="needs 7"):
        write_patches(tmp_path / "p.h5", scenes(1, 3), CFG)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bad files


def test_missing_file_and_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="make-data"):
        check_patch_file(tmp_path / "none.h5")
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["image"] = np.zeros((1, 7, 8, 8), np.float32)
        f.attrs["config"] = "{}"
    with pytest.raises(DataFileError, match=r"\['label', 'subset'\]"):
        PatchDataset(tmp_path / "bad.h5")
    with h5py.File(tmp_path / "f64.h5", "w") as f:  # the U-Net's weights are float32
        f["image"] = np.zeros((1, 7, 8, 8), np.float64)
        f["label"] = np.ones((1, 8, 8), np.uint8)
        f["subset"] = np.zeros(1, np.int8)
        f.attrs["config"] = "{}"
    with pytest.raises(DataFileError, match="image must be float32 reflectance, got float64"):
        PatchDataset(tmp_path / "f64.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(DataFileError, match="not a readable HDF5"):
        check_patch_file(tmp_path / "junk.h5")


def test_wrong_channel_count_for_the_model(tmp_path: Path) -> None:
    write_tiny(tmp_path / "p.h5")
    with pytest.raises(DataFileError, match="7-channel patches but the model takes 13"):
        PatchDataset(tmp_path / "p.h5", in_channels=13)


def test_label_codes_out_of_range_in_file_or_override(tmp_path: Path) -> None:
    path = tmp_path / "p.h5"
    write_tiny(path)
    with h5py.File(path, "r+") as f:
        f["label"][4, 0, 0] = 7
    ds = PatchDataset(path)
    ds[3]  # fine
    with pytest.raises(DataFileError, match=r"patch 4 holds codes \[7\]"):
        ds[4]
    with pytest.raises(DataFileError, match="outside the project classes"):
        ds.class_histogram()
    with pytest.raises(DataFileError, match="outside"):
        PatchDataset(path, labels=np.full((9, 8, 8), 6, np.uint8))
    with pytest.raises(DataFileError, match="over all patches"):
        PatchDataset(path, labels=np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(DataFileError, match=r"uint8 \(9, 8, 8\) over all patches"):
        PatchDataset(path, labels=np.zeros((9, 6, 6), np.uint8))  # not the patch size


# ----------------------------------------------------------------------------- dataset


def test_dataset_samples_subsets_and_override(tmp_path: Path) -> None:
    path = tmp_path / "p.h5"
    write_tiny(path)
    with h5py.File(path) as f:
        subset, label = f["subset"][:], f["label"][:]
    ds = PatchDataset(path, subsets=[0, 1], in_channels=7)
    assert len(ds) == int(np.isin(subset, [0, 1]).sum())
    assert set(ds.subset.tolist()) <= {0, 1} and len(ds.subset) == len(ds)
    s = ds[0]
    assert set(s) == {"image", "mask", "index"}
    assert s["image"].shape == (7, 8, 8) and s["image"].dtype == torch.float32
    assert s["mask"].dtype == torch.int64
    j = int(s["index"])
    assert subset[j] in (0, 1)
    np.testing.assert_array_equal(s["mask"].numpy(), label[j])
    override = np.full_like(label, 4)
    assert torch.all(PatchDataset(path, labels=override)[2]["mask"] == 4)
    hist = PatchDataset(path).class_histogram()
    np.testing.assert_array_equal(hist, np.bincount(label.ravel(), minlength=6))


def test_dataset_works_in_worker_processes(tmp_path: Path) -> None:
    path = tmp_path / "p.h5"
    write_tiny(path)
    ds = PatchDataset(path)
    ds[0]  # opens the file in the parent; workers must reopen their own
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    batches = list(loader)
    assert sum(len(b["index"]) for b in batches) == 9
    assert batches[0]["image"].shape == (4, 7, 8, 8)


# ----------------------------------------------------------------------------- products (I/O edge)

ALCD = "alcd_toulouse_safe"
ALCD_PRODUCTS = ("S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE",
                 "S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347.SAFE")


@pytest.fixture()
def products(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    """A folder linking the two real 15 x 15 px (20 m) ALCD products, and Fmask labels for them."""
    from conftest import fetch_real_dir
    from dfmask_lib.classes import FMASK
    from dfmask_lib.reader import read_product
    from dfmask_lib.writer import write_classmap

    src, labels = tmp_path / "src", tmp_path / "labels"
    src.mkdir()
    safes = [fetch_real_dir(f"{ALCD}/{name}") for name in ALCD_PRODUCTS]
    rng = np.random.default_rng(0)
    for safe in safes:
        (src / safe.name).symlink_to(safe)
        scene = read_product(safe, progress=False)
        fmask = rng.choice(np.array([0, 1, 2, 3, 4, 255], np.uint8), size=scene.shape)
        write_classmap(labels / f"{safe.stem}_FMASK.tif", fmask, crs=scene.crs,
                       transform=scene.transform, table=FMASK)
    return src, labels, safes


def test_make_data_on_real_products(products, tmp_path: Path) -> None:
    from dfmask_lib.products import make_data
    from dfmask_lib.reader import read_product

    src, labels, safes = products
    cfg = PatchConfig(window=6, patch_size=8)
    out = make_data(src, tmp_path / "train.h5", cfg, labels_dir=labels)
    with h5py.File(out) as f:
        assert f["image"].shape == (18, 7, 8, 8)  # 2 scenes x 3 x 3 windows (starts 0, 6, 9)
        assert [s.decode() for s in f["source"][::9]] == [s.name for s in safes]
        assert f["window"][2].tolist() == [0, 9, 6, 6]
        scene = read_product(safes[0], progress=False)
        np.testing.assert_array_equal(f["image"][2, :, :6, :6], input_stack(scene)[:, 0:6, 9:15])
        assert set(np.unique(f["label"][:]).tolist()) <= {0, 1, 2, 3, 4, 5}
        raw = f["label"][0, :6, :6]
    import rasterio
    with rasterio.open(labels / f"{safes[0].stem}_FMASK.tif") as ds:
        fmask = ds.read(1)[:6, :6]
    lut = {0: 1, 1: 5, 2: 3, 3: 4, 4: 2, 255: 0}  # Fmask 4 codes -> project codes
    np.testing.assert_array_equal(raw, np.vectorize(lut.get)(fmask))

    mtime = out.stat().st_mtime_ns
    make_data(src, out, cfg, labels_dir=labels)  # up to date: not rewritten
    assert out.stat().st_mtime_ns == mtime
    make_data(src, out, PatchConfig(window=6, patch_size=8, seed=1), labels_dir=labels)
    assert out.stat().st_mtime_ns != mtime  # another config: rebuilt
    mtime = out.stat().st_mtime_ns
    label_file = labels / f"{safes[1].stem}_FMASK.tif"
    os.utime(label_file, ns=(label_file.stat().st_atime_ns, label_file.stat().st_mtime_ns + 10**9))
    make_data(src, out, PatchConfig(window=6, patch_size=8, seed=1), labels_dir=labels)
    assert out.stat().st_mtime_ns != mtime  # an input changed: rebuilt


def test_make_data_errors(products, tmp_path: Path) -> None:
    from dfmask_lib.products import make_data

    src, labels, _ = products
    with pytest.raises(MissingDataError, match="LABELS"):
        make_data(src, tmp_path / "t.h5", PatchConfig(mode="test"), labels_dir=labels)
    with pytest.raises(MissingDataError, match="dfmask fmask"):
        make_data(src, tmp_path / "t.h5")  # no *FMASK.tif beside the bands
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingDataError, match="no Sentinel-2 products"):
        make_data(empty, tmp_path / "t.h5")
    assert not (tmp_path / "t.h5").exists()


@pytest.mark.parametrize("change, message", [
    ("shift", r"origin \(350020, 4850020\)"),   # one 20 m pixel to the east
    ("crs", "EPSG:32632"),                       # the neighbouring UTM zone
    ("shape", "14 x 15 px"),
])
def test_make_data_refuses_labels_off_the_product_grid(products, tmp_path: Path, change: str,
                                                       message: str) -> None:
    from affine import Affine
    from rasterio.crs import CRS

    from dfmask_lib.classes import FMASK
    from dfmask_lib.products import make_data
    from dfmask_lib.reader import read_product
    from dfmask_lib.writer import write_classmap

    src, labels, safes = products
    scene = read_product(safes[1], progress=False)
    fmask = np.zeros(scene.shape, np.uint8)
    crs, transform = scene.crs, scene.transform
    if change == "shift":
        transform = transform @ Affine.translation(1, 0)
    elif change == "crs":
        crs = CRS.from_epsg(32632)
    else:
        fmask = fmask[1:]
    write_classmap(labels / f"{safes[1].stem}_FMASK.tif", fmask, crs=crs, transform=transform,
                   table=FMASK)
    with pytest.raises(LabelError, match="not on the grid of") as info:
        make_data(src, tmp_path / "t.h5", PatchConfig(window=6, patch_size=8), labels_dir=labels)
    text = str(info.value)
    assert safes[1].name in text and "EPSG:32631, 15 x 15 px at 20 m, origin (350000, 4850020)" in text
    assert re.search(message, text)
    assert not (tmp_path / "t.h5").exists()


def test_make_data_command(products, tmp_path: Path, capsys) -> None:
    from dfmask_lib.cli import main

    src, labels, _ = products
    with pytest.raises(SystemExit) as exc:
        main(["make-data", str(src), str(tmp_path / "p.h5"), "--labels-dir", str(labels),
              "--input-set", "all13"])
    assert exc.value.code == 0
    assert "2 patches of 13 channels (all13, train mode)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["make-data", str(src), str(tmp_path / "q.h5"), "--mode", "test"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dfmask: error: no LABELS label file") and err.count("\n") == 1


def test_make_data_test_mode_keeps_the_human_labels(tmp_path: Path) -> None:
    from dfmask_lib.products import make_data
    from dfmask_lib.reader import find_label_file, read_labels
    from dfmask_lib.synthetic.splits import write_splits

    splits = write_splits(tmp_path / "synth", n_train=0, n_val=1, n_test=0, size=48,
                          progress=False)
    product = splits["VALIDATION"][0]
    out = make_data(product.parent, tmp_path / "val.h5", PatchConfig(mode="test", window=32,
                                                                     patch_size=32))
    truth, _ = read_labels(find_label_file(product, kind="LABELS"))
    with h5py.File(out) as f:
        assert f["image"].shape == (4, 7, 32, 32)  # starts 0, 16 per axis
        assert f["window"][:].tolist() == [[0, 0, 32, 32], [0, 16, 32, 32], [16, 0, 32, 32],
                                           [16, 16, 32, 32]]
        np.testing.assert_array_equal(f["label"][3], truth[16:48, 16:48])
        assert f.attrs["mode"] == "test" and set(f["subset"][:].tolist()) == {-1}


def test_writing_in_blocks_gives_the_patches_of_one_extraction(tmp_path: Path, monkeypatch) -> None:
    import dfmask_lib.patches as patches

    monkeypatch.setattr(patches, "WRITE_BLOCK", 2)
    scene = scenes(1, 7, size=20)  # windows at 0, 6, 12, 14 per axis: 16 - 1 empty
    write_patches(tmp_path / "b.h5", scene, CFG)
    images, labels, wins = extract_patches(scene[0][1], scene[0][2], 6, 8)
    with h5py.File(tmp_path / "b.h5") as f:
        assert len(wins) == f["image"].shape[0] == 15
        np.testing.assert_array_equal(f["image"][:], images)
        np.testing.assert_array_equal(f["label"][:], labels)
        np.testing.assert_array_equal(f["window"][:], wins)


def test_make_data_is_rebuilt_when_the_code_version_changes(products, tmp_path: Path,
                                                            monkeypatch) -> None:
    from dfmask_lib import version
    from dfmask_lib.cache import read_record
    from dfmask_lib.products import make_data

    src, labels, _ = products
    cfg = PatchConfig(window=6, patch_size=8)
    out = make_data(src, tmp_path / "train.h5", cfg, labels_dir=labels)
    assert read_record(out)["kind"] == "patches"
    mtime = out.stat().st_mtime_ns
    make_data(src, out, cfg, labels_dir=labels)
    assert out.stat().st_mtime_ns == mtime
    monkeypatch.setattr(version, "get_version", lambda: "0.0.0+gother")
    make_data(src, out, cfg, labels_dir=labels)
    assert out.stat().st_mtime_ns != mtime and read_record(out)["version"] == "0.0.0+gother"


def test_find_products_leaves_out_class_maps_and_predictions(tmp_path: Path) -> None:
    from dfmask_lib.products import find_products

    for name in ("a.tif", "a_FMASK.tif", "b_LABELS.tif", "a_DFMASK_CLASSES.tif",
                 "a_DFMASK_PROB.tif", "x_SCL_20m.tif"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "P.SAFE").mkdir()
    assert [p.name for p in find_products(tmp_path)] == ["P.SAFE", "a.tif"]
