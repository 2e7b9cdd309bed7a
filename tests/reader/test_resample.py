"""Grid math on tiny arrays: block means, grid snapping, windows, bilinear alignment."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from dfmask_lib.errors import ConfigError, ProductError
from dfmask_lib.reader.resample import Grid, as_dn, block_mean, read_band_on_grid, snap_grid

from .conftest import write_tif


def test_block_mean_averages_and_flags_nodata_and_saturation():
    dn = np.array([[1000, 2000, 0, 5],
                   [3000, 4000, 7, 9],
                   [65535, 1, 10, 20],
                   [1, 1, 30, 40]], dtype=np.uint16)
    out = block_mean(dn, 2)
    assert out.dn.dtype == np.float32
    np.testing.assert_array_equal(out.dn, np.array([[2500, 0], [16384.5, 25]], np.float32))
    np.testing.assert_array_equal(out.nodata, [[False, True], [False, False]])
    np.testing.assert_array_equal(out.saturated, [[False, False], [True, False]])


def test_as_dn_reinterprets_int16_bits_and_refuses_float():
    assert as_dn(np.array([-1, 1000], np.int16)).tolist() == [65535, 1000]
    with pytest.raises(ProductError, match="uint16"):
        as_dn(np.zeros(2, np.float32))


def test_snap_grid_keeps_the_tile_grid():
    g = snap_grid((435730.0, 4159990.0, 455060.0, 4179460.0), 20.0)
    assert (g.transform.c, g.transform.f, g.shape) == (435740.0, 4179460.0, (973, 966))
    assert g.bounds == (435740.0, 4160000.0, 455060.0, 4179460.0)
    with pytest.raises(ProductError, match="no whole"):
        snap_grid((0.0, 0.0, 10.0, 10.0), 20.0)


@pytest.mark.parametrize("res", [0.0, -20.0, float("nan"), float("inf")])
def test_snap_grid_refuses_impossible_resolution(res):
    with pytest.raises(ConfigError, match="not a positive pixel size"):
        snap_grid((0.0, 0.0, 100.0, 100.0), res)


def test_grid_window_checks_bounds():
    g = Grid(Affine(20, 0, 100, 0, -20, 1000), (10, 8))
    sub = g.window(Window(2, 3, 4, 5))
    assert sub.shape == (5, 4) and (sub.transform.c, sub.transform.f) == (140.0, 940.0)
    with pytest.raises(ProductError, match="outside"):
        g.window(Window(6, 0, 4, 5))


def test_bilinear_upsampling_is_pixel_centre_aligned(tmp_path):
    # a 60 m ramp: value = 100 * column + 1000 * row (+1 so that nothing is no data)
    src = (np.arange(4)[None, :] * 100 + np.arange(4)[:, None] * 1000 + 1).astype(np.uint16)
    path = write_tif(tmp_path / "b60.tif", src, res=60.0, origin=(0.0, 240.0))
    grid = Grid(Affine(20, 0, 0, 0, -20, 240), (12, 12))
    with rasterio.open(path) as ds:
        out = read_band_on_grid(ds, grid)
        part = read_band_on_grid(ds, grid.window(Window(4, 5, 3, 4)))
    # the centre of 20 m pixel (1, 1) is the centre of 60 m pixel (0, 0)
    assert out.dn[1, 1] == 1.0
    # 20 m pixel (2, 3): source position row 1/3, column 2/3 -> linear in both
    assert out.dn[2, 3] == pytest.approx(1 + 100 * 2 / 3 + 1000 / 3, rel=1e-6)
    # beyond the outermost centres the edge value repeats
    assert out.dn[0, 0] == 1.0
    np.testing.assert_array_equal(part.dn, out.dn[5:9, 4:7])


def test_misaligned_band_is_refused(tmp_path):
    path = write_tif(tmp_path / "b10.tif", np.ones((8, 8), np.uint16), res=10.0,
                     origin=(5.0, 80.0))
    with rasterio.open(path) as ds, pytest.raises(ProductError, match="not aligned"):
        read_band_on_grid(ds, Grid(Affine(20, 0, 20, 0, -20, 80), (2, 2)))


def test_coarser_band_not_covering_the_grid_is_refused(tmp_path):
    # like the finer path: a 60 m band must cover every target pixel centre, not be
    # edge-extended over ground it never saw
    path = write_tif(tmp_path / "b60.tif", np.ones((4, 4), np.uint16), res=60.0,
                     origin=(0.0, 240.0))
    with rasterio.open(path) as ds:
        assert read_band_on_grid(ds, Grid(Affine(20, 0, 0, 0, -20, 240), (12, 12))).dn.shape \
            == (12, 12)
        for grid in (Grid(Affine(20, 0, 0, 0, -20, 240), (12, 13)),
                     Grid(Affine(20, 0, -20, 0, -20, 240), (12, 12)),
                     Grid(Affine(20, 0, 0, 0, -20, 260), (2, 2))):
            with pytest.raises(ProductError, match="does not cover"):
                read_band_on_grid(ds, grid)
