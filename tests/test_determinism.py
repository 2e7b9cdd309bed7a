"""Determinism: the same seed and inputs give the same bytes at every step of the pipeline.

One small synthetic product goes through the whole chain twice, each time from scratch in its
own folder: the synthetic SAFE, Fmask's labels, the patch file, a stage-0 training with
data-loader workers (on the CPU), and the pseudo-labels of that model. Each pair must be
identical: bit for bit, not approximately.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from dfmask_lib.classes import FMASK, recode
from dfmask_lib.fmask.product import fmask_product_result
from dfmask_lib.patches import PatchConfig, input_stack, write_patches
from dfmask_lib.pseudolabels import relabel
from dfmask_lib.reader import read_product
from dfmask_lib.synthetic.safe_writer import ProductInfo, write_safe
from dfmask_lib.synthetic.scene import SynthConfig, generate
from dfmask_lib.train import TrainConfig, train

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("ignore:classes absent from the training labels")]

INFO = ProductInfo("27WVM", 32627, 499980.0, 7800000.0, "2021-06-01T13:15:00", 95, 31000,
                   "determinism tests")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def h5_arrays(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in f}


def pipeline(root: Path) -> dict[str, object]:
    """Synthetic product -> Fmask -> patches -> stage 0 (2 workers) -> pseudo-labels, in root."""
    safe = write_safe(generate(SynthConfig(size=96, seed=11)), INFO, root / "safe")
    fmask_path, result = fmask_product_result(safe, root / "fmask.tif", progress=False)
    scene = read_product(safe, progress=False)
    label = recode(result.fmask, FMASK)
    image = input_stack(scene)
    scenes = [(f"{safe.name}#{k}", np.roll(image, 8 * k, axis=-1), np.roll(label, 8 * k, axis=-1))
              for k in range(4)]  # four shifted copies: patches for every subset
    train_h5, val_h5 = root / "train.h5", root / "val.h5"
    cfg = PatchConfig(window=32, patch_size=32, seed=3)
    write_patches(train_h5, scenes, cfg, progress=False)
    write_patches(val_h5, scenes[:1], PatchConfig(mode="test", window=32, patch_size=32),
                  progress=False)
    run = TrainConfig(stage=0, start_filters=4, depth=2, batch_size=4, max_epochs=2,
                      num_workers=2, device="cpu", seed=5, augment=True)
    trained = train(run, train_h5, val_h5, root / "stage0", progress=False)
    pseudo = relabel(root / "stage0" / "best.pt", train_h5, 1, root / "pseudolabels.h5",
                     device="cpu", progress=False)
    return {"safe": safe, "fmask": result.fmask, "fmask_file": fmask_path, "train_h5": train_h5,
            "history": trained.history, "weights": root / "stage0" / "last.pt",
            "pseudo": pseudo.path, "pseudo_counts": pseudo.relabel_stats.to_dict()}


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    return (pipeline(tmp_path_factory.mktemp("first")),
            pipeline(tmp_path_factory.mktemp("second")))


def test_synthetic_products_are_the_same_bytes(twice):
    a, b = (Path(r["safe"]) for r in twice)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) > 14
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert digest(a / rel) == digest(b / rel), rel


def test_fmask_labels_are_the_same(twice):
    a, b = twice
    assert a["fmask"].dtype == np.uint8 and len(np.unique(a["fmask"])) >= 3  # not a blank map
    np.testing.assert_array_equal(a["fmask"], b["fmask"])


def test_patches_are_the_same(twice):
    a, b = (h5_arrays(r["train_h5"]) for r in twice)
    assert set(a) == set(b) and {"image", "label", "subset"} <= set(a)
    assert set(np.unique(a["subset"])) == {0, 1, 2, 3}
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_trained_weights_are_the_same_on_the_cpu(twice):
    a, b = (torch.load(r["weights"], weights_only=True) for r in twice)
    assert a["epoch"] == b["epoch"] == 2
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    assert strip(twice[0]["history"]) == strip(twice[1]["history"])


def test_pseudo_labels_are_the_same(twice):
    a, b = (h5_arrays(r["pseudo"]) for r in twice)
    assert a["label"].shape[0] > 0
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    # the counts (the stats file also names its inputs' paths and file times: provenance)
    assert twice[0]["pseudo_counts"] == twice[1]["pseudo_counts"]
