"""The generator: classes present, determinism, shadow geometry, config checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dfmask_lib.classes import CLASS_CODES, CLOUD, NODATA, SHADOW
from dfmask_lib.errors import ConfigError
from dfmask_lib.geometry import shadow_offset
from dfmask_lib.synthetic.scene import SynthConfig, field_parcels, generate
from dfmask_lib.synthetic.spectra import SURFACE_CLASS, SURFACES, TEMPERATE_SURFACES


#: Class counts of the default config at 120 px (seed 0); a change here changes every split.
PINNED_COUNTS = [1062, 2111, 4627, 1425, 4019, 1156]


def _shift(mask: np.ndarray, drow: int, dcol: int) -> np.ndarray:
    """``mask`` moved by (drow, dcol) pixels, zero-filled (no wrap-around)."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    out[max(drow, 0):h + min(drow, 0), max(dcol, 0):w + min(dcol, 0)] = \
        mask[max(-drow, 0):h - max(drow, 0), max(-dcol, 0):w - max(dcol, 0)]
    return out


@pytest.fixture(scope="module")
def default_small():
    return generate(SynthConfig(size=120))


def test_contract_of_the_arrays(default_small):
    s = default_small
    assert s.reflectance.shape == (13, 120, 120) and s.reflectance.dtype == np.float32
    assert s.truth.dtype == np.uint8 and s.truth.shape == (120, 120)
    assert (s.reflectance[:, ~s.valid] == 0).all()
    np.testing.assert_array_equal(s.truth == NODATA, ~s.valid)


def test_every_class_is_present_with_the_default_mix(default_small):
    counts = np.bincount(default_small.truth.ravel(), minlength=6)
    assert set(np.flatnonzero(counts)) == set(CLASS_CODES)
    assert counts.tolist() == PINNED_COUNTS


def test_same_seed_same_arrays_different_seed_differs():
    a, b = generate(SynthConfig(size=60, seed=5)), generate(SynthConfig(size=60, seed=5))
    c = generate(SynthConfig(size=60, seed=6))
    np.testing.assert_array_equal(a.reflectance, b.reflectance)
    np.testing.assert_array_equal(a.truth, b.truth)
    assert not np.array_equal(a.reflectance, c.reflectance)


def test_isolated_cloud_shadow_sits_at_the_geometric_offset():
    cfg = SynthConfig(size=192, seed=11, cloud_cover=0.001, cloud_mix=(1, 0, 0, 0),
                      nodata_wedge=False, sun_zenith=55.0, sun_azimuth=150.0)
    s = generate(cfg)
    assert len(s.clouds) == 1
    cloud = s.clouds[0]
    r, c = cloud.centre
    dr, dc = shadow_offset(cloud.height_m, cfg.sun_zenith, cfg.sun_azimuth,
                           float(s.view_zenith[r, c]), cfg.view_azimuth, cfg.resolution)
    assert (cloud.drow, cloud.dcol) == (round(dr), round(dc))
    assert cloud.drow < 0  # sun in the south: the shadow falls northwards (up the image)
    is_cloud = s.truth == CLOUD
    shifted = _shift(is_cloud, cloud.drow, cloud.dcol)
    np.testing.assert_array_equal(s.truth == SHADOW, shifted & ~is_cloud)
    assert (s.truth == SHADOW).sum() > 20


def test_cloud_shadow_darkens_and_terrain_shadow_keeps_the_class():
    cfg = SynthConfig(size=120, seed=3, cloud_mix=(1, 0, 0, 0), nodata_wedge=False)
    cloudy, clear = generate(cfg), generate(replace(cfg, cloud_cover=0.0))
    shadow = cloudy.truth == SHADOW
    b8a = 8
    assert cloudy.reflectance[b8a][shadow].mean() < 0.5 * clear.reflectance[b8a][shadow].mean()
    assert not np.isin(clear.truth, [CLOUD, SHADOW]).any()
    # Terrain-shadowed pixels (illumination 0) keep their surface class.
    dark = clear.illumination == 0
    assert dark.any() and not (clear.truth[dark] == SHADOW).any()


@pytest.mark.parametrize("bad, match", [
    (dict(size=100), "multiple of 6"),
    (dict(size=12), "multiple of 6"),
    (dict(water_level=1.5), "water_level"),
    (dict(cloud_mix=(1, 0)), "cloud_mix"),
    (dict(sun_zenith=85.0), "sun_zenith"),
    (dict(view_zenith_far=30.0), "view_zenith_far"),
    (dict(landscape="tropical"), "landscape"),
    (dict(field_mix=(1, 0)), "field_mix"),
    (dict(forest_fraction=1.5), "forest_fraction"),
    (dict(field_size_px=1.0), "field_size_px"),
])
def test_impossible_configs_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        SynthConfig(**bad)


def test_cloud_blend_is_clipped_at_the_scene_edges():
    from dfmask_lib.synthetic.scene import _blend

    refl = np.ones((2, 4, 4), np.float32)
    cloud = np.full((2, 3, 3), 3.0, np.float32)
    a = np.full((1, 3, 3), 0.5, np.float32)
    _blend(refl, cloud, a, -1, 2)  # window hangs off the top and the right edge
    expected = np.ones((2, 4, 4), np.float32)
    expected[:, 0:2, 2:4] = 2.0     # 0.5 * 3 + 0.5 * 1
    np.testing.assert_array_equal(refl, expected)
    _blend(refl, cloud, a, 10, 10)  # entirely outside: nothing changes
    np.testing.assert_array_equal(refl, expected)


