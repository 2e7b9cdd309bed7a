"""Tests of dfmask_lib.metrics: hand-computed matrices, scikit-learn agreement, NaN rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from dfmask_lib.errors import LabelError
from dfmask_lib.metrics import (
    confusion_matrix, format_table, normalise_rows, score_matrices, score_scenes, scores,
    scores_table,
)

TRUTH = np.array([[1, 1, 2], [2, 0, 4], [5, 5, 3]], dtype=np.uint8)
PRED = np.array([[1, 2, 2], [0, 3, 4], [5, 1, 3]], dtype=np.uint8)


def test_hand_computed_confusion_matrix():
    cm = confusion_matrix(TRUTH, PRED)
    expected = np.zeros((6, 6), dtype=np.int64)
    for t, p in [(1, 1), (1, 2), (2, 2), (2, 0), (4, 4), (5, 5), (5, 1), (3, 3)]:
        expected[t, p] += 1
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64
    assert cm[0].sum() == 0  # the unlabelled pixel (predicted 3) is not counted


def test_hand_computed_scores():
    s = scores(confusion_matrix(TRUTH, PRED))
    assert s.n_pixels == 8
    assert s.oa == pytest.approx(5 / 8)
    assert s.precision == pytest.approx({1: 1 / 2, 2: 1 / 2, 3: 1.0, 4: 1.0, 5: 1.0})
    assert s.recall == pytest.approx({1: 1 / 2, 2: 1 / 2, 3: 1.0, 4: 1.0, 5: 1 / 2})
    assert s.f1 == pytest.approx({1: 1 / 2, 2: 1 / 2, 3: 1.0, 4: 1.0, 5: 2 / 3})
    assert s.iou == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1.0, 4: 1.0, 5: 1 / 2})
    assert s.miou == pytest.approx(19 / 30)


def test_predicted_zero_is_an_error():
    truth = np.array([3, 3, 3, 3], dtype=np.uint8)
    pred = np.array([3, 3, 0, 0], dtype=np.uint8)
    cm = confusion_matrix(truth, pred)
    assert cm[3, 0] == 2 and cm[3, 3] == 2
    s = scores(cm)
    assert s.oa == 0.5
    assert s.recall[3] == 0.5 and s.precision[3] == 1.0 and s.iou[3] == 0.5


def test_absent_class_is_nan_and_skipped_by_miou():
    s = scores(confusion_matrix(np.array([1, 1, 2]), np.array([1, 2, 2])))
    assert s.iou[1] == 0.5 and s.iou[2] == 0.5
    for c in (3, 4, 5):
        assert math.isnan(s.iou[c]) and math.isnan(s.precision[c])
        assert math.isnan(s.recall[c]) and math.isnan(s.f1[c])
    assert s.miou == 0.5


def test_class_only_predicted_counts_with_iou_zero():
    s = scores(confusion_matrix(np.array([1, 1]), np.array([1, 4])))
    assert s.iou[4] == 0.0 and s.precision[4] == 0.0 and math.isnan(s.recall[4])
    assert s.miou == pytest.approx((0.5 + 0.0) / 2)


def test_nothing_labelled_gives_nan():
    s = scores(confusion_matrix(np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8)))
    assert s.n_pixels == 0 and math.isnan(s.oa) and math.isnan(s.miou)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 6, size=(64, 50)).astype(np.uint8)
    pred = rng.integers(0, 6, size=(64, 50)).astype(np.uint8)
    truth[truth == 5] = 4  # class 5 absent from truth, still predicted
    s = scores(confusion_matrix(truth, pred))
    m = truth != 0
    t, p = truth[m], pred[m]
    labels = [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(s.confusion, skm.confusion_matrix(t, p, labels=range(6)))
    assert s.oa == pytest.approx(skm.accuracy_score(t, p))
    prec, rec, f1, _ = skm.precision_recall_fscore_support(
        t, p, labels=labels, zero_division=np.nan)
    jac = skm.jaccard_score(t, p, labels=labels, average=None)  # no empty union here
    np.testing.assert_allclose([s.precision[c] for c in labels], prec)
    np.testing.assert_allclose([s.recall[c] for c in labels], rec)  # recall 5 is NaN in both
    np.testing.assert_allclose([s.f1[c] for c in labels], f1)
    np.testing.assert_allclose([s.iou[c] for c in labels], jac)
    assert s.iou[5] == 0.0
    assert s.miou == pytest.approx(np.mean(jac))


def test_pooled_sums_matrices_and_per_scene_in_order():
    a = (np.array([1, 1, 1, 1]), np.array([1, 1, 1, 1]))  # perfect, 4 px
    b = (np.array([[2, 2]]), np.array([[1, 0]]))  # all wrong, 2 px, other shape
    pooled, per = score_scenes([a, b])
    assert [x.oa for x in per] == [1.0, 0.0]
    assert pooled.oa == pytest.approx(4 / 6)  # pixel-pooled, not the mean of scene OAs
    np.testing.assert_array_equal(pooled.confusion, per[0].confusion + per[1].confusion)
    assert pooled.iou[1] == pytest.approx(4 / 5) and pooled.iou[2] == 0.0


@pytest.mark.parametrize(
    ("truth", "pred", "match"),
    [
        (np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), "shape"),
        (np.zeros(3, np.float32), np.zeros(3, np.uint8), "integer"),
        (np.array([1, 6]), np.array([1, 1]), "outside 0..5"),
        (np.array([1, 1]), np.array([-1, 1]), "outside 0..5"),
        (np.array([1, 1]), np.array([1, 255], np.uint8), "recode"),
    ],
)
def test_bad_maps_refused(truth, pred, match):
    with pytest.raises(LabelError, match=match):
        confusion_matrix(truth, pred)


def test_bad_matrix_and_empty_scene_list_refused():
    with pytest.raises(LabelError, match="square"):
        scores(np.zeros((6, 5), np.int64))
    with pytest.raises(LabelError, match="square"):
        scores(np.zeros((6, 6), np.float64))
    with pytest.raises(LabelError, match="no"):
        score_scenes([])


def test_matrix_with_unlabelled_truth_row_refused():
    # sklearn over all pixels puts truth-0 pixels in row 0; OA would silently count them
    truth = np.array([0, 0, 1, 2])
    pred = np.array([0, 0, 1, 1])
    cm = skm.confusion_matrix(truth, pred, labels=range(6))
    with pytest.raises(LabelError, match="row 0"):
        scores(cm)
    assert scores(confusion_matrix(truth, pred)).oa == 0.5


def test_to_dict_is_json_ready():
    d = scores(confusion_matrix(np.array([1, 1, 2]), np.array([1, 2, 2]))).to_dict()
    back = json.loads(json.dumps(d))
    assert back["oa"] == pytest.approx(2 / 3) and back["iou"]["1"] == 0.5
    assert math.isnan(back["iou"]["5"]) and back["confusion"][1][2] == 1


def test_tables():
    s = scores(confusion_matrix(TRUTH, PRED))
    rows = scores_table({"method": s})
    assert list(rows[0]) == ["name", "OA", "IoU clear land", "IoU cloud", "IoU cloud shadow",
                             "IoU snow/ice", "IoU water", "mIoU", "pixels"]
    assert rows[0]["pixels"] == 8
    crow = s.class_rows()
    assert [r["class"] for r in crow] == [1, 2, 3, 4, 5]
    assert crow[4]["pixels"] == 2 and crow[4]["F1"] == pytest.approx(2 / 3)
    text = format_table(rows, digits=2)
    assert text.splitlines()[1].split()[:2] == ["method", "0.62"]
    assert "nan" in format_table(scores_table({"x": scores(np.zeros((6, 6), np.int64))}))


def test_score_matrices_pools_matrices():
    a = confusion_matrix(TRUTH, PRED)
    b = confusion_matrix(np.array([3, 3, 0]), np.array([3, 0, 1]))
    pooled, per = score_matrices([a, b])
    np.testing.assert_array_equal(pooled.confusion, a + b)
    assert pooled.n_pixels == 10 and pooled.oa == pytest.approx(6 / 10)
    assert pooled.iou[3] == pytest.approx(2 / 3) and per[1].iou[3] == 0.5
    ref_pooled, _ = score_scenes([(TRUTH, PRED), (np.array([3, 3, 0]), np.array([3, 0, 1]))])
    np.testing.assert_array_equal(ref_pooled.confusion, pooled.confusion)
    with pytest.raises(LabelError, match="different shapes"):
        score_matrices([a, np.zeros((4, 4), np.int64)])
    with pytest.raises(LabelError, match="no"):
        score_matrices([])
    with pytest.raises(LabelError, match="row 0"):
        score_matrices([a, skm.confusion_matrix([0, 1], [1, 1], labels=range(6))])


def test_normalise_rows():
    n = normalise_rows(confusion_matrix(TRUTH, PRED))
    assert n.dtype == np.float64 and n.shape == (6, 6)
    np.testing.assert_allclose(n[1], [0, 1 / 2, 1 / 2, 0, 0, 0])
    np.testing.assert_allclose(n[2], [1 / 2, 0, 1 / 2, 0, 0, 0])  # half predicted no data
    np.testing.assert_allclose(n[5], [0, 1 / 2, 0, 0, 0, 1 / 2])
    assert np.isnan(n[0]).all()  # no pixels: NaN, not 0
    s = scores(confusion_matrix(TRUTH, PRED))
    np.testing.assert_allclose(np.diag(n)[1:], [s.recall[c] for c in range(1, 6)])
    assert np.isnan(normalise_rows(confusion_matrix(np.array([1]), np.array([1])))[2]).all()
    with pytest.raises(LabelError, match="square"):
        normalise_rows(np.ones((6, 6)))
