"""Tests of dfmask_lib.evaluate and ``dfmask evaluate``: hand-computed scenes, files, CLI."""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from dfmask_lib.classes import FMASK, PROJECT
from dfmask_lib.cli import main
from dfmask_lib.cli._options import spread_values
from dfmask_lib.errors import ConfigError, LabelError, MissingDataError
from dfmask_lib.evaluate import (
    POOLED, Evaluation, SceneId, class_table_of, evaluate_files, evaluate_maps, expand_labels,
    pair_files, scene_id,
)
from dfmask_lib.writer import write_classmap

# Scene A: class 3 absent from the labelled pixels (a 3 is predicted on a truth-0 pixel only).
TRUTH_A = np.array([[1, 1, 1, 2],
                    [2, 2, 0, 0],
                    [4, 4, 4, 5]], dtype=np.uint8)
PRED_A = np.array([[1, 1, 2, 2],
                   [2, 0, 1, 3],
                   [4, 4, 1, 5]], dtype=np.uint8)
# Scene B: classes 2 and 4 absent; a predicted 0 on a labelled shadow pixel.
TRUTH_B = np.array([[3, 3, 3],
                    [1, 5, 5]], dtype=np.uint8)
PRED_B = np.array([[3, 0, 1],
                   [1, 5, 3]], dtype=np.uint8)

NAME_A, NAME_B = "T33XWG_20200115T120000", "T34WDA_20200210T110000"
GRID_A = ("EPSG:32633", Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 8000000.0))
GRID_B = ("EPSG:32634", Affine(20.0, 0.0, 400000.0, 0.0, -20.0, 7600000.0))
#: project code -> Fmask 4 code (FMASK inverted; no data -> 255 fill)
TO_FMASK = {dst: src for src, dst in FMASK.mapping.items()}


def _cm(entries: dict[tuple[int, int], int]) -> np.ndarray:
    cm = np.zeros((6, 6), dtype=np.int64)
    for (t, p), n in entries.items():
        cm[t, p] = n
    return cm


CM_A = _cm({(1, 1): 2, (1, 2): 1, (2, 2): 2, (2, 0): 1, (4, 4): 2, (4, 1): 1, (5, 5): 1})
CM_B = _cm({(3, 3): 1, (3, 0): 1, (3, 1): 1, (1, 1): 1, (5, 5): 1, (5, 3): 1})


@pytest.fixture
def evaluation() -> Evaluation:
    return evaluate_maps([("A", TRUTH_A, PRED_A), ("B", TRUTH_B, PRED_B)])


# --------------------------------------------------------------------------- the pure core


def test_hand_computed_scenes_and_pool(evaluation):
    a, b, pooled = evaluation.scenes["A"], evaluation.scenes["B"], evaluation.pooled
    np.testing.assert_array_equal(a.confusion, CM_A)
    np.testing.assert_array_equal(b.confusion, CM_B)
    np.testing.assert_array_equal(pooled.confusion, CM_A + CM_B)
    assert (a.n_pixels, b.n_pixels, pooled.n_pixels) == (10, 6, 16)
    assert a.oa == pytest.approx(7 / 10) and b.oa == pytest.approx(1 / 2)
    assert a.iou == pytest.approx({1: 1 / 2, 2: 1 / 2, 3: math.nan, 4: 2 / 3, 5: 1.0},
                                  nan_ok=True)
    assert b.iou == pytest.approx({1: 1 / 2, 2: math.nan, 3: 1 / 4, 4: math.nan, 5: 1 / 2},
                                  nan_ok=True)
    assert a.miou == pytest.approx(2 / 3) and b.miou == pytest.approx(5 / 12)
    # pooled: every labelled pixel weighs the same, so not the mean of the scenes
    assert pooled.oa == pytest.approx(10 / 16) != pytest.approx((a.oa + b.oa) / 2)
    assert pooled.iou == pytest.approx({1: 1 / 2, 2: 1 / 2, 3: 1 / 4, 4: 2 / 3, 5: 2 / 3})
    assert pooled.miou == pytest.approx(31 / 60) != pytest.approx((a.miou + b.miou) / 2)
    assert pooled.f1 == pytest.approx({1: 2 / 3, 2: 2 / 3, 3: 2 / 5, 4: 4 / 5, 5: 4 / 5})
    assert pooled.precision == pytest.approx({1: 3 / 5, 2: 2 / 3, 3: 1 / 2, 4: 1.0, 5: 1.0})
    assert pooled.recall == pytest.approx({1: 3 / 4, 2: 2 / 3, 3: 1 / 3, 4: 2 / 3, 5: 2 / 3})


