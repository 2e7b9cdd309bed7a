"""Splits: distinct locations and tiles, sun positions, MGRS ids, the written layout."""

from __future__ import annotations

import json

import pytest

from dfmask_lib.config import config_from_dict, load_config
from dfmask_lib.reader import read_labels
from dfmask_lib.synthetic.scene import SynthConfig, generate
from dfmask_lib.errors import ConfigError
from dfmask_lib.synthetic.splits import (LOCATIONS, SETTINGS, SPLITS, TEMPERATE_LOCATIONS,
                                         SplitsConfig, ensure_splits, mgrs_tile, scene_plan,
                                         sun_position, utm_epsg, write_splits)


def test_default_plan_never_shares_a_location_or_tile_between_splits():
    plan = scene_plan(SplitsConfig())
    assert [len(plan[s]) for s in SPLITS] == [16, 4, 4]
    tiles = [info.tile_id for s in SPLITS for _, info in plan[s]]
    places = [info.location for s in SPLITS for _, info in plan[s]]
    assert len(set(tiles)) == len(tiles) == 24 and len(set(places)) == 24
    for s in SPLITS:
        for synth, info in plan[s]:
            assert info.epsg == utm_epsg(*next((l.lat, l.lon) for l in LOCATIONS
                                               if l.name == info.location))
            assert 15.0 < synth.sun_zenith < 75.0
            assert "2019-10-01" <= info.sensing_time[:10] <= "2021-01-31"


def test_every_location_has_a_known_setting():
    assert {loc.setting for loc in LOCATIONS + TEMPERATE_LOCATIONS} <= set(SETTINGS)


def test_temperate_share_replaces_the_first_scenes_of_each_split_only():
    polar = scene_plan(SplitsConfig())
    mixed = scene_plan(SplitsConfig(temperate_share=0.25))
    temperate_names = {loc.name for loc in TEMPERATE_LOCATIONS}
    tiles = [info.tile_id for s in SPLITS for _, info in mixed[s]]
    assert len(set(tiles)) == len(tiles) == 24
    for split, n_temperate in zip(SPLITS, (4, 1, 1)):
        for j, ((a, ia), (b, ib)) in enumerate(zip(polar[split], mixed[split])):
            if j < n_temperate:
                assert ib.location in temperate_names and b.landscape != "polar"
            else:
                assert (a, ia) == (b, ib)  # untouched scenes are exactly the polar ones
    assert all(s.landscape == "polar" for sp in SPLITS for s, _ in polar[sp])


@pytest.mark.parametrize("lat, lon, expected", [
    (46.5, 8.0, "32TMS"),     # Aletsch Glacier: real Sentinel-2 tile 32TMS
    (45.9, 6.9, "32TLR"),     # Mont Blanc: real tile 32TLR
    (43.6, 1.44, "31TCJ"),    # Toulouse: the ALCD fixture's tile 31TCJ
])
def test_mgrs_tile_matches_real_sentinel2_tiles(lat, lon, expected):
    from rasterio.warp import transform
    epsg = utm_epsg(lat, lon)
    xs, ys = transform("EPSG:4326", f"EPSG:{epsg}", [lon], [lat])
    assert mgrs_tile(lat, lon, xs[0], ys[0]) == expected


def test_sun_position_at_10_30_local_time():
    # By hand: cos z = sin(lat) sin(decl) + cos(lat) cos(decl) cos(-22.5 deg).
    zen, az = sun_position(46.5, 172)  # Alps, June solstice (decl +23.44): 0.8721 -> 29.3 deg
    assert zen == pytest.approx(29.3, abs=0.1) and 110 < az < 160  # south-east, morning
    zen, az = sun_position(-77.6, 355)  # Dry Valleys, December solstice: 0.5705 -> 55.2 deg
    assert zen == pytest.approx(55.2, abs=0.1) and 0 < az < 90  # sun in the north-east


def test_write_splits_layout_and_reuse(tmp_path):
    out = write_splits(tmp_path / "s", 1, 1, 1, size=48, seed=2, progress=False)
    assert [len(out[s]) for s in SPLITS] == [1, 1, 1]
    for s in SPLITS:
        product = out[s][0]
        assert product.parent.name == s and product.suffix == ".SAFE" and product.is_dir()
        meta = json.loads((product / "dfmask_synth.json").read_text())
        assert meta["config"]["size"] == 48
        # The saved config alone regenerates the product's truth.
        truth, _ = read_labels(next(product.glob("GRANULE/*/IMG_DATA/*_LABELS.tif")))
        again = generate(config_from_dict(SynthConfig, meta["config"]))
        assert (again.truth == truth).all()
    assert load_config(SplitsConfig, tmp_path / "s" / "synth_splits.json") == SplitsConfig(1, 1, 1, 48, 2)
    mtime = out["TEST"][0].stat().st_mtime_ns
    again = ensure_splits(tmp_path / "s", 1, 1, 1, size=48, seed=2, progress=False)
    assert again == out and out["TEST"][0].stat().st_mtime_ns == mtime  # reused, not rewritten
    with pytest.raises(ConfigError, match="not empty"):
        write_splits(tmp_path / "s", 1, 0, 0, size=48, seed=2, progress=False)


@pytest.mark.parametrize("args, match", [
    ((-1, 1, 1, 48), "n_train"),
    ((0, 0, 0, 48), "at least one"),
    ((30, 3, 3, 48), "distinct"),
    ((1, 1, 1, 50), "multiple of 6"),
])
def test_impossible_requests_are_refused(args, match):
    with pytest.raises(ConfigError, match=match):
        SplitsConfig(*args)


@pytest.mark.parametrize("share, match", [(1.5, "temperate_share"),
                                          (1.0, "temperate locations")])
def test_impossible_temperate_shares_are_refused(share, match):
    with pytest.raises(ConfigError, match=match):
        SplitsConfig(temperate_share=share)  # 24 scenes, 14 temperate locations


@pytest.mark.parametrize("split", [pytest.param("TRAIN", marks=pytest.mark.slow),
                                   "VALIDATION", "TEST"])
def test_every_class_is_present_in_each_default_split(split):
    # Issue 4: per-class IoU on the default splits needs every class in each of them.
    import numpy as np

    from dfmask_lib.classes import CLASS_CODES

    counts = np.zeros(len(CLASS_CODES), np.int64)
    for synth, _ in scene_plan(SplitsConfig())[split]:
        counts += np.bincount(generate(synth).truth.ravel(), minlength=len(CLASS_CODES))
    assert (counts > 0).all(), counts.tolist()
