"""Contract checks shared by the Fmask steps: masks must be bool (H, W)."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.errors import BandError
from dfmask_lib.fmask import commission, compose, masks, probability, shadow

F = np.full((8, 8), 0.2, np.float32)
B = np.ones((8, 8), bool)
U = np.ones((8, 8), np.uint8)  # a 0/1 mask as integers: a[U] would index rows 0 and 1

CALLS = {
    "compose": lambda m: compose.compose(m, ~B, ~B, ~B, B),
    "buffer": lambda m: compose.buffer(m, 3),
    "observation_mask": lambda m: masks.observation_mask(np.ones((3, 8, 8), np.float32), m),
    "basic_cloud_test": lambda m: masks.basic_cloud_test(F, F, F, F, F, F, F, m),
    "normalized_cirrus": lambda m: masks.normalized_cirrus(F, ~B, m),
    "absolute_snow": lambda m: masks.absolute_snow(F, F, m, B),
    "cloud_probability": lambda m: probability.cloud_probability(m, ~B, B, F, F, F, F, F, F, F),
    "potential_false_positives": lambda m: commission.potential_false_positives(F, F, m),
    "remove_commission": lambda m: commission.remove_commission(m, B, None, 20.0),
    "potential_shadow": lambda m: shadow.potential_shadow(F, F, B, m),
    "match_shadows": lambda m: shadow.match_shadows(m, ~B, B, 40.0, 150.0, 20.0),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_integer_masks_are_refused_not_used_as_indices(name: str) -> None:
    CALLS[name](B)  # bool masks pass
    with pytest.raises(BandError, match=f"{name}: .* must be a bool mask, got dtype uint8"):
        CALLS[name](U)


def test_compose_of_an_integer_cloud_mask_would_have_been_all_cloud() -> None:
    cloud = np.zeros((5, 5), np.uint8)
    cloud[2, 2] = 1
    with pytest.raises(BandError, match="astype\\(bool\\)"):
        compose.compose(cloud, *(np.zeros((5, 5), bool),) * 3, np.ones((5, 5), bool))


@pytest.mark.parametrize("call", [
    lambda: shadow.flood_fill(np.zeros(9, np.float32)),  # was an unpacking ValueError
    lambda: commission.line_filter(np.zeros(9, np.float32)),  # was a scipy RuntimeError
    lambda: probability.thin_cloud_probability(np.zeros((2, 3, 3), np.float32)),
])
def test_one_layer_functions_need_a_2d_array(call) -> None:
    with pytest.raises(BandError, match="must be a 2-D"):
        call()
