"""Benchmark: Fmask on a full 5490 x 5490 px Sentinel-2 tile at 20 m.

Targets (issue 3): <= 90 s and <= 6 GB peak memory on 2 cores. The tile is a
*synthetic*, seeded 13-band reflectance scene made here (textured land, a lake,
cloud blobs at four heights and the shadows they cast with
:func:`dfmask_lib.geometry.shadow_offset`, so shadow matching does real work).

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

Usage: ``python benchmarks/fmask_tile.py [--size 5490] [--seed 0] [--record PATH | --no-record]``.
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
SUN, VIEW = (55.0, 160.0), (5.0, 105.0)
#            B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B10    B11   B12
LAND = (0.10, 0.08, 0.08, 0.06, 0.10, 0.20, 0.25, 0.28, 0.30, 0.10, 0.002, 0.20, 0.10)
CLOUD = (0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 0.20, 0.010, 0.40, 0.30)
WATER = (0.08, 0.07, 0.05, 0.03, 0.03, 0.02, 0.02, 0.02, 0.02, 0.01, 0.001, 0.01, 0.005)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], size: int) -> np.ndarray:
    """Spatially correlated noise, zero mean, unit std (float32)."""
    small = rng.standard_normal((shape[0] // size + 2, shape[1] // size + 2)).astype(np.float32)
    big = ndi.zoom(small, size, order=1)[: shape[0], : shape[1]]
    return (big - big.mean()) / big.std()


def make_tile(size: int, seed: int) -> np.ndarray:
    """(13, size, size) float32 TOA reflectance: land, a lake, ~25 % cloud with shadows."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    refl = np.empty((13, *shape), np.float32)
    texture = 1 + 0.15 * smooth_noise(rng, shape, 40)
    for i, v in enumerate(LAND):
        refl[i] = v * texture
    del texture
    lake = smooth_noise(rng, shape, 400) > 1.5
    refl[:, lake] = np.asarray(WATER, np.float32)[:, None]
    blobs = smooth_noise(rng, shape, 60) > 0.9  # ~18 % in blobs a few km across
    labels, n = ndi.label(blobs)
    height_class = rng.integers(0, 4, n + 1)
    heights = (800.0, 2000.0, 4000.0, 7000.0)
    for k, height in enumerate(heights):  # cast each height class's shadow
        cl = blobs & (height_class[labels] == k)
        dr, dc = (int(np.rint(v)) for v in shadow_offset(height, *SUN, *VIEW, 20.0))
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


def write_phase(folder: Path, size: int, seed: int) -> None:
    refl = make_tile(size, seed)
    profile = {"driver": "GTiff", "height": size, "width": size, "count": 1, "dtype": "uint16",
               "crs": "EPSG:32633", "transform": Affine(20, 0, 399960, 0, -20, 8000040),
               "tiled": True, "blockxsize": 512, "blockysize": 512}
    for i, band in enumerate(S2_BANDS):
        with rasterio.open(folder / f"T33XWJ_{band}.tif", "w", **profile) as ds:
            ds.write(np.clip(np.rint(refl[i] * 10000), 0, 65535).astype(np.uint16), 1)


def run_phase(folder: Path) -> dict[str, float]:
    from dfmask_lib.fmask import class_fractions, run_fmask
    from dfmask_lib.reader import read_product

    t0 = time.perf_counter()
    scene = read_product(folder, progress=False)
    t_read = time.perf_counter() - t0
    scene = dataclasses.replace(scene, sun_zenith=SUN[0], sun_azimuth=SUN[1],
                                metadata=dataclasses.replace(scene.metadata,
                                                             mean_view_zenith=VIEW[0],
                                                             mean_view_azimuth=VIEW[1]))
    t0 = time.perf_counter()
    result = run_fmask(scene, progress=True)
    t_fmask = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    heights = result.layers["cloud_heights"]
    return {"shape": list(scene.shape), "read_s": t_read, "fmask_s": t_fmask,
            "peak_rss_gb": peak_gb, "objects": int(len(heights) - 1),
            "matched": int(np.isfinite(heights).sum()),
            "fractions": {k: round(v, 4) for k, v in class_fractions(result.fmask).items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5490)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phase", choices=("write", "run"), default=None)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--record", type=Path,
                        default=PROJECT_ROOT / RECORD_DIR / "fmask_tile.json",
                        help="where the JSON record goes (default: %(default)s)")
    parser.add_argument("--no-record", action="store_true", help="write no record")
    args = parser.parse_args()
    if args.phase == "write":
        write_phase(args.folder, args.size, args.seed)
        return
    if args.phase == "run":
        print("RESULT " + json.dumps(run_phase(args.folder)))
        return
    env = dict(os.environ, GDAL_PAM_ENABLED="NO")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fmask_bench_") as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--phase", "write", "--folder", tmp,
                        "--size", str(args.size), "--seed", str(args.seed)], check=True, env=env)
        write_s = time.perf_counter() - t0
        print(f"synthetic tile written in {write_s:.1f} s")
        out = subprocess.run([sys.executable, __file__, "--phase", "run", "--folder", tmp],
                             check=True, env=env, stdout=subprocess.PIPE, text=True).stdout
    res = json.loads(out.split("RESULT ", 1)[1])
    print(f"tile {res['shape'][0]} x {res['shape'][1]} px (synthetic, seed {args.seed}), "
          f"{os.cpu_count()} CPUs")
    print(f"read 13 bands (reference): {res['read_s']:.1f} s")
    print(f"run_fmask:                 {res['fmask_s']:.1f} s  "
          f"(ratio fmask/read {res['fmask_s'] / res['read_s']:.1f})")
    print(f"peak RSS (read + fmask):   {res['peak_rss_gb']:.2f} GB")
    print(f"cloud objects {res['objects']}, matched {res['matched']}; fractions {res['fractions']}")
    ok_t, ok_m = res["fmask_s"] <= TARGET_S, res["peak_rss_gb"] <= TARGET_GB
    print(f"targets: time <= {TARGET_S:.0f} s {'met' if ok_t else 'MISSED'}; "
          f"memory <= {TARGET_GB:.0f} GB {'met' if ok_m else 'MISSED'}")
    if not args.no_record:
        results = {"size": args.size, "seed": args.seed, "write_s": write_s, **res,
                   "fmask_read_ratio": res["fmask_s"] / res["read_s"]}
        path = write_benchmark_record(args.record, "fmask_tile", results=results,
                                      args={"size": args.size, "seed": args.seed},
                                      seconds=time.perf_counter() - start)
        print(f"record written: {path}")


if __name__ == "__main__":
    main()
