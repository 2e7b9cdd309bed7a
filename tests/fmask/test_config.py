"""FmaskConfig: defaults, validation, JSON round trip; array_scene input checks."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.config import config_from_dict, config_to_dict
from dfmask_lib.errors import BandError, ConfigError
from dfmask_lib.fmask import FmaskConfig
from dfmask_lib.fmask.product import array_scene


def test_defaults_are_fmask4_for_sentinel2() -> None:
    c = FmaskConfig()
    assert (c.cloud_buffer, c.shadow_buffer, c.snow_buffer) == (3, 3, 0)
    assert c.cloud_probability == 0.20 and c.similarity == 0.425
    assert (c.min_height, c.max_height) == (200.0, 12000.0)
    assert c.scsi_window == 501 and c.scsi_min_snow_pixels == 333 ** 2


@pytest.mark.parametrize("bad", [dict(cloud_buffer=-1), dict(cloud_buffer=1.5),
                                 dict(min_height=5000.0, max_height=1000.0),
                                 dict(prob_percentile=120.0), dict(similarity="high"),
                                 dict(height_step_px=0.0),
                                 # these gave inf/NaN probabilities or an inverted HOT scale:
                                 dict(thin_cloud_cirrus=0.0), dict(water_brightness_swir1=0.0),
                                 dict(cdi_window=0), dict(scsi_window=0),
                                 dict(hot_low_percentile=90.0), dict(similarity=1.5)])
def test_impossible_values_are_refused(bad: dict) -> None:
    with pytest.raises(ConfigError):
        FmaskConfig(**bad)


def test_json_round_trip() -> None:
    c = FmaskConfig(cloud_buffer=5, cloud_probability=0.175)
    assert config_from_dict(FmaskConfig, config_to_dict(c)) == c


def test_array_scene_takes_channels_last_and_refuses_dn() -> None:
    arr = np.full((1, 6, 4, 13), 0.2, np.float32)
    scene = array_scene(arr, resolution=60.0, sun_zenith=30.0, sun_azimuth=120.0)
    assert scene.shape == (6, 4) and scene.resolution == 60.0 and scene.valid.all()
    with pytest.raises(BandError, match="DN"):
        array_scene(arr * 10000, resolution=60.0, sun_zenith=30.0, sun_azimuth=120.0)
    with pytest.raises(BandError, match="13"):
        array_scene(arr[..., :6], resolution=60.0, sun_zenith=30.0, sun_azimuth=120.0)
    with pytest.raises(ConfigError, match="resolution"):  # was a degenerate transform
        array_scene(arr, resolution=0.0, sun_zenith=30.0, sun_azimuth=120.0)


def test_on_grid_converts_the_20_m_pixel_fields() -> None:
    c = FmaskConfig()
    assert c.on_grid(20.0) is c
    g = c.on_grid(60.0)
    assert (g.cloud_buffer, g.shadow_buffer, g.snow_buffer) == (1, 1, 0)
    assert (g.scsi_window, g.cdi_window) == (167, 3)
    assert (g.scsi_min_snow_pixels, g.min_clear_pixels, g.cdi_max_object,
            g.min_cloud_pixels) == (12321, 4444, 1111, 0)
    # metres, thresholds and compute budgets are not pixel fields of the 20 m grid
    assert (g.erode_m, g.false_positive_buffer_m, g.height_step_px, g.fill_max_pixels,
            g.cloud_probability) == (90.0, 250.0, 2.0, 4_000_000, 0.20)
    t = c.on_grid(10.0)
    assert (t.cloud_buffer, t.scsi_window, t.cdi_window, t.min_clear_pixels,
            t.min_cloud_pixels) == (6, 1001, 13, 160000, 12)
    assert "cloud_buffer 3 -> 1" in c.describe_on_grid(60.0)
    assert "used as defined" in c.describe_on_grid(20.0)


@pytest.mark.parametrize("bad", [0.0, -20.0, float("nan"), "20"])
def test_on_grid_refuses_a_bad_resolution(bad) -> None:
    with pytest.raises(ConfigError, match="resolution"):
        FmaskConfig().on_grid(bad)
