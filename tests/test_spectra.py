"""dfmask_lib.spectra (per-class spectra, error sources), the glacier / Barbellino loaders of
dfmask_lib.realdata and plots.spectra_figure: constructed inputs, then the real data pinned."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure

from conftest import fetch_real
from dfmask_lib import plots, realdata
from dfmask_lib import spectra as sp
from dfmask_lib.classes import CLEAR, CLOUD, SHADOW, SNOW, WATER
from dfmask_lib.errors import BandError, ConfigError, LabelError
from dfmask_lib.fmask.product import array_scene
from dfmask_lib.scene import S2_BANDS

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")


def small_scene():
    """3 x 4 px, 6 bands: band k holds (k + 1) / 10 + pixel index / 1000; pixel (0, 0) no data."""
    idx = np.arange(12, dtype=np.float32).reshape(3, 4)
    refl = np.stack([(k + 1) / 10 + idx / 1000 for k in range(len(BANDS))]).astype(np.float32)
    refl[:, 0, 0] = 0
    return array_scene(refl, resolution=20, sun_zenith=30, sun_azimuth=150, band_names=BANDS)


# --------------------------------------------------------------------------- constructed


def test_point_spectra_pins_the_quantiles():
    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [9.0, np.nan]])
    labels = np.array([2, 2, 2, 2, 0])
    (row,) = sp.point_spectra(values, labels, ("B02", "B8A"), source="made")
    assert (row["source"], row["class"], row["class_name"], row["n"]) == ("made", 2, "cloud", 4)
    assert (row["B02 q25"], row["B02 median"], row["B02 q75"]) == (1.75, 2.5, 3.25)
    assert row["B8A median"] == 25.0
    assert np.isnan(row["B01 median"]) and np.isnan(row["B12 q75"])      # band not in source
    assert set(row) == {"source", "class", "class_name", "n",
                        *(sp.band_key(b, s) for b in S2_BANDS for s in sp.STATISTICS)}
    # NaN samples are left out per band; other labels and codes
    values[1, 1] = np.nan
    rows = sp.point_spectra(values, np.array([7, 7, 7, 3, 3]), ("B02", "B8A"), source="x",
                            names={7: "seven"}, codes={7: SNOW, 3: CLEAR})
    assert [(r["class"], r["class_name"], r["n"]) for r in rows] == [(CLEAR, "3", 2),
                                                                     (SNOW, "seven", 3)]
    assert rows[1]["B8A median"] == 20.0 and rows[0]["B02 median"] == 6.5


@pytest.mark.parametrize(("values", "labels", "bands", "error"), [
    (np.zeros((3, 2)), np.zeros(3), ("B02",), BandError),
    (np.zeros((3, 1)), np.zeros(2), ("B02",), BandError),
    (np.zeros((3, 1)), np.zeros(3), ("B13",), BandError),
])
def test_point_spectra_refuses_bad_input(values, labels, bands, error):
    with pytest.raises(error):
        sp.point_spectra(values, labels, bands, source="x")


def test_class_spectra_leaves_out_no_data_and_unlabelled():
    scene = small_scene()
    classes = np.array([[CLOUD, CLOUD, CLOUD, 0], [CLEAR, CLEAR, CLEAR, CLEAR],
                        [WATER, WATER, WATER, WATER]], np.uint8)
    rows = sp.class_spectra(scene, classes, source="small")
    assert [(r["class"], r["n"]) for r in rows] == [(CLEAR, 4), (CLOUD, 2), (WATER, 4)]
    cloud = rows[1]
    assert cloud["B02 median"] == pytest.approx(0.1 + 1.5 / 1000)       # pixels 1 and 2
    assert cloud["B12 median"] == pytest.approx(0.6 + 1.5 / 1000)
    assert rows[0]["B08 q25"] == pytest.approx(0.4 + 4.75 / 1000)       # pixels 4..7
    with pytest.raises(LabelError, match="on the scene's grid"):
        sp.class_spectra(scene, classes[:2], source="x")
    with pytest.raises(LabelError):
        sp.class_spectra(scene, classes.astype(float), source="x")


def test_synthetic_spectra_pools_scenes():
    scene = small_scene()
    truth = np.full(scene.shape, SNOW, np.uint8)
    fake = SimpleNamespace(reflectance=np.full((13, 2, 2), 0.5, np.float32),
                           truth=np.array([[SNOW, SNOW], [CLOUD, 0]], np.uint8),
                           valid=np.ones((2, 2), bool))
    rows = sp.synthetic_spectra([fake], source="syn")
    assert [(r["class"], r["n"], r["B10 median"]) for r in rows] == [(CLOUD, 1, 0.5),
                                                                    (SNOW, 2, 0.5)]
    rows = sp.synthetic_spectra([(scene, truth), (scene, truth)])
    assert rows[0]["n"] == 22 and rows[0]["source"] == "synthetic"
    with pytest.raises(BandError, match="different bands"):
        sp.synthetic_spectra([(scene, truth), fake])
    with pytest.raises(LabelError):
        sp.synthetic_spectra([])


def test_synthetic_spectra_of_generated_scenes():
    from dfmask_lib.synthetic import SynthConfig, generate

    scene = generate(SynthConfig(size=60, seed=3))
    rows = sp.synthetic_spectra([scene])
    assert sum(r["n"] for r in rows) == int(((scene.truth > 0) & scene.valid).sum())
    assert all(np.isfinite(r[sp.band_key(b)]) for r in rows for b in S2_BANDS)


def test_svg18_rule_splits_by_ndwi():
    refl = np.full((6, 1, 3), 0.1, np.float32)
    refl[1] = [[0.10, 0.05, 0.05]]            # B03
    refl[3] = [[0.05, 0.05, 0.10]]            # B08: NDWI > 0, = 0, < 0
    scene = array_scene(refl, resolution=20, sun_zenith=30, sun_azimuth=150, band_names=BANDS)
    np.testing.assert_array_equal(sp.svg18_classes(scene), [[WATER, CLEAR, CLEAR]])
    assert "NDWI" in sp.SVG18_WATER_RULE and "McFeeters" in sp.SVG18_WATER_RULE


def test_error_sources_counts_and_shares():
    truth = np.array([CLOUD] * 6 + [CLEAR] * 4 + [SHADOW, 0])
    pred = np.array([CLEAR] * 3 + [CLOUD] * 2 + [WATER] + [CLEAR] * 3 + [CLOUD] + [0, CLEAR])
    rows = sp.error_sources(truth, pred)
    assert [(r["truth"], r["predicted"], r["pixels"]) for r in rows] == [
        ("cloud", "clear land", 3), ("clear land", "cloud", 1), ("cloud", "water", 1)]
    assert rows[0]["share of truth class"] == 0.5 and rows[0]["share of errors"] == 0.6
    assert rows[1]["share of truth class"] == 0.25
    full = sp.error_sources(truth, pred, include_correct=True)
    diag = [r for r in full if r["truth code"] == r["predicted code"]]
    assert [(r["truth code"], r["pixels"]) for r in diag] == [(CLEAR, 3), (CLOUD, 2)]
    assert all(np.isnan(r["share of errors"]) for r in diag)
    valid = np.ones(truth.shape, bool)
    valid[:3] = False
    assert sp.error_sources(truth, pred, valid=valid)[0]["pixels"] == 1
    with pytest.raises(LabelError):
        sp.error_sources(truth, pred[:3])


def test_spectrum_lookup():
    rows = sp.point_spectra(np.array([[1.0], [2.0]]), np.array([2, 2]), ("B02",), source="s")
    assert sp.spectrum(rows, "s", CLOUD) == {"B02": 1.5}
    with pytest.raises(LabelError):
        sp.spectrum(rows, "s", CLEAR)


def test_spectra_figure_one_panel_per_class():
    rows = (sp.point_spectra(np.array([[0.4, 0.6], [0.5, 0.7]]), np.array([2, 1]),
                             ("B02", "B08"), source="real")
            + sp.point_spectra(np.array([[0.4, 0.4]]), np.array([2]), ("B02", "B08"),
                               source="synthetic"))
    fig = plots.spectra_figure(rows, title="t")
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["1 clear land", "2 cloud"]
    assert len(visible[1].lines) == 2 and [t.get_text() for t in visible[1].get_xticklabels()] \
        == ["B02", "B08"]
    fig = plots.spectra_figure(rows, classes=[CLOUD], sources=["synthetic"], ncols=1)
    assert len([ax for ax in fig.axes if ax.get_visible()][0].lines) == 1
    with pytest.raises(LabelError):
        plots.spectra_figure(rows, classes=[SNOW])


# --------------------------------------------------------------------------- real data, pinned


@pytest.fixture(scope="module")
def glacier():
    fetch_real(f"{realdata.GLACIER_POINTS}/Sentinel-2_TOA_training_data.csv")
    fetch_real(f"{realdata.GLACIER_POINTS}/Sentinel-2_SR_training_data.csv")
    return realdata.glacier_points()


def test_glacier_points_loader(glacier):
    assert len(glacier) == 5761 and glacier.reflectance.shape == (5761, 13)
    assert glacier.reflectance.dtype == np.float32
    assert np.bincount(glacier.point_class).tolist() == [0, 2583, 410, 811, 1957]
    assert np.bincount(glacier.classes).tolist() == [0, 1957, 0, 0, 3804]
    assert set(glacier.site) == {"Gulkana", "Wolverine"}
    assert not np.isnan(glacier.reflectance).any()
    # the column shift: B10 (the file's "B11") is the cirrus band, ~0.001
    b10, b11 = glacier.reflectance[:, 10], glacier.reflectance[:, 11]
    assert float(np.median(b10)) == pytest.approx(0.0011, abs=1e-6)
    assert float(b10.max()) < 0.005
    path = fetch_real(f"{realdata.GLACIER_POINTS}/Sentinel-2_TOA_training_data.csv")
    with open(path, newline="") as fh:
        first = next(csv.DictReader(fh))
    assert b10[0] == np.float32(first["B11"]) and b11[0] == np.float32(first["B12"])
    # B12 filled with the class-mean SR ratio (as spectra.csv's notes state)
    assert glacier.b12_ratio == pytest.approx({1: 0.881, 2: 1.034, 3: 0.962, 4: 0.962}, abs=5e-4)
    np.testing.assert_allclose(glacier.reflectance[0, 12], b11[0] * glacier.b12_ratio[1],
                               rtol=1e-6)
    assert "SR B12" in glacier.b12_rule


def test_glacier_spectra_pinned(glacier):
    rows = sp.glacier_spectra()
    assert [(r["class"], r["class_name"], r["n"]) for r in rows] == [
        (SNOW, "snow/ice: snow", 2583), (SNOW, "snow/ice: shadowed snow", 410),
        (SNOW, "snow/ice: glacier ice", 811), (CLEAR, "clear land: rock/debris", 1957)]
    snow, shadowed, ice, rock = rows
    assert snow["B02 median"] == pytest.approx(0.843, abs=5e-4)
    assert snow["B11 median"] == pytest.approx(0.016, abs=5e-4)
    assert shadowed["B8A median"] == pytest.approx(0.101, abs=5e-4)   # under Fmask's 0.11
    assert ice["B02 median"] == pytest.approx(0.353, abs=5e-4)
    assert rock["B11 median"] == pytest.approx(0.230, abs=5e-4)
    merged = sp.glacier_spectra(by_point_class=False)
    assert [(r["class"], r["n"]) for r in merged] == [(CLEAR, 1957), (SNOW, 3804)]


def test_ukis_cloud_spectrum_pinned():
    fetch_real(realdata.UKIS_CHIP)
    rows = sp.ukis_spectra(10)
    assert [(r["class"], r["n"]) for r in rows] == [(CLEAR, 183124), (CLOUD, 49597),
                                                    (SHADOW, 28583), (WATER, 840)]
    cloud = sp.spectrum(rows, rows[1]["source"], CLOUD)
    # issue 11: real cloud is brighter in NIR than in blue (vegetation seen through it)
    assert cloud["B02"] == pytest.approx(0.4172, abs=1e-4)
    assert cloud["B08"] == pytest.approx(0.5899, abs=1e-4)
    assert set(cloud) == set(BANDS)
    land = sp.spectrum(rows, rows[0]["source"], CLEAR)
    assert land["B02"] == pytest.approx(0.1175, abs=1e-4)
    assert land["B08"] == pytest.approx(0.4349, abs=1e-4)


def test_betsiboka_and_svg18_spectra_pinned():
    fetch_real(realdata.BETSIBOKA)
    rows = sp.betsiboka_spectra()
    assert [(r["class"], r["class_name"], r["n"]) for r in rows] == [
        (CLEAR, "not cloud", 238252), (CLOUD, "cloud", 200014)]
    assert rows[1]["B02 median"] == pytest.approx(0.207, abs=5e-4)
    from conftest import fetch_real_dir

    fetch_real_dir(realdata.SVG18)
    rows = sp.svg18_spectra()
    assert [(r["class"], r["n"]) for r in rows] == [(CLEAR, 400691), (WATER, 534108)]
    assert rows[1]["B8A median"] == pytest.approx(0.029, abs=5e-4)


@pytest.mark.parametrize(("date", "counts"), [("20170703", [0, 832, 132, 0, 0, 44]),
                                              ("20190723", [0, 748, 0, 0, 0, 260])])
def test_barbellino_loader_and_spectra(date, counts):
    fetch_real(f"{realdata.BARBELLINO}/S2A1C_{date}_022_Barbellino_TOA_10.tif")
    scene, truth = realdata.barbellino(date)
    assert scene.shape == (42, 24) and scene.band_names == realdata.BARBELLINO_BANDS
    assert np.bincount(truth.ravel(), minlength=6).tolist() == counts
    assert float(np.median(scene.band("B10"))) < 0.006              # band 10 is cirrus
    rows = sp.barbellino_spectra(date)
    assert [r["n"] for r in rows] == [c for c in counts if c]
    assert np.isnan(rows[0]["B8A median"])                          # 10 m: B08, not B8A
    with pytest.raises(ConfigError):
        realdata.barbellino("20200101")


def test_product_spectra_read_products_with_their_labels(tmp_path):
    from dfmask_lib.errors import MissingDataError
    from dfmask_lib.reader import read_labels, read_product
    from test_predict import synthetic_safe

    safe = synthetic_safe(tmp_path)
    rows = sp.product_spectra([safe], source="synthetic")
    (label,) = safe.glob("GRANULE/*/IMG_DATA/*LABELS.tif")
    truth, _ = read_labels(label)
    scene = read_product(safe, progress=False)
    assert {r["class"]: r["n"] for r in rows} == {
        int(c): int(((truth == c) & scene.valid).sum()) for c in np.unique(truth) if c}
    label.unlink()
    with pytest.raises(MissingDataError, match="no \\*LABELS.tif"):
        sp.product_spectra([safe])
