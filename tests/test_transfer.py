"""Records of the synthetic-to-real experiments: write, load, the before/after table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dfmask_lib import realchecks as rc
from dfmask_lib.errors import DataFileError
from dfmask_lib.transfer import (RECORD_DIR, REAL_COLUMNS, WINS_COLUMN, curve_summary, curves,
                                 fmask_rows, load_records, real_wins,
                                 synthetic_rows, transfer_table, write_record)

BEFORE, FMASK = "stage 0, polar only", "Fmask 4 (dfmask), B08 as B8A"


def _check_row(method, **values):
    row = {c: math.nan for c in rc.COLUMNS}
    row.update(method=method, skipped="", **values)
    return row


def _record(tmp_path, variant, label, ukis_oa, polar_oa):
    checks = [_check_row(BEFORE, **{"ukis OA": 0.776, "18SVG false cloud %": 0.004}),
              _check_row(label, **{"ukis OA": ukis_oa, "18SVG false cloud %": 0.008,
                                   "Betsiboka cloud IoU": 0.5}),
              _check_row(FMASK, **{"ukis OA": 0.697, "18SVG false cloud %": 0.548})]
    polar = [{"scene": "pooled", "method": BEFORE, "OA": 0.831, "mIoU": 0.609},
             {"scene": "pooled", "method": label, "OA": polar_oa, "mIoU": 0.58},
             {"scene": "pooled", "method": "Fmask 4 (dfmask)", "OA": 0.777, "mIoU": 0.532}]
    return write_record(tmp_path / f"real_transfer_{variant}.json", variant=variant, label=label,
                        code_version="0.1.0+test", args={"out": tmp_path, "epochs": 40},
                        seconds=12.34, epochs={"after": 40, "best_epoch": 37},
                        real_checks=checks, synthetic={"polar": polar})


def test_records_round_trip_into_the_before_after_table(tmp_path):
    _record(tmp_path, "temperate8", "stage 0, polar + 8 temperate", 0.418, 0.829)
    path = _record(tmp_path, "polar-photometric", "stage 0, polar + photometric", 0.80, 0.83)
    saved = json.loads(path.read_text())
    assert saved["args"] == {"out": str(tmp_path), "epochs": 40} and saved["seconds"] == 12.3
    assert saved["real_checks"][0]["ukis cloud IoU"] is None  # NaN -> null, strict JSON
    records = load_records(tmp_path)
    assert [r["variant"] for r in records] == ["polar-photometric", "temperate8"]
    rows = transfer_table(records)
    assert [r["model"] for r in rows] == [BEFORE, "stage 0, polar + photometric",
                                          "stage 0, polar + 8 temperate", FMASK]
    assert list(rows[0]) == ["model", *REAL_COLUMNS, "polar TEST OA", "polar TEST mIoU",
                             WINS_COLUMN]
    assert rows[0]["ukis OA"] == 0.776 and rows[0]["polar TEST OA"] == 0.831
    assert rows[2]["ukis OA"] == 0.418 and rows[2]["polar TEST mIoU"] == 0.58
    assert math.isnan(rows[0]["ukis cloud IoU"])
    assert rows[3]["polar TEST OA"] == 0.777
    # better ukis OA, worse 18SVG false cloud; Betsiboka has no before value
    assert real_wins(rows[1], rows[0]) == (1, 2)
    assert real_wins(rows[2], rows[0]) == (0, 2)
    assert [r[WINS_COLUMN] for r in rows] == ["", "1 of 2", "0 of 2", "0 of 2"]
    assert fmask_rows(rows) == {FMASK: rows[3]}
    syn = synthetic_rows(records, columns=("OA", "IoU cloud"))
    assert [(r["variant"], r["method"]) for r in syn][:2] == [
        ("polar-photometric", BEFORE), ("polar-photometric", "stage 0, polar + photometric")]
    assert syn[1]["OA"] == 0.83 and math.isnan(syn[1]["IoU cloud"]) and len(syn) == 6
    assert synthetic_rows(records, exclude=("polar",)) == []


def test_curves_of_the_records_that_have_one(tmp_path):
    _record(tmp_path, "polar", "stage 0, polar", 0.8, 0.83)
    rows = [{"epoch": 4, "val_miou": 0.5, "ukis OA": None}, {"epoch": 2, "val_miou": 0.3,
                                                             "ukis OA": 0.9}]
    path = tmp_path / "real_transfer_curve.json"
    rec = json.loads(_record(tmp_path, "x", "stage 0, x", 0.8, 0.83).read_text())
    path.write_text(json.dumps({**rec, "variant": "curve", "label": "stage 0, c",
                                "real_checks": [rec["real_checks"][0],
                                                {**rec["real_checks"][1], "method": "stage 0, c"},
                                                rec["real_checks"][2]],
                                "curve": rows}))
    got = curves(load_records(tmp_path))
    assert list(got) == ["stage 0, c"]
    assert [r["epoch"] for r in got["stage 0, c"]] == [2, 4]
    assert got["stage 0, c"][0]["ukis OA"] == 0.9 and math.isnan(got["stage 0, c"][1]["ukis OA"])
    (summary,) = curve_summary(got, after_epoch=1, columns=("ukis OA",))
    assert summary == {"variant": "stage 0, c", "epochs scored": 2, "selected epoch": 4,
                       "ukis OA (selected)": summary["ukis OA (selected)"],
                       "ukis OA (mean > ep 1)": 0.9}
    assert math.isnan(summary["ukis OA (selected)"])  # epoch 4 has the best val mIoU, no ukis


def test_no_records_and_bad_records(tmp_path):
    assert load_records(tmp_path / "none") == [] and transfer_table([]) == []
    (tmp_path / "real_transfer_x.json").write_text('{"record": "other"}')
    with pytest.raises(DataFileError, match="real_transfer_x.json: not a version-1"):
        load_records(tmp_path)
    (tmp_path / "real_transfer_x.json").write_text("{")
    with pytest.raises(DataFileError, match="not readable JSON"):
        load_records(tmp_path)
    with pytest.raises(ValueError, match="polar synthetic TEST"):
        write_record(tmp_path / "r.json", variant="v", label="l", code_version="c", args={},
                     seconds=1, epochs={}, real_checks=[], synthetic={})


def test_the_committed_records_load():
    """The records the book renders are valid and each names a real-check row for its model."""
    records = load_records(Path(__file__).resolve().parents[1] / RECORD_DIR)
    rows = transfer_table(records)
    assert len(rows) == (len(records) + 2 if records else 0)
    for rec in records:
        assert rec["label"] in [r["method"] for r in rec["real_checks"]]