def test_absent_class_is_nan_in_its_scene_and_skipped_by_miou(evaluation):
    b = evaluation.scenes["B"]
    for c in (2, 4):
        assert math.isnan(b.iou[c]) and math.isnan(b.f1[c]) and math.isnan(b.recall[c])
    assert b.miou == pytest.approx((1 / 2 + 1 / 4 + 1 / 2) / 3)  # 3 classes, not 5


def test_truth_zero_ignored_and_predicted_zero_an_error():
    truth = np.array([[0, 0, 3, 3]], dtype=np.uint8)
    pred = np.array([[3, 5, 0, 3]], dtype=np.uint8)
    s = evaluate_maps([("x", truth, pred)]).pooled
    assert s.n_pixels == 2 and s.oa == 0.5
    assert s.confusion[3, 0] == 1 and s.confusion[0].sum() == 0
    assert s.iou[3] == 0.5 and math.isnan(s.iou[5])  # the 5 on unlabelled truth is not counted


def test_normalised_rows(evaluation):
    n = evaluation.normalised()
    assert n.dtype == np.float64 and n.shape == (6, 6)
    assert np.isnan(n[0]).all()  # no truth-0 pixels are ever counted
    np.testing.assert_allclose(n[3], [1 / 3, 1 / 3, 0, 1 / 3, 0, 0])
    np.testing.assert_allclose(n[1], [0, 3 / 4, 1 / 4, 0, 0, 0])
    np.testing.assert_allclose(n[1:].sum(axis=1), 1.0)
    assert np.isnan(evaluation.normalised("A")[3]).all()  # class 3 absent from A's truth
    np.testing.assert_allclose(np.diag(n)[1:], [evaluation.pooled.recall[c] for c in range(1, 6)])
    with pytest.raises(LabelError, match="no scene 'C'"):
        evaluation.normalised("C")


def test_rows_per_scene_then_pooled(evaluation):
    rows = evaluation.rows()
    assert [r["scene"] for r in rows] == ["A", "B", POOLED]
    assert list(rows[0]) == [
        "scene", "OA", "mIoU", "IoU clear land", "IoU cloud", "IoU cloud shadow", "IoU snow/ice",
        "IoU water", "F1 clear land", "F1 cloud", "F1 cloud shadow", "F1 snow/ice", "F1 water",
        "pixels"]
    assert rows[2]["OA"] == pytest.approx(0.625) and rows[2]["pixels"] == 16
    assert rows[1]["IoU cloud shadow"] == pytest.approx(0.25)
    assert math.isnan(rows[0]["IoU cloud shadow"])
    assert list(evaluation.rows(("recall",))[0])[3] == "recall clear land"
    with pytest.raises(ConfigError, match="unknown metrics"):
        evaluation.rows(("Dice",))


def test_csv_content(evaluation, tmp_path):
    path = evaluation.to_csv(tmp_path / "out" / "scores.csv")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["scene"] for r in rows] == ["A", "B", POOLED]
    assert len(rows[0]) == 3 + 4 * 5 + 1  # scene, OA, mIoU, 4 metrics x 5 classes, pixels
    assert float(rows[2]["mIoU"]) == pytest.approx(31 / 60, abs=1e-15)  # full precision
    assert float(rows[2]["precision clear land"]) == pytest.approx(0.6)
    assert rows[0]["IoU cloud shadow"] == "nan" and rows[1]["pixels"] == "6"
    assert [p.name for p in path.parent.iterdir()] == ["scores.csv"]  # no temp file left


