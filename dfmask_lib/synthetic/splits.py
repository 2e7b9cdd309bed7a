"""Synthetic TRAIN / VALIDATION / TEST splits in the paper's layout, one location per scene.

Each scene gets its own polar or high-mountain location (own UTM zone/EPSG and MGRS tile id
computed from its coordinates), a summer sensing date in the paper's period (Oct 2019 -
Jan 2021) with the sun position of a 10:30 local-time Sentinel-2 overpass, and a setting that
fixes its surface mix (sea ice, blue ice, tundra, high relief ...). No location, hence no tile,
is shared between splits (as in Nambiar et al. 2022).

Defaults (:data:`DEFAULT_SPLITS`): 16 train, 4 validation, 4 test scenes of 504 x 504 px at
20 m (~10 km, divisible by 6): enough variety for a meaningful book, written in about a
minute on 2 cores.

Opt-in ``temperate_share`` (``dfmask synth --temperate-share``): that share of each split's
scenes (rounded, the first ones of the split) is a temperate or mixed landscape at one of
:data:`TEMPERATE_LOCATIONS` (farmland, forest, settlements; see ``SynthConfig.landscape``)
instead of a polar one. 0 (the default) gives exactly the polar splits.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from rasterio.warp import transform as warp_transform
from tqdm.auto import tqdm

from ..atomic import atomic_dir
from ..config import load_config, save_config
from ..errors import ConfigError
from .safe_writer import ProductInfo, write_safe
from .clouds import CLOUD_MODELS
from .scene import MIN_SIZE, SynthConfig, generate
from ..progress import disable_bar

__all__ = ["SplitsConfig", "DEFAULT_SPLITS", "Location", "LOCATIONS", "TEMPERATE_LOCATIONS",
           "SETTINGS", "SPLITS",
           "mgrs_tile", "sun_position", "scene_plan", "write_splits", "ensure_splits",
           "find_products"]

SPLITS: tuple[str, ...] = ("TRAIN", "VALIDATION", "TEST")
#: Version of the generator's output (spectra, scene model, writer).
GENERATOR_VERSION = 2  # 2: two-stream clouds in the temperate settings
CONFIG_NAME = "synth_splits.json"


@dataclass(frozen=True)
class SplitsConfig:
    """What ``dfmask synth`` was asked for; saved as ``synth_splits.json`` in OUTDIR."""

    n_train: int = 16   # the paper had 92 train products; 16 keep CPU training in reach
    n_val: int = 4      # model selection scenes (the paper: 20 human-labelled)
    n_test: int = 4     # held-out scenes for the scores (the paper: 23)
    size: int = 504     # 20 m px per side: ~10 km, divisible by 6, and cut by make-data into
    #                     2 x 2 254 px windows (starts 0, 250) with little overlap; 510 would give
    #                     3 x 3 windows of which 5 nearly repeat others (starts 0, 254, 256)
    seed: int = 0       # every scene's seed derives from it
    version: int = GENERATOR_VERSION  # bumped when the generator's output changes: stale sets
    #                                   are rewritten by ensure_splits
    temperate_share: float = 0.0  # share of each split's scenes that are temperate/mixed
    #                               landscapes (cloud over vegetation); 0 = the paper's polar set
    cloud_model: str | None = None  # None: each setting's own (polar "beer_lambert", temperate
    #                                 "two_stream"); else that model for every scene

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be >= 0, "
                                  f"got {getattr(self, name)}")
        total = self.n_train + self.n_val + self.n_test
        if total == 0:
            raise ConfigError("ask for at least one scene (--n-train/--n-val/--n-test)")
        if total > len(LOCATIONS):
            raise ConfigError(f"{total} scenes asked but only {len(LOCATIONS)} distinct "
                              "locations exist (no location may repeat); ask for fewer")
        if self.size < MIN_SIZE or self.size % 6:
            raise ConfigError(f"size must be a multiple of 6 and at least {MIN_SIZE} px "
                              f"(10/20/60 m grids must align), got {self.size}")
        if self.cloud_model is not None and self.cloud_model not in CLOUD_MODELS:
            raise ConfigError(f"cloud_model (--cloud-model) must be one of {CLOUD_MODELS}, got "
                              f"{self.cloud_model!r}")
        if not 0.0 <= self.temperate_share <= 1.0:
            raise ConfigError("temperate_share (--temperate-share) must be in [0, 1], got "
                              f"{self.temperate_share}")
        n_temperate = sum(_n_temperate(n, self.temperate_share)
                          for n in (self.n_train, self.n_val, self.n_test))
        if n_temperate > len(TEMPERATE_LOCATIONS):
            raise ConfigError(f"{n_temperate} temperate scenes asked but only "
                              f"{len(TEMPERATE_LOCATIONS)} temperate locations exist; lower "
                              "--temperate-share or the counts")


def _n_temperate(n: int, share: float) -> int:
    """Temperate scenes among ``n`` of a split (rounded half up, so 0.5 of 1 is 1)."""
    return int(np.floor(n * share + 0.5))


@dataclass(frozen=True)
class Location:
    """A place a synthetic scene pretends to be: name, centre (degrees) and setting."""

    name: str
    lat: float
    lon: float
    setting: str


#: Surface-mix settings: SynthConfig overrides per kind of landscape.
SETTINGS: dict[str, dict[str, object]] = {
    "antarctic_coast": dict(sea_ice=True, water_level=0.25, blue_ice_fraction=0.3,
                            vegetation_fraction=0.0, snowline=0.3, relief_m=1200.0,
                            base_elevation_m=0.0),
    "antarctic_blue_ice": dict(water_level=0.03, blue_ice_fraction=0.6, vegetation_fraction=0.0,
                               snowline=0.45, glacier_band=0.25, relief_m=800.0,
                               base_elevation_m=1500.0),
    "greenland_margin": dict(water_level=0.12, turbid_fraction=0.6, vegetation_fraction=0.3,
                             snowline=0.5, relief_m=1200.0, base_elevation_m=0.0),
    "arctic_island": dict(sea_ice=True, water_level=0.2, vegetation_fraction=0.3, snowline=0.5,
                          relief_m=900.0, base_elevation_m=0.0),
    "alpine": dict(water_level=0.05, vegetation_fraction=0.45, snowline=0.55, relief_m=2500.0,
                   base_elevation_m=1000.0),
    "high_mountain": dict(water_level=0.04, vegetation_fraction=0.15, snowline=0.5,
                          relief_m=3500.0, base_elevation_m=3500.0),
    "patagonia": dict(water_level=0.15, turbid_fraction=0.7, vegetation_fraction=0.4,
                      snowline=0.45, relief_m=2000.0, base_elevation_m=200.0),
    "tundra": dict(water_level=0.15, vegetation_fraction=0.6, snowline=0.65, relief_m=700.0,
                   base_elevation_m=200.0),
    # Temperate settings (only with SplitsConfig.temperate_share > 0): farmland plains without
    # snow, and farmed valleys below tundra, rock and a little summer snow on the peaks. Their
    # clouds follow the two-stream model (clouds.CLOUD_MODELS): thick cloud over vegetation
    # keeps the red edge, as real cloud does (issue 11).
    "temperate_lowland": dict(landscape="temperate", water_level=0.04, turbid_fraction=0.5,
                              vegetation_fraction=0.3, snowline=1.0, glacier_band=0.0,
                              relief_m=300.0, base_elevation_m=100.0, cloud_model="two_stream"),
    "temperate_mountain": dict(landscape="mixed", water_level=0.04, turbid_fraction=0.5,
                               vegetation_fraction=0.4, snowline=0.85, glacier_band=0.04,
                               relief_m=1800.0, base_elevation_m=400.0,
                               cloud_model="two_stream"),
}

#: Regions of the paper's scene lists (Antarctica, Greenland, Canadian Arctic, Alaska/Yukon,
#: Russian Arctic, Lapland, Norway, Patagonia, Andes, Tibet) and other glacierised ranges.
LOCATIONS: tuple[Location, ...] = (
    Location("Antarctic Peninsula, Graham Land", -64.8, -62.9, "antarctic_coast"),
    Location("Antarctica, McMurdo Dry Valleys", -77.6, 162.5, "antarctic_blue_ice"),
    Location("Antarctica, Dronning Maud Land blue ice", -71.9, 23.3, "antarctic_blue_ice"),
    Location("Antarctica, Amundsen Sea coast", -74.9, -100.5, "antarctic_coast"),
    Location("Antarctica, Adelie Land coast", -66.7, 140.0, "antarctic_coast"),
    Location("Antarctica, Prince Charles Mountains", -73.5, 66.0, "antarctic_blue_ice"),
    Location("Greenland, Kangerlussuaq margin", 67.1, -50.0, "greenland_margin"),
    Location("Greenland, Jakobshavn", 69.2, -49.5, "greenland_margin"),
    Location("Greenland, Scoresby Sund", 70.5, -24.0, "arctic_island"),
    Location("Greenland, Tasiilaq", 65.7, -37.5, "greenland_margin"),
    Location("Svalbard, Kongsfjorden", 78.9, 12.0, "arctic_island"),
    Location("Svalbard, Austfonna", 79.7, 24.5, "arctic_island"),
    Location("Canadian Arctic, Ellesmere Island", 79.5, -80.0, "arctic_island"),
    Location("Canadian Arctic, Baffin Island", 70.0, -70.0, "arctic_island"),
    Location("Alaska, Gulkana Glacier", 63.3, -145.4, "alpine"),
    Location("Yukon, St. Elias Mountains", 60.7, -139.7, "alpine"),
    Location("Russian Arctic, Novaya Zemlya", 75.5, 60.0, "arctic_island"),
    Location("Russian Arctic, Severnaya Zemlya", 79.2, 97.0, "arctic_island"),
    Location("Lapland, Abisko", 68.3, 18.8, "tundra"),
    Location("Norway, Jostedalsbreen", 61.7, 7.0, "alpine"),
    Location("Iceland, Vatnajokull", 64.4, -16.8, "greenland_margin"),
    Location("Alps, Aletsch Glacier", 46.5, 8.0, "alpine"),
    Location("Alps, Mont Blanc", 45.9, 6.9, "alpine"),
    Location("Caucasus, Elbrus", 43.35, 42.4, "alpine"),
    Location("Patagonia, Southern Icefield", -49.3, -73.3, "patagonia"),
    Location("Patagonia, Northern Icefield", -46.9, -73.5, "patagonia"),
    Location("Andes, Cordillera Blanca", -9.1, -77.6, "high_mountain"),
    Location("Andes, Aconcagua", -32.65, -70.0, "high_mountain"),
    Location("Himalaya, Khumbu", 27.95, 86.8, "high_mountain"),
    Location("Karakoram, Baltoro", 35.75, 76.4, "high_mountain"),
    Location("Tibet, Nyainqentanglha", 30.4, 90.6, "high_mountain"),
    Location("Pamir, Fedchenko Glacier", 38.8, 72.2, "high_mountain"),
    Location("New Zealand, Southern Alps", -43.5, 170.2, "alpine"),
)

#: Farmland / forest places for the opt-in temperate scenes (none near a tile of LOCATIONS or of
#: the real data scored as held-out).
TEMPERATE_LOCATIONS: tuple[Location, ...] = (
    Location("France, Beauce", 48.3, 1.6, "temperate_lowland"),
    Location("Germany, Magdeburger Boerde", 52.0, 11.3, "temperate_lowland"),
    Location("Poland, Masovia", 52.2, 20.5, "temperate_lowland"),
    Location("Hungary, Great Plain", 47.0, 20.5, "temperate_lowland"),
    Location("Italy, Piedmont plain", 45.0, 8.6, "temperate_lowland"),
    Location("Denmark, Jutland", 56.2, 9.3, "temperate_lowland"),
    Location("Ukraine, Poltava", 49.6, 34.5, "temperate_lowland"),
    Location("Canada, Alberta foothills", 51.2, -114.8, "temperate_mountain"),
    Location("Norway, Valdres", 61.0, 9.2, "temperate_mountain"),
    Location("Slovakia, Tatra foothills", 49.1, 20.1, "temperate_mountain"),
    Location("Romania, Carpathian foothills", 45.6, 25.0, "temperate_mountain"),
    Location("Chile, Lake District", -40.5, -72.8, "temperate_mountain"),
    Location("Japan, Nagano", 36.3, 138.0, "temperate_mountain"),
    Location("New Zealand, Canterbury Plains", -43.6, 172.0, "temperate_lowland"),
)

DEFAULT_SPLITS = SplitsConfig()

_LAT_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_COL_SETS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"


def utm_epsg(lat: float, lon: float) -> int:
    """EPSG code of the UTM zone of a point (326zz north, 327zz south)."""
    zone = int((lon + 180.0) // 6.0) + 1
    return (32600 if lat >= 0 else 32700) + zone


def mgrs_tile(lat: float, lon: float, easting: float, northing: float) -> str:
    """MGRS grid-zone + 100 km square id (e.g. ``"32TMS"``) of a UTM point (WGS84 lettering)."""
    if not -80.0 <= lat <= 84.0:
        raise ConfigError(f"latitude {lat} is outside the UTM/MGRS range [-80, 84]")
    zone = int((lon + 180.0) // 6.0) + 1
    band = _LAT_BANDS[min(int((lat + 80.0) // 8.0), len(_LAT_BANDS) - 1)]
    col = _COL_SETS[(zone - 1) % 3][int(easting // 100000) - 1]
    row = _ROW_LETTERS[(int(northing // 100000) + (5 if zone % 2 == 0 else 0)) % 20]
    return f"{zone:02d}{band}{col}{row}"


def sun_position(lat: float, day_of_year: int, local_solar_hour: float = 10.5) -> tuple[float, float]:
    """Sun (zenith, azimuth) in degrees for a latitude, day and local solar time.

    Declination by Cooper (1969, Solar Energy 12:333); standard spherical astronomy for
    zenith and azimuth (clockwise from north). Sentinel-2 crosses the equator at 10:30
    local solar time (descending node).
    """
    decl = np.deg2rad(-23.44 * np.cos(2 * np.pi * (day_of_year + 10) / 365.0))
    phi = np.deg2rad(lat)
    hour = np.deg2rad(15.0 * (local_solar_hour - 12.0))
    cos_z = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour)
    zen = np.arccos(np.clip(cos_z, -1, 1))
    sin_az = -np.cos(decl) * np.sin(hour) / np.sin(zen)
    cos_az = (np.sin(decl) - np.sin(phi) * cos_z) / (np.cos(phi) * np.sin(zen))
    az = np.rad2deg(np.arctan2(sin_az, cos_az)) % 360.0
    return float(np.rad2deg(zen)), float(az)


def _sensing_date(rng: np.random.Generator, lat: float) -> datetime:
    """A summer date within Oct 2019 - Jan 2021 (the paper's period), local summer solstice
    +- 45 days so polar sun stays above ~12 degrees."""
    if lat >= 0:
        centre = datetime(2020, 6, 21)
    else:
        centre = datetime(2019, 12, 21) if rng.random() < 0.5 else datetime(2020, 12, 21)
    date = centre + timedelta(days=int(rng.integers(-45, 46)))
    return min(max(date, datetime(2019, 10, 1)), datetime(2021, 1, 31))


def scene_plan(cfg: SplitsConfig) -> dict[str, list[tuple[SynthConfig, ProductInfo]]]:
    """The (SynthConfig, ProductInfo) of every scene of every split, without writing anything.

    Locations are shuffled with ``cfg.seed`` and dealt to TRAIN, VALIDATION, TEST in turn, so
    no location or tile appears in two splits. With ``cfg.temperate_share`` > 0 the first
    scenes of each split take a temperate location instead (shuffled with their own stream);
    every other scene keeps the location, seed and settings it has without them.
    """
    rng = np.random.default_rng([cfg.seed, 4])
    order = rng.permutation(len(LOCATIONS))
    temperate_order = (np.random.default_rng([cfg.seed, 6]).permutation(len(TEMPERATE_LOCATIONS))
                       if cfg.temperate_share > 0 else np.zeros(0, int))
    t = 0
    counts = {"TRAIN": cfg.n_train, "VALIDATION": cfg.n_val, "TEST": cfg.n_test}
    plan: dict[str, list[tuple[SynthConfig, ProductInfo]]] = {s: [] for s in SPLITS}
    tiles: set[str] = set()
    k = 0
    for split in SPLITS:
        n_temperate = _n_temperate(counts[split], cfg.temperate_share)
        for j in range(counts[split]):
            loc = LOCATIONS[int(order[k])]
            if j < n_temperate:
                loc = TEMPERATE_LOCATIONS[int(temperate_order[t])]
                t += 1
            srng = np.random.default_rng([cfg.seed, 5, k])
            synth, info = _scene(loc, cfg, srng, index=k)
            if info.tile_id in tiles:
                raise ConfigError(f"two locations map to tile {info.tile_id}; fix LOCATIONS")
            tiles.add(info.tile_id)
            plan[split].append((synth, info))
            k += 1
    return plan


def _scene(loc: Location, cfg: SplitsConfig, rng: np.random.Generator,
           index: int) -> tuple[SynthConfig, ProductInfo]:
    date = _sensing_date(rng, loc.lat)
    sun_zenith, sun_azimuth = sun_position(loc.lat, date.timetuple().tm_yday)
    utc = date + timedelta(hours=10.5 - loc.lon / 15.0, seconds=int(rng.integers(0, 60)))
    epsg = utm_epsg(loc.lat, loc.lon)
    xs, ys = warp_transform("EPSG:4326", f"EPSG:{epsg}", [loc.lon], [loc.lat])
    half = cfg.size * 20.0 / 2.0
    ulx = math.floor((xs[0] - half) / 60.0) * 60.0
    uly = math.ceil((ys[0] + half) / 60.0) * 60.0
    near = float(rng.uniform(0.5, 6.0))
    mix = rng.dirichlet([2.0, 1.0, 1.5, 1.2])
    setting = dict(SETTINGS[loc.setting])
    if cfg.cloud_model is not None:
        setting["cloud_model"] = cfg.cloud_model
    synth = replace(
        SynthConfig(size=cfg.size, seed=int(np.random.SeedSequence([cfg.seed, index]).generate_state(1)[0])),
        **setting,
        cloud_cover=float(rng.uniform(0.1, 0.5)),
        cloud_mix=tuple(round(float(m), 4) for m in mix),
        sun_zenith=round(sun_zenith, 3), sun_azimuth=round(sun_azimuth, 3),
        view_zenith_near=round(near, 3), view_zenith_far=round(near + float(rng.uniform(2, 5)), 3),
        view_azimuth=round(float(rng.choice([105.0, 285.0])) + float(rng.uniform(-5, 5)), 3),
        nodata_wedge=bool(rng.random() < 0.5),
        wedge_fraction=round(float(rng.uniform(0.03, 0.15)), 3),
    )
    info = ProductInfo(
        tile_id=mgrs_tile(loc.lat, loc.lon, xs[0], ys[0]), epsg=epsg, ulx=ulx, uly=uly,
        sensing_time=utc.replace(microsecond=0).isoformat(),
        relative_orbit=int(rng.integers(1, 144)),
        absolute_orbit=int((utc - datetime(2017, 3, 7)).days * 14.3) + 1,
        location=loc.name,
    )
    return synth, info


def write_splits(outdir: str | os.PathLike, n_train: int = DEFAULT_SPLITS.n_train,
                 n_val: int = DEFAULT_SPLITS.n_val, n_test: int = DEFAULT_SPLITS.n_test,
                 size: int = DEFAULT_SPLITS.size, seed: int = DEFAULT_SPLITS.seed,
                 overwrite: bool = False, progress: bool = True,
                 temperate_share: float = DEFAULT_SPLITS.temperate_share,
                 cloud_model: str | None = None) -> dict[str, list[Path]]:
    """Generate and write all splits as L1C SAFE products under ``outdir/{TRAIN,VALIDATION,TEST}``.

    The whole OUTDIR is written atomically; ``synth_splits.json`` records the request and each
    product holds ``dfmask_synth.json`` with its scene config.

    Returns:
        split name -> list of ``.SAFE`` paths.

    ``temperate_share`` makes that share of each split temperate/mixed (see the module doc);
    ``cloud_model`` forces one of :data:`~.clouds.CLOUD_MODELS` on every scene.

    Raises:
        ConfigError: impossible counts or size, or a non-empty ``outdir`` without ``overwrite``.
    """
    cfg = SplitsConfig(n_train, n_val, n_test, size, seed, temperate_share=temperate_share,
                       cloud_model=cloud_model)
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"{outdir} is a file; give a folder for the synthetic scenes")
    if outdir.exists() and any(outdir.iterdir()) and not overwrite:
        raise ConfigError(f"{outdir} is not empty; pass --overwrite (overwrite=True) to replace it")
    plan = scene_plan(cfg)
    jobs = [(split, synth, info) for split in SPLITS for synth, info in plan[split]]
    out: dict[str, list[Path]] = {s: [] for s in SPLITS}
    with atomic_dir(outdir, overwrite=True) as tmp:
        for split in SPLITS:
            (tmp / split).mkdir()
        for split, synth, info in tqdm(jobs, desc="synthetic scenes", unit="scene",
                                       disable=disable_bar(progress)):
            path = write_safe(generate(synth), info, tmp / split)
            out[split].append(outdir / split / path.name)
        save_config(cfg, tmp / CONFIG_NAME)
    return out


def find_products(outdir: str | os.PathLike) -> dict[str, list[Path]]:
    """The ``.SAFE`` products already in ``outdir``, per split (sorted by name)."""
    outdir = Path(outdir)
    return {s: sorted((outdir / s).glob("*.SAFE")) for s in SPLITS}


def ensure_splits(outdir: str | os.PathLike, n_train: int = DEFAULT_SPLITS.n_train,
                  n_val: int = DEFAULT_SPLITS.n_val, n_test: int = DEFAULT_SPLITS.n_test,
                  size: int = DEFAULT_SPLITS.size, seed: int = DEFAULT_SPLITS.seed,
                  progress: bool = True,
                  temperate_share: float = DEFAULT_SPLITS.temperate_share,
                  cloud_model: str | None = None) -> dict[str, list[Path]]:
    """Reuse the splits in ``outdir`` if they were made with the same request, else (re)write."""
    cfg = SplitsConfig(n_train, n_val, n_test, size, seed, temperate_share=temperate_share,
                       cloud_model=cloud_model)
    saved = Path(outdir) / CONFIG_NAME
    if saved.exists():
        try:
            same = load_config(SplitsConfig, saved) == cfg
        except (ConfigError, TypeError):
            same = False
        found = find_products(outdir)
        if same and [len(found[s]) for s in SPLITS] == [n_train, n_val, n_test]:
            return found
    elif Path(outdir).exists() and any(Path(outdir).iterdir()):
        raise ConfigError(f"{outdir} holds files but no {CONFIG_NAME}; not replacing them")
    return write_splits(outdir, n_train, n_val, n_test, size, seed, overwrite=True,
                        progress=progress, temperate_share=temperate_share,
                        cloud_model=cloud_model)

