"""Step 9: bright-surface commission."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.errors import ConfigError
from dfmask_lib.fmask import FmaskConfig
from dfmask_lib.fmask.commission import line_filter, potential_false_positives, remove_commission


def test_line_filter_keeps_a_one_pixel_road() -> None:
    x = np.full((9, 9), -0.3, np.float32)
    x[4, :] = 0.2  # a road one pixel wide
    x[1, 1] = 0.5  # an isolated noisy pixel
    out = line_filter(x)
    np.testing.assert_allclose(out[4, 2:7], 0.2, rtol=1e-6)
    assert out[1, 1] < 0  # diluted: no 3-pixel line through it


def test_potential_false_positives_urban_snow_and_cdi() -> None:
    ndbi = np.full((5, 5), 0.1, np.float32)
    ndvi = np.full((5, 5), 0.05, np.float32)
    ndvi[0] = 0.3  # vegetated row: not urban
    snow = np.zeros((5, 5), bool)
    snow[0, 0] = True
    cdi = np.zeros((5, 5), np.float32)
    cdi[4, 4] = -0.9  # parallax: elevated, never a ground false positive
    pfp = potential_false_positives(ndbi, ndvi, snow, cdi)
    assert pfp[0, 0] and not pfp[0, 2] and pfp[2, 2] and not pfp[4, 4]
    assert potential_false_positives(ndbi, ndvi, snow, None)[4, 4]


def test_thin_bright_structures_on_false_positives_are_removed() -> None:
    cloud = np.zeros((60, 60), bool)
    cloud[5:35, 5:35] = True  # a wide cloud: survives the 90 m opening
    cloud[45:48, 5:55] = True  # a 60 m wide bright strip (road, snow edge)
    cloud[52:55, 5:55] = True  # the same strip but not on a false positive
    pfp = np.zeros_like(cloud)
    pfp[:50] = True
    out = remove_commission(cloud, pfp, None, 20.0)
    # The 90 m (5 px) erosion rounds the square's corners; the 180 m (10 px) dilation
    # back restores them.
    assert out[10:30, 10:30].all() and out[5:35, 5:35].sum() == 900
    assert not out[45:48].any()
    assert out[52:55, 5:55].all()


def test_small_objects_and_the_cdi_rule() -> None:
    cloud = np.zeros((40, 40), bool)
    cloud[2, 2] = cloud[2, 3] = True  # 2 px: below the 3 px minimum
    cloud[10:20, 10:20] = True  # 100 px, no parallax evidence
    cloud[25:35, 25:35] = True  # 100 px with one pixel of CDI < -0.5
    cloud[22:37, 2:17] = True  # 225 px, no parallax evidence but large
    pfp = np.zeros_like(cloud)
    cdi = np.zeros((40, 40), np.float32)
    cdi[30, 30] = -0.7
    config = FmaskConfig(erode_m=0, cdi_max_object=200)
    out = remove_commission(cloud, pfp, cdi, 20.0, config)
    assert not out[2, 2] and not out[10:20, 10:20].any()
    assert out[25:35, 25:35].all() and out[22:37, 2:17].all()
    # Without a CDI (no B07/B08) only the size rule applies.
    assert remove_commission(cloud, pfp, None, 20.0, config)[10:20, 10:20].all()


def test_a_cloud_edge_on_a_false_positive_comes_back_with_the_cloud() -> None:
    # One 3 px (60 m) wide cloud band, its west half over vegetation, its east half over
    # a bright roof: the roof half erodes away, but lies within the 180 m dilation of
    # the vegetation half (Fmask 4 dilates the kept pixels back, not only the eroded core).
    cloud = np.zeros((20, 60), bool)
    cloud[8:11, 5:55] = True
    pfp = np.zeros_like(cloud)
    pfp[:, 30:] = True
    out = remove_commission(cloud, pfp, None, 20.0, FmaskConfig(min_cloud_pixels=0))
    assert out[8:11, 5:30].all()  # off the false positives: never dropped
    assert out[8:11, 30:40].all() and not out[8:11, 40:].any()  # back up to 10 px (180 m)
    assert out.sum() == 3 * 35


def test_distance_transforms_equal_disk_erosion_and_dilation() -> None:
    from scipy import ndimage as ndi

    from dfmask_lib.fmask._util import disk

    rng = np.random.default_rng(0)
    cloud = np.pad(ndi.uniform_filter(rng.random((80, 80)), 9) > 0.5, 6)
    pfp = np.pad(ndi.uniform_filter(rng.random((80, 80)), 15) > 0.5, 6)
    core = ndi.binary_erosion(cloud, disk(5), border_value=1)
    kept = cloud & (core | ~pfp)
    objects = ndi.label(cloud, np.ones((3, 3)))[0]
    expected = (ndi.binary_dilation(kept, disk(10)) & np.isin(objects, objects[kept])
                & cloud)
    assert 0 < expected.sum() < cloud.sum()  # the case is not trivial
    out = remove_commission(cloud, pfp, None, 20.0, FmaskConfig(min_cloud_pixels=0))
    np.testing.assert_array_equal(out, expected)


def test_remove_commission_refuses_a_non_positive_resolution() -> None:
    import pytest

    from dfmask_lib.errors import ConfigError

    cloud = np.ones((5, 5), bool)
    with pytest.raises(ConfigError, match="resolution"):
        remove_commission(cloud, cloud, None, 0.0)


def test_urban_false_positives_buffered_by_250_m_not_over_water() -> None:
    ndbi = np.full((61, 61), -0.2, np.float32)
    ndbi[29:32, 30] = 0.3  # a short bright line (3 px: survives the line filter)
    ndvi = np.zeros((61, 61), np.float32)
    snow = np.zeros((61, 61), bool)
    water = np.zeros((61, 61), bool)
    water[:, 50:] = True
    obs = np.ones((61, 61), bool)
    obs[0] = False
    plain = potential_false_positives(ndbi, ndvi, snow, None)
    assert np.array_equal(np.argwhere(plain), [[29, 30], [30, 30], [31, 30]])
    pfp = potential_false_positives(ndbi, ndvi, snow, None, water=water, obs=obs, resolution=20.0)
    # 250 m at 20 m: half-width 12 px, so a 25 px square grows around each urban pixel.
    rows, cols = np.nonzero(pfp)
    assert cols.min() == 30 - 12 and cols.max() == 30 + 12
    assert rows.min() == 29 - 12 and rows.max() == 31 + 12
    assert pfp.sum() == 25 * 27
    assert not pfp[0].any()  # unobserved stays out
    # Water is never urban-like (but the buffer may reach it from land).
    ndbi_w = ndbi.copy()
    ndbi_w[29:32, 55] = 0.3
    only_w = potential_false_positives(ndbi_w, ndvi, snow, None, water=water) & ~plain
    assert not only_w[:, 54:57].any()
    with pytest.raises(ConfigError, match="positive number of metres"):
        potential_false_positives(ndbi, ndvi, snow, None, resolution=0.0)