def test_json_content_is_strict(evaluation, tmp_path):
    path = evaluation.to_json(tmp_path / "scores.json")

    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    data = json.loads(path.read_text(), parse_constant=refuse)
    assert data["dfmask_version"]
    assert data["class_names"] == {"1": "clear land", "2": "cloud", "3": "cloud shadow",
                                   "4": "snow/ice", "5": "water"}
    assert data["pooled"]["n_scenes"] == 2 and data["pooled"]["n_pixels"] == 16
    assert data["pooled"]["miou"] == pytest.approx(31 / 60)
    assert data["pooled"]["confusion"] == (CM_A + CM_B).tolist()
    assert data["pooled"]["confusion_normalised"][3] == pytest.approx(
        [1 / 3, 1 / 3, 0, 1 / 3, 0, 0])
    assert data["pooled"]["confusion_normalised"][0] == [None] * 6
    assert [s["name"] for s in data["scenes"]] == ["A", "B"]
    assert data["scenes"][0]["iou"]["3"] is None and data["scenes"][1]["oa"] == 0.5
    assert "rows = truth" in data["definition"]


@pytest.mark.parametrize(
    ("pairs", "match"),
    [
        ([], "no scenes"),
        ([("A", TRUTH_A, PRED_A), ("A", TRUTH_B, PRED_B)], "used twice"),
        ([(POOLED, TRUTH_A, PRED_A)], "reserved"),
        ([("", TRUTH_A, PRED_A)], "non-empty"),
        ([(TRUTH_A, PRED_A)], "tuple"),
        ([("A", TRUTH_A, PRED_A), ("B", TRUTH_B, PRED_A)], "scene 'B': .*shape"),
        ([("A", TRUTH_A, PRED_A.astype(np.float32))], "scene 'A': .*integer"),
        ([("A", TRUTH_A, np.where(PRED_A == 5, 255, PRED_A).astype(np.uint8))], "recode"),
    ],
)
def test_bad_scenes_refused(pairs, match):
    with pytest.raises(LabelError, match=match):
        evaluate_maps(pairs)


def test_streams_a_generator_one_scene_at_a_time():
    seen = []

    def scenes():
        for name, t, p in (("A", TRUTH_A, PRED_A), ("B", TRUTH_B, PRED_B)):
            seen.append(name)
            yield name, t, p

    assert evaluate_maps(scenes()).pooled.n_pixels == 16 and seen == ["A", "B"]


# --------------------------------------------------------------------------- names and pairing


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("preds/T33XWG_20200115T120000_DFMASK.tif", SceneId("33XWG", "20200115T120000",
                                                            "T33XWG_20200115T120000")),
        ("S2B_MSIL1C_20200115T120000_N0400_R001_T33XWG_20200115T130000_FMASK.tif",
         SceneId("33XWG", "20200115T120000",
                 "S2B_MSIL1C_20200115T120000_N0400_R001_T33XWG_20200115T130000")),
        ("T33XWG_20200115T120000_SCL_20m.jp2", SceneId("33XWG", "20200115T120000",
                                                       "T33XWG_20200115T120000")),
        ("x/S2B_MSIL1C_20200115T120000_N0400_R001_T33XWG_20200115T130000.SAFE/GRANULE/"
         "L1C_T33XWG_A000001_20200115T120000/IMG_DATA/labels.tif",
         SceneId("33XWG", "20200115T120000", "labels")),
        ("T33XWG_DFMASK.tif", SceneId("33XWG", None, "T33XWG")),
        ("p/T33XWG_20200115T120000_DFMASK_CLASSES.tif",
         SceneId("33XWG", "20200115T120000", "T33XWG_20200115T120000")),
        ("scene1_labels.tif", SceneId(None, None, "scene1")),
        ("MSIL1C_20200115T120000.tif", SceneId(None, "20200115T120000", "MSIL1C_20200115T120000")),
    ],
)
def test_scene_id(path, expected):
    assert scene_id(path) == expected


def test_pair_by_order_when_counts_match():
    preds = [Path("b_DFMASK.tif"), Path("a_DFMASK.tif")]
    labels = [[Path("x.tif")], [Path("y.tif")]]  # names say nothing: the order decides
    assert pair_files(preds, labels) == [("b", preds[0], Path("x.tif")),
                                         ("a", preds[1], Path("y.tif"))]


