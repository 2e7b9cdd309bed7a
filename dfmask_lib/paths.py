"""Where things live: one place instead of path strings scattered through the code.

Every path can be overridden by an environment variable, so a user can point the
book and the CLI at their own disks.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding ``pyproject.toml``) when dfmask is
#: used from a checkout; the current directory otherwise.
PACKAGE_DIR = Path(__file__).resolve().parent
_candidate = PACKAGE_DIR.parent
PROJECT_ROOT = _candidate if (_candidate / "pyproject.toml").exists() else Path.cwd()

#: Git-ignored data folder of the project.
DATA_DIR = Path(os.environ.get("DFMASK_DATA_DIR", PROJECT_ROOT / "data"))
#: Files fetched through the data registry (:mod:`dfmask_lib.registry`).
CACHE_DIR = Path(os.environ.get("DFMASK_CACHE_DIR", DATA_DIR / "cache"))
#: Everything the pipeline generates (synthetic scenes, labels, patches, runs).
GENERATED_DIR = Path(os.environ.get("DFMASK_GENERATED_DIR", DATA_DIR / "generated"))
#: The book's sources and its build products.
BOOK_DIR = PROJECT_ROOT / "book"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def default_mirror() -> Path | None:
    """The local data mirror: ``$DFMASK_DATA_MIRROR``, else ``../shared/data`` if present."""
    env = os.environ.get("DFMASK_DATA_MIRROR")
    if env:
        return Path(env)
    shared = PROJECT_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else None
