"""dfmask_lib.realchecks: the glacier mosaic and point tests on constructed spectra, the suite's
table, and the suite on the real data (cheap peers pinned; a tiny dfmask model: shapes only)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from conftest import fetch_real, fetch_real_dir
from dfmask_lib import realchecks as rc
from dfmask_lib import realdata
from dfmask_lib.classes import CLEAR, CLOUD, SNOW
from dfmask_lib.compare import DfmaskModel
from dfmask_lib.errors import ConfigError
from dfmask_lib.scene import S2_BANDS
from test_compare import tiny_checkpoint

#: TOA spectra (S2 order) like the glacier classes: sunlit snow, rock, a flat bright cloud.
SNOW_SPECTRUM = [0.79, 0.83, 0.80, 0.83, 0.81, 0.78, 0.74, 0.68, 0.68, 0.24, 0.001, 0.017, 0.015]
ROCK_SPECTRUM = [0.26, 0.18, 0.17, 0.16, 0.17, 0.18, 0.19, 0.17, 0.18, 0.09, 0.001, 0.20, 0.19]
CLOUD_SPECTRUM = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.2, 0.05, 0.4, 0.3]


def test_glacier_mosaic_layout():
    refl = np.array([ROCK_SPECTRUM, SNOW_SPECTRUM, SNOW_SPECTRUM], np.float32)
    refl[2, 2] = 0.5                                   # the darker-green snow point first
    scene, centres, order = rc.glacier_mosaic(refl, np.array([4, 1, 1]), patch=4,
                                              sun=(40.0, 150.0))
    assert scene.shape == (8, 8) and scene.band_names == S2_BANDS
    assert order.tolist() == [2, 1, 0]                 # by class, then by B03
    np.testing.assert_array_equal(centres, [[6, 2], [2, 6], [2, 2]])
    for i, (r, c) in enumerate(centres):
        np.testing.assert_array_equal(scene.reflectance[:, r, c], refl[i])
        block = scene.reflectance[:, r - 2:r + 2, c - 2:c + 2]
        assert (block == refl[i][:, None, None]).all()       # uniform patch
    assert scene.valid.sum() == 3 * 16 and not scene.valid[4:, 4:].any()   # empty slot
    assert (scene.sun_zenith, scene.sun_azimuth) == (40.0, 150.0)
    with pytest.raises(ConfigError):
        rc.glacier_mosaic(refl[:, :6], np.array([1, 1, 1]))
    with pytest.raises(ConfigError):
        rc.glacier_mosaic(refl, np.array([1, 1, 1]), patch=0)


def test_fmask_point_tests_on_constructed_spectra():
    tests = rc.fmask_point_tests(np.array([SNOW_SPECTRUM, ROCK_SPECTRUM, CLOUD_SPECTRUM]))
    assert set(tests) == set(rc.FMASK_TESTS)
    assert tests["potential snow"].tolist() == [True, False, False]
    assert tests["basic cloud"].tolist() == [False, True, True]   # bright rock passes too
    assert tests["water"].tolist() == [False, False, False]
    dim = np.array([SNOW_SPECTRUM]) * np.float32(0.15)            # shadowed: B8A 0.10 < 0.11
    assert not rc.fmask_point_tests(dim)["potential snow"][0]


def fake_glacier(pred: np.ndarray, claims=frozenset({1, 2, 3, 4, 5})) -> rc.GlacierChecks:
    point_class = np.array([1, 1, 2, 3, 4, 4])
    expected = np.array([SNOW, SNOW, SNOW, SNOW, CLEAR, CLEAR], np.uint8)
    tests = {"potential snow": np.array([True, True, False, True, True, False]),
             "basic cloud": np.zeros(6, bool), "water": np.zeros(6, bool)}
    return rc.GlacierChecks(point_class, expected, {"m": np.asarray(pred, np.uint8)},
                            {"m": frozenset(claims)}, {}, tests, None, 4)


def test_glacier_accuracy_and_point_tests():
    g = fake_glacier([SNOW, CLOUD, SNOW, 0, CLEAR, SNOW])
    acc = g.accuracy("m")
    assert acc["snow"] == 0.5 and acc["shadowed snow"] == 1.0 and acc["rock"] == 0.5
    assert math.isnan(acc["glacier ice"]) and math.isnan(acc["mean"])   # no answer at all
    assert acc["called cloud"] == pytest.approx(1 / 5)
    cloud_only = fake_glacier([CLOUD, 1, 1, 1, 1, 1], claims={CLOUD}).accuracy("m")
    assert math.isnan(cloud_only["snow"]) and cloud_only["called cloud"] == pytest.approx(1 / 6)
    snow = g.snow_test_accuracy()
    assert (snow["snow"], snow["shadowed snow"], snow["glacier ice"], snow["rock"]) == \
        (1.0, 0.0, 1.0, 0.5)
    assert snow["mean"] == 0.625
    rows = g.test_rows()
    assert [r["test"] for r in rows] == list(rc.FMASK_TESTS)
    assert rows[0]["rock pass %"] == 50.0 and rows[0]["snow pass %"] == 100.0


def test_run_real_checks_refuses_unknown_checks():
    with pytest.raises(ConfigError, match="unknown checks"):
        rc.run_real_checks("hollstein", checks=("ukis", "nowhere"))
    with pytest.raises(ConfigError, match="no methods"):
        rc.run_real_checks([], checks=("ukis",))


# --------------------------------------------------------------------------- real data


def _need_real_data():
    fetch_real(realdata.UKIS_CHIP)
    fetch_real(realdata.BETSIBOKA)
    fetch_real_dir(realdata.SVG18)
    fetch_real(f"{realdata.GLACIER_POINTS}/Sentinel-2_TOA_training_data.csv")
    fetch_real(f"{realdata.GLACIER_POINTS}/Sentinel-2_SR_training_data.csv")


@pytest.fixture(scope="module")
def suite():
    _need_real_data()
    return rc.run_real_checks("fmask-b08,hollstein,hollstein-bayes", repeats=1)


# The pinned rows (6 decimals; NaN where a check does not apply or the method is skipped).
PINNED = {
    "Fmask 4 (dfmask), B08 as B8A": {
        "ukis OA": 0.697304, "ukis cloud IoU": 0.434946, "ukis shadow IoU": 0.177883,
        "ukis water IoU": 0.082353, "ukis land IoU": 0.66259, "ukis cloud missed %": 9.518721,
        "ukis cloud called land %": 6.897595, "ukis-20m OA": 0.685449,
        "ukis-20m cloud IoU": 0.42936, "18SVG false cloud %": 0.547542,
        "Betsiboka cloud IoU": 0.880852, "glacier snow acc": 0.999226,
        "glacier shadowed snow acc": 0.309756, "glacier glacier ice acc": 0.964242,
        "glacier rock acc": 0.886561, "glacier mean acc": 0.789946,
        "glacier called cloud %": 1.683735},
    "Hollstein 2016 decision tree": {
        "ukis OA": math.nan, "18SVG false cloud %": 0.004814, "Betsiboka cloud IoU": 0.605475,
        "glacier snow acc": 0.970577, "glacier shadowed snow acc": 0.002439,
        "glacier glacier ice acc": 0.086313, "glacier rock acc": 0.809402,
        "glacier called cloud %": 0.173581},
    "Hollstein-trained Bayes (sicor file)": {
        "ukis OA": math.nan, "18SVG false cloud %": 0.069218, "Betsiboka cloud IoU": 0.754398,
        "glacier snow acc": 0.947307, "glacier shadowed snow acc": 0.002439,
        "glacier glacier ice acc": 0.019729, "glacier rock acc": 0.80999,
        "glacier called cloud %": 3.586351},
    "Fmask potential snow test (ZW12 eq. 20), per point": {
        "ukis OA": math.nan, "glacier snow acc": 1.0, "glacier shadowed snow acc": 0.309756,
        "glacier glacier ice acc": 0.964242, "glacier rock acc": 0.956566,
        "glacier mean acc": 0.807641},
}


def test_real_checks_cheap_peers_pinned(suite):
    table = suite.table()
    assert [r["method"] for r in table] == list(PINNED)
    assert all(list(r) == list(rc.COLUMNS) for r in table)
    for row in table:
        for col, want in PINNED[row["method"]].items():
            got = row[col]
            assert type(got) is float, (row["method"], col, type(got))
            if math.isnan(want):
                assert math.isnan(got), (row["method"], col)
            else:
                assert got == pytest.approx(want, abs=2e-6), (row["method"], col)
    fmask, tree = table[0], table[1]
    assert fmask["ukis scored on"] == "all classes" and fmask["skipped"] == ""
    assert tree["skipped"].startswith("ukis: Hollstein 2016 decision tree needs bands B01")
    tests = {r["test"]: r for r in suite.fmask_tests()}
    assert tests["potential snow"]["shadowed snow pass %"] == pytest.approx(30.97561, abs=1e-4)
    assert tests["basic cloud"]["rock pass %"] == pytest.approx(80.78692, abs=1e-4)
    assert tests["water"]["shadowed snow pass %"] == pytest.approx(55.36585, abs=1e-4)


def test_real_checks_writers(suite, tmp_path):
    suite.to_csv(tmp_path / "checks.csv")
    with open(tmp_path / "checks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == list(PINNED) and list(rows[0]) == list(rc.COLUMNS)
    suite.to_json(tmp_path / "checks.json")
    data = json.loads((tmp_path / "checks.json").read_text())
    assert data["checks"] == list(rc.CHECKS) and len(data["table"]) == len(PINNED)
    assert data["table"][1]["ukis OA"] is None                    # NaN -> null
    assert set(data["comparisons"]) == {"ukis", "ukis-20m", "18svg", "betsiboka"}
    assert data["glacier"]["patch_px"] == rc.GLACIER_PATCH
    assert [r["test"] for r in data["fmask_point_tests"]] == list(rc.FMASK_TESTS)


def test_real_checks_with_a_tiny_dfmask_model(tmp_path, one_torch_thread):
    fetch_real(realdata.UKIS_CHIP)
    fetch_real(f"{realdata.GLACIER_POINTS}/Sentinel-2_TOA_training_data.csv")
    tiny_checkpoint(tmp_path / "exp" / "stage2")
    model = DfmaskModel(tmp_path / "exp" / "stage2", device="cpu")
    checks = rc.run_real_checks([model], checks=("ukis", "glacier"), glacier_patch=4)
    (row, snow_row) = checks.table()
    assert list(row) == list(rc.COLUMNS) and row["method"] == "dfmask stage 2"
    assert row["skipped"] == "" and row["ukis scored on"] == "all classes"
    assert 0.0 <= row["ukis OA"] <= 1.0
    assert math.isnan(row["ukis-20m OA"]) and math.isnan(row["18SVG false cloud %"])
    accs = [row[f"glacier {c} acc"] for c in ("snow", "shadowed snow", "glacier ice", "rock")]
    assert all(0.0 <= a <= 1.0 for a in accs)
    pred = checks.glacier.predictions[model.name]
    assert pred.shape == (5761,) and pred.dtype == np.uint8
    assert set(np.unique(pred)) <= {1, 2, 3, 4, 5}
    assert snow_row["method"].startswith("Fmask potential snow test")
    assert set(checks.comparisons) == {"ukis"}


def test_ran_only_drops_methods_that_ran_nowhere():
    _need_real_data()
    from dfmask_lib.peers import KappaMask, OwnFmaskB08

    got = rc.run_real_checks([KappaMask, OwnFmaskB08], checks=("ukis-20m",))
    assert [r["method"] for r in got.table()] == ["KappaMask", "Fmask 4 (dfmask), B08 as B8A"]
    assert [r["method"] for r in got.table(ran_only=True)] == ["Fmask 4 (dfmask), B08 as B8A"]
