"""Shared test set-up: no network, no stray caches, a non-interactive plotting backend."""

from __future__ import annotations

import os

# Set before any test module imports rasterio/matplotlib/pooch.
os.environ.setdefault("GDAL_PAM_ENABLED", "NO")  # never write .aux.xml beside shared data
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["DFMASK_OFFLINE"] = "1"  # the data registry must never download in tests