def test_pair_by_order_refuses_two_different_scenes():
    with pytest.raises(LabelError, match="paired by order but name different scenes"):
        pair_files([f"{NAME_A}_DFMASK.tif", f"{NAME_B}_DFMASK.tif"],
                   [[f"{NAME_B}_LABELS.tif"], [f"{NAME_A}_LABELS.tif"]])


def test_pair_by_scene_when_counts_differ(caplog):
    labels = [[Path(f"{NAME_B}_LABELS.tif"), Path(f"{NAME_A}_LABELS.tif"),
               Path("T35XXX_20200301T100000_LABELS.tif")]]
    preds = [Path(f"p/{NAME_A}_DFMASK.tif"),
             Path("p/S2B_MSIL1C_20200210T110000_N0400_R001_T34WDA_20200210T120000_DFMASK.tif")]
    with caplog.at_level(logging.WARNING, logger="dfmask_lib.evaluate"):
        pairs = pair_files(preds, labels)
    assert pairs == [(NAME_A, preds[0], labels[0][1]), (NAME_B, preds[1], labels[0][0])]
    assert "1 label file(s) without a prediction" in caplog.text and "T35XXX" in caplog.text


def test_pair_by_stem_without_tiles_and_by_tile_without_time():
    assert [n for n, *_ in pair_files(["s1_FMASK.tif", "s2_FMASK.tif"],
                                      [["s2_LABELS.tif", "s1_LABELS.tif", "s3_LABELS.tif"]])] \
        == ["s1", "s2"]
    # a tile-only prediction name takes the label's sensing time for the scene's name
    assert pair_files(["T33XWG_DFMASK.tif"], [[f"{NAME_A}_LABELS.tif", "o_LABELS.tif"]])[0][0] \
        == NAME_A


@pytest.mark.parametrize(
    ("preds", "labels", "error", "match"),
    [
        ([f"{NAME_A}_DFMASK.tif"], [[f"{NAME_B}_LABELS.tif", "x_LABELS.tif"]],
         MissingDataError, "no label file for prediction T33XWG_20200115T120000_DFMASK.tif"),
        (["T33XWG_DFMASK.tif"], [[f"{NAME_A}_LABELS.tif", "T33XWG_20200301T100000_LABELS.tif"]],
         LabelError, "matches 2 label files"),
        ([f"{NAME_A}_DFMASK.tif", f"{NAME_A}_FMASK.tif"], [[f"{NAME_A}_LABELS.tif"]],
         LabelError, "score one method at a time"),
        ([], [["a_LABELS.tif"]], ConfigError, "no predictions"),
        (["a.tif", "a.tif"], [["a_LABELS.tif"], ["b_LABELS.tif"]], ConfigError, "twice"),
        (["a.tif", "b.tif"], [["l.tif"], ["l.tif"]], LabelError, "given for two predictions"),
        (["a.tif"], [[]], MissingDataError, "no label files"),
    ],
)
def test_pairing_errors(preds, labels, error, match):
    with pytest.raises(error, match=match):
        pair_files(preds, labels)


def test_scene_names_made_unique():
    pairs = pair_files(["a/T33XWG_DFMASK.tif", "b/T33XWG_DFMASK.tif"],
                       [["T33XWG_LABELS.tif"], ["T33XWG_LABELS2.tif"]])
    assert [n for n, *_ in pairs] == ["a/T33XWG_DFMASK.tif", "b/T33XWG_DFMASK.tif"]
    assert pair_files(["pooled_DFMASK.tif"], [["l.tif"]])[0][0] == "pooled_DFMASK.tif"


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        ("T_DFMASK.tif", {}, "project"),
        ("T_DFMASK_CLASSES.tif", {"CLASS_TABLE": "project"}, "project"),
        ("T_FMASK.tif", {"CLASS_TABLE": "fmask"}, "fmask"),
        ("T_LABELS.tif", {}, "project"),
        ("T_SCL_20m.jp2", {}, "sen2cor-scl"),
        ("mask.tif", {"CLASS_TABLE": "ukis-csmask"}, "ukis-csmask"),
    ],
)
def test_class_table_of(name, tags, expected):
    assert class_table_of(name, None, tags).name == expected
    assert class_table_of(name, "hollstein", {"CLASS_TABLE": "fmask"}).name == "hollstein"


