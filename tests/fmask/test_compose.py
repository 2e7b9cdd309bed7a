"""Step 12: buffers, precedence and the recode into project classes."""

from __future__ import annotations

import numpy as np

from dfmask_lib.classes import FMASK, recode
from dfmask_lib.fmask import FmaskConfig, class_fractions
from dfmask_lib.fmask.compose import buffer, compose


def masks_11() -> dict[str, np.ndarray]:
    z = np.zeros((11, 11), bool)
    return {k: z.copy() for k in ("cloud", "shadow", "snow", "water")} | {"obs": ~z}


def test_cloud_buffer_is_a_3px_square() -> None:
    m = masks_11()
    m["cloud"][5, 5] = True
    out = compose(**m)
    np.testing.assert_array_equal(np.argwhere(out == 4).min(0), [2, 2])
    np.testing.assert_array_equal(np.argwhere(out == 4).max(0), [8, 8])
    assert (out == 4).sum() == 49 and (out == 0).sum() == 121 - 49


def test_snow_is_not_buffered_and_buffers_are_configurable() -> None:
    m = masks_11()
    m["snow"][5, 5] = True
    assert (compose(**m) == 3).sum() == 1
    assert (compose(**m, config=FmaskConfig(snow_buffer=1)) == 3).sum() == 9
    assert buffer(m["snow"], 0) is not m["snow"]


def test_precedence_water_snow_shadow_cloud_fill() -> None:
    m = masks_11()
    m["water"][:, :] = True
    m["snow"][0:6, :] = True
    m["shadow"][0, 0] = True
    m["cloud"][10, 10] = True
    m["obs"][10, 10] = False
    out = compose(**m, config=FmaskConfig(cloud_buffer=0, shadow_buffer=0))
    assert out[0, 0] == 2  # shadow over snow over water
    assert out[0, 5] == 3 and out[8, 0] == 1
    assert out[10, 10] == 255  # fill beats cloud
    m["obs"][10, 10] = True
    m["shadow"][10, 10] = True
    assert compose(**m, config=FmaskConfig(cloud_buffer=0, shadow_buffer=0))[10, 10] == 4


def test_recode_to_project_classes_and_fractions() -> None:
    fmask = np.array([[0, 1, 2, 3, 4, 255]], np.uint8)
    np.testing.assert_array_equal(recode(fmask, FMASK), [[1, 5, 3, 4, 2, 0]])
    fr = class_fractions(fmask)
    assert fr == {"clear land": 0.2, "water": 0.2, "cloud shadow": 0.2, "snow": 0.2, "cloud": 0.2}


def test_class_fractions_refuses_what_is_not_fmask_codes() -> None:
    import pytest

    from dfmask_lib.errors import LabelError

    with pytest.raises(LabelError, match=r"codes \[7\]"):  # was silently left out of the sum
        class_fractions(np.array([[0, 7, 4, 255]], np.uint8))
    with pytest.raises(LabelError, match="integer"):
        class_fractions(np.array([[0.0, 1.0]]))
    with pytest.raises(LabelError, match=r"codes \[-1\]"):
        class_fractions(np.array([[0, -1]], np.int16))
