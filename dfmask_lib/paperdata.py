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
from types import MappingProxyType
from typing import Any, Mapping

from .book import Profile
from .errors import MissingDataError
from .registry import fetch

__all__ = ["SPLITS", "PAPER_ROOT", "paper_scene_lists", "layout_rows", "dry_run_profile"]

#: Where the paper profile expects the paper's products (relative to the project root).
PAPER_ROOT = "data/paper"

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


#: Settings of a dry run of the paper profile on a CPU: the pipeline end to end, not results.
DRY_RUN_SETTINGS: Mapping[str, object] = MappingProxyType(
    {"epochs": 1, "device": "cpu", "num_workers": 0, "repeats": 1})
#: The comparison's methods in a dry run: the project's Fmask besides the dfmask models.
DRY_RUN_METHODS = ("fmask",)


def dry_run_profile(paper: Profile, root: str | os.PathLike,
                    generated: str | None = None) -> Profile:
    """The paper profile pointed at ``root`` (stand-in products), one epoch per stage, on CPU.

    Every parameter ``data/paper`` becomes ``root``, every path under
    ``data/generated/paper`` moves to ``generated`` (default ``data/generated/<root's name>``,
    so dry runs on different stand-ins keep apart what they compute), epochs become 1 (per
    stage), the
    device the CPU, data-loading single-process, the comparison one timed round of the
    project's Fmask and the dfmask models; the paper's batch size, precision and everything
    else stay.
    """
    if generated is None:
        generated = f"data/generated/{Path(root).name}"

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            if value == PAPER_ROOT:
                return str(root)
            return value.replace("data/generated/paper", generated)
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    params: dict[str, dict[str, Any]] = {}
    for nb, block in paper.parameters.items():
        new = {k: swap(v) for k, v in block.items()}
        for key, value in DRY_RUN_SETTINGS.items():
            if key in new:
                new[key] = [value] * len(new[key]) if isinstance(new[key], list) else value
        if "methods" in new:
            new["methods"] = list(DRY_RUN_METHODS)
        if nb == "08_limits" or nb == "09_rerun":
            new["profile"] = paper.source or paper.name
        params[nb] = new
    return Profile(name=f"{paper.name}-dryrun", notebooks=paper.notebooks, parameters=params,
                   source=paper.source)


def dry_run(root: str | os.PathLike, *, size: int = 5490, n_train: int = 2, n_val: int = 1,
            n_test: int = 1, seed: int = 0, build: bool = True) -> dict[str, float]:
    """Stand-in products laid out like the paper's data, then the paper profile on them.

    Writes (or reuses) full-size synthetic L1C products under ``root/TRAIN|VALIDATION|TEST``
    (:func:`dfmask_lib.synthetic.ensure_splits`: the layout the paper profile expects, labels
    as ``*LABELS.tif``) and runs :func:`dry_run_profile` of ``book/profiles/paper.yml`` with
    :func:`dfmask_lib.book.run_book`. Returns its notebook times.
    """
    from .book import load_profile, run_book
    from .synthetic import ensure_splits

    ensure_splits(root, n_train, n_val, n_test, size=size, seed=seed)
    return run_book(dry_run_profile(load_profile("paper"), root), build=build)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Dry-run the paper profile on stand-in products.")
    parser.add_argument("root", help="folder for the stand-in products (e.g. data/paper-dryrun)")
    parser.add_argument("--size", type=int, default=5490, help="side in 20 m pixels (full tile)")
    parser.add_argument("--n-train", type=int, default=2)
    parser.add_argument("--n-val", type=int, default=1)
    parser.add_argument("--n-test", type=int, default=1)
    args = parser.parse_args()
    dry_run(args.root, size=args.size, n_train=args.n_train, n_val=args.n_val, n_test=args.n_test)
