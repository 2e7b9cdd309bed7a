"""Fmask step 8 on constructed rasters: probabilities, dynamic thresholds, the cloud decision.

Every expected number below is computed by hand from the definitions (METHOD.md, Fmask step 8;
Zhu & Woodcock 2012 eqs. 9-18 without thermal, Qiu et al. 2019 for Sentinel-2):

* thin = max(cirrus / 0.04, 0), weight 0.5;
* water probability = min(SWIR1 / 0.11, 1) + 0.5 thin;
* land probability = (1 - max(|NDSI|, |NDVI|, |NDBI|, whiteness)) x brightness + 0.5 thin, with
  brightness = HOT scaled linearly from its 17.5th percentile - 0.04 (0) to its 82.5th + 0.04 (1)
  over clear land, clipped to [0, 1];
* thresholds = 82.5th percentile of the probability over clear land (clear water) + 0.20;
* cloud = PCP and ((land prob > land thr and not water) or (water prob > water thr and water)).

The scene: 41 clear-land pixels with HOT = 0.00, 0.01, ..., 0.40 and 41 clear-water pixels with
SWIR1 = 0.0011 x (0, 1, ..., 40). With 41 values, np.percentile's linear interpolation puts the
17.5th percentile exactly on the 8th value (index 0.175 x 40 = 7) and the 82.5th on the 34th
(index 33): no interpolation, so the numbers are exact and easy to check.
"""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.fmask.probability import (cloud_probability, land_cloud_probability,
                                          thin_cloud_probability, water_cloud_probability)

N_CLEAR = 41
FIELDS = ("pcp", "water", "obs", "swir1", "ndsi", "ndvi", "ndbi", "whiteness", "hot", "cirrus")
#: Clear vegetated land: variability 1 - max(0, 0.5, 0.2, 0.1) = 0.5; SWIR1 bright.
LAND = dict(pcp=False, water=False, obs=True, swir1=0.20, ndsi=0.0, ndvi=0.5, ndbi=-0.2,
            whiteness=0.1, hot=0.0, cirrus=0.0)
#: Clear water: dark in SWIR1, negative HOT.
WATER = dict(LAND, water=True, swir1=0.0, ndsi=0.3, ndvi=-0.2, ndbi=-0.3, whiteness=0.2,
             hot=-0.05)
#: Bright, flat, white-ish: variability 1 - max(0.1, 0.05, 0.1, 0.05) = 0.9.
FLAT = dict(ndsi=0.1, ndvi=0.05, ndbi=-0.1, whiteness=0.05)

# Hand-computed scene statistics.
HOT_LOW, HOT_HIGH = 0.07 - 0.04, 0.33 + 0.04      # 17.5th / 82.5th percentile of clear-land HOT
LAND_THR = 0.5 * (0.33 - HOT_LOW) / (HOT_HIGH - HOT_LOW) + 0.20  # = 0.5 x 0.30/0.34 + 0.2
WATER_THR = 0.33 + 0.20                             # 82.5th percentile of 0.01 x (0..40) + 0.2
DIM = 0.5 * (0.10 - HOT_LOW) / (HOT_HIGH - HOT_LOW)  # land prob of variability 0.5, HOT 0.10

#: The pixels under test: name -> (overrides of LAND or WATER, land prob, water prob, cloud).
PIXELS = {
    # Land PCP, no cirrus: only bright, spectrally flat pixels are cloud.
    "dim_pcp": (dict(LAND, pcp=True, hot=0.10), DIM, 1.0, False),
    "bright_pcp": (dict(LAND, pcp=True, hot=0.50, **FLAT), 0.9, 1.0, True),
    # |NDSI| counts: NDSI -0.6 gives variability 0.4 (without abs it would be 0.9).
    "negative_ndsi_pcp": (dict(LAND, pcp=True, hot=0.50, **dict(FLAT, ndsi=-0.6)), 0.4, 1.0,
                          False),
    "white_pcp": (dict(LAND, pcp=True, hot=0.50, **dict(FLAT, whiteness=0.7)), 0.3, 1.0, False),
    # Thin-cloud term: weight 0.5 (weight 1 would make cirrus 0.04 cloud); negative cirrus is 0.
    "cirrus_004_pcp": (dict(LAND, pcp=True, hot=0.10, cirrus=0.04), DIM + 0.5, 1.5, False),
    "cirrus_008_pcp": (dict(LAND, pcp=True, hot=0.10, cirrus=0.08), DIM + 1.0, 2.0, True),
    "negative_cirrus_pcp": (dict(LAND, pcp=True, hot=0.50, cirrus=-0.02, **FLAT), 0.9, 1.0,
                            True),
    # A bright land pixel that is not PCP is never cloud.
    "bright_not_pcp_obs_off": (dict(LAND, obs=False, hot=5.0, **FLAT), 0.9, 1.0, False),
    # Water PCP: decided by the water probability alone.
    "water_pcp_070": (dict(WATER, pcp=True, swir1=0.077), 0.0, 0.70, True),
    "water_pcp_040_bright_land": (dict(WATER, pcp=True, swir1=0.044, hot=0.50, **FLAT), 0.9,
                                  0.40, False),
    "water_pcp_thin": (dict(WATER, pcp=True, swir1=0.022, cirrus=0.04), 0.5, 0.20 + 0.5, True),
    "water_pcp_saturated": (dict(WATER, pcp=True, swir1=0.30), 0.0, 1.0, True),
}