def test_class_table_of_refuses_conflicts_and_silence():
    with pytest.raises(LabelError, match="named as 'fmask' codes but its CLASS_TABLE tag says "
                                         "'project'"):
        class_table_of("x_FMASK.tif", None, {"CLASS_TABLE": "project"})
    with pytest.raises(LabelError, match="cannot tell the class codes of mask.tif.*--pred-table"):
        class_table_of("mask.tif", None, {}, option="--pred-table")
    with pytest.raises(LabelError, match="unknown mapping table"):
        class_table_of("mask.tif", "nope")
    with pytest.raises(LabelError, match="probabilities, not classes.*_DFMASK_CLASSES.tif"):
        class_table_of("T_DFMASK_PROB.tif", "project")


# --------------------------------------------------------------------------- files


def _write(path: Path, classes: np.ndarray, grid=GRID_A, table=PROJECT) -> Path:
    crs, transform = grid
    if table is FMASK:
        classes = np.vectorize(TO_FMASK.get)(classes).astype(np.uint8)
    return write_classmap(path, classes, crs=crs, transform=transform, table=table)


def _safe(root: Path, name: str, truth: np.ndarray, grid) -> Path:
    """A SAFE-like folder holding only GRANULE/<granule>/IMG_DATA/<name>_LABELS.tif."""
    tile, time = name.split("_")
    safe = root / f"S2B_MSIL1C_{time}_N0400_R001_{tile}_{time[:9]}235959.SAFE"
    _write(safe / "GRANULE" / f"L1C_{tile}_A000001_{time}" / "IMG_DATA" / f"{name}_LABELS.tif",
           truth, grid)
    return safe


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    labels = tmp_path / "TEST"
    return {
        "safe_a": _safe(labels, NAME_A, TRUTH_A, GRID_A),
        "safe_b": _safe(labels, NAME_B, TRUTH_B, GRID_B),
        "pred_a": _write(tmp_path / "preds" / f"{NAME_A}_DFMASK.tif", PRED_A, GRID_A),
        "pred_b": _write(tmp_path / "preds" / f"{NAME_B}_DFMASK_CLASSES.tif", PRED_B, GRID_B),
        "fmask_a": _write(tmp_path / "fmask" / f"{NAME_A}_FMASK.tif", PRED_A, GRID_A, FMASK),
        "fmask_b": _write(tmp_path / "fmask" / f"{NAME_B}_FMASK.tif", PRED_B, GRID_B, FMASK),
        "labels": labels,
    }


def _same(result: Evaluation, expected: Evaluation) -> None:
    assert result.names == expected.names
    for name in expected.names:
        np.testing.assert_array_equal(result.scenes[name].confusion,
                                      expected.scenes[name].confusion)
    np.testing.assert_array_equal(result.pooled.confusion, expected.pooled.confusion)


@pytest.mark.parametrize("kind", ["pred", "fmask"])
def test_files_score_as_the_arrays(files, kind):
    expected = evaluate_maps([(NAME_A, TRUTH_A, PRED_A), (NAME_B, TRUTH_B, PRED_B)])
    result = evaluate_files([files[f"{kind}_b"], files[f"{kind}_a"]], files["labels"],
                            progress=False)
    _same(result, evaluate_maps([(NAME_B, TRUTH_B, PRED_B), (NAME_A, TRUTH_A, PRED_A)]))
    assert result.pooled.miou == pytest.approx(expected.pooled.miou)
    src = result.sources[NAME_A]
    assert src["prediction"] == str(files[f"{kind}_a"])
    assert src["labels"].endswith(f"IMG_DATA/{NAME_A}_LABELS.tif")
    assert (src["prediction_table"], src["label_table"]) == (
        "project" if kind == "pred" else "fmask", "project")


def test_fmask_fill_on_labelled_pixels_counts_as_an_error(files):
    fill = _write(files["fmask_a"], np.zeros_like(PRED_A), GRID_A, FMASK)  # all 255
    s = evaluate_files(fill, files["safe_a"], progress=False).pooled
    assert s.oa == 0.0 and s.confusion[:, 0].sum() == 10


