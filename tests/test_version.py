"""The code version recorded in every output: package metadata + git commit of a checkout."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from importlib.metadata import version as metadata_version

import pytest

from dfmask_lib import version as v

#: 0.1.0, 0.1.0+g7b7f24b, 0.1.0+g7b7f24b.dirty (PEP 440 local label)
VERSION_RE = re.compile(r"\d+\.\d+\.\d+(\+g[0-9a-f]{7,40}(\.dirty)?)?")

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A one-commit git repository with a tracked file."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "code.py").write_text("x = 1\n")
    _git(root, "add", "code.py")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "one")
    return root


def test_version_format_and_package_part():
    got = v.get_version()
    assert VERSION_RE.fullmatch(got), got
    assert got.split("+")[0] == metadata_version("dfmask")
    assert v.get_version() is got  # computed once


def test_dunder_version_is_the_same_and_import_starts_no_git():
    import dfmask_lib
    from dfmask_lib import __version__

    assert __version__ == dfmask_lib.__version__ == v.get_version()
    # only dfmask_lib.version asks git: importing the package and the CLI must not load it
    code = "import sys, dfmask_lib, dfmask_lib.cli; print('dfmask_lib.version' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_git
def test_version_of_this_checkout_names_its_commit():
    if v.git_suffix() is None:
        pytest.skip("not running from a git checkout")
    head = _git(v.SOURCE_ROOT, "rev-parse", "--short=7", "HEAD")
    dirty = bool(_git(v.SOURCE_ROOT, "status", "--porcelain", "--untracked-files=no"))
    assert v.version_string() == f"{metadata_version('dfmask')}+g{head}" + (".dirty" * dirty)


@needs_git
def test_git_suffix_clean_dirty_and_untracked(repo):
    head = _git(repo, "rev-parse", "--short=7", "HEAD")
    assert v.git_suffix(repo) == f"g{head}"
    (repo / "notes.txt").write_text("scratch")  # untracked: still the commit's code
    assert v.git_suffix(repo) == f"g{head}"
    (repo / "code.py").write_text("x = 2\n")
    assert v.git_suffix(repo) == f"g{head}.dirty"
    assert v.version_string(repo) == f"{v.package_version()}+g{head}.dirty"


@needs_git
def test_only_the_top_level_of_a_checkout_counts(repo, tmp_path):
    (repo / "site-packages").mkdir()  # an installed copy inside someone's repository
    assert v.git_suffix(repo / "site-packages") is None
    outside = tmp_path / "plain"
    outside.mkdir()
    assert v.git_suffix(outside) is None
    assert v.version_string(outside) == v.package_version() == metadata_version("dfmask")
    assert v.version_string(None) == v.package_version()


def test_without_git_it_falls_back_to_the_metadata_version(repo, monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no git binary at all
    assert v.git_suffix(repo) is None
    assert v.version_string(repo) == metadata_version("dfmask")


def test_a_hanging_git_does_not_hang(repo, monkeypatch, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    monkeypatch.setattr(v, "GIT_TIMEOUT_S", 0.3)
    start = time.perf_counter()
    assert v.version_string(repo) == v.package_version()
    assert 0.3 <= time.perf_counter() - start < 5  # waited for the timeout, then gave up


def test_unknown_package_version(monkeypatch):
    monkeypatch.setattr(v, "DISTRIBUTION", "no-such-distribution-dfmask")
    assert v.package_version() == "0+unknown"


def test_cli_version_prints_it(capsys):
    from dfmask_lib.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"dfmask {v.get_version()}\n"
