"""Scene contract, atomic writes, config round trips and the CLI group."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from affine import Affine

from dfmask_lib.atomic import atomic_dir, atomic_path
from dfmask_lib.config import config_from_dict, config_to_dict, load_config, save_config
from dfmask_lib.errors import BandError, ConfigError
from dfmask_lib.scene import S2_BANDS, ProductMetadata, Scene, ndsi


def _scene(n=3, h=4, w=5, **kw):
    refl = np.arange(n * h * w, dtype=np.float32).reshape(n, h, w) / 100
    return Scene(refl, S2_BANDS[:n], np.ones((h, w), bool), None, Affine(20, 0, 0, 0, -20, 0),
                 30.0, 150.0, ProductMetadata("test"), **kw)


def test_scene_band_access():
    s = _scene()
    assert s.shape == (4, 5) and s.resolution == 20
    np.testing.assert_array_equal(s.band("B02"), s.reflectance[1])
    assert s.bands(["B03", "B01"]).shape == (2, 4, 5)
    with pytest.raises(BandError, match="'B8A' is not in this scene"):
        s.band("B8A")


@pytest.mark.parametrize("bad", [
    dict(reflectance=np.zeros((3, 4, 5), np.float64)),
    dict(reflectance=np.zeros((2, 4, 5), np.float32)),
    dict(valid=np.ones((4, 4), bool)),
    dict(view_zenith=np.zeros((5, 4), np.float32)),
])
def test_scene_contract_checked(bad):
    s = _scene()
    with pytest.raises(BandError):
        dataclasses.replace(s, **bad)


def test_ndsi_zero_denominator():
    out = ndsi(np.array([0.5, 0.0, 0.2]), np.array([0.1, 0.0, 0.2]))
    np.testing.assert_allclose(out, [0.4 / 0.6, 0.0, 0.0], rtol=1e-6)
    assert out.dtype == np.float32


def test_ndsi_clips_negative_reflectance_at_zero():
    # Baseline >= 04.00: (DN - 1000) / 10000 < 0 for dark pixels. Unclipped, green -0.01 with
    # SWIR1 0.0105 gives (-0.0205) / 0.0005 = -41; clipped, green has no signal: -1.
    green = np.array([-0.01, 0.0105, -0.02, -0.003, 0.3], np.float32)
    swir1 = np.array([0.0105, -0.01, -0.01, 0.0, 0.1], np.float32)
    out = ndsi(green, swir1)
    np.testing.assert_allclose(out, [-1.0, 1.0, 0.0, 0.0, 0.5], rtol=1e-6)
    assert np.all(np.abs(out) <= 1)


def test_normalized_difference_stays_in_range_on_random_signed_values():
    from dfmask_lib.scene import normalized_difference

    rng = np.random.default_rng(0)
    a, b = rng.uniform(-0.05, 0.05, (2, 10_000)).astype(np.float32)
    out = normalized_difference(a, b)
    assert out.dtype == np.float32 and np.all(np.abs(out) <= 1)
    both_positive = (a > 0) & (b > 0)
    np.testing.assert_allclose(out[both_positive], ((a - b) / (a + b))[both_positive], rtol=1e-5)


def test_atomic_path_success_and_failure(tmp_path):
    target = tmp_path / "sub" / "out.tif"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".tif" and tmp.parent == target.parent
        tmp.write_text("x")
        assert not target.exists()
    assert target.read_text() == "x"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "x"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.tif"]


def test_atomic_dir(tmp_path):
    target = tmp_path / "prod.SAFE"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    assert (target / "a").read_text() == "1"
    with pytest.raises(FileExistsError):
        with atomic_dir(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic_dir(target, overwrite=True) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prod.SAFE"]
    assert not (target / "b").exists()
    with atomic_dir(target, overwrite=True) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    import signal
    import subprocess
    import sys

    from dfmask_lib import atomic

    code = ("import os, signal, sys\n"
            "from dfmask_lib.atomic import atomic_dir, atomic_path\n"
            "with atomic_dir(sys.argv[1]) as d, atomic_path(sys.argv[2]) as f:\n"
            "    (d / 'half').write_text('x'); f.write_text('half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    folder, file = tmp_path / "prod.SAFE", tmp_path / "map.tif"
    proc = subprocess.run([sys.executable, "-c", code, str(folder), str(file)])
    assert proc.returncode == -signal.SIGKILL
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(".part" in n for n in left)  # nothing under a final name
    # temporaries of a running process or of another host are not touched
    alive = tmp_path / f".map.{atomic._HOST}-1.abc.part.tif"
    other = tmp_path / ".map.otherhost-999999.abc.part.tif"
    alive.write_text(""), other.write_text("")
    with atomic_path(file) as tmp:
        tmp.write_text("whole")
    with atomic_dir(folder) as tmp:
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [alive.name, other.name, "map.tif", "prod.SAFE"])
    assert file.read_text() == "whole" and [p.name for p in folder.iterdir()] == ["a"]


def test_scratch_path_is_named_like_a_temporary_and_always_removed(tmp_path):
    from dfmask_lib import atomic

    target = tmp_path / "out" / "mask.tif"
    with atomic.scratch_path(target, ".bands") as scratch:
        assert scratch.exists() and scratch.parent == target.parent
        assert scratch.name.startswith(f".mask.{atomic._HOST}-{os.getpid()}.")
        assert scratch.name.endswith(".part.bands")
    assert not scratch.exists()
    with pytest.raises(RuntimeError), atomic.scratch_path(target, ".bands") as scratch:
        raise RuntimeError("failed half-way")
    assert list(target.parent.iterdir()) == []


@dataclasses.dataclass(frozen=True)
class _Cfg:
    lr: float = 1e-3
    bands: tuple = ("B02", "B03")
    depth: int = 5


def test_config_round_trip(tmp_path):
    cfg = _Cfg(lr=7e-4)
    d = config_to_dict(cfg)
    assert d["bands"] == ["B02", "B03"] and d["__class__"].endswith("_Cfg")
    assert config_from_dict(_Cfg, json.loads(json.dumps(d))) == cfg
    save_config(cfg, tmp_path / "c.json")
    assert load_config(_Cfg, tmp_path / "c.json") == cfg
    from dfmask_lib.version import get_version

    assert json.loads((tmp_path / "c.json").read_text())["__version__"] == get_version()
    with pytest.raises(ConfigError, match="unknown _Cfg fields"):
        config_from_dict(_Cfg, {"lr": 1.0, "momentum": 0.9})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(_Cfg, tmp_path / "bad.json")


def test_cli_unknown_command_exits_2():
    r = subprocess.run([sys.executable, "-m", "dfmask_lib", "frobnicate"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "No such command" in r.stderr and "Traceback" not in r.stderr


def test_cli_help_lists_commands():
    r = subprocess.run([sys.executable, "-m", "dfmask_lib", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for name in ("info", "fmask", "synth", "make-data", "train", "book"):
        assert name in r.stdout
