"""Band folders without metadata (real 18SVG bands, 2016: no offset) and GeoTIFF stacks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from dfmask_lib.errors import BandError, ConfigError, MissingDataError, ProductError
from dfmask_lib.reader import read_band_folder, read_geotiff_stack, read_product
from dfmask_lib.scene import S2_BANDS

from .conftest import write_tif


@pytest.fixture(scope="module")
def scene_18svg(folder_18svg):
    return read_product(folder_18svg, progress=False)


def _raw(folder, band):
    with rasterio.open(folder / f"s2_{band}.jp2") as ds:
        assert ds.driver == "GTiff"  # the .jp2 files are GeoTIFFs: read by content
        return ds.read(1).astype(np.float64)


def test_18svg_grid_and_metadata(scene_18svg):
    # bands' common footprint snapped onto the tile's 20 m grid
    assert scene_18svg.shape == (971, 965)
    assert (scene_18svg.transform.c, scene_18svg.transform.f) == (435740.0, 4179460.0)
    assert scene_18svg.crs.to_epsg() == 32618 and scene_18svg.band_names == S2_BANDS
    m = scene_18svg.metadata
    assert (m.product_type, m.processing_baseline) == ("band folder", "")
    assert m.quantification_value == 10000
    assert set(m.radio_add_offset.values()) == {0.0}
    assert math.isnan(scene_18svg.sun_zenith) and scene_18svg.view_zenith is None


def test_18svg_10m_band_is_area_mean_without_offset(scene_18svg, folder_18svg):
    # B02 starts at x = 435730: one 10 m column before the 20 m grid's first pixel
    dn = _raw(folder_18svg, "B02")
    r, c = 100, 200
    expected = dn[2 * r:2 * r + 2, 1 + 2 * c:3 + 2 * c].mean() / 10000
    assert scene_18svg.band("B02")[r, c] == pytest.approx(expected, abs=1e-7)


def test_18svg_20m_band_is_copied(scene_18svg, folder_18svg):
    dn = _raw(folder_18svg, "B11")  # origin 435720: one 20 m column before the grid
    assert scene_18svg.band("B11")[50, 60] == pytest.approx(dn[50, 61] / 10000, abs=1e-7)


def test_18svg_60m_band_is_bilinear(scene_18svg, folder_18svg):
    # B01 origin (435720, 4179480): 20 m pixel (i, j) centre sits at 60 m position (i/3, j/3)
    dn = _raw(folder_18svg, "B01")
    assert scene_18svg.band("B01")[30, 60] == pytest.approx(dn[10, 20] / 10000, abs=1e-7)
    r, c = 31 / 3, 62 / 3
    r0, c0, fr, fc = 10, 20, r - 10, c - 20
    expected = ((1 - fr) * (1 - fc) * dn[r0, c0] + (1 - fr) * fc * dn[r0, c0 + 1]
                + fr * (1 - fc) * dn[r0 + 1, c0] + fr * fc * dn[r0 + 1, c0 + 1]) / 10000
    assert scene_18svg.band("B01")[31, 62] == pytest.approx(expected, abs=1e-6)


def test_18svg_window_equals_slice(scene_18svg, folder_18svg):
    part = read_band_folder(folder_18svg, window=Window(301, 400, 37, 29), progress=False)
    np.testing.assert_array_equal(part.reflectance, scene_18svg.reflectance[:, 400:429, 301:338])
    np.testing.assert_array_equal(part.valid, scene_18svg.valid[400:429, 301:338])


def test_band_folder_errors(tmp_path):
    with pytest.raises(MissingDataError, match="not a folder"):
        read_band_folder(tmp_path / "none")
    with pytest.raises(ProductError, match="no band files"):
        read_band_folder(tmp_path)
    write_tif(tmp_path / "s2_B02.tif", np.ones((4, 4), np.uint16))
    with pytest.raises(MissingDataError, match="B03"):
        read_band_folder(tmp_path, bands=("B02", "B03"))
    with pytest.raises(ConfigError, match="positive number"):  # was silent inf reflectance
        read_band_folder(tmp_path, bands=("B02",), quantification=0.0)


def test_geotiff_stack_int16_declared_nodata_minus_one(tmp_path):
    # the file's nodata -1 was compared after the uint16 cast (65535): read as a valid,
    # saturated reflectance of 6.55
    path = write_tif(tmp_path / "i16.tif", np.array([[[1500, -1]]], np.int16), nodata=-1)
    scene = read_geotiff_stack(path, ("B03",))
    np.testing.assert_array_equal(scene.valid, [[True, False]])
    np.testing.assert_allclose(scene.band("B03"), [[0.15, 0.0]], atol=1e-7)
    assert not scene.saturated.any()


@pytest.mark.parametrize("scale", [0.0, -10000.0, float("nan")])
def test_geotiff_stack_refuses_impossible_scale(tmp_path, scale):
    path = write_tif(tmp_path / "stack.tif", np.full((1, 2, 2), 1500, np.uint16))
    with pytest.raises(ConfigError, match="positive number"):
        read_geotiff_stack(path, ("B03",), scale=scale)


def test_geotiff_stack_declared_radiometry_and_nodata(tmp_path):
    dn = np.array([[[1500, 2000], [0, 4000]],
                   [[500, 65535], [700, 800]]], dtype=np.uint16)
    path = write_tif(tmp_path / "stack.tif", dn, res=10.0, nodata=65535)
    scene = read_geotiff_stack(path, ("B03", "B11"), scale=10000.0, offset=-1000.0)
    # DN 0 (B03) and the declared nodata 65535 (B11) make a pixel invalid in every band
    np.testing.assert_array_equal(scene.valid, [[True, False], [False, True]])
    np.testing.assert_allclose(scene.band("B03"), [[0.05, 0.0], [0.0, 0.3]], atol=1e-7)
    np.testing.assert_allclose(scene.band("B11"), [[-0.05, 0.0], [0.0, -0.02]], atol=1e-7)
    assert scene.metadata.product_type == "GeoTIFF"
    # to 20 m: the 2 x 2 block has a no-data pixel
    coarse = read_geotiff_stack(path, ("B03", "B11"), resolution=20.0, bands=("B11",))
    assert coarse.shape == (1, 1) and not coarse.valid[0, 0] and coarse.band_names == ("B11",)
    with pytest.raises(BandError, match="has 2 bands but 3 band names"):
        read_geotiff_stack(path, ("B02", "B03", "B04"))
    with pytest.raises(BandError, match="pass band_names"):
        read_product(path)
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(ProductError, match="not a readable raster"):
        read_geotiff_stack(bad, ("B02",))


def test_sen2r_toa_stack_to_20m():
    """A real sen2r TOA crop (2017, no offset; 10 m, 12 bands in sen2r's documented order)."""
    from dfmask_lib.reader.geotiff import SEN2R_TOA_BANDS_FINE

    from .conftest import fetch_or_skip

    path = fetch_or_skip("sen2r_barbellino/S2A1C_20170703_022_Barbellino_TOA_10.tif")
    scene = read_geotiff_stack(path, SEN2R_TOA_BANDS_FINE, resolution=20.0,
                               bands=("B03", "B11"))
    assert scene.shape == (21, 12) and scene.transform.a == 20.0
    with rasterio.open(path) as ds:
        dn = ds.read(SEN2R_TOA_BANDS_FINE.index("B11") + 1).astype(np.float64)
    assert scene.band("B11")[10, 5] == pytest.approx(dn[20:22, 10:12].mean() / 10000, abs=1e-7)
    assert scene.valid.all()


def test_band_subset_and_strips_keep_the_grid_and_values(scene_18svg, folder_18svg,
                                                         monkeypatch):
    """A band subset lands on the full read's grid (the footprint of all band files), and
    the row strips that bound memory on full tiles do not show in the values."""
    from dfmask_lib.reader import resample

    one = read_band_folder(folder_18svg, bands=("B02", "B11"), progress=False)
    assert one.transform == scene_18svg.transform and one.shape == scene_18svg.shape
    both = one.valid & scene_18svg.valid
    np.testing.assert_array_equal(one.reflectance[:, both],
                                  scene_18svg.bands(["B02", "B11"])[:, both])
    monkeypatch.setattr(resample, "_STRIP_ROWS", 97)
    again = read_band_folder(folder_18svg, bands=("B02", "B11"), progress=False)
    np.testing.assert_array_equal(again.reflectance, one.reflectance)
