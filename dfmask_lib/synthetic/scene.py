"""The synthetic scene generator: 13-band L1C TOA reflectance at 20 m with exact truth.

Pure arrays in, pure arrays out; :mod:`dfmask_lib.synthetic.safe_writer` turns the result into a
real-layout SAFE product. Steps (all seeded by ``SynthConfig.seed``):

1. DEM from fractal noise; surfaces by elevation quantile (water lowest, then rock/tundra,
   glacier ice, snow above a noisy snowline; or sea ice with leads instead of open water).
   Opt-in (``landscape="mixed"``/``"temperate"``): the lowest part of the snow-free ground becomes
   a temperate patchwork of field parcels (cropland, sparse vegetation, bare soil), forest blobs
   and compact settlements (:func:`temperate_map`); the default ``"polar"`` is unchanged.
2. Surface TOA spectra from ``spectra.csv`` with spatially correlated within-class variation.
3. Illumination: hill-shade ``cos(i)/cos(sz)`` of the DEM, and cloud shadows (direct beam
   attenuated by ``exp(-tau)`` of each cloud, or by the two-stream transmission, cast at
   :func:`~dfmask_lib.geometry.shadow_offset`).
   A pixel keeps the per-band diffuse share ``shadow_ratio`` (measured on shadowed snow) of its
   brightness in full shadow. Terrain shadow keeps the surface class; cloud shadow is labelled.
4. Clouds blended over the surface by opacity ``1 - exp(-tau)``, lowest first; opt-in
   ``cloud_model="two_stream"``: by the diffuse two-stream opacity, with physical optical
   thicknesses (:data:`~.clouds.CLOUD_MODELS`), so that the surface shows through thick cloud.
5. Sensor noise (shot noise + floor), saturation of bright B02-B04, and a no-data wedge at the swath edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..classes import CLOUD, NODATA, SHADOW
from ..errors import ConfigError
from ..scene import S2_BANDS
from .clouds import (CLOUD_MODELS, CloudObject, TAU_CLOUD, _overlap, cast_shadow, label_tau,
                     make_cloud, opacity, paste_add, transmission)
from .spectra import CLOUD_TYPES, SURFACE_CLASS, SURFACES, shadow_ratio, spectrum
from .terrain import fractal_noise, illumination, make_dem

__all__ = ["SynthConfig", "SyntheticScene", "generate", "MIN_SIZE", "LANDSCAPES", "FIELD_SURFACES",
           "field_parcels", "temperate_map"]

#: Smallest scene side (20 m px): room for a few clouds and their shadows.
MIN_SIZE = 48
_B = {b: i for i, b in enumerate(S2_BANDS)}
#: surface index -> project class (look-up array for the truth).
SURFACE_CLASS_LUT = np.array([SURFACE_CLASS[s] for s in SURFACES], np.uint8)
#: Landscape -> share of the snow-free ground (lowest first) painted with temperate surfaces.
#: "mixed": farmed valleys below tundra and rock, as in the Alps or southern Norway.
LANDSCAPES: dict[str, float] = {"polar": 0.0, "mixed": 0.5, "temperate": 1.0}
#: Surfaces a field parcel can carry, in the order of ``SynthConfig.field_mix``.
FIELD_SURFACES: tuple[str, ...] = ("cropland", "sparse_vegetation", "bare_soil")


@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines one synthetic scene. Same config -> same arrays, bit for bit.

    Fractions are of the scene's pixels unless said otherwise.
    """

    size: int = 510                     # side in 20 m px; multiple of 6 so 10/20/60 m grids align
    seed: int = 0                       # the only source of randomness
    resolution: float = 20.0            # metres per px of the truth grid (the paper's grid)
    base_elevation_m: float = 400.0     # lowest terrain; only the relief matters for shading
    relief_m: float = 1500.0            # terrain range of a 510 px scene (scaled with size)
    water_level: float = 0.10           # share of the lowest terrain flooded (lakes / sea)
    sea_ice: bool = False               # flooded terrain is sea ice with leads (polar oceans)
    lead_fraction: float = 0.25         # share of sea ice that is open leads
    turbid_fraction: float = 0.4        # share of lake water that is turbid glacial meltwater
    snowline: float = 0.45              # elevation quantile of the land above which snow lies
    glacier_band: float = 0.12          # quantile band below the snowline covered by bare ice
    blue_ice_fraction: float = 0.0      # share of bare ice that is blue ice (Antarctica)
    old_snow_fraction: float = 0.35     # share of snow that is old/dirty
    vegetation_fraction: float = 0.35   # share of snow-free land that is tundra vegetation
    cloud_cover: float = 0.30           # target share of labelled cloud (stops adding clouds)
    cloud_mix: tuple[float, ...] = (0.4, 0.15, 0.25, 0.2)  # weights of CLOUD_TYPES
    sun_zenith: float = 60.0            # degrees; polar summer 10:30 local time gives 50-75
    sun_azimuth: float = 160.0          # degrees clockwise from north
    view_zenith_near: float = 2.0       # view zenith at the west edge (degrees)
    view_zenith_far: float = 9.0        # view zenith at the east edge (S2 swath edge ~11.5)
    view_azimuth: float = 105.0         # degrees; towards the satellite
    noise_std: float = 0.001            # sensor noise at reflectance 0.1 (S2 SNR ~100 there)
    noise_floor: float = 0.0002         # signal-independent noise (dark bands such as B10)
    saturation: bool = True             # mark very bright B02-B04 as saturated (DN 65535)
    saturation_reflectance: float = 1.2  # approximate TOA level where B02-B04 saturate
    nodata_wedge: bool = True           # a no-data wedge where the swath edge cuts the tile
    wedge_fraction: float = 0.06        # share of the scene outside the swath
    cloud_tau: float = TAU_CLOUD        # labelling threshold on optical thickness (clouds.py)
    cloud_model: str = "beer_lambert"   # how cloud mixes with the surface: CLOUD_MODELS
    landscape: str = "polar"            # "polar", "mixed" or "temperate" (see LANDSCAPES): where
    #                                     the network must also see cloud over green vegetation
    forest_fraction: float = 0.30       # share of the temperate ground under forest
    urban_fraction: float = 0.04        # share of the temperate ground built up (settlements)
    field_size_px: float = 20.0         # mean parcel width, 20 m px (400 m; fields are 1-3 x
    #                                     longer than wide): European farmland parcels of ~1-30 ha
    field_mix: tuple[float, ...] = (0.5, 0.25, 0.25)  # weights of FIELD_SURFACES per parcel

    def __post_init__(self) -> None:
        check_config(self)


