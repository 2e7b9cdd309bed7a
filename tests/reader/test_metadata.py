"""MTD_MSIL1C.xml / MTD_TL.xml parsing on the real ALCD files and edited copies."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.errors import ProductError
from dfmask_lib.reader.metadata import band_name, parse_product_xml, parse_tile_xml
from dfmask_lib.reader.angles import circular_mean_deg, mean_angle_grid


@pytest.mark.parametrize("physical,name", [("B1", "B01"), ("B8", "B08"), ("B8A", "B8A"),
                                           ("B10", "B10"), ("B12", "B12"), ("b02", "B02")])
def test_band_name_mapping(physical, name):
    assert band_name(physical) == name


@pytest.mark.parametrize("bad", ["B13", "B0", "8A", "SCL"])
def test_band_name_refuses_unknown(bad):
    with pytest.raises(ProductError, match="unknown Sentinel-2 band"):
        band_name(bad)


def test_offsets_follow_band_ids_not_positions(safe_a):
    xml = (safe_a / "MTD_MSIL1C.xml").read_text()
    # give band_id 8 (B8A) its own offset: it must land on B8A, not on the 9th name by position
    xml = xml.replace('<RADIO_ADD_OFFSET band_id="8">-1000<', '<RADIO_ADD_OFFSET band_id="8">-7<')
    p = parse_product_xml(xml.encode())
    assert p.radio_add_offset["B8A"] == -7.0 and p.radio_add_offset["B09"] == -1000.0
    assert p.product_uri.startswith("S2A_MSIL1C_20240120")


def test_tile_xml(safe_b):
    t = parse_tile_xml(next(safe_b.glob("GRANULE/*/MTD_TL.xml")).read_bytes())
    assert t.epsg == 32631 and t.tile_id == "31TCJ"
    assert t.geoposition[20] == (300000.0, 4900020.0, 20.0, -20.0)
    assert t.size == {10: (10980, 10980), 20: (5490, 5490), 60: (1830, 1830)}
    assert t.view_zenith_grid.shape == (23, 23) and t.angle_step == 5000.0
    assert np.nanmax(t.view_zenith_grid) < 13


def test_circular_means():
    assert circular_mean_deg(np.array([359.0, 1.0])) == pytest.approx(0.0, abs=1e-9) or \
        circular_mean_deg(np.array([359.0, 1.0])) == pytest.approx(360.0)
    zen, az = mean_angle_grid(np.array([[[1.0, np.nan]], [[3.0, np.nan]]]),
                              np.array([[[350.0, np.nan]], [[30.0, np.nan]]]))
    # the parallax-vector mean, not the separate means 2.0 and 10.0 (tests/reader/test_angles.py)
    assert zen[0, 0] == pytest.approx(1.9109407294016203) and np.isnan(zen[0, 1])
    assert az[0, 0] == pytest.approx(20.320256656834335)
    with pytest.raises(ProductError, match="angle grids"):  # was a bare ValueError
        mean_angle_grid(np.zeros((2, 3, 3)), np.zeros((2, 3, 4)))


@pytest.mark.parametrize("value", ["0", "-10000", "nan"])
def test_impossible_quantification_value_refused(safe_a, value):
    xml = (safe_a / "MTD_MSIL1C.xml").read_text()
    old = "<QUANTIFICATION_VALUE"
    assert old in xml
    start = xml.index(">", xml.index(old)) + 1
    xml = xml[:start] + value + xml[xml.index("<", start):]
    with pytest.raises(ProductError, match="QUANTIFICATION_VALUE is .* not a positive"):
        parse_product_xml(xml.encode())


@pytest.mark.parametrize("old,new,element", [
    ("<NROWS>10980<", "<NROWS>1O980<", "NROWS"),
    ("<VALUES>4.85525 ", "<VALUES>4.8x5525 ", "VALUES"),
])
def test_non_numbers_in_tile_xml_are_one_product_error(safe_a, old, new, element):
    # a damaged MTD_TL.xml once gave a bare ValueError traceback from int()/float()
    xml = next(safe_a.glob("GRANULE/*/MTD_TL.xml")).read_text()
    assert old in xml
    with pytest.raises(ProductError, match=f"<{element}> is .* not a"):
        parse_tile_xml(xml.replace(old, new, 1).encode())


def test_offsets_missing_for_some_bands_refused(safe_a):
    xml = (safe_a / "MTD_MSIL1C.xml").read_text()
    line = '<RADIO_ADD_OFFSET band_id="8">-1000</RADIO_ADD_OFFSET>'
    assert line in xml
    with pytest.raises(ProductError, match=r"RADIO_ADD_OFFSET for 12 bands but not for \['B8A'\]"):
        parse_product_xml(xml.replace(line, "").encode())
