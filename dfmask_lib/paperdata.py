"""The paper's own data: its scene lists, and a folder laid out to run the book on them.

Nambiar et al. (2022) name their 92 training, 20 validation and 23 test Sentinel-2 L1C
products in the authors' repository (``exp_data/*_filename.txt``); the data registry holds
those lists (``deepfmask_scene_lists/``). The products come from the Copernicus archive and
the human labels of the validation and test scenes from PANGAEA (doi:10.1594/PANGAEA.942321).
The book's ``paper`` profile expects them laid out like the synthetic splits, so every
notebook runs on them unchanged::

    <root>/TRAIN/<product>.SAFE                 Fmask labels: GRANULE/*/IMG_DATA/*FMASK.tif
    <root>/VALIDATION/<product>.SAFE            human labels: GRANULE/*/IMG_DATA/*LABELS.tif
    <root>/TEST/<product>.SAFE                  human labels: GRANULE/*/IMG_DATA/*LABELS.tif

(an ``*FMASK.tif`` that is missing is computed by the project's Fmask 4 and cached).
:func:`layout_rows` checks such a folder against the lists.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import MissingDataError
from .registry import fetch

__all__ = ["SPLITS", "paper_scene_lists", "layout_rows"]

#: The paper's splits and the registry file that lists each one's products.
SPLITS = {"TRAIN": "deepfmask_scene_lists/train_filename.txt",
          "VALIDATION": "deepfmask_scene_lists/validation_filename.txt",
          "TEST": "deepfmask_scene_lists/test_filename.txt"}


def paper_scene_lists() -> dict[str, list[str]]:
    """Split name -> the paper's product names (``S2?_MSIL1C_....SAFE``), from the registry."""
    return {split: [ln.strip() for ln in fetch(name).read_text().splitlines() if ln.strip()]
            for split, name in SPLITS.items()}


def layout_rows(root: str | os.PathLike) -> list[dict[str, object]]:
    """One row per split: listed products, how many are present in ``root``, with labels.

    Raises:
        MissingDataError: ``root`` does not exist (says how to lay it out).
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingDataError(f"{root} does not exist: lay the paper's products out as "
                               "<root>/TRAIN|VALIDATION|TEST/<product>.SAFE (see dfmask_lib.paperdata)")
    rows = []
    for split, names in paper_scene_lists().items():
        present = [root / split / n for n in names if (root / split / n).is_dir()]
        kind = "FMASK" if split == "TRAIN" else "LABELS"
        labelled = [p for p in present if any(p.glob(f"GRANULE/*/IMG_DATA/*{kind}.tif"))]
        rows.append({"split": split, "listed": len(names), "present": len(present),
                     "with labels": len(labelled), "label file": f"*{kind}.tif"})
    return rows
