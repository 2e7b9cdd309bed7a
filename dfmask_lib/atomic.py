"""Write files and folders atomically: to a temporary name beside the target, then rename.

A crash or a bad input never leaves a half-written output under the final name. The
temporary's name says which process writes it (``.<name>.<host>-<pid>.<random>.part``), so
that the next write of the same target removes what a killed process left (a half-written
full-tile SAFE is gigabytes): a temporary of this host whose process no longer runs
(:func:`sweep_stale`). Temporaries of other hosts (a shared file system) are left alone.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

__all__ = ["atomic_path", "atomic_dir", "scratch_path", "sweep_stale", "write_csv", "write_json",
           "nan_to_none", "ResultFiles"]

log = logging.getLogger(__name__)

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
_OWNED = re.compile(r"(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.")


def _owner_prefix(name: str) -> str:
    return f".{name}.{_HOST}-{os.getpid()}."


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_stale(target: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the temporaries that killed writes of ``target`` left beside it.

    A temporary ``.<name>.<host>-<pid>.*.part*`` (``name``: the target's stem for files, its
    name for folders) is removed when ``host`` is this host and process ``pid`` no longer
    runs. Returns what was removed.
    """
    target = Path(target)
    prefix = f".{target.name if name is None else name}."
    removed = []
    if not target.parent.is_dir():
        return removed
    for path in target.parent.iterdir():
        if not (path.name.startswith(prefix) and ".part" in path.name):
            continue
        m = _OWNED.match(path.name[len(prefix):])
        if not m or m["host"] != _HOST or int(m["pid"]) == os.getpid() \
                or _running(int(m["pid"])):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted write", path)
        removed.append(path)
    return removed


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file path in the target's folder; rename it to ``target`` on success.

    The temporary name keeps the target's suffix (GDAL picks drivers by it). On an
    exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target, target.stem)
    fd, tmp = tempfile.mkstemp(prefix=_owner_prefix(target.stem), suffix=".part" + target.suffix,
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
def scratch_path(target: str | os.PathLike, suffix: str) -> Iterator[Path]:
    """Yield the path of a scratch file beside ``target`` (an empty file), removed at the end.

    Named like the target's temporaries (``.<stem>.<host>-<pid>.<random>.part<suffix>``),
    so that one a killed process left behind is removed by the next write's
    :func:`sweep_stale`; ``suffix`` says what it holds (e.g. ``.bands``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target, target.stem)
    fd, tmp = tempfile.mkstemp(prefix=_owner_prefix(target.stem), suffix=".part" + suffix,
                               dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


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
    sweep_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=_owner_prefix(target.name), suffix=".part",
                                dir=target.parent))
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

