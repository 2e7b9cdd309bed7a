"""Tests of dfmask_lib.paperdata: the paper's scene lists and the layout check."""

from __future__ import annotations

import pytest

from dfmask_lib.errors import MissingDataError
from dfmask_lib.paperdata import layout_rows, paper_scene_lists


def test_paper_scene_lists_have_the_papers_counts():
    lists = paper_scene_lists()
    assert {k: len(v) for k, v in lists.items()} == {"TRAIN": 92, "VALIDATION": 20, "TEST": 23}
    names = [n for v in lists.values() for n in v]
    assert len(set(names)) == len(names)
    assert all(n.startswith("S2") and "_MSIL1C_" in n and n.endswith(".SAFE") for n in names)


def test_layout_rows_counts_present_and_labelled(tmp_path):
    lists = paper_scene_lists()
    img = tmp_path / "TEST" / lists["TEST"][0] / "GRANULE" / "G" / "IMG_DATA"
    img.mkdir(parents=True)
    (img / "T_LABELS.tif").write_bytes(b"")
    (tmp_path / "TEST" / lists["TEST"][1]).mkdir()
    (tmp_path / "TRAIN" / "not_listed.SAFE").mkdir(parents=True)
    rows = {r["split"]: r for r in layout_rows(tmp_path)}
    assert (rows["TEST"]["present"], rows["TEST"]["with labels"]) == (2, 1)
    assert (rows["TRAIN"]["present"], rows["TRAIN"]["listed"]) == (0, 92)
    with pytest.raises(MissingDataError, match="lay the paper's products out"):
        layout_rows(tmp_path / "nope")


def test_dry_run_profile_points_the_paper_profile_at_stand_ins():
    from dfmask_lib.book import load_profile
    from dfmask_lib.paperdata import dry_run_profile

    paper = load_profile("paper")
    dry = dry_run_profile(paper, "data/stand-ins")
    assert dry.notebooks == paper.notebooks and "01_synthetic" not in dry.notebooks
    p = dry.parameters
    assert p["03_stage0"]["synthetic_dir"] == "data/stand-ins"
    assert p["03_stage0"]["epochs"] == 1 and p["04_selftrain"]["epochs"] == [1, 1, 1, 1]
    assert p["03_stage0"]["batch_size"] == paper.parameters["03_stage0"]["batch_size"] == 1
    assert p["05_evaluation"]["device"] == "cpu" and p["04_selftrain"]["num_workers"] == 0
    assert p["06_comparison"]["methods"] == ["fmask"] and p["06_comparison"]["repeats"] == 1
    assert p["05_evaluation"]["predictions_dir"] == "data/generated/stand-ins/predictions"
    assert (dry_run_profile(paper, "x/paper-dryrun", generated="data/generated/d")
            .parameters["05_evaluation"]["predictions_dir"] == "data/generated/d/predictions")
    text = repr(p)
    assert "'data/paper'" not in text and "data/generated/paper/" not in text
    assert paper.parameters["04_selftrain"]["epochs"] == [400, 400, 400, 400]  # not mutated
