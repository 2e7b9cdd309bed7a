"""Synthetic clouds: cloud objects with a type, a height and an optical-thickness field.

Each cloud is drawn in its own window at its *apparent* image position (where an L1C image
shows it). Its shadow lies at the offset given by :func:`dfmask_lib.geometry.shadow_offset`
from its height and the sun and view angles: the same relation Fmask's shadow matching
inverts. Pure array functions.

Labelling convention of the generator (not from a paper): a pixel is **cloud** where the total
cloud optical thickness exceeds :data:`TAU_CLOUD`, and **cloud shadow** where the optical
thickness on the sun's path to the ground exceeds the same value. A cloud that is labelled
therefore always casts a labelled shadow (where it does not fall on cloud or outside the scene),
and thinner veils are blended into the surface and keep its class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import shadow_offset
from .terrain import fractal_noise

__all__ = ["TAU_CLOUD", "CloudSpec", "CLOUD_SPECS", "CloudObject", "make_cloud", "opacity",
           "transmission", "CLOUD_MODELS", "ASYMMETRY_G", "label_tau",
           "paste_add", "cast_shadow"]

#: Optical thickness above which a pixel is labelled cloud (and its shadow labelled shadow).
#: At tau = 0.5 a cloud layer hides ~40 % of the surface (1 - exp(-0.5)) and adds ~0.2 to the
#: visible reflectance of a dark surface: clearly visible to an analyst. Generator convention.
TAU_CLOUD = 0.5


@dataclass(frozen=True)
class CloudSpec:
    """Shape, thickness and height ranges of one cloud type (20 m pixels, metres).

    Heights follow the WMO cloud-genus levels (WMO International Cloud Atlas, 2017):
    stratus low, cumulus bases low with tops to a few km, cirrus above ~6 km.
    """

    radius_px: tuple[float, float]  # half-size of the cloud body
    tau: tuple[float, float]        # peak optical thickness ("beer_lambert" model)
    height_m: tuple[float, float]   # height above ground
    beta: float                     # fractal roughness of the edges (lower = rougher)
    anisotropy: float               # > 1: streaks (cirrus)
    tau_two_stream: tuple[float, float] = (0.0, 0.0)  # peak optical thickness ("two_stream")


#: Peak optical thicknesses of the ``"two_stream"`` model are physical values: cumulus and
#: stratocumulus 20-120 and 10-40, thin (alto)stratus 2-15, cirrus 1-8 (the ranges of the ISCCP
#: cloud classification, Rossow & Schiffer 1999, Bull. Am. Meteorol. Soc. 80:2261, Fig. 1, widened
#: upwards for convective cores). The ``"beer_lambert"`` ranges were set by eye for the exp(-tau)
#: blend and are kept unchanged for the default polar scenes.
CLOUD_SPECS: dict[str, CloudSpec] = {
    "cumulus": CloudSpec((8, 35), (8.0, 40.0), (800.0, 3000.0), 2.4, 1.0, (20.0, 120.0)),
    "stratus": CloudSpec((50, 140), (3.0, 12.0), (300.0, 1500.0), 3.0, 1.5, (10.0, 40.0)),
    "thin_cloud": CloudSpec((20, 60), (0.3, 1.5), (2000.0, 6000.0), 2.6, 1.5, (2.0, 15.0)),
    "cirrus": CloudSpec((40, 120), (0.2, 1.2), (7000.0, 12000.0), 2.8, 4.0, (1.0, 8.0)),
}

#: How a cloud layer of optical thickness tau mixes with the surface under it (:func:`opacity`).
#: ``"beer_lambert"`` (the default, the polar scenes): the surface signal falls as the direct beam,
#: exp(-tau), so a cumulus core hides the ground completely and every labelled cloud pixel is
#: spectrally flat. ``"two_stream"``: a conservatively scattering layer passes the *diffuse*
#: transmission T = 1 / (1 + (1 - g) tau / 2) of the light (the two-stream solution, Bohren 1987,
#: Am. J. Phys. 55:524, eq. 14), so a cumulus of tau 20-120 still passes 40-10 % of the surface signal,
#: and over vegetation the red edge shows in B08 as it does in real scenes (issue 11).
CLOUD_MODELS: tuple[str, ...] = ("beer_lambert", "two_stream")
#: Asymmetry parameter of cloud droplets in the visible and near infrared, ~0.85 (Hansen &
#: Travis 1974, Space Sci. Rev. 16:527); used by the ``"two_stream"`` model.
ASYMMETRY_G = 0.85


@dataclass(frozen=True, eq=False)
class CloudObject:
    """One cloud: optical thickness ``tau`` (h, w) placed with its top-left at (row0, col0).

    ``brightness`` (h, w) is a standardised field for within-cloud reflectance variation.
    ``drow``/``dcol`` is the integer pixel offset from the cloud to its shadow.
    """

    kind: str
    height_m: float
    row0: int
    col0: int
    tau: np.ndarray
    brightness: np.ndarray
    drow: int
    dcol: int

    @property
    def centre(self) -> tuple[int, int]:
        """(row, col) of the window centre in scene pixels."""
        return self.row0 + self.tau.shape[0] // 2, self.col0 + self.tau.shape[1] // 2


def make_cloud(rng: np.random.Generator, kind: str, shape: tuple[int, int],
               sun_zenith: float, sun_azimuth: float, view_zenith: np.ndarray,
               view_azimuth: float, resolution: float, scale: float = 1.0,
               model: str = "beer_lambert") -> CloudObject:
    """Draw one cloud of type ``kind`` somewhere in a scene of ``shape`` (H, W).

    The shadow offset uses the view zenith at the cloud's centre (per-pixel grid
    ``view_zenith`` (H, W), degrees). ``scale`` shrinks the cloud body (small test scenes).
    ``model`` (:data:`CLOUD_MODELS`) picks the peak optical-thickness range; the random draws
    are the same for both, so a scene differs between models only in its clouds' thickness.
    """
    spec = CLOUD_SPECS[kind]
    radius = max(rng.uniform(*spec.radius_px) * scale, 3.0)
    half = int(np.ceil(2 * radius))
    size = 2 * half + 1
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    d2 = (u / (radius * spec.anisotropy ** 0.5)) ** 2 + (v * spec.anisotropy ** 0.5 / radius) ** 2
    body = np.exp(-1.5 * d2)
    noise = fractal_noise(rng, (size, size), beta=spec.beta, anisotropy=spec.anisotropy)
    m = body + 0.35 * noise - 0.45
    m[d2 >= 4.0] = 0.0
    m = np.clip(m, 0.0, None)
    peak = float(m.max())
    tau_range = spec.tau_two_stream if model == "two_stream" else spec.tau
    tau = (rng.uniform(*tau_range) * m / peak if peak > 0 else m).astype(np.float32)
    brightness = fractal_noise(rng, (size, size), beta=2.6)
    h, w = shape
    row = int(rng.integers(0, h))
    col = int(rng.integers(0, w))
    height = float(rng.uniform(*spec.height_m))
    vz = float(view_zenith[row, col])
    drow, dcol = shadow_offset(height, sun_zenith, sun_azimuth, vz, view_azimuth, resolution)
    return CloudObject(kind, height, row - half, col - half, tau, brightness,
                       int(np.rint(drow)), int(np.rint(dcol)))


def transmission(tau: np.ndarray, model: str = "beer_lambert") -> np.ndarray:
    """Share of the light a cloud layer passes, float32 like ``tau``: ``exp(-tau)`` (the direct
    beam) or the two-stream diffuse transmission (:func:`opacity` is ``1 -`` this). Computed
    directly rather than as ``1 - opacity``, which would lose float32 precision in deep shadow
    (and change the default polar scenes' bytes)."""
    tau = np.asarray(tau, np.float32)
    if model == "beer_lambert":
        return np.exp(-tau).astype(np.float32)
    if model == "two_stream":
        return (1.0 / (1.0 + np.float32(1.0 - ASYMMETRY_G) * tau / 2.0)).astype(np.float32)
    raise ValueError(f"cloud model must be one of {CLOUD_MODELS}, got {model!r}")


def opacity(tau: np.ndarray, model: str = "beer_lambert") -> np.ndarray:
    """Share of the surface signal a cloud layer replaces, float32 like ``tau``:
    ``1 - transmission(tau, model)`` (``"beer_lambert"``: ``1 - exp(-tau)``; ``"two_stream"``:
    ``1 - 1 / (1 + (1 - g) tau / 2)``, g = :data:`ASYMMETRY_G`, Bohren 1987)."""
    return (1.0 - transmission(tau, model)).astype(np.float32)


def label_tau(cloud_tau: float, model: str) -> float:
    """Optical thickness above which a pixel is labelled cloud under ``model``.

    The labelling criterion is visual and the same for both models: a layer that replaces at
    least ``1 - exp(-cloud_tau)`` of the surface signal (~40 % at the default :data:`TAU_CLOUD`)
    is cloud to an analyst. Under ``"two_stream"`` that share is reached at a larger tau
    (8.7 for the default), which is why its clouds are thicker.
    """
    if model == "beer_lambert":
        return float(cloud_tau)
    share = 1.0 - np.exp(-cloud_tau)
    return float(2.0 * share / ((1.0 - share) * (1.0 - ASYMMETRY_G)))


def _overlap(row0: int, col0: int, h: int, w: int, shape: tuple[int, int]):
    """Slices (scene, window) of a window at (row0, col0) clipped to the scene, or None."""
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + h, shape[0]), min(col0 + w, shape[1])
    if r0 >= r1 or c0 >= c1:
        return None
    return ((slice(r0, r1), slice(c0, c1)),
            (slice(r0 - row0, r1 - row0), slice(c0 - col0, c1 - col0)))


def paste_add(target: np.ndarray, window: np.ndarray, row0: int, col0: int) -> None:
    """Add ``window`` into ``target`` (H, W) at (row0, col0), clipped at the scene edges."""
    sl = _overlap(row0, col0, *window.shape, target.shape)
    if sl is not None:
        target[sl[0]] += window[sl[1]]


def cast_shadow(target: np.ndarray, cloud: CloudObject) -> None:
    """Add the cloud's optical thickness into ``target`` (H, W) at its shadow position."""
    paste_add(target, cloud.tau, cloud.row0 + cloud.drow, cloud.col0 + cloud.dcol)