def check_config(c: SynthConfig) -> None:
    """Raise :class:`ConfigError` naming the first impossible value of a config."""
    if c.size < MIN_SIZE or c.size % 6:
        raise ConfigError(f"size must be a multiple of 6 and at least {MIN_SIZE} px "
                          f"(10/20/60 m grids must align), got {c.size}")
    for name in ("water_level", "lead_fraction", "turbid_fraction", "snowline", "glacier_band",
                 "blue_ice_fraction", "old_snow_fraction", "vegetation_fraction",
                 "cloud_cover", "wedge_fraction", "forest_fraction", "urban_fraction"):
        v = getattr(c, name)
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"{name} must be in [0, 1], got {v}")
    if len(c.cloud_mix) != len(CLOUD_TYPES) or min(c.cloud_mix) < 0 or sum(c.cloud_mix) <= 0:
        raise ConfigError(f"cloud_mix needs {len(CLOUD_TYPES)} non-negative weights for "
                          f"{CLOUD_TYPES}, not all 0; got {c.cloud_mix}")
    if c.cloud_model not in CLOUD_MODELS:
        raise ConfigError(f"cloud_model must be one of {CLOUD_MODELS}, got {c.cloud_model!r}")
    if c.landscape not in LANDSCAPES:
        raise ConfigError(f"landscape must be one of {sorted(LANDSCAPES)}, got {c.landscape!r}")
    if (len(c.field_mix) != len(FIELD_SURFACES) or min(c.field_mix) < 0
            or sum(c.field_mix) <= 0):
        raise ConfigError(f"field_mix needs {len(FIELD_SURFACES)} non-negative weights for "
                          f"{FIELD_SURFACES}, not all 0; got {c.field_mix}")
    if not c.field_size_px >= 2.0:
        raise ConfigError(f"field_size_px must be >= 2 px, got {c.field_size_px}")
    if not 0.0 <= c.sun_zenith < 80.0:
        raise ConfigError(f"sun_zenith must be in [0, 80) degrees, got {c.sun_zenith}")
    for name in ("view_zenith_near", "view_zenith_far"):
        if not 0.0 <= getattr(c, name) <= 15.0:
            raise ConfigError(f"{name} must be in [0, 15] degrees (S2 swath), got "
                              f"{getattr(c, name)}")
    if c.resolution != 20.0:
        raise ConfigError("resolution must be 20.0 m: the truth grid is the 20 m grid")
    if min(c.noise_std, c.noise_floor, c.relief_m) < 0 or c.cloud_tau <= 0:
        raise ConfigError("noise_std, noise_floor and relief_m must be >= 0 and cloud_tau > 0")


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A generated scene on the 20 m grid.

    Attributes:
        reflectance: float32 (13, H, W) TOA reflectance, ``S2_BANDS`` order, 0 outside ``valid``.
        truth: uint8 (H, W) project classes (0 no data, 1 clear, 2 cloud, 3 shadow, 4 snow/ice,
            5 water).
        surface: uint8 (H, W) index into :data:`~dfmask_lib.synthetic.spectra.SURFACES`.
        dem: float32 (H, W) elevation, metres.
        illumination: float32 (H, W) direct-beam factor of the terrain (0 = terrain shadow).
        cloud_tau: float32 (H, W) total cloud optical thickness.
        shadow_tau: float32 (H, W) cloud optical thickness on the sun path to the ground.
        saturated: bool (H, W), True where B02-B04 are saturated (written as DN 65535).
        valid: bool (H, W), False in the no-data wedge.
        view_zenith: float32 (H, W) degrees; ``config.view_azimuth`` is the view azimuth.
        clouds: the cloud objects, lowest first.
        config: the :class:`SynthConfig` that made it.
    """

    reflectance: np.ndarray
    truth: np.ndarray
    surface: np.ndarray
    dem: np.ndarray
    illumination: np.ndarray
    cloud_tau: np.ndarray
    shadow_tau: np.ndarray
    saturated: np.ndarray
    valid: np.ndarray
    view_zenith: np.ndarray
    clouds: tuple[CloudObject, ...]
    config: SynthConfig = field(default_factory=SynthConfig)


def _quantile_split(values: np.ndarray, mask: np.ndarray, share: float) -> np.ndarray:
    """Boolean: pixels in ``mask`` whose ``values`` are in the lowest ``share`` of the mask."""
    out = np.zeros(mask.shape, bool)
    if share <= 0 or not mask.any():
        return out
    thr = np.quantile(values[mask], min(share, 1.0))
    out[mask] = values[mask] <= thr
    return out


def surface_map(rng: np.random.Generator, dem: np.ndarray, c: SynthConfig) -> np.ndarray:
    """uint8 (H, W) surface index (into SURFACES) from the DEM and the config's mix."""
    shape = dem.shape
    idx = {s: np.uint8(i) for i, s in enumerate(SURFACES)}
    out = np.full(shape, idx["rock_moraine"], np.uint8)
    everywhere = np.ones(shape, bool)
    water = _quantile_split(dem, everywhere, c.water_level)
    land = ~water
    if c.sea_ice:
        leads = _quantile_split(fractal_noise(rng, shape, 2.2, anisotropy=5.0), water,
                                c.lead_fraction)
        out[water] = idx["sea_ice"]
        out[leads] = idx["lead"]
    else:
        turbid = _quantile_split(fractal_noise(rng, shape, 3.0), water, c.turbid_fraction)
        out[water] = idx["open_water"]
        out[turbid] = idx["turbid_meltwater"]
    # A noisy snowline: elevation plus a smooth perturbation, split by land quantiles.
    wobble = fractal_noise(rng, shape, 2.6) * 0.08 * (np.ptp(dem) + 1.0)
    height = dem + wobble
    below_snow = _quantile_split(height, land, c.snowline)
    snow = land & ~below_snow
    below_ice = _quantile_split(height, land, max(c.snowline - c.glacier_band, 0.0))
    ice = below_snow & ~below_ice
    ground = below_ice
    variety = fractal_noise(rng, shape, 2.4)
    old = _quantile_split(variety, snow, c.old_snow_fraction)
    out[snow] = idx["fresh_snow"]
    out[old] = idx["old_snow"]
    blue = _quantile_split(variety, ice, c.blue_ice_fraction)
    out[ice] = idx["glacier_ice"]
    out[blue] = idx["blue_ice"]
    veg = _quantile_split(fractal_noise(rng, shape, 2.8), ground, c.vegetation_fraction)
    out[veg] = idx["tundra"]
    share = LANDSCAPES[c.landscape]
    if share > 0:  # no draws for "polar": polar scenes stay bit-identical
        temperate = _quantile_split(height, ground, share)
        painted = temperate_map(rng, shape, c)
        out[temperate] = painted[temperate]
    return out


