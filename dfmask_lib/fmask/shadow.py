"""Steps 10-11: potential cloud shadow (flood fill) and cloud-shadow matching.

Qiu, Zhu & He 2019 (Q19, RSE 231:111205) sect. 2.3 and Zhu & Woodcock 2012 (ZW12,
RSE 118:83-94) sect. 3.2. The geometry is :func:`dfmask_lib.geometry.shadow_offset`,
the same function the synthetic generator casts its shadows with, so matching
inverts it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import reconstruction
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..geometry import shadow_offset
from ._util import check_arrays, check_masks, masked_percentile
from .commission import EIGHT
from .config import FmaskConfig
from ..progress import disable_bar

__all__ = ["flood_fill", "fill_factor", "block_minima", "raise_to_fill", "shadow_background",
           "shadow_depth", "potential_shadow", "ShadowMatch", "match_shadows", "match_objects",
           "match_state", "mean_view_direction"]

# Codes of the lookup map used while matching.
_CLEAR, _SHADOW, _CLOUD, _OUTSIDE = 0, 1, 2, 3


def flood_fill(image: np.ndarray, max_pixels: int = 0) -> np.ndarray:
    """Fill the dark "holes" of ``image`` (grey-level imfill) by reconstruction by erosion.

    Each pixel becomes the lowest level at which it connects to the image border,
    so pits (shadows) rise to their rim while open terrain is unchanged: the fill at
    p is the minimum, over 8-connected paths from p to a border pixel, of the
    highest pixel on the path.

    Args:
        image: float32 (H, W).
        max_pixels: if > 0 and the image is larger, a conservative approximation on
            blocks of factor x factor pixels, ``factor = ceil(sqrt(H * W / max_pixels))``
            (3 for a 20 m tile at the default 4 Mpx). A deviation from Fmask for speed:
            the reconstruction is O(N log N), about 35 s per 20 m tile band on 2 cores
            at full size. The approximation never exceeds the full-resolution fill, so
            it can miss a little shadow but never adds any (see below).

    Returns:
        float32 (H, W), >= ``image``; without blocks the exact fill, with blocks a
        lower bound of it (every value is a pixel value of ``image``).

    Why the block fill is a lower bound: the fill is increasing in the image (a
    darker image has no higher path maxima). The image of block minima, expanded
    back by repetition, is <= ``image`` everywhere, so its fill is <= the exact
    fill. That fill equals the fill of the coarse grid of block minima expanded
    back: a block image is constant per block, full-resolution 8-connected paths
    visit 8-connected chains of blocks and every such chain can be walked at full
    resolution, and the blocks holding a full-resolution border pixel are exactly
    the coarse border blocks. Partial blocks at the bottom and right edges are
    padded with copies of their own last row/column, so their minimum is over real
    pixels only. The result is then raised to ``image`` (the exact fill is >= it too).
    A block mean instead of the minimum would put textured ground below its block
    mean into potential shadow that the exact fill does not find.
    """
    h, w = check_arrays("flood_fill", image=image)
    image = image.astype(np.float32, copy=False)
    factor = fill_factor(h, w, max_pixels)
    if factor > 1:
        filled = flood_fill(block_minima(image, factor))
        return raise_to_fill(image, filled, factor)
    if min(h, w) < 3:
        return image.copy()  # every pixel is on the border
    seed = np.full_like(image, image.max())
    border = np.zeros(image.shape, dtype=bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    seed[border] = image[border]  # the fill starts from the image border
    # skimage's default footprint is the full 3 x 3 square: 8-connected paths.
    return reconstruction(seed, image, method="erosion").astype(np.float32)


def fill_factor(height: int, width: int, max_pixels: int) -> int:
    """The block size of :func:`flood_fill`'s approximation: ceil(sqrt(H x W / max_pixels)),
    1 (exact) when the image has at most ``max_pixels`` pixels or ``max_pixels`` is 0."""
    if max_pixels and height * width > max_pixels:
        return int(np.ceil(np.sqrt(height * width / max_pixels)))
    return 1


def block_minima(rows: np.ndarray, factor: int) -> np.ndarray:
    """Minima of ``factor`` x ``factor`` blocks of float32 rows (H, W); a partial last block
    row or column is padded with copies of its own last row or column. Rows of an image in
    strips of a multiple of ``factor`` rows give the image's block minima strip by strip."""
    h, w = rows.shape
    padded = np.pad(rows, ((0, -h % factor), (0, -w % factor)), mode="edge")
    return padded.reshape(padded.shape[0] // factor, factor,
                          padded.shape[1] // factor, factor).min(axis=(1, 3))


def raise_to_fill(rows: np.ndarray, filled: np.ndarray, factor: int) -> np.ndarray:
    """max(block fill expanded back, rows): the block approximation's fill of these rows, from
    the fill of their blocks (``filled``, one row per ``factor`` rows). float32."""
    h, w = rows.shape
    big = np.repeat(np.repeat(filled, factor, axis=0), factor, axis=1)[:h, :w]
    return np.maximum(big, rows)


def shadow_background(band: np.ndarray, obs: np.ndarray, background: float) -> np.ndarray:
    """The band with no-data pixels set to the clear-land ``background`` percentile (ZW12;
    0 when NaN: nothing clear), so the image edge neither creates nor hides shadows."""
    return np.where(obs, band, np.float32(0 if np.isnan(background) else background))


def shadow_depth(depths: list[np.ndarray], obs: np.ndarray,
                 config: FmaskConfig = FmaskConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(potential shadow, depth) from the NIR and SWIR1 fill depths (fill - band): the depth
    is their minimum, and the potential shadow where it exceeds ``shadow_fill_difference``."""
    depth = np.minimum(depths[0], depths[1]).astype(np.float32)
    return (depth > config.shadow_fill_difference) & obs, depth


def potential_shadow(nir: np.ndarray, swir1: np.ndarray, obs: np.ndarray,
                     clear_land: np.ndarray, config: FmaskConfig = FmaskConfig()
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Step 10: pixels darker than their flood-filled surroundings in NIR and SWIR1 (Q19).

    No-data pixels are set to the 17.5th percentile of clear land first (ZW12), so
    the image edge neither creates nor hides shadows. Above ``config.fill_max_pixels``
    the fill is the block approximation of :func:`flood_fill`, a lower bound of the
    exact fill: the depth is then <= the full-resolution depth and the potential
    shadow a subset of the full-resolution one.

    Args:
        nir, swir1: float32 (H, W) B8A and B11.
        obs, clear_land: bool (H, W).

    Returns:
        (potential shadow bool (H, W), depth float32 (H, W) = min of the two fill depths).
    """
    check_arrays("potential_shadow", nir=nir, swir1=swir1, obs=obs, clear_land=clear_land)
    check_masks("potential_shadow", obs=obs, clear_land=clear_land)
    base = clear_land if clear_land.any() else obs
    depths = []
    for band in (nir, swir1):
        background = masked_percentile(band, base, config.background_percentile,
                                       config.percentile_sample)
        band = shadow_background(band, obs, background)
        depths.append(flood_fill(band.astype(np.float32), config.fill_max_pixels) - band)
    return shadow_depth(depths, obs, config)


@dataclass(frozen=True, eq=False)
class ShadowMatch:
    """Result of step 11.

    Attributes:
        shadow: bool (H, W) matched shadow (projected cloud footprints minus cloud).
        labels: int32 (H, W) cloud object ids (8-connected), 0 = no cloud.
        heights: float64 (n_objects + 1,) matched height (m) per object id; NaN where
            no height reached the similarity threshold (index 0 unused).
        similarity: float64 (n_objects + 1,) best similarity per object.
    """

    shadow: np.ndarray
    labels: np.ndarray
    heights: np.ndarray
    similarity: np.ndarray


def _view_direction(zenith: float | np.ndarray | None, azimuth: float | np.ndarray | None,
                    sl: tuple[slice, slice], mask: np.ndarray) -> tuple[float, float]:
    """An object's view (zenith, azimuth), degrees, from scalars or (H, W) grids.

    Grids are averaged over the object's pixels as parallax vectors tan(vz) (sin az, cos az)
    (an object across a detector boundary sees two look directions; the mean of the angles
    is neither), the quantity the shadow shift depends on. Missing angles mean nadir.
    """
    if zenith is None or azimuth is None:
        return 0.0, 0.0
    if np.ndim(zenith) == 0 and np.ndim(azimuth) == 0:
        return float(zenith), float(azimuth)
    zen = np.broadcast_to(zenith, mask.shape if np.ndim(zenith) == 0 else np.shape(zenith))
    az = np.broadcast_to(azimuth, np.shape(zen))
    return mean_view_direction(zen[sl][mask], az[sl][mask])


def mean_view_direction(zenith: np.ndarray, azimuth: np.ndarray) -> tuple[float, float]:
    """The (zenith, azimuth) of the mean parallax vector tan(vz) (sin az, cos az) of an
    object's pixels (their view angles, degrees, in row-major order; NaNs ignored; nadir
    when none is finite)."""
    z, a = np.asarray(zenith, np.float64), np.asarray(azimuth, np.float64)
    keep = np.isfinite(z) & np.isfinite(a)
    if not keep.any():
        return 0.0, 0.0
    t = np.tan(np.deg2rad(z[keep]))
    east, north = (t * np.sin(np.deg2rad(a[keep]))).mean(), (t * np.cos(np.deg2rad(a[keep]))).mean()
    return (float(np.rad2deg(np.arctan(np.hypot(east, north)))),
            float(np.rad2deg(np.arctan2(east, north)) % 360))


@dataclass(frozen=True, eq=False)
class _Geometry:
    """What every object's matching shares: the grid, the angles, the candidate heights."""

    state: np.ndarray
    labels: np.ndarray
    dem: np.ndarray | None
    sun_zenith: float
    sun_azimuth: float
    resolution: float
    candidates: np.ndarray


def _offsets(g: _Geometry, heights: np.ndarray, rows: np.ndarray, cols: np.ndarray,
             view: tuple[float, float], ground: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer (drow, dcol) per height, shape (K,); with a DEM, corrected once for the
    terrain under the candidate footprint (shadow on higher ground = lower relative height)."""
    dr, dc = shadow_offset(heights, g.sun_zenith, g.sun_azimuth, *view, g.resolution)
    if g.dem is not None:
        h, w = g.dem.shape
        r = np.clip(rows[None, :] + np.rint(dr)[:, None].astype(np.int64), 0, h - 1)
        c = np.clip(cols[None, :] + np.rint(dc)[:, None].astype(np.int64), 0, w - 1)
        relative = heights - (g.dem[r, c].mean(axis=1) - ground)
        dr, dc = shadow_offset(np.maximum(relative, 0), g.sun_zenith, g.sun_azimuth, *view,
                               g.resolution)
    return np.rint(dr).astype(np.int64), np.rint(dc).astype(np.int64)


def _similarity(g: _Geometry, obj: int, rows: np.ndarray, cols: np.ndarray,
                dr: np.ndarray, dc: np.ndarray) -> np.ndarray:
    """Similarity (K,) of the object's pixels moved by each of K offsets (see match_shadows)."""
    h, w = g.state.shape
    r = rows[None, :] + dr[:, None]
    c = cols[None, :] + dc[:, None]
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    rc, cc = np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)
    own = inside & (g.labels[rc, cc] == obj)
    st = np.where(inside, g.state[rc, cc], _OUTSIDE)
    total = (~own).sum(axis=1)
    outside = (st == _OUTSIDE).sum(axis=1)
    hits = (st == _SHADOW).sum(axis=1) + 0.5 * (((st == _CLOUD) & ~own).sum(axis=1) + outside)
    # A footprint mostly off the image or on no data is no evidence of a height.
    scored = (total > 0) & (outside <= total / 2)
    return np.divide(hits, total, out=np.zeros(len(dr)), where=scored)


def _best_height(g: _Geometry, obj: int, rows: np.ndarray, cols: np.ndarray,
                 view: tuple[float, float], ground: float, extent: int,
                 config: FmaskConfig) -> tuple[int, float]:
    """(index into candidates, similarity) of the best height, coarse to fine.

    The similarity peak is about as many steps wide as the object is across divided by
    the 2 px a step moves the footprint, so the coarse stride follows the object's size.
    """
    n = g.candidates.size

    def score(idx: np.ndarray) -> np.ndarray:
        return _similarity(g, obj, rows, cols,
                           *_offsets(g, g.candidates[idx], rows, cols, view, ground))

    coarse = int(np.clip(extent // (2 * config.height_step_px), 1, 8))
    idx = np.arange(0, n, coarse)
    sims = score(idx)
    best = int(idx[np.argmax(sims)])
    if coarse > 1:
        idx = np.arange(max(best - coarse, 0), min(best + coarse + 1, n))
        sims = score(idx)
        best = int(idx[np.argmax(sims)])
    return best, float(sims.max())


def match_shadows(cloud: np.ndarray, pshadow: np.ndarray, obs: np.ndarray,
                  sun_zenith: float, sun_azimuth: float, resolution: float,
                  view_zenith: float | np.ndarray | None = None,
                  view_azimuth: float | np.ndarray | None = None,
                  dem: np.ndarray | None = None,
                  config: FmaskConfig = FmaskConfig(), progress: bool = False) -> ShadowMatch:
    """Step 11: find each cloud object's height by matching its projection to potential shadow.

    For every 8-connected cloud object, heights from 200 m to 12 km are tried in steps
    that move the shadow by ``height_step_px`` (2) pixels, i.e. 2 x res x tan(sun
    elevation) (ZW12). The object's pixels move by ``shadow_offset`` (view parallax
    and sun projection, with the object's mean view angles). Similarity = (projected
    pixels on potential shadow + 0.5 x those on another cloud, no data or outside the
    image) / projected pixels not on the object itself (heights whose footprint is
    mostly off the image or on no data score 0); the best height is accepted when
    its similarity >= 0.425 (Q19, S2). Large objects are scored on a regular
    subsample of ``match_sample`` pixels, and a coarse-to-fine search over heights
    (stride set by the object's size, which sets the width of the similarity peak)
    keeps a tile in budget. The shadow is the whole object moved to the best height.

    Args:
        cloud, pshadow, obs: bool (H, W).
        sun_zenith, sun_azimuth: degrees (azimuth clockwise from north, towards the sun).
        resolution: pixel size in metres.
        view_zenith, view_azimuth: degrees, scalars or float (H, W) grids; None = nadir.
        dem: optional float (H, W) terrain height (m): the height is then measured
            from the ground under the object, corrected once for the terrain under
            the candidate shadow.
        progress: show a tqdm bar over objects.
    """
    check_arrays("match_shadows", cloud=cloud, pshadow=pshadow, obs=obs, dem=dem)
    check_masks("match_shadows", cloud=cloud, pshadow=pshadow, obs=obs)
    for name, grid in (("view_zenith", view_zenith), ("view_azimuth", view_azimuth)):
        if grid is not None and np.ndim(grid) != 0:
            check_arrays("match_shadows", cloud=cloud, **{name: grid})
    if not 0 <= sun_zenith < 90:
        raise ConfigError(f"sun zenith {sun_zenith} deg is not a daytime angle (0-90)")
    if not np.isfinite(sun_azimuth):
        raise ConfigError(f"sun azimuth {sun_azimuth} deg is not a number; check the metadata")
    if not (np.isfinite(resolution) and resolution > 0):
        raise ConfigError(f"resolution must be a positive number of metres, got {resolution}")
    labels, n = ndi.label(cloud, structure=EIGHT)
    shadow, heights, best_sim = match_objects(
        labels, n, match_state(cloud, pshadow, obs), sun_zenith, sun_azimuth, resolution,
        lambda sl, mask: _view_direction(view_zenith, view_azimuth, sl, mask), dem, config,
        progress)
    shadow &= ~cloud
    return ShadowMatch(shadow, labels.astype(np.int32), heights, best_sim)


def match_state(cloud: np.ndarray, pshadow: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """The uint8 (H, W) lookup map of the matching: clear, potential shadow, no data, cloud
    (later ones win). Strips of rows give the scene's map strip by strip."""
    state = np.full(cloud.shape, _CLEAR, dtype=np.uint8)
    state[pshadow] = _SHADOW
    state[~obs] = _OUTSIDE
    state[cloud] = _CLOUD
    return state


def match_objects(labels: np.ndarray, n: int, state: np.ndarray, sun_zenith: float,
                  sun_azimuth: float, resolution: float,
                  view: Callable[[tuple[slice, slice], np.ndarray], tuple[float, float]],
                  dem: np.ndarray | None, config: FmaskConfig, progress: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The object loop of :func:`match_shadows` on labelled clouds (checked inputs).

    Args:
        labels: int32 (H, W) 8-connected cloud objects 1 .. n (0 = none).
        state: :func:`match_state` of the scene.
        view: (object's bounding slices, its mask within them) -> its mean view (zenith,
            azimuth), degrees (:func:`mean_view_direction`).

    Returns:
        (shadow bool (H, W), not yet cleared of cloud; heights (n + 1,); similarity (n + 1,)).
    """
    h, w = labels.shape
    heights = np.full(n + 1, np.nan)
    best_sim = np.zeros(n + 1)
    shadow = np.zeros((h, w), dtype=bool)
    if n == 0:
        return shadow, heights, best_sim
    step = config.height_step_px * resolution / max(np.tan(np.deg2rad(sun_zenith)), 1e-3)
    # Every candidate within [min_height, max_height]: arange(.., max + step / 2, ..) went
    # up to half a step beyond the maximum.
    n_steps = int(np.floor((config.max_height - config.min_height) / step + 1e-9))
    g = _Geometry(state, labels, dem, sun_zenith, sun_azimuth, resolution,
                  config.min_height + step * np.arange(n_steps + 1))

    for obj, sl in enumerate(tqdm(ndi.find_objects(labels), desc="shadow matching",
                                  disable=disable_bar(progress), leave=False), start=1):
        mask = labels[sl] == obj
        rows, cols = np.nonzero(mask)
        rows, cols = rows + sl[0].start, cols + sl[1].start
        obj_view = view(sl, mask)
        stride = max(1, int(np.ceil(rows.size / config.match_sample))) if config.match_sample else 1
        srows, scols = rows[::stride], cols[::stride]
        ground = float(dem[srows, scols].mean()) if dem is not None else 0.0
        extent = min(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        best, best_sim[obj] = _best_height(g, obj, srows, scols, obj_view, ground, extent, config)
        if best_sim[obj] < config.similarity:
            continue
        heights[obj] = g.candidates[best]
        dr, dc = _offsets(g, g.candidates[best:best + 1], rows, cols, obj_view, ground)
        r, c = rows + dr[0], cols + dc[0]
        keep = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        shadow[r[keep], c[keep]] = True
    return shadow, heights, best_sim
