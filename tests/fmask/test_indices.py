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


def test_indices_clip_negative_reflectance_at_zero() -> None:
    # Dark water / shadowed snow of a baseline >= 04.00 product: bands slightly below 0.
    # Unclipped these give NDVI (0.0105 + 0.01) / 0.0005 = 41 and a whiteness of ~60.
    red, nir = a(-0.01, 0.02, -0.01), a(0.0105, -0.005, -0.02)
    np.testing.assert_allclose(indices.ndvi(red, nir), [[1.0, -1.0, 0.0]])
    np.testing.assert_allclose(indices.ndbi(a(0.0105), a(-0.01)), [[1.0]])
    np.testing.assert_allclose(indices.ndsi(a(-0.01), a(0.0105)), [[-1.0]])
    # B, G, R = 0.003, -0.001, -0.001: clipped (0.003, 0, 0), mean 0.001, spread 0.004 -> 4
    white = indices.whiteness(a(0.003, 0.003), a(-0.001, 0.003), a(-0.001, -0.0029))
    # and (0.003, 0.003, 0): mean 0.002, spread 0.004 -> 2
    np.testing.assert_allclose(white, [[4.0, 2.0]], rtol=1e-5)
    # HOT is linear: raw values are kept (0.003 - 0.5 * -0.001 - 0.08)
    np.testing.assert_allclose(indices.hot(a(0.003), a(-0.001)), [[-0.0765]], atol=1e-7)


def test_indices_are_bounded_on_random_signed_reflectance() -> None:
    rng = np.random.default_rng(2)
    b, g, r, n = rng.uniform(-0.02, 0.02, (4, 50, 50)).astype(np.float32)
    for index in (indices.ndvi(r, n), indices.ndsi(g, n), indices.ndbi(n, r),
                  indices.cdi(b, g, n)):
        assert np.all(np.abs(index) <= 1 + 1e-6)
    white = indices.whiteness(b, g, r)
    assert np.all((white >= 0) & (white <= 4 + 1e-5))
