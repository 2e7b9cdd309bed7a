"""Tiny constructed scenes and rasters for the peer-adapter tests, and the Betsiboka chip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from conftest import fetch_real  # tests/conftest.py: skip, or fail in CI
from dfmask_lib.scene import S2_BANDS, ProductMetadata, Scene

#: Grid of the constructed scenes (and the default of :func:`write_tif`): UTM 33N, 20 m.
CRS_33N = CRS.from_epsg(32633)
ORIGIN = (500000.0, 5000000.0)
BETSIBOKA = "s2cloudless_betsiboka/input_arrays.npz"

#            B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10    B11   B12
LAND = (0.10, 0.08, 0.08, 0.06, 0.10, 0.20, 0.25, 0.28, 0.30, 0.10, 0.002, 0.20, 0.10)


def make_scene(refl: np.ndarray, *, valid: np.ndarray | None = None, res: float = 20.0,
               crs=CRS_33N, origin: tuple[float, float] = ORIGIN,
               bands: tuple[str, ...] = S2_BANDS, sun: tuple[float, float] = (40.0, 150.0)
               ) -> Scene:
    """A Scene from a (bands, H, W) reflectance array on a north-up grid."""
    refl = np.ascontiguousarray(refl, dtype=np.float32)
    if valid is None:
        valid = np.ones(refl.shape[1:], dtype=bool)
    refl[:, ~valid] = 0
    return Scene(refl, tuple(bands), valid, crs, Affine(res, 0, origin[0], 0, -res, origin[1]),
                 sun[0], sun[1], ProductMetadata("test", source="constructed"))


def paint(shape: tuple[int, int], spectrum=LAND) -> np.ndarray:
    """A (13, H, W) float32 array filled with one spectrum."""
    return np.broadcast_to(np.asarray(spectrum, np.float32)[:, None, None], (13, *shape)).copy()


def write_tif(path: Path, array: np.ndarray, res: float = 20.0, crs=CRS_33N,
              origin: tuple[float, float] = ORIGIN, nodata: float | None = None) -> Path:
    """A single-band north-up GeoTIFF class map."""
    profile = dict(driver="GTiff", count=1, height=array.shape[0], width=array.shape[1],
                   dtype=array.dtype, crs=crs, nodata=nodata,
                   transform=Affine(res, 0, origin[0], 0, -res, origin[1]))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array[None])
    return path


@pytest.fixture(scope="session")
def betsiboka():
    """(Scene at 60 m, s2cloudless reference cloud mask) of the Betsiboka chip (all 13 bands)."""
    from dfmask_lib.fmask.product import array_scene

    data = np.load(fetch_real(BETSIBOKA))
    scene = array_scene(data["s2_im"], resolution=60, sun_zenith=40.0, sun_azimuth=120.0,
                        source="betsiboka")
    return scene, data["cl_mask"][0].astype(bool)


def cloud_iou(classes: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    """IoU of project code 2 (cloud) against a boolean reference, on valid pixels."""
    cloud = classes == 2
    return float((cloud & truth & valid).sum() / ((cloud | truth) & valid).sum())
