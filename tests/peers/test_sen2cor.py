"""Sen2Cor SCL as a peer: recoding, finding the SCL, the scene's grid (real sen2r SCL)."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.classes import SEN2COR_SCL, recode
from dfmask_lib.errors import LabelError
from dfmask_lib.peers import PeerUnavailable
from dfmask_lib.peers._classmap import on_scene_grid
from dfmask_lib.peers.sen2cor import Sen2Cor, find_scl

from .conftest import ORIGIN, make_scene, paint, write_tif

SCL_2017 = "sen2r_barbellino/S2A2A_20170703_022_Barbellino_SCL_10.tif"
SCL_2019 = "sen2r_barbellino/S2A2A_20190723_022_Barbellino_SCL_10.tif"
TOA_2017 = "sen2r_barbellino/S2A1C_20170703_022_Barbellino_TOA_10.tif"
L1C = "S2A_MSIL1C_20170703T101021_N0205_R022_T32TNR_20170703T101041.SAFE"
L2A = "S2A_MSIL2A_20170703T101021_N0205_R022_T32TNR_20170703T120000.SAFE"

ALL_SCL = np.arange(12, dtype=np.uint8).reshape(3, 4)  # every SCL code once


def test_every_scl_code_is_recoded_on_the_same_grid(tmp_path):
    path = write_tif(tmp_path / "T_SCL_20m.tif", ALL_SCL)
    valid = np.ones((3, 4), bool)
    valid[2, 3] = False
    scene = make_scene(paint((3, 4)), valid=valid)
    out = Sen2Cor(path=path).predict(scene)
    assert out.dtype == np.uint8 and out.shape == (3, 4)
    expected = recode(ALL_SCL, SEN2COR_SCL)
    expected[2, 3] = 0
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out.ravel()[:11], [0, 0, 1, 3, 1, 1, 5, 1, 2, 2, 2])
    assert set(np.unique(out)) - {0} <= Sen2Cor.claims


def test_a_finer_scl_goes_by_majority_a_coarser_by_nearest(tmp_path):
    # 10 m SCL under a 2 x 1 px 20 m scene: block 1 three water one cloud -> water;
    # block 2 two cloud (9) two shadow (3) -> a tie, cloud wins (Fmask precedence)
    fine = np.array([[6, 6, 9, 3], [6, 9, 3, 9]], np.uint8)
    path = write_tif(tmp_path / "fine.tif", fine, res=10.0)
    scene = make_scene(paint((1, 2)))
    np.testing.assert_array_equal(Sen2Cor(path=path).predict(scene), [[5, 2]])
    # a 60 m SCL under a 20 m scene: each scene pixel takes the 60 m pixel holding its centre
    coarse = np.array([[11, 6], [3, 4]], np.uint8)
    path = write_tif(tmp_path / "coarse.tif", coarse, res=60.0)
    out = Sen2Cor(path=path).predict(make_scene(paint((6, 6))))
    np.testing.assert_array_equal(out, np.kron([[4, 5], [3, 1]], np.ones((3, 3), np.uint8)))


def test_grids_that_cannot_be_mapped_are_refused(tmp_path):
    scene = make_scene(paint((3, 4)))
    shifted = write_tif(tmp_path / "s.tif", ALL_SCL, origin=(ORIGIN[0] + 20, ORIGIN[1]))
    with pytest.raises(LabelError, match="not on the grid"):
        Sen2Cor(path=shifted).predict(scene)
    other = write_tif(tmp_path / "o.tif", ALL_SCL, crs="EPSG:32632")
    with pytest.raises(LabelError, match="reproject"):
        Sen2Cor(path=other).predict(scene)
    half = write_tif(tmp_path / "h.tif", np.zeros((8, 10), np.uint8), res=10.0,
                     origin=(ORIGIN[0] + 5, ORIGIN[1]))
    with pytest.raises(LabelError, match="not aligned"):
        Sen2Cor(path=half).predict(scene)
    small = write_tif(tmp_path / "t.tif", np.zeros((2, 2), np.uint8))
    with pytest.raises(LabelError, match="does not cover"):
        Sen2Cor(path=small).predict(scene)
    with pytest.raises(LabelError, match="codes 12"):
        Sen2Cor(path=write_tif(tmp_path / "b.tif", np.full((3, 4), 12, np.uint8))).predict(scene)


def test_unavailable_reasons(tmp_path):
    scene = make_scene(paint((3, 4)))
    assert "Level-2A" in Sen2Cor().unavailable(scene)
    with pytest.raises(PeerUnavailable, match="Level-2A"):
        Sen2Cor().predict(scene)
    assert "does not exist" in Sen2Cor(path=tmp_path / "none.jp2").unavailable(scene)
    l1c = tmp_path / L1C
    l1c.mkdir()
    (l1c / "MTD_MSIL1C.xml").write_text("<x/>")
    reason = Sen2Cor().unavailable(scene, l1c)
    assert "Level-1C" in reason and "Sen2Cor(path=" in reason


def test_the_scl_is_found_in_an_l2a_or_beside_an_l1c(tmp_path):
    l1c = tmp_path / L1C
    l1c.mkdir()
    r20 = tmp_path / L2A / "GRANULE" / "L2A_T32TNR_A010000_20170703T101041" / "IMG_DATA" / "R20m"
    r20.mkdir(parents=True)
    scl = write_tif(r20 / "T32TNR_20170703T101021_SCL_20m.jp2", ALL_SCL)  # GeoTIFF bytes: fine
    assert find_scl(tmp_path / L2A) == scl
    assert find_scl(l1c) == scl
    assert Sen2Cor().unavailable(None, l1c) is None
    out = Sen2Cor().predict(make_scene(paint((3, 4))), l1c)
    np.testing.assert_array_equal(out, recode(ALL_SCL, SEN2COR_SCL))
    write_tif(r20 / "T32TNR_20170703T101021_B_SCL_20m.jp2", ALL_SCL)
    assert "2 SCL files" in Sen2Cor().unavailable(None, tmp_path / L2A)


def test_on_scene_grid_keeps_a_window_of_a_larger_map():
    profile = {"transform": make_scene(paint((1, 1))).transform, "height": 3, "width": 4,
               "crs": make_scene(paint((1, 1))).crs}
    window = make_scene(paint((2, 2)), origin=(ORIGIN[0] + 20, ORIGIN[1] - 20))
    codes = recode(ALL_SCL, SEN2COR_SCL)
    np.testing.assert_array_equal(on_scene_grid(codes, profile, window, "scl"), codes[1:3, 1:3])


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def barbellino():
    """The sen2r Barbellino TOA crop (2017) read on its 20 m grid (21 x 12 px)."""
    from conftest import fetch_real
    from dfmask_lib.reader.geotiff import SEN2R_TOA_BANDS_FINE, read_geotiff_stack

    return read_geotiff_stack(fetch_real(TOA_2017), SEN2R_TOA_BANDS_FINE, resolution=20.0)


def test_barbellino_scl_on_its_scene(barbellino):
    from conftest import fetch_real

    out = Sen2Cor(path=fetch_real(SCL_2017)).predict(barbellino)
    assert out.shape == (21, 12) and out.dtype == np.uint8
    # measured 2026-12-01 (SCL 2, 4, 5, 7 -> clear; 6 -> water; 8, 9 -> cloud)
    assert np.bincount(out.ravel(), minlength=6).tolist() == [0, 208, 33, 0, 0, 11]
    out19 = Sen2Cor(path=fetch_real(SCL_2019)).predict(barbellino)
    assert np.bincount(out19.ravel(), minlength=6).tolist() == [0, 187, 0, 0, 0, 65]


def test_barbellino_scl_on_10_and_60_m_grids():
    from conftest import fetch_real
    from dfmask_lib.reader.geotiff import SEN2R_TOA_BANDS_FINE, read_geotiff_stack

    toa, scl = fetch_real(TOA_2017), fetch_real(SCL_2017)
    at20 = Sen2Cor(path=scl).predict(
        read_geotiff_stack(toa, SEN2R_TOA_BANDS_FINE, resolution=20.0))
    at10 = Sen2Cor(path=scl).predict(
        read_geotiff_stack(toa, SEN2R_TOA_BANDS_FINE, resolution=10.0))
    assert at10.shape == (42, 24)
    np.testing.assert_array_equal(at10, np.kron(at20, np.ones((2, 2), np.uint8)))
    at60 = Sen2Cor(path=scl).predict(
        read_geotiff_stack(toa, SEN2R_TOA_BANDS_FINE, resolution=60.0))
    # measured: the 3 x 3 majority of the 20 m map (7 x 4 px), cloud in three corners' blocks
    assert at60.shape == (7, 4)
    assert np.argwhere(at60 == 2).tolist() == [[0, 2], [0, 3], [5, 3]]
    assert (at60[at60 != 2] == 1).all()
