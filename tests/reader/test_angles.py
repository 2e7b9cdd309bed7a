"""View angles: parallax-vector means over detectors and interpolation to pixels."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from dfmask_lib.errors import ProductError
from dfmask_lib.reader.angles import (interpolate_angle_grid, interpolate_view_angles,
                                      mean_angle_grid, parallax_vector, vector_angles)
from dfmask_lib.reader.metadata import parse_tile_xml
from dfmask_lib.reader.resample import Grid

NAN = np.nan
# Two detectors of one band on a 2 x 4 node grid, overlapping in columns 1-2. Their
# along-track look directions differ by 185 degrees, as neighbouring S2 detectors do.
ZEN_A = [[4.0, 4.1, 4.2, NAN], [4.0, 4.1, 4.2, NAN]]
AZI_A = [[98.0, 98.0, 98.0, NAN], [98.0, 98.0, 98.0, NAN]]
ZEN_B = [[NAN, 2.0, 2.1, 2.2], [NAN, NAN, NAN, NAN]]
AZI_B = [[NAN, 283.0, 283.0, 283.0], [NAN, NAN, NAN, NAN]]


def _values(rows: list[list[float]]) -> str:
    return "".join("<VALUES>" + " ".join("NaN" if np.isnan(v) else str(v) for v in r)
                   + "</VALUES>" for r in rows)


def _grid_xml(band: int, detector: int, zen: list, azi: list) -> str:
    return (f'<Viewing_Incidence_Angles_Grids bandId="{band}" detectorId="{detector}">'
            + "".join(f'<{name}><COL_STEP unit="m">5000</COL_STEP><ROW_STEP unit="m">5000'
                      f"</ROW_STEP><Values_List>{_values(v)}</Values_List></{name}>"
                      for name, v in (("Zenith", zen), ("Azimuth", azi)))
            + "</Viewing_Incidence_Angles_Grids>")


def mtd_tl(*grids: str) -> bytes:
    """A minimal MTD_TL.xml with the elements parse_tile_xml reads."""
    return ("<?xml version='1.0'?><n1:Level-1C_Tile_ID xmlns:n1='https://psd-14.sentinel2.eo."
            "esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd'><n1:General_Info><TILE_ID>"
            "S2A_OPER_MSI_L1C_TL_2APS_20240120T125244_A044807_T31TCJ_N05.10</TILE_ID>"
            "</n1:General_Info><n1:Geometric_Info><Tile_Geocoding><HORIZONTAL_CS_CODE>"
            "EPSG:32631</HORIZONTAL_CS_CODE><Size resolution='20'><NROWS>5490</NROWS><NCOLS>"
            "5490</NCOLS></Size><Geoposition resolution='20'><ULX>300000</ULX><ULY>4900020"
            "</ULY><XDIM>20</XDIM><YDIM>-20</YDIM></Geoposition></Tile_Geocoding><Tile_Angles>"
            "<Mean_Sun_Angle><ZENITH_ANGLE unit='deg'>65.7</ZENITH_ANGLE><AZIMUTH_ANGLE "
            "unit='deg'>162.7</AZIMUTH_ANGLE></Mean_Sun_Angle>" + "".join(grids)
            + "</Tile_Angles></n1:Geometric_Info></n1:Level-1C_Tile_ID>").encode()


def test_overlapping_detectors_average_their_parallax_vectors() -> None:
    tile = parse_tile_xml(mtd_tl(_grid_xml(0, 1, ZEN_A, AZI_A), _grid_xml(0, 2, ZEN_B, AZI_B)))
    zen, azi = tile.view_zenith_grid, tile.view_azimuth_grid
    assert zen.shape == (2, 4) and zen.dtype == np.float64
    # Overlap: the vector mean keeps detector A's side (~98 deg) and about halves the
    # parallax. Separate means said zenith 3.05 and 3.15 with the circular mean azimuth
    # 10.5 (the old code; 190.5 arithmetically): across both detectors' look directions.
    np.testing.assert_allclose(zen[0, 1:3], [1.0603760713, 1.0611316966], rtol=1e-9)
    np.testing.assert_allclose(azi[0, 1:3], [93.283975256, 93.0509286748], rtol=1e-9)
    e_a, n_a = parallax_vector(4.1, 98.0)
    e_b, n_b = parallax_vector(2.0, 283.0)
    expect = vector_angles((e_a + e_b) / 2, (n_a + n_b) / 2)
    assert (zen[0, 1], azi[0, 1]) == pytest.approx(expect, abs=1e-12)
    # Nodes seen by one detector keep its angles; nodes seen by none stay NaN.
    np.testing.assert_allclose(zen[:, 0], 4.0, atol=1e-12)
    np.testing.assert_allclose(azi[:, 0], 98.0, atol=1e-12)
    assert zen[0, 3] == pytest.approx(2.2, abs=1e-12) and azi[0, 3] == pytest.approx(283.0)
    np.testing.assert_allclose(zen[1, :3], [4.0, 4.1, 4.2], atol=1e-12)
    assert np.isnan(zen[1, 3]) and np.isnan(azi[1, 3])


def test_vector_mean_over_bands_wraps_azimuth_through_north() -> None:
    # 350 and 30 deg: the mean direction is near 10 deg, weighted towards the larger
    # parallax (3 deg zenith at 30 deg azimuth), and shorter than the mean of the zeniths.
    zen, azi = mean_angle_grid(np.array([[[1.0]], [[3.0]]]), np.array([[[350.0]], [[30.0]]]))
    assert zen[0, 0] == pytest.approx(1.9109407294016203, abs=1e-12)
    assert azi[0, 0] == pytest.approx(20.320256656834335, abs=1e-12)


def test_a_zenith_without_azimuth_does_not_count_as_seen() -> None:
    zen, azi = mean_angle_grid(np.array([[[2.0]], [[5.0]]]), np.array([[[40.0]], [[NAN]]]))
    assert zen[0, 0] == pytest.approx(2.0, abs=1e-12) and azi[0, 0] == pytest.approx(40.0)


def test_parallax_vector_round_trip_and_nadir() -> None:
    zen = np.array([0.0, 1.5, 8.0, 12.9])
    azi = np.array([0.0, 359.5, 100.0, 283.0])
    back = vector_angles(*parallax_vector(zen, azi))
    np.testing.assert_allclose(back[0], zen, atol=1e-12)
    np.testing.assert_allclose(back[1], azi, atol=1e-9)
    assert vector_angles(0.0, 0.0) == (0.0, 0.0)


@pytest.mark.parametrize("zen, azi, match", [
    (np.zeros((2, 3, 3)), np.zeros((2, 3, 4)), "angle grids must be"),
    (np.zeros((3, 3)), np.zeros((3, 3)), "angle grids must be"),
    (np.full((1, 2, 2), 90.0), np.zeros((1, 2, 2)), r"outside \[0, 90\)"),
    (np.full((1, 2, 2), -1.0), np.zeros((1, 2, 2)), r"outside \[0, 90\)"),
])
def test_bad_angle_grids_are_product_errors(zen, azi, match) -> None:
    with pytest.raises(ProductError, match=match):
        mean_angle_grid(zen, azi)


def _half_node_grid(shape: tuple[int, int], ulx: float = 0.0, uly: float = 0.0) -> Grid:
    """Pixels of 2500 m whose centres are at nodes 0, 0.5, 1, ... of a 5 km grid."""
    return Grid(Affine(2500.0, 0, ulx - 1250.0, 0, -2500.0, uly + 1250.0), shape)


def test_view_angles_interpolate_as_parallax_vectors() -> None:
    # Two nodes on either side of north: the pixel between them gets the mean of the two
    # vectors, just east of north (towards the larger parallax), never south (180, the
    # arithmetic mean of 350 and 10).
    zen = np.array([[2.0, 6.0]])
    azi = np.array([[350.0, 10.0]])
    vz, va = interpolate_view_angles(zen, azi, 0.0, 0.0, 5000.0, _half_node_grid((1, 3)))
    assert vz.dtype == va.dtype == np.float32 and vz.shape == (1, 3)
    np.testing.assert_allclose(vz[0, [0, 2]], [2.0, 6.0], atol=1e-5)
    np.testing.assert_allclose(va[0, [0, 2]], [350.0, 10.0], atol=1e-4)
    e0, n0 = parallax_vector(2.0, 350.0)
    e1, n1 = parallax_vector(6.0, 10.0)
    mid = vector_angles((e0 + e1) / 2, (n0 + n1) / 2)
    assert (vz[0, 1], va[0, 1]) == pytest.approx(mid, abs=1e-4)
    assert float(vz[0, 1]) == pytest.approx(3.95956, abs=1e-5)  # not (2 + 6) / 2
    assert float(va[0, 1]) == pytest.approx(5.0506, abs=1e-4)  # not the unit-vector 0


def test_view_angle_interpolation_fills_unseen_nodes_from_the_nearest() -> None:
    zen = np.array([[3.0, NAN], [NAN, NAN]])
    azi = np.array([[120.0, NAN], [NAN, NAN]])
    vz, va = interpolate_view_angles(zen, azi, 0.0, 0.0, 5000.0, _half_node_grid((3, 3)))
    np.testing.assert_allclose(vz, 3.0, atol=1e-5)
    np.testing.assert_allclose(va, 120.0, atol=1e-4)
    with pytest.raises(ProductError, match="matching"):
        interpolate_view_angles(zen, azi[:, :1], 0.0, 0.0, 5000.0, _half_node_grid((3, 3)))


def test_separate_circular_interpolation_still_wraps_through_north() -> None:
    va = interpolate_angle_grid(np.array([[350.0, 10.0]]), 0.0, 0.0, 5000.0,
                                _half_node_grid((1, 3)), circular=True)
    assert float(va[0, 1]) == pytest.approx(0.0, abs=1e-4) or float(va[0, 1]) == \
        pytest.approx(360.0, abs=1e-4)
