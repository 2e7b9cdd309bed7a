"""Cloud-shadow geometry: hand-computed offsets."""

import numpy as np
import pytest

from dfmask_lib.geometry import ground_offset, shadow_offset


def test_sun_in_the_south_casts_shadow_north():
    # 1000 m cloud, sun 45 deg zenith in the south, nadir view, 20 m pixels: 50 px north.
    dr, dc = shadow_offset(1000.0, 45.0, 180.0, 0.0, 0.0, 20.0)
    assert dr == pytest.approx(-50.0)
    assert dc == pytest.approx(0.0, abs=1e-9)


def test_sun_in_the_east_casts_shadow_west():
    dr, dc = shadow_offset(2000.0, 60.0, 90.0, 0.0, 0.0, 10.0)
    assert dc == pytest.approx(-2000.0 * np.tan(np.deg2rad(60.0)) / 10.0)
    assert dr == pytest.approx(0.0, abs=1e-9)


def test_view_parallax_is_subtracted():
    # Sun and sensor in the same direction and zenith: the shadow hides under the cloud.
    dr, dc = shadow_offset(3000.0, 30.0, 135.0, 30.0, 135.0, 20.0)
    assert (dr, dc) == (pytest.approx(0.0, abs=1e-9), pytest.approx(0.0, abs=1e-9))
    # Parallax alone: a cloud seen from the east is displaced westwards.
    r, c = ground_offset(1000.0, 10.0, 90.0, 20.0)
    assert c == pytest.approx(-1000 * np.tan(np.deg2rad(10)) / 20)


def test_vectorised_heights():
    dr, dc = shadow_offset(np.array([0.0, 500.0, 1000.0]), 45.0, 180.0, 0.0, 0.0, 20.0)
    np.testing.assert_allclose(dr, [0.0, -25.0, -50.0], atol=1e-9)


@pytest.mark.parametrize("args, match", [
    ((1000.0, 45.0, 180.0, 0.0, 0.0, 0.0), "resolution"),
    ((1000.0, 45.0, 180.0, 0.0, 0.0, float("nan")), "resolution"),
    ((1000.0, 95.0, 180.0, 0.0, 0.0, 20.0), "zenith"),
    ((1000.0, 45.0, 180.0, -5.0, 0.0, 20.0), "zenith"),
    ((1000.0, float("nan"), 180.0, 0.0, 0.0, 20.0), "zenith"),
    ((1000.0, 45.0, float("nan"), 0.0, 0.0, 20.0), "azimuth"),
])
def test_impossible_angles_or_resolution_raise_instead_of_nan(args, match):
    from dfmask_lib.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        shadow_offset(*args)
