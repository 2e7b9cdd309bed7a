"""Fmask as a peer: the project's own Fmask 4 and official Fmask output files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from rasterio.crs import CRS

from dfmask_lib.classes import FMASK, recode
from dfmask_lib.errors import LabelError
from dfmask_lib.fmask import run_fmask
from dfmask_lib.peers import PeerUnavailable
from dfmask_lib.peers.fmask import FmaskFile, OwnFmask, find_fmask_file
from dfmask_lib.scene import S2_BANDS

from conftest import fetch_real  # tests/conftest.py: skip, or fail in CI

from .conftest import cloud_iou, make_scene, paint, write_tif

#            B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10    B11   B12
CLOUD = (0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.20, 0.002, 0.40, 0.30)
SNOW = (0.80, 0.80, 0.80, 0.78, 0.75, 0.72, 0.72, 0.72, 0.70, 0.30, 0.002, 0.05, 0.04)
WATER = (0.08, 0.07, 0.05, 0.03, 0.03, 0.02, 0.02, 0.02, 0.02, 0.01, 0.001, 0.01, 0.005)
ALL_FMASK = np.array([[0, 1, 2], [3, 4, 255]], np.uint8)  # land water shadow / snow cloud fill


@pytest.fixture
def blocks():
    """48 x 48 px of land with a cloud (textured in B08, so its CDI says "elevated"), a snow
    and a water block; the last row is no data."""
    refl = paint((48, 48))
    for spectrum, rows, cols in ((CLOUD, slice(4, 16), slice(4, 16)),
                                 (SNOW, slice(4, 16), slice(32, 44)),
                                 (WATER, slice(30, 44), slice(30, 44))):
        refl[:, rows, cols] = np.asarray(spectrum, np.float32)[:, None, None]
    rng = np.random.default_rng(0)
    refl *= (1 + 0.005 * rng.standard_normal(refl.shape[1:]))[None].astype(np.float32)
    b08 = S2_BANDS.index("B08")
    refl[b08, 4:16, 4:16] *= (1 + 0.05 * np.random.default_rng(1).standard_normal((12, 12))
                              ).astype(np.float32)
    valid = np.ones((48, 48), bool)
    valid[-1] = False
    return make_scene(refl, valid=valid)


def test_own_fmask_is_run_fmask_in_project_codes(blocks):
    out = OwnFmask().predict(blocks)
    assert out.dtype == np.uint8 and out.shape == (48, 48)
    expected = recode(run_fmask(blocks, progress=False).fmask, FMASK)
    expected[~blocks.valid] = 0
    np.testing.assert_array_equal(out, expected)
    assert (out[10, 10], out[10, 38], out[37, 37], out[30, 10], out[-1, 0]) == (2, 4, 5, 1, 0)
    # measured: the 12 x 12 cloud with its 3 px buffer is 18 x 18; no shadow (too few clear
    # pixels for shadow matching)
    assert np.bincount(out.ravel(), minlength=6).tolist() == [48, 1592, 324, 0, 144, 196]
    assert set(np.unique(out)) - {0} <= OwnFmask.claims


def test_own_fmask_unavailable_reasons(blocks):
    assert OwnFmask().unavailable(blocks) is None
    night = dataclasses.replace(blocks, sun_zenith=float("nan"))
    assert "sun angles" in OwnFmask().unavailable(night)
    with pytest.raises(PeerUnavailable, match="sun angles"):
        OwnFmask().predict(night)
    geographic = dataclasses.replace(blocks, crs=CRS.from_epsg(4326))
    assert "metres" in OwnFmask().unavailable(geographic)
    keep = [i for i, b in enumerate(S2_BANDS) if b != "B11"]
    no_swir = make_scene(blocks.reflectance[keep], bands=tuple(S2_BANDS[i] for i in keep))
    assert "B11" in OwnFmask().unavailable(no_swir)


def test_own_fmask_on_betsiboka(betsiboka):
    """A bare array (no CRS, no view angles) at 60 m: run_fmask's nadir fallback."""
    scene, truth = betsiboka
    out = OwnFmask().predict(scene)
    # measured 2026-12-01 (sun assumed at zenith 40, azimuth 120 degrees)
    assert np.bincount(out.ravel(), minlength=6).tolist() == \
        [6, 152308, 203140, 18172, 13410, 51236]
    assert cloud_iou(out, truth, scene.valid) == pytest.approx(0.881286, abs=1e-4)


# --------------------------------------------------------------------------- official files


def test_fmask_file_recodes_every_code(tmp_path):
    path = write_tif(tmp_path / "T32TNR_FMASK.tif", ALL_FMASK, nodata=255)
    out = FmaskFile(path=path).predict(make_scene(paint((2, 3))))
    np.testing.assert_array_equal(out, [[1, 5, 3], [4, 2, 0]])
    bad = write_tif(tmp_path / "bad_FMASK.tif", np.full((2, 3), 7, np.uint8))
    with pytest.raises(LabelError, match="codes 7"):
        FmaskFile(path=bad).predict(make_scene(paint((2, 3))))


