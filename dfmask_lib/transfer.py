"""Records of the synthetic-to-real experiments (issue 11), and their before/after table.

``benchmarks/real_transfer.py`` trains stage-0 variants that differ from the default study in
their training data or augmentation, scores each on the real-data checks
(:mod:`dfmask_lib.realchecks`) and on the synthetic TEST scenes, and writes one *record* per
variant with :func:`write_record`: a JSON file holding the variant, the code version, the date,
the arguments and the measured rows. The records of the measured variants live in
``benchmarks/records/`` (committed, since a variant takes 10-20 minutes of CPU time to train),
and ``notebooks/06_comparison.py`` renders them with :func:`transfer_table`: the numbers are the
benchmark's, read from its files, never typed.

Record contract (``RECORD_VERSION`` 1)::

    {"record": "real_transfer", "version": 1, "variant": str, "label": str,
     "code_version": str, "date": ISO 8601, "machine": str, "seconds": float,
     "args": {...}, "epochs": {"after": int, "best_epoch": int},
     "real_checks": [row, ...],               # RealChecks.table(): COLUMNS, NaN -> null
     "synthetic": {"polar": [row, ...], ...}, # Comparison.overall() per TEST set
     "curve": [{"epoch", "val_miou", <real columns>, "polar TEST OA", "polar TEST mIoU"}]}
                                              # optional (``--curve``): the after run per epoch
"""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from .atomic import write_json
from .errors import DataFileError

__all__ = ["RECORD_VERSION", "RECORD_DIR", "REAL_COLUMNS", "SYNTHETIC_COLUMNS", "WINS_COLUMN",
           "FMASK_PREFIX", "write_record", "fmask_rows",
           "load_records", "transfer_table", "synthetic_rows", "curves", "curve_summary",
           "real_wins"]

RECORD_VERSION = 1
#: Where the committed records are, relative to the project root.
RECORD_DIR = Path("benchmarks") / "records"
#: Real-check columns of the table, each with the direction that is better (+1 higher).
REAL_COLUMNS: dict[str, int] = {
    "ukis OA": 1, "ukis cloud IoU": 1, "ukis-20m OA": 1, "18SVG false cloud %": -1,
    "Betsiboka cloud IoU": 1, "glacier mean acc": 1}
#: Synthetic TEST columns (from ``Comparison.overall()``), renamed in the table.
SYNTHETIC_COLUMNS: dict[str, str] = {"OA": "polar TEST OA", "mIoU": "polar TEST mIoU"}
#: Column of :func:`transfer_table`: on how many real checks a row beats the "before" model.
WINS_COLUMN = "better than before"
#: Label prefix of the project's Fmask rows in the records (``Fmask 4 (dfmask)...``).
FMASK_PREFIX = "Fmask 4"
_KEYS = ("record", "version", "variant", "label", "code_version", "real_checks", "synthetic")


