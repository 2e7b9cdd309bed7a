"""Step 2: each index on hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.fmask import indices


def a(*values: float) -> np.ndarray:
    return np.array([values], dtype=np.float32)


def test_ndvi_ndsi_ndbi_on_hand_values() -> None:
    np.testing.assert_allclose(indices.ndvi(a(0.06, 0.0), a(0.30, 0.0)), [[0.24 / 0.36, 0.0]],
                               rtol=1e-6)
    np.testing.assert_allclose(indices.ndsi(a(0.8), a(0.05)), [[0.75 / 0.85]], rtol=1e-6)
    np.testing.assert_allclose(indices.ndbi(a(0.20), a(0.30)), [[-0.2]], rtol=1e-6)
    assert indices.ndvi(a(0.1), a(0.2)).dtype == np.float32


def test_whiteness_and_hot() -> None:
    # B, G, R = 0.08, 0.08, 0.06: mean 0.07333, spread 0.02667 -> 0.3636
    np.testing.assert_allclose(indices.whiteness(a(0.08, 0.5), a(0.08, 0.5), a(0.06, 0.5)),
                               [[0.02666667 / 0.07333333, 0.0]], rtol=1e-5)
    assert indices.whiteness(a(0), a(0), a(0))[0, 0] == 0  # no division by zero
    np.testing.assert_allclose(indices.hot(a(0.5, 0.08), a(0.5, 0.06)), [[0.17, -0.03]],
                               atol=1e-7)


def test_cdi_sign_follows_parallax_texture() -> None:
    rng = np.random.default_rng(1)
    b8a = np.full((21, 21), 0.5, np.float32)
    texture = (1 + 0.1 * rng.standard_normal((21, 21))).astype(np.float32)
    flat = np.full((21, 21), 0.5, np.float32)
    # Texture only in B08 (the band with the larger parallax): elevated -> CDI -1.
    assert indices.cdi(flat, flat * texture, b8a)[10, 10] == pytest.approx(-1.0)
    # Texture only in B07: CDI +1; none at all: 0.
    assert indices.cdi(flat * texture, flat, b8a)[10, 10] == pytest.approx(1.0)
    assert indices.cdi(flat, flat, b8a)[10, 10] == 0.0


@pytest.mark.parametrize("call", [
    lambda: indices.ndvi(np.zeros((4, 4)), np.zeros((1, 4))),  # would broadcast silently
    lambda: indices.ndbi(np.zeros((4, 4)), np.zeros((4, 5))),
    lambda: indices.whiteness(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4,))),
    lambda: indices.hot(np.zeros((4, 4)), np.zeros((1, 4))),
    lambda: indices.cdi(np.zeros((9, 9)), np.zeros((9, 9)), np.zeros((9, 8))),
    lambda: indices.cdi(np.zeros((3, 9, 9)), np.zeros((3, 9, 9)), np.zeros((3, 9, 9))),
])
def test_bands_of_different_shapes_raise_band_error(call) -> None:
    from dfmask_lib.errors import BandError

    with pytest.raises(BandError, match="shape"):
        call()
