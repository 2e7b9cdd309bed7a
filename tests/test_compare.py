"""dfmask_lib.compare (the common-pixel rule, partial-claim scoring, skips, timing, writers)
and dfmask_lib.realdata (the bundled real data, pinned)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine

from conftest import fetch_real, fetch_real_dir
from dfmask_lib import compare as cmp
from dfmask_lib import realdata
from dfmask_lib.classes import CLEAR, CLOUD, SCORED_CLASSES, SHADOW, SNOW, WATER
from dfmask_lib.config import config_to_dict
from dfmask_lib.errors import BandError, ConfigError, LabelError, MissingDataError
from dfmask_lib.fmask.product import array_scene
from dfmask_lib.metrics import confusion_matrix, scores
from dfmask_lib.peers.base import Peer, PeerUnavailable
from dfmask_lib.train import TrainConfig
from dfmask_lib.unet import UNet

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
ALL5 = frozenset(SCORED_CLASSES)


def make_peer(name: str, out: np.ndarray | None = None, claims=ALL5, background=None,
              reason: str | None = None, raises: str | None = None, calls: list | None = None,
              advance=None) -> Peer:
    """A Peer with a fixed output; ``advance(name)`` moves a fake clock while it 'runs'."""

    def _predict(self, scene, product):
        if calls is not None:
            calls.append(name)
        if advance is not None:
            advance(name)
        if raises:
            raise PeerUnavailable(raises)
        return out.copy()

    def unavailable(self, scene=None, product=None):
        return reason

    cls = type(f"Fake_{name}", (Peer,), {"name": name, "label": name.upper(),
                                         "claims": frozenset(claims), "background": background,
                                         "_predict": _predict, "unavailable": unavailable})
    return cls()


def scene_of(h: int = 4, w: int = 5, invalid=()) -> object:
    refl = np.full((len(BANDS), h, w), 0.1, dtype=np.float32)
    for r, c in invalid:
        refl[:, r, c] = 0
    return array_scene(refl, resolution=20, sun_zenith=30, sun_azimuth=150, band_names=BANDS)


# --------------------------------------------------------------------------- levels and matrices


@pytest.mark.parametrize(("claims", "reference", "level"), [
    (ALL5, ALL5, cmp.ALL), ({CLOUD, SHADOW}, ALL5, cmp.CLOUD_SHADOW),
    ({CLEAR, CLOUD, SHADOW, WATER}, ALL5, cmp.CLOUD_SHADOW), ({CLOUD}, ALL5, cmp.CLOUD_ONLY),
    (ALL5, {CLOUD}, cmp.CLOUD_ONLY), ({SNOW}, ALL5, None), (ALL5, set(), None)])
def test_scoring_level(claims, reference, level):
    assert cmp.scoring_level(claims, reference) == level


def test_reduce_matrix_merges_rows_and_columns():
    cm = np.arange(36, dtype=np.int64).reshape(6, 6)
    cm[0] = 0
    binary = cmp.reduce_matrix(cm, cmp.CLOUD_ONLY)
    assert binary.shape == (3, 3) and binary.sum() == cm.sum()
    assert binary[2, 2] == cm[2, 2]
    assert binary[1, 1] == cm[np.ix_([1, 3, 4, 5], [1, 3, 4, 5])].sum()
    three = cmp.reduce_matrix(cm, cmp.CLOUD_SHADOW)
    assert three[3, 3] == cm[3, 3] and three[1, 2] == cm[[1, 4, 5], 2].sum()
    np.testing.assert_array_equal(cmp.reduce_matrix(cm, cmp.ALL), cm)


# --------------------------------------------------------------------------- the core


def test_the_same_pixels_for_every_method():
    scene = scene_of(invalid=[(0, 0)])
    truth = np.full((4, 5), CLEAR, np.uint8)
    truth[1, 1] = 0                                   # unlabelled
    a = np.full((4, 5), CLEAR, np.uint8)
    a[2, 2] = 0                                       # no answer from A
    b = np.full((4, 5), CLOUD, np.uint8)
    res = cmp.compare_scene(scene, truth, [make_peer("a", a), make_peer("b", b)], repeats=1)
    s = res.scenes["scene"]
    expected = np.ones((4, 5), bool)
    expected[0, 0] = expected[1, 1] = expected[2, 2] = False
    np.testing.assert_array_equal(s.scored, expected)
    ra, rb = s.methods["a"], s.methods["b"]
    assert ra.scored_pixels == rb.scored_pixels == 17
    assert ra.scores.n_pixels == rb.scores.n_pixels == 17
    assert (ra.no_answer, rb.no_answer) == (1, 0)
    assert ra.scores.oa == 1.0 and rb.scores.oa == 0.0
    assert s.maps["a"][0, 0] == 0                     # invalid pixels are 0 in every map
    assert "every method that ran gave an answer" in cmp.PIXEL_RULE


def ukis_like() -> tuple[object, np.ndarray, dict[str, np.ndarray]]:
    """A 4 x 5 scene: truth rows land, cloud, shadow, water; outputs of three kinds of method."""
    truth = np.array([[1, 1, 1, 1, 1], [2, 2, 2, 2, 2], [3, 3, 3, 3, 3], [5, 5, 5, 5, 5]],
                     np.uint8)
    full = truth.copy()
    full[0, 0] = CLOUD          # land called cloud
    full[2, 0] = WATER          # shadow called water
    full[3, 4] = SHADOW         # water called shadow
    cs = np.where(np.isin(truth, (2, 3)), truth, 1).astype(np.uint8)
    cs[1, 0] = 1                # cloud missed
    cs[3, 0] = SHADOW           # water called shadow
    cloud = np.where(truth == CLOUD, CLOUD, CLEAR).astype(np.uint8)
    cloud[2, 1] = CLOUD         # shadow called cloud
    return scene_of(), truth, {"full": full, "cs": cs, "cloud": cloud}


def test_partial_claims_are_scored_on_their_classes():
    scene, truth, outs = ukis_like()
    methods = [make_peer("full", outs["full"]),
               make_peer("cs", outs["cs"], {CLOUD, SHADOW}, background=CLEAR),
               make_peer("cloud", outs["cloud"], {CLOUD}, background=CLEAR)]
    s = cmp.compare_scene(scene, truth, methods, repeats=1).scenes["scene"]
    full, cs, cloud = (s.methods[n] for n in ("full", "cs", "cloud"))
    assert (full.scored_on, cs.scored_on, cloud.scored_on) == (cmp.ALL, cmp.CLOUD_SHADOW,
                                                               cmp.CLOUD_ONLY)
    # all classes: the paper's metrics on the 6 x 6 matrix
    expected = scores(confusion_matrix(truth, outs["full"]))
    assert full.scores.oa == expected.oa == 17 / 20
    np.testing.assert_array_equal(list(full.scores.iou.values()), list(expected.iou.values()))
    # cloud+shadow: 3 classes (1 other, 2 cloud, 3 shadow)
    assert cs.scores.confusion.shape == (4, 4)
    assert cs.scores.oa == 18 / 20
    assert cs.scores.iou[CLOUD] == 4 / 5 and cs.scores.iou[SHADOW] == 5 / 6
    row = cs.row()
    assert math.isnan(row["IoU clear land"]) and math.isnan(row["IoU water"])
    assert row["IoU cloud shadow"] == 5 / 6 and row["scored on"] == "cloud+shadow"
    # cloud only: binary
    assert cloud.scores.confusion.shape == (3, 3) and cloud.scores.oa == 19 / 20
    assert cloud.row()["IoU cloud"] == cloud.row()["cloud IoU"] == 5 / 6
    # every method has binary cloud metrics, and the cloud IoU agrees with its level's
    for m in (full, cs, cloud):
        assert m.cloud.confusion.shape == (3, 3)
        assert m.cloud.iou[CLOUD] == m.scores.iou[CLOUD]
    assert full.cloud.precision[CLOUD] == 5 / 6 and full.cloud.recall[CLOUD] == 1.0
    assert cloud.cloud_share == 6 / 20


def test_a_cloud_only_reference_scores_every_method_on_cloud():
    scene, truth, outs = ukis_like()
    binary = np.where(truth == CLOUD, CLOUD, CLEAR).astype(np.uint8)
    s = cmp.compare_scene(scene, binary, [make_peer("full", outs["full"])], repeats=1,
                          reference={CLOUD}).scenes["scene"]
    m = s.methods["full"]
    assert m.scored_on == cmp.CLOUD_ONLY and m.scores.oa == 19 / 20
    assert s.reference == {CLOUD}


def test_without_truth_the_cloud_share_is_reported():
    scene = scene_of(invalid=[(3, 4)])
    out = np.full((4, 5), CLEAR, np.uint8)
    out[0, :2] = CLOUD
    s = cmp.compare_scene(scene, None, [make_peer("a", out)], repeats=1).scenes["scene"]
    m = s.methods["a"]
    assert m.scores is None and m.cloud is None and m.scored_on is None
    assert m.cloud_share == 2 / 19 and m.row()["cloud share"] == 2 / 19
    assert math.isnan(m.row()["OA"])


def test_skips_keep_their_reasons():
    scene, truth, outs = ukis_like()

    class Unbuildable(Peer):
        name, label, claims = "nobuild", "No Build", frozenset({CLOUD})

        def __init__(self):
            raise PeerUnavailable("no weights here; put them in models/")

    methods = [make_peer("full", outs["full"]),
               make_peer("absent", outs["full"], reason="absent is not installed; pip install x"),
               make_peer("late", outs["full"], raises="late needs a file beside the product"),
               Unbuildable]
    res = cmp.compare_scene(scene, truth, methods, repeats=2)
    s = res.scenes["scene"]
    assert s.methods["absent"].skipped == "absent is not installed; pip install x"
    assert s.methods["late"].skipped == "late needs a file beside the product"
    assert s.methods["nobuild"].skipped == "no weights here; put them in models/"
    assert set(s.maps) == {"full"} and s.methods["full"].scores.n_pixels == 20
    assert res.skipped == {"scene: ABSENT": "absent is not installed; pip install x",
                           "scene: LATE": "late needs a file beside the product",
                           "scene: No Build": "no weights here; put them in models/"}
    row = s.methods["absent"].row()
    assert row["skipped"].startswith("absent is not") and math.isnan(row["s"])


def test_rounds_are_interleaved_and_times_are_medians():
    scene, truth, outs = ukis_like()
    now = [0.0]
    durations = {"a": iter([3.0, 1.0, 2.0]), "b": iter([10.0, 30.0, 20.0]),
                 "c": iter([0.5, 0.5, 4.0])}
    calls: list[str] = []

    def advance(name):
        now[0] += next(durations[name])

    methods = [make_peer(n, outs["full"], calls=calls, advance=advance) for n in "abc"]
    s = cmp.compare_scene(scene, truth, methods, repeats=3, clock=lambda: now[0]
                          ).scenes["scene"]
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert s.methods["a"].times == (3.0, 1.0, 2.0) and s.methods["a"].seconds == 2.0
    assert s.methods["b"].seconds == 20.0 and s.methods["c"].seconds == 0.5
    assert s.methods["c"].mpx_per_s == pytest.approx(20 / 1e6 / 0.5)


def test_contracts_checked_on_entry():
    scene, truth, outs = ukis_like()
    peer = make_peer("full", outs["full"])
    with pytest.raises(ConfigError, match="no methods"):
        cmp.compare_scene(scene, truth, [])
    with pytest.raises(ConfigError, match="given twice"):
        cmp.compare_scene(scene, truth, [peer, make_peer("full", outs["full"])])
    with pytest.raises(ConfigError, match="repeats"):
        cmp.compare_scene(scene, truth, [peer], repeats=0)
    with pytest.raises(LabelError, match="reference must be"):
        cmp.compare_scene(scene, truth[:2], [peer])
    with pytest.raises(LabelError, match="outside 0-5"):
        cmp.compare_scene(scene, truth + 5, [peer])
    with pytest.raises(BandError, match="outside the classes it claims"):  # an adapter's bug
        cmp.compare_scene(scene, truth, [make_peer("liar", outs["full"], {CLOUD})], repeats=1)
    with pytest.raises(ConfigError, match="claims"):
        cmp.Method("x", "", frozenset({7}), lambda s, p: None)


def test_disagreement_map_of_the_methods_claiming_the_class():
    scene, truth, outs = ukis_like()
    methods = [make_peer("full", outs["full"]),
               make_peer("cloud", outs["cloud"], {CLOUD}, background=CLEAR),
               make_peer("cs", outs["cs"], {CLOUD, SHADOW}, background=CLEAR)]
    s = cmp.compare_scene(scene, truth, methods, repeats=1).scenes["scene"]
    cloud = s.disagreement(CLOUD)
    votes = np.stack([outs[n] == CLOUD for n in ("full", "cloud", "cs")])
    np.testing.assert_array_equal(cloud, votes.any(0) & ~votes.all(0))
    assert cloud.sum() == 3                      # (0,0) full, (1,0) cs missed, (2,1) cloud
    water = s.disagreement(WATER)                # only one method claims water
    assert not water.any()


def test_pooled_over_scenes_and_skips_on_one_scene():
    scene, truth, outs = ukis_like()
    ok = make_peer("full", outs["full"])
    flaky_reason = iter([None, "not on the second scene"])
    flaky = make_peer("flaky", outs["full"])
    flaky_method = cmp.Method("flaky", "Flaky", ALL5, flaky.predict,
                              lambda s=None, p=None: next(flaky_reason))
    inputs = [cmp.SceneInput("one", lambda: (scene, truth)),
              cmp.SceneInput("two", lambda: (scene, truth))]
    res = cmp.compare_inputs(inputs, [ok, flaky_method], repeats=1)
    pooled = res.pooled["full"]
    np.testing.assert_array_equal(pooled.confusion, 2 * res.scenes["one"].methods["full"].confusion)
    assert pooled.scores.oa == 17 / 20 and pooled.scored_pixels == 40
    assert res.pooled["flaky"].skipped == "skipped on two: not on the second scene"
    rows = res.table()
    assert [r["scene"] for r in rows] == ["one", "one", "two", "two", "pooled", "pooled"]
    with pytest.raises(ConfigError, match="used twice"):
        cmp.compare_inputs([inputs[0], inputs[0]], [ok], repeats=1)


def test_csv_and_json_contents(tmp_path):
    scene, truth, outs = ukis_like()
    methods = [make_peer("full", outs["full"]),
               make_peer("cloud", outs["cloud"], {CLOUD}, background=CLEAR),
               make_peer("absent", outs["full"], reason="absent: pip install it")]
    res = cmp.compare_scene(scene, truth, methods, repeats=2, name="chip")
    with open(res.to_csv(tmp_path / "c.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["FULL", "CLOUD", "ABSENT"]
    assert list(rows[0])[:4] == ["scene", "method", "scored on", "OA"]
    assert {"IoU cloud shadow", "mIoU", "cloud IoU", "s", "Mpx/s", "skipped"} <= set(rows[0])
    assert float(rows[0]["OA"]) == 17 / 20 and rows[1]["scored on"] == "cloud"
    assert rows[1]["IoU water"] == "nan" and rows[2]["skipped"] == "absent: pip install it"
    data = json.loads((res.to_json(tmp_path / "c.json")).read_text())
    assert data["pixel_rule"] == cmp.PIXEL_RULE and data["pooled"] is None
    chip = data["scenes"][0]
    assert chip["name"] == "chip" and chip["scored_pixels"] == 20
    full, cloud, absent = chip["methods"]
    assert full["scores"]["oa"] == 17 / 20 and full["scored_on"] == "all classes"
    assert cloud["scores"]["class_names"] == {"1": "not cloud", "2": "cloud"}
    assert cloud["cloud"]["iou"]["2"] == 5 / 6 and len(cloud["times_s"]) == 2
    assert absent["skipped"] == "absent: pip install it" and absent["seconds"] is None
    assert absent["cloud_share"] is None              # NaN -> null
    assert not list(tmp_path.glob(".*part*"))         # atomic: no temporary left


# --------------------------------------------------------------------------- products


def write_stack_and_labels(folder: Path, h: int = 24, w: int = 20) -> tuple[Path, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    dn = (rng.random((6, h, w)) * 3000 + 500).astype(np.uint16)
    profile = dict(driver="GTiff", height=h, width=w, crs="EPSG:32633",
                   transform=Affine(20, 0, 500000, 0, -20, 7000000))
    stack = folder / "T33XWJ_20200712T120521.tif"
    with rasterio.open(stack, "w", count=6, dtype="uint16", **profile) as dst:
        dst.write(dn)
    truth = np.where(dn[0] > 2000, CLOUD, CLEAR).astype(np.uint8)
    with rasterio.open(folder / "T33XWJ_20200712T120521_LABELS.tif", "w", count=1,
                       dtype="uint8", nodata=0, **profile) as dst:
        dst.write(truth, 1)
    return stack, truth


def test_compare_products_reads_stacks_with_their_labels(tmp_path):
    stack, truth = write_stack_and_labels(tmp_path / "p")

    class Bright(Peer):
        name, label, claims, background = "bright", "Bright", frozenset({CLOUD}), CLEAR
        bands = ("B02",)

        def _predict(self, scene, product):
            return np.where(scene.band("B02") > 0.2, CLOUD, CLEAR).astype(np.uint8)

    res = cmp.compare_products([stack], [Bright()], repeats=1,
                               reader_options={"band_names": BANDS})
    s = res.scenes["T33XWJ_20200712T120521"]
    m = s.methods["bright"]
    assert m.scored_on == cmp.CLOUD_ONLY and m.scores.oa == 1.0
    assert m.scored_pixels == truth.size and not s.maps       # maps not kept by default
    labels = tmp_path / "p" / "T33XWJ_20200712T120521_LABELS.tif"
    again = cmp.compare_products([stack], [Bright()], [labels], repeats=1,
                                 reader_options={"band_names": BANDS})
    assert again.scenes["T33XWJ_20200712T120521"].methods["bright"].scores.oa == 1.0
    with pytest.raises(MissingDataError, match="does not exist"):
        cmp.compare_products([tmp_path / "nothing.tif"], [Bright()])


# --------------------------------------------------------------------------- methods


def tiny_checkpoint(folder: Path) -> Path:
    """A seeded, untrained tiny U-Net saved as ``dfmask train`` saves it (7 channels)."""
    torch.manual_seed(0)
    cfg = TrainConfig(stage=2, in_channels=7, num_workers=0, start_filters=4, depth=3)
    folder.mkdir(parents=True)
    path = folder / "best.pt"
    torch.save({"model": UNet(cfg.model_config()).state_dict(), "config": config_to_dict(cfg),
                "epoch": 1}, path)
    return path


def test_dfmask_model_as_a_method(tmp_path):
    tiny_checkpoint(tmp_path / "exp" / "stage2")
    model = cmp.DfmaskModel(tmp_path / "exp" / "stage2")
    assert model.label == "dfmask stage 2" and model.claims == ALL5
    rng = np.random.default_rng(1)
    refl = (rng.random((6, 40, 36)) * 0.5 + 0.05).astype(np.float32)
    scene = array_scene(refl, resolution=20, sun_zenith=30, sun_azimuth=150, band_names=BANDS)
    truth = np.full((40, 36), CLEAR, np.uint8)
    s = cmp.compare_scene(scene, truth, [model], repeats=1).scenes["scene"]
    m = s.methods[model.name]
    assert m.skipped is None and m.scored_on == cmp.ALL and m.scores.n_pixels == 40 * 36
    assert set(np.unique(s.maps[model.name])) <= set(SCORED_CLASSES)
    no_swir = array_scene(refl[:4], resolution=20, sun_zenith=30, sun_azimuth=150,
                          band_names=BANDS[:4])
    reason = cmp.compare_scene(no_swir, None, [model], repeats=1
                               ).scenes["scene"].methods[model.name].skipped
    assert reason == "dfmask stage 2 (swirndsi input) needs bands B11, B12, which this scene " \
                     "does not have"
    with pytest.raises(MissingDataError):
        cmp.DfmaskModel(tmp_path / "no_such_experiment")


def test_parse_methods_and_listing(monkeypatch):
    from dfmask_lib import peers

    scene, truth, outs = ukis_like()
    a = type(make_peer("a", outs["full"]))
    b = type(make_peer("b", outs["full"], reason="b is not installed"))
    monkeypatch.setattr(peers, "PEERS", {"a": a, "b": b}, raising=False)
    assert [m.name for m in cmp.parse_methods(None)] == ["a", "b"]
    assert [m.name for m in cmp.parse_methods(" b, a ")] == ["b", "a"]
    with pytest.raises(ConfigError, match="unknown method 'zz'; choose from a, b or dfmask:EXP"):
        cmp.parse_methods("a,zz")
    with pytest.raises(ConfigError, match="given twice"):
        cmp.parse_methods("a,a")
    with pytest.raises(ConfigError, match="needs an experiment"):
        cmp.parse_methods("dfmask:")
    rows = cmp.method_listing()
    assert rows[1] == {"method": "b", "label": "B", "availability": "b is not installed",
                       "claims": "clear land, cloud, cloud shadow, snow/ice, water"}


def test_the_registered_peers_list_with_a_reason_or_available():
    rows = cmp.method_listing()          # dfmask_lib.peers.PEERS as it is (may be empty)
    for row in rows:
        assert row["claims"] and isinstance(row["availability"], str) and row["availability"]


# --------------------------------------------------------------------------- real data


def test_block_majority_ties_give_no_data():
    labels = np.array([[1, 1, 2, 2, 3, 3],
                       [1, 2, 2, 2, 5, 5],
                       [1, 2, 4, 4, 1, 1],
                       [3, 5, 4, 1, 1, 1]], np.uint8)
    np.testing.assert_array_equal(realdata.block_majority(labels),
                                  [[1, 2, 0], [0, 4, 1]])
    np.testing.assert_allclose(realdata.block_mean(np.arange(16, dtype=np.float32
                                                             ).reshape(1, 4, 4)),
                               [[[2.5, 4.5], [10.5, 12.5]]])


def counts(truth: np.ndarray) -> dict[int, int]:
    return {int(k): int(v) for k, v in zip(*np.unique(truth, return_counts=True))}


def test_ukis_chip_at_10_and_20_m():
    fetch_real(realdata.UKIS_CHIP)
    scene, truth = realdata.ukis_chip()
    assert scene.shape == (512, 512) and scene.band_names == realdata.UKIS_BANDS
    assert scene.resolution == 10 and scene.valid.all() and truth.dtype == np.uint8
    # label-free assumption: 40 N, June solstice, 10:30 -> the sun in the south-east
    assert (round(scene.sun_zenith, 1), round(scene.sun_azimuth, 1)) == (25.2, 124.4)
    assert counts(truth) == {CLEAR: 183124, CLOUD: 49597, SHADOW: 28583, WATER: 840}
    scene20, truth20 = realdata.ukis_chip(20)
    assert scene20.shape == (256, 256) and scene20.resolution == 20
    assert counts(truth20) == {0: 1896, CLEAR: 45030, CLOUD: 11839, SHADOW: 6626, WATER: 145}
    np.testing.assert_allclose(scene20.reflectance[:, 0, 0],
                               scene.reflectance[:, :2, :2].mean(axis=(1, 2)), rtol=1e-6)
    with pytest.raises(ConfigError, match="10 m or averaged to 20 m"):
        realdata.ukis_chip(30)


def test_betsiboka_reference_is_s2cloudless_cloud_mask():
    fetch_real(realdata.BETSIBOKA)
    scene, truth = realdata.betsiboka()
    assert scene.shape == (856, 512) and len(scene.band_names) == 13 and scene.resolution == 60
    assert scene.sun_zenith == pytest.approx(27.012, abs=1e-3)
    assert scene.sun_azimuth == pytest.approx(57.410, abs=1e-3)
    assert counts(truth) == {0: 6, CLEAR: 238252, CLOUD: 200014}
    assert int((~scene.valid).sum()) == 6
    assert realdata.BUNDLED["betsiboka"].claims == {CLOUD}


def test_svg18_is_read_as_a_band_folder():
    fetch_real_dir(realdata.SVG18)
    scene, truth = realdata.svg18()
    assert truth is None and scene.shape == (971, 965) and scene.resolution == 20
    assert len(scene.band_names) == 13 and int(scene.valid.sum()) == 934799
    assert scene.sun_zenith == pytest.approx(63.105, abs=1e-3)
    assert scene.sun_azimuth == pytest.approx(156.518, abs=1e-3)
