"""What the book's last chapters show about the book itself: its limits and how to rerun it.

Pure functions over the shipped profiles, the notebooks' parameter cells and the outputs the
earlier chapters wrote, so that chapters ``08_limits`` and ``09_rerun`` stay thin and never
type a number by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import MissingDataError
from .paths import NOTEBOOKS_DIR

__all__ = ["PAPER", "NEEDS", "parameters_cell", "profile_block", "differences_rows",
           "real_gap_rows", "needs_rows"]

#: The paper's settings (Nambiar et al. 2022, sections 2-3) that this book may differ from.
PAPER: Mapping[str, object] = {
    "batch size": 1, "epoch limit per stage": 400, "precision": "fp32",
    "training data": "real L1C products (Fmask 4 labels)",
    "validation and test labels": "human (PANGAEA)",
}

#: Notebook -> what it needs from a user: (human labels?, what).
NEEDS: Mapping[str, tuple[str, str]] = {
    "00_data": ("no", "any L1C products to look at (SAFE, .zip, band folder, GeoTIFF stack)"),
    "01_synthetic": ("no", "nothing: it generates the synthetic scenes"),
    "02_fmask": ("no", "one L1C product"),
    "03_stage0": ("validation", "TRAIN products (Fmask labels are computed); VALIDATION with labels"),
    "04_selftrain": ("validation", "the same folders as 03_stage0"),
    "05_evaluation": ("test", "TEST products with *LABELS.tif"),
    "06_comparison": ("test", "TEST products with labels; the bundled real checks need none"),
    "07_performance": ("no", "the benchmark records in benchmarks/records/"),
    "08_limits": ("no", "the outputs of 03-06"),
    "09_rerun": ("no", "nothing"),
}


def parameters_cell(name: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> str:
    """The source of the cell tagged ``parameters`` of ``notebooks_dir/<name>.py``.

    Raises:
        MissingDataError: no such notebook, or it has no parameters cell.
    """
    import jupytext

    path = notebooks_dir / f"{name}.py"
    if not path.is_file():
        raise MissingDataError(f"no notebook {path}")
    cells = [c.source for c in jupytext.read(path).cells
             if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise MissingDataError(f"notebook {path} has no cell tagged 'parameters'")
    return cells[0]


def profile_block(parameters: Mapping[str, Mapping[str, Any]], name: str) -> str:
    """The YAML a user's profile needs for notebook ``name`` (its block of ``parameters``)."""
    import yaml

    lines = [f"{name}:"]
    for key, value in (parameters.get(name) or {}).items():
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        lines.append(f"  {key}: {text.removesuffix(chr(10) + '...').strip()}")
    return "\n".join(lines)


def differences_rows(stage0: Mapping[str, Any], selftrain: Mapping[str, Any],
                     n_train: int, paper_n_train: int) -> list[dict[str, object]]:
    """Where this run's settings differ from the paper's, one row per setting.

    Args:
        stage0, selftrain: the parameters notebooks 03 and 04 ran with (a profile's blocks).
        n_train: training products this run used; paper_n_train: the paper's.
    """
    epochs = selftrain.get("epochs", [])
    rows = [
        ("batch size", PAPER["batch size"], selftrain.get("batch_size")),
        ("epoch limit per stage", PAPER["epoch limit per stage"],
         " / ".join(str(e) for e in epochs) if epochs else "-"),
        ("supervised baseline epoch limit", PAPER["epoch limit per stage"], stage0.get("epochs")),
        ("precision", PAPER["precision"], "bf16 autocast" if selftrain.get("amp") else "fp32"),
        ("training products", paper_n_train, n_train),
        ("training data", PAPER["training data"], "synthetic L1C SAFE products (Fmask labels)"),
        ("validation and test labels", PAPER["validation and test labels"],
         "synthetic truth (known by construction)"),
    ]
    return [{"setting": s, "paper": str(p), "this run": str(h), "same": str(p) == str(h)}
            for s, p, h in rows]


#: Columns of the real-check table (``real_checks.json``) that the limits chapter shows.
REAL_COLUMNS = ("ukis OA", "ukis cloud IoU", "18SVG false cloud %", "glacier mean acc")


def real_gap_rows(real_checks: str | os.PathLike, methods: Sequence[str]) -> list[dict[str, object]]:
    """The real-data checks of ``methods`` (by label) from ``06_comparison``'s ``real_checks.json``.

    Raises:
        MissingDataError: the file is missing (run ``06_comparison`` first).
    """
    path = Path(real_checks)
    if not path.is_file():
        raise MissingDataError(f"{path} does not exist: run the notebook 06_comparison first")
    table = {r["method"]: r for r in json.loads(path.read_text())["table"]}
    return [{"method": m, **{c: table[m].get(c) if table[m].get(c) is not None else float("nan")
                             for c in REAL_COLUMNS}} for m in methods if m in table]


def needs_rows(notebooks: Sequence[str]) -> list[dict[str, str]]:
    """For each notebook: does it need human labels, and what input."""
    return [{"notebook": nb, "human labels": NEEDS.get(nb, ("?", ""))[0],
             "needs": NEEDS.get(nb, ("?", "see the notebook's parameters"))[1]} for nb in notebooks]