def test_explicit_label_files_and_tables(files, tmp_path):
    # any names, paired by order; the tables say the codes
    lab = _write(tmp_path / "truth_a.tif", TRUTH_A)
    pred = _write(tmp_path / "method_a.tif", PRED_A, GRID_A, FMASK)
    with rasterio.open(pred, "r+") as ds:  # a foreign file: no dfmask tags
        ds.update_tags(CLASS_TABLE="")
    with pytest.raises(LabelError, match="cannot tell the class codes of method_a.tif"):
        evaluate_files([pred], [lab], progress=False)
    result = evaluate_files([pred], [lab], pred_table="fmask", label_table="project",
                            progress=False)
    assert result.names == ("method_a",)
    np.testing.assert_array_equal(result.pooled.confusion, CM_A)


def test_sen2cor_scl_scored_through_its_table(tmp_path):
    scl_codes = {1: 4, 2: 8, 3: 3, 4: 11, 5: 6, 0: 0}  # project class -> an SCL code of it
    scl = np.vectorize(scl_codes.get)(PRED_A).astype(np.uint8)
    path = tmp_path / f"{NAME_A}_SCL_20m.tif"
    with rasterio.open(path, "w", driver="GTiff", height=3, width=4, count=1, dtype="uint8",
                       crs=GRID_A[0], transform=GRID_A[1]) as ds:
        ds.write(scl, 1)
    lab = _write(tmp_path / f"{NAME_A}_LABELS.tif", TRUTH_A)
    result = evaluate_files(path, lab, progress=False)
    np.testing.assert_array_equal(result.pooled.confusion, CM_A)
    assert result.sources[NAME_A]["prediction_table"] == "sen2cor-scl"


def test_label_on_another_grid_refused(files, tmp_path):
    shifted = (GRID_A[0], GRID_A[1] @ Affine.translation(1, 0))  # one pixel east
    pred = _write(tmp_path / f"{NAME_A}_DFMASK.tif", PRED_A, shifted)
    with pytest.raises(LabelError) as exc:
        evaluate_files(pred, files["labels"], progress=False)
    message = str(exc.value)
    assert "\n" not in message
    assert f"labels {NAME_A}_LABELS.tif is not on the grid of prediction {NAME_A}_DFMASK.tif" \
        in message
    assert "origin (500000, 8000000)" in message and "origin (500020, 8000000)" in message


def test_label_expansion(files, tmp_path):
    a_label = next(files["safe_a"].rglob("*_LABELS.tif"))
    assert expand_labels(files["safe_a"]) == [a_label]  # a SAFE: its IMG_DATA label
    assert [p.name for p in expand_labels(files["labels"])] == [  # a split: one per product
        f"{NAME_A}_LABELS.tif", f"{NAME_B}_LABELS.tif"]
    flat = tmp_path / "flat"
    for name in ("b_LABELS.tif", "a_LABELS.tif"):
        _write(flat / name, TRUTH_A)
    assert [p.name for p in expand_labels(flat)] == ["a_LABELS.tif", "b_LABELS.tif"]
    assert expand_labels(a_label) == [a_label]
    with pytest.raises(MissingDataError, match="no \\*LABELS.tif in"):
        expand_labels(tmp_path / "preds")
    with pytest.raises(MissingDataError, match="do not exist"):
        expand_labels(tmp_path / "nope")


def test_unknown_codes_and_missing_files_refused(files, tmp_path):
    bad = _write(tmp_path / f"{NAME_A}_DFMASK.tif", PRED_A)
    with rasterio.open(bad, "r+") as ds:
        ds.write(np.full((3, 4), 7, np.uint8), 1)
    with pytest.raises(LabelError, match=f"{NAME_A}_DFMASK.tif: codes 7 are not in the 'project'"):
        evaluate_files(bad, files["safe_a"], progress=False)
    with pytest.raises(MissingDataError, match="prediction file .*nope_DFMASK.tif does not exist"):
        evaluate_files(tmp_path / "nope_DFMASK.tif", files["safe_a"], progress=False)
    with pytest.raises(LabelError, match="is a folder"):
        evaluate_files(tmp_path / "preds", files["safe_a"], progress=False)


