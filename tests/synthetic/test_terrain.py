"""Fractal noise and hill-shade illumination."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.errors import ConfigError
from dfmask_lib.synthetic.terrain import fractal_noise, illumination, make_dem


def test_fractal_noise_is_standardised_and_seeded():
    a = fractal_noise(np.random.default_rng(1), (64, 80))
    b = fractal_noise(np.random.default_rng(1), (64, 80))
    assert a.shape == (64, 80) and a.dtype == np.float32
    assert abs(a.mean()) < 1e-5 and a.std() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_array_equal(a, b)


def test_dem_spans_the_relief():
    dem = make_dem(np.random.default_rng(0), (50, 50), 1000.0, 500.0)
    assert dem.min() == pytest.approx(1000.0) and dem.max() == pytest.approx(1500.0, abs=1e-3)


def test_illumination_of_flat_and_tilted_ground():
    flat = np.zeros((5, 5))
    np.testing.assert_allclose(illumination(flat, 20.0, 60.0, 180.0), 1.0, atol=1e-6)
    # A slope rising northwards by 45 deg faces the southern sun at zenith 45: cos(i) = 1.
    north_up = np.tile(np.arange(5)[::-1, None] * 20.0, (1, 5))
    got = illumination(north_up, 20.0, 45.0, 180.0)
    assert got[2, 2] == pytest.approx(1.0 / np.cos(np.deg2rad(45.0)), rel=1e-5)
    # Facing away from a low sun: self-shadow.
    assert illumination(north_up, 20.0, 60.0, 0.0)[2, 2] == 0.0


def test_sun_below_horizon_is_refused():
    with pytest.raises(ConfigError, match="sun zenith"):
        illumination(np.zeros((3, 3)), 20.0, 90.0, 0.0)
