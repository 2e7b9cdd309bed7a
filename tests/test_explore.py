"""Tests of dfmask_lib.explore: the overlay, finding an experiment's maps, the widget box."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.classes import CLASS_COLOURS
from dfmask_lib.errors import LabelError, MissingDataError
from dfmask_lib.explore import experiment_maps, explorer, overlay


def test_overlay_paints_only_the_classes_shown():
    rgb = np.zeros((2, 3, 3), np.float32)
    classes = np.array([[0, 1, 2], [3, 4, 5]])
    full = overlay(rgb, classes, opacity=1.0)
    assert full[0, 2].tolist() == list(CLASS_COLOURS[2]) and full[1, 2].tolist() == list(
        CLASS_COLOURS[5])
    half = overlay(np.ones_like(rgb), classes, opacity=0.5, shown=[3])
    assert half[1, 0].tolist() == [255, 128, 128]  # red shadow half over white
    assert (half[0] == 255).all() and (half[1, 1:] == 255).all()
    assert (overlay(rgb, classes, opacity=0.0) == 0).all()


@pytest.mark.parametrize(("rgb", "classes", "opacity", "match"), [
    (np.zeros((2, 2, 3)), np.zeros((3, 2), int), 0.5, "one grid"),
    (np.zeros((2, 2)), np.zeros((2, 2), int), 0.5, "one grid"),
    (np.zeros((2, 2, 3)), np.full((2, 2), 6), 0.5, "0-5"),
    (np.zeros((2, 2, 3)), np.zeros((2, 2), int), 1.5, "opacity"),
])
def test_overlay_refuses_bad_input(rgb, classes, opacity, match):
    with pytest.raises(LabelError, match=match):
        overlay(rgb, classes, opacity)


def test_experiment_maps_and_explorer(tmp_path):
    """On a tiny synthetic product: truth found, a prediction folder found, the widgets redraw."""
    pytest.importorskip("ipywidgets")
    from dfmask_lib.reader import read_labels
    from dfmask_lib.synthetic.safe_writer import ProductInfo, write_safe
    from dfmask_lib.synthetic.scene import SynthConfig, generate
    from dfmask_lib.writer import write_classmap

    info = ProductInfo("21EVK", 32721, 399960.0, 3000000.0, "2020-01-12T13:05:21", 38, 15000,
                       "test location")
    product = write_safe(generate(SynthConfig(size=96, seed=3)), info, tmp_path / "TEST")
    truth, profile = read_labels(next(product.glob("GRANULE/*/IMG_DATA/*LABELS.tif")))
    method = tmp_path / "preds" / "my_method"
    method.mkdir(parents=True)
    write_classmap(method / f"{product.name.removesuffix('.SAFE')}_DFMASK_CLASSES.tif",
                   np.where(truth > 0, 2, 0).astype(np.uint8), crs=profile["crs"],
                   transform=profile["transform"])
    scenes = experiment_maps(product.parent, tmp_path / "preds")
    assert set(scenes[0].maps) >= {"truth", "my method"}
    box = explorer(product.parent, tmp_path / "preds")
    first = box.children[2].value
    assert first[:4] == b"\x89PNG"
    box.controls["map"].value = "my method"
    box.controls["opacity"].value = 1.0
    assert box.children[2].value != first and "cloud" in box.children[3].value
    with pytest.raises(MissingDataError, match="no Sentinel-2 products"):
        experiment_maps((tmp_path / "empty").mkdir() or tmp_path / "empty")