TEMPERATE = SynthConfig(size=120, landscape="temperate", snowline=1.0, glacier_band=0.0)
#: Class and surface counts of TEMPERATE (seed 0); pinned like PINNED_COUNTS.
PINNED_TEMPERATE_COUNTS = [1062, 6988, 4344, 1416, 0, 590]
PINNED_TEMPERATE_SURFACES = {"open_water": 864, "turbid_meltwater": 576, "cropland": 3886,
                             "forest": 4198, "sparse_vegetation": 2441, "bare_soil": 1905,
                             "urban": 530}


@pytest.fixture(scope="module")
def temperate_small():
    return generate(TEMPERATE)


def test_temperate_scene_is_deterministic_and_has_the_new_surfaces(temperate_small):
    s = temperate_small
    again = generate(TEMPERATE)
    np.testing.assert_array_equal(s.reflectance, again.reflectance)
    np.testing.assert_array_equal(s.truth, again.truth)
    counts = np.bincount(s.surface.ravel(), minlength=len(SURFACES))
    assert {SURFACES[i]: int(counts[i]) for i in np.flatnonzero(counts)} == \
        PINNED_TEMPERATE_SURFACES
    assert np.bincount(s.truth.ravel(), minlength=6).tolist() == PINNED_TEMPERATE_COUNTS


def test_temperate_labels_follow_the_same_rules(temperate_small):
    s = temperate_small
    c = s.config
    expected = np.array([SURFACE_CLASS[n] for n in SURFACES], np.uint8)[s.surface]
    expected[s.shadow_tau > c.cloud_tau] = SHADOW
    expected[s.cloud_tau > c.cloud_tau] = CLOUD
    expected[~s.valid] = NODATA
    np.testing.assert_array_equal(s.truth, expected)
    assert set(np.unique(s.surface[np.isin(s.truth, [1])])) <= {
        SURFACES.index(n) for n in TEMPERATE_SURFACES}


def test_thin_cloud_over_vegetation_shows_the_red_edge(temperate_small):
    # Real semi-transparent cloud over vegetation is brighter in B08 than B02 (training-allowed
    # scenes: ALCD Toulouse 2024-03-05 B02 0.475 / B08 0.614; eo-learn Slovenia frame 0
    # 0.30 / 0.40): the tau blending reproduces it once vegetation lies under the cloud.
    s = temperate_small
    veg = np.isin(s.surface, [SURFACES.index("cropland"), SURFACES.index("forest")])
    thin = (s.cloud_tau > s.config.cloud_tau) & (s.cloud_tau < 1.5) & veg
    assert thin.sum() > 500
    ratio = np.median(s.reflectance[7][thin]) / np.median(s.reflectance[1][thin])
    assert ratio == pytest.approx(1.22, abs=0.02)
    # Enough semi-transparent labelled cloud: over half of it has tau < 2 (surface share > 13 %).
    tau = s.cloud_tau[s.truth == CLOUD]
    assert (tau < 2.0).mean() == pytest.approx(0.546, abs=0.001)


def test_mixed_landscape_keeps_snow_and_polar_is_unchanged(default_small):
    mixed = generate(SynthConfig(size=120, landscape="mixed"))
    counts = np.bincount(mixed.surface.ravel(), minlength=len(SURFACES))
    assert counts[SURFACES.index("fresh_snow")] > 0 and counts[SURFACES.index("tundra")] > 0
    assert counts[[SURFACES.index(n) for n in TEMPERATE_SURFACES]].sum() > 0
    # Snow, ice and water are where the polar scene has them; only snow-free ground changes.
    polar = default_small
    keep = ~np.isin(polar.surface, [SURFACES.index(n) for n in ("rock_moraine", "tundra")])
    np.testing.assert_array_equal(mixed.surface[keep], polar.surface[keep])
    assert not np.isin(polar.surface, [SURFACES.index(n) for n in TEMPERATE_SURFACES]).any()


def test_field_parcels_are_rectangular_patches():
    ids = field_parcels(np.random.default_rng(0), (96, 96), 12.0)
    sizes = np.bincount(np.unique(ids, return_inverse=True)[1].ravel())
    assert ids.shape == (96, 96) and len(sizes) > 10
    assert np.median(sizes) > 50  # parcels of ~12 x 24 px, cut by the scene edge


def test_two_stream_cloud_keeps_the_red_edge_of_vegetation():
    """Under the two-stream model labelled cloud over farmland is brighter in B08 than in B02,
    as real cumulus over vegetation is; under Beer-Lambert it is as flat as the cloud itself."""
    from dfmask_lib.synthetic.clouds import label_tau
    from dfmask_lib.synthetic.splits import SETTINGS

    assert SETTINGS["temperate_lowland"]["cloud_model"] == "two_stream"
    ratios = {}
    for model in ("beer_lambert", "two_stream"):
        c = SynthConfig(size=120, seed=3, sun_zenith=35.0,
                        **{**SETTINGS["temperate_lowland"], "cloud_model": model})
        s = generate(c)
        cloud = s.truth == CLOUD
        np.testing.assert_array_equal(cloud, (s.cloud_tau > label_tau(c.cloud_tau, model))
                                      & s.valid)
        ratios[model] = float(np.median(s.reflectance[7][cloud] / s.reflectance[1][cloud]))
    assert ratios == pytest.approx({"beer_lambert": 1.0525, "two_stream": 1.1485}, abs=1e-3)
    with pytest.raises(ConfigError, match="cloud_model"):
        SynthConfig(cloud_model="mie")
