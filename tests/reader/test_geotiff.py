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


# --------------------------------------------------------------------------- float stacks


def test_float32_stack_is_reflectance_with_scale_1(tmp_path):
    refl = np.array([[[0.05, 0.3], [0.125, 1.2]],
                     [[0.5, 0.25], [0.0625, 0.75]]], np.float32)
    scene = read_geotiff_stack(write_tif(tmp_path / "f.tif", refl), ("B03", "B11"))
    np.testing.assert_array_equal(scene.reflectance, refl)
    assert scene.reflectance.dtype == np.float32 and scene.valid.all()
    assert not scene.saturated.any()
    m = scene.metadata
    assert m.quantification_value == 1.0 and set(m.radio_add_offset.values()) == {0.0}
    assert m.extra["dtype"] == "float32"
    # an integer stack keeps the DN rule: scale 10000 by default
    dn = write_tif(tmp_path / "u.tif", (refl * 10000).astype(np.uint16))
    np.testing.assert_allclose(read_geotiff_stack(dn, ("B03", "B11")).reflectance, refl, atol=1e-7)
    assert read_geotiff_stack(dn, ("B03", "B11")).metadata.quantification_value == 10000.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_stack_no_data_nan_zero_inf_and_declared(tmp_path, dtype, caplog):
    values = np.array([[[0.1, np.nan, 0.0, 0.2, 0.3]],
                       [[0.1, 0.2, 0.3, np.inf, -9999.0]]], dtype)
    path = write_tif(tmp_path / "f.tif", values, nodata=-9999.0)
    with caplog.at_level("WARNING", logger="dfmask_lib"):
        scene = read_geotiff_stack(path, ("B02", "B03"))
    np.testing.assert_array_equal(scene.valid, [[True, False, False, False, False]])
    np.testing.assert_allclose(scene.band("B02"), [[0.1, 0, 0, 0, 0]], atol=1e-7)
    assert np.isfinite(scene.reflectance).all()
    assert "1 pixels hold inf; treated as no data" in caplog.text


def test_float_stack_declared_scale_and_offset(tmp_path):
    # DN stored as floats (some exports): declare the scale, as for integer DN
    path = write_tif(tmp_path / "f.tif", np.array([[[1500.0, 3000.0]]], np.float32))
    scene = read_geotiff_stack(path, ("B03",), scale=10000.0, offset=-1000.0)
    np.testing.assert_allclose(scene.band("B03"), [[0.05, 0.2]], atol=1e-7)
    with pytest.raises(BandError, match=r"look like DN.*--scale 10000"):
        read_geotiff_stack(path, ("B03",))  # the default scale 1 would give reflectance 3000


def test_float_stack_on_the_20m_grid_area_mean_and_bilinear(tmp_path):
    fine = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4) / 100  # 10 m
    fine[0, 3, 3] = np.nan
    scene = read_geotiff_stack(write_tif(tmp_path / "f10.tif", fine, res=10.0), ("B03",),
                               resolution=20.0)
    assert scene.shape == (2, 2) and scene.transform.a == 20.0
    # 2 x 2 block means of 0.01 ... 0.16; the block with the NaN is no data (reflectance 0)
    np.testing.assert_allclose(scene.band("B03"), [[0.035, 0.055], [0.115, 0.0]], rtol=1e-6)
    np.testing.assert_array_equal(scene.valid, [[True, True], [True, False]])
    # 60 m -> 20 m: the integer path and the float path give the same bilinear values
    coarse = np.array([[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]], np.float32)
    f = read_geotiff_stack(write_tif(tmp_path / "f60.tif", coarse, res=60.0), ("B01",),
                           resolution=20.0)
    u = read_geotiff_stack(write_tif(tmp_path / "u60.tif", (coarse * 10000).astype(np.uint16),
                                     res=60.0), ("B01",), resolution=20.0)
    assert f.shape == u.shape == (9, 9)
    np.testing.assert_allclose(f.reflectance, u.reflectance, atol=1e-6)
    assert f.valid.all()


