"""Synthetic terrain: fractal-noise fields, a DEM, and its illumination by the sun.

Pure array functions; everything is seeded through a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["fractal_noise", "make_dem", "illumination"]


def fractal_noise(rng: np.random.Generator, shape: tuple[int, int], beta: float = 3.0,
                  anisotropy: float = 1.0) -> np.ndarray:
    """Gaussian random field with a power-law spectrum ``|k|^-beta``, standardised.

    Spectral synthesis (Saupe 1988, *The Science of Fractal Images*): beta 3 gives smooth
    terrain-like fields, beta 2 rougher ones. ``anisotropy`` > 1 stretches features along
    columns (streaky cirrus, leads).

    Returns:
        float32 (H, W), mean 0, std 1.
    """
    h, w = shape
    if h < 2 or w < 2:
        raise ConfigError(f"noise field must be at least 2 x 2 px, got {shape}")
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :] / anisotropy
    k = np.sqrt(ky**2 + kx**2)
    k[0, 0] = np.inf
    amplitude = k ** (-beta / 2.0)
    phase = rng.standard_normal((h, w // 2 + 1)) + 1j * rng.standard_normal((h, w // 2 + 1))
    field = np.fft.irfft2(amplitude * phase, s=(h, w))
    field -= field.mean()
    field /= field.std() + 1e-12
    return field.astype(np.float32)


def make_dem(rng: np.random.Generator, shape: tuple[int, int], base_m: float,
             relief_m: float) -> np.ndarray:
    """Elevation (metres) from fractal noise: ``base_m`` plus relief spread over ~4 std.

    Returns:
        float32 (H, W) DEM in metres.
    """
    noise = fractal_noise(rng, shape, beta=4.0)
    return (base_m + relief_m * (noise - noise.min()) / (np.ptp(noise) + 1e-12)).astype(np.float32)


def illumination(dem: np.ndarray, resolution: float, sun_zenith: float,
                 sun_azimuth: float) -> np.ndarray:
    """Direct-beam illumination of each pixel relative to flat ground: ``cos(i) / cos(sz)``.

    cos(i) is the cosine of the local solar incidence angle on the slope (hill-shade;
    Horn 1981, Proc. IEEE 69:14). Slopes facing away from the sun get 0 (self-shadow). The
    ratio is capped at 2: beyond it the flat-ground TOA spectra are no longer meaningful.

    Args:
        dem: float (H, W) elevation in metres on a north-up grid.
        resolution: pixel size in metres.
        sun_zenith, sun_azimuth: degrees (azimuth clockwise from north).

    Returns:
        float32 (H, W) in [0, 2].
    """
    if not 0.0 <= sun_zenith < 85.0:
        raise ConfigError(f"sun zenith must be in [0, 85) degrees, got {sun_zenith}")
    dz_drow, dz_dcol = np.gradient(dem.astype(np.float64), resolution)
    dz_dx, dz_dy = dz_dcol, -dz_drow  # x east, y north (rows grow southwards)
    sz, sa = np.deg2rad(sun_zenith), np.deg2rad(sun_azimuth)
    sun = np.array([np.sin(sz) * np.sin(sa), np.sin(sz) * np.cos(sa), np.cos(sz)])
    norm = np.sqrt(dz_dx**2 + dz_dy**2 + 1.0)
    cos_i = (-dz_dx * sun[0] - dz_dy * sun[1] + sun[2]) / norm
    return np.clip(cos_i / np.cos(sz), 0.0, 2.0).astype(np.float32)
