"""Class codes and every mapping table of METHOD.md, pinned value by value."""

import numpy as np
import pytest

from dfmask_lib import classes as C
from dfmask_lib.errors import DfmaskError, LabelError


def test_codes_names_colours():
    assert C.CLASS_CODES == (0, 1, 2, 3, 4, 5)
    assert C.SCORED_CLASSES == (1, 2, 3, 4, 5)
    assert C.CLASS_COLOURS[C.CLOUD] == (245, 250, 178)
    assert C.CLASS_COLOURS[C.SNOW] == (85, 255, 255)
    assert C.CLASS_COLOURS[C.WATER] == (38, 40, 210)
    assert C.CLASS_COLOURS[C.CLEAR] == (139, 69, 19)
    assert C.CLASS_COLOURS[C.SHADOW] == (255, 0, 0)
    assert C.colormap()[0] == (0, 0, 0, 255)


@pytest.mark.parametrize(
    "table, expected",
    [
        (C.FMASK, {0: 1, 1: 5, 2: 3, 3: 4, 4: 2, 255: 0}),
        (C.PYTHON_FMASK, {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}),
        (C.SEN2COR_SCL, {0: 0, 1: 0, 2: 1, 3: 3, 4: 1, 5: 1, 6: 5, 7: 1, 8: 2, 9: 2, 10: 2, 11: 4}),
        (C.UKIS_CSMASK, {0: 3, 1: 5, 2: 4, 3: 1, 4: 2}),
        (C.HOLLSTEIN, {0: 0, 1: 1, 2: 5, 3: 3, 4: 2, 5: 2, 6: 4}),
        (C.SICOR_HOLLSTEIN, {0: 0, 10: 1, 20: 5, 30: 3, 40: 2, 50: 2, 60: 4}),
    ],
    ids=lambda t: getattr(t, "name", ""),
)
def test_tables_match_method(table, expected):
    assert dict(table.mapping) == expected
    src = np.array(sorted(expected), dtype=np.uint16)
    np.testing.assert_array_equal(C.recode(src, table), [expected[int(s)] for s in src])


def test_recode_keeps_shape_and_returns_uint8():
    fm = np.array([[0, 1, 2], [3, 4, 255]], dtype=np.uint8)
    out = C.recode(fm, C.FMASK)
    assert out.dtype == np.uint8 and out.shape == (2, 3)
    np.testing.assert_array_equal(out, [[1, 5, 3], [4, 2, 0]])


def test_recode_refuses_unknown_codes_and_names_them():
    with pytest.raises(LabelError, match=r"codes 5, 9 are not in the 'fmask'"):
        C.recode(np.array([0, 5, 9, 4]), C.FMASK)
    with pytest.raises(ValueError):  # LabelError is also a ValueError
        C.recode(np.array([12]), C.SEN2COR_SCL)


def test_recode_refuses_negative_and_float():
    with pytest.raises(LabelError, match="-1"):
        C.recode(np.array([-1, 0]), C.PYTHON_FMASK)
    with pytest.raises(LabelError, match="integer"):
        C.recode(np.array([0.5]), C.PROJECT)


def test_recode_empty():
    assert C.recode(np.zeros((0, 3), np.uint8), C.FMASK).shape == (0, 3)


def test_table_refuses_non_project_targets():
    with pytest.raises(ValueError, match="non-project"):
        C.MappingTable("bad", {0: 7})
    with pytest.raises(LabelError, match="non-project"):
        C.MappingTable("bad", {0: 7})


def test_table_refuses_negative_source_codes():
    # lut[-1] is lut[size - 1]: {-1: 0, 1: 5} would have recoded [-1, 1] as [5, 5]
    with pytest.raises(LabelError, match="negative source codes"):
        C.MappingTable("bad", {-1: 0, 0: 1, 1: 5})


def test_error_hierarchy():
    from dfmask_lib import errors as E
    assert issubclass(E.ProductError, ValueError) and issubclass(E.ProductError, DfmaskError)
    assert issubclass(E.MissingDataError, FileNotFoundError)
    assert issubclass(E.LabelError, ValueError)
