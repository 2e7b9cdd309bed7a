"""Tests of dfmask_lib.book: profile parsing and errors, toc filtering, executing tiny notebooks,
skipping unchanged ones, the run record on each page, the parameters shown once, the build."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dfmask_lib.book import (
    Profile, book_toc, build_html, check_parameters, execute_notebook, external_inputs,
    find_profile, key_parts, load_profile, notebook_parameters, notebook_source,
    pages_of_profile, parse_profile, read_run_record, record_line, run_book, run_key,
    select_notebooks, show_parameters,
)
from dfmask_lib.bookcheck import check_html
from dfmask_lib.cli import main
from dfmask_lib.errors import ConfigError, MissingDataError, NotebookError
from dfmask_lib.paths import BOOK_DIR, NOTEBOOKS_DIR, PROJECT_ROOT

HEADER = ("# ---\n# jupyter:\n#   jupytext:\n#     text_representation:\n"
          "#       extension: .py\n#       format_name: percent\n# ---\n\n")
TINY = HEADER + ('# %% [markdown]\n# # Tiny\n\n# %% tags=["parameters"]\nx = 1\n\n'
                 '# %%\nimport os\nprint(os.getcwd(), x * 2)\n')
FAILING = HEADER + ('# %% tags=["parameters"]\nx = 1\n\n# %%\ny = x + 1\n\n'
                    '# %%\nraise ValueError(f"bad value {y}")\n')


@pytest.fixture
def nbdir(tmp_path: Path) -> Path:
    d = tmp_path / "notebooks"
    d.mkdir()
    (d / "01_tiny.py").write_text(TINY)
    (d / "02_fails.py").write_text(FAILING)
    return d


def test_parse_profile_ok():
    p = parse_profile({"notebooks": ["00_a", "01_b"], "parameters": {"01_b": {"n": 3}}}, "x")
    assert p == Profile("x", ("00_a", "01_b"), {"00_a": {}, "01_b": {"n": 3}})
    assert parse_profile({"notebooks": ["01_b"], "parameters": {"01_b": None}}).parameters == {
        "01_b": {}}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (["01_a"], "YAML mapping"),
        ({"notebooks": ["01_a"], "params": {}}, "unknown keys"),
        ({"notebooks": []}, "non-empty list"),
        ({"parameters": {}}, "non-empty list"),
        ({"notebooks": ["01_a.py"]}, "NN_name"),
        ({"notebooks": ["data"]}, "NN_name"),
        ({"notebooks": [1]}, "NN_name"),
        ({"notebooks": ["01_a", "01_a"]}, "twice"),
        ({"notebooks": ["01_a"], "parameters": {"02_b": {}}}, "not in its notebooks"),
        ({"notebooks": ["01_a"], "parameters": {"01_a": [1]}}, "must be a mapping"),
        ({"notebooks": ["01_a"], "parameters": [1]}, "must map"),
    ],
)
def test_parse_profile_errors(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_profile(data, "bad")


def test_find_and_load_profile_by_name_and_path(tmp_path):
    (tmp_path / "mine.yml").write_text("notebooks: [01_tiny]\nparameters:\n  01_tiny: {x: 5}\n")
    by_name = load_profile("mine", profiles_dir=tmp_path)
    by_path = load_profile(tmp_path / "mine.yml", profiles_dir=tmp_path / "elsewhere")
    assert by_name.parameters == by_path.parameters == {"01_tiny": {"x": 5}}
    assert by_name.name == "mine" and by_name.source == str(tmp_path / "mine.yml")
    with pytest.raises(ConfigError, match=r"no profile 'nope'.*known: \['mine'\]"):
        find_profile("nope", profiles_dir=tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        find_profile(tmp_path / "gone.yml")
    (tmp_path / "broken.yml").write_text("notebooks: [01_a\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile("broken", profiles_dir=tmp_path)


SHIPPED_PROFILES = sorted(p.stem for p in (BOOK_DIR / "profiles").glob("*.yml"))
SHIPPED_NOTEBOOKS = sorted([*NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"),
                            *NOTEBOOKS_DIR.glob("explore.py")])


@pytest.mark.parametrize("name", SHIPPED_PROFILES)
def test_shipped_profiles_match_the_notebooks_parameters(name):
    assert {"default", "smoke", "gpu"} <= set(SHIPPED_PROFILES)
    profile = load_profile(name)
    assert "00_data" in profile.notebooks
    # every notebook exists, runs in the book's order and gets only parameters it defines
    assert list(profile.notebooks) == sorted(profile.notebooks)
    missing = [nb for nb in profile.notebooks if not (NOTEBOOKS_DIR / f"{nb}.py").is_file()]
    assert not missing, f"profile {name} names notebooks that do not exist: {missing}"
    assert set(profile.parameters) == set(profile.notebooks)
    assert set(profile.parameters["00_data"]) == set(
        notebook_parameters(NOTEBOOKS_DIR / "00_data.py"))
    for nb, params in profile.parameters.items():
        check_parameters(NOTEBOOKS_DIR / f"{nb}.py", params)


def _code_without_magics(source: str) -> str:
    return "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("path", SHIPPED_NOTEBOOKS, ids=lambda p: p.stem)
def test_shipped_notebooks_are_thin(path):
    """Each notebook parses, has one parameters cell and defines no function, class or lambda."""
    import jupytext

    cells = jupytext.read(path).cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    defined = [f"{type(node).__name__} at line {node.lineno}" for c in cells
               if c.cell_type == "code" for node in ast.walk(ast.parse(
                   _code_without_magics(c.source), filename=path.name))
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                    ast.Lambda))]
    assert not defined, f"{path.name} defines {defined}: move them into dfmask_lib"


def test_notebook_parameters_and_unknown_ones_refused(nbdir, tmp_path):
    assert notebook_parameters(nbdir / "01_tiny.py") == ("x",)
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['y'\] for notebook 01_tiny "
                                          r"\(its parameters: \['x'\]\)"):
        execute_notebook(nbdir / "01_tiny.py", tmp_path / "o.ipynb", {"x": 1, "y": 2})
    (nbdir / "03_untagged.py").write_text(HEADER + "# %%\nx = 1\n")
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        run_book(Profile("p", ("01_tiny", "03_untagged")), notebooks_dir=nbdir,
                 book_dir=tmp_path / "book", build=False)
    assert not (tmp_path / "book").exists()  # refused before anything ran


def test_notebook_source_missing_names_existing(nbdir):
    assert notebook_source("01_tiny", nbdir) == nbdir / "01_tiny.py"
    with pytest.raises(MissingDataError, match=r"'09_gone'.*\['01_tiny', '02_fails'\]"):
        notebook_source("09_gone", nbdir)


def test_book_toc_drops_unexecuted_and_appends_new():
    toc = {"format": "jb-book", "root": "intro",
           "chapters": [{"file": "executed/00_a"}, {"file": "about"}, {"file": "executed/01_b"}]}
    out = book_toc(toc, ["01_b", "05_mine"])
    assert out == {"format": "jb-book", "root": "intro",
                   "chapters": [{"file": "about"}, {"file": "executed/01_b"},
                                {"file": "executed/05_mine"}]}
    shipped = yaml.safe_load((PROJECT_ROOT / "_toc.yml").read_text())
    assert shipped["root"] == "intro"
    assert [c["file"] for c in book_toc(shipped, ["00_data"])["chapters"]] == ["executed/00_data"]


def test_execute_notebook_injects_parameters_and_cwd(nbdir, tmp_path):
    out = tmp_path / "executed" / "01_tiny.ipynb"
    seconds = execute_notebook(nbdir / "01_tiny.py", out, {"x": 21}, cwd=tmp_path)
    assert seconds > 0
    nb = json.loads(out.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert "injected-parameters" in code[1]["metadata"]["tags"]
    assert "".join(code[-1]["outputs"][0]["text"]) == f"{tmp_path} 42\n"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert sorted(p.name for p in out.parent.iterdir()) == ["01_tiny.ipynb"]


def test_progress_bars_quiet_in_kernels_unless_asked(nbdir, tmp_path, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setenv("PYTHONWARNINGS", "default")  # a user's own setting wins
    src = nbdir / "05_env.py"
    src.write_text(HEADER + '# %% tags=["parameters"]\nx = 1\n\n'
                   '# %%\nimport os\nprint(os.environ.get("TQDM_DISABLE"), '
                   'os.environ.get("PYTHONWARNINGS"))\n')
    quiet, loud = tmp_path / "q.ipynb", tmp_path / "l.ipynb"
    execute_notebook(src, quiet, cwd=tmp_path)
    execute_notebook(src, loud, cwd=tmp_path, quiet_progress=False)
    printed = ["".join(json.loads(p.read_text())["cells"][-1]["outputs"][0]["text"])
               for p in (quiet, loud)]
    assert printed == ["1 default\n", "None default\n"]
    assert "TQDM_DISABLE" not in os.environ  # restored after the run


def test_failing_notebook_one_line_error_and_no_output(nbdir, tmp_path):
    out = tmp_path / "executed" / "02_fails.ipynb"
    with pytest.raises(NotebookError) as info:
        execute_notebook(nbdir / "02_fails.py", out, {"x": 41}, cwd=tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(
        "notebook 02_fails failed in cell [4] ('raise ValueError(f\"bad value {y}\")')")
    assert "ValueError: bad value 42" in msg
    assert not out.exists()
    assert (out.parent / "02_fails.failed.ipynb").exists()


def test_dead_kernel_and_missing_kernel(nbdir, tmp_path):
    (nbdir / "04_dies.py").write_text(HEADER + '# %% tags=["parameters"]\nx = 1\n\n'
                                      "# %%\nimport os\nos._exit(1)\n")
    with pytest.raises(NotebookError, match="notebook 04_dies the kernel died"):
        execute_notebook(nbdir / "04_dies.py", tmp_path / "04_dies.ipynb", cwd=tmp_path)
    assert not (tmp_path / "04_dies.ipynb").exists()
    with pytest.raises(NotebookError, match="no Jupyter kernel 'nope'"):
        execute_notebook(nbdir / "01_tiny.py", tmp_path / "t.ipynb", kernel="nope")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["04_dies.failed.ipynb", "notebooks"]


def test_run_book_checks_everything_before_executing(nbdir, tmp_path):
    profile = Profile("p", ("01_tiny", "03_missing"))
    with pytest.raises(MissingDataError, match="03_missing"):
        run_book(profile, notebooks_dir=nbdir, book_dir=tmp_path / "book", build=False)
    assert not (tmp_path / "book").exists()
    with pytest.raises(ConfigError, match=r"--only \['02_fails'\]"):
        run_book(Profile("p", ("01_tiny",)), only=["02_fails"], notebooks_dir=nbdir,
                 book_dir=tmp_path / "book", build=False)


def test_run_book_only_saves_profile(nbdir, tmp_path):
    lines: list[str] = []
    profile = Profile("p", ("01_tiny", "02_fails"), {"01_tiny": {"x": 2}, "02_fails": {}})
    times = run_book(profile, only=["01_tiny"], notebooks_dir=nbdir,
                     book_dir=tmp_path / "book", build=False, echo=lines.append)
    assert list(times) == ["01_tiny"]
    assert lines[0] == "[1/1] 01_tiny: executing (p profile) ..."
    assert lines[1].startswith("[1/1] 01_tiny: done in ")
    saved = json.loads((tmp_path / "book" / "executed" / "profile.json").read_text())
    assert saved["notebooks"] == ["01_tiny", "02_fails"] and saved["parameters"]["01_tiny"] == {
        "x": 2}


def test_build_html_offline(nbdir, tmp_path):
    bdir = tmp_path / "book"
    (bdir / "executed").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "book" / "intro.md", bdir / "intro.md")
    shutil.copytree(BOOK_DIR / "_static", bdir / "_static")
    execute_notebook(nbdir / "01_tiny.py", bdir / "executed" / "00_data.ipynb", {}, cwd=tmp_path)
    stale = bdir / "_build" / "html" / "executed" / "05_old.html"  # a chapter of an older build
    stale.parent.mkdir(parents=True)
    stale.write_text("<html></html>")
    index = build_html(["00_data"], book_dir=bdir, echo=lambda s: None)
    assert not stale.exists()
    assert index == bdir / "_build" / "html" / "index.html"
    assert (bdir / "_build" / "html" / "executed" / "00_data.html").exists()
    assert not (bdir / "_build" / "html" / "executed" / "02_fmask.html").exists()
    assert "Deep F-Mask, reproduced" in (bdir / "_build" / "html" / "intro.html").read_text()
    # nothing fetched from the internet: no thebe, no CDN (tests/test_bookcheck.py tests the check)
    html = bdir / "_build" / "html"
    assert check_html(html, ["00_data"], executed_dir=bdir / "executed") == []
    assert "thebe" not in (html / "executed" / "00_data.html").read_text().lower()


def test_cli_bad_profile_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["book", "--profile", "no_such_profile"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dfmask: error: no profile 'no_such_profile'") and err.count("\n") == 1


def test_python_m_entry_point(tmp_path):
    bad = tmp_path / "p.yml"
    bad.write_text("notebooks: [01_a]\nextra: 1\n")
    proc = subprocess.run([sys.executable, "-m", "dfmask_lib.book", "--profile", str(bad)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 2
    assert proc.stderr == ("dfmask: error: profile 'p' has unknown keys ['extra']; "
                           "allowed: notebooks, parameters\n")


CHAPTER_A = HEADER + ('# %% [markdown]\n# # Chapter A\n\n# %% tags=["parameters"]\n'
                      '# how much\nx = 1  # the x\n# an input file ("" for none)\npath = ""\n\n'
                      '# %%\nprint("A", x * 2)\n')
CHAPTER_B = HEADER + ('# %% [markdown]\n# # Chapter B\n\n# %% tags=["parameters"]\ny = 1\n\n'
                      '# %%\nprint("B", y)\n')
WARNS = HEADER + ('# %% [markdown]\n# # Warns\n\n# %% tags=["parameters"]\nx = 1\n\n'
                  '# %%\nimport warnings\nwarnings.warn("careful")\n')


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Path]:
    """Two tiny chapters and an empty book folder (intro and stylesheet copied)."""
    nbdir, bdir = tmp_path / "notebooks", tmp_path / "book"
    nbdir.mkdir()
    (nbdir / "01_a.py").write_text(CHAPTER_A)
    (nbdir / "02_b.py").write_text(CHAPTER_B)
    (nbdir / "03_warns.py").write_text(WARNS)
    bdir.mkdir()
    shutil.copy(BOOK_DIR / "intro.md", bdir / "intro.md")
    shutil.copytree(BOOK_DIR / "_static", bdir / "_static")
    return nbdir, bdir


def _run(chain, profile, **kw) -> tuple[list[str], list[str]]:
    """(names executed, printed lines) of a run_book without build."""
    lines: list[str] = []
    times = run_book(profile, notebooks_dir=chain[0], book_dir=chain[1], build=False,
                     echo=lines.append, **kw)
    return list(times), lines


def _chain_profile(name="p", path="", y=None) -> Profile:
    return Profile(name, ("01_a", "02_b"),
                   {"01_a": {"x": 2, "path": str(path)}, "02_b": {} if y is None else {"y": y}})


def test_select_notebooks_only_from_and_errors():
    p = Profile("p", ("00_a", "01_b", "02_c"))
    assert select_notebooks(p) == ["00_a", "01_b", "02_c"]
    assert select_notebooks(p, only=["02_c", "00_a"]) == ["00_a", "02_c"]
    assert select_notebooks(p, from_notebook="01_b") == ["01_b", "02_c"]
    with pytest.raises(ConfigError, match="give --from or --only, not both"):
        select_notebooks(p, only=["00_a"], from_notebook="01_b")
    with pytest.raises(ConfigError, match=r"--from \['09_x'\]: not in profile 'p'"):
        select_notebooks(p, from_notebook="09_x")


def test_external_inputs_names_existing_paths_but_not_generated(tmp_path):
    root, mirror = tmp_path / "root", tmp_path / "mirror"
    (root / "data" / "generated" / "runs").mkdir(parents=True)
    (root / "benchmarks" / "records").mkdir(parents=True)
    (mirror / "alcd" / "X.SAFE").mkdir(parents=True)
    (tmp_path / "own.tif").write_text("x")
    params = {"product": "alcd/X.SAFE", "records": "benchmarks/records",
              "runs": "data/generated/runs", "files": ["alcd/X.SAFE", str(tmp_path / "own.tif"),
                                                       "nope.tif"],
              "empty": "", "dot": ".", "split": "TEST", "n": 3, "long": "x" * 5000}
    found = external_inputs(params, root=root, mirrors=[mirror])
    assert found == [(mirror / "alcd" / "X.SAFE").resolve(),
                     (root / "benchmarks" / "records").resolve(), (tmp_path / "own.tif").resolve()]
    assert external_inputs({"p": "alcd/X.SAFE"}, root=root, mirrors=[]) == []


def test_run_key_changes_with_each_part(tmp_path):
    data = tmp_path / "in.txt"
    data.write_text("1")
    base = {"source_text": "x = 1\n", "parameters": {"x": 1, "y": [1, 2]},
            "upstream": ["k@t"], "version": "0.1.0", "inputs": [data]}
    key = run_key(key_parts(**base))
    assert len(key) == 64 and key == run_key(key_parts(**{**base, "parameters": {"y": [1, 2],
                                                                               "x": 1}}))
    changed = [{"source_text": "x = 2\n"}, {"parameters": {"x": 2, "y": [1, 2]}},
               {"upstream": ["k@t2"]}, {"version": "0.1.1"}, {"inputs": []}]
    assert all(run_key(key_parts(**{**base, **c})) != key for c in changed)
    data.write_text("22")
    assert run_key(key_parts(**base)) != key


def test_run_book_skips_unchanged_and_reruns_what_changed(chain, tmp_path):
    data = tmp_path / "input.txt"
    data.write_text("one")
    p = _chain_profile(path=data)
    assert _run(chain, p)[0] == ["01_a", "02_b"]
    record = read_run_record(chain[1] / "executed" / "01_a.run.json")
    assert record["profile"] == "p" and len(record["key"]) == 64 and record["seconds"] > 0
    # the kernel's memory: its peak when it set a new high for this process, else a bound
    known = [record["peak_gb"], record["peak_at_most_gb"]]
    assert known.count(None) == 1 and [v for v in known if v is not None][0] > 0.01
    executed, lines = _run(chain, p)
    assert executed == []
    assert re.fullmatch(r"\[1/2\] 01_a: up to date \(executed \d{4}-\d\d-\d\d \d\d:\d\d UTC "
                        r"under profile p\), skipped", lines[0]), lines
    data.write_text("two!")  # an input file: its chapter and every later one
    executed, lines = _run(chain, p)
    assert executed == ["01_a", "02_b"]
    assert lines[0] == "[1/2] 01_a: executing (p profile; its input files changed) ..."
    assert lines[2] == "[2/2] 02_b: executing (p profile; an earlier notebook changed) ..."
    assert _run(chain, _chain_profile(path=data, y=7))[0] == ["02_b"]  # its parameters
    (chain[0] / "02_b.py").write_text(CHAPTER_B.replace('"B"', '"b"'))  # its source
    assert _run(chain, _chain_profile(path=data, y=7))[1][1].endswith("its source changed) ...")
    (chain[1] / "executed" / "01_a.ipynb").unlink()  # a missing page, then everything after it
    assert _run(chain, _chain_profile(path=data, y=7))[0] == ["01_a", "02_b"]
    executed, lines = _run(chain, _chain_profile("q", path=data, y=7))  # another profile
    assert executed == ["01_a", "02_b"] and "last executed under profile 'p'" in lines[0]


def test_run_book_from_only_and_force(chain):
    p = _chain_profile()
    assert _run(chain, p, from_notebook="02_b")[0] == ["02_b"]  # 01_a never ran: not needed
    assert _run(chain, p, from_notebook="02_b")[0] == []
    assert _run(chain, p, from_notebook="02_b", force=True)[0] == ["02_b"]
    assert _run(chain, p, only=["01_a"])[0] == ["01_a"]
    assert _run(chain, p)[0] == ["02_b"]  # its earlier chapter ran since
    executed, lines = _run(chain, p, force=True)
    assert executed == ["01_a", "02_b"] and lines[0] == "[1/2] 01_a: executing (p profile; --force) ..."
    with pytest.raises(ConfigError, match="not both"):
        _run(chain, p, only=["01_a"], from_notebook="02_b")


def test_page_records_its_run_and_shows_parameters_once(chain):
    _run(chain, Profile("p", ("01_a",), {"01_a": {"x": [1, "two"]}}))
    nb = json.loads((chain[1] / "executed" / "01_a.ipynb").read_text())
    record = read_run_record(chain[1] / "executed" / "01_a.run.json")
    meta = nb["metadata"]["dfmask"]
    assert meta == {k: record[k] for k in ("profile", "code_version", "executed", "seconds", "key")}
    cells = nb["cells"]
    assert "".join(cells[0]["source"]) == "# Chapter A"
    assert cells[1]["metadata"]["tags"] == ["dfmask-run-record"]
    assert re.fullmatch(r"\*Executed under the `p` profile, dfmask \S+, \d{4}-\d\d-\d\d \d\d:\d\d "
                        r"UTC, in \d+\.\d s\.\*", "".join(cells[1]["source"]))
    params, injected = cells[2], cells[3]
    assert "".join(params["source"]) == ('# how much\nx = [1, \'two\']  # the x\n'
                                         '# an input file ("" for none)\npath = ""')
    assert injected["metadata"]["tags"] == ["injected-parameters", "remove-cell"]
    assert "".join(cells[-1]["outputs"][0]["text"]) == "A [1, 'two', 1, 'two']\n"


@pytest.mark.parametrize(("source", "values", "shown"), [
    ("x = 1\n", {"x": 2}, "x = 2\n"),
    ("# c\nx = 1  # why\ny = 'a'\n", {"y": "b"}, "# c\nx = 1  # why\ny = 'b'\n"),
    ("items = [\n    'a',\n    'b',\n]  # list\nn = 3", {"items": ["c"]}, "items = ['c']  # list\nn = 3"),
    ("n: int = 1\n", {"n": 5}, "n: int = 5\n"),
    ("a = 1; b = 2\n", {"b": {"k": None}}, "a = 1\nb = {'k': None}\n"),
    ("stretch = (2.0, 98.0)\n", {"stretch": [1.0, 99.0], "other": 1}, "stretch = [1.0, 99.0]\n"),
    ("x = (\n", {"x": 1}, "x = (\n"),  # not Python: left alone
])
def test_show_parameters(source, values, shown):
    assert show_parameters(source, values) == shown


def test_show_parameters_long_list_one_item_a_line():
    shown = show_parameters("products = []\n", {"products": ["p" * 50, "q" * 50]})
    assert shown == f"products = ['{'p' * 50}',\n            '{'q' * 50}']\n"
    assert ast.literal_eval(shown.split(" = ", 1)[1]) == ["p" * 50, "q" * 50]


def test_record_line_durations():
    run = {"profile": "default", "code_version": "0.1.0+gabc1234",
           "executed": "2026-12-01T18:02:07.120+00:00"}
    assert record_line({**run, "seconds": 486}) == (
        "*Executed under the `default` profile, dfmask 0.1.0+gabc1234, 2026-12-01 18:02 UTC, "
        "in 8.1 min.*")
    assert record_line({**run, "seconds": 3.04}).endswith("in 3.0 s.*")
    assert record_line({**run, "seconds": 7200}).endswith("in 2.0 h.*")


def test_pages_of_another_profile_left_out_with_a_line(tmp_path):
    for nb, meta in [("00_a", {"dfmask": {"profile": "p"}}), ("01_b", {"dfmask": {"profile": "q"}}),
                     ("02_c", {})]:
        (tmp_path / f"{nb}.ipynb").write_text(json.dumps({"metadata": meta, "cells": []}))
    lines: list[str] = []
    assert pages_of_profile(["00_a", "01_b", "02_c"], tmp_path, "p", lines.append) == ["00_a"]
    assert lines == [
        "leaving 01_b out of the book: it was executed under profile 'q', not 'p' "
        "(execute it with --only 01_b)",
        "leaving 02_c out of the book: it was executed without a run record, not 'p' "
        "(execute it with --only 02_c)"]


def _page_text(html: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html.read_text()))


def test_run_book_builds_the_pages_of_its_profile_and_checks_them(chain):
    nbdir, bdir = chain
    _run(chain, _chain_profile("p"))
    lines: list[str] = []
    q = Profile("q", ("01_a", "02_b"), {"01_a": {"x": 21}, "02_b": {}})
    run_book(q, only=["01_a"], notebooks_dir=nbdir, book_dir=bdir, echo=lines.append)
    assert ("leaving 02_b out of the book: it was executed under profile 'p', not 'q' "
            "(execute it with --only 02_b)") in lines
    html = bdir / "_build" / "html"
    assert (html / "executed" / "01_a.html").exists()
    assert not (html / "executed" / "02_b.html").exists()
    text = _page_text(html / "executed" / "01_a.html")
    assert "Executed under the q profile, dfmask" in text
    assert "x = 21 # the x" in text and "# Parameters" not in text and "x = 1" not in text
    assert check_html(html, ["01_a"], executed_dir=bdir / "executed") == []
    warns = Profile("q", ("01_a", "03_warns"), {"01_a": {"x": 21}, "03_warns": {}})
    with pytest.raises(NotebookError, match=r"^the built book has 1 problem\(s\): "
                                            r"executed/03_warns.html: an output shows a warning"):
        run_book(warns, notebooks_dir=nbdir, book_dir=bdir, echo=lambda s: None)


def test_cli_flags_reach_run_book(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr("dfmask_lib.book.run_book", lambda *a, **k: calls.append((a, k)))
    with pytest.raises(SystemExit) as info:
        main(["book", "-p", "smoke", "--from", "02_fmask", "--force", "--no-build", "--no-check"])
    assert info.value.code == 0
    (args, kwargs), = calls
    assert args == ("smoke",) and kwargs["from_notebook"] == "02_fmask" and kwargs["force"]
    assert kwargs["only"] == () and not kwargs["build"] and not kwargs["check"]
    with pytest.raises(SystemExit):
        main(["book", "--only", "00_data", "--only", "01_synthetic"])
    assert calls[-1][1]["only"] == ("00_data", "01_synthetic") and calls[-1][1]["check"]
    assert not calls[-1][1]["force"] and calls[-1][1]["from_notebook"] is None


@pytest.mark.parametrize(("argv", "message"), [
    (["--from", "02_fmask", "--only", "00_data"], "give --from or --only, not both"),
    (["--from", "99_nope"], "--from ['99_nope']: not in profile 'default'"),
    (["--only", "00_data", "--only", "99_nope"], "--only ['99_nope']: not in profile 'default'"),
])
def test_cli_bad_flags_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["book", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dfmask: error: {message}") and err.count("\n") == 1


@pytest.mark.slow
def test_data_notebook_runs_on_the_smoke_profile(tmp_path):
    """The real 00_data notebook on the bundled data (needs the local data mirror)."""
    profile = load_profile("smoke")
    out = tmp_path / "00_data.ipynb"
    execute_notebook(notebook_source("00_data"), out, profile.parameters["00_data"])
    text = "".join("".join(o.get("text", "")) for c in json.loads(out.read_text())["cells"]
                   if c["cell_type"] == "code" for o in c["outputs"])
    assert "S2MSI1C" in text and "05.10" in text
    assert "-1000.0000" in text  # the radiometric offset of baseline 05.10
    assert "cloud high probability" in text  # SCL 9 in the 2017 Barbellino scene


def test_book_config_renders_offline_without_executing():
    cfg = yaml.safe_load((PROJECT_ROOT / "_config.yml").read_text())
    assert cfg["title"] == "Deep F-Mask, reproduced"
    assert cfg["execute"]["execute_notebooks"] == "off"  # the runner executes, never Sphinx
    assert cfg["repository"]["url"].startswith("https://github.com/")
    assert cfg["launch_buttons"]["thebe"] is False and not cfg["launch_buttons"]["binderhub_url"]
    assert cfg["html"]["use_repository_button"] is False
    assert cfg["only_build_toc_files"] is True
    # the book loads nothing from the internet: the local extension and no widget CDNs
    assert cfg["sphinx"]["local_extensions"] == {"dfmask_offline": "book/_ext"}
    assert (PROJECT_ROOT / "book" / "_ext" / "dfmask_offline.py").is_file()
    assert cfg["sphinx"]["config"]["nb_ipywidgets_js"] == {}
    assert "executed/*.run.json" in cfg["exclude_patterns"]
    css = (BOOK_DIR / "_static" / "dfmask.css").read_text()
    assert "div.cell_output pre" in css and "table.dfmask-table" in css and "pre-wrap" in css


def test_kernels_log_no_transport_warnings(nbdir, tmp_path):
    # ipykernel warns on every start that TCP is unencrypted: noise in every runner log. In a
    # process of its own, so that a kernel of an earlier test still shutting down cannot
    # write into what is checked.
    code = ("import sys; from pathlib import Path; from dfmask_lib.book import execute_notebook;"
            "execute_notebook(Path(sys.argv[1]), Path(sys.argv[2]), {'x': 2},"
            " cwd=Path(sys.argv[3]))")
    proc = subprocess.run([sys.executable, "-c", code, str(nbdir / "01_tiny.py"),
                           str(tmp_path / "t.ipynb"), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "without encryption" not in proc.stderr and "IPKernelApp" not in proc.stderr
    outputs = json.loads((tmp_path / "t.ipynb").read_text())["cells"][-1]["outputs"]
    assert "".join(outputs[0]["text"]).strip().endswith("4")


def test_children_peak_sees_a_finished_child():
    import subprocess
    import sys

    from dfmask_lib.book import children_peak_gb

    subprocess.run([sys.executable, "-c", "import numpy as np; a = np.ones(2 ** 28, np.uint8)"],
                   check=True)
    assert children_peak_gb() >= 0.26  # the child touched 268 MB
