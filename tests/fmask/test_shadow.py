"""Steps 10-11: flood fill, potential shadow and matching at a known height."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.errors import ConfigError
from dfmask_lib.fmask import FmaskConfig
from dfmask_lib.fmask.shadow import flood_fill, match_shadows, potential_shadow
from dfmask_lib.geometry import shadow_offset


def test_flood_fill_raises_pits_to_their_rim() -> None:
    img = np.full((9, 9), 0.3, np.float32)
    img[3:6, 3:6] = 0.1  # a pit
    img[0, 4] = 0.05  # a dark pixel on the border is open, not a pit
    filled = flood_fill(img)
    np.testing.assert_allclose(filled[3:6, 3:6], 0.3)
    assert filled[0, 4] == pytest.approx(0.05)


def test_flood_fill_on_a_block_averaged_grid() -> None:
    img = np.full((40, 40), 0.3, np.float32)
    img[10:22, 10:22] = 0.1
    filled = flood_fill(img, max_pixels=400)  # 2 x 2 blocks
    np.testing.assert_allclose(filled[12:20, 12:20], 0.3)
    assert (filled >= img).all()


def test_potential_shadow_needs_both_bands_dark() -> None:
    nir = np.full((20, 20), 0.3, np.float32)
    swir = np.full((20, 20), 0.2, np.float32)
    nir[5:10, 5:10] = 0.1
    swir[5:10, 5:10] = 0.05
    nir[12:16, 12:16] = 0.1  # dark in NIR only (e.g. wet soil): not shadow
    obs = np.ones((20, 20), bool)
    ps, depth = potential_shadow(nir, swir, obs, obs)
    assert ps[5:10, 5:10].all() and ps.sum() == 25
    assert depth[7, 7] == pytest.approx(0.15)


@pytest.mark.parametrize("height", [1500.0, 4000.0])
def test_matching_recovers_the_height_of_a_cast_shadow(height: float) -> None:
    shape, res = (200, 200), 20.0
    sun, view = (40.0, 150.0), (5.0, 100.0)
    cloud = np.zeros(shape, bool)
    cloud[160:180, 100:120] = True  # the sun is in the south-south-east: shadows go north
    dr, dc = shadow_offset(height, *sun, *view, res)
    rows, cols = np.nonzero(cloud)
    assert (rows + dr).min() >= 0
    truth = np.zeros(shape, bool)
    truth[rows + int(np.rint(dr)), cols + int(np.rint(dc))] = True
    truth &= ~cloud
    obs = np.ones(shape, bool)
    m = match_shadows(cloud, truth, obs, *sun, res, *view)
    step = 2 * res / np.tan(np.deg2rad(sun[0]))
    assert abs(m.heights[1] - height) <= step
    assert m.similarity[1] > 0.9
    iou = (m.shadow & truth).sum() / (m.shadow | truth).sum()
    assert iou > 0.85


def test_no_match_without_potential_shadow() -> None:
    cloud = np.zeros((60, 60), bool)
    cloud[20:30, 20:30] = True
    obs = np.ones((60, 60), bool)
    m = match_shadows(cloud, np.zeros_like(cloud), obs, 40.0, 150.0, 20.0)
    assert np.isnan(m.heights[1]) and not m.shadow.any()


def test_matching_uses_per_pixel_view_angles_and_refuses_night() -> None:
    shape, res, height = (200, 200), 20.0, 3000.0
    cloud = np.zeros(shape, bool)
    cloud[150:170, 100:120] = True
    vz, va = np.full(shape, 9.0, np.float32), np.full(shape, 285.0, np.float32)
    dr, dc = shadow_offset(height, 35.0, 160.0, 9.0, 285.0, res)
    truth = np.roll(np.roll(cloud, int(np.rint(dr)), 0), int(np.rint(dc)), 1) & ~cloud
    assert truth.sum() == 400 and dr < -100  # no wrap-around
    m = match_shadows(cloud, truth, np.ones(shape, bool), 35.0, 160.0, res, vz, va)
    assert abs(m.heights[1] - height) <= 2 * res / np.tan(np.deg2rad(35.0))
    with pytest.raises(ConfigError, match="daytime"):
        match_shadows(cloud, truth, np.ones(shape, bool), 95.0, 160.0, res)


def test_dem_raises_the_ground_under_the_shadow() -> None:
    # Shadow cast on a plateau 1000 m above the cloud's ground: the relative height is lower.
    shape, res, height = (200, 200), 20.0, 3000.0
    sun = (40.0, 150.0)
    cloud = np.zeros(shape, bool)
    cloud[120:140, 100:120] = True
    dem = np.zeros(shape, np.float32)
    dem[:110] = 1000.0
    dr, dc = shadow_offset(height - 1000.0, *sun, 0.0, 0.0, res)
    truth = np.roll(np.roll(cloud, int(np.rint(dr)), 0), int(np.rint(dc)), 1) & ~cloud
    assert truth[:110].sum() == 400  # all on the plateau, no wrap-around
    m = match_shadows(cloud, truth, np.ones(shape, bool), *sun, res, dem=dem,
                      config=FmaskConfig())
    assert abs(m.heights[1] - height) <= 2 * 2 * res / np.tan(np.deg2rad(sun[0]))


@pytest.mark.parametrize("sun, resolution, view, match", [
    ((40.0, 150.0), 0.0, (0.0, 0.0), "resolution"),
    ((40.0, float("nan")), 20.0, (0.0, 0.0), "azimuth"),
    ((40.0, 150.0), 20.0, (95.0, 100.0), "zenith"),  # was a silent NaN height
])
def test_matching_refuses_impossible_geometry(sun, resolution, view, match) -> None:
    cloud = np.zeros((20, 20), bool)
    cloud[5:10, 5:10] = True
    with pytest.raises(ConfigError, match=match):
        match_shadows(cloud, ~cloud, np.ones_like(cloud), *sun, resolution, *view)


def test_candidate_heights_stay_within_the_configured_range() -> None:
    # Shadow cast 3 steps above min_height, but max_height is 2.6 steps up: the best
    # allowed height is 2 steps up (arange(min, max + step / 2) used to try 3 steps).
    shape, res, sun = (120, 120), 20.0, (40.0, 150.0)
    step = 2 * res / np.tan(np.deg2rad(sun[0]))
    config = FmaskConfig(min_height=200.0, max_height=200.0 + 2.6 * step, similarity=0.0)
    cloud = np.zeros(shape, bool)
    cloud[80:100, 60:80] = True
    dr, dc = shadow_offset(200.0 + 3 * step, *sun, 0.0, 0.0, res)
    truth = np.roll(np.roll(cloud, int(np.rint(dr)), 0), int(np.rint(dc)), 1) & ~cloud
    m = match_shadows(cloud, truth, np.ones(shape, bool), *sun, res, config=config)
    assert m.heights[1] <= config.max_height
    assert m.heights[1] == pytest.approx(200.0 + 2 * step)