def test_fmask_file_at_10_and_30_m(tmp_path):
    # 10 m: majority of each 2 x 2 block; a 2-2 tie of cloud and land goes to cloud
    fine = np.array([[1, 1, 4, 0], [1, 4, 0, 4]], np.uint8)
    out = FmaskFile(path=write_tif(tmp_path / "a_Fmask4.tif", fine, res=10.0)).predict(
        make_scene(paint((1, 2))))
    np.testing.assert_array_equal(out, [[5, 2]])
    # 30 m (CFmask): the 30 m pixel under each 20 m pixel centre (10, 30, 50 m -> 0, 1, 1)
    coarse = np.array([[0, 3], [2, 4]], np.uint8)
    out = FmaskFile(path=write_tif(tmp_path / "b_CFMASK.tif", coarse, res=30.0)).predict(
        make_scene(paint((3, 3))))
    np.testing.assert_array_equal(out, [[1, 4, 4], [3, 2, 2], [3, 2, 2]])


def test_fmask_file_is_found_beside_the_product(tmp_path):
    safe = tmp_path / "S2A_MSIL1C_X.SAFE"
    img = safe / "GRANULE" / "L1C_T32TNR" / "IMG_DATA"
    img.mkdir(parents=True)
    write_tif(img / "T32TNR_20170703T101021_B02.tif", ALL_FMASK)  # not an Fmask file
    write_tif(img / "T32TNR_DFMASK_CLASSES.tif", ALL_FMASK)  # dfmask's own prediction
    assert find_fmask_file(safe) is None
    assert "no Fmask output file" in FmaskFile().unavailable(None, safe)
    official = safe / "GRANULE" / "L1C_T32TNR" / "FMASK_DATA" / "L1C_T32TNR_Fmask4.tif"
    official.parent.mkdir()
    write_tif(official, ALL_FMASK)
    assert find_fmask_file(safe) == official
    out = FmaskFile().predict(make_scene(paint((2, 3))), safe)
    np.testing.assert_array_equal(out, [[1, 5, 3], [4, 2, 0]])
    ours = write_tif(img / "T32TNR_20170703T101021_FMASK.tif", ALL_FMASK)
    assert "2 Fmask files" in FmaskFile().unavailable(None, safe)
    from dfmask_lib.cache import Recipe, record

    record(ours, Recipe("fmask", (), {}))  # written by dfmask fmask: not an official output
    assert find_fmask_file(safe) == official
    # a GeoTIFF stack: <name>*FMASK*.tif beside it
    stack = write_tif(tmp_path / "crop.tif", ALL_FMASK)
    write_tif(tmp_path / "other_FMASK.tif", ALL_FMASK)
    assert find_fmask_file(stack) is None
    assert find_fmask_file(write_tif(tmp_path / "crop_FMASK.tif", ALL_FMASK).with_name(
        "crop.tif")) == tmp_path / "crop_FMASK.tif"


def test_fmask_file_unavailable_reasons(tmp_path):
    assert "give the product" in FmaskFile().unavailable()
    assert "does not exist" in FmaskFile(path=tmp_path / "none.tif").unavailable()
    with pytest.raises(PeerUnavailable, match="does not exist"):
        FmaskFile(path=tmp_path / "none.tif").predict(make_scene(paint((2, 3))))


def test_classical_peers_are_registered():
    from dfmask_lib.peers import PEERS
    from dfmask_lib.peers.hollstein import HollsteinBayes, HollsteinTree
    from dfmask_lib.peers.sen2cor import Sen2Cor

    for peer in (OwnFmask, FmaskFile, Sen2Cor, HollsteinTree, HollsteinBayes):
        assert PEERS[peer.name] is peer
        assert peer.label and peer.citation and peer.claims == {1, 2, 3, 4, 5}


def test_fmask_with_b08_for_b8a_on_the_real_ukis_chip():
    """The Fmask-style baseline of the 6-band chip (B08 standing in for B8A), pinned."""
    from dfmask_lib import realdata
    from dfmask_lib.metrics import confusion_matrix, scores
    from dfmask_lib.peers import OwnFmaskB08

    fetch_real(realdata.UKIS_CHIP)
    scene, truth = realdata.ukis_chip(10)
    assert "needs bands B8A" in OwnFmask().unavailable(scene)
    out = OwnFmaskB08().predict(scene)
    s = scores(confusion_matrix(truth, out))
    assert (round(s.oa, 4), round(s.iou[2], 4), round(s.iou[3], 4), round(s.iou[5], 4)) == \
        (0.6973, 0.4349, 0.1779, 0.0824)
