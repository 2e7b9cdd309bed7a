"""Benchmark records: writing, loading, the book's tables and goal checks, and the chapter."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from dfmask_lib import performance as perf
from dfmask_lib.errors import DataFileError
from dfmask_lib.paths import NOTEBOOKS_DIR, PROJECT_ROOT

MACHINE = {"cpu_count": 2, "cpu_model": "Test CPU", "system": "Linux x86_64", "python": "3.11",
           "torch": "2.0", "torch_threads": 2, "cuda_device": None, "load_1min": 0.5}

FMASK = {"size": 5490, "seed": 0, "write_s": 20.0, "shape": [5490, 5490], "read_s": 8.0,
         "fmask_s": 30.0, "peak_rss_gb": 4.18, "objects": 10, "matched": 9, "fractions": {}}


def _train_row(stage, variant, patches, mpx, params=1_940_000):
    return {"device": "cpu", "stage": stage, "variant": variant, "train_s_per_step": 8 / patches,
            "train_patches_per_s": patches, "infer_mpx_per_s": mpx, "params": params}


TRAIN = {"batch": 8, "size": 256, "steps": 3, "baseline": "fp32", "rows": [
    _train_row(0, "fp32", 2.0, 1.0), _train_row(0, "bf16+CL", 5.0, 3.0),
    _train_row(3, "fp32", 1.0, 0.5, 31_110_000), _train_row(3, "bf16+CL", 0.8, 0.6, 31_110_000)]}

PREDICT = {"config": {"window": 608}, "sizes": [5490, 2748], "stages": [0, 3], "tiles": [
    {"size": 5490, "reads": [{"seconds": 80.0, "peak_gb": 2.6}, {"seconds": 84.0, "peak_gb": 2.7}],
     "predict": {"0": {"seconds": 120.0, "peak_gb": 1.8}, "3": {"seconds": 250.0, "peak_gb": 2.1}}},
    {"size": 2748, "reads": [{"seconds": 20.0, "peak_gb": 1.0}, {"seconds": 22.0, "peak_gb": 1.1}],
     "predict": {"0": {"seconds": 30.0, "peak_gb": 1.5}, "3": {"seconds": 60.0, "peak_gb": 2.0}}}],
    "bf16": {"crop": 2048, "rows": [{"model": "random stage 0", "changed": 0.0012,
                                     "mpx_fp32": 0.4, "mpx_bf16": 0.3}]}}

COMPARE = {"config": {}, "stages": [0, 3], "repeats": 1, "threads": 0, "tiles": [{
    "size": 5490, "methods": {
        "dfmask stage 0": {"label": "dfmask stage 0", "wall": 100.0, "peak_gb": 1.7, "n": 1},
        "dfmask stage 3": {"label": "dfmask stage 3", "wall": 200.0, "peak_gb": 2.2, "n": 1},
        "s2cloudless": {"label": "s2cloudless 1.7.3 (10 bands)", "wall": 900.0, "peak_gb": 4.2,
                        "n": 1, "read_s": 100.0, "predict_s": 800.0},
        "ukis-csmask": {"label": "ukis-csmask 1.0.0 (6 bands)", "wall": 150.0, "peak_gb": 8.3,
                        "n": 1, "read_s": 80.0, "predict_s": 70.0}}}]}

RESULTS = {"fmask_tile": FMASK, "train_step": TRAIN, "predict_tile": PREDICT,
           "compare_tile": COMPARE}


def _write(folder, name, results=None, **kw):
    return perf.write_benchmark_record(
        folder / f"{name}.json", name, args={"size": 5490, "out": folder / "x"},
        results=RESULTS[name] if results is None else results, seconds=12.34,
        code_version="0.1.0+gabc1234", machine=MACHINE, **kw)


def _record(name, results=None):
    return {"benchmark": name, "results": RESULTS[name] if results is None else results}


@pytest.fixture
def records(tmp_path):
    for name in perf.BENCHMARKS:
        _write(tmp_path, name)
    return tmp_path


# --------------------------------------------------------------------------- write and load


def test_write_then_load_round_trip(tmp_path):
    path = _write(tmp_path, "fmask_tile")
    assert not list(tmp_path.glob(".*part*"))  # no temporary file left
    rec = perf.load_benchmark(path)
    assert rec["record"] == "benchmark" and rec["version"] == perf.RECORD_VERSION
    assert rec["benchmark"] == "fmask_tile" and rec["code_version"] == "0.1.0+gabc1234"
    assert rec["machine"] == MACHINE and rec["seconds"] == 12.3
    assert rec["args"] == {"size": 5490, "out": str(tmp_path / "x")}  # paths as strings
    assert rec["results"] == FMASK and rec["path"] == str(path)
    assert rec["date"].endswith("+00:00") and rec["command"].startswith("python ")


def test_write_rejects_unknown_benchmark(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark"):
        perf.write_benchmark_record(tmp_path / "x.json", "nope", args={}, results={}, seconds=1)


def test_write_defaults_machine_and_version(tmp_path):
    rec = perf.load_benchmark(perf.write_benchmark_record(
        tmp_path / "fmask_tile.json", "fmask_tile", args={}, results={}, seconds=1))
    assert rec["machine"]["cpu_count"] >= 1 and rec["machine"]["torch"]
    assert set(rec["machine"]) == set(MACHINE)
    assert rec["code_version"]


def test_load_benchmarks_marks_absent_and_corrupt(records):
    (records / "train_step.json").write_text("{not json")
    (records / "predict_tile.json").write_text(json.dumps({"record": "other"}))
    (records / "compare_tile.json").unlink()
    got = perf.load_benchmarks(records)
    assert list(got) == list(perf.BENCHMARKS)
    assert not perf.is_missing(got["fmask_tile"])
    for name, why in (("train_step", "not readable JSON"),
                      ("predict_tile", "not a version-1 benchmark record"),
                      ("compare_tile", "absent")):
        assert perf.is_missing(got[name]) and why in got[name].reason
        assert f"`python benchmarks/{name}.py`" in got[name].message
    with pytest.raises(DataFileError, match="train_step.json: not readable JSON"):
        perf.load_benchmark(records / "train_step.json")
    with pytest.raises(DataFileError, match="no such record; rerun `python benchmarks/compare"):
        perf.load_benchmark(records / "compare_tile.json")


def test_load_benchmarks_marks_a_record_under_the_wrong_name(tmp_path):
    path = _write(tmp_path, "fmask_tile")
    path.rename(tmp_path / "train_step.json")
    got = perf.load_benchmarks(tmp_path, names=["train_step"])
    assert perf.is_missing(got["train_step"]) and "'fmask_tile'" in got["train_step"].reason


def test_record_rows_and_description(records):
    (records / "compare_tile.json").unlink()
    got = perf.load_benchmarks(records)
    rows = perf.record_rows(got)
    assert [r["benchmark"] for r in rows] == list(perf.BENCHMARKS)
    assert rows[0]["code"] == "0.1.0+gabc1234" and rows[0]["run s"] == 12.0
    assert rows[0]["machine"] == "2 x Test CPU, torch 2.0, no CUDA device"
    assert rows[3]["code"] == "missing" and math.isnan(rows[3]["run s"])
    assert rows[3]["command"] == "python benchmarks/compare_tile.py"
    assert rows[0]["load"] == 0.5 and math.isnan(rows[3]["load"])
    assert perf.table_formats(rows) == {"load": ".1f", "run s": ".0f"}
    line = perf.describe_record(got["fmask_tile"])
    assert line.startswith("fmask_tile: code 0.1.0+gabc1234, ") and "size=5490" in line
    assert perf.describe_record(got["compare_tile"]) == got["compare_tile"].message


def test_tables_refuse_missing_and_wrong_records():
    with pytest.raises(DataFileError, match="make it with"):
        perf.fmask_tile_table(perf.Missing("fmask_tile", "x.json", "absent"))
    with pytest.raises(ValueError, match="expected a fmask_tile record"):
        perf.fmask_tile_table(_record("train_step"))


# --------------------------------------------------------------------------- fmask_tile


def test_fmask_tile_variants_rows_and_polar_goals():
    main = {**FMASK, "scene": "temperate", "sun_zenith": 55.0, "keep_layers": True}
    polar = {**FMASK, "scene": "polar", "sun_zenith": 75.0, "keep_layers": False, "bands": 9,
             "fmask_s": 95.0, "peak_rss_gb": 3.02, "size": 5490, "path": "fmask_strips"}
    rec = _record("fmask_tile", {**main, "variants": [polar]})
    rows = perf.fmask_tile_variants(rec)
    assert rows[1] == {"scene": "polar", "side px": 5490, "sun zenith": 75.0, "bands": 9,
                       "run": "strips (CLI)", "read s": 8.0, "Fmask s": 95.0,
                       "peak GB": 3.02, "bytes/px": 100.0}
    assert rows[0]["bytes/px"] == round(4.18e9 / 5490 ** 2) and rows[0]["bands"] == 13
    goals = perf.fmask_tile_goals(rec)
    assert [(g["goal"], g["status"]) for g in goals[2:]] == [
        ("polar tile: Fmask wall s <=", "missed"), ("polar tile: peak RSS GB <=", "met")]
    # a variant of a record from before the strips: run_fmask with its layers dropped
    old = {k: v for k, v in polar.items() if k != "path"}
    assert perf.fmask_tile_variants(_record("fmask_tile", {**main, "variants": [old]}))[1][
        "run"] == "run_fmask, layers dropped"
    # a record from before the variants: the main row alone, the two goals
    assert len(perf.fmask_tile_variants(_record("fmask_tile"))) == 1
    assert len(perf.fmask_tile_goals(_record("fmask_tile"))) == 2


def test_fmask_tile_table_and_goals():
    rows = perf.fmask_tile_table(_record("fmask_tile"))
    assert rows[1] == {"step": "run_fmask", "wall s": 30.0, "Fmask / read": 3.75,
                       "peak GB": 4.18}
    assert rows[0]["wall s"] == 8.0 and rows[0]["Fmask / read"] == 1.0
    goals = perf.fmask_tile_goals(_record("fmask_tile"))
    assert [(g["value"], g["limit"], g["status"]) for g in goals] == [
        (30.0, 90.0, "met"), (4.18, 6.0, "met")]
    slow = perf.fmask_tile_goals(_record("fmask_tile", {**FMASK, "fmask_s": 90.04,
                                                         "peak_rss_gb": 6.2, "size": 1098}))
    assert [g["status"] for g in slow] == ["missed", "missed"]
    assert slow[0]["note"] == "goal set for 5490 px"


# --------------------------------------------------------------------------- train_step


def test_train_step_table_speedups_and_goals():
    rec = _record("train_step")
    rows = perf.train_step_table(rec)
    assert [(r["stage"], r["variant"], r["x fp32"], r["infer x fp32"]) for r in rows] == [
        (0, "fp32", 1.0, 1.0), (0, "bf16+CL", 2.5, 3.0), (3, "fp32", 1.0, 1.0),
        (3, "bf16+CL", 0.8, 1.2)]
    assert rows[0]["M params"] == 1.94 and rows[1]["s/step"] == 1.6
    assert perf.train_step_speedups(rec) == {"cpu": {
        "stages": [0, 3], "train": {"fp32": [1.0, 1.0], "bf16+CL": [2.5, 0.8]},
        "infer": {"fp32": [1.0, 1.0], "bf16+CL": [3.0, 1.2]}}}
    goals = perf.train_step_goals(rec)
    assert [(g["value"], g["status"]) for g in goals] == [(2.5, "met"), (0.8, "missed")]
    assert goals[0]["goal"].startswith("cpu stage 0 bf16+CL")


# --------------------------------------------------------------------------- predict_tile


def test_predict_tile_table_against_the_mean_read():
    rows = perf.predict_tile_table(_record("predict_tile"))
    assert [(r["tile px"], r["step"], r["wall s"], r["x read"]) for r in rows] == [
        (5490, "read 6 bands (reference)", 82.0, 1.0), (5490, "predict stage 0", 120.0, 1.46),
        (5490, "predict stage 3", 250.0, 3.05), (2748, "read 6 bands (reference)", 21.0, 1.0),
        (2748, "predict stage 0", 30.0, 1.43), (2748, "predict stage 3", 60.0, 2.86)]
    assert rows[0]["peak GB"] == 2.7 and rows[1]["Mpx/s"] == 0.25
    assert rows[0]["note"] == "mean of the reads 80.0 s, 84.0 s" and rows[1]["note"] == ""


def test_predict_tile_goals():
    goals = {g["goal"]: g for g in perf.predict_tile_goals(_record("predict_tile"))}
    assert goals["5490 px stage 0 x read <="]["status"] == "met"
    assert goals["5490 px stage 3 x read <="]["status"] == "missed"
    assert goals["5490 px stage 3 x read <="]["limit"] == 3.0
    assert goals["5490 px stage 3 peak GB <"]["status"] == "met"
    assert goals["2748 px stage 0 x read <="]["note"] == "goal set for 5490 px"
    rss0 = goals["stage 0 peak GB 5490 / 2748 px, |ratio - 1| <="]
    assert (rss0["value"], rss0["status"]) == (1.2, "missed")
    rss3 = goals["stage 3 peak GB 5490 / 2748 px, |ratio - 1| <="]
    assert (rss3["value"], rss3["status"]) == (1.05, "met")
    assert len(goals) == 10


def test_predict_tile_one_size_has_no_rss_ratio_and_bf16_rows():
    one = {**PREDICT, "tiles": PREDICT["tiles"][:1], "bf16": None}
    goals = perf.predict_tile_goals(_record("predict_tile", one))
    assert len(goals) == 4 and not any("/" in g["goal"] for g in goals)
    assert perf.predict_tile_bf16(_record("predict_tile", one)) == []
    assert perf.predict_tile_bf16(_record("predict_tile")) == [{
        "model": "random stage 0", "crop px": 2048, "changed %": 0.12, "fp32 Mpx/s": 0.4,
        "bf16 Mpx/s": 0.3, "bf16 / fp32": 0.75}]


# --------------------------------------------------------------------------- compare_tile


def test_compare_tile_table_and_goals():
    rows = perf.compare_tile_table(_record("compare_tile"))
    assert [(r["method"], r["x s2cloudless"], r["x ukis-csmask"]) for r in rows] == [
        ("dfmask stage 0", 9.0, 1.5), ("dfmask stage 3", 4.5, 0.75),
        ("s2cloudless 1.7.3 (10 bands)", 1.0, 0.17), ("ukis-csmask 1.0.0 (6 bands)", 6.0, 1.0)]
    assert rows[0]["Mpx/s"] == 0.3 and rows[3]["note"] == "read 80.0 s + classify 70.0 s"
    goals = perf.compare_tile_goals(_record("compare_tile"))
    assert [(g["goal"], g["value"], g["limit"], g["status"]) for g in goals] == [
        ("5490 px stage 0 x s2cloudless >=", 9.0, 8.0, "met"),
        ("5490 px stage 0 x ukis-csmask >=", 1.5, 1.0, "met"),
        ("5490 px stage 3 x s2cloudless >=", 4.5, 4.0, "met"),
        ("5490 px stage 3 x ukis-csmask >=", 0.75, 1.0, "missed")]


def test_compare_tile_skipped_peer_is_not_measured():
    methods = dict(COMPARE["tiles"][0]["methods"], **{"s2cloudless": {
        "label": "s2cloudless", "skipped": "package s2cloudless is not installed"}})
    res = {**COMPARE, "tiles": [{"size": 1098, "methods": methods}]}
    rows = perf.compare_tile_table(_record("compare_tile", res))
    assert math.isnan(rows[0]["x s2cloudless"]) and math.isnan(rows[2]["wall s"])
    assert rows[2]["note"] == "skipped: package s2cloudless is not installed"
    goals = perf.compare_tile_goals(_record("compare_tile", res))
    assert [g["status"] for g in goals] == ["not measured", "met", "not measured", "missed"]
    assert goals[0]["note"] == "s2cloudless: package s2cloudless is not installed"
    assert goals[1]["note"].startswith("indicative")


# --------------------------------------------------------------------------- the scripts


def _bench(script, *args):
    subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / script), *map(str, args)],
                   check=True, cwd=PROJECT_ROOT, capture_output=True, text=True)


def test_fmask_tile_script_writes_a_record_the_tables_read(tmp_path):
    _bench("fmask_tile.py", "--size", 600, "--record", tmp_path / "fmask_tile.json")
    rec = perf.load_benchmarks(tmp_path)["fmask_tile"]
    assert rec["results"]["shape"] == [600, 600]
    assert rec["command"].startswith("python ") and "fmask_tile.py --size 600" in rec["command"]
    assert rec["args"] == {"size": 600, "seed": 0, "only_main": False}
    goals = perf.fmask_tile_goals(rec)
    assert [g["note"] for g in goals[:2]] == ["goal set for 5490 px"] * 2
    assert [g["goal"] for g in goals[2:]] == ["polar tile: Fmask wall s <=",
                                              "polar tile: peak RSS GB <="]
    assert perf.fmask_tile_table(rec)[1]["Fmask / read"] > 0
    runs = perf.fmask_tile_variants(rec)
    assert [(r["scene"], r["side px"], r["sun zenith"], r["run"]) for r in runs] == [
        ("temperate", 600, 55.0, "run_fmask, layers kept"),
        ("temperate", 600, 55.0, "strips (CLI)"), ("temperate", 300, 55.0, "strips (CLI)"),
        ("polar", 600, 75.0, "strips (CLI)")]
    main, cli = rec["results"]["fractions"], rec["results"]["variants"][0]["fractions"]
    assert cli == main  # the strips give the whole-tile labels
    polar = rec["results"]["variants"][2]["fractions"]
    assert polar.get("snow", 0) > 0.2  # a snowy tile, and Fmask sees the snow


def test_train_step_script_writes_a_record_the_tables_read(tmp_path):
    path = tmp_path / "t.json"
    _bench("train_step.py", "--stages", 0, "--variants", "fp32", "bf16+CL", "--steps", 1,
           "--batch", 1, "--size", 32, "--record", path)
    rec = perf.load_benchmark(path)
    assert rec["args"]["variants"] == ["fp32", "bf16+CL"] and rec["results"]["baseline"] == "fp32"
    assert [r["variant"] for r in perf.train_step_table(rec)] == ["fp32", "bf16+CL"]
    assert len(perf.train_step_goals(rec)) == 1


def test_no_record_writes_nothing(tmp_path):
    _bench("fmask_tile.py", "--size", 600, "--record", tmp_path / "x.json", "--no-record")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- the chapter


def _run_chapter(record_dir, tmp_path, monkeypatch):
    import nbformat

    from dfmask_lib.book import execute_notebook

    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as in the book
    out = tmp_path / "07_performance.ipynb"
    execute_notebook(NOTEBOOKS_DIR / "07_performance.py", out, {"record_dir": str(record_dir)})
    nb = nbformat.read(out, as_version=4)
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_chapter_renders_the_records(records, tmp_path, monkeypatch):
    text = _run_chapter(records, tmp_path / "nb", monkeypatch)
    assert "0.1.0+gabc1234" in text
    assert "3.75" in text and "1.46" in text and "0.75" in text  # Fmask/read, x read, x ukis
    assert "missed" in text and "image/png" in text  # the goals and the training figure
    assert "make it with" not in text


def test_chapter_names_the_command_of_a_missing_record(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    text = _run_chapter(tmp_path / "empty", tmp_path, monkeypatch)
    for name in perf.BENCHMARKS:
        assert f"`python benchmarks/{name}.py`" in text
