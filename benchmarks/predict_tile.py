"""Benchmark: predict a full Sentinel-2 tile (5490 x 5490 px at 20 m) end to end, per stage.

Targets (issue 9, 2 CPU cores): stage 0 <= 1.5 x the time of reading the model's bands,
stage 3 <= 3 x, peak RSS < 4 GB, and the same peak RSS (+-10 %) on a tile of half the side.

The tile is a *synthetic* L1C SAFE product with JPEG2000 bands at their native 10/20/60 m
resolution, written by :func:`dfmask_lib.synthetic.write_safe`: a seeded scene of at most
1098 px (:func:`dfmask_lib.synthetic.generate`) mirrored (``numpy.pad`` symmetric) to the
requested size, because generating 5490 px directly takes too much memory. It is written
once into ``data/generated/bench/`` (about 5 minutes and 6 GB for 5490 px) and reused.

Models: the four stage U-Nets (:data:`dfmask_lib.unet.STAGES`) with random initial weights,
saved as checkpoints in the format :func:`dfmask_lib.train.load_checkpoint` reads (timing
does not depend on the weights). Each measurement runs in its own process, for its own
peak RSS:

* ``read``: :func:`dfmask_lib.reader.read_product` of the model's bands (B02 B03 B04 B08 B11
  B12) in one call: the reference;
* ``predict``: :func:`dfmask_lib.predict.predict_product` (read in strips, predict, write
  the COG), wall time and peak RSS;
* ``bf16``: fp32 against bf16 autocast on a crop of the tile: share of pixels whose class
  changes and speed, with a *trained* model when one is found (the book's stage-0 run,
  ``data/generated/default/runs/synthetic/stage0/best.pt``, or ``--trained``) and with the
  random stage models for contrast.

Usage::

    python benchmarks/predict_tile.py                          # 5490 and 2748 px, stages 0 and 3
    python benchmarks/predict_tile.py --sizes 5490 --stages 0,1,2,3
    python benchmarks/predict_tile.py --sizes 1098 --stages 0  # a quick look

The half size is 2748, not 2745: synthetic products need a multiple of 6 px (10/20/60 m grids).

The result is also written as a record (:func:`dfmask_lib.performance.write_benchmark_record`)
to ``benchmarks/records/predict_tile.json`` (``--record PATH`` elsewhere, ``--no-record`` not at
all), which the book's performance chapter renders. With the defaults and the products cached,
about 15 minutes on 2 cores.
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

from dfmask_lib.paths import PROJECT_ROOT
from dfmask_lib.performance import (PREDICT_MAX_GB, PREDICT_MAX_READ_RATIO, PREDICT_RSS_TOLERANCE,
                                    RECORD_DIR, write_benchmark_record)

TARGET_RATIO = PREDICT_MAX_READ_RATIO
TARGET_GB = PREDICT_MAX_GB
BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
BASE_SIZE = 1098  # the generated scene, mirrored to larger sizes
TRAINED = Path("data/generated/default/runs/synthetic/stage0/best.pt")


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


# --------------------------------------------------------------------------- phases (subprocesses)


def make_product(folder: Path, size: int, seed: int) -> Path:
    """The cached synthetic SAFE of ``size`` px (written if missing); returns the .SAFE path."""
    from dfmask_lib.synthetic.safe_writer import ProductInfo, product_name, write_safe
    from dfmask_lib.synthetic.scene import SynthConfig, generate

    info = ProductInfo(tile_id="33XWJ", epsg=32633, ulx=399960, uly=8000040,
                       sensing_time="2020-07-12T12:05:21", relative_orbit=38,
                       absolute_orbit=12345, location="benchmark (mirrored synthetic scene)")
    target = folder / product_name(info)
    if target.exists():
        return target
    base = min(size, BASE_SIZE)
    scene = generate(SynthConfig(size=base, seed=seed))
    if size > base:
        def grow(a: np.ndarray) -> np.ndarray:
            pad = [(0, 0)] * (a.ndim - 2) + [(0, size - base), (0, size - base)]
            return np.pad(a, pad, mode="symmetric")

        arrays = {f.name: grow(getattr(scene, f.name)) for f in dataclasses.fields(scene)
                  if isinstance(getattr(scene, f.name), np.ndarray)}
        scene = dataclasses.replace(scene, config=dataclasses.replace(scene.config, size=size),
                                    **arrays)
    return write_safe(scene, info, folder)


def read_phase(product: Path) -> dict:
    from dfmask_lib.reader import read_product

    t0 = time.perf_counter()
    scene = read_product(product, bands=BANDS, progress=False)
    return {"seconds": time.perf_counter() - t0, "peak_gb": _peak_gb(),
            "shape": list(scene.shape), "valid": float(scene.valid.mean())}


def predict_phase(product: Path, checkpoint: Path, out: Path, config: dict) -> dict:
    from dfmask_lib.predict import PredictConfig, predict_product

    t0 = time.perf_counter()
    res = predict_product(checkpoint, product, out, config=PredictConfig(**config),
                          overwrite=True, progress=False)
    return {"seconds": time.perf_counter() - t0, "peak_gb": _peak_gb(),
            "fractions": {k: round(v, 4) for k, v in res.class_fractions.items()}}


def bf16_phase(product: Path, checkpoint: Path, crop: int, config: dict) -> dict:
    """Share of valid pixels whose class changes under bf16 autocast, on a crop of the tile."""
    from dfmask_lib.patches import input_stack
    from dfmask_lib.predict import predict_array
    from dfmask_lib.reader import Window, read_product
    from dfmask_lib.train import load_checkpoint

    model, _, _ = load_checkpoint(checkpoint)
    scene = read_product(product, bands=BANDS, progress=False, window=Window(0, 0, crop, crop))
    image = input_stack(scene)
    kw = {k: config[k] for k in ("window", "overlap", "batch_size", "channels_last")}
    out = {}
    for amp in (False, True, False, True):  # interleaved: the second pair is timed
        t0 = time.perf_counter()
        pred = predict_array(model, image, valid=scene.valid, amp=amp, device="cpu", **kw)
        out[amp] = (pred, time.perf_counter() - t0)
    (fp32, t32), (bf16, t16) = out[False], out[True]
    valid = scene.valid
    return {"changed": float((fp32.classes != bf16.classes)[valid].mean()),
            "mpx_fp32": valid.size / 1e6 / t32, "mpx_bf16": valid.size / 1e6 / t16,
            "fractions_fp32": np.bincount(fp32.classes[valid], minlength=6)[1:].tolist()}


# --------------------------------------------------------------------------- driver


def _run(*args: str) -> dict:
    env = dict(os.environ, GDAL_PAM_ENABLED="NO")
    out = subprocess.run([sys.executable, __file__, *args], check=True, env=env,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.split("RESULT ", 1)[1])


def write_checkpoints(folder: Path, stages: list[int]) -> dict[int, Path]:
    """Random-weight checkpoints of the stage U-Nets (``stageN.pt`` in ``folder``), seeded by
    stage, in the format :func:`dfmask_lib.train.load_checkpoint` reads."""
    import torch

    from dfmask_lib.config import config_to_dict
    from dfmask_lib.train import TrainConfig
    from dfmask_lib.unet import UNet

    paths = {}
    for stage in stages:
        torch.manual_seed(stage)
        cfg = TrainConfig(stage=stage, num_workers=0)
        path = folder / f"stage{stage}.pt"
        torch.save({"model": UNet(cfg.model_config()).state_dict(),
                    "config": config_to_dict(cfg), "epoch": 0}, path)
        paths[stage] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5490,2748", help="tile sides (px), comma-separated")
    parser.add_argument("--stages", default="0,3", help="stage models, comma-separated")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--overlap", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--bf16-crop", type=int, default=2048,
                        help="side of the crop for the bf16 check (0: skip it)")
    parser.add_argument("--trained", type=Path, default=TRAINED,
                        help="a trained checkpoint for the bf16 check")
    parser.add_argument("--phase", choices=("make", "read", "predict", "bf16"), default=None)
    parser.add_argument("--product", type=Path)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--size", type=int)
    parser.add_argument("--config", default="{}")
    parser.add_argument("--record", type=Path,
                        default=PROJECT_ROOT / RECORD_DIR / "predict_tile.json",
                        help="where the JSON record goes (default: %(default)s)")
    parser.add_argument("--no-record", action="store_true", help="write no record")
    args = parser.parse_args()
    start = time.perf_counter()

    from dfmask_lib.paths import GENERATED_DIR
    from dfmask_lib.predict import PredictConfig

    cache = GENERATED_DIR / "bench"
    if args.phase == "make":
        path = make_product(cache / f"predict_tile_{args.size}_s{args.seed}", args.size, args.seed)
        print("RESULT " + json.dumps({"product": str(path), "peak_gb": _peak_gb()}))
        return
    config = json.loads(args.config)
    if args.phase == "read":
        print("RESULT " + json.dumps(read_phase(args.product)))
        return
    if args.phase == "predict":
        print("RESULT " + json.dumps(predict_phase(args.product, args.checkpoint, args.out,
                                                   config)))
        return
    if args.phase == "bf16":
        print("RESULT " + json.dumps(bf16_phase(args.product, args.checkpoint, args.size,
                                                config)))
        return

    given = {k: v for k, v in (("window", args.window), ("overlap", args.overlap),
                               ("batch_size", args.batch_size)) if v is not None}
    cfg = dataclasses.asdict(PredictConfig(device="cpu", **given))
    sizes = [int(s) for s in args.sizes.split(",")]
    stages = [int(s) for s in args.stages.split(",")]
    print(f"{os.cpu_count()} CPUs; window {cfg['window']}, overlap {cfg['overlap']}, batch "
          f"{cfg['batch_size']}, channels_last {cfg['channels_last']}, fp32", flush=True)
    rows, rss, tiles = [], {}, []
    with tempfile.TemporaryDirectory(prefix="predict_bench_") as tmp:
        tmp = Path(tmp)
        ckpts = write_checkpoints(tmp, stages)
        for size in sizes:
            t0 = time.perf_counter()
            made = _run("--phase", "make", "--size", str(size), "--seed", str(args.seed))
            product = Path(made["product"])
            print(f"{size} px product ready in {time.perf_counter() - t0:.0f} s: {product}",
                  flush=True)
            reads = [_run("--phase", "read", "--product", str(product))]
            print(f"  read: {reads[-1]['seconds']:.1f} s, {reads[-1]['peak_gb']:.2f} GB",
                  flush=True)
            preds = {}
            for stage in stages:
                preds[stage] = _run("--phase", "predict", "--product", str(product),
                                    "--checkpoint", str(ckpts[stage]), "--out",
                                    str(tmp / f"s{stage}_{size}.tif"), "--config",
                                    json.dumps(cfg))
                print(f"  stage {stage}: {preds[stage]['seconds']:.1f} s, "
                      f"{preds[stage]['peak_gb']:.2f} GB", flush=True)
            reads.append(_run("--phase", "read", "--product", str(product)))  # bracket the runs
            print(f"  read: {reads[-1]['seconds']:.1f} s", flush=True)
            read_s = float(np.mean([r["seconds"] for r in reads]))
            tiles.append({"size": size, "product": str(product), "reads": reads,
                          "read_s": read_s, "predict": {
                              str(stage): {**res, "read_ratio": res["seconds"] / read_s}
                              for stage, res in preds.items()}})
            mpx = size * size / 1e6
            rows.append((size, "read 6 bands (reference)", read_s, mpx / read_s,
                         max(r["peak_gb"] for r in reads), 1.0, None))
            for stage, res in preds.items():
                rows.append((size, f"predict stage {stage}", res["seconds"], mpx / res["seconds"],
                             res["peak_gb"], res["seconds"] / read_s, stage))
                rss.setdefault(stage, {})[size] = res["peak_gb"]
        bf16 = []
        if args.bf16_crop:
            crop = min(args.bf16_crop, max(sizes))
            product = Path(_run("--phase", "make", "--size", str(max(sizes)), "--seed",
                                str(args.seed))["product"])
            models = ([("trained stage 0 (book)", args.trained)] if args.trained.is_file() else [])
            models += [(f"random stage {s}", ckpts[s]) for s in stages]
            for name, path in models:
                res = _run("--phase", "bf16", "--product", str(product), "--checkpoint",
                           str(path), "--size", str(crop), "--config", json.dumps(cfg))
                bf16.append((name, res))
                print(f"  bf16 {name}: {100 * res['changed']:.3f} % changed", flush=True)

    print()
    print("| tile px | step | wall s | Mpx/s | peak RSS GB | x read | target |")
    print("|---|---|---|---|---|---|---|")
    for size, step, sec, mpx_s, gb, ratio, stage in rows:
        if stage is None:
            target = ""
        else:
            lim = TARGET_RATIO.get(stage)
            ok_r = lim is None or ratio <= lim
            ok_m = gb < TARGET_GB
            target = (f"{'<= %.1fx ' % lim if lim else ''}< {TARGET_GB:.0f} GB: "
                      f"{'met' if ok_r and ok_m else 'MISSED'}")
        print(f"| {size} | {step} | {sec:.1f} | {mpx_s:.2f} | {gb:.2f} | {ratio:.2f} | {target} |")
    if len(sizes) > 1:
        for stage, by_size in rss.items():
            big, small = by_size[max(sizes)], by_size[min(sizes)]
            print(f"stage {stage} peak RSS {max(sizes)} px / {min(sizes)} px: {big:.2f} / "
                  f"{small:.2f} GB = {big / small:.2f} (target 1.00 +- "
                  f"{PREDICT_RSS_TOLERANCE:.2f}: "
                  f"{'met' if abs(big / small - 1) <= PREDICT_RSS_TOLERANCE else 'MISSED'})")
    if bf16:
        print(f"\nbf16 autocast vs fp32 on a {crop} x {crop} px crop of the tile:")
        for name, res in bf16:
            print(f"  {name}: class changed on {100 * res['changed']:.3f} % of valid pixels; "
                  f"{res['mpx_fp32']:.2f} -> {res['mpx_bf16']:.2f} Mpx/s")
    if not args.no_record:
        results = {"config": cfg, "sizes": sizes, "stages": stages, "tiles": tiles,
                   "bf16": {"crop": crop, "rows": [{"model": name, **res} for name, res in bf16]}
                   if bf16 else None}
        run_args = {"sizes": sizes, "stages": stages, "seed": args.seed, "window": args.window,
                    "overlap": args.overlap, "batch_size": args.batch_size,
                    "bf16_crop": args.bf16_crop, "trained": args.trained,
                    "trained_found": args.trained.is_file()}
        path = write_benchmark_record(args.record, "predict_tile", args=run_args,
                                      results=results, seconds=time.perf_counter() - start)
        print(f"record written: {path}")


if __name__ == "__main__":
    main()