def field_parcels(rng: np.random.Generator, shape: tuple[int, int],
                  mean_px: float) -> np.ndarray:
    """int64 (H, W) parcel ids: rectangular fields in strips, all rotated by one random angle.

    Strips are 0.5-1.5 ``mean_px`` wide; each strip is cut into parcels 1-3 ``mean_px`` long at
    its own offsets (a cadastral patchwork, not a regular grid).
    """
    h, w = shape
    angle = rng.uniform(0.0, np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    span = float(np.hypot(h, w))
    n_strips = int(np.ceil(2.0 * span / mean_px)) + 2
    n_cells = int(np.ceil(span / mean_px)) + 2
    v_edges = v.min() + np.cumsum(rng.uniform(0.5, 1.5, n_strips) * mean_px)
    u_edges = (u.min() - rng.uniform(0.0, 3.0 * mean_px, (n_strips + 1, 1))
               + np.cumsum(rng.uniform(1.0, 3.0, (n_strips + 1, n_cells)) * mean_px, axis=1))
    strip = np.searchsorted(v_edges, v)
    cell = np.zeros(shape, np.int64)
    for k in np.unique(strip):
        sel = strip == k
        cell[sel] = np.searchsorted(u_edges[k], u[sel])
    return strip * (n_cells + 1) + cell


def temperate_map(rng: np.random.Generator, shape: tuple[int, int],
                  c: SynthConfig) -> np.ndarray:
    """uint8 (H, W) surface index of a temperate landscape over the whole scene.

    Field parcels (:func:`field_parcels`) each carry one of :data:`FIELD_SURFACES` drawn with
    ``c.field_mix``; smooth fractal blobs become forest (``forest_fraction`` of the scene), and
    compact blobs outside the forest become settlements (``urban_fraction``). The caller keeps
    the part it wants (the lowest snow-free ground).
    """
    idx = {s: i for i, s in enumerate(SURFACES)}
    parcels = field_parcels(rng, shape, c.field_size_px)
    weights = np.asarray(c.field_mix, float) / sum(c.field_mix)
    kind = rng.choice(len(FIELD_SURFACES), size=int(parcels.max()) + 1, p=weights)
    lut = np.array([idx[s] for s in FIELD_SURFACES], np.uint8)
    out = lut[kind[parcels]]
    everywhere = np.ones(shape, bool)
    forest = _quantile_split(-fractal_noise(rng, shape, 3.0), everywhere, c.forest_fraction)
    out[forest] = idx["forest"]
    town = _quantile_split(-fractal_noise(rng, shape, 3.6), ~forest,
                           c.urban_fraction / max(1.0 - c.forest_fraction, 1e-6))
    out[town] = idx["urban"]
    return out


def surface_reflectance(rng: np.random.Generator, surface: np.ndarray) -> np.ndarray:
    """float32 (13, H, W) flat-ground TOA reflectance of each pixel's surface.

    Within-class variation is log-normal with the table's mean and std per band (reflectance
    stays positive; the measured SWIR of snow and ice is strongly skewed). Its normal deviate
    ``z`` is a smooth field shared by all bands (brightness: grain size, wetness, impurities)
    plus a weaker independent per-band part, so class clusters overlap as real ones do.
    """
    h, w = surface.shape
    out = np.zeros((len(S2_BANDS), h, w), np.float32)
    common = np.clip(fractal_noise(rng, (h, w), 2.0), -2.5, 2.5)
    for i, name in enumerate(SURFACES):
        sel = surface == i
        if not sel.any():
            continue
        sp = spectrum(name)
        n = int(sel.sum())
        z = common[sel][None, :] * 0.9 + rng.standard_normal((len(S2_BANDS), n)) * 0.3
        z /= np.hypot(0.9, 0.3)  # unit variance
        s_log = np.sqrt(np.log1p((sp.std / np.maximum(sp.mean, 1e-6)) ** 2))[:, None]
        out[:, sel] = sp.mean[:, None] * np.exp(s_log * z - 0.5 * s_log ** 2)
    return out


def view_zenith_at(c: SynthConfig, col: np.ndarray) -> np.ndarray:
    """View zenith (degrees) at pixel-centre column ``col`` (may lie outside the scene).

    tan(vz) is linear across the swath (a pushbroom at height h sees ground distance x at
    tan(vz) = x / h), from ``view_zenith_near`` at column 0 to ``view_zenith_far`` at the last
    column; the reader interpolates the MTD_TL grids as parallax vectors tan(vz) (sin, cos)
    of the view azimuth, so it gets these values back exactly.
    """
    t0, t1 = np.tan(np.deg2rad([c.view_zenith_near, c.view_zenith_far]))
    return np.rad2deg(np.arctan(t0 + (t1 - t0) * np.asarray(col, np.float64) / (c.size - 1)))


def _view_zenith(c: SynthConfig) -> np.ndarray:
    cols = view_zenith_at(c, np.arange(c.size)).astype(np.float32)
    return np.broadcast_to(cols[None, :], (c.size, c.size)).copy()


def _clouds(rng: np.random.Generator, c: SynthConfig,
            view_zenith: np.ndarray) -> tuple[list[CloudObject], np.ndarray]:
    """Add clouds until the labelled cloud share reaches ``cloud_cover`` (at most 400).

    Cloud bodies are sized for 510 px scenes and shrink proportionally in smaller ones.
    """
    shape = (c.size, c.size)
    tau = np.zeros(shape, np.float32)
    clouds: list[CloudObject] = []
    weights = np.asarray(c.cloud_mix, float) / sum(c.cloud_mix)
    label = label_tau(c.cloud_tau, c.cloud_model)
    while c.cloud_cover > 0 and (tau > label).mean() < c.cloud_cover and len(clouds) < 400:
        kind = CLOUD_TYPES[int(rng.choice(len(CLOUD_TYPES), p=weights))]
        cloud = make_cloud(rng, kind, shape, c.sun_zenith, c.sun_azimuth, view_zenith,
                           c.view_azimuth, c.resolution, scale=min(1.0, c.size / 510),
                           model=c.cloud_model)
        clouds.append(cloud)
        paste_add(tau, cloud.tau, cloud.row0, cloud.col0)
    clouds.sort(key=lambda cl: cl.height_m)
    return clouds, tau


def _wedge(c: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """bool (H, W) valid mask: a slanted swath edge, aligned to the 60 m grid."""
    n = c.size // 3
    valid60 = np.ones((n, n), bool)
    if c.nodata_wedge and c.wedge_fraction > 0:
        r, col = np.mgrid[0:n, 0:n]
        # Triangle between the edge line and the left border holds wedge_fraction of the area.
        valid60 = col >= 2.0 * c.wedge_fraction * n * (1.0 - r / n)
        if rng.random() < 0.5:
            valid60 = valid60[:, ::-1]
    return np.repeat(np.repeat(valid60, 3, axis=0), 3, axis=1)


def generate(config: SynthConfig | None = None) -> SyntheticScene:
    """Generate one synthetic scene (see the module docstring for the steps)."""
    c = config if config is not None else SynthConfig()
    rng = np.random.default_rng(c.seed)
    shape = (c.size, c.size)
    # Relief is set for a 510 px (~10 km) scene; a smaller scene is a smaller piece of it.
    dem = make_dem(rng, shape, c.base_elevation_m, c.relief_m * min(1.0, c.size / 510))
    surface = surface_map(rng, dem, c)
    flat_water = np.isin(surface, [SURFACES.index(s) for s in ("open_water", "turbid_meltwater",
                                                                 "sea_ice", "lead")])
    if flat_water.any():
        dem = np.where(flat_water, dem[flat_water].max(), dem).astype(np.float32)
    refl = surface_reflectance(rng, surface)
    illum = illumination(dem, c.resolution, c.sun_zenith, c.sun_azimuth)
    view_zenith = _view_zenith(c)
    clouds, cloud_tau = _clouds(rng, c, view_zenith)
    shadow_tau = np.zeros(shape, np.float32)
    for cloud in clouds:
        cast_shadow(shadow_tau, cloud)
    # Direct beam: terrain factor x cloud transmission (exp(-tau), or the two-stream diffuse
    # transmission); the diffuse share stays in shade.
    direct = illum * transmission(shadow_tau, c.cloud_model)
    s = shadow_ratio()[:, None, None]
    refl *= s + (1.0 - s) * direct[None]
    for cloud in clouds:  # lowest first, so higher clouds cover lower ones
        sp = spectrum(cloud.kind)
        a = opacity(cloud.tau, c.cloud_model)[None]
        cloud_refl = sp.mean[:, None, None] + sp.std[:, None, None] * np.clip(
            cloud.brightness, -2.5, 2.5)[None]
        _blend(refl, np.clip(cloud_refl, 0.0, None), a, cloud.row0, cloud.col0)
    # Shot noise grows with the square root of the signal, plus a floor: dark bands (B10 over
    # snow ~0.001) stay positive instead of drowning in a constant noise.
    sigma = np.sqrt(c.noise_floor ** 2 + c.noise_std ** 2 * np.clip(refl, 0.0, None) / 0.1)
    refl += rng.standard_normal(refl.shape, dtype=np.float32) * sigma.astype(np.float32)
    np.clip(refl, 0.0, 6.0, out=refl)  # reflectance >= 0 (DN >= 1000) in the synthetic data
    valid = _wedge(c, rng)
    refl[:, ~valid] = 0.0
    visible = refl[[_B["B02"], _B["B03"], _B["B04"]]]
    saturated = (c.saturation & (visible > c.saturation_reflectance).any(axis=0)) & valid

    truth = np.asarray(SURFACE_CLASS_LUT[surface], np.uint8)
    label = label_tau(c.cloud_tau, c.cloud_model)  # the same visible share for both models
    truth[shadow_tau > label] = SHADOW
    truth[cloud_tau > label] = CLOUD
    truth[~valid] = NODATA
    return SyntheticScene(refl.astype(np.float32), truth, surface, dem, illum, cloud_tau,
                          shadow_tau, saturated, valid, view_zenith, tuple(clouds), c)


def _blend(refl: np.ndarray, cloud_refl: np.ndarray, a: np.ndarray, row0: int, col0: int) -> None:
    """In place: ``refl = a * cloud + (1 - a) * refl`` over the cloud window (clipped)."""
    sl = _overlap(row0, col0, *a.shape[1:], refl.shape[1:])
    if sl is None:
        return
    (rows, cols), (wrows, wcols) = sl
    tgt = refl[:, rows, cols]
    tgt *= 1.0 - a[:, wrows, wcols]
    tgt += a[:, wrows, wcols] * cloud_refl[:, wrows, wcols]
