"""Hollstein et al. 2016: the Figure 8 decision tree and the Hollstein-trained Bayes file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dfmask_lib.classes import HOLLSTEIN, SICOR_HOLLSTEIN, recode
from dfmask_lib.errors import DataFileError
from dfmask_lib.peers import PeerUnavailable
from dfmask_lib.peers.hollstein import (BAYES_MODEL, HollsteinBayes, HollsteinTree,
                                        bayes_classes, load_bayes_model, tree_classes)
from dfmask_lib.scene import S2_BANDS

from .conftest import cloud_iou, make_scene

# One spectrum per leaf of the tree (other bands 0.1): the path it must take, and the leaf.
LEAVES = [
    # dark: B3 < 0.319, B8A < 0.166
    ({"B03": .05, "B8A": .10, "B07": .06, "B09": .05, "B11": .20}, 1),  # S(9,11) < -0.097: clear
    ({"B03": .05, "B8A": .10, "B07": .06, "B09": .05, "B11": .10}, 3),  # else shadow
    ({"B03": .06, "B8A": .10, "B07": .02, "B09": .01, "B11": .005}, 2),  # S(3,7) >= .027: water
    ({"B03": .06, "B8A": .10, "B07": .02, "B09": .05, "B11": .01}, 3),  # S(9,11) >= .021: shadow
    # dark, B8A >= 0.166
    ({"B03": .10, "B8A": .30, "B02": .08, "B10": .02, "B09": .05}, 4),  # R(2,9) >= .788: cirrus
    ({"B03": .10, "B8A": .30, "B02": .04, "B10": .02, "B09": .10}, 1),  # R(2,9) < .788: clear
    ({"B03": .10, "B8A": .30, "B02": .08, "B10": .002, "B09": .05}, 1),  # R(2,10) >= 14.7: clear
    ({"B03": .10, "B8A": .30, "B02": .08, "B10": 0.0, "B09": .05}, 1),  # B10 = 0: R = inf
    # bright: B3 >= 0.319, R(B5,B11) < 4.33
    ({"B03": .5, "B05": .5, "B11": .4, "B10": .2, "B06": .45, "B07": .5}, 5),  # cloud
    ({"B03": .5, "B05": .5, "B11": .4, "B10": .2, "B06": .5, "B07": .5}, 4),  # cirrus
    ({"B03": .5, "B05": .5, "B11": .4, "B10": .002, "B01": .5}, 5),  # S(11,10) >= .255, B1: cloud
    ({"B03": .5, "B05": .5, "B11": .4, "B10": .002, "B01": .2}, 1),  # B1 < 0.3: clear
    # bright, R(B5,B11) >= 4.33
    ({"B03": .8, "B05": .75, "B11": .05}, 6),  # B3 >= 0.525: snow
    ({"B03": .4, "B05": .4, "B11": .05, "B01": .6}, 3),  # R(1,5) >= 1.184: shadow
    ({"B03": .4, "B05": .4, "B11": .05, "B01": .4}, 1),  # R(1,5) < 1.184: clear
]


def leaf_scene(valid=None):
    refl = np.full((13, 1, len(LEAVES)), 0.1, np.float32)
    for j, (bands, _) in enumerate(LEAVES):
        for band, value in bands.items():
            refl[S2_BANDS.index(band), 0, j] = value
    return make_scene(refl, valid=valid)


def test_tree_reaches_every_leaf():
    classes = tree_classes(leaf_scene())
    assert classes.dtype == np.uint8
    np.testing.assert_array_equal(classes[0], [leaf for _, leaf in LEAVES])


def test_tree_peer_recodes_cirrus_to_cloud_and_keeps_the_contract():
    valid = np.ones((1, len(LEAVES)), bool)
    valid[0, 0] = False
    scene = leaf_scene(valid)
    out = HollsteinTree().predict(scene)
    assert out.dtype == np.uint8 and out.shape == scene.shape
    expected = recode(np.array([[leaf for _, leaf in LEAVES]], np.uint8), HOLLSTEIN)
    expected[~valid] = 0
    np.testing.assert_array_equal(out, expected)
    assert set(np.unique(out[valid])) <= HollsteinTree.claims
    assert {int(out[0, 4]), int(out[0, 8]), int(out[0, 9])} == {2}  # cirrus and cloud -> 2


def test_tree_needs_its_bands():
    scene = make_scene(np.full((12, 2, 2), 0.1, np.float32),
                       bands=tuple(b for b in S2_BANDS if b != "B10"))
    assert "B10" in HollsteinTree().unavailable(scene)
    with pytest.raises(PeerUnavailable, match="B10"):
        HollsteinTree().predict(scene)


# --------------------------------------------------------------------------- Bayes: tiny file


def tiny_model(path, hist):
    """A classifier file in the Hollstein file's format: 5 features, 3 edges (3 bins) each."""
    import h5py

    with h5py.File(path, "w") as f:
        f["band_names"] = json.dumps(list(S2_BANDS))
        f["classifiers_fk"] = json.dumps(["channel", "difference", "index", "channel", "index"])
        f["classifiers_id"] = json.dumps([[2], [9, 0], [10, 1], [12], [1, 8]])
        f["classes"] = np.array([10, 20, 30, 40, 50, 60], np.int8)
        for i in range(5):
            f[f"bb_full_{i}"] = np.array([0.0, 0.5, 1.0]) if i in (0, 3) else \
                np.array([-1.0, 0.0, 1.0])
        for code in (10, 20, 30, 40, 50, 60):
            f[f"hh_{code}_value"] = hist.get(code, np.zeros((3,) * 5))
    return path


