"""Bad inputs at every entry point: each ends in one line and exit 2, or a documented handling.

Every case runs the ``dfmask`` command line in-process (``main``) on a small synthetic SAFE
product, a GeoTIFF stack, HDF5 patches or a checkpoint that one test damages in one way, and
checks three things: the exit status (2 for a user's mistake), a single ``dfmask: error:``
line that says what is wrong (no traceback), and that nothing half-written is left under
the output's final name (or as a temporary ``.part`` file beside it). Cases whose input is
odd but valid (Sentinel-2C, every processing baseline's offset rule, a product that is
mostly no data, NaN in a float stack) check the documented handling instead.
"""

from __future__ import annotations

import errno
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from dfmask_lib.cli import main
from dfmask_lib.config import config_to_dict
from dfmask_lib.reader import read_product
from dfmask_lib.synthetic.safe_writer import ProductInfo, write_safe
from dfmask_lib.synthetic.scene import SynthConfig, generate
from dfmask_lib.train import TrainConfig
from dfmask_lib.unet import UNet, UNetConfig

INFO = ProductInfo("21EVK", 32721, 399960.0, 3000000.0, "2020-01-12T13:05:21", 38, 15000,
                   "bad-input tests")
#: Another product of another UTM zone: its metadata must never pass for the first one's.
OTHER = ProductInfo("33XWG", 32633, 500040.0, 8700000.0, "2021-03-04T11:12:13", 66, 20000,
                    "bad-input tests, another tile")
SIZE = 48  # 20 m pixels
TINY = dict(start_filters=4, depth=3)
STACK_BANDS = ("B02", "B03", "B04", "B8A", "B11", "B12")
SUN = ["--sun-zenith", "50", "--sun-azimuth", "150"]


# --------------------------------------------------------------------------- helpers


