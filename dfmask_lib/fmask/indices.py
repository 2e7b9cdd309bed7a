"""Step 2: spectral indices (Zhu & Woodcock 2012; Frantz et al. 2018 for the CDI).

Every function takes float32 TOA reflectance arrays of one shape (usually (H, W))
and returns float32 of that shape. Ratios are 0 where their denominator is 0.

Negative reflectance (dark pixels of baseline >= 04.00 products): every normalised
difference and ratio here is computed on reflectance clipped at 0, the project's one
rule (:func:`dfmask_lib.scene.normalized_difference`), shared with the network's NDSI
channel; so NDVI, NDSI, NDBI and the CDI stay in [-1, 1] and whiteness in [0, 4]. HOT is
linear in the bands and keeps their raw values.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..errors import BandError
from ..scene import ndsi
from ..scene import normalized_difference as _clipped_difference

__all__ = ["normalized_difference", "ndvi", "ndsi", "ndbi", "whiteness", "hot", "cdi"]


def _same_shape(where: str, **arrays: np.ndarray) -> None:
    """Refuse bands of different shapes: numpy would broadcast them into a wrong index."""
    shapes = {name: np.shape(a) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise BandError(f"{where}: bands of different shapes {shapes}; put every band on "
                        "the same grid first")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float32)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _clip0(x: np.ndarray) -> np.ndarray:
    """Reflectance clipped at 0 (the project's rule before a ratio), float32."""
    return np.maximum(np.asarray(x, dtype=np.float32), np.float32(0))


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b) on reflectance clipped at 0, float32 in [-1, 1], 0 where a + b == 0."""
    _same_shape("normalized_difference", a=a, b=b)
    return _clipped_difference(a, b)


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """NDVI = (NIR - red) / (NIR + red); red B04, NIR B8A (Zhu & Woodcock 2012)."""
    return normalized_difference(nir, red)


def ndbi(swir1: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """NDBI = (SWIR1 - NIR) / (SWIR1 + NIR); SWIR1 B11, NIR B8A (Qiu et al. 2019)."""
    return normalized_difference(swir1, nir)


def whiteness(blue: np.ndarray, green: np.ndarray, red: np.ndarray) -> np.ndarray:
    """sum(|b - m|) / m over B02, B03, B04 with m their mean (Zhu & Woodcock 2012 eq. 2).

    Clouds are flat in the visible (small whiteness); 0 where m == 0. Bands are clipped
    at 0 first (a mean near 0 of bands of both signs would make it explode), so it
    lies in [0, 4].
    """
    _same_shape("whiteness", blue=blue, green=green, red=red)
    blue, green, red = (_clip0(x) for x in (blue, green, red))
    mean = (blue + green + red) / np.float32(3)
    spread = np.abs(blue - mean) + np.abs(green - mean) + np.abs(red - mean)
    return _ratio(spread, mean)


def hot(blue: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Haze optimised transformation B - 0.5 R - 0.08 (Zhu & Woodcock 2012 eq. 3)."""
    _same_shape("hot", blue=blue, red=red)
    blue = np.asarray(blue, dtype=np.float32)
    red = np.asarray(red, dtype=np.float32)
    return blue - np.float32(0.5) * red - np.float32(0.08)


#: Variances below this are numerical noise of E[x^2] - E[x]^2 (ratios are ~1).
_VARIANCE_FLOOR = 1e-10


def _local_variance(x: np.ndarray, size: int) -> np.ndarray:
    """Variance over ``size`` x ``size`` windows (edges mirrored), float32.

    float64: E[x^2] - E[x]^2 on ratios near 1 cancels badly in float32. The window means are
    direct weighted sums (``correlate1d``), not running sums as in ``uniform_filter``: each
    pixel's value depends only on the pixels of its window, so a strip of rows with
    ``size // 2`` rows of context gives the whole scene's values bit for bit
    (:mod:`dfmask_lib.fmask.strips`).
    """
    x = x.astype(np.float64)
    weights = np.full(size, 1.0 / size)

    def mean(a: np.ndarray) -> np.ndarray:
        return ndi.correlate1d(ndi.correlate1d(a, weights, axis=0, mode="reflect"), weights,
                               axis=1, mode="reflect")

    m = mean(x)
    np.multiply(x, x, out=x)
    var = mean(x)
    del x
    var -= m * m
    var[var < _VARIANCE_FLOOR] = 0.0
    return var.astype(np.float32)


def cdi(b07: np.ndarray, b08: np.ndarray, b8a: np.ndarray, window: int = 7) -> np.ndarray:
    """Cloud displacement index (Frantz et al. 2018, eq. 1-3).

    CDI = (V7 - V8) / (V7 + V8), with V7, V8 the ``window`` x ``window`` local
    variances of the ratios B07/B8A and B08/B8A. B08 is sensed with a larger
    along-track parallax to B8A than B07 is, so elevated objects (clouds) have a
    noisier B08/B8A ratio and a CDI near -1; bright ground stays near 0 or above.
    0 where both variances are 0 (a flat patch says nothing).

    Args:
        b07, b08, b8a: float32 (H, W) TOA reflectance.
        window: odd window size in pixels (7 at 20 m in Frantz et al. 2018).
    """
    _same_shape("cdi", b07=b07, b08=b08, b8a=b8a)
    if np.ndim(b8a) != 2:
        raise BandError(f"cdi: bands must be 2-D (H, W) for its {window} x {window} window, "
                        f"got shape {np.shape(b8a)}")
    b8a = _clip0(b8a)
    v7 = _local_variance(_ratio(_clip0(b07), b8a), window)
    v8 = _local_variance(_ratio(_clip0(b08), b8a), window)
    return _ratio(v7 - v8, v7 + v8)
