"""Fmask in strips (dfmask_lib.fmask.strips) gives run_fmask's labels and numbers, bit for bit.

The scenes are built here (synthetic, seeded): textured land with a lake, a snow field, cloud
blobs at two heights with the shadows they cast and parallax in B08, thin cirrus, a no-data
edge. The configs shrink the compute budgets (percentile samples, the flood fill's block
size, the SCSI window, the strips) so that every strip-crossing mechanism is exercised on a
scene a test can afford.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi

import dfmask_lib.fmask.strips as strips
from dfmask_lib.errors import BandError, ProductError
from dfmask_lib.fmask import FmaskConfig, run_fmask
from dfmask_lib.fmask._util import BoxSums, StridedSample, masked_percentile
from dfmask_lib.fmask.masks import scsi
from dfmask_lib.geometry import shadow_offset
from dfmask_lib.scene import S2_BANDS, Scene

from .conftest import CLOUD, LAND, SNOW, WATER, build_scene

SUN = (60.0, 160.0)


def smooth(rng: np.random.Generator, shape: tuple[int, int], size: int) -> np.ndarray:
    small = rng.standard_normal((shape[0] // size + 2, shape[1] // size + 2))
    big = ndi.zoom(small, size, order=1)[: shape[0], : shape[1]]
    return (big - big.mean()) / big.std()


def make_scene(shape=(300, 260), seed=0, *, snow=True, cirrus=True, clouds=True,
               grids=False, edge=True) -> Scene:
    """A synthetic scene exercising every Fmask step (see the module docstring)."""
    rng = np.random.default_rng(seed)
    refl = np.empty((13, *shape), np.float32)
    texture = 1 + 0.15 * smooth(rng, shape, 12)
    refl[:] = np.asarray(LAND, np.float32)[:, None, None] * texture
    refl[:, smooth(rng, shape, 60) > 1.2] = np.asarray(WATER, np.float32)[:, None]
    if snow:
        field = smooth(rng, shape, 80) > 0.3
        refl[:, field] = (np.asarray(SNOW, np.float32)[:, None]
                          * (1 + 0.01 * rng.standard_normal(int(field.sum()))))
    if clouds:
        blobs = smooth(rng, shape, 15) > 1.1
        labels, n = ndi.label(blobs)
        tall = rng.integers(0, 2, n + 1).astype(bool)
        for height, which in ((1500.0, ~tall), (4000.0, tall)):
            cl = blobs & which[labels]
            dr, dc = (int(np.rint(v)) for v in shadow_offset(height, *SUN, 5.0, 100.0, 20.0))
            cast = np.roll(np.roll(cl, dr, axis=0), dc, axis=1)
            refl[:, cast & ~blobs] *= np.float32(0.35)
        refl[:, blobs] = np.asarray(CLOUD, np.float32)[:, None]
        b08 = S2_BANDS.index("B08")
        refl[b08][blobs] *= (1 + 0.05 * rng.standard_normal(int(blobs.sum()))).astype(np.float32)
    if cirrus:
        refl[S2_BANDS.index("B10")] += np.float32(0.012) * (smooth(rng, shape, 30) > 1.0)
    valid = np.ones(shape, bool)
    if edge:
        valid[:, :20] = False
    scene = build_scene(refl, valid=valid, sun_zenith=SUN[0], sun_azimuth=SUN[1], seed=seed)
    if grids:
        rows = np.linspace(3, 8, shape[0], dtype=np.float32)[:, None]
        zen = np.broadcast_to(rows, shape).astype(np.float32)
        az = np.broadcast_to(np.linspace(95, 110, shape[1], dtype=np.float32), shape).copy()
        scene = dataclasses.replace(scene, view_zenith=zen, view_azimuth=az)
    return scene


#: Budgets small enough for a test scene to cross them: a strided percentile sample, the
#: block flood fill (factor 2 on 300 x 260 px), a SCSI window that spans several strips.
SMALL = FmaskConfig(percentile_sample=5000, fill_max_pixels=20000, scsi_window=41,
                    scsi_min_snow_pixels=2000, min_clear_pixels=4000, cdi_max_object=200)


def in_strips(scene: Scene, config: FmaskConfig, tmp_path, read_rows=None):
    return strips.fmask_strips(strips.scene_reader(scene), scene.shape, config,
                               scratch=tmp_path / "bands.raw", read_rows=read_rows,
                               progress=False)


def same_numbers(a: dict, b: dict) -> None:
    keys = {k for k, v in b.items()
            if v is not None and not (isinstance(v, np.ndarray) and v.ndim >= 2)}
    assert set(a) == keys
    for k in keys:
        if isinstance(b[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        elif k != "grid_config":
            assert a[k] == b[k] or (np.isnan(a[k]).all() and np.isnan(b[k]).all()), k


@pytest.mark.parametrize("rows", [7, 37, 10_000])
@pytest.mark.parametrize("case", ["full", "grids", "no cirrus", "no snow", "no cloud"])
def test_strips_equal_the_whole_scene(tmp_path, monkeypatch, case, rows):
    monkeypatch.setattr(strips, "STRIP_PIXELS", rows * 260)
    scene = make_scene(grids=case == "grids", cirrus=case != "no cirrus",
                       snow=case != "no snow", clouds=case != "no cloud")
    whole = run_fmask(scene, SMALL, progress=False, keep_layers=False)
    got = in_strips(scene, SMALL, tmp_path, read_rows=64)
    np.testing.assert_array_equal(got.fmask, whole.fmask)
    np.testing.assert_array_equal(got.classes, whole.classes)
    same_numbers(got.layers, whole.layers)
    assert not list(tmp_path.iterdir())  # the scratch file is gone
    if case == "full":  # the scene exercises what it is for
        codes = np.bincount(whole.fmask.ravel(), minlength=256)
        assert all(codes[c] > 100 for c in (0, 1, 2, 3, 4, 255)), codes[[0, 1, 2, 3, 4, 255]]
        assert not whole.layers["skipped"]
        assert np.isfinite(whole.layers["cloud_heights"]).sum() >= 2  # shadows matched


def test_strips_equal_the_whole_scene_with_default_budgets(tmp_path, monkeypatch):
    # The default config: exact flood fill, full percentiles, no SCSI (too little snow).
    monkeypatch.setattr(strips, "STRIP_PIXELS", 50 * 260)
    scene = make_scene(seed=3)
    whole = run_fmask(scene, FmaskConfig(min_clear_pixels=4000), progress=False)
    got = in_strips(scene, FmaskConfig(min_clear_pixels=4000), tmp_path)
    np.testing.assert_array_equal(got.fmask, whole.fmask)


def test_few_clear_pixels_in_strips(tmp_path, monkeypatch):
    monkeypatch.setattr(strips, "STRIP_PIXELS", 40 * 260)
    scene = make_scene()
    config = dataclasses.replace(SMALL, min_clear_pixels=10 ** 6)
    whole = run_fmask(scene, config, progress=False, keep_layers=False)
    got = in_strips(scene, config, tmp_path)
    np.testing.assert_array_equal(got.fmask, whole.fmask)
    assert got.layers["skipped"] == ["probabilities", "shadow matching"]


def test_fmask_scene_and_the_reader_keep_the_georeference(tmp_path, monkeypatch):
    monkeypatch.setattr(strips, "STRIP_PIXELS", 64 * 260)
    scene = make_scene(grids=True)
    np.testing.assert_array_equal(strips.fmask_scene(scene, SMALL, progress=False).fmask,
                                  run_fmask(scene, SMALL, progress=False).fmask)
    rows = strips.scene_reader(scene)(100, 150)
    assert rows.shape == (50, 260) and rows.transform.f == scene.transform.f - 100 * 20
    np.testing.assert_array_equal(rows.view_zenith, scene.view_zenith[100:150])


def test_an_empty_scene_raises_what_the_caller_asks(tmp_path):
    scene = make_scene(edge=False)
    scene = dataclasses.replace(scene, valid=np.zeros(scene.shape, bool))

    def read(r0, r1):
        return dataclasses.replace(scene, reflectance=scene.reflectance[:, r0:r1],
                                   valid=scene.valid[r0:r1])

    with pytest.raises(ProductError, match="nothing"):
        strips.fmask_strips(read, scene.shape, SMALL, scratch=tmp_path / "s",
                            on_empty=lambda: ProductError("nothing observed"), progress=False)
    assert not (tmp_path / "s").exists()


def test_a_strip_of_another_shape_is_refused(tmp_path):
    scene = make_scene()

    def read(r0, r1):  # one row short
        return dataclasses.replace(scene, reflectance=scene.reflectance[:, r0:r1 - 1],
                                   valid=scene.valid[r0:r1 - 1])

    with pytest.raises(ProductError, match="not on one grid"):
        strips.fmask_strips(read, scene.shape, SMALL, scratch=tmp_path / "s", read_rows=100,
                            progress=False)
    assert not (tmp_path / "s").exists()


def test_missing_bands_are_named(tmp_path):
    scene = make_scene()
    keep = [i for i, b in enumerate(S2_BANDS) if b != "B11"]
    scene = dataclasses.replace(scene, reflectance=scene.reflectance[keep],
                                band_names=tuple(S2_BANDS[i] for i in keep))
    with pytest.raises(BandError, match="B11"):
        in_strips(scene, SMALL, tmp_path)


def test_strided_sample_picks_the_same_pixels_in_any_strips():
    rng = np.random.default_rng(0)
    values = rng.random((97, 31)).astype(np.float32)
    mask = rng.random((97, 31)) > 0.3
    want = masked_percentile(values, mask, [10, 50, 90], 100)
    for rows in (1, 5, 33):
        sample = StridedSample(np.count_nonzero(mask), 100)
        for a in range(0, 97, rows):
            sample.add(values[a:a + rows], mask[a:a + rows])
        np.testing.assert_array_equal(sample.percentile([10, 50, 90]), want)
    assert sample.stride == int(np.ceil(np.count_nonzero(mask) / 100)) > 1
    short = StridedSample(np.count_nonzero(mask) + 1, 100)
    short.add(values, mask)
    with pytest.raises(RuntimeError, match="told"):
        short.percentile(50)


def test_box_sums_are_window_sums_whatever_the_strips():
    rng = np.random.default_rng(1)
    x = rng.random((1, 83, 19))
    r = 6
    padded = np.pad(x[0], r)
    want = np.array([[padded[i:i + 2 * r + 1, j:j + 2 * r + 1].sum() for j in range(19)]
                     for i in range(83)])
    results = []
    for rows in (1, 4, 30, 83):
        box = BoxSums(lambda a, b: x[:, a:b], 83, r)
        results.append(np.concatenate([box(a, min(83, a + rows))[0]
                                       for a in range(0, 83, rows)]))
    np.testing.assert_allclose(results[0], want, rtol=1e-12)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])  # bit for bit
    with pytest.raises(RuntimeError, match="next strip"):
        box(0, 10)


def test_scsi_is_the_local_std_times_one_minus_ndsi():
    rng = np.random.default_rng(2)
    green = (0.5 + 0.01 * rng.standard_normal((40, 30))).astype(np.float32)
    ndsi = np.full((40, 30), 0.5, np.float32)
    obs = np.ones((40, 30), bool)
    obs[:, :3] = False
    got = scsi(green, ndsi, obs, 9)
    i, j = 20, 15
    window = green[i - 4:i + 5, j - 4:j + 5][obs[i - 4:i + 5, j - 4:j + 5]].astype(np.float64)
    assert got[i, j] == pytest.approx(window.std() * 0.5, rel=1e-5)
    assert got.dtype == np.float32 and np.isfinite(got).all()
