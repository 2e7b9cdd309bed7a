"""Write files and folders atomically: to a temporary name beside the target, then rename.

A crash or a bad input never leaves a half-written output under the final name.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

__all__ = ["atomic_path", "atomic_dir", "write_csv", "write_json", "nan_to_none", "ResultFiles"]


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path in the target's folder; rename it to ``target`` on success.

    The temporary name keeps the target's suffix (GDAL picks drivers by it). On an
    exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".part" + target.suffix,
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # let the writer create it (some drivers refuse existing files)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; move it to ``target`` on success.

    With ``overwrite`` an existing ``target`` is replaced (removed only once the
    new folder is complete); without it, an existing target raises FileExistsError.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; remove it or allow overwriting")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``rows`` (dicts with the same keys, the first row's order) as CSV, atomically;
    floats at full precision, NaN as ``nan``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())
    return path


def nan_to_none(value: Any) -> Any:
    """``value`` with every float NaN inside dicts, lists and tuples replaced by None."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_none(v) for v in value]
    return value


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as strict JSON (NaN -> null, :func:`nan_to_none`), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(nan_to_none(dict(data)), indent=1, allow_nan=False) + "\n")
    return path


class ResultFiles:
    """Mixin of the result tables (evaluation, comparison, real-data checks): ``to_csv`` writes
    :meth:`csv_rows` (default ``self.table()``) with :func:`write_csv`, ``to_json`` writes the
    code version and ``self.to_dict()`` with :func:`write_json`; both atomic."""

    def csv_rows(self) -> Sequence[Mapping[str, Any]]:
        """The CSV rows (default: ``self.table()``)."""
        return self.table()  # type: ignore[attr-defined]

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`csv_rows` as CSV (atomic); floats at full precision, NaN as ``nan``."""
        path = write_csv(path, self.csv_rows())
        logging.getLogger(type(self).__module__).info("wrote %s", path)
        return path

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write ``to_dict()`` and the code version as strict JSON (NaN -> null), atomically."""
        from .version import get_version  # asks git once per process: only when writing

        data = {"dfmask_version": get_version(), **self.to_dict()}  # type: ignore[attr-defined]
        path = write_json(path, data)
        logging.getLogger(type(self).__module__).info("wrote %s", path)
        return path

