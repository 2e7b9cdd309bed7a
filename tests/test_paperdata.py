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
