"""The ``dfmask`` command line: product options on every command that reads products, the
global flags (--version, --debug, -v/-q) and how failures end (user error 2, bug 1)."""

from __future__ import annotations

import errno
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from dfmask_lib import progress
from dfmask_lib.cli import is_user_oserror, main
from dfmask_lib.errors import ProductError
from dfmask_lib.scene import S2_BANDS
from dfmask_lib.version import get_version

#: What Fmask needs, in a typical export's order.
BANDS = ("B02", "B03", "B04", "B8A", "B11", "B12")
TRANSFORM = Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 5000000.0)
SUN = ["--sun-zenith", "40", "--sun-azimuth", "150"]


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _dn(n_bands: int, size: int = 24) -> np.ndarray:
    """uint16 DN (bands, size, size): vegetation, a lake and a bright (cloud/snow) block."""
    rng = np.random.default_rng(0)
    base = np.linspace(800, 3500, n_bands)[:, None, None]
    dn = base + rng.integers(-100, 100, (n_bands, size, size))
    dn[:, : size // 3, : size // 3] = 7000 + rng.integers(0, 300, (n_bands, size // 3, size // 3))
    dn[:, -size // 4:, -size // 4:] = 300
    return dn.astype(np.uint16)


def _write(path: Path, array: np.ndarray, nodata: float | None = None) -> Path:
    array = array[None] if array.ndim == 2 else array
    with rasterio.open(path, "w", driver="GTiff", count=array.shape[0], height=array.shape[1],
                       width=array.shape[2], dtype=array.dtype, crs="EPSG:32633",
                       transform=TRANSFORM, nodata=nodata) as dst:
        dst.write(array)
    return path


def _as_stored(dn: np.ndarray, dtype: str) -> np.ndarray:
    # float files hold reflectance computed exactly as the reader divides DN, so both
    # kinds of file give the same reflectance and the same masks
    return dn if dtype == "uint16" else (dn.astype(np.float32) / np.float32(10000))


@pytest.fixture(params=["uint16", "float32"])
def stack(request, tmp_path) -> Path:
    """A 6-band GeoTIFF stack: uint16 L1C DN (no offset) or float32 reflectance."""
    return _write(tmp_path / f"stack_{request.param}.tif", _as_stored(_dn(len(BANDS)), request.param))


# --------------------------------------------------------------------------- product options


def test_info_reads_stacks_of_both_kinds(capsys, stack):
    code, out, err = run(capsys, "info", stack, "--band-names", ",".join(BANDS), *SUN)
    assert code == 0, err
    kind = "DN" if "uint16" in stack.name else "reflectance"
    assert f"read as {kind}" in out and "zenith 40.00 deg, azimuth 150.00 deg" in out


def test_fmask_masks_a_stack_and_writes_a_valid_geotiff(capsys, stack, tmp_path):
    out_tif = tmp_path / "out.tif"
    code, out, err = run(capsys, "fmask", stack, "--band-names", ",".join(BANDS), *SUN,
                         "-o", out_tif)
    assert code == 0, err
    assert out.startswith(f"wrote {out_tif}\n") and "clear land" in out
    with rasterio.open(out_tif) as ds:
        assert ds.driver == "GTiff" and ds.dtypes == ("uint8",) and ds.nodata == 255
        assert ds.crs.to_epsg() == 32633 and ds.transform == TRANSFORM and ds.shape == (24, 24)
        data, tags = ds.read(1), ds.tags()
    assert set(np.unique(data)) <= {0, 1, 2, 3, 4, 255} and (data != 255).all()
    assert tags["DFMASK_VERSION"] == get_version() and tags["SOURCE"] == stack.name
    assert json.loads(tags["PRODUCT_OPTIONS"]) == {
        "band_names": list(BANDS), "sun_zenith": 40.0, "sun_azimuth": 150.0}
    assert "FmaskConfig" in tags["DFMASK_CONFIG"]


def test_uint16_and_float32_stacks_give_the_same_mask(capsys, tmp_path):
    dn = _dn(len(BANDS))
    masks = []
    for dtype in ("uint16", "float32"):
        path = _write(tmp_path / f"{dtype}.tif", _as_stored(dn, dtype))
        code, _, err = run(capsys, "fmask", path, "--band-names", ",".join(BANDS), *SUN)
        assert code == 0, err
        with rasterio.open(tmp_path / f"{dtype}_FMASK.tif") as ds:  # default: beside the input
            masks.append(ds.read(1))
    np.testing.assert_array_equal(*masks)
    assert len(np.unique(masks[0])) > 1


def test_fmask_applies_scale_and_offset(capsys, tmp_path):
    # L1C DN of baseline >= 04.00 carry +1000: --offset -1000 gives the same mask
    dn = _dn(len(BANDS))
    plain = _write(tmp_path / "plain.tif", dn)
    shifted = _write(tmp_path / "shifted.tif", dn + np.uint16(1000))
    for path, extra in ((plain, []), (shifted, ["--offset", "-1000"])):
        code, _, err = run(capsys, "fmask", path, "--band-names", ",".join(BANDS), *SUN, *extra)
        assert code == 0, err
    with rasterio.open(tmp_path / "plain_FMASK.tif") as a, \
            rasterio.open(tmp_path / "shifted_FMASK.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    code, _, err = run(capsys, "fmask", plain, "--band-names", ",".join(BANDS), *SUN,
                       "--scale", "0", "-o", tmp_path / "z.tif")
    assert code == 2 and "positive number" in err and err.count("\n") == 1


@pytest.mark.parametrize("args, match", [
    ([], "--band-names"),                                       # a stack needs its band names
    (["--band-names", "B02,B03"], "has 6 bands but 2 band names"),
    (["--band-names", ",".join(BANDS), "--sun-zenith", "40"], "--sun-azimuth"),
    (["--band-names", ",".join(BANDS)], "sun"),                 # no sun angles: Fmask refuses
])
def test_fmask_on_a_stack_user_errors(capsys, stack, tmp_path, args, match):
    code, out, err = run(capsys, "fmask", stack, *args, "-o", tmp_path / "o.tif")
    assert code == 2 and out == "" and match in err and err.count("\n") == 1
    assert not (tmp_path / "o.tif").exists()


def _band_folder(root: Path, name: str, dtype: str) -> Path:
    """A folder of 13 single-band files (20 m) with its Fmask label file inside."""
    from dfmask_lib.classes import FMASK
    from dfmask_lib.writer import write_classmap

    folder = root / name
    folder.mkdir(parents=True)
    for band, values in zip(S2_BANDS, _as_stored(_dn(len(S2_BANDS), 12), dtype)):
        _write(folder / f"{name}_{band}.tif", values)
    label = np.zeros((12, 12), np.uint8)
    label[:4, :4] = 4  # cloud
    write_classmap(folder / f"{name}_FMASK.tif", label, crs="EPSG:32633", transform=TRANSFORM,
                   table=FMASK)
    return folder


def test_make_data_reads_band_folders_of_both_kinds(capsys, tmp_path):
    import h5py

    src = tmp_path / "src"
    _band_folder(src, "P_uint16", "uint16")
    _band_folder(src, "P_float32", "float32")
    out = tmp_path / "train.h5"
    code, stdout, err = run(capsys, "make-data", src, out)
    assert code == 0, err
    assert "2 patches of 7 channels" in stdout
    with h5py.File(out, "r") as f:
        image, sources = f["image"][:], [s.decode() if isinstance(s, bytes) else s
                                         for s in f["source"][:]]
        assert f.attrs["version"] == get_version()
    # the DN folder and the reflectance folder hold the same scene
    order = [sources.index("P_uint16"), sources.index("P_float32")]
    np.testing.assert_array_equal(image[order[0]], image[order[1]])


def test_make_data_forwards_the_product_options(capsys, tmp_path, monkeypatch):
    import inspect

    from dfmask_lib.cli import make_data as command
    from dfmask_lib.reader import PRODUCT_OPTIONS, read_product

    calls = []

    def fake_build(src_dir, out, config, labels_dir=None, *, reader_options=None):
        import h5py

        calls.append(reader_options)
        with h5py.File(out, "w") as f:
            f["image"] = np.zeros((1, 7, 2, 2), np.float32)
        return out

    monkeypatch.setattr(command, "build", fake_build)
    code, _, err = run(capsys, "make-data", tmp_path, tmp_path / "o.h5", "--band-names",
                       "B2,B3,B4,B8A,B11,B12", "--scale", "1", *SUN)
    assert code == 0, err
    assert calls == [{"band_names": BANDS, "scale": 1.0, "sun_zenith": 40.0,
                      "sun_azimuth": 150.0}]
    assert set(calls[0]) <= set(PRODUCT_OPTIONS) <= set(inspect.signature(read_product).parameters)


def test_make_data_cuts_geotiff_stacks_with_the_product_options(capsys, tmp_path):
    # `dfmask fmask` writes <stem>_FMASK.tif beside a stack; make-data finds it there and
    # reads every stack with the same options. Both kinds give the same patches.
    import h5py

    src = tmp_path / "src"
    src.mkdir()
    dn = _dn(len(BANDS))
    for dtype in ("uint16", "float32"):
        stack = _write(src / f"{dtype}.tif", _as_stored(dn, dtype))
        code, _, err = run(capsys, "fmask", stack, "--band-names", ",".join(BANDS), *SUN)
        assert code == 0, err
    out = tmp_path / "train.h5"
    # swirndsi needs B08, which these stacks lack
    code, _, err = run(capsys, "make-data", src, out, "--band-names", ",".join(BANDS), *SUN)
    assert code == 2 and "B08" in err and not out.exists()
    code, stdout, err = run(capsys, "make-data", src, out, "--band-names", ",".join(BANDS), *SUN,
                            "--input-set", "all13")
    assert code == 2 and "B01" in err  # all13 needs all 13 bands: one clear line either way
    bands = ("B02", "B03", "B04", "B08", "B11", "B12")
    code, stdout, err = run(capsys, "make-data", src, out, "--band-names", ",".join(bands), *SUN)
    assert code == 0, err
    assert "2 patches of 7 channels" in stdout
    with h5py.File(out, "r") as f:
        image = f["image"][:]
        sources = [s.decode() if isinstance(s, bytes) else s for s in f["source"][:]]
    assert sources == ["float32.tif", "uint16.tif"]
    np.testing.assert_array_equal(image[0], image[1])
    np.testing.assert_allclose(image[1, 0, :24, :24], dn[0] / 10000, rtol=1e-6)
    # other options give other reflectance: the file is rebuilt, not reused
    mtime = out.stat().st_mtime_ns
    code, _, err = run(capsys, "make-data", src, out, "--band-names", ",".join(bands), *SUN,
                       "--offset", "-100")
    assert code == 0, err
    assert out.stat().st_mtime_ns != mtime
    with h5py.File(out, "r") as f:
        np.testing.assert_allclose(f["image"][1, 0, :24, :24], (dn[0] - 100.0) / 10000, rtol=1e-5)


def test_every_command_that_reads_products_has_the_same_product_options():
    import click

    from dfmask_lib.cli import cli

    ctx = click.Context(cli)
    wanted = {"--band-names", "--scale", "--offset", "--sun-zenith", "--sun-azimuth"}
    for name in ("info", "fmask", "make-data"):
        command = cli.get_command(ctx, name)
        opts = {o for p in command.params for o in p.opts}
        assert wanted <= opts, (name, wanted - opts)


# --------------------------------------------------------------------------- global flags


def _lazy(*args: str) -> str:
    code = ("import sys\nfrom dfmask_lib.cli import main\ntry:\n    main(%r)\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules, file=sys.stderr)" % list(args))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["info", "--help"],
                                  ["fmask", "--help"]])