def test_float_window_equals_slice(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.uniform(0.01, 0.9, (2, 20, 18)).astype(np.float32)
    path = write_tif(tmp_path / "f.tif", values, res=10.0)
    full = read_geotiff_stack(path, ("B02", "B11"), resolution=20.0)
    part = read_geotiff_stack(path, ("B02", "B11"), resolution=20.0, window=Window(2, 3, 5, 4))
    np.testing.assert_array_equal(part.reflectance, full.reflectance[:, 3:7, 2:7])


def test_band_folder_of_float_files_and_mixed_types(tmp_path):
    write_tif(tmp_path / "s2_B02.tif", np.full((4, 4), 0.25, np.float32), res=10.0)
    write_tif(tmp_path / "s2_B11.tif", np.full((2, 2), 0.125, np.float32))
    scene = read_band_folder(tmp_path, bands=("B02", "B11"), progress=False)
    np.testing.assert_allclose(scene.bands(["B02", "B11"]), np.array([0.25, 0.125])[:, None, None]
                               * np.ones((2, 2, 2)), atol=1e-7)
    assert scene.metadata.quantification_value == 1.0
    write_tif(tmp_path / "s2_B11.tif", np.full((2, 2), 1250, np.uint16))
    with pytest.raises(ProductError, match="mixes integer and float bands"):
        read_band_folder(tmp_path, bands=("B02", "B11"), progress=False)


# --------------------------------------------------------------------------- degrees


def _write_degrees(path, lon=10.5, lat=60.2, count=2, dtype=np.float32):
    array = np.full((count, 6, 6), 0.2, dtype)
    profile = dict(driver="GTiff", count=count, height=6, width=6, dtype=array.dtype,
                   crs="EPSG:4326", transform=rasterio.Affine(0.00018, 0, lon, 0, -0.00018, lat))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
    return path


@pytest.mark.parametrize("lon, lat, epsg", [(10.5, 60.2, 32632), (-70.1, -33.4, 32719)])
def test_geographic_stack_says_how_to_reproject(tmp_path, lon, lat, epsg):
    path = _write_degrees(tmp_path / "chip.tif", lon, lat)
    with pytest.raises(ProductError) as info:
        read_product(path, band_names=("B03", "B11"))
    text = str(info.value)
    assert "geographic CRS (EPSG:4326" in text and "metres (20 m)" in text
    assert f"gdalwarp -t_srs EPSG:{epsg} -tr 20 20 -r average" in text
    assert "--resolution native" in text and "holds no whole" not in text


def test_geographic_stack_on_its_own_grid(tmp_path):
    path = _write_degrees(tmp_path / "chip.tif")
    scene = read_product(path, band_names=("B03", "B11"), resolution=None)
    assert scene.shape == (6, 6) and scene.crs.is_geographic
    assert scene.resolution == pytest.approx(0.00018)
    with pytest.raises(ProductError, match="geographic CRS"):
        read_geotiff_stack(path, ("B03", "B11"), resolution=20.0)


def test_geographic_band_folder_says_how_to_reproject(tmp_path):
    _write_degrees(tmp_path / "s2_B03.tif", count=1)
    with pytest.raises(ProductError, match=r"gdalwarp -t_srs EPSG:32632") as info:
        read_product(tmp_path, bands=("B03",), progress=False)
    assert "--resolution native" not in str(info.value)  # a band folder has no own grid


# --------------------------------------------------------------------------- read_product options


def test_read_product_passes_declared_radiometry_and_sun(tmp_path):
    path = write_tif(tmp_path / "s.tif", np.full((2, 2, 2), 2500, np.uint16))
    scene = read_product(path, band_names=("B03", "B11"), offset=-1000.0, sun_zenith=40.0,
                         sun_azimuth=150.0)
    np.testing.assert_allclose(scene.reflectance, 0.15, atol=1e-7)
    assert (scene.sun_zenith, scene.sun_azimuth) == (40.0, 150.0)
    (tmp_path / "bands").mkdir()
    write_tif(tmp_path / "bands" / "s2_B03.tif", np.full((2, 2), 2000, np.uint16))
    folder = read_product(tmp_path / "bands", bands=("B03",), scale=20000.0, progress=False)
    np.testing.assert_allclose(folder.reflectance, 0.1, atol=1e-7)


@pytest.mark.parametrize("kwargs, match", [
    ({"sun_zenith": 40.0}, "both sun_zenith and sun_azimuth"),
    ({"sun_zenith": 95.0, "sun_azimuth": 10.0}, "not a daytime angle"),
    ({"sun_zenith": 30.0, "sun_azimuth": float("nan")}, "not an angle from north"),
])
def test_read_product_refuses_impossible_sun(tmp_path, kwargs, match):
    path = write_tif(tmp_path / "s.tif", np.full((1, 2, 2), 2500, np.uint16))
    with pytest.raises(ConfigError, match=match):
        read_product(path, band_names=("B03",), **kwargs)


def test_read_product_refuses_options_a_product_declares_itself(tmp_path, safe_a):
    with pytest.raises(ConfigError, match=r"scale \(--scale\) cannot be given for a SAFE"):
        read_product(safe_a, scale=10000.0)
    with pytest.raises(ConfigError, match=r"band_names, offset \(--band-names, --offset\)"):
        read_product(safe_a, band_names=("B02",), offset=0.0)
    with pytest.raises(ConfigError, match="GeoTIFF stacks only"):
        read_product(safe_a, resolution=None)
    sunny = read_product(safe_a, sun_zenith=30.0, sun_azimuth=100.0, progress=False)
    assert (sunny.sun_zenith, sunny.sun_azimuth) == (30.0, 100.0)  # replaces MTD_TL.xml's
    write_tif(tmp_path / "s2_B03.tif", np.full((2, 2), 2000, np.uint16))
    with pytest.raises(ConfigError, match="band file"):
        read_product(tmp_path, band_names=("B03",))