def run(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    """Run ``dfmask -q ARGS`` in-process (-q: no progress bars between the error lines)."""
    with pytest.raises(SystemExit) as exc:
        main(["-q", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def user_error(capsys: pytest.CaptureFixture, match: str, *args: object) -> str:
    """Run the CLI; assert exit 2 with one ``dfmask: error:`` line containing ``match``."""
    code, _, err = run(capsys, *args)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("dfmask: error: "), err
    assert "Traceback" not in err
    assert match.lower() in lines[0].lower(), lines[0]
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes left anywhere under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".part" in p.name)


def band_file(safe: Path, band: str) -> Path:
    return next(safe.glob(f"GRANULE/*/IMG_DATA/*_{band}.jp2"))


def edit_xml(path: Path, edit) -> None:
    """Parse ``path``, let ``edit(root)`` change it, write it back (namespaces kept)."""
    tree = ET.parse(path)
    edit(tree.getroot())
    tree.write(path, xml_declaration=True, encoding="UTF-8")


def set_text(root: ET.Element, tag: str, text: str) -> None:
    hits = [e for e in root.iter() if e.tag.split("}")[-1] == tag]
    assert hits, tag
    for e in hits:
        e.text = text


def drop_all(root: ET.Element, tag: str) -> None:
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag.split("}")[-1] == tag:
                parent.remove(child)


def write_tif(path: Path, array: np.ndarray, crs: str = "EPSG:32633",
              transform: Affine = Affine(20.0, 0, 500000.0, 0, -20.0, 5000000.0),
              nodata: float | None = None, tags: dict | None = None) -> Path:
    array = array[None] if array.ndim == 2 else array
    with rasterio.open(path, "w", driver="GTiff", count=array.shape[0], height=array.shape[1],
                       width=array.shape[2], dtype=array.dtype, crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(array)
        if tags:
            dst.update_tags(**tags)
    return path


def stack_dn(n_bands: int = len(STACK_BANDS), size: int = 24) -> np.ndarray:
    rng = np.random.default_rng(0)
    dn = np.linspace(800, 3500, n_bands)[:, None, None] + rng.integers(-100, 100, (n_bands, size, size))
    dn[:, : size // 3, : size // 3] = 7000
    return dn.astype(np.uint16)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 48 px synthetic L1C SAFE product (baseline 04.00), written once."""
    scene = generate(SynthConfig(size=SIZE, seed=1))
    return write_safe(scene, INFO, tmp_path_factory.mktemp("pristine"))


@pytest.fixture(scope="module")
def other_product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scene = generate(SynthConfig(size=SIZE, seed=2))
    return write_safe(scene, OTHER, tmp_path_factory.mktemp("other"))


@pytest.fixture
def safe(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine product, for one test to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "in" / pristine.name))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny stage-0 U-Net checkpoint (random weights: the cases never look at the classes)."""
    torch.manual_seed(0)
    cfg = TrainConfig(stage=0, in_channels=7, num_workers=0, **TINY)
    model = UNet(UNetConfig(in_channels=7, **TINY))
    path = tmp_path_factory.mktemp("run") / "best.pt"
    torch.save({"model": model.state_dict(), "config": config_to_dict(cfg), "epoch": 1}, path)
    return path


# --------------------------------------------------------------------------- the reader, fmask


def test_truncated_jp2(capsys, safe, tmp_path):
    jp2 = band_file(safe, "B11")
    jp2.write_bytes(jp2.read_bytes()[: jp2.stat().st_size // 2])
    out = tmp_path / "out.tif"
    user_error(capsys, "B11", "fmask", safe, "-o", out)
    assert not out.exists() and leftovers(tmp_path) == []


def test_zero_byte_jp2(capsys, safe, tmp_path):
    band_file(safe, "B8A").write_bytes(b"")
    out = tmp_path / "out.tif"
    user_error(capsys, "B8A", "fmask", safe, "-o", out)
    assert not out.exists() and leftovers(tmp_path) == []


def test_band_missing(capsys, safe, tmp_path):
    band_file(safe, "B12").unlink()
    user_error(capsys, "B12", "fmask", safe, "-o", tmp_path / "out.tif")
    assert not (tmp_path / "out.tif").exists()


def test_tile_metadata_of_another_product(capsys, safe, other_product, tmp_path):
    # the granule's MTD_TL.xml replaced by the one of a product in another UTM zone
    mine = next(safe.glob("GRANULE/*/MTD_TL.xml"))
    shutil.copy(next(other_product.glob("GRANULE/*/MTD_TL.xml")), mine)
    user_error(capsys, "MTD_TL.xml", "fmask", safe, "-o", tmp_path / "out.tif")


def test_product_metadata_of_another_product(capsys, safe, other_product, tmp_path):
    shutil.copy(other_product / "MTD_MSIL1C.xml", safe / "MTD_MSIL1C.xml")
    user_error(capsys, "another product", "fmask", safe, "-o", tmp_path / "out.tif")


def test_level_2a_where_level_1c_is_expected(capsys, safe, tmp_path):
    edit_xml(safe / "MTD_MSIL1C.xml", lambda r: set_text(r, "PRODUCT_TYPE", "S2MSI2A"))
    user_error(capsys, "Level-2A", "fmask", safe, "-o", tmp_path / "out.tif")


def test_sentinel_2c_reads_like_2a_and_2b(safe):
    # documented: S2C products (in orbit since 2024) carry the same metadata; read as such
    renamed = safe.with_name("S2C" + safe.name[3:])
    safe.rename(renamed)
    edit_xml(renamed / "MTD_MSIL1C.xml", lambda r: set_text(r, "SPACECRAFT_NAME", "Sentinel-2C"))
    scene = read_product(renamed, progress=False)
    base = read_product(next(renamed.parent.parent.glob("in")) / renamed.name, progress=False)
    assert scene.shape == (SIZE, SIZE)
    np.testing.assert_array_equal(scene.reflectance, base.reflectance)


@pytest.mark.parametrize("baseline, offset", [("02.09", 0), ("03.01", 0), ("04.00", -1000),
                                              ("05.11", -1000)])
def test_every_baselines_offset_rule(safe, pristine, baseline, offset):
    # The writer stores DN = reflectance * 10000 + 1000 (04.00 on). Before 04.00 the metadata
    # has no RADIO_ADD_OFFSET and no offset applies; from 04.00 on every band has -1000.
    def edit(root):
        set_text(root, "PROCESSING_BASELINE", baseline)
        if offset == 0:
            drop_all(root, "Radiometric_Offset_List")
            drop_all(root, "RADIO_ADD_OFFSET")
    edit_xml(safe / "MTD_MSIL1C.xml", edit)
    got = read_product(safe, bands=("B04",), progress=False)
    ref = read_product(pristine, bands=("B04",), progress=False)
    valid = ref.valid
    shift = (1000 + offset) / 10000  # 0.1 brighter where no offset applies
    np.testing.assert_allclose(got.reflectance[0][valid], ref.reflectance[0][valid] + shift,
                               atol=1e-6)


def test_baseline_4_without_offsets_is_refused(capsys, safe, tmp_path):
    # 04.00 and later always declare offsets; without them every band would be 0.1 too bright
    def edit(root):
        set_text(root, "PROCESSING_BASELINE", "05.10")
        drop_all(root, "Radiometric_Offset_List")
        drop_all(root, "RADIO_ADD_OFFSET")
    edit_xml(safe / "MTD_MSIL1C.xml", edit)
    user_error(capsys, "RADIO_ADD_OFFSET", "fmask", safe, "-o", tmp_path / "out.tif")


def _blank(safe: Path, keep: slice | None = None) -> None:
    """Set every band of ``safe`` to DN 0 (no data), except the columns ``keep`` (20 m px)."""
    for jp2 in safe.glob("GRANULE/*/IMG_DATA/*.jp2"):
        with rasterio.open(jp2) as src:
            data, profile = src.read(), src.profile
        k = data.shape[-1] / SIZE
        kept = data.copy()
        data[:] = 0
        if keep is not None:
            cols = slice(int(keep.start * k), int(keep.stop * k))
            data[..., cols] = kept[..., cols]
        profile = {k: profile[k] for k in ("count", "height", "width", "dtype", "crs",
                                             "transform")}
        tmp = jp2.with_suffix(".tmp.jp2")
        with rasterio.open(tmp, "w", driver="JP2OpenJPEG", QUALITY="100", REVERSIBLE="YES",
                           **profile) as dst:
            dst.write(data)
        tmp.replace(jp2)
    for aux in safe.rglob("*.aux.xml"):
        aux.unlink()


def test_product_all_no_data(capsys, safe, tmp_path):
    _blank(safe)
    out = tmp_path / "out.tif"
    user_error(capsys, "no data", "fmask", safe, "-o", out)
    assert not out.exists() and leftovers(tmp_path) == []


def test_tile_edge_product_mostly_no_data(capsys, safe, tmp_path):
    # documented: a product at a swath edge is masked where observed, fill (255) elsewhere
    _blank(safe, keep=slice(SIZE - 12, SIZE))
    out = tmp_path / "out.tif"
    code, stdout, err = run(capsys, "fmask", safe, "-o", out)
    assert code == 0, err
    with rasterio.open(out) as src:
        codes = src.read(1)
    assert (codes[:, : SIZE - 13] == 255).all()
    assert (codes[:, SIZE - 11:] != 255).all()


def test_existing_output_without_overwrite(capsys, safe, tmp_path):
    out = tmp_path / "out.tif"
    out.write_bytes(b"the user's own file")
    user_error(capsys, "--overwrite", "fmask", safe, "-o", out)
    assert out.read_bytes() == b"the user's own file"


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EROFS])
def test_disk_full_or_read_only_output(capsys, safe, tmp_path, monkeypatch, number):
    # The file system refuses the write half-way: one line, and no file under any name.
    # (Simulated: the tests run as root, whom a read-only mode does not stop.)
    import dfmask_lib.writer as writer

    real = rasterio.io.DatasetWriter.write

    def failing(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise OSError(number, "simulated", self.name)

    monkeypatch.setattr(rasterio.io.DatasetWriter, "write", failing)
    out = tmp_path / "out" / "mask.tif"
    user_error(capsys, "simulated", "fmask", safe, "-o", out)
    assert not out.exists() and leftovers(tmp_path / "out") == []
    assert writer  # the class-map writer is the one that failed


def test_disk_full_during_fmask_scratch(capsys, safe, tmp_path, monkeypatch):
    # Fmask's bands go to a scratch file beside the output first: a full disk there is one
    # line that says how much room it needs, and neither the scratch file nor a mask is left.
    import dfmask_lib.fmask.strips as strips

    def full(self, name, r0, rows):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    monkeypatch.setattr(strips.BandStore, "write", full)
    out = tmp_path / "out" / "mask.tif"
    user_error(capsys, "scratch file", "fmask", safe, "-o", out)
    assert not out.exists() and list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------- GeoTIFF stacks


def test_nan_and_inf_in_a_float_stack_are_no_data(capsys, tmp_path):
    # documented (reader.geotiff): NaN, +-inf and 0 in a float stack are no data -> fill 255
    refl = stack_dn().astype(np.float32) / 10000
    refl[:, 0, :4] = np.nan
    refl[:, 1, :4] = np.inf
    refl[:, 2, :4] = -np.inf
    stack = write_tif(tmp_path / "stack.tif", refl)
    out = tmp_path / "mask.tif"
    code, _, err = run(capsys, "fmask", stack, "--band-names", ",".join(STACK_BANDS), *SUN,
                       "-o", out)
    assert code == 0, err
    with rasterio.open(out) as src:
        codes = src.read(1)
    assert (codes[:3, :4] == 255).all() and (codes[3:, 4:] != 255).all()


def test_geographic_crs_stack(capsys, tmp_path):
    stack = write_tif(tmp_path / "stack.tif", stack_dn(), crs="EPSG:4326",
                      transform=Affine(0.0002, 0, 10.0, 0, -0.0002, 60.0))
    user_error(capsys, "degrees", "fmask", stack, "--band-names", ",".join(STACK_BANDS), *SUN,
               "-o", tmp_path / "mask.tif")
    assert not (tmp_path / "mask.tif").exists()


def test_wrong_band_count(capsys, tmp_path):
    stack = write_tif(tmp_path / "stack.tif", stack_dn(n_bands=5))
    user_error(capsys, "5 band", "fmask", stack, "--band-names", ",".join(STACK_BANDS), *SUN,
               "-o", tmp_path / "mask.tif")


# --------------------------------------------------------------------------- labels


def _labels_dir(safe: Path, tmp_path: Path, codes: np.ndarray, suffix: str = "FMASK",
                table: str = "fmask", shift: float = 0.0) -> Path:
    """A folder with one label file for ``safe`` holding ``codes`` on its 20 m grid."""
    scene = read_product(safe, bands=("B04",), progress=False)
    d = tmp_path / "labels"
    d.mkdir(exist_ok=True)
    t = scene.transform
    write_tif(d / f"{safe.stem}_{suffix}.tif", codes.astype(np.uint8), crs=scene.crs,
              transform=Affine(t.a, t.b, t.c + shift, t.d, t.e, t.f),
              tags={"CLASS_TABLE": table})
    return d


def test_make_data_label_codes_outside_the_table(capsys, safe, tmp_path):
    codes = np.zeros((SIZE, SIZE), np.uint8)
    codes[5, 5] = 7  # not an Fmask code (0-4, 255)
    labels = _labels_dir(safe, tmp_path, codes)
    out = tmp_path / "train.h5"
    user_error(capsys, "7", "make-data", safe.parent, out, "--labels-dir", labels)
    assert not out.exists() and leftovers(tmp_path) == []


def test_make_data_label_on_another_grid(capsys, safe, tmp_path):
    labels = _labels_dir(safe, tmp_path, np.zeros((SIZE, SIZE)), shift=100.0)
    user_error(capsys, "grid", "make-data", safe.parent, tmp_path / "train.h5",
               "--labels-dir", labels)
    assert not (tmp_path / "train.h5").exists()


def _pred(tmp_path: Path, codes: np.ndarray, x0: float = 500000.0, name: str = "a") -> Path:
    return write_tif(tmp_path / f"T33XWG_20210304T111213_{name}_DFMASK_CLASSES.tif",
                     codes.astype(np.uint8), transform=Affine(20.0, 0, x0, 0, -20.0, 5000000.0))


def test_evaluate_label_codes_outside_the_table(capsys, tmp_path):
    pred = _pred(tmp_path, np.ones((16, 16)))
    truth = np.ones((16, 16), np.uint8)
    truth[0, 0] = 9  # the project's codes are 0-5
    labels = write_tif(tmp_path / "T33XWG_20210304T111213_LABELS.tif", truth)
    user_error(capsys, "9", "evaluate", pred, "--labels", labels)


def test_evaluate_label_on_another_grid(capsys, tmp_path):
    pred = _pred(tmp_path, np.ones((16, 16)), x0=500200.0)
    labels = write_tif(tmp_path / "T33XWG_20210304T111213_LABELS.tif", np.ones((16, 16), np.uint8))
    user_error(capsys, "grid", "evaluate", pred, "--labels", labels)


def test_evaluate_a_prediction_that_is_not_a_raster(capsys, tmp_path):
    pred = tmp_path / "T33XWG_20210304T111213_DFMASK_CLASSES.tif"
    pred.write_text("not a GeoTIFF")
    labels = write_tif(tmp_path / "T33XWG_20210304T111213_LABELS.tif", np.ones((16, 16), np.uint8))
    user_error(capsys, pred.name, "evaluate", pred, "--labels", labels, "--csv",
               tmp_path / "s.csv")
    assert not (tmp_path / "s.csv").exists()


# --------------------------------------------------------------------------- HDF5 patches


def _h5(path: Path, datasets: dict[str, np.ndarray]) -> Path:
    with h5py.File(path, "w") as f:
        for name, data in datasets.items():
            f.create_dataset(name, data=data)
    return path


@pytest.fixture
def patch_files(tmp_path: Path) -> tuple[Path, Path]:
    """Real patch files (4 tiny scenes, 32 px patches): training (Fmask) and validation."""
    from dfmask_lib.patches import PatchConfig, write_patches
    rng = np.random.default_rng(0)
    scenes = [(f"s{k}", rng.random((7, 32, 32), dtype=np.float32),
               rng.integers(1, 6, (32, 32)).astype(np.uint8)) for k in range(4)]
    train = tmp_path / "train.h5"
    write_patches(train, scenes, PatchConfig(window=32, patch_size=32, mode="train"),
                  progress=False)
    val = tmp_path / "val.h5"
    write_patches(val, scenes[:2], PatchConfig(window=32, patch_size=32, mode="test"),
                  progress=False)
    return train, val


def _drop(path: Path, dataset: str) -> Path:
    with h5py.File(path, "a") as f:
        del f[dataset]
    return path


def test_train_h5_missing_a_dataset(capsys, patch_files, tmp_path):
    train, val = patch_files
    out = tmp_path / "run"
    user_error(capsys, "label", "train", "x", "--train-h5", _drop(train, "label"),
               "--val-h5", val, "--epochs", "1", "--workers", "0", "--out-dir", out)
    assert not (out / "last.pt").exists()


def test_selftrain_val_h5_missing_a_dataset(capsys, patch_files, tmp_path):
    train, val = patch_files
    user_error(capsys, "image", "selftrain", "x", "--train-h5", train,
               "--val-h5", _drop(val, "image"), "--epochs", "1", "--workers", "0",
               "--runs-dir", tmp_path / "runs")


def test_train_zero_byte_h5(capsys, patch_files, tmp_path):
    train, val = patch_files
    train.write_bytes(b"")
    user_error(capsys, train.name, "train", "x", "--train-h5", train, "--val-h5", val,
               "--epochs", "1", "--workers", "0", "--out-dir", tmp_path / "run")


# --------------------------------------------------------------------------- checkpoints, predict


def test_predict_checkpoint_of_another_architecture(capsys, safe, tmp_path):
    # weights of an 8-filter U-Net under the config of a 4-filter one
    cfg = TrainConfig(stage=0, in_channels=7, num_workers=0, **TINY)
    bigger = UNet(UNetConfig(in_channels=7, start_filters=8, depth=3))
    ckpt = tmp_path / "best.pt"
    torch.save({"model": bigger.state_dict(), "config": config_to_dict(cfg), "epoch": 1}, ckpt)
    user_error(capsys, "best.pt", "predict", safe, "--checkpoint", ckpt, "-o", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_predict_checkpoint_of_another_input_set(capsys, tmp_path):
    # an all-13-band model cannot mask a 6-band stack
    torch.manual_seed(0)
    cfg = TrainConfig(stage=0, in_channels=13, num_workers=0, **TINY)
    model = UNet(UNetConfig(in_channels=13, **TINY))
    ckpt = tmp_path / "best.pt"
    torch.save({"model": model.state_dict(), "config": config_to_dict(cfg), "epoch": 1}, ckpt)
    stack = write_tif(tmp_path / "stack.tif", stack_dn())
    user_error(capsys, "B01", "predict", stack, "--band-names", ",".join(STACK_BANDS), *SUN,
               "--checkpoint", ckpt, "-o", tmp_path / "out")


def test_predict_a_file_that_is_not_a_checkpoint(capsys, safe, tmp_path):
    ckpt = tmp_path / "best.pt"
    ckpt.write_text("not a checkpoint")
    user_error(capsys, "checkpoint", "predict", safe, "--checkpoint", ckpt, "-o", tmp_path / "o")


def test_predict_product_all_no_data(capsys, safe, checkpoint, tmp_path):
    _blank(safe)
    out = tmp_path / "out"
    user_error(capsys, "no data", "predict", safe, "--checkpoint", checkpoint, "-o", out,
               "--probabilities")
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []


def test_predict_existing_output_it_did_not_write(capsys, safe, checkpoint, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / f"{safe.stem}_DFMASK_CLASSES.tif"
    theirs.write_bytes(b"somebody's file")
    user_error(capsys, "--overwrite", "predict", safe, "--checkpoint", checkpoint, "-o", out)
    assert theirs.read_bytes() == b"somebody's file"


def test_predict_folder_without_products(capsys, checkpoint, tmp_path):
    empty = tmp_path / "scenes"
    empty.mkdir()
    (empty / "notes.txt").write_text("no products here")
    user_error(capsys, "scenes", "predict", empty, "--checkpoint", checkpoint)


def test_predict_corrupt_zip(capsys, checkpoint, tmp_path):
    z = tmp_path / "S2B_MSIL1C_20200112T130521_N0400_R038_T21EVK_20200112T152221.zip"
    z.write_bytes(b"PK\x03\x04 truncated download")
    user_error(capsys, "zip", "predict", z, "--checkpoint", checkpoint, "-o", tmp_path / "out")


# --------------------------------------------------------------------------- other commands


def test_compare_unknown_method(capsys, safe):
    user_error(capsys, "nosuchmethod", "compare", safe, "--methods", "fmask,nosuchmethod")


def test_synth_size_not_a_multiple_of_6(capsys, tmp_path):
    user_error(capsys, "6", "synth", tmp_path / "s", "--size", "50", "--n-train", "1",
               "--n-val", "0", "--n-test", "0")
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_synth_into_a_folder_with_files(capsys, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mine.txt").write_text("keep me")
    user_error(capsys, "--overwrite", "synth", tmp_path / "s", "--size", "48", "--n-train", "1",
               "--n-val", "0", "--n-test", "0")
    assert (tmp_path / "s" / "mine.txt").read_text() == "keep me"


def _profile(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mine.yml"
    p.write_text(text)
    return p


def test_book_profile_naming_a_missing_notebook(capsys, tmp_path):
    profile = _profile(tmp_path, "notebooks:\n  - 09_rerun\n  - 42_nowhere\nparameters: {}\n")
    user_error(capsys, "42_nowhere", "book", "--profile", profile, "--no-build")


def test_book_profile_naming_a_missing_parameter(capsys, tmp_path):
    profile = _profile(tmp_path, "notebooks:\n  - 09_rerun\nparameters:\n  09_rerun:\n"
                                 "    no_such_parameter: 1\n")
    user_error(capsys, "no_such_parameter", "book", "--profile", profile, "--no-build")


def test_predict_disk_full_leaves_nothing(capsys, safe, checkpoint, tmp_path, monkeypatch):
    # the class map's writer fails half-way (simulated ENOSPC): one line, no map, no sidecar.
    # A COG is written through rasterio's buffered writer (copied to the file on close).
    for cls in (rasterio.io.DatasetWriter, rasterio.io.BufferedDatasetWriter):
        def failing(self, *args, _real=cls.write, **kwargs):
            _real(self, *args, **kwargs)
            raise OSError(errno.ENOSPC, "simulated", self.name)

        monkeypatch.setattr(cls, "write", failing)
    out = tmp_path / "out"
    user_error(capsys, "simulated", "predict", safe, "--checkpoint", checkpoint, "-o", out)
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
