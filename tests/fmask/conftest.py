"""Tiny constructed Sentinel-2 scenes with known answers for the Fmask tests.

Spectra (TOA reflectance, 13 bands in S2_BANDS order) are typical values: vegetated
land, a thick bright cloud, fresh snow, clear water. Every scene is built in code.
"""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from dfmask_lib.scene import S2_BANDS, ProductMetadata, Scene

#            B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10    B11   B12
LAND = (0.10, 0.08, 0.08, 0.06, 0.10, 0.20, 0.25, 0.28, 0.30, 0.10, 0.002, 0.20, 0.10)
CLOUD = (0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.20, 0.002, 0.40, 0.30)
SNOW = (0.80, 0.80, 0.80, 0.78, 0.75, 0.72, 0.72, 0.72, 0.70, 0.30, 0.002, 0.05, 0.04)
WATER = (0.08, 0.07, 0.05, 0.03, 0.03, 0.02, 0.02, 0.02, 0.02, 0.01, 0.001, 0.01, 0.005)


def build_scene(spectra: np.ndarray, *, valid: np.ndarray | None = None,
                sun_zenith: float = 40.0, sun_azimuth: float = 150.0,
                view: tuple[float, float] | None = (5.0, 100.0), resolution: float = 20.0,
                noise: float = 0.005, seed: int = 0) -> Scene:
    """A Scene from a (13, H, W) reflectance array, plus seeded multiplicative texture."""
    rng = np.random.default_rng(seed)
    refl = spectra * (1 + noise * rng.standard_normal(spectra.shape[1:]))[None]
    refl = refl.astype(np.float32)
    if valid is None:
        valid = np.ones(refl.shape[1:], dtype=bool)
    refl[:, ~valid] = 0
    meta = ProductMetadata("test", mean_view_zenith=view[0] if view else None,
                           mean_view_azimuth=view[1] if view else None)
    return Scene(refl, S2_BANDS, valid, None, Affine(resolution, 0, 0, 0, -resolution, 0),
                 sun_zenith, sun_azimuth, meta)


def add_parallax(refl: np.ndarray, mask: np.ndarray, seed: int = 1) -> None:
    """In place: texture B08 alone inside ``mask``, as an elevated cloud shows it.

    B08 sees a cloud's texture displaced relative to B07/B8A (Frantz et al. 2018), so
    only the B08/B8A ratio varies: the cloud displacement index goes to -1 there.
    """
    rng = np.random.default_rng(seed)
    b08 = S2_BANDS.index("B08")
    refl[b08][mask] *= (1 + 0.05 * rng.standard_normal(int(mask.sum()))).astype(np.float32)


def paint(shape: tuple[int, int], base=LAND) -> np.ndarray:
    """A (13, H, W) float32 array filled with one spectrum."""
    return np.broadcast_to(np.asarray(base, np.float32)[:, None, None], (13, *shape)).copy()


@pytest.fixture
def land256() -> np.ndarray:
    """256 x 256 px of land: more clear pixels than Fmask's 40000 minimum."""
    return paint((256, 256))
