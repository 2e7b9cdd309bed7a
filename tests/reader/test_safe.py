"""The SAFE reader on the two real CNES ALCD L1C products (baseline 05.10) and corrupted copies."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from dfmask_lib.errors import BandError, MissingDataError, ProductError
from dfmask_lib.reader import read_product, read_safe
from dfmask_lib.reader.angles import mean_angle_grid, parallax_vector, vector_angles
from dfmask_lib.scene import S2_BANDS

from .conftest import band_file


def raw(path: Path) -> np.ndarray:
    """A band's DN read independently, as uint16 (the S2B crops are int16 on disk)."""
    with rasterio.open(path) as ds:
        return ds.read(1).astype(np.int32).astype(np.uint16)


@pytest.fixture(scope="module")
def scene_a(safe_a):
    return read_safe(safe_a, progress=False)


def test_alcd_metadata_and_grid(scene_a):
    m = scene_a.metadata
    assert (m.product_type, m.processing_baseline) == ("S2MSI1C", "05.10")
    assert m.quantification_value == 10000
    assert dict(m.radio_add_offset) == {b: -1000.0 for b in S2_BANDS}
    assert (m.spacecraft, m.tile_id) == ("Sentinel-2A", "31TCJ")
    assert m.sensing_time == "2024-01-20T10:53:41.024Z"
    # the crop's own georeferencing: 30 x 30 px at 10 m -> 15 x 15 at 20 m, 2500 px into the tile
    assert scene_a.shape == (15, 15) and scene_a.crs.to_epsg() == 32631
    assert tuple(scene_a.transform)[:6] == (20.0, 0.0, 350000.0, 0.0, -20.0, 4850020.0)
    assert m.extra["tile_offset"] == (2500, 2500)
    assert scene_a.band_names == S2_BANDS and scene_a.reflectance.dtype == np.float32
    assert scene_a.valid.all() and not scene_a.saturated.any()


@pytest.mark.parametrize("band,row,col",
                         [("B02", 0, 0), ("B8A", 7, 11), ("B11", 14, 3), ("B01", 5, 5)])
def test_reflectance_is_area_mean_with_offset(scene_a, safe_a, band, row, col):
    dn = raw(band_file(safe_a, band)).astype(np.float64)
    expected = (dn[2 * row:2 * row + 2, 2 * col:2 * col + 2].mean() - 1000) / 10000
    assert scene_a.band(band)[row, col] == pytest.approx(expected, abs=1e-7)


def test_s2b_signed_int16_crop_is_cast(safe_b):
    scene = read_safe(safe_b, bands=("B03", "B12"), progress=False)
    with rasterio.open(band_file(safe_b, "B03")) as ds:
        assert ds.dtypes[0] == "int16"
    dn = raw(band_file(safe_b, "B12")).astype(np.float64)
    expected = (dn[8:10, 18:20].mean() - 1000) / 10000
    assert scene.band("B12")[4, 9] == pytest.approx(expected, abs=1e-7)
    assert scene.metadata.spacecraft == "Sentinel-2B"
    assert scene.sun_zenith == 51.816936554549


def test_sun_angles_equal_the_xml(scene_a):
    assert (scene_a.sun_zenith, scene_a.sun_azimuth) == (65.7554034542734, 162.689190122297)


