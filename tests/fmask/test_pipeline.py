"""run_fmask on constructed scenes with known answers (steps 1-12 end to end)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dfmask_lib.errors import BandError, ConfigError
from dfmask_lib.fmask import FmaskConfig, run_fmask
from dfmask_lib.geometry import shadow_offset
from dfmask_lib.scene import S2_BANDS, Scene

from .conftest import CLOUD, SNOW, WATER, add_parallax, build_scene, paint

SUN, VIEW, HEIGHT = (40.0, 150.0), (5.0, 100.0), 2000.0


@pytest.fixture(scope="module")
def scene_truth() -> tuple[Scene, dict[str, np.ndarray]]:
    """Land with a cloud and its shadow at HEIGHT, a snow field, a lake and a fill border."""
    refl = paint((256, 256))
    cloud = np.zeros((256, 256), bool)
    cloud[180:204, 150:174] = True
    dr, dc = (int(np.rint(v)) for v in shadow_offset(HEIGHT, *SUN, *VIEW, 20.0))
    shadow = np.roll(np.roll(cloud, dr, 0), dc, 1) & ~cloud
    refl[:, shadow] *= 0.3
    refl[:, cloud] = np.asarray(CLOUD, np.float32)[:, None]
    add_parallax(refl, cloud)
    snow = np.zeros_like(cloud)
    snow[20:50, 20:50] = True
    refl[:, snow] = np.asarray(SNOW, np.float32)[:, None]
    water = np.zeros_like(cloud)
    water[200:240, 20:60] = True
    refl[:, water] = np.asarray(WATER, np.float32)[:, None]
    valid = np.ones_like(cloud)
    valid[:, -4:] = False
    truth = dict(cloud=cloud, shadow=shadow, snow=snow, water=water, valid=valid)
    return build_scene(refl, valid=valid, sun_zenith=SUN[0], sun_azimuth=SUN[1], view=VIEW), truth


def test_cloud_and_its_matched_shadow(scene_truth) -> None:
    scene, t = scene_truth
    r = run_fmask(scene)
    assert r.fmask.dtype == np.uint8 and r.fmask.shape == (256, 256)
    assert (r.fmask[t["cloud"]] == 4).all()
    np.testing.assert_array_equal(r.layers["cloud"], t["cloud"])
    heights = r.layers["cloud_heights"]
    assert np.isfinite(heights).sum() == 1
    step = 2 * 20.0 / np.tan(np.deg2rad(SUN[0]))
    assert abs(np.nanmax(heights) - HEIGHT) <= step
    assert np.nanmax(heights) == pytest.approx(1963.795, abs=0.01)  # 200 m + 37 steps
    found = r.layers["shadow"]
    assert (found & t["shadow"]).sum() / (found | t["shadow"]).sum() > 0.85
    # Labelled shadow wherever the 3 px cloud buffer does not cover it.
    assert (r.fmask[t["shadow"]] == 2).mean() > 0.75
    assert set(np.unique(r.fmask[t["shadow"]])) <= {2, 4}


def test_snow_water_fill_and_clear_land(scene_truth) -> None:
    scene, t = scene_truth
    r = run_fmask(scene)
    assert (r.fmask[t["snow"]] == 3).all()  # bright snow is not cloud
    assert not r.layers["potential_cloud"][t["snow"]].any()
    assert (r.fmask[t["water"]] == 1).all()
    assert (r.fmask[~t["valid"]] == 255).all() and (r.classes[~t["valid"]] == 0).all()
    assert r.fmask[5:15, 100:200].tolist() == np.zeros((10, 100), np.uint8).tolist()
    # Project codes: land 1, water 5, shadow 3, snow 4, cloud 2.
    for fm, cls in ((0, 1), (1, 5), (2, 3), (3, 4), (4, 2), (255, 0)):
        assert (r.classes[r.fmask == fm] == cls).all()
    counts = np.bincount(r.fmask.ravel(), minlength=256)
    # land, water 40x40, shadow (buffered), snow 30x30, cloud 24x24 + 3 px, fill 4 columns
    assert counts[[0, 1, 2, 3, 4, 255]].tolist() == [60212, 1600, 900, 900, 900, 1024]
    assert r.layers["skipped"] == []


def test_few_clear_pixels_skip_probabilities_and_shadows() -> None:
    refl = paint((64, 64))
    refl[:, 10:20, 10:20] = np.asarray(CLOUD, np.float32)[:, None, None]
    cloud = np.zeros((64, 64), bool)
    cloud[10:20, 10:20] = True
    add_parallax(refl, cloud)
    r = run_fmask(build_scene(refl))
    assert r.layers["skipped"] == ["probabilities", "shadow matching"]
    assert (r.fmask[10:20, 10:20] == 4).all() and not (r.fmask == 2).any()


def test_thresholds_are_taken_from_the_config(scene_truth) -> None:
    scene, t = scene_truth
    r = run_fmask(scene, FmaskConfig(cloud_buffer=0, shadow_buffer=0))
    assert (r.fmask == 4).sum() == t["cloud"].sum()
    assert r.config.cloud_buffer == 0


def test_a_cloud_without_parallax_is_taken_for_a_bright_surface(scene_truth) -> None:
    # Same scene without B07/B08 texture: the 576 px object has no CDI < -0.5 (Frantz 2018).
    scene, t = scene_truth
    refl = scene.reflectance.copy()
    b08, b8a = S2_BANDS.index("B08"), S2_BANDS.index("B8A")
    refl[b08][t["cloud"]] = refl[b8a][t["cloud"]]
    r = run_fmask(dataclasses.replace(scene, reflectance=refl))
    assert r.layers["cloud_before_commission"][t["cloud"]].all()
    assert not r.layers["cloud"].any() and not (r.fmask == 4).any()


def test_bad_inputs_raise_dfmask_errors(scene_truth) -> None:
    scene, _ = scene_truth
    keep = [i for i, b in enumerate(S2_BANDS) if b != "B11"]
    no_swir = dataclasses.replace(scene, reflectance=scene.reflectance[keep],
                                  band_names=tuple(S2_BANDS[i] for i in keep))
    with pytest.raises(BandError, match="B11"):
        run_fmask(no_swir)
    with pytest.raises(ConfigError, match="sun zenith"):
        run_fmask(dataclasses.replace(scene, sun_zenith=float("nan")))
    with pytest.raises(BandError, match="dem"):
        run_fmask(scene, dem=np.zeros((10, 10)))
    with pytest.raises(BandError, match="Scene"):
        run_fmask(scene.reflectance)
    with pytest.raises(ConfigError, match="FmaskConfig"):  # was an AttributeError traceback
        run_fmask(scene, {"cloud_buffer": 0})


def test_pixel_fields_follow_the_scene_resolution() -> None:
    # 80 x 80 px with a 10 x 10 px cloud: 6300 clear pixels. At 20 m that is fewer than
    # Fmask's 40000 (cloud = PCP, no probabilities); at 60 m the same pixels cover 9 times
    # the ground, more than the 4444 px that 40000 px of 20 m make.
    refl = paint((80, 80))
    refl[:, 30:40, 30:40] = np.asarray(CLOUD, np.float32)[:, None, None]
    cloud = np.zeros((80, 80), bool)
    cloud[30:40, 30:40] = True
    add_parallax(refl, cloud)
    at20 = run_fmask(build_scene(refl, resolution=20.0))
    at60 = run_fmask(build_scene(refl, resolution=60.0))
    assert "probabilities" in at20.layers["skipped"]
    assert "probabilities" not in at60.layers["skipped"]
    assert at60.layers["grid_config"].min_clear_pixels == 4444
    assert at60.config == FmaskConfig()  # the config as given is what the result records
    # The 3 px cloud buffer of the 20 m grid is 60 m: 1 px at 60 m, 3 px at 20 m.
    assert at60.layers["cloud"][cloud].all()
    assert (at60.fmask == 4).sum() == 12 * 12
    assert (at20.fmask == 4).sum() == 16 * 16


def test_a_grid_in_degrees_is_refused(scene_truth) -> None:
    from rasterio.crs import CRS

    scene, _ = scene_truth
    with pytest.raises(ConfigError, match="degrees"):
        run_fmask(dataclasses.replace(scene, crs=CRS.from_epsg(4326)))