def write_record(path: str | os.PathLike, *, variant: str, label: str, code_version: str,
                 args: Mapping[str, Any], seconds: float, epochs: Mapping[str, int],
                 real_checks: Sequence[Mapping[str, Any]],
                 synthetic: Mapping[str, Sequence[Mapping[str, Any]]],
                 curve: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write one experiment's record (atomic, strict JSON; see the module contract);
    ``curve``: optional rows of the "after" run scored at several epochs."""
    if "polar" not in synthetic:
        raise ValueError("a record needs the polar synthetic TEST rows (synthetic['polar'])")
    return write_json(path, {
        "record": "real_transfer", "version": RECORD_VERSION, "variant": variant,
        "label": label, "code_version": code_version,
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "seconds": round(float(seconds), 1),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in args.items()},
        "epochs": dict(epochs), "real_checks": [dict(r) for r in real_checks],
        "synthetic": {k: [dict(r) for r in v] for k, v in synthetic.items()},
        "curve": [dict(r) for r in curve]})


def load_records(folder: str | os.PathLike = RECORD_DIR) -> list[dict[str, Any]]:
    """Every ``real_transfer*.json`` record in ``folder``, sorted by variant; [] if none.

    Raises:
        DataFileError: a file that is not a record of this version (names the file).
    """
    records = []
    for path in sorted(Path(folder).glob("real_transfer*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DataFileError(f"{path}: not readable JSON ({exc}); rerun "
                                "benchmarks/real_transfer.py or delete it") from exc
        if not isinstance(rec, dict) or any(k not in rec for k in _KEYS) \
                or rec["record"] != "real_transfer" or rec["version"] != RECORD_VERSION:
            raise DataFileError(f"{path}: not a version-{RECORD_VERSION} real_transfer record; "
                                "rerun benchmarks/real_transfer.py")
        rec["path"] = str(path)
        records.append(rec)
    return sorted(records, key=lambda r: r["variant"])


def _num(value: Any) -> float:
    """A record value as a float; null (None) is NaN."""
    return math.nan if value is None else float(value)


def _row(label: str, real: Mapping[str, Any], polar: Mapping[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"model": label}
    row.update({col: _num(real.get(col)) for col in REAL_COLUMNS})
    row.update({dst: _num(None if polar is None else polar.get(src))
                for src, dst in SYNTHETIC_COLUMNS.items()})
    return row


def _find(rows: Sequence[Mapping[str, Any]], label: str) -> Mapping[str, Any] | None:
    return next((r for r in rows if r.get("method") == label), None)


def transfer_table(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Before/after rows: the common "before" model once (from the first record), then each
    record's "after" model, then Fmask; columns ``model``, :data:`REAL_COLUMNS`, the
    polar synthetic TEST OA / mIoU (NaN where a record lacks a value) and :data:`WINS_COLUMN`
    (``"k of n"``: :func:`real_wins` against the before row; empty for the before row).

    The "before" and Fmask rows of the first record stand for all: every record scores the same
    before model (the default study's stage 0) and the same Fmask on the same checks.
    """
    if not records:
        return []
    rows = []
    first = records[0]
    for rec in records:
        before_label, after_label = rec["real_checks"][0]["method"], rec["label"]
        polar = rec["synthetic"]["polar"]
        if rec is first:
            rows.append(_row(before_label, rec["real_checks"][0], _find(polar, before_label)))
        after = _find(rec["real_checks"], after_label)
        if after is None:
            raise DataFileError(f"{rec.get('path', 'record')}: no real-check row for "
                                f"{after_label!r}")
        rows.append(_row(after_label, after, _find(polar, after_label)))
    fmask = [r for r in first["real_checks"] if r["method"].startswith(FMASK_PREFIX)]
    if fmask:
        polar_fmask = next((r for r in first["synthetic"]["polar"]
                            if str(r.get("method", "")).startswith(FMASK_PREFIX)), None)
        rows.append(_row(fmask[0]["method"], fmask[0], polar_fmask))
    for row in rows:
        row[WINS_COLUMN] = "" if row is rows[0] else "%d of %d" % real_wins(row, rows[0])
    return rows


def fmask_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Model -> row of the Fmask rows of :func:`transfer_table` (the curves' references)."""
    return {r["model"]: r for r in rows if str(r["model"]).startswith(FMASK_PREFIX)}


def synthetic_rows(records: Sequence[Mapping[str, Any]],
                   columns: Sequence[str] = ("OA", "IoU clear land", "IoU cloud", "mIoU"),
                   exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every record's synthetic TEST rows, pooled per TEST set: ``variant``, ``TEST set``,
    ``method`` and ``columns`` (NaN where absent); the polar set first within each record;
    sets named in ``exclude`` left out (e.g. ``("polar",)``, already in :func:`transfer_table`)."""
    rows = []
    for rec in records:
        sets = sorted((k for k in rec["synthetic"] if k not in exclude),
                      key=lambda k: (k != "polar", k))
        for name in sets:
            for r in rec["synthetic"][name]:
                row = {"variant": rec["variant"], "TEST set": name, "method": r.get("method")}
                row.update({col: _num(r.get(col)) for col in columns})
                rows.append(row)
    return rows


def curves(records: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Label -> curve rows (sorted by epoch, ``None`` -> NaN) of every record that has one."""
    out = {}
    for rec in records:
        rows = rec.get("curve") or []
        if rows:
            out[rec["label"]] = sorted(({k: math.nan if v is None else v for k, v in r.items()}
                                        for r in rows), key=lambda r: r["epoch"])
    return out


def curve_summary(curves_by_label: Mapping[str, Sequence[Mapping[str, Any]]], *,
                  after_epoch: int = 10,
                  columns: Sequence[str] = ("ukis OA", "ukis cloud IoU", "glacier mean acc",
                                            "polar TEST OA")) -> list[dict[str, Any]]:
    """One row per curve: the epoch the synthetic validation selects (highest ``val_miou`` among
    the scored epochs) with its ``columns``, and each column's mean over the scored epochs after
    ``after_epoch`` (robust to which single epoch is selected; NaN if none)."""
    rows = []
    for label, curve in curves_by_label.items():
        scored = [r for r in curve if not math.isnan(float(r["val_miou"]))]
        if not scored:
            continue
        chosen = max(scored, key=lambda r: float(r["val_miou"]))
        late = [r for r in curve if r["epoch"] > after_epoch]
        row: dict[str, Any] = {"variant": label, "epochs scored": len(curve),
                               "selected epoch": int(chosen["epoch"])}
        for col in columns:
            row[f"{col} (selected)"] = float(chosen.get(col, math.nan))
        for col in columns:
            vals = [float(r[col]) for r in late if not math.isnan(float(r.get(col, math.nan)))]
            row[f"{col} (mean > ep {after_epoch})"] = (sum(vals) / len(vals) if vals
                                                       else math.nan)
        rows.append(row)
    return rows


def real_wins(row: Mapping[str, Any], reference: Mapping[str, Any]) -> tuple[int, int]:
    """(checks where ``row`` is better than ``reference``, checks compared): over
    :data:`REAL_COLUMNS`, with each column's direction; NaN on either side is not compared."""
    wins = compared = 0
    for col, sign in REAL_COLUMNS.items():
        a, b = row.get(col, math.nan), reference.get(col, math.nan)
        if math.isnan(a) or math.isnan(b):
            continue
        compared += 1
        wins += (a - b) * sign > 0
    return wins, compared