def test_view_angles_interpolate_the_detector_mean(scene_a, safe_a):
    """Pixel (0, 0)'s centre (350010, 4850010) is node (10.002, 10.002) of the 5 km grid."""
    assert scene_a.view_zenith.shape == (15, 15) and scene_a.view_zenith.dtype == np.float32
    assert 1.4 < scene_a.view_zenith.min() <= scene_a.view_zenith.max() < 1.6
    assert 213 < scene_a.view_azimuth.min() <= scene_a.view_azimuth.max() < 215
    root = ET.parse(next(safe_a.glob("GRANULE/*/MTD_TL.xml"))).getroot()
    grids = [g for g in root.iter() if g.tag == "Viewing_Incidence_Angles_Grids"]

    def values(kind: str) -> np.ndarray:
        return np.array([[[float(v) for v in r.text.split()] for r in g.find(kind).iter("VALUES")]
                         for g in grids])

    zen, az = values("Zenith"), values("Azimuth")
    assert zen.shape[1:] == (23, 23) and len(grids) > 13  # several detectors per band
    # Nodes: the parallax-vector mean over bands and detectors; pixels: the bilinear
    # interpolation of the vectors (2 x 2 nodes around pixel (0, 0)), converted back.
    east, north = parallax_vector(*mean_angle_grid(zen, az))
    f = 10.002
    w = np.array([[(11 - f) * (11 - f), (11 - f) * (f - 10)], [(f - 10) * (11 - f), (f - 10) ** 2]])
    zen00, az00 = vector_angles((east[10:12, 10:12] * w).sum(), (north[10:12, 10:12] * w).sum())
    assert scene_a.view_zenith[0, 0] == pytest.approx(zen00, abs=1e-4)
    assert scene_a.view_azimuth[0, 0] == pytest.approx(az00, abs=1e-3)
    # the parallax-vector mean of the 13 band means (their plain mean is 2.86645933646085)
    assert scene_a.metadata.mean_view_zenith == pytest.approx(2.865466782913897)


def test_window_read_equals_slice_of_full_read(scene_a, safe_a):
    part = read_safe(safe_a, window=Window(3, 5, 7, 6), progress=False)
    np.testing.assert_array_equal(part.reflectance, scene_a.reflectance[:, 5:11, 3:10])
    np.testing.assert_array_equal(part.view_zenith, scene_a.view_zenith[5:11, 3:10])
    assert part.transform.c == 350000.0 + 3 * 20 and part.transform.f == 4850020.0 - 5 * 20


def test_band_subset_in_requested_order(scene_a, safe_a):
    sub = read_product(safe_a, bands=("B11", "B02"), progress=False)
    np.testing.assert_array_equal(sub.reflectance, scene_a.bands(["B11", "B02"]))
    assert sub.saturated is not None
    assert read_safe(safe_a, bands=("B11",), progress=False).saturated is None
    with pytest.raises(BandError, match="distinct names"):
        read_safe(safe_a, bands=("B02", "B13"))


def test_zip_of_safe_reads_the_same(scene_a, safe_a, tmp_path):
    archive = tmp_path / (safe_a.stem + ".zip")
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(safe_a.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(safe_a.parent).as_posix())
    scene = read_product(archive, progress=False)
    np.testing.assert_array_equal(scene.reflectance, scene_a.reflectance)


def test_baseline_before_0400_has_no_offset(safe_copy):
    mtd = safe_copy / "MTD_MSIL1C.xml"
    text = mtd.read_text()
    text = re.sub(r"<PROCESSING_BASELINE>[^<]*<", "<PROCESSING_BASELINE>03.01<", text)
    mtd.write_text("\n".join(ln for ln in text.splitlines() if "RADIO_ADD_OFFSET" not in ln))
    scene = read_safe(safe_copy, bands=("B04",), progress=False)
    dn = raw(band_file(safe_copy, "B04")).astype(np.float64)
    assert scene.metadata.radio_add_offset == {"B04": 0.0}
    assert scene.band("B04")[2, 3] == pytest.approx(dn[4:6, 6:8].mean() / 10000, abs=1e-7)


def _set_dn(safe: Path, band: str, row: int, col: int, value: int) -> None:
    """Change one DN; the band is rewritten as a GeoTIFF under its .jp2 name (read by content)."""
    path = band_file(safe, band)
    with rasterio.open(path) as ds:
        dn, profile = ds.read(1), ds.profile
    dn[row, col] = value
    profile = {k: profile[k] for k in ("count", "height", "width", "crs", "transform")}
    with rasterio.open(path, "w", driver="GTiff", dtype="uint16", **profile) as dst:
        dst.write(dn.astype(np.uint16), 1)


