"""Fmask 4 in strips of rows: :func:`run_fmask`'s labels, bit for bit, without a tile in memory.

:func:`run_fmask` holds the scene's bands and a dozen float layers at once (about 95 bytes
per pixel: 3 GB for a 5490 px tile). Here the same steps run as passes over strips of rows
(the step functions of :mod:`~dfmask_lib.fmask.masks`, ``indices``, ``probability``,
``commission``, ``shadow`` and ``compose``, applied to strips with the rows of context each
needs). What crosses the strips is small:

* the bands, read once from the product, go to a raw scratch file (:class:`BandStore`) and
  come back a strip at a time; so do the two cloud probabilities;
* the masks live as bits of one uint8 (H, W) layer (observed, snow, water, potential cloud,
  cloud, potential false positive, parallax, potential shadow);
* the scene-wide percentiles are computed from :class:`~dfmask_lib.fmask._util.StridedSample`,
  which picks the same pixels as on the whole scene (a pass counts, the next one samples);
* the SCSI's 10 km windows are :class:`~dfmask_lib.fmask._util.BoxSums`, strip-independent;
* the flood fill runs on the block minima (at most ``fill_max_pixels``), as on a tile;
* cloud objects, their sizes and the shadow matching need the whole scene: int32 object
  labels, a uint8 lookup map and the matched shadow, with the mask bits about 7 bytes per
  pixel while they are held.

So memory is the strip being read (:func:`dfmask_lib.windows.strip_rows_for`: about 6 Mpx),
a few processing strips (:data:`STRIP_PIXELS`) and about 7 bytes per pixel while the cloud
objects are held: 0.60 GB peak RSS for a 5490 px tile, 0.55 GB for a 2748 px one, where
``run_fmask`` with the CLI's nine bands needed 3.2 and 1.0 GB (``benchmarks/fmask_tile.py``,
2026-12-02; the peak is the reading). The scratch file takes 4 bytes per layer and pixel on
disk (nine bands, two probabilities and a SAFE's two view-angle grids: 1.6 GB for a 5490 px
tile).
Equality with :func:`run_fmask` is tested on scenes that exercise every branch
(``tests/fmask/test_strips.py``). What this path does not offer: a DEM or a water
occurrence grid (use :func:`run_fmask`) and the intermediate layers (its ``layers`` hold the
numbers only, as ``run_fmask(keep_layers=False)``).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
from affine import Affine
from scipy import ndimage as ndi
from tqdm.auto import tqdm

from ..classes import FMASK, recode
from ..errors import ProductError
from ..progress import disable_bar
from ..scene import Scene
from . import commission, compose, indices, masks, probability, shadow
from ._util import StridedSample
from .config import FmaskConfig
from .pipeline import READ_BANDS, FmaskResult, _check_inputs, _view_angles

__all__ = ["STRIP_PIXELS", "BandStore", "fmask_strips", "scene_reader", "fmask_scene"]

#: Pixels per strip of the processing passes (their float temporaries: ~100 B/px).
STRIP_PIXELS = 1_500_000
#: Bits of the mask layer.
OBS, SNOW, WATER, PCP, CLOUD, FP, PARALLAX, PSHADOW = (np.uint8(1 << i) for i in range(8))
#: Passes over the strips (the progress bar's unit).
_PASSES = 10


class BandStore:
    """Float32 (H, W) layers in one raw scratch file, written and read back by rows.

    Reads go through ``readinto`` into a fresh array (no memory map), so a strip costs its
    own size in memory and the file's pages stay in the page cache, not in the process.
    The file is removed by :meth:`close` (also on error: use it as a context manager).
    """

    def __init__(self, path: str | os.PathLike, names: list[str], shape: tuple[int, int]) -> None:
        self.path, self.shape = Path(path), (int(shape[0]), int(shape[1]))
        self.index = {name: i for i, name in enumerate(names)}
        self._file = open(self.path, "w+b")
        self._file.truncate(len(names) * self.shape[0] * self.shape[1] * 4)

    def __enter__(self) -> "BandStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _offset(self, name: str, row: int) -> int:
        h, w = self.shape
        return ((self.index[name] * h) + row) * w * 4

    def write(self, name: str, r0: int, rows: np.ndarray) -> None:
        """Store rows r0 .. r0 + len(rows) of layer ``name``."""
        self._file.seek(self._offset(name, r0))
        self._file.write(np.ascontiguousarray(rows, dtype=np.float32).tobytes())

    def read(self, name: str, r0: int, r1: int) -> np.ndarray:
        """Rows r0 .. r1 of layer ``name``, float32 (r1 - r0, W)."""
        out = np.empty((r1 - r0, self.shape[1]), np.float32)
        if out.size == 0:
            return out
        self._file.seek(self._offset(name, r0))
        if self._file.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise OSError(f"{self.path}: short read of {name} rows {r0}:{r1}")
        return out

    def close(self) -> None:
        """Close and remove the scratch file."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class _Run:
    """One Fmask run over strips: the mask bits, the store, the strips, the numbers."""

    def __init__(self, shape: tuple[int, int], store: BandStore, config: FmaskConfig,
                 resolution: float, bar: Any) -> None:
        self.h, self.w = shape
        self.store, self.config, self.res, self.bar = store, config, resolution, bar
        self.bits = np.zeros(shape, np.uint8)
        self.step = max(1, STRIP_PIXELS // max(self.w, 1))
        self.count: Counter[str] = Counter()

    def strips(self, step: int | None = None) -> list[tuple[int, int]]:
        step = step or self.step
        return [(a, min(self.h, a + step)) for a in range(0, self.h, step)]

    def band(self, name: str, a: int, b: int) -> np.ndarray:
        return self.store.read(name, a, b)

    def bit(self, flag: np.uint8, a: int, b: int) -> np.ndarray:
        return (self.bits[a:b] & flag) != 0

    def set(self, flag: np.uint8, a: int, mask: np.ndarray) -> None:
        rows = self.bits[a:a + mask.shape[0]]
        rows &= ~flag
        rows |= mask.view(np.uint8) * flag

    def context(self, a: int, b: int, rows: int) -> tuple[int, int, slice]:
        """Rows a .. b widened by ``rows`` each side (within the image), and the slice of
        a .. b inside them."""
        ea, eb = max(0, a - rows), min(self.h, b + rows)
        return ea, eb, slice(a - ea, b - ea)

    def advance(self, desc: str) -> None:
        self.bar.set_description(f"fmask: {desc}")
        self.bar.update()


def _spectral(run: _Run, scene: Scene, r0: int) -> None:
    """Pass 1 on rows of a scene read from the product: bands to the store; observed,
    potential snow, water and spectral potential cloud bits; counts."""
    names = [b for b in run.store.index if b in scene.band_names]
    for name in names:
        run.store.write(name, r0, scene.band(name))
    for name in ("view_zenith", "view_azimuth"):
        if name in run.store.index:
            run.store.write(name, r0, getattr(scene, name))
    cfg = run.config
    for a in range(0, scene.shape[0], run.step):
        b = min(scene.shape[0], a + run.step)
        blue, green, red = (scene.band(n)[a:b] for n in ("B02", "B03", "B04"))
        nir, swir1, swir2 = (scene.band(n)[a:b] for n in ("B8A", "B11", "B12"))
        obs = scene.valid[a:b]
        ndvi, ndsi = indices.ndvi(red, nir), indices.ndsi(green, swir1)
        snow = masks.potential_snow(ndsi, nir, green, cfg) & obs
        water = masks.water_test(ndvi, nir, cfg) & obs
        sat = None if scene.saturated is None else scene.saturated[a:b]
        pcp = masks.basic_cloud_test(swir2, ndsi, ndvi, indices.whiteness(blue, green, red),
                                     indices.hot(blue, red), nir, swir1, sat, cfg) & obs
        for flag, mask in ((OBS, obs), (SNOW, snow), (WATER, water), (PCP, pcp)):
            run.set(flag, r0 + a, mask)
        run.count.update(obs=int(np.count_nonzero(obs)), snow=int(np.count_nonzero(snow)),
                         cirrus_base=int(np.count_nonzero(obs & ~pcp)))


def _cirrus_dark(run: _Run) -> float:
    """Pass 2: the cirrus band's dark percentile over clear observed pixels (Q19)."""
    sample = StridedSample(run.count["cirrus_base"], run.config.percentile_sample)
    for a, b in run.strips():
        sample.add(run.band("B10", a, b), run.bit(OBS, a, b) & ~run.bit(PCP, a, b))
    return sample.percentile(run.config.cirrus_dark_percentile)


def _final_pcp(run: _Run, dark: float | None) -> None:
    """Pass 3: the cirrus test joins the potential clouds and absolute snow leaves them
    (SCSI over the whole scene, strip by strip); the clear-pixel counts."""
    cfg = run.config
    stream = None
    if run.count["snow"] > cfg.scsi_min_snow_pixels:
        stream = masks.ScsiRows(lambda a, b: (run.band("B03", a, b), run.bit(OBS, a, b)),
                                run.h, cfg.scsi_window)
    for a, b in run.strips():
        obs, pcp, water = run.bit(OBS, a, b), run.bit(PCP, a, b), run.bit(WATER, a, b)
        if dark is not None:
            ncirrus = masks.remove_cirrus_background(run.band("B10", a, b), dark, obs)
            pcp |= (ncirrus > cfg.pcp_cirrus) & obs
        if stream is not None:
            ndsi = indices.ndsi(run.band("B03", a, b), run.band("B11", a, b))
            pcp &= ~(run.bit(SNOW, a, b) & (stream(a, b, ndsi) < cfg.scsi_threshold))
        run.set(PCP, a, pcp)
        clear = obs & ~pcp
        run.count.update(clear=int(np.count_nonzero(clear)),
                         clear_land=int(np.count_nonzero(clear & ~water)),
                         clear_water=int(np.count_nonzero(clear & water)))


def _indices(run: _Run, a: int, b: int) -> dict[str, np.ndarray]:
    blue, green, red = (run.band(n, a, b) for n in ("B02", "B03", "B04"))
    nir, swir1 = run.band("B8A", a, b), run.band("B11", a, b)
    return {"ndvi": indices.ndvi(red, nir), "ndsi": indices.ndsi(green, swir1),
            "ndbi": indices.ndbi(swir1, nir), "whiteness": indices.whiteness(blue, green, red),
            "hot": indices.hot(blue, red), "nir": nir, "swir1": swir1}


def _clear_land(run: _Run, a: int, b: int) -> np.ndarray:
    return run.bit(OBS, a, b) & ~run.bit(PCP, a, b) & ~run.bit(WATER, a, b)


def _scene_percentiles(run: _Run) -> tuple[tuple[float, float], list[float]]:
    """Pass 4: the clear-land HOT range (Q19) and the shadow fill's background levels
    (ZW12: clear land, or every observed pixel when there is none)."""
    cfg = run.config
    land = run.count["clear_land"]
    hot = StridedSample(land, cfg.percentile_sample)
    base = [StridedSample(land if land else run.count["obs"], cfg.percentile_sample)
            for _ in range(2)]
    for a, b in run.strips():
        clear_land = _clear_land(run, a, b)
        hot.add(indices.hot(run.band("B02", a, b), run.band("B04", a, b)), clear_land)
        where = clear_land if land else run.bit(OBS, a, b)
        for sample, name in zip(base, ("B8A", "B11")):
            sample.add(run.band(name, a, b), where)
    return (probability.hot_range(hot.percentile(probability.hot_percentiles(cfg)), cfg),
            [s.percentile(cfg.background_percentile) for s in base])


def _probabilities(run: _Run, hot_scale: tuple[float, float], dark: float | None
                   ) -> tuple[float, float]:
    """Pass 5: cloud probabilities over land and water (to the store) and their dynamic
    thresholds (ZW12 eq. 17)."""
    cfg = run.config
    land_s = StridedSample(run.count["clear_land"], cfg.percentile_sample)
    water_s = StridedSample(run.count["clear_water"], cfg.percentile_sample)
    for a, b in run.strips():
        x = _indices(run, a, b)
        obs = run.bit(OBS, a, b)
        ncirrus = (np.zeros_like(x["nir"]) if dark is None else
                   masks.remove_cirrus_background(run.band("B10", a, b), dark, obs))
        thin = probability.thin_cloud_probability(ncirrus, cfg)
        land = probability.land_probability(x["ndsi"], x["ndvi"], x["ndbi"], x["whiteness"],
                                            x["hot"], thin, hot_scale, cfg)
        wprob = probability.water_cloud_probability(x["swir1"], thin, cfg)
        run.store.write("land", a, land)
        run.store.write("water", a, wprob)
        clear = obs & ~run.bit(PCP, a, b)
        water = run.bit(WATER, a, b)
        land_s.add(land, clear & ~water)
        water_s.add(wprob, clear & water)
    return (probability.probability_threshold(land_s.percentile(cfg.prob_percentile), cfg),
            probability.probability_threshold(water_s.percentile(cfg.prob_percentile), cfg))


def _cloud_and_false_positives(run: _Run, thresholds: tuple[float, float] | None,
                               has_cdi: bool) -> None:
    """Pass 6: the cloud decision (step 7 or 8) and the potential false positives and
    parallax evidence of step 9 (with the rows of context of the buffer and the CDI)."""
    cfg = run.config
    ctx = commission.false_positive_context(cfg, run.res)
    for a, b in run.strips():
        obs, pcp, water = run.bit(OBS, a, b), run.bit(PCP, a, b), run.bit(WATER, a, b)
        if thresholds is None:  # too few clear pixels: cloud = PCP
            cloud = pcp
        else:
            land, wprob = run.band("land", a, b), run.band("water", a, b)
            cloud = pcp & obs & (((land > thresholds[0]) & ~water)
                                 | ((wprob > thresholds[1]) & water))
        ea, eb, inner = run.context(a, b, ctx)
        nir, swir1 = run.band("B8A", ea, eb), run.band("B11", ea, eb)
        cdi = (indices.cdi(run.band("B07", ea, eb), run.band("B08", ea, eb), nir,
                           cfg.cdi_window) if has_cdi else None)
        pfp = commission.potential_false_positives(
            indices.ndbi(swir1, nir), indices.ndvi(run.band("B04", ea, eb), nir),
            run.bit(SNOW, ea, eb), cdi, cfg, water=run.bit(WATER, ea, eb),
            obs=run.bit(OBS, ea, eb), resolution=run.res)[inner]
        run.set(CLOUD, a, cloud)
        run.set(FP, a, pfp)
        if cdi is not None:
            run.set(PARALLAX, a, cdi[inner] < cfg.cdi_cloud)
        run.count.update(cloud=int(np.count_nonzero(cloud)),
                         cloud_fp=int(np.count_nonzero(cloud & pfp)))


def _label_clouds(run: _Run) -> tuple[np.ndarray, int]:
    cloud = (run.bits & CLOUD) != 0
    return ndi.label(cloud, structure=commission.EIGHT)


def _remove_commission(run: _Run, has_cdi: bool) -> None:
    """Pass 7: :func:`~dfmask_lib.fmask.commission.remove_commission` over strips (the
    erosion and dilation with their radii as context; objects over the whole scene)."""
    cfg = run.config
    radius = commission.commission_radius(cfg, run.res)
    if radius >= 1 and run.count["cloud_fp"]:
        kept = np.zeros((run.h, run.w), bool)
        for a, b in run.strips():
            ea, eb, inner = run.context(a, b, radius + 1)
            cloud = run.bit(CLOUD, ea, eb)
            core = commission.eroded_core(cloud, radius)[inner]
            kept[a:b] = cloud[inner] & (core | ~run.bit(FP, a, b))
        objects, n = _label_clouds(run)
        survived = np.zeros(n + 1, dtype=bool)
        survived[objects[kept]] = True
        survived[0] = False
        for a, b in run.strips():
            ea, eb, inner = run.context(a, b, 2 * radius + 1)
            grown = commission.near(kept[ea:eb], 2 * radius)[inner]
            run.set(CLOUD, a, run.bit(CLOUD, a, b) & grown & survived[objects[a:b]])
        del objects, kept
    labels, n = _label_clouds(run)
    if n == 0:
        return
    sizes = np.zeros(n + 1, np.int64)
    parallax = np.zeros(n + 1, np.int64)
    use_cdi = has_cdi and cfg.cdi_max_object > 0
    for a, b in run.strips():
        sizes += np.bincount(labels[a:b].ravel(), minlength=n + 1)
        if use_cdi:
            parallax += np.bincount(labels[a:b][run.bit(PARALLAX, a, b)], minlength=n + 1)
    drop = sizes < cfg.min_cloud_pixels
    if use_cdi:
        drop |= (sizes < cfg.cdi_max_object) & ~(parallax > 0)
    drop[0] = True
    for a, b in run.strips():
        run.set(CLOUD, a, ~drop[labels[a:b]])


def _potential_shadow(run: _Run, background: list[float]) -> None:
    """Pass 8: the flood-fill potential shadow (step 10), on the block minima of strips of
    a multiple of the block size (exactly :func:`~dfmask_lib.fmask.shadow.flood_fill`)."""
    cfg = run.config
    factor = shadow.fill_factor(run.h, run.w, cfg.fill_max_pixels)
    names = ("B8A", "B11")
    if factor == 1:  # at most fill_max_pixels: the whole-scene step itself
        obs = (run.bits & OBS) != 0
        clear_land = obs & ((run.bits & (PCP | WATER)) == 0)
        pshadow, _ = shadow.potential_shadow(*(run.band(n, 0, run.h) for n in names), obs,
                                             clear_land, cfg)
        run.set(PSHADOW, 0, pshadow)
        return
    strips = run.strips(max(factor, run.step // factor * factor))

    def filled_bands(a: int, b: int) -> list[np.ndarray]:
        obs = run.bit(OBS, a, b)
        return [shadow.shadow_background(run.band(n, a, b), obs, bg).astype(np.float32)
                for n, bg in zip(names, background)]

    blocks: list[list[np.ndarray]] = [[], []]
    for a, b in strips:
        for parts, band in zip(blocks, filled_bands(a, b)):
            parts.append(shadow.block_minima(band, factor))
    fills = [shadow.flood_fill(np.concatenate(parts)) for parts in blocks]
    del blocks
    for a, b in strips:
        bands = filled_bands(a, b)
        lo, hi = a // factor, -(-b // factor)
        depths = [shadow.raise_to_fill(band, fill[lo:hi], factor) - band
                  for band, fill in zip(bands, fills)]
        run.set(PSHADOW, a, shadow.shadow_depth(depths, run.bit(OBS, a, b), cfg)[0])


def _match(run: _Run, sun: tuple[float, float], view: tuple[Any, Any] | None,
           progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass 9: shadow matching (step 11) on the whole scene's objects and lookup map; each
    object's view angles read from the store (its bounding rows)."""
    state = np.empty((run.h, run.w), np.uint8)
    for a, b in run.strips():
        state[a:b] = shadow.match_state(run.bit(CLOUD, a, b), run.bit(PSHADOW, a, b),
                                        run.bit(OBS, a, b))
    labels, n = _label_clouds(run)

    def object_view(sl: tuple[slice, slice], mask: np.ndarray) -> tuple[float, float]:
        if view is not None:
            return float(view[0]), float(view[1])
        rows = sl[0]
        zen, az = (run.band(name, rows.start, rows.stop)[:, sl[1]][mask]
                   for name in ("view_zenith", "view_azimuth"))
        return shadow.mean_view_direction(zen, az)

    return shadow.match_objects(labels, n, state, sun[0], sun[1], run.res, object_view, None,
                                run.config, progress)


def _compose(run: _Run, cast: np.ndarray | None) -> np.ndarray:
    """Pass 10: buffers and precedence (step 12), with the widest buffer as context."""
    cfg = run.config
    ctx = max(cfg.cloud_buffer, cfg.shadow_buffer, cfg.snow_buffer, 0)
    out = np.empty((run.h, run.w), np.uint8)
    for a, b in run.strips():
        ea, eb, inner = run.context(a, b, ctx)
        cloud = run.bit(CLOUD, ea, eb)
        cast_rows = (np.zeros_like(cloud) if cast is None else cast[ea:eb] & ~cloud)
        out[a:b] = compose.compose(cloud, cast_rows, run.bit(SNOW, ea, eb) & ~cloud,
                                   run.bit(WATER, ea, eb), run.bit(OBS, ea, eb), cfg)[inner]
    return out


def fmask_strips(read: Callable[[int, int], Scene], shape: tuple[int, int],
                 config: FmaskConfig = FmaskConfig(), *, scratch: str | os.PathLike,
                 read_rows: int | None = None, progress: bool | None = None,
                 on_empty: Callable[[], Exception] | None = None) -> FmaskResult:
    """Fmask 4 on a scene given as strips of rows: the labels of :func:`run_fmask`.

    Args:
        read: (r0, r1) -> the :class:`~dfmask_lib.scene.Scene` of rows r0 .. r1 of the grid
            (bands of :data:`READ_BANDS`; :func:`dfmask_lib.reader.read_product` with a
            window), asked once each, in order.
        shape: (H, W) of the whole grid.
        config: as for :func:`run_fmask` (its pixel fields at 20 m).
        scratch: the path of the bands' scratch file (4 B per band and pixel), removed at
            the end; put it beside the output (:func:`dfmask_lib.atomic.scratch_path`).
        read_rows: rows per :func:`read` call (default all: one read).
        progress: a tqdm bar over the passes; None = for 4 Mpx or more.
        on_empty: the exception to raise when no pixel is observed (default: the scene
            is masked, all fill).

    Returns:
        :class:`FmaskResult` whose ``layers`` hold the numbers of ``run_fmask(...,
        keep_layers=False)`` (thresholds, HOT range, heights, similarities, skipped steps,
        the config on the grid).

    Raises:
        BandError, ConfigError: as :func:`run_fmask`; ProductError: a strip of another shape.
    """
    h, w = (int(v) for v in shape)
    read_rows = int(read_rows or h)
    first = read(0, min(h, read_rows))
    _check_inputs(first, config, None, None)
    user_config, config = config, config.on_grid(first.resolution)
    names = [b for b in READ_BANDS if b in first.band_names]
    grids = first.view_zenith is not None and first.view_azimuth is not None
    view = None if grids else _view_angles(first)
    layer_names = names + (["view_zenith", "view_azimuth"] if grids else []) + ["land", "water"]
    if progress is None:
        progress = h * w >= 4_000_000
    bar = tqdm(total=_PASSES, desc="fmask", disable=disable_bar(progress), leave=False)
    layers: dict[str, Any] = {"skipped": [], "grid_config": config}
    has_cdi = {"B07", "B08"} <= set(names)
    sun, resolution = (first.sun_zenith, first.sun_azimuth), first.resolution
    with BandStore(scratch, layer_names, (h, w)) as store:
        run = _Run((h, w), store, config, resolution, bar)
        scene, r0 = first, 0
        del first  # one strip of the product in memory at a time
        while True:
            want = (min(h, r0 + read_rows) - r0, w)
            if scene.shape != want:
                raise ProductError(f"rows {r0}:{r0 + want[0]} were read as {scene.shape}, "
                                   f"not {want}: the product's bands are not on one grid")
            _spectral(run, scene, r0)
            r0 += want[0]
            del scene
            if r0 >= h:
                break
            scene = read(r0, min(h, r0 + read_rows))
        if run.count["obs"] == 0 and on_empty is not None:
            raise on_empty()
        run.advance("spectral tests")
        dark = _cirrus_dark(run) if "B10" in names else None
        run.advance("cirrus")
        _final_pcp(run, dark)
        run.advance("absolute snow")
        few_clear = run.count["clear"] <= config.min_clear_pixels
        thresholds, background = None, None
        if few_clear:
            layers["skipped"] += ["probabilities", "shadow matching"]
            layers.update(land_threshold=float("nan"), water_threshold=float("nan"),
                          hot_range=(float("nan"), float("nan")))
            bar.update(2)
        else:
            hot_scale, background = _scene_percentiles(run)
            run.advance("percentiles")
            thresholds = _probabilities(run, hot_scale, dark)
            layers.update(land_threshold=thresholds[0], water_threshold=thresholds[1],
                          hot_range=hot_scale)
            run.advance("probabilities")
        _cloud_and_false_positives(run, thresholds, has_cdi)
        run.advance("commission")
        if run.count["cloud"]:
            _remove_commission(run, has_cdi)
        run.advance("cloud objects")
        cast = None
        if few_clear or not ((run.bits & CLOUD) != 0).any():
            if not few_clear:
                layers["skipped"].append("shadow matching")
            layers.update(cloud_heights=np.full(1, np.nan), similarity=np.zeros(1))
            bar.update(2)
        else:
            _potential_shadow(run, background)
            run.advance("potential shadow")
            cast, heights, similarity = _match(run, sun, view, progress)
            layers.update(cloud_heights=heights, similarity=similarity)
            run.advance("shadow matching")
        fmask = _compose(run, cast)
        run.advance("compose")
    bar.close()
    return FmaskResult(fmask, recode(fmask, FMASK), layers, user_config)


def scene_reader(scene: Scene) -> Callable[[int, int], Scene]:
    """The ``read`` of :func:`fmask_strips` for a scene already in memory: its rows as views."""
    def rows(a: np.ndarray | None, r0: int, r1: int) -> np.ndarray | None:
        return None if a is None else a[r0:r1]

    def read(r0: int, r1: int) -> Scene:
        t = scene.transform
        return dataclasses.replace(
            scene, reflectance=scene.reflectance[:, r0:r1], valid=scene.valid[r0:r1],
            transform=t * Affine.translation(0, r0), view_zenith=rows(scene.view_zenith, r0, r1),
            view_azimuth=rows(scene.view_azimuth, r0, r1),
            saturated=rows(scene.saturated, r0, r1))

    return read


def fmask_scene(scene: Scene, config: FmaskConfig = FmaskConfig(), *,
                progress: bool | None = None) -> FmaskResult:
    """:func:`fmask_strips` on a scene in memory, the scratch file in the system's temporary
    folder (``TMPDIR``): :func:`run_fmask`'s labels and numbers in less memory on a large
    scene (the peers' comparison runs Fmask so)."""
    with tempfile.TemporaryDirectory(prefix="dfmask-fmask-") as tmp:
        return fmask_strips(scene_reader(scene), scene.shape, config,
                            scratch=Path(tmp) / "bands.scratch", progress=progress)
