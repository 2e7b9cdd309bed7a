"""Label files and Sen2Cor SCL through the explicit mapping tables (real sen2r and eo-learn SCL)."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.classes import SEN2COR_SCL
from dfmask_lib.errors import LabelError, MissingDataError
from dfmask_lib.reader import decode_scl, find_label_file, read_labels, read_scl

from .conftest import fetch_or_skip, write_tif

SCL_2017 = "sen2r_barbellino/S2A2A_20170703_022_Barbellino_SCL_10.tif"
SCL_EOLEARN = "eolearn_slovenia/mask/SCL_from_commit_0fcaca8.npy"


def test_sen2r_scl_decoding():
    import rasterio

    path = fetch_or_skip(SCL_2017)
    with rasterio.open(path) as ds:
        codes = ds.read(1)
    assert sorted(np.unique(codes).tolist()) == [2, 4, 5, 6, 7, 8, 9]
    classes, profile = read_scl(path)
    assert classes.shape == (21, 12) and classes.dtype == np.uint8
    assert profile["transform"].a == 20.0
    expected = np.vectorize({2: 1, 4: 1, 5: 1, 6: 5, 7: 1, 8: 2, 9: 2}.get)(codes)
    np.testing.assert_array_equal(classes, expected)
    assert int((classes == 2).sum()) == int(np.isin(codes, (8, 9)).sum()) > 0
    with pytest.raises(LabelError, match="use the 10 m SCL"):
        read_scl(path, resolution=10)


def test_eolearn_scl_numpy_decoding():
    scl = np.load(fetch_or_skip(SCL_EOLEARN))
    assert scl.shape == (36, 101, 100, 1) and scl.dtype == np.float32
    classes = decode_scl(scl)
    assert classes.shape == (36, 101, 100) and classes.dtype == np.uint8
    raw = scl[..., 0].astype(int)
    for code, cls in SEN2COR_SCL.mapping.items():
        assert (classes[raw == code] == cls).all()
    assert int((classes == 4).sum()) == int((raw == 11).sum()) > 0


def test_decode_scl_refuses_non_codes():
    with pytest.raises(LabelError, match="non-integer"):
        decode_scl(np.array([1.5], np.float32))
    with pytest.raises(LabelError, match="12"):
        decode_scl(np.array([[3, 12]], np.uint8))


def test_fmask_and_labels_files(tmp_path):
    fmask = write_tif(tmp_path / "T31TCJ_FMASK.tif",
                      np.array([[0, 1, 2], [3, 4, 255]], np.uint8))
    classes, profile = read_labels(fmask)
    np.testing.assert_array_equal(classes, [[1, 5, 3], [4, 2, 0]])
    assert profile["count"] == 1
    labels = write_tif(tmp_path / "T31TCJ_LABELS.tif", np.array([[0, 5], [2, 3]], np.uint8))
    np.testing.assert_array_equal(read_labels(labels)[0], [[0, 5], [2, 3]])
    generic = write_tif(tmp_path / "mask.tif", np.array([[0, 4]], np.uint8))
    with pytest.raises(LabelError, match="pass table="):
        read_labels(generic)
    np.testing.assert_array_equal(read_labels(generic, "ukis-csmask")[0], [[3, 2]])


def test_label_codes_outside_table(tmp_path):
    bad = write_tif(tmp_path / "X_FMASK.tif", np.array([[0, 7]], np.uint8))
    with pytest.raises(LabelError, match="X_FMASK.tif: codes 7 are not in the 'fmask'"):
        read_labels(bad)
    with pytest.raises(MissingDataError):
        read_labels(tmp_path / "none_FMASK.tif")
    two = write_tif(tmp_path / "two_LABELS.tif", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(LabelError, match="2 bands"):
        read_labels(two)


def test_find_label_file(tmp_path):
    img = tmp_path / "P.SAFE" / "GRANULE" / "L1C_X" / "IMG_DATA"
    img.mkdir(parents=True)
    assert find_label_file(tmp_path / "P.SAFE") is None
    write_tif(img / "T31TCJ_20240120_FMASK.tif", np.zeros((2, 2), np.uint8))
    assert find_label_file(tmp_path / "P.SAFE").name == "T31TCJ_20240120_FMASK.tif"
    assert find_label_file(tmp_path / "P.SAFE", kind="LABELS") is None
    with pytest.raises(LabelError, match="kind"):
        find_label_file(tmp_path, kind="SCL")


def test_windowed_label_read_is_a_slice_and_refuses_windows_outside(tmp_path):
    from rasterio.windows import Window

    codes = np.arange(16, dtype=np.uint8).reshape(4, 4) % 6
    path = write_tif(tmp_path / "T_LABELS.tif", codes, origin=(0.0, 80.0))
    part, profile = read_labels(path, window=Window(1, 2, 3, 2))
    np.testing.assert_array_equal(part, codes[2:4, 1:4])
    assert (profile["transform"].c, profile["transform"].f) == (20.0, 40.0)
    assert (profile["height"], profile["width"]) == (2, 3)
    # rasterio silently crops these: a smaller array, and for a negative offset a
    # transform 40 m off the pixels returned
    for window in (Window(2, 2, 4, 4), Window(-2, 0, 3, 3), Window(10, 10, 2, 2),
                   Window(0.5, 0, 2, 2)):
        with pytest.raises(LabelError, match="outside|whole-pixel"):
            read_labels(path, window=window)
