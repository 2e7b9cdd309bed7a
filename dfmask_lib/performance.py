"""Records of the performance benchmarks, and the tables and goal checks the book shows.

Each script in ``benchmarks/`` (``fmask_tile.py``, ``train_step.py``, ``predict_tile.py``,
``compare_tile.py``) ends by writing one *record* with :func:`write_benchmark_record`:
a JSON file in ``benchmarks/records/<benchmark>.json`` (committed: the runs take minutes to an
hour) holding what the run measured. ``notebooks/07_performance.py`` renders the records with
the functions below: every number in the chapter is read from a record, and every goal is
checked against the record's numbers here, never typed.

Record contract (``RECORD_VERSION`` 1)::

    {"record": "benchmark", "version": 1, "benchmark": str,   # a key of BENCHMARKS
     "code_version": str,                  # dfmask_lib.version.get_version() of the run
     "date": ISO 8601 UTC, "seconds": float,                  # wall time of the whole run
     "command": str,                       # the command line that made it
     "machine": {"cpu_count", "cpu_model", "system", "python", "torch", "torch_threads",
                 "cuda_device", "load_1min"},                 # None where unknown / absent
     "args": {...},                        # the script's arguments
     "results": {...}}                     # measured values, one layout per benchmark

The ``results`` of each benchmark (raw measurements; the ratios stored beside them are for
reading the file, the functions here recompute them from the raw values):

* ``fmask_tile``: ``size``, ``shape``, ``write_s``, ``read_s``, ``fmask_s``,
  ``fmask_read_ratio``, ``peak_rss_gb``, ``objects``, ``matched``, ``fractions``;
* ``train_step``: ``batch``, ``size``, ``steps``, ``baseline`` (variant) and ``rows``, one per
  device, stage and variant: ``train_s_per_step``, ``train_patches_per_s``,
  ``infer_mpx_per_s``, ``params``, ``train_ratio``, ``infer_ratio``;
* ``predict_tile``: ``config`` (the PredictConfig), ``sizes``, ``stages`` and ``tiles``, one
  per size: ``reads`` (read seconds and peak GB, before and after the predictions) and
  ``predict`` (stage -> ``seconds``, ``peak_gb``, ``fractions``); ``bf16``: ``crop`` and
  ``rows`` (``model``, ``changed``, ``mpx_fp32``, ``mpx_bf16``);
* ``compare_tile``: ``config``, ``stages``, ``repeats``, ``threads`` and ``tiles``, one per
  size: ``methods`` (name -> ``label``, ``walls``, ``wall``, ``mpx_s``, ``peak_gb``, ``n``,
  optionally ``read_s`` / ``predict_s``, or ``skipped``: the reason).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import statistics
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from .atomic import write_json
from .errors import ConfigError, DataFileError

__all__ = [
    "RECORD_VERSION", "RECORD_DIR", "BENCHMARKS", "COLUMN_FORMATS",
    "FMASK_MAX_S", "FMASK_MAX_GB", "PREDICT_MAX_READ_RATIO", "PREDICT_MAX_GB",
    "PREDICT_RSS_TOLERANCE", "COMPARE_MIN_VS_S2CLOUDLESS", "COMPARE_MIN_VS_UKIS",
    "GOAL_TILE_PX", "TRAIN_GOAL_VARIANT", "TRAIN_MIN_SPEEDUP",
    "Missing", "machine_info", "write_benchmark_record", "record_path", "load_benchmark",
    "load_benchmarks", "is_missing", "record_rows", "describe_record", "table_formats",
    "fmask_tile_table", "fmask_tile_goals", "fmask_tile_variants",
    "train_step_table", "train_step_speedups", "train_step_goals",
    "predict_tile_table", "predict_tile_bf16", "predict_tile_goals",
    "compare_tile_table", "compare_tile_goals",
]

RECORD_VERSION = 1
#: Where the committed records are, relative to the project root.
RECORD_DIR = Path("benchmarks") / "records"
#: Every benchmark with a record: name -> the command that (re)makes its record.
BENCHMARKS: dict[str, str] = {
    "fmask_tile": "python benchmarks/fmask_tile.py",
    "train_step": "python benchmarks/train_step.py",
    "predict_tile": "python benchmarks/predict_tile.py",
    "compare_tile": "python benchmarks/compare_tile.py",
}
_KEYS = ("record", "version", "benchmark", "code_version", "date", "machine", "args", "results")

# Goals, each where an issue set it; the benchmarks print their checks with these same values.
#: Fmask on a full 5490 px tile on 2 cores (issue 3): wall seconds and peak RSS (GB).
FMASK_MAX_S, FMASK_MAX_GB = 90.0, 6.0
#: Prediction of a full tile (issue 9): at most this many times the time of reading the
#: model's bands, per stage; peak RSS below this (GB); full/half tile peak RSS within 10 %.
PREDICT_MAX_READ_RATIO: dict[int, float] = {0: 1.5, 3: 3.0}
PREDICT_MAX_GB = 4.0
PREDICT_RSS_TOLERANCE = 0.10
#: Against the peers end to end on the full tile (issue 10 item 6): minimum speed-up of a
#: stage over s2cloudless, and of every stage over ukis-csmask 1.0 at equal resolution.
COMPARE_MIN_VS_S2CLOUDLESS: dict[int, float] = {0: 8.0, 3: 4.0}
COMPARE_MIN_VS_UKIS = 1.0
#: The tile side (px) the Fmask, prediction and peer goals are set for; other sizes are noted.
GOAL_TILE_PX = 5490
#: Training: the variant the book's runs train with (``amp: true, channels_last: true``) must
#: train faster than fp32 on the machine measured, or it is not worth its rounding.
TRAIN_GOAL_VARIANT, TRAIN_MIN_SPEEDUP = "bf16+CL", 1.0

#: Display format of the columns of the tables below (seconds 0.1, ratios and GB 0.01).
COLUMN_FORMATS: dict[str, str] = {
    "wall s": ".1f", "s/step": ".2f",
    "x read": ".2f", "Fmask / read": ".2f", "peak GB": ".2f", "Mpx/s": ".2f",
    "patches/s": ".2f", "x fp32": ".2f", "infer Mpx/s": ".2f", "infer x fp32": ".2f",
    "M params": ".2f", "x s2cloudless": ".2f", "x ukis-csmask": ".2f", "changed %": ".3f",
    "fp32 Mpx/s": ".2f", "bf16 Mpx/s": ".2f", "bf16 / fp32": ".2f",
    "value": "g", "limit": "g", "run s": ".0f", "load": ".1f", "side px": "d",
    "sun zenith": ".1f", "read s": ".1f", "Fmask s": ".1f", "bytes/px": ".0f",
}


# --------------------------------------------------------------------------- writing


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info() -> dict[str, Any]:
    """The machine a benchmark ran on (see the module contract); never raises."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(), "cpu_model": _cpu_model(),
        "system": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(), "torch": None, "torch_threads": None,
        "cuda_device": None, "load_1min": None}
    try:
        info["load_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    try:
        import torch
    except ImportError:
        return info
    info["torch"], info["torch_threads"] = torch.__version__, torch.get_num_threads()
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def _plain(value: Any) -> Any:
    """``value`` with paths as strings and tuples as lists, for JSON."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_benchmark_record(path: str | os.PathLike, benchmark: str, *, args: Mapping[str, Any],
                           results: Mapping[str, Any], seconds: float,
                           code_version: str | None = None,
                           machine: Mapping[str, Any] | None = None) -> Path:
    """Write one benchmark run's record (atomic, strict JSON; see the module contract).

    Args:
        path: the record file (by convention ``RECORD_DIR / f"{benchmark}.json"``).
        benchmark: a key of :data:`BENCHMARKS`.
        args: the script's arguments (paths become strings).
        results: the measured values, in the layout of that benchmark.
        seconds: wall time of the whole run.
        code_version: default :func:`dfmask_lib.version.get_version`.
        machine: default :func:`machine_info`.

    Raises:
        ConfigError: an unknown benchmark name.
    """
    if benchmark not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {benchmark!r}; known: {sorted(BENCHMARKS)}")
    if code_version is None:
        from .version import get_version

        code_version = get_version()
    return write_json(path, {
        "record": "benchmark", "version": RECORD_VERSION, "benchmark": benchmark,
        "code_version": code_version,
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "seconds": round(float(seconds), 1),
        "command": shlex.join(["python", *sys.argv]),
        "machine": dict(machine_info() if machine is None else machine),
        "args": _plain(args), "results": _plain(results)})


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Missing:
    """The place of a record that is absent or unreadable, and how to make it."""

    benchmark: str
    path: str
    reason: str

    @property
    def message(self) -> str:
        """One line for the reader: what is wrong and which command makes the record."""
        return (f"no {self.benchmark} record ({self.path}: {self.reason}); make it with "
                f"`{BENCHMARKS.get(self.benchmark, 'the benchmark')}` from the project root")


def record_path(benchmark: str, record_dir: str | os.PathLike = RECORD_DIR) -> Path:
    """``record_dir/<benchmark>.json``."""
    return Path(record_dir) / f"{benchmark}.json"


def load_benchmark(path: str | os.PathLike) -> dict[str, Any]:
    """One record (with ``"path"`` added).

    Raises:
        DataFileError: the file is absent, not JSON, or not a version-1 benchmark record
            (the message names the file and the command that remakes it).
    """
    path = Path(path)
    fix = f"rerun `{BENCHMARKS.get(path.stem, 'its benchmark')}`"
    try:
        rec = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise DataFileError(f"{path}: no such record; {fix}") from exc
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: not readable JSON ({exc}); {fix}") from exc
    if not isinstance(rec, dict) or any(k not in rec for k in _KEYS) \
            or rec["record"] != "benchmark" or rec["version"] != RECORD_VERSION \
            or rec["benchmark"] not in BENCHMARKS:
        raise DataFileError(f"{path}: not a version-{RECORD_VERSION} benchmark record; {fix}")
    rec["path"] = str(path)
    return rec


def load_benchmarks(record_dir: str | os.PathLike = RECORD_DIR,
                    names: Sequence[str] = tuple(BENCHMARKS)) -> dict[str, dict | Missing]:
    """Benchmark name -> its record, or a :class:`Missing` marker (absent or unreadable file,
    with the reason), for every name in ``names``; never raises for a bad file."""
    out: dict[str, dict | Missing] = {}
    for name in names:
        path = record_path(name, record_dir)
        try:
            rec = load_benchmark(path)
        except DataFileError as exc:
            # the part of the message between the path and the advice to rerun
            reason = ("absent" if not path.exists()
                      else str(exc).split(": ", 1)[1].rsplit("; rerun", 1)[0])
            out[name] = Missing(name, str(path), reason)
            continue
        if rec["benchmark"] != name:
            out[name] = Missing(name, str(path), f"holds a {rec['benchmark']!r} record")
            continue
        out[name] = rec
    return out


def is_missing(record: Any) -> bool:
    """True for a :class:`Missing` marker."""
    return isinstance(record, Missing)


# --------------------------------------------------------------------------- tables


def _r(value: Any, digits: int) -> float:
    """``value`` as a float rounded to ``digits`` (None -> NaN)."""
    return math.nan if value is None else round(float(value), digits)


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def _machine(m: Mapping[str, Any]) -> str:
    cpu = f"{m.get('cpu_count')} x {m.get('cpu_model') or 'unknown CPU'}"
    return f"{cpu}, torch {m.get('torch')}, {m.get('cuda_device') or 'no CUDA device'}"


def _date(rec: Mapping[str, Any]) -> str:
    return rec["date"][:16].replace("T", " ")


def record_rows(records: Mapping[str, dict | Missing]) -> list[dict[str, Any]]:
    """One row per benchmark: ``benchmark``, ``code`` version, ``date (UTC)``, ``machine``,
    ``load`` (1-minute load average at the end of the run: other work on the machine),
    ``run s`` (wall time of the whole run) and ``command``; a missing record has ``missing``
    as its code, NaN numbers and the command that makes it."""
    rows = []
    for name, rec in records.items():
        if is_missing(rec):
            rows.append({"benchmark": name, "code": "missing", "date (UTC)": "-",
                         "machine": rec.reason, "load": math.nan, "run s": math.nan,
                         "command": BENCHMARKS.get(name, "")})
            continue
        rows.append({"benchmark": name, "code": rec["code_version"], "date (UTC)": _date(rec),
                     "machine": _machine(rec["machine"]),
                     "load": _r(rec["machine"].get("load_1min"), 1),
                     "run s": _r(rec.get("seconds"), 0),
                     "command": rec.get("command", BENCHMARKS[name])})
    return rows


def describe_record(record: Mapping[str, Any] | Missing) -> str:
    """One line on where a record's numbers come from (code version, date, machine, command,
    arguments), or, for a :class:`Missing` marker, its message."""
    if is_missing(record):
        return record.message
    args = ", ".join(f"{k}={v}" for k, v in record["args"].items())
    return (f"{record['benchmark']}: code {record['code_version']}, {_date(record)} UTC, "
            f"{_machine(record['machine'])}; `{record.get('command', '')}` "
            f"({args}), {record['seconds']:.0f} s in all")


def table_formats(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The :data:`COLUMN_FORMATS` of the columns in ``rows`` (for a table renderer)."""
    cols = list(rows[0]) if rows else []
    return {c: COLUMN_FORMATS[c] for c in cols if c in COLUMN_FORMATS}