def test_cli_stays_lazy(args):
    assert _lazy(*args).strip().endswith("False")


def test_version_flag(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == f"dfmask {get_version()}\n"


def test_verbosity_levels(capsys, tmp_path):
    path = _write(tmp_path / "ee.tif", np.array([[[0.1, np.inf], [0.2, 0.3]]], np.float32))
    code, _, err = run(capsys, "info", path, "--band-names", "B03")
    assert code == 0 and err.startswith("dfmask: warning: ") and "ee.tif: 1 pixels hold inf" in err
    assert "dfmask: info:" not in err
    code, _, err = run(capsys, "-v", "info", path, "--band-names", "B03")
    assert code == 0
    assert "dfmask: info: ee.tif: float32 GeoTIFF stack read as reflectance" in err
    assert "dfmask: debug:" not in err
    code, _, err = run(capsys, "-vv", "info", path, "--band-names", "B03")
    assert code == 0 and "dfmask: debug:" in err and "[dfmask_lib.reader.stack]" in err
    code, out, err = run(capsys, "-q", "info", path, "--band-names", "B03")
    assert code == 0 and err == "" and "valid" in out
    code, _, err = run(capsys, "-v", "-q", "info", path)
    assert code == 2 and "not both" in err


def test_quiet_turns_bars_off_for_the_run_only(capsys, tmp_path, monkeypatch):
    import dfmask_lib.reader

    seen = []

    def fake(*args, **kwargs):
        seen.append((progress.bars_enabled(), logging.getLogger("dfmask_lib").level))
        raise ProductError("stop here")

    monkeypatch.setattr(dfmask_lib.reader, "read_product", fake)
    level = logging.getLogger("dfmask_lib").level
    run(capsys, "-q", "info", tmp_path)
    run(capsys, "info", tmp_path)
    assert seen == [(False, logging.ERROR), (True, logging.WARNING)]
    assert progress.bars_enabled() and logging.getLogger("dfmask_lib").level == level
    assert progress.disable_bar(True) is None


# --------------------------------------------------------------------------- failures


@pytest.fixture
def failing(monkeypatch):
    """Make ``read_product`` (called by ``dfmask info``) raise a given exception."""
    import dfmask_lib.reader

    def arm(exc: BaseException) -> None:
        def raiser(*args, **kwargs):
            raise exc
        monkeypatch.setattr(dfmask_lib.reader, "read_product", raiser)
    return arm


def test_user_error_is_one_line_and_debug_adds_the_traceback(capsys, tmp_path, failing):
    failing(ProductError("this is a Level-2A product"))
    code, out, err = run(capsys, "info", tmp_path)
    assert code == 2 and out == "" and err == "dfmask: error: this is a Level-2A product\n"
    code, _, err = run(capsys, "--debug", "info", tmp_path)
    assert code == 2 and err.startswith("Traceback") and "raiser" in err
    assert err.endswith("dfmask: error: this is a Level-2A product\n")


@pytest.mark.parametrize("exc", [ZeroDivisionError("float division by zero"),
                                 KeyError("B8A"), OSError("HDF5: unable to lock file")])
def test_a_bug_says_so_and_exits_1(capsys, tmp_path, failing, exc):
    failing(exc)
    code, out, err = run(capsys, "info", tmp_path)
    assert code == 1 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].startswith("dfmask: internal error (a bug in dfmask, not in your input): "
                               f"{type(exc).__name__}")
    assert "--debug" in lines[1] and len(lines) == 2
    code, _, err = run(capsys, "--debug", "info", tmp_path)
    assert code == 1 and err.startswith("Traceback") and "--debug" not in err.splitlines()[-1]


