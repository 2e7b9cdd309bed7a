"""What the learned-peer adapters share: how to install them and a cheap "is it there" test."""

from __future__ import annotations

import importlib.util

__all__ = ["PEERS_EXTRA", "missing_modules"]

#: How a user installs every optional learned peer (pyproject's ``peers`` extra).
PEERS_EXTRA = 'pip install "dfmask[peers]"'


def missing_modules(*names: str) -> list[str]:
    """Those of the modules ``names`` that cannot be imported (looked up, not imported)."""
    missing = []
    for n in names:
        try:
            found = importlib.util.find_spec(n) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(n)
    return missing
