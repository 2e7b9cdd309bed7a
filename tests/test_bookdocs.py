"""Tests of dfmask_lib.bookdocs: the limits and rerun chapters' tables."""

from __future__ import annotations

import json

import pytest

from dfmask_lib.book import load_profile
from dfmask_lib.bookdocs import (NEEDS, differences_rows, needs_rows, parameters_cell,
                                 profile_block, real_gap_rows)
from dfmask_lib.errors import MissingDataError


def test_parameters_cell_and_profile_block():
    cell = parameters_cell("03_stage0")
    assert "epochs = " in cell and "# " in cell
    block = profile_block(load_profile("smoke").parameters, "03_stage0")
    assert block.startswith("03_stage0:\n") and "epochs: 2" in block
    with pytest.raises(MissingDataError, match="no notebook"):
        parameters_cell("99_nope")


def test_differences_rows_compare_with_the_paper():
    rows = {r["setting"]: r for r in differences_rows(
        {"epochs": 30}, {"epochs": [40, 15], "batch_size": 8, "amp": True}, 16, 92)}
    assert rows["epoch limit per stage"]["this run"] == "40 / 15"
    assert rows["batch size"] == {"setting": "batch size", "paper": "1", "this run": "8",
                                  "same": False}
    assert rows["training products"]["paper"] == "92" and not rows["training products"]["same"]
    assert rows["precision"]["this run"] == "bf16 autocast"
    same = differences_rows({}, {"batch_size": 1}, 92, 92)
    assert {r["setting"]: r["same"] for r in same}["batch size"] is True


def test_real_gap_rows(tmp_path):
    path = tmp_path / "real_checks.json"
    path.write_text(json.dumps({"table": [
        {"method": "a", "ukis OA": 0.5, "ukis cloud IoU": None, "18SVG false cloud %": 1.0,
         "glacier mean acc": 0.25},
        {"method": "b", "ukis OA": 0.9}]}))
    rows = real_gap_rows(path, ["b", "a", "missing"])
    assert [r["method"] for r in rows] == ["b", "a"]
    assert rows[1]["ukis OA"] == 0.5 and rows[1]["ukis cloud IoU"] != rows[1]["ukis cloud IoU"]
    with pytest.raises(MissingDataError, match="06_comparison"):
        real_gap_rows(tmp_path / "nope.json", ["a"])


def test_needs_rows_cover_every_shipped_notebook():
    notebooks = load_profile("default").notebooks
    assert set(notebooks) <= set(NEEDS)
    rows = needs_rows(["05_evaluation", "99_mine"])
    assert rows[0]["human labels"] == "test" and rows[1]["human labels"] == "?"
