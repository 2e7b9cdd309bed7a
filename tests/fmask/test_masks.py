"""Steps 1 and 3-6 on hand values."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.errors import BandError
from dfmask_lib.fmask import FmaskConfig, indices, masks

from .conftest import CLOUD, LAND, SNOW, WATER


def spectra_row(*spectra) -> dict[str, np.ndarray]:
    """Bands (1, n) of n spectra, by name."""
    names = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
             "B11", "B12")
    arr = np.array(spectra, dtype=np.float32).T[:, None, :]
    return dict(zip(names, arr))


def test_observation_mask() -> None:
    refl = np.ones((3, 2, 2), np.float32)
    refl[1, 0, 0] = 0
    # Without the reader's mask, a band exactly 0 is no data (Scene contract).
    np.testing.assert_array_equal(masks.observation_mask(refl), [[False, True], [True, True]])
    # Baseline >= 04.00: DN 1-1000 gives reflectance <= 0 for a real, observed pixel; the
    # reader's valid (DN > 0) decides, so dark pixels never become fill.
    refl[2, 0, 1] = -0.0007  # (DN 993 - 1000) / 10000
    valid = np.array([[True, True], [True, False]])
    np.testing.assert_array_equal(masks.observation_mask(refl, valid),
                                  [[True, True], [True, False]])
    with pytest.raises(BandError, match="valid has shape"):
        masks.observation_mask(refl, np.ones((3, 3), bool))
    with pytest.raises(BandError, match="bands, H, W"):
        masks.observation_mask(refl[0])


def test_potential_snow_and_water_on_typical_spectra() -> None:
    b = spectra_row(LAND, CLOUD, SNOW, WATER)
    ndsi = indices.ndsi(b["B03"], b["B11"])
    ndvi = indices.ndvi(b["B04"], b["B8A"])
    np.testing.assert_array_equal(masks.potential_snow(ndsi, b["B8A"], b["B03"]),
                                  [[False, False, True, False]])
    np.testing.assert_array_equal(masks.water_test(ndvi, b["B8A"]), [[False, False, False, True]])


def test_water_tests_boundaries() -> None:
    ndvi = np.array([[0.0, 0.05, 0.05, 0.2]], np.float32)
    nir = np.array([[0.10, 0.04, 0.06, 0.01]], np.float32)
    # 1st: NDVI < 0.01 and NIR < 0.11; 2nd: 0 < NDVI < 0.1 and NIR < 0.05.
    np.testing.assert_array_equal(masks.water_test(ndvi, nir), [[True, True, False, False]])
    occurrence = np.array([[0, 0, 95, 50]], np.float32)
    np.testing.assert_array_equal(masks.water_test(ndvi, nir, water_occurrence=occurrence),
                                  [[True, True, True, False]])


def test_basic_cloud_test_on_typical_spectra() -> None:
    b = spectra_row(LAND, CLOUD, SNOW, WATER)
    ndsi, ndvi = indices.ndsi(b["B03"], b["B11"]), indices.ndvi(b["B04"], b["B8A"])
    white, hot = indices.whiteness(b["B02"], b["B03"], b["B04"]), indices.hot(b["B02"], b["B04"])
    pcp = masks.basic_cloud_test(b["B12"], ndsi, ndvi, white, hot, b["B8A"], b["B11"])
    np.testing.assert_array_equal(pcp, [[False, True, False, False]])
    # Land fails only on HOT (-0.03): saturation in the visible lets it through.
    sat = np.array([[True, False, False, False]])
    pcp = masks.basic_cloud_test(b["B12"], ndsi, ndvi, white, hot, b["B8A"], b["B11"], sat)
    np.testing.assert_array_equal(pcp, [[True, True, False, False]])


def test_normalized_cirrus_removes_the_dark_percentile() -> None:
    cirrus = np.linspace(0.0, 0.099, 100, dtype=np.float32).reshape(10, 10)
    pcp = np.zeros((10, 10), bool)
    pcp[5:] = True  # the bright half is potential cloud: excluded from the percentile
    obs = np.ones((10, 10), bool)
    obs[0, 0] = False
    out = masks.normalized_cirrus(cirrus, pcp, obs)
    # 2nd percentile of the 49 clear observed values 0.001 ... 0.049 is 0.00196.
    dark = np.percentile(cirrus[:5].ravel()[1:], 2)
    assert dark == pytest.approx(0.00196, abs=1e-6)
    np.testing.assert_allclose(out[9, 9], 0.099 - dark, rtol=1e-5)
    assert out[0, 0] == 0 and out[0, 1] == 0 and out.dtype == np.float32


def test_scsi_is_small_on_smooth_snow_and_large_on_texture() -> None:
    rng = np.random.default_rng(0)
    green = np.full((40, 40), 0.8, np.float32)
    green[:, 20:] += (0.05 * rng.standard_normal((40, 20))).astype(np.float32)
    ndsi = np.full((40, 40), 0.5, np.float32)
    obs = np.ones((40, 40), bool)
    s = masks.scsi(green, ndsi, obs, window=9)
    assert s[20, 5] == pytest.approx(0.0, abs=1e-6)
    assert 0.01 < s[20, 30] < 0.05  # std ~0.05 x (1 - 0.5)
    snow = np.ones((40, 40), bool)
    config = FmaskConfig(scsi_min_snow_pixels=100, scsi_window=9)
    absolute = masks.absolute_snow(green, ndsi, snow, obs, config)
    assert absolute[:, :10].all() and not absolute[:, 25:].any()
    # Below the potential-snow count the test is skipped entirely (Qiu et al. 2019).
    assert not masks.absolute_snow(green, ndsi, snow, obs).any()