def test_bayes_lookup_digitizes_and_takes_the_argmax(tmp_path):
    # pixel 0: B03 0.2 -> bin 0; B09-B01 = -0.1 -> bin 0; (B10-B02)/(B10+B02) < 0 -> 0; B12 0.7
    # -> bin 1; (B02-B8A)/(B02+B8A) > 0 -> bin 1. Pixel 1: B03 0.7 -> bin 1, B12 >= 1 -> bin 2.
    refl = np.full((13, 1, 3), 0.1, np.float32)
    b = {n: S2_BANDS.index(n) for n in S2_BANDS}
    refl[b["B03"]] = [[0.2, 0.7, 0.2]]
    refl[b["B01"]], refl[b["B09"]] = 0.2, 0.1
    refl[b["B02"]], refl[b["B10"]], refl[b["B8A"]] = 0.3, 0.01, 0.1
    refl[b["B12"]] = [[0.7, 1.2, 0.2]]
    hist = {c: np.zeros((3,) * 5) for c in (10, 20, 30, 40, 50, 60)}
    hist[20][0, 0, 0, 1, 1] = 0.3
    hist[50][0, 0, 0, 1, 1] = 0.5  # pixel 0: cloud (50) beats water (20)
    hist[40][1, 0, 0, 2, 1] = 0.2
    hist[60][1, 0, 0, 2, 1] = 0.2  # pixel 1: a tie -> the lower code, cirrus (40)
    # pixel 2 (B12 0.2 -> bin 0): every histogram is 0 there -> no answer
    model = load_bayes_model(tiny_model(tmp_path / "m.h5", hist))
    assert model.bands == ("B03", "B09", "B01", "B10", "B02", "B12", "B8A")
    np.testing.assert_array_equal(bayes_classes(make_scene(refl), model), [[50, 40, 0]])
    out = HollsteinBayes(model=tmp_path / "m.h5").predict(make_scene(refl))
    np.testing.assert_array_equal(out, recode(np.array([[50, 40, 0]]), SICOR_HOLLSTEIN))
    np.testing.assert_array_equal(out, [[2, 2, 0]])


def test_bayes_refuses_a_foreign_file(tmp_path):
    import h5py

    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["something"] = 1
    with pytest.raises(DataFileError, match="band_names"):
        load_bayes_model(tmp_path / "x.h5")
    reason = HollsteinBayes(model=tmp_path / "x.h5").unavailable()
    assert "band_names" in reason
    assert "does not exist" in HollsteinBayes(model=tmp_path / "none.h5").unavailable()


def test_bayes_needs_b10():
    scene = make_scene(np.full((12, 2, 2), 0.1, np.float32),
                       bands=tuple(b for b in S2_BANDS if b != "B10"))
    assert "B10" in HollsteinBayes().unavailable(scene)


# --------------------------------------------------------------------------- real data


def fractions(classes: np.ndarray) -> list[float]:
    return [float((classes == c).mean()) for c in range(6)]


def test_tree_on_betsiboka(betsiboka):
    scene, truth = betsiboka
    out = HollsteinTree().predict(scene)
    assert out.dtype == np.uint8 and out.shape == (856, 512)
    assert (out[~scene.valid] == 0).all()
    # measured 2026-12-01: fractions of project codes 0..5 over the 856 x 512 chip
    assert fractions(out) == pytest.approx(
        [0.000014, 0.442775, 0.311882, 0.065642, 0.000005, 0.179683], abs=1e-5)
    # the tree's own leaves: 78750 cloud and 81317 cirrus pixels, 2 snow
    raw = tree_classes(scene)
    assert np.bincount(raw.ravel(), minlength=7).tolist() == \
        [6, 194056, 78750, 28769, 81317, 55372, 2]
    assert cloud_iou(out, truth, scene.valid) == pytest.approx(0.603516, abs=1e-4)


def test_bayes_on_betsiboka(betsiboka):
    from conftest import fetch_real

    fetch_real(BAYES_MODEL)  # skip (fail in CI) without the data
    scene, truth = betsiboka
    peer = HollsteinBayes()
    assert peer.unavailable(scene) is None
    out = peer.predict(scene)
    assert out.dtype == np.uint8 and out.shape == (856, 512)
    # measured 2026-12-01; code 0 also holds the 2483 valid pixels in empty bins
    assert fractions(out) == pytest.approx(
        [0.005679, 0.341607, 0.505932, 0.074226, 0.000365, 0.072190], abs=1e-5)
    assert int((out[scene.valid] == 0).sum()) == 2489 - 6
    assert cloud_iou(out, truth, scene.valid) == pytest.approx(0.750269, abs=1e-4)


def test_row_strips_do_not_show(betsiboka, monkeypatch):
    from conftest import fetch_real
    from dfmask_lib.peers import hollstein

    fetch_real(BAYES_MODEL)
    scene, _ = betsiboka
    whole_tree = tree_classes(scene)
    whole_bayes = HollsteinBayes().predict(scene)
    monkeypatch.setattr(hollstein, "STRIP_ROWS", 97)
    np.testing.assert_array_equal(tree_classes(scene), whole_tree)
    np.testing.assert_array_equal(HollsteinBayes().predict(scene), whole_bayes)
