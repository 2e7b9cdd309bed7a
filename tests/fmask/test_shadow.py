"""Steps 10-11: flood fill, potential shadow and matching at a known height."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

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


def test_flood_fill_on_a_block_grid_fills_wide_pits() -> None:
    img = np.full((40, 40), 0.3, np.float32)
    img[10:22, 10:22] = 0.1
    filled = flood_fill(img, max_pixels=400)  # 2 x 2 blocks
    np.testing.assert_allclose(filled[12:20, 12:20], 0.3)
    assert (filled >= img).all() and (filled <= flood_fill(img)).all()


def _max_pixels_for(shape: tuple[int, int], factor: int) -> int:
    """The fill_max_pixels that makes flood_fill use factor x factor blocks on ``shape``."""
    n = shape[0] * shape[1]
    max_pixels = -(-n // factor**2)
    assert int(np.ceil(np.sqrt(n / max_pixels))) == factor
    return max_pixels


@pytest.mark.parametrize("shape", [(60, 60), (61, 58), (37, 44)])  # partial edge blocks too
@pytest.mark.parametrize("factor", [2, 3])
@pytest.mark.parametrize("levels", [0, 4])  # continuous values, or 4 levels (plateaus, ties)
def test_block_fill_never_exceeds_the_exact_fill(shape, factor, levels) -> None:
    rng = np.random.default_rng(factor * 100 + shape[1])
    img = rng.random(shape).astype(np.float32)
    if levels:
        img = np.round(img * levels).astype(np.float32)
    exact = flood_fill(img)
    approx = flood_fill(img, _max_pixels_for(shape, factor))
    assert approx.dtype == np.float32 and approx.shape == shape
    assert (img <= approx).all() and (approx <= exact).all()


def _textured_ground(shape=(150, 150), seed=0):
    """NIR/SWIR1 of textured land (white plus 3 px-smooth texture, ~7 % std) with three
    genuine shadows at 35 % of the ground's reflectance: 50 x 50, 6 x 6 and 4 x 4 px."""
    rng = np.random.default_rng(seed)
    texture = (1 + 0.05 * rng.standard_normal(shape)
               + 0.5 * ndi.gaussian_filter(rng.standard_normal(shape), 3))
    nir, swir = (0.30 * texture).astype(np.float32), (0.20 * texture).astype(np.float32)
    big = np.zeros(shape, bool)
    big[40:90, 60:110] = True
    truth = big.copy()
    truth[20:26, 20:26] = truth[120:124, 30:34] = True
    nir[truth] *= np.float32(0.35)
    swir[truth] *= np.float32(0.35)
    return nir, swir, truth, big


@pytest.mark.parametrize("factor, n_found", [(2, 2631), (3, 2567)])
def test_block_potential_shadow_is_a_subset_of_the_exact_one(factor, n_found) -> None:
    # A block-mean fill marked about 300 textured pixels below their block means here that
    # the exact fill leaves out (296 at factor 2, 322 at factor 3).
    nir, swir, truth, big = _textured_ground()
    obs = np.ones(nir.shape, bool)
    exact, exact_depth = potential_shadow(nir, swir, obs, obs, FmaskConfig(fill_max_pixels=0))
    assert exact.sum() == 2998 and exact[truth].all()  # plus 446 px of dark texture
    config = FmaskConfig(fill_max_pixels=_max_pixels_for(nir.shape, factor))
    approx, depth = potential_shadow(nir, swir, obs, obs, config)
    assert not (approx & ~exact).any() and (depth <= exact_depth).all()
    # Every genuine shadow pixel is still found (recall 1.0 on the 50 x 50 shadow, and on
    # the small ones); what is lost is dark texture: 2631 / 2998 = 0.878 of the exact
    # potential shadow kept at factor 2, 2567 / 2998 = 0.856 at factor 3.
    assert approx[big].mean() == 1.0 and approx[truth].all()
    assert approx.sum() == n_found


def test_potential_shadow_uses_the_block_fill_above_fill_max_pixels() -> None:
    # A 1 px pit next to the border lies in a border block of the 2 x 2 block grid: the
    # exact fill finds it, the (conservative) block fill does not; an inner pit both do.
    nir = np.full((40, 40), 0.3, np.float32)
    swir = np.full((40, 40), 0.2, np.float32)
    for r, c in ((1, 1), (20, 20)):
        nir[r, c], swir[r, c] = 0.1, 0.05
    obs = np.ones(nir.shape, bool)
    exact, _ = potential_shadow(nir, swir, obs, obs)  # 1600 px < the default 4 Mpx
    small, _ = potential_shadow(nir, swir, obs, obs, FmaskConfig(fill_max_pixels=400))
    assert exact.sum() == 2 and exact[1, 1] and exact[20, 20]
    assert small.sum() == 1 and small[20, 20]


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


def test_an_object_across_two_detectors_takes_the_mean_parallax_vector() -> None:
    from dfmask_lib.fmask.shadow import _view_direction
    from dfmask_lib.reader.angles import parallax_vector, vector_angles

    zen = np.full((4, 4), 4.0)
    az = np.full((4, 4), 98.0)
    zen[:, 2:], az[:, 2:] = 2.0, 283.0  # the neighbouring detector looks the other way
    mask = np.ones((4, 4), bool)
    e, n = parallax_vector(np.array([4.0, 2.0]), np.array([98.0, 283.0]))
    expected = vector_angles(e.mean(), n.mean())
    got = _view_direction(zen, az, (slice(0, 4), slice(0, 4)), mask)
    assert got == pytest.approx((float(expected[0]), float(expected[1])))
    assert 80 < got[1] < 110 and got[0] < 1.1  # not the angle means (3 deg, ~190 deg)
    assert _view_direction(5.0, 100.0, (slice(0, 4), slice(0, 4)), mask) == (5.0, 100.0)
    assert _view_direction(None, None, (slice(0, 4), slice(0, 4)), mask) == (0.0, 0.0)
