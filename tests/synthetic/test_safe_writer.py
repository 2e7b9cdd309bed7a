"""A synthetic scene written as an L1C SAFE product reads back through the project's reader."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio

from dfmask_lib.errors import ConfigError
from dfmask_lib.reader import read_labels, read_product
from dfmask_lib.synthetic.safe_writer import ProductInfo, band_arrays, product_name, to_dn, write_safe
from dfmask_lib.synthetic.scene import SynthConfig, generate

INFO = ProductInfo("21EVK", 32721, 399960.0, 3000000.0, "2020-01-12T13:05:21", 38, 15000,
                   "test location")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    scene = generate(SynthConfig(size=96, seed=3, wedge_fraction=0.15))
    path = write_safe(scene, INFO, tmp_path_factory.mktemp("safe"))
    return scene, path


def test_layout_and_names(written):
    _, path = written
    assert path.name == "S2B_MSIL1C_20200112T130521_N0400_R038_T21EVK_20200112T152221.SAFE"
    assert path.name == product_name(INFO)
    img = path / "GRANULE" / "L1C_T21EVK_A015000_20200112T130521" / "IMG_DATA"
    names = sorted(p.name for p in img.iterdir())
    assert len(names) == 14 and "T21EVK_20200112T130521_B8A.jp2" in names
    assert "T21EVK_20200112T130521_LABELS.tif" in names
    with rasterio.open(img / "T21EVK_20200112T130521_B02.jp2") as src:
        assert src.driver == "JP2OpenJPEG" and src.dtypes == ("uint16",)
        assert (src.width, src.res) == (192, (10.0, 10.0))
    with rasterio.open(img / "T21EVK_20200112T130521_B10.jp2") as src:
        assert (src.width, src.res) == (32, (60.0, 60.0))
    root = ET.parse(path / "MTD_MSIL1C.xml").getroot()
    text = {e.tag: e.text for e in root.iter()}
    assert text["PRODUCT_TYPE"] == "S2MSI1C" and text["PROCESSING_BASELINE"] == "04.00"
    assert text["QUANTIFICATION_VALUE"] == "10000"
    offsets = [e for e in root.iter("RADIO_ADD_OFFSET")]
    assert [e.get("band_id") for e in offsets] == [str(i) for i in range(13)]
    assert {e.text for e in offsets} == {"-1000"}
    tile = ET.parse(next(path.glob("GRANULE/*/MTD_TL.xml"))).getroot()
    grids = list(tile.iter("Viewing_Incidence_Angles_Grids"))
    assert len(grids) == 13
    assert len(grids[0].find("Zenith/Values_List")) == 2  # ceil(1920 m / 5000 m) + 1 nodes


def test_reader_gets_back_what_was_generated(written):
    scene, path = written
    got = read_product(path, progress=False)
    assert got.band_names[8] == "B8A" and got.shape == (96, 96)
    assert got.crs.to_epsg() == 32721
    assert tuple(got.transform)[:6] == (20.0, 0.0, 399960.0, 0.0, -20.0, 3000000.0)
    assert got.sun_zenith == pytest.approx(60.0) and got.sun_azimuth == pytest.approx(160.0)
    np.testing.assert_array_equal(got.valid, scene.truth != 0)
    np.testing.assert_array_equal(got.saturated, scene.saturated)
    ok = got.valid & ~scene.saturated
    for i, band in enumerate(got.band_names):
        if band in ("B01", "B09", "B10"):
            continue  # 60 m: area mean then bilinear; checked on the native grid below
        err = np.abs(got.reflectance[i] - scene.reflectance[i])[ok].max()
        assert err <= 0.5e-4 + 1e-6, band  # half a DN
    np.testing.assert_allclose(got.view_zenith, scene.view_zenith, atol=1e-3)
    labels, _ = read_labels(next(path.glob("GRANULE/*/IMG_DATA/*_LABELS.tif")))
    np.testing.assert_array_equal(labels, scene.truth)


def test_60m_bands_are_3x3_area_means(written):
    scene, path = written
    with rasterio.open(next(path.glob("GRANULE/*/IMG_DATA/*_B10.jp2"))) as src:
        dn = src.read(1)
    b10 = scene.reflectance[10].reshape(32, 3, 32, 3).mean(axis=(1, 3))
    inside = scene.valid.reshape(32, 3, 32, 3).all(axis=(1, 3))
    np.testing.assert_array_equal(dn[inside], np.rint(b10[inside] * 10000).astype(int) + 1000)


def test_dn_formula_and_no_data():
    refl = np.array([[0.0, 0.12341, 1.5]], np.float32)
    valid = np.array([[True, True, False]])
    assert to_dn(refl, valid).tolist() == [[1000, 2234, 0]]
    assert to_dn(refl, valid).dtype == np.uint16


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    def digest(seed: int, where: str) -> str:
        path = write_safe(generate(SynthConfig(size=48, seed=seed)), INFO, tmp_path / where)
        h = hashlib.sha256()
        for f in sorted(path.glob("GRANULE/*/IMG_DATA/*.jp2")):
            h.update(f.read_bytes())
        return h.hexdigest()

    assert digest(1, "a") == digest(1, "b")
    assert digest(1, "c") != digest(2, "d")


def test_existing_product_needs_overwrite(written, tmp_path):
    scene = generate(SynthConfig(size=48))
    write_safe(scene, INFO, tmp_path)
    with pytest.raises(ConfigError, match="overwrite"):
        write_safe(scene, INFO, tmp_path)
    assert write_safe(scene, INFO, tmp_path, overwrite=True).exists()


def test_band_arrays_saturate_visible_bands_only():
    scene = generate(SynthConfig(size=48, seed=2, saturation_reflectance=0.5))
    assert scene.saturated.any()
    dn = band_arrays(scene)
    assert (dn["B03"][::2, ::2][scene.saturated] == 65535).all()
    assert not (dn["B8A"] == 65535).any()


@pytest.mark.parametrize("bad", [dict(tile_id="EVK"), dict(relative_orbit=0), dict(ulx=399961.0),
                                 dict(sensing_time="12 Jan 2020")])
def test_bad_product_info_is_refused(bad):
    fields = dict(INFO.__dict__) | bad
    with pytest.raises(ConfigError):
        ProductInfo(**fields)
