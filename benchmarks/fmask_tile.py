"""Benchmark: Fmask on a full 5490 x 5490 px Sentinel-2 tile at 20 m.

Targets (issue 3): <= 90 s and <= 6 GB peak memory on 2 cores. The tiles are *synthetic*,
seeded 13-band reflectance scenes made here, with cloud blobs at four heights and the shadows
they cast with :func:`dfmask_lib.geometry.shadow_offset`, so shadow matching does real work:

* ``temperate``: textured land and a lake, the sun 55 deg from zenith (the main record);
* ``polar``: snow-covered land with rock outcrops and open water, the sun 75 deg from zenith
  (long shadows; issue 13), as in the paper's scenes.

Runs (each in its own process, so that each peak RSS is its own): the temperate tile with
Fmask's intermediate layers kept (``run_fmask`` on all 13 bands in memory, the main record),
the same tile as the CLI runs it (:func:`~dfmask_lib.fmask.strips.fmask_strips`: Fmask's nine
bands read in strips, the same labels), the temperate tile at half the side (memory against
tile size), and the polar tile. ``--only-main`` runs the first alone.

Phases, each in its own process so that each peak RSS is its own:

1. ``--phase write``: generate the scene and write its 13 bands as uint16 GeoTIFFs
   (DN = 10000 x reflectance, like a pre-04.00 L1C) into a temporary folder;
2. ``--phase run``: read them back with :func:`dfmask_lib.reader.read_product` (the
   reference time: reading a tile), then :func:`dfmask_lib.fmask.run_fmask`; report
   wall times, the ratio Fmask / read and the process's peak RSS (reading + Fmask,
   what ``dfmask fmask`` holds).

The result is also written as a record (:func:`dfmask_lib.performance.write_benchmark_record`)
to ``benchmarks/records/fmask_tile.json`` (``--record PATH`` elsewhere, ``--no-record`` not at
all), which the book's performance chapter renders. About 2 minutes on 2 cores.

Usage: ``python benchmarks/fmask_tile.py [--size 5490] [--seed 0] [--only-main]
[--record PATH | --no-record]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from scipy import ndimage as ndi

from dfmask_lib.geometry import shadow_offset
from dfmask_lib.paths import PROJECT_ROOT
from dfmask_lib.performance import FMASK_MAX_GB, FMASK_MAX_S, RECORD_DIR, write_benchmark_record
from dfmask_lib.scene import S2_BANDS

TARGET_S, TARGET_GB = FMASK_MAX_S, FMASK_MAX_GB
VIEW = (5.0, 105.0)
#            B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10    B11   B12
LAND = (0.10, 0.08, 0.08, 0.06, 0.10, 0.20, 0.25, 0.28, 0.30, 0.10, 0.002, 0.20, 0.10)
CLOUD = (0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.20, 0.010, 0.40, 0.30)
WATER = (0.08, 0.07, 0.05, 0.03, 0.03, 0.02, 0.02, 0.02, 0.02, 0.01, 0.001, 0.01, 0.005)
# Fresh snow is bright in the visible and dark in the SWIR (the NDSI test); rock is dark.
SNOW = (0.86, 0.85, 0.84, 0.82, 0.80, 0.77, 0.74, 0.72, 0.70, 0.50, 0.002, 0.08, 0.05)
ROCK = (0.12, 0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.16, 0.10, 0.002, 0.20, 0.15)
#: scene -> (surface, second surface and its share, sun zenith and azimuth)
SCENES = {"temperate": (LAND, WATER, 1.5, (55.0, 160.0)),
          "polar": (SNOW, ROCK, 0.8, (75.0, 170.0))}


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], size: int) -> np.ndarray:
    """Spatially correlated noise, zero mean, unit std (float32)."""
    small = rng.standard_normal((shape[0] // size + 2, shape[1] // size + 2)).astype(np.float32)
    big = ndi.zoom(small, size, order=1)[: shape[0], : shape[1]]
    return (big - big.mean()) / big.std()


def make_tile(size: int, seed: int, scene: str = "temperate") -> np.ndarray:
    """(13, size, size) float32 TOA reflectance of a ``SCENES`` setting: its surface, patches
    of its second surface (a lake; rock outcrops), ~25 % cloud with shadows."""
    surface, other, cut, sun = SCENES[scene]
    rng = np.random.default_rng(seed)
    shape = (size, size)
    refl = np.empty((13, *shape), np.float32)
    texture = 1 + 0.15 * smooth_noise(rng, shape, 40)
    for i, v in enumerate(surface):
        refl[i] = v * texture
    del texture
    lake = smooth_noise(rng, shape, 400) > cut
    refl[:, lake] = np.asarray(other, np.float32)[:, None]
    if scene == "polar":  # open water besides the outcrops
        sea = smooth_noise(rng, shape, 600) > 1.6
        refl[:, sea] = np.asarray(WATER, np.float32)[:, None]
    blobs = smooth_noise(rng, shape, 60) > 0.9  # ~18 % in blobs a few km across
    labels, n = ndi.label(blobs)
    height_class = rng.integers(0, 4, n + 1)
    heights = (800.0, 2000.0, 4000.0, 7000.0)
    for k, height in enumerate(heights):  # cast each height class's shadow
        cl = blobs & (height_class[labels] == k)
        dr, dc = (int(np.rint(v)) for v in shadow_offset(height, *sun, *VIEW, 20.0))
        shadow = np.zeros_like(cl)
        src = cl[max(0, -dr): size - max(0, dr), max(0, -dc): size - max(0, dc)]
        shadow[max(0, dr): max(0, dr) + src.shape[0], max(0, dc): max(0, dc) + src.shape[1]] = src
        refl[:, shadow & ~blobs] *= np.float32(0.35)
    del labels
    parallax = 1 + 0.05 * rng.standard_normal(int(blobs.sum())).astype(np.float32)
    for i, v in enumerate(CLOUD):
        refl[i][blobs] = v * (parallax if S2_BANDS[i] == "B08" else 1)
    refl[:, :, :300] = 0  # a no-data strip at the swath edge
    return refl


def write_phase(folder: Path, size: int, seed: int, scene: str) -> None:
    refl = make_tile(size, seed, scene)
    profile = {"driver": "GTiff", "height": size, "width": size, "count": 1, "dtype": "uint16",
               "crs": "EPSG:32633", "transform": Affine(20, 0, 399960, 0, -20, 8000040),
               "tiled": True, "blockxsize": 512, "blockysize": 512}
    for i, band in enumerate(S2_BANDS):
        with rasterio.open(folder / f"T33XWJ_{band}.tif", "w", **profile) as ds:
            ds.write(np.clip(np.rint(refl[i] * 10000), 0, 65535).astype(np.uint16), 1)


def run_phase(folder: Path, scene_name: str, keep_layers: bool) -> dict[str, float]:
    from dfmask_lib.fmask import class_fractions, run_fmask
    from dfmask_lib.fmask.pipeline import READ_BANDS
    from dfmask_lib.fmask.strips import fmask_strips
    from dfmask_lib.reader import Window, product_grid, read_product
    from dfmask_lib.windows import strip_rows_for

    sun = SCENES[scene_name][3]
    bands = S2_BANDS if keep_layers else READ_BANDS  # the CLI reads Fmask's nine bands only

    def with_angles(scene):  # a band folder has no metadata: the tile's sun and view
        return dataclasses.replace(scene, sun_zenith=sun[0], sun_azimuth=sun[1],
                                   metadata=dataclasses.replace(scene.metadata,
                                                                mean_view_zenith=VIEW[0],
                                                                mean_view_azimuth=VIEW[1]))

    if keep_layers:  # run_fmask on the whole tile in memory, every layer kept
        t0 = time.perf_counter()
        scene = with_angles(read_product(folder, bands=bands, progress=False))
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = run_fmask(scene, progress=True, keep_layers=keep_layers)
        t_fmask = time.perf_counter() - t0
        shape = scene.shape
    else:  # as the CLI: fmask_strips over strips read from the product
        grid = product_grid(folder, 20)
        shape = grid.shape
        reading = [0.0]

        def read(r0: int, r1: int):
            t = time.perf_counter()
            scene = read_product(folder, window=Window(0, r0, shape[1], r1 - r0), bands=bands,
                                 progress=False)
            reading[0] += time.perf_counter() - t
            return with_angles(scene)

        t0 = time.perf_counter()
        result = fmask_strips(read, shape, scratch=folder / "bands.scratch",
                              read_rows=strip_rows_for(shape[1]), progress=True)
        t_read, t_fmask = reading[0], time.perf_counter() - t0 - reading[0]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    heights = result.layers["cloud_heights"]
    return {"scene": scene_name, "sun_zenith": sun[0], "keep_layers": keep_layers,
            "path": "run_fmask" if keep_layers else "fmask_strips",
            "bands": len(bands), "shape": list(shape), "read_s": t_read, "fmask_s": t_fmask,
            "peak_rss_gb": peak_gb, "objects": int(len(heights) - 1),
            "matched": int(np.isfinite(heights).sum()),
            "fractions": {k: round(v, 4) for k, v in class_fractions(result.fmask).items()}}


#: The runs after the main one: (scene, size as a share of --size, keep_layers).
VARIANTS = (("temperate", 1.0, False), ("temperate", 0.5, False), ("polar", 1.0, False))


def _measure(tmp: Path, scene: str, size: int, seed: int, keep_layers: bool,
             env: dict[str, str], written: dict) -> dict:
    """Write the tile (once per scene and size), then run Fmask on it in a fresh process."""
    folder = tmp / f"{scene}_{size}"
    if folder not in written:
        folder.mkdir()
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--phase", "write", "--folder", str(folder),
                        "--size", str(size), "--seed", str(seed), "--scene", scene],
                       check=True, env=env)
        written[folder] = time.perf_counter() - t0
        print(f"synthetic {scene} tile of {size} px written in {written[folder]:.1f} s")
    cmd = [sys.executable, __file__, "--phase", "run", "--folder", str(folder), "--scene", scene]
    out = subprocess.run(cmd + ([] if keep_layers else ["--drop-layers"]), check=True, env=env,
                         stdout=subprocess.PIPE, text=True).stdout
    res = json.loads(out.split("RESULT ", 1)[1])
    res.update(size=size, write_s=written[folder])
    print(f"{scene} {size} px, {res['path']}: read "
          f"{res['read_s']:.1f} s, fmask {res['fmask_s']:.1f} s, peak RSS "
          f"{res['peak_rss_gb']:.2f} GB; fractions {res['fractions']}")
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5490)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phase", choices=("write", "run"), default=None)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--scene", choices=sorted(SCENES), default="temperate")
    parser.add_argument("--drop-layers", action="store_true",
                        help="(run phase) Fmask's nine bands in strips (fmask_strips), as "
                             "the CLI")
    parser.add_argument("--only-main", action="store_true",
                        help="only the main run (temperate tile, layers kept)")
    parser.add_argument("--record", type=Path,
                        default=PROJECT_ROOT / RECORD_DIR / "fmask_tile.json",
                        help="where the JSON record goes (default: %(default)s)")
    parser.add_argument("--no-record", action="store_true", help="write no record")
    args = parser.parse_args()
    if args.phase == "write":
        write_phase(args.folder, args.size, args.seed, args.scene)
        return
    if args.phase == "run":
        print("RESULT " + json.dumps(run_phase(args.folder, args.scene, not args.drop_layers)))
        return
    env = dict(os.environ, GDAL_PAM_ENABLED="NO")
    start = time.perf_counter()
    written: dict = {}
    with tempfile.TemporaryDirectory(prefix="fmask_bench_") as tmp:
        res = _measure(Path(tmp), "temperate", args.size, args.seed, True, env, written)
        variants = [] if args.only_main else [
            _measure(Path(tmp), scene, max(6, int(round(args.size * share / 6)) * 6), args.seed,
                     keep, env, written) for scene, share, keep in VARIANTS]
    print(f"main tile {res['shape'][0]} x {res['shape'][1]} px (synthetic, seed {args.seed}), "
          f"{os.cpu_count()} CPUs: ratio fmask/read {res['fmask_s'] / res['read_s']:.1f}; "
          f"cloud objects {res['objects']}, matched {res['matched']}")
    ok_t, ok_m = res["fmask_s"] <= TARGET_S, res["peak_rss_gb"] <= TARGET_GB
    print(f"targets: time <= {TARGET_S:.0f} s {'met' if ok_t else 'MISSED'}; "
          f"memory <= {TARGET_GB:.0f} GB {'met' if ok_m else 'MISSED'}")
    if not args.no_record:
        results = {"size": args.size, "seed": args.seed, **res,
                   "fmask_read_ratio": res["fmask_s"] / res["read_s"], "variants": variants}
        path = write_benchmark_record(args.record, "fmask_tile", results=results,
                                      args={"size": args.size, "seed": args.seed,
                                            "only_main": args.only_main},
                                      seconds=time.perf_counter() - start)
        print(f"record written: {path}")


if __name__ == "__main__":
    main()
