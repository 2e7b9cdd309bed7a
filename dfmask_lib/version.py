"""Which code wrote a file: the package version plus the git commit of a checkout.

:func:`get_version` is what every output records (``DFMASK_VERSION`` GeoTIFF tag,
HDF5 patch attributes, checkpoints) and what ``dfmask --version`` prints:

* ``0.1.0`` -- the installed package's metadata version (``importlib.metadata``), when
  the code does not run from a git checkout (an installed wheel, a copied tree, no git);
* ``0.1.0+g7b7f24b`` -- inside a git checkout of the project: the short commit of HEAD
  (a PEP 440 local version label, as setuptools-scm writes it);
* ``0.1.0+g7b7f24b.dirty`` -- tracked files differ from that commit (untracked files
  do not count: they are data, runs and scratch files, not code).

The version is computed once per process and cached. Git is asked with a short
timeout and any failure (no git, not a checkout, a timeout) falls back to the
metadata version, so asking never fails and never hangs.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
from importlib.metadata import PackageNotFoundError, version as _metadata_version
from pathlib import Path

__all__ = ["DISTRIBUTION", "get_version", "package_version", "git_suffix"]

log = logging.getLogger(__name__)

#: The distribution name in pyproject.toml.
DISTRIBUTION = "dfmask"
#: Seconds each git call may take; a slow or hung git must not stall an import.
GIT_TIMEOUT_S = 2.0
#: Version when the package is not installed (running from a bare source tree).
UNKNOWN_VERSION = "0+unknown"
#: The folder holding this package: a checkout's top level when run from one.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def package_version() -> str:
    """The installed distribution's version (pyproject.toml ``version``), or ``0+unknown``."""
    try:
        return _metadata_version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN_VERSION


def _git(root: Path, *args: str) -> str | None:
    """stdout of ``git -C root ARGS``, or None if git is missing, fails or times out."""
    # Variables set by an enclosing git process (hooks, `git rebase --exec`) would point
    # git at another repository; ask about ``root`` only.
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES")}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # `git status` must not take the index lock
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:  # no git binary, timeout
        log.debug("git %s in %s: %s", " ".join(args), root, exc)
        return None
    if done.returncode != 0:
        log.debug("git %s in %s: %s", " ".join(args), root, done.stderr.strip())
        return None
    return done.stdout


def git_suffix(root: str | os.PathLike = SOURCE_ROOT) -> str | None:
    """``g<short commit>`` (+ ``.dirty``) if ``root`` is the top level of a git work tree.

    Only the repository whose top level *is* ``root`` counts: an installed copy of the
    package inside some other repository (a site-packages under a project) has none.

    Returns:
        e.g. ``"g7b7f24b"`` or ``"g7b7f24b.dirty"``; None outside a checkout, without
        git, before the first commit, or when git does not answer in time.
    """
    root = Path(root).resolve()
    out = _git(root, "rev-parse", "--show-toplevel", "--short=7", "HEAD")
    if out is None:
        return None
    lines = out.split()
    if len(lines) != 2 or Path(lines[0]).resolve() != root:
        return None
    suffix = f"g{lines[1]}"
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    if status is None:
        return suffix + ".dirty"  # unknown state: do not claim a clean commit
    return suffix + (".dirty" if status.strip() else "")


def version_string(root: str | os.PathLike | None = SOURCE_ROOT) -> str:
    """The version as :func:`get_version` computes it, for any ``root`` (None: no git)."""
    base = package_version()
    suffix = None if root is None else git_suffix(root)
    if suffix is None:
        return base
    # a PEP 440 local label has one "+": extend one the metadata already carries
    return f"{base}.{suffix}" if "+" in base else f"{base}+{suffix}"


@functools.cache
def get_version() -> str:
    """This code's version, e.g. ``"0.1.0+g7b7f24b.dirty"`` (see the module docstring); cached."""
    return version_string(SOURCE_ROOT)