def _results(record: Mapping[str, Any], benchmark: str) -> Mapping[str, Any]:
    if is_missing(record):
        raise DataFileError(record.message)
    if record.get("benchmark") != benchmark:
        raise ConfigError(f"expected a {benchmark} record, got {record.get('benchmark')!r}")
    return record["results"]


def _goal(goal: str, value: float, limit: float, ok: bool, note: str = "") -> dict[str, Any]:
    return {"goal": goal, "value": value, "limit": limit, "status": _met(ok), "note": note}


# fmask_tile -----------------------------------------------------------------


def fmask_tile_table(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows ``step``, ``wall s``, ``Fmask / read``, ``peak GB``: reading the 13 bands (the
    reference) and Fmask; the peak RSS is that of the process (read + Fmask)."""
    res = _results(record, "fmask_tile")
    ratio = res["fmask_s"] / res["read_s"]
    return [
        {"step": "read 13 bands (reference)", "wall s": _r(res["read_s"], 1),
         "Fmask / read": 1.0, "peak GB": math.nan},
        {"step": "run_fmask", "wall s": _r(res["fmask_s"], 1), "Fmask / read": _r(ratio, 2),
         "peak GB": _r(res["peak_rss_gb"], 2)},
    ]


def fmask_tile_variants(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per run of the record (the main one first): ``scene``, ``side px``, ``sun
    zenith``, ``bands`` read (13, or Fmask's nine as the CLI reads them), ``run`` (``run_fmask``
    on the whole tile, layers kept; or ``strips (CLI)``: :func:`~dfmask_lib.fmask.strips.
    fmask_strips`, as the CLI runs it), ``read s``, ``Fmask s``, ``peak GB`` and ``bytes/px``
    (peak RSS per pixel of the tile: memory against tile size). Records from before the
    variants give the main row only; those from before the strips say ``layers dropped``."""
    res = _results(record, "fmask_tile")
    runs = [{"scene": "temperate", "sun_zenith": 55.0, "keep_layers": True, **res},
            *res.get("variants", [])]
    return [{"scene": r["scene"], "side px": int(r["shape"][0]),
             "sun zenith": _r(r["sun_zenith"], 1), "bands": int(r.get("bands", 13)),
             "run": _fmask_run(r),
             "read s": _r(r["read_s"], 1), "Fmask s": _r(r["fmask_s"], 1),
             "peak GB": _r(r["peak_rss_gb"], 2),
             "bytes/px": _r(r["peak_rss_gb"] * 1e9 / (r["shape"][0] * r["shape"][1]), 0)}
            for r in runs]


def _fmask_run(run: Mapping[str, Any]) -> str:
    if run["keep_layers"]:
        return "run_fmask, layers kept"
    return "strips (CLI)" if run.get("path") == "fmask_strips" else "run_fmask, layers dropped"


def fmask_tile_goals(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Goal rows (``goal``, ``value``, ``limit``, ``status`` met/missed, ``note``): Fmask wall
    time <= :data:`FMASK_MAX_S` and peak RSS <= :data:`FMASK_MAX_GB`, on the main tile and on
    the polar one (snow, the sun 75 deg from zenith) when the record has it."""
    res = _results(record, "fmask_tile")
    note = "" if res["size"] == GOAL_TILE_PX else f"goal set for {GOAL_TILE_PX} px"
    rows = [
        _goal("Fmask wall s <=", _r(res["fmask_s"], 1), FMASK_MAX_S,
              res["fmask_s"] <= FMASK_MAX_S, note),
        _goal("peak RSS GB <=", _r(res["peak_rss_gb"], 2), FMASK_MAX_GB,
              res["peak_rss_gb"] <= FMASK_MAX_GB, note),
    ]
    for v in res.get("variants", []):
        if v["scene"] == "polar":
            rows += [_goal("polar tile: Fmask wall s <=", _r(v["fmask_s"], 1), FMASK_MAX_S,
                           v["fmask_s"] <= FMASK_MAX_S, f"sun zenith {v['sun_zenith']:g} deg"),
                     _goal("polar tile: peak RSS GB <=", _r(v["peak_rss_gb"], 2), FMASK_MAX_GB,
                           v["peak_rss_gb"] <= FMASK_MAX_GB, _fmask_run(v))]
    return rows


# train_step -----------------------------------------------------------------


def train_step_table(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per device, stage and variant: ``s/step``, ``patches/s``, ``x fp32`` (training
    speed over the baseline variant of the same run), ``infer Mpx/s``, ``infer x fp32``."""
    res = _results(record, "train_step")
    rows = res["rows"]
    base = {(r["device"], r["stage"]): r for r in rows if r["variant"] == res["baseline"]}
    out = []
    for r in rows:
        b = base[(r["device"], r["stage"])]
        out.append({
            "device": r["device"], "stage": r["stage"], "M params": _r(r["params"] / 1e6, 2),
            "variant": r["variant"], "s/step": _r(r["train_s_per_step"], 2),
            "patches/s": _r(r["train_patches_per_s"], 2),
            "x fp32": _r(r["train_patches_per_s"] / b["train_patches_per_s"], 2),
            "infer Mpx/s": _r(r["infer_mpx_per_s"], 2),
            "infer x fp32": _r(r["infer_mpx_per_s"] / b["infer_mpx_per_s"], 2)})
    return out


def train_step_speedups(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For a bar chart, per device measured (``"cpu"``, ``"cuda"``): ``{"stages": [...],
    "train": {variant: [x fp32 per stage]}, "infer": {variant: [...]}}``; the baseline variant
    is included (at 1)."""
    table = train_step_table(record)
    out = {}
    for device in dict.fromkeys(r["device"] for r in table):
        rows = [r for r in table if r["device"] == device]
        stages = sorted({r["stage"] for r in rows})
        variants = list(dict.fromkeys(r["variant"] for r in rows))
        get = {(r["stage"], r["variant"]): r for r in rows}
        out[device] = {
            "stages": stages,
            "train": {v: [get[(s, v)]["x fp32"] for s in stages] for v in variants},
            "infer": {v: [get[(s, v)]["infer x fp32"] for s in stages] for v in variants}}
    return out


def train_step_goals(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per device and stage: :data:`TRAIN_GOAL_VARIANT` trains more than
    :data:`TRAIN_MIN_SPEEDUP` x faster than fp32 (the reason the book trains with it)."""
    out = []
    for r in train_step_table(record):
        if r["variant"] != TRAIN_GOAL_VARIANT:
            continue
        out.append(_goal(f"{r['device']} stage {r['stage']} {TRAIN_GOAL_VARIANT} training "
                         "x fp32 >", r["x fp32"], TRAIN_MIN_SPEEDUP,
                         r["x fp32"] > TRAIN_MIN_SPEEDUP))
    return out


# predict_tile ---------------------------------------------------------------


def _read_s(tile: Mapping[str, Any]) -> float:
    """The reference: the mean of the reads that bracket the predictions."""
    return statistics.fmean(r["seconds"] for r in tile["reads"])


def predict_tile_table(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per tile size: reading the model's 6 bands (the reference, the mean of the reads before
    and after the predictions), then each stage's ``predict_product``: ``wall s``, ``Mpx/s``,
    ``peak GB``, ``x read`` and ``note`` (the single reads: their spread shows the drift)."""
    res = _results(record, "predict_tile")
    out = []
    for tile in res["tiles"]:
        size, read = tile["size"], _read_s(tile)
        mpx = size * size / 1e6
        out.append({"tile px": size, "step": "read 6 bands (reference)", "wall s": _r(read, 1),
                    "Mpx/s": _r(mpx / read, 2),
                    "peak GB": _r(max(r["peak_gb"] for r in tile["reads"]), 2), "x read": 1.0,
                    "note": "mean of the reads " + ", ".join(
                        f"{r['seconds']:.1f} s" for r in tile["reads"])})
        for stage, p in sorted(tile["predict"].items(), key=lambda kv: int(kv[0])):
            out.append({"tile px": size, "step": f"predict stage {stage}",
                        "wall s": _r(p["seconds"], 1), "Mpx/s": _r(mpx / p["seconds"], 2),
                        "peak GB": _r(p["peak_gb"], 2), "x read": _r(p["seconds"] / read, 2),
                        "note": ""})
    return out


def predict_tile_bf16(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """bf16 autocast against fp32 on a crop: ``model``, ``crop px``, ``changed %`` (valid pixels
    whose class changes), ``fp32 Mpx/s``, ``bf16 Mpx/s``, ``bf16 / fp32``; [] if not run."""
    bf16 = _results(record, "predict_tile").get("bf16") or {}
    return [{"model": r["model"], "crop px": bf16["crop"], "changed %": _r(100 * r["changed"], 3),
             "fp32 Mpx/s": _r(r["mpx_fp32"], 2), "bf16 Mpx/s": _r(r["mpx_bf16"], 2),
             "bf16 / fp32": _r(r["mpx_bf16"] / r["mpx_fp32"], 2)}
            for r in bf16.get("rows", [])]


def predict_tile_goals(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per tile and stage: ``x read`` <= :data:`PREDICT_MAX_READ_RATIO` (stages that have one)
    and peak RSS < :data:`PREDICT_MAX_GB`; per stage, with two sizes or more: peak RSS of the
    largest over the smallest tile within 1 +- :data:`PREDICT_RSS_TOLERANCE`."""
    res = _results(record, "predict_tile")
    out, rss = [], {}
    for tile in res["tiles"]:
        size, read = tile["size"], _read_s(tile)
        note = "" if size == GOAL_TILE_PX else f"goal set for {GOAL_TILE_PX} px"
        for stage, p in sorted(tile["predict"].items(), key=lambda kv: int(kv[0])):
            limit = PREDICT_MAX_READ_RATIO.get(int(stage))
            ratio = p["seconds"] / read
            if limit is not None:
                out.append(_goal(f"{size} px stage {stage} x read <=", _r(ratio, 2), limit,
                                 ratio <= limit, note))
            out.append(_goal(f"{size} px stage {stage} peak GB <", _r(p["peak_gb"], 2),
                             PREDICT_MAX_GB, p["peak_gb"] < PREDICT_MAX_GB, note))
            rss.setdefault(int(stage), {})[size] = p["peak_gb"]
    for stage, by_size in sorted(rss.items()):
        if len(by_size) < 2:
            continue
        big, small = max(by_size), min(by_size)
        ratio = by_size[big] / by_size[small]
        out.append(_goal(f"stage {stage} peak GB {big} / {small} px, |ratio - 1| <=",
                         _r(ratio, 2), PREDICT_RSS_TOLERANCE,
                         abs(ratio - 1) <= PREDICT_RSS_TOLERANCE,
                         f"{by_size[big]:.2f} / {by_size[small]:.2f} GB"))
    return out


# compare_tile ---------------------------------------------------------------

S2CLOUDLESS, UKIS = "s2cloudless", "ukis-csmask"


def compare_tile_table(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per tile size and method: ``wall s`` (median over the rounds), ``Mpx/s``, ``peak GB``
    (largest), ``rounds`` and the speed-ups ``x s2cloudless`` / ``x ukis-csmask`` (reference
    wall time / the method's, same run; NaN where a reference did not run); a skipped method
    has NaN numbers and its reason in ``note``."""
    res = _results(record, "compare_tile")
    out = []
    for tile in res["tiles"]:
        size, methods = tile["size"], tile["methods"]
        mpx = size * size / 1e6
        ref = {k: methods.get(k, {}).get("wall") for k in (S2CLOUDLESS, UKIS)}
        for name, m in methods.items():
            wall = m.get("wall")
            split = (f"read {m['read_s']:.1f} s + classify {m['predict_s']:.1f} s"
                     if m.get("read_s") is not None else "")
            out.append({
                "tile px": size, "method": m.get("label") or name,
                "wall s": _r(wall, 1), "Mpx/s": math.nan if wall is None else _r(mpx / wall, 2),
                "peak GB": _r(m.get("peak_gb"), 2), "rounds": m.get("n", 0),
                "x s2cloudless": (math.nan if wall is None or ref[S2CLOUDLESS] is None
                                  else _r(ref[S2CLOUDLESS] / wall, 2)),
                "x ukis-csmask": (math.nan if wall is None or ref[UKIS] is None
                                  else _r(ref[UKIS] / wall, 2)),
                "note": f"skipped: {m['skipped']}" if "skipped" in m else split})
    return out


def compare_tile_goals(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per tile size and dfmask stage: speed-up over s2cloudless >=
    :data:`COMPARE_MIN_VS_S2CLOUDLESS` (stages that have one) and over ukis-csmask 1.0 >=
    :data:`COMPARE_MIN_VS_UKIS`; ``not measured`` (with the reason) where a method did not
    run; goals are set for :data:`GOAL_TILE_PX` px, other sizes are noted."""
    res = _results(record, "compare_tile")
    out = []
    for tile in res["tiles"]:
        size, methods = tile["size"], tile["methods"]
        note = "" if size == GOAL_TILE_PX else f"indicative: goal set for {GOAL_TILE_PX} px"
        for stage in res["stages"]:
            mine = methods.get(f"dfmask stage {stage}", {"skipped": "not run"})
            for peer, goal in ((S2CLOUDLESS, COMPARE_MIN_VS_S2CLOUDLESS.get(int(stage))),
                               (UKIS, COMPARE_MIN_VS_UKIS)):
                if goal is None:
                    continue
                ref = methods.get(peer, {"skipped": "not run"})
                label = f"{size} px stage {stage} x {peer} >="
                if "wall" not in mine or "wall" not in ref:
                    why = (f"dfmask stage {stage}: {mine.get('skipped')}" if "wall" not in mine
                           else f"{peer}: {ref.get('skipped')}")
                    out.append({"goal": label, "value": math.nan, "limit": goal,
                                "status": "not measured", "note": why})
                    continue
                speedup = ref["wall"] / mine["wall"]
                out.append(_goal(label, _r(speedup, 2), goal, speedup >= goal, note))
    return out