def build() -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """(1, N) rasters of every field, and the column of each named pixel."""
    rows = [dict(LAND, hot=0.01 * i) for i in range(N_CLEAR)]
    rows += [dict(WATER, swir1=0.0011 * i) for i in range(N_CLEAR)]
    where = {}
    for name, (pixel, *_) in PIXELS.items():
        where[name] = len(rows)
        rows.append(pixel)
    dtype = {f: bool if f in ("pcp", "water", "obs") else np.float32 for f in FIELDS}
    arrays = {f: np.array([[r[f] for r in rows]], dtype=dtype[f]) for f in FIELDS}
    return arrays, where


@pytest.fixture(scope="module")
def result():
    arrays, where = build()
    return cloud_probability(**arrays), arrays, where


def test_thresholds_and_hot_range_are_the_percentiles_over_clear_pixels(result) -> None:
    prob, _, _ = result
    # Not obs, PCP and the other surface are all left out: with the unobserved pixel
    # (HOT 5.0) among clear land, the percentiles would move to 0.07175 and 0.33825.
    assert prob.hot_range == pytest.approx((0.03, 0.37), abs=1e-6)
    assert prob.land_threshold == pytest.approx(0.641176, abs=1e-6)
    assert prob.land_threshold == pytest.approx(LAND_THR, abs=1e-6)
    assert prob.water_threshold == pytest.approx(WATER_THR, abs=1e-6)
    assert isinstance(prob.land_threshold, float) and isinstance(prob.water_threshold, float)


def test_probabilities_at_chosen_pixels(result) -> None:
    prob, _, where = result
    assert prob.land.dtype == prob.water.dtype == np.float32
    assert prob.land.shape == prob.water.shape == (1, 2 * N_CLEAR + len(PIXELS))
    for name, (_, land, water, _) in PIXELS.items():
        col = where[name]
        assert prob.land[0, col] == pytest.approx(land, abs=1e-6), name
        assert prob.water[0, col] == pytest.approx(water, abs=1e-6), name
    # Clear land: 0.5 x brightness, 0 below HOT 0.03, 0.5 from HOT 0.37 up.
    np.testing.assert_allclose(prob.land[0, [0, 3, 20, 37, 40]],
                               [0, 0, 0.5 * 0.17 / 0.34, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(prob.water[0, N_CLEAR:2 * N_CLEAR], 0.01 * np.arange(N_CLEAR),
                               atol=1e-6)


def test_cloud_is_pcp_with_a_high_probability_not_pcp_itself(result) -> None:
    prob, arrays, where = result
    assert prob.cloud.dtype == bool
    for name, (*_, cloud) in PIXELS.items():
        assert prob.cloud[0, where[name]] == cloud, name
    # Clear pixels are never cloud, whatever their probability.
    assert not prob.cloud[0, :2 * N_CLEAR].any()
    # "cloud = potential cloud" would fail here: dim and cirrus-0.04 PCP are not cloud.
    assert prob.cloud.sum() == 6 and arrays["pcp"].sum() == 11
    assert not np.array_equal(prob.cloud, arrays["pcp"])


def test_raising_the_dim_pixel_over_the_threshold_makes_it_cloud() -> None:
    arrays, where = build()
    # Variability 0.9 with brightness 0.70/0.34 -> 1 (clipped): 0.9 > 0.641 -> cloud.
    col = where["dim_pcp"]
    for field, value in dict(FLAT, hot=0.40).items():
        arrays[field][0, col] = value
    prob = cloud_probability(**arrays)
    assert prob.land[0, col] == pytest.approx(0.9, abs=1e-6) and prob.cloud[0, col]
    # The threshold only counts clear pixels, so it did not move.
    assert prob.land_threshold == pytest.approx(LAND_THR, abs=1e-6)


def test_without_clear_water_every_water_pcp_is_cloud() -> None:
    arrays, where = build()
    arrays["obs"][0, N_CLEAR:2 * N_CLEAR] = False  # no clear water left
    prob = cloud_probability(**arrays)
    assert prob.water_threshold == float("-inf")
    assert prob.land_threshold == pytest.approx(LAND_THR, abs=1e-6)
    assert prob.cloud[0, where["water_pcp_040_bright_land"]]


def test_thin_and_water_probability_formulas() -> None:
    cirrus = np.array([[-0.02, 0.0, 0.01, 0.04, 0.08]], np.float32)
    thin = thin_cloud_probability(cirrus)
    assert thin.dtype == np.float32
    np.testing.assert_allclose(thin, [[0, 0, 0.25, 1, 2]], atol=1e-7)
    swir1 = np.array([[0.0, 0.055, 0.11, 0.22, 0.055]], np.float32)
    water = water_cloud_probability(swir1, np.array([[0, 0, 0, 0, 1]], np.float32))
    np.testing.assert_allclose(water, [[0, 0.5, 1, 1, 1.0]], atol=1e-6)


def test_land_probability_without_clear_land_falls_back_to_variability() -> None:
    f = np.full((2, 2), 0.1, np.float32)
    z = np.zeros((2, 2), np.float32)
    prob, hot_range = land_cloud_probability(f, -3 * f, z, f, f, z, np.zeros((2, 2), bool))
    np.testing.assert_allclose(prob, 0.7, atol=1e-6)  # 1 - |NDVI| 0.3; brightness 1
    assert all(np.isnan(hot_range))
