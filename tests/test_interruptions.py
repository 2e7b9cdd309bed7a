"""Interruptions: SIGKILL at several points, then the same command again.

Each case runs one piece of work in a child process that kills itself with SIGKILL at a chosen
moment: just before or just after the N-th atomic rename (``os.replace``: the moment a file
appears under its final name), or after a share of the time an uninterrupted run takes. Then
it checks that

* every file under a final name (not a ``.part`` temporary) is complete and readable;
* running the same command again finishes, with results identical to an uninterrupted run.

Covered: training, pseudo-labelling, prediction over several products and the book runner
(self-training's stages are killed in ``test_selftrain``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
import torch

from conftest import class_maps, learnable_scenes, tiny_products
from dfmask_lib.cache import sidecar
from dfmask_lib.config import config_to_dict
from dfmask_lib.patches import PatchConfig, write_patches
from dfmask_lib.paths import PROJECT_ROOT
from dfmask_lib.pseudolabels import relabel
from dfmask_lib.train import TrainConfig, train

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:classes absent from the training labels")]

#: The child: kill at the N-th os.replace ("before"/"after" it) or never, then do the task.
CHILD = textwrap.dedent('''
    import json, os, signal, sys
    import torch
    torch.set_num_threads(1)
    spec = json.loads(sys.argv[1])
    count = 0
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        global count
        count += 1
        if count == spec.get("kill_at") and spec.get("when") == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst, *args, **kwargs)
        if count == spec.get("kill_at") and spec.get("when") == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    if spec.get("kill_on"):  # kill when this function (module.name) is called
        import importlib
        module, name = spec["kill_on"].rsplit(".", 1)
        setattr(importlib.import_module(module), name,
                lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL))
    task, a = spec["task"], spec["args"]
    if task == "train":
        from dfmask_lib.config import config_from_dict
        from dfmask_lib.train import TrainConfig, train
        train(config_from_dict(TrainConfig, a["config"]), a["train_h5"], a["val_h5"],
              a["out"], resume=True, progress=False)
    elif task == "relabel":
        from dfmask_lib.pseudolabels import relabel
        relabel(a["checkpoint"], a["train_h5"], 1, a["out"], device="cpu", progress=False)
    elif task == "cli":
        from dfmask_lib.cli import main
        try:
            main(a["argv"])
        except SystemExit as exc:
            if exc.code:
                raise
    elif task == "book":
        from pathlib import Path
        from dfmask_lib.book import Profile, run_book
        run_book(Profile("kill", tuple(a["notebooks"])), notebooks_dir=Path(a["notebooks_dir"]),
                 book_dir=Path(a["book_dir"]), build=False, echo=lambda line: None)
    print("finished")
''')


def child(tmp_path: Path, task: str, args: dict, kill_at: int | None = None,
          when: str = "before", kill_after_s: float | None = None,
          kill_on: str | None = None) -> subprocess.CompletedProcess:
    """Run the task in a child process (killed as asked); its CompletedProcess."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    spec = json.dumps({"task": task, "args": args, "kill_at": kill_at, "when": when,
                       "kill_on": kill_on})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GDAL_PAM_ENABLED": "NO"}
    proc = subprocess.Popen([sys.executable, str(script), spec], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after_s is not None:
        try:
            proc.wait(timeout=kill_after_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def killed(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr[-3000:])


def finished(done: subprocess.CompletedProcess) -> None:
    assert done.returncode in (0, None) and "finished" in done.stdout, done.stderr[-3000:]


def readable(root: Path) -> list[str]:
    """Open every file under a final name in ``root`` the way its readers do; their names.

    A ``.part`` name is a temporary of an atomic write: never read by dfmask.
    """
    seen = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".part" not in p.name):
        suffix = path.suffix.lower()
        if suffix == ".pt":
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
            assert "model" in ckpt, path
        elif suffix == ".h5":
            with h5py.File(path, "r") as f:
                for name in f:
                    f[name][()]
        elif suffix == ".tif":
            with rasterio.open(path) as ds:
                ds.read()
        elif suffix in (".json", ".ipynb"):
            json.loads(path.read_text())
        elif suffix == ".csv":
            assert path.read_text().endswith("\n"), path
        seen.append(str(path.relative_to(root)))
    return seen


def same_weights(a: Path, b: Path) -> None:
    x = torch.load(a, map_location="cpu", weights_only=True)
    y = torch.load(b, map_location="cpu", weights_only=True)
    assert x["epoch"] == y["epoch"]
    for name, tensor in x["model"].items():
        assert torch.equal(tensor, y["model"][name]), name


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def patches(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("h5")
    write_patches(d / "train.h5", learnable_scenes(16), PatchConfig(window=32, patch_size=32),
                  progress=False)
    write_patches(d / "val.h5", learnable_scenes(4, seed=1),
                  PatchConfig(mode="test", window=32, patch_size=32), progress=False)
    return d / "train.h5", d / "val.h5"


TINY_RUN = dict(start_filters=4, depth=2, batch_size=4, num_workers=0, device="cpu", full=True,
                lr=1e-2, max_epochs=4, augment=True)


@pytest.fixture(scope="module")
def reference_run(patches, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    train(TrainConfig(**TINY_RUN), *patches, out, progress=False)
    return out


# An epoch writes best.pt (when better), last.pt, log.json and log.csv; config.json comes first.
SLOW = pytest.mark.slow  # the other points of a kind run with `make test-slow`


@pytest.mark.parametrize("kill_at, when", [(6, "after"), pytest.param(1, "after", marks=SLOW),
                                           pytest.param(3, "before", marks=SLOW),
                                           pytest.param(9, "before", marks=SLOW)])
def test_training_killed_resumes_to_the_same_weights(patches, reference_run, tmp_path,
                                                     kill_at, when):
    out = tmp_path / "run"
    args = {"config": config_to_dict(TrainConfig(**TINY_RUN)), "train_h5": str(patches[0]),
            "val_h5": str(patches[1]), "out": str(out)}
    killed(child(tmp_path, "train", args, kill_at, when))
    readable(out)
    finished(child(tmp_path, "train", args))
    readable(out)
    same_weights(reference_run / "last.pt", out / "last.pt")
    same_weights(reference_run / "best.pt", out / "best.pt")
    assert json.loads((out / "log.json").read_text())[-1]["val_miou"] == pytest.approx(
        json.loads((reference_run / "log.json").read_text())[-1]["val_miou"], abs=0)


# --------------------------------------------------------------------------- pseudo-labelling


@pytest.fixture(scope="module")
def stage1(patches, reference_run, tmp_path_factory) -> tuple[Path, Path]:
    """The reference run's model as the checkpoint to relabel with, and the labels it gives."""
    out = tmp_path_factory.mktemp("pl") / "pseudolabels.h5"
    relabel(reference_run / "best.pt", patches[0], 1, out, device="cpu", progress=False)
    return reference_run / "best.pt", out


@pytest.mark.parametrize("kill_at, when", [(1, "before"), pytest.param(1, "after", marks=SLOW)])
def test_pseudo_labelling_killed_reruns_to_the_same_labels(patches, stage1, tmp_path,
                                                           kill_at, when):
    checkpoint, reference = stage1
    out = tmp_path / "pl" / "pseudolabels.h5"
    args = {"checkpoint": str(checkpoint), "train_h5": str(patches[0]), "out": str(out)}
    killed(child(tmp_path, "relabel", args, kill_at, when))
    readable(tmp_path / "pl")
    finished(child(tmp_path, "relabel", args))
    with h5py.File(out, "r") as a, h5py.File(reference, "r") as b:
        assert set(a) == set(b)
        for name in a:
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


# --------------------------------------------------------------------------- prediction


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder of three small synthetic SAFE products and a tiny stage-0 checkpoint."""
    return tiny_products(tmp_path_factory.mktemp("products"))


def _predict_args(products: tuple[Path, Path], out: Path) -> dict:
    scenes_dir, ckpt = products
    return {"argv": ["-q", "predict", str(scenes_dir), "--checkpoint", str(ckpt),
                     "-o", str(out), "--window", "64", "--overlap", "32"]}


@pytest.fixture(scope="module")
def reference_predictions(products, tmp_path_factory) -> tuple[dict[str, np.ndarray], float]:
    d = tmp_path_factory.mktemp("refpred")
    t0 = time.perf_counter()
    finished(child(d, "cli", _predict_args(products, d / "out")))
    return class_maps(d / "out"), time.perf_counter() - t0


@pytest.mark.parametrize("step", ["_final_pcp", "_remove_commission", "_compose"])
def test_fmask_killed_in_strips_leaves_no_file_and_reruns_identically(products, tmp_path, step):
    # Killed mid-run, Fmask leaves its bands' scratch file beside the output and no mask;
    # the rerun sweeps the dead process's scratch file and writes the uninterrupted labels.
    product = sorted(Path(products[0]).glob("*.SAFE"))[0]
    out, ref = tmp_path / "out" / "mask.tif", tmp_path / "ref" / "mask.tif"
    finished(child(tmp_path, "cli", {"argv": ["fmask", str(product), "-o", str(ref)]}))
    args = {"argv": ["fmask", str(product), "-o", str(out)]}
    killed(child(tmp_path, "cli", args, kill_on=f"dfmask_lib.fmask.strips.{step}"))
    assert not out.exists() and [p.name for p in out.parent.iterdir()][0].endswith(".part.bands")
    finished(child(tmp_path, "cli", args))
    assert [p.name for p in out.parent.iterdir()] == ["mask.tif"]
    with rasterio.open(out) as a, rasterio.open(ref) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


# The class map and its recipe sidecar make 2 renames a product.
@pytest.mark.parametrize("kill", [(5, "before"), 0.5, pytest.param((2, "after"), marks=SLOW),
                                  pytest.param((3, "before"), marks=SLOW)])
def test_prediction_of_several_products_killed_finishes_them_all(products, reference_predictions,
                                                                  tmp_path, kill):
    reference, seconds = reference_predictions
    assert len(reference) == 3
    out = tmp_path / "out"
    args = _predict_args(products, out)
    if isinstance(kill, tuple):
        killed(child(tmp_path, "cli", args, *kill))
    else:  # after a share of an uninterrupted run's time: wherever that falls
        child(tmp_path, "cli", args, kill_after_s=kill * seconds)
    # a product is finished once its class map and the recipe beside it are both in place
    done_before = {p.name: p.stat().st_mtime_ns for p in out.glob("*_CLASSES.tif")
                   if sidecar(p).exists()}
    if out.exists():
        readable(out)
    finished(child(tmp_path, "cli", args))
    got = class_maps(out)
    assert sorted(got) == sorted(reference)
    for name, classes in reference.items():
        np.testing.assert_array_equal(got[name], classes, err_msg=name)
    if kill == (5, "before"):
        assert len(done_before) == 2  # two finished products before the kill ...
    for name, mtime in done_before.items():  # ... and finished ones are never redone
        assert (out / name).stat().st_mtime_ns == mtime, name


# --------------------------------------------------------------------------- the book runner


HEADER = ("# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n"
          "#       extension: .py\n#       format_name: percent\n# ---\n\n")
CHAPTER = HEADER + ('# %% [markdown]\n# # Chapter {n}\n\n# %% tags=["parameters"]\nx = {n}\n\n'
                    '# %%\nprint("chapter", x * 10)\n')


def _book_args(tmp_path: Path) -> dict:
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir(exist_ok=True)
    for n in (1, 2):
        (nbdir / f"0{n}_chapter.py").write_text(CHAPTER.format(n=n))
    return {"notebooks": ["01_chapter", "02_chapter"], "notebooks_dir": str(nbdir),
            "book_dir": str(tmp_path / "book")}


def _outputs(book_dir: Path) -> list[str]:
    found = []
    for nb in ("01_chapter", "02_chapter"):
        cells = json.loads((book_dir / "executed" / f"{nb}.ipynb").read_text())["cells"]
        found += ["".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])]
    return found


# Each chapter: the executed notebook, then its run record (profile.json comes first).
@pytest.mark.parametrize("kill_at, when", [(3, "before"), pytest.param(2, "after", marks=SLOW),
                                           pytest.param(4, "before", marks=SLOW)])
def test_book_runner_killed_reruns_what_is_missing(tmp_path, kill_at, when):
    args = _book_args(tmp_path)
    killed(child(tmp_path, "book", args, kill_at, when))
    executed = Path(args["book_dir"]) / "executed"
    readable(executed)
    records = {p.name: p.stat().st_mtime_ns for p in executed.glob("*.run.json")}
    finished(child(tmp_path, "book", args))
    readable(executed)
    assert _outputs(Path(args["book_dir"])) == ["chapter 10\n", "chapter 20\n"]
    for name, mtime in records.items():  # a chapter recorded before the kill is not rerun
        assert (executed / name).stat().st_mtime_ns == mtime, name
    assert sorted(p.name for p in executed.glob("*.run.json")) == [
        "01_chapter.run.json", "02_chapter.run.json"]