def test_nodata_pixels_are_invalid_and_zero(safe_copy):
    _set_dn(safe_copy, "B02", 0, 1, 0)  # one 10 m pixel of 20 m pixel (0, 0)
    scene = read_safe(safe_copy, bands=("B02", "B03"), progress=False)
    assert not scene.valid[0, 0] and scene.valid.sum() == 15 * 15 - 1
    assert (scene.reflectance[:, 0, 0] == 0).all()


def test_saturated_visible_pixels_are_flagged(safe_copy):
    _set_dn(safe_copy, "B03", 9, 4, 65535)  # inside 20 m pixel (4, 2)
    _set_dn(safe_copy, "B11", 0, 0, 65535)  # not a visible band: ignored
    scene = read_safe(safe_copy, bands=("B03", "B11"), progress=False)
    assert np.argwhere(scene.saturated).tolist() == [[4, 2]]
    assert scene.valid.all()


# --- bad inputs: one clear error each ------------------------------------------------------

def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_level2a_by_product_type(safe_copy):
    _edit(safe_copy / "MTD_MSIL1C.xml", "<PRODUCT_TYPE>S2MSI1C<", "<PRODUCT_TYPE>S2MSI2A<")
    with pytest.raises(ProductError, match="this is a Level-2A product; dfmask needs Level-1C"):
        read_product(safe_copy)


def test_level2a_by_metadata_name(safe_copy):
    (safe_copy / "MTD_MSIL1C.xml").rename(safe_copy / "MTD_MSIL2A.xml")
    with pytest.raises(ProductError, match="Level-2A"):
        read_product(safe_copy)


def test_missing_band_file(safe_copy):
    band_file(safe_copy, "B8A").unlink()
    with pytest.raises(MissingDataError, match="no band file for B8A"):
        read_product(safe_copy)


@pytest.mark.parametrize("which", ["MTD_MSIL1C.xml", "tile"])
def test_truncated_metadata(safe_copy, which):
    path = safe_copy / which if which != "tile" else next(safe_copy.glob("GRANULE/*/MTD_TL.xml"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProductError, match="not valid XML"):
        read_product(safe_copy)


def test_xml_without_required_element(safe_copy):
    _edit(safe_copy / "MTD_MSIL1C.xml", "QUANTIFICATION_VALUE", "QUANTIFICATION_VALUX")
    with pytest.raises(ProductError, match="QUANTIFICATION_VALUE"):
        read_product(safe_copy)


def test_zip_that_is_not_a_safe(tmp_path):
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(ProductError, match="not of one Sentinel-2 L1C SAFE"):
        read_product(archive)


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "empty.SAFE").mkdir()
    with pytest.raises(ProductError, match="empty folder"):
        read_product(tmp_path / "empty.SAFE")
    with pytest.raises(MissingDataError, match="does not exist"):
        read_product(tmp_path / "nothing.SAFE")


def test_corrupt_band_file(safe_copy):
    band_file(safe_copy, "B03").write_bytes(b"not a jpeg2000 file")
    with pytest.raises(ProductError, match="B03"):
        read_product(safe_copy)


def test_two_granules_refused(safe_copy):
    g = next((safe_copy / "GRANULE").iterdir())
    shutil.copytree(g, g.with_name(g.name + "_copy"))
    with pytest.raises(ProductError, match="expected one GRANULE"):
        read_product(safe_copy)


def test_safe_grid_without_reading_pixels(scene_a, safe_a):
    from dfmask_lib.reader import safe_grid

    grid = safe_grid(safe_a)
    assert grid.shape == scene_a.shape and grid.transform == scene_a.transform
    assert grid.crs.to_epsg() == 32631 and safe_grid(safe_a, resolution=10).shape == (30, 30)


def test_level2a_zip_refused(tmp_path):
    archive = tmp_path / "S2A_MSIL2A_X.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("S2A_MSIL2A_X.SAFE/MTD_MSIL2A.xml", "<x/>")
    with pytest.raises(ProductError, match="this is a Level-2A product; dfmask needs Level-1C"):
        read_product(archive)
