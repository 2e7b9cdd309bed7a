"""Tests of dfmask_lib.book: profile parsing and errors, toc filtering, executing tiny notebooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dfmask_lib.book import (
    Profile, book_toc, build_html, check_parameters, execute_notebook, find_profile,
    load_profile, notebook_parameters, notebook_source, parse_profile, run_book,
)
from dfmask_lib.cli import main
from dfmask_lib.errors import ConfigError, MissingDataError, NotebookError
from dfmask_lib.paths import NOTEBOOKS_DIR, PROJECT_ROOT

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


@pytest.mark.parametrize("name", ["default", "smoke", "gpu"])
def test_shipped_profiles_match_the_notebooks_parameters(name):
    profile = load_profile(name)
    assert "00_data" in profile.notebooks
    # every notebook exists, runs in the book's order and has its parameters
    assert list(profile.notebooks) == sorted(profile.notebooks)
    assert all((NOTEBOOKS_DIR / f"{nb}.py").exists() for nb in profile.notebooks)
    assert set(profile.parameters) == set(profile.notebooks)
    assert set(profile.parameters["00_data"]) == set(
        notebook_parameters(NOTEBOOKS_DIR / "00_data.py"))
    for nb, params in profile.parameters.items():
        path = NOTEBOOKS_DIR / f"{nb}.py"
        if path.exists():  # others' notebooks may not be written yet
            check_parameters(path, params)


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
    execute_notebook(nbdir / "01_tiny.py", bdir / "executed" / "00_data.ipynb", {}, cwd=tmp_path)
    index = build_html(["00_data"], book_dir=bdir, echo=lambda s: None)
    assert index == bdir / "_build" / "html" / "index.html"
    assert (bdir / "_build" / "html" / "executed" / "00_data.html").exists()
    assert not (bdir / "_build" / "html" / "executed" / "02_fmask.html").exists()
    assert "Deep F-Mask, reproduced" in (bdir / "_build" / "html" / "intro.html").read_text()


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