# --------------------------------------------------------------------------- CLI


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_spread_values():
    assert spread_values(["p1", "--labels", "a", "b", "--csv", "o.csv"]) == [
        "p1", "--labels", "a", "--labels", "b", "--csv", "o.csv"]
    assert spread_values(["--labels", "a", "--", "-odd"]) == ["--labels", "a", "--", "-odd"]
    assert spread_values(["p", "--labels"]) == ["p", "--labels"]  # click reports the missing value
    assert spread_values(["p", "--labels", "--csv", "x"]) == ["p", "--labels", "--csv", "x"]


def test_cli_happy_path(capsys, files, tmp_path):
    out_csv, out_json = tmp_path / "r" / "s.csv", tmp_path / "r" / "s.json"
    code, out, err = run(capsys, "evaluate", files["pred_a"], files["pred_b"], "--labels",
                         files["safe_a"], files["safe_b"], "--csv", out_csv, "--json", out_json)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("2 scenes, 16 labelled pixels")
    iou: dict[str, list[str]] = {}
    for line in lines:  # the IoU table comes first, then the F1 table with the same rows
        if line.split()[:1] in ([NAME_A], [NAME_B], [POOLED]):
            iou.setdefault(line.split()[0], line.split())
    # scene, OA, mIoU, IoU x5, pixels
    assert iou[POOLED][:8] + iou[POOLED][-1:] == [
        POOLED, "0.625", "0.517", "0.500", "0.500", "0.250", "0.667", "0.667", "16"]
    assert iou[NAME_A][4] == "0.500" and iou[NAME_A][5] == "nan"
    assert "F1 cloud shadow" in out and "0.400" in out  # pooled shadow F1 = 2/5
    assert f"wrote {out_csv}" in out and f"wrote {out_json}" in out
    assert json.loads(out_json.read_text())["pooled"]["oa"] == 0.625
    assert out_csv.read_text().splitlines()[-1].startswith("pooled,0.625,")


def test_cli_fmask_files_against_a_split_folder(capsys, files):
    code, out, err = run(capsys, "evaluate", files["fmask_a"], files["fmask_b"],
                         "--labels", files["labels"])
    assert code == 0, err
    assert any(line.split()[:3] == [POOLED, "0.625", "0.517"] for line in out.splitlines())


@pytest.mark.parametrize("case", ["missing", "grid", "codes", "no-label", "table"])
def test_cli_user_errors_are_one_line(capsys, files, tmp_path, case):
    pred = files["pred_a"]
    extra: list[object] = []
    if case == "missing":
        pred, match = tmp_path / "nope_DFMASK.tif", "does not exist"
    elif case == "grid":
        pred = _write(tmp_path / f"{NAME_A}_DFMASK.tif", PRED_A, GRID_B)
        match = "is not on the grid of prediction"
    elif case == "codes":
        pred = _write(tmp_path / f"{NAME_A}_DFMASK.tif", PRED_A, GRID_A)
        extra = ["--pred-table", "ukis-csmask"]  # codes 0-4 only
        match = f"{NAME_A}_DFMASK.tif: codes 5 are not in the 'ukis-csmask'"
    elif case == "no-label":
        pred, match = files["pred_b"], "no label file for prediction"
        extra = ["--labels", files["safe_a"], files["safe_a"]]  # 1 file, 2 paths: by scene
    else:
        pred = _write(tmp_path / "mask.tif", PRED_A, GRID_A)
        with rasterio.open(pred, "r+") as ds:
            ds.update_tags(CLASS_TABLE="")
        match = "cannot tell the class codes of mask.tif.*--pred-table"
    labels = [] if case == "no-label" else ["--labels", files["safe_a"]]
    code, out, err = run(capsys, "evaluate", pred, *labels, *extra)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("dfmask: error: ")
    assert re.search(match, err), err


def test_cli_requires_labels(capsys, files):
    code, _, err = run(capsys, "evaluate", files["pred_a"])
    assert code == 2 and "--labels" in err


def test_cli_help_stays_lazy():
    import subprocess
    import sys

    code = ("import sys\nfrom dfmask_lib.cli import main\ntry:\n    main(['evaluate', '--help'])"
            "\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, 'rasterio' in "
            "sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "PRED..." in proc.stdout and "--labels PATH..." in proc.stdout
    assert proc.stderr.strip().endswith("False False")