@pytest.mark.parametrize("number, where, status", [
    (errno.EACCES, "/etc/somewhere/out.tif", 2),   # the user's to fix wherever it is
    (errno.ENOSPC, "/data/out.tif", 2),
    (errno.EROFS, "/mnt/ro/out.tif", 2),
    (errno.ENOENT, "PRODUCT/GRANULE/x.jp2", 2),    # inside the path the user named
    (errno.ENOENT, "/opt/dfmask/tables/x.csv", 1),  # a path dfmask made up: a bug
    (errno.EISDIR, "/opt/dfmask/tables", 1),
])
def test_oserrors_user_or_bug(capsys, tmp_path, failing, number, where, status):
    where = where.replace("PRODUCT", str(tmp_path))
    failing(OSError(number, errno.errorcode[number], where))
    code, _, err = run(capsys, "info", tmp_path)
    assert code == status, err
    if status == 2:
        assert err.count("\n") == 1 and err.startswith("dfmask: error: ") and where in err
    else:
        assert "bug" in err


def test_is_user_oserror_paths(tmp_path):
    given = [tmp_path / "in.SAFE", tmp_path / "out" / "mask.tif"]
    enoent = lambda p: FileNotFoundError(errno.ENOENT, "No such file", str(p))  # noqa: E731
    assert is_user_oserror(enoent(tmp_path / "in.SAFE"), given)
    assert is_user_oserror(enoent(tmp_path / "in.SAFE" / "GRANULE" / "a.xml"), given)
    assert is_user_oserror(enoent(tmp_path / "out" / ".mask.tif.tmp1"), given)  # atomic write
    assert not is_user_oserror(enoent(tmp_path / "elsewhere" / "x"), given)
    assert not is_user_oserror(FileNotFoundError(errno.ENOENT, "No such file"), given)
    assert is_user_oserror(PermissionError(errno.EACCES, "Permission denied"), [])


def test_missing_input_is_a_user_error(capsys, tmp_path):
    code, _, err = run(capsys, "fmask", tmp_path / "nope.SAFE")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
