"""Many products at once: ``dfmask predict`` in this process, a local pool and on dask.

The same three small synthetic products and tiny checkpoint go through each way of running;
the class maps must be identical, a rerun must skip every up-to-date output, and one bad
product must not stop the others.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import class_maps, tiny_products
from dfmask_lib.batch import dask_client, make_jobs, run_jobs
from dfmask_lib.cli import main
from dfmask_lib.errors import ConfigError, MissingDataError
from dfmask_lib.predict import PredictConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WINDOW = ["--window", "64", "--overlap", "32"]


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["-q", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tiny_products(tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="module")
def reference(products, tmp_path_factory) -> dict[str, np.ndarray]:
    scenes, ckpt = products
    out = tmp_path_factory.mktemp("ref")
    jobs = make_jobs(ckpt, sorted(scenes.iterdir()), out, PredictConfig(window=64, overlap=32))
    outcomes = list(run_jobs(jobs))
    assert [o.error for o in outcomes] == [None] * 3
    found = class_maps(out)
    assert len(found) == 3 and all((c > 0).any() for c in found.values())
    return found


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_local_pool_gives_the_same_maps_and_a_rerun_skips(capsys, products, reference, tmp_path):
    scenes, ckpt = products
    code, out, err = run(capsys, "predict", scenes, "--checkpoint", ckpt, "-o", tmp_path,
                         *WINDOW, "--workers", "2")
    assert code == 0, err
    assert "3 products in 2 processes" in out and out.count("wrote ") == 3
    same(class_maps(tmp_path), reference)
    code, out, _ = run(capsys, "predict", scenes, "--checkpoint", ckpt, "-o", tmp_path, *WINDOW,
                       "--workers", "2")
    assert code == 0 and out.count("up to date") == 3


def test_dask_cluster_gives_the_same_maps_and_a_rerun_skips(capsys, products, reference,
                                                            tmp_path):
    distributed = pytest.importorskip("distributed")
    scenes, ckpt = products
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        code, out, err = run(capsys, "predict", scenes, "--checkpoint", ckpt, "-o", tmp_path,
                             *WINDOW, "--dask", address)
        assert code == 0, err
        assert f"3 products on dask at {address}" in out and out.count("wrote ") == 3
        same(class_maps(tmp_path), reference)
        # written by the workers, atomically: nothing temporary is left
        assert not [p for p in tmp_path.iterdir() if ".part" in p.name]
        code, out, _ = run(capsys, "predict", scenes, "--checkpoint", ckpt, "-o", tmp_path,
                           *WINDOW, "--dask", address)
        assert code == 0 and out.count("up to date") == 3


def test_a_bad_product_does_not_stop_the_others(capsys, products, reference, tmp_path):
    scenes, ckpt = products
    mixed = tmp_path / "scenes"
    shutil.copytree(scenes, mixed)
    bad = sorted(mixed.iterdir())[1]
    next(bad.glob("GRANULE/*/IMG_DATA/*_B11.jp2")).write_bytes(b"")
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "predict", mixed, "--checkpoint", ckpt, "-o", out_dir, *WINDOW)
    assert code == 2
    assert f"failed {bad}" in err and "B11" in err
    assert err.strip().splitlines()[-1].startswith("dfmask: error: 1 of 3 products failed")
    got = class_maps(out_dir)
    assert len(got) == 2
    for name, value in got.items():
        np.testing.assert_array_equal(value, reference[name])


def test_batch_settings_are_checked(products, tmp_path):
    scenes, ckpt = products
    jobs = make_jobs(ckpt, sorted(scenes.iterdir()), tmp_path, PredictConfig())
    with pytest.raises(ConfigError, match="workers"):
        list(run_jobs(jobs, workers=0))
    with pytest.raises(ConfigError, match="not both"):
        list(run_jobs(jobs, workers=2, scheduler="tcp://127.0.0.1:1"))
    assert len(make_jobs(ckpt, [tmp_path / "a.tif"] * 2, tmp_path, PredictConfig())) == 1
    with pytest.raises(ConfigError, match="both write"):  # a stack and a zip of one name
        make_jobs(ckpt, [tmp_path / "a.tif", tmp_path / "a.zip"], tmp_path, PredictConfig())


def test_no_dask_scheduler_is_a_user_error():
    pytest.importorskip("distributed")
    with pytest.raises(MissingDataError, match="no dask scheduler answers at tcp://127.0.0.1:9"):
        dask_client("tcp://127.0.0.1:9", timeout="2s")
