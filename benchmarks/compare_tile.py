"""Benchmark: dfmask against s2cloudless and ukis-csmask on one full Sentinel-2 tile, end to end.

Targets (issue 10 item 6, one 5490 x 5490 px tile at 20 m, 2 CPU cores): dfmask stage 0 at
least 8 x and stage 3 at least 4 x faster than s2cloudless end to end, and every dfmask stage
at least as fast as ukis-csmask 1.0 at equal resolution (20 m for all). The ratios come from
measurements of the same tile in the same run, interleaved, because speeds on this kind of
machine vary 2-3 x from minute to minute (``docs/PEERS.md``).

"End to end" is from the SAFE product on disk to the method's class map:

* ``dfmask stage N``: :func:`dfmask_lib.predict.predict_product` (read the model's six bands
  in strips, predict, write the COG), default stages 0 and 3 (``--stages``);
* ``s2cloudless``: :func:`dfmask_lib.reader.read_product` of its ten bands at 20 m, then
  :meth:`dfmask_lib.peers.S2Cloudless.predict`;
* ``ukis-csmask``: ``read_product`` of its six bands at 20 m, then
  :meth:`dfmask_lib.peers.UkisCsmask.predict` (ukis-csmask 1.0.0);
* ``ukis-csmask-0.2.1`` (``--with-021``): the same with :class:`dfmask_lib.peers.UkisCsmask021`.

Each measurement runs in its own process (wall seconds, Mpx/s, peak RSS of that process).
``--repeats N`` runs N rounds of all methods, the order rotated by one each round; the table
gives the median wall time (and Mpx/s from it) and the largest peak RSS. A method that cannot
run here (its optional package or model missing: :meth:`dfmask_lib.peers.Peer.unavailable`)
is reported as skipped with the reason, and the goals that need it as not measured.

The tile is *synthetic*: the same cached L1C SAFE product (JPEG2000 bands at 10/20/60 m) that
``benchmarks/predict_tile.py`` writes and reuses (:func:`predict_tile.make_product`, in
``data/generated/bench/predict_tile_<size>_s<seed>/``; about 5 minutes and 6 GB the first time
for 5490 px). dfmask runs with the stage U-Nets' *random* initial weights
(:func:`predict_tile.write_checkpoints`): timing does not depend on the weights, so the class
maps are meaningless. The peers run their shipped models.

Usage::

    python benchmarks/compare_tile.py                       # 5490 px, stages 0 and 3, one round
    python benchmarks/compare_tile.py --repeats 3           # three interleaved rounds (~30 min)
    python benchmarks/compare_tile.py --stages 0,1,2,3 --with-021
    python benchmarks/compare_tile.py --sizes 1098 --stages 0   # a quick look (goals are for 5490)

One round of stages 0 and 3 and both peers on the full tile takes about 10 minutes on 2 cores.

The result is also written as a record (:func:`dfmask_lib.performance.write_benchmark_record`)
to ``benchmarks/records/compare_tile.json`` (``--record PATH`` elsewhere, ``--no-record`` not at
all), which the book's performance chapter renders.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from predict_tile import _peak_gb, make_product, predict_phase, write_checkpoints  # noqa: E402

from dfmask_lib.paths import PROJECT_ROOT  # noqa: E402
from dfmask_lib.performance import (COMPARE_MIN_VS_S2CLOUDLESS, COMPARE_MIN_VS_UKIS,  # noqa: E402
                                    GOAL_TILE_PX, RECORD_DIR, write_benchmark_record)

#: Goals: minimum speed-up of a dfmask stage over s2cloudless (end to end).
GOAL_VS_S2CLOUDLESS = COMPARE_MIN_VS_S2CLOUDLESS
#: Goal: minimum speed-up of every dfmask stage over ukis-csmask 1.0 (equal resolution).
GOAL_VS_UKIS = COMPARE_MIN_VS_UKIS
GOAL_SIZE = GOAL_TILE_PX
RESOLUTION = 20
S2 = "s2cloudless"
UKIS = "ukis-csmask"
UKIS021 = "ukis-csmask-0.2.1"


def _peer(name: str, threads: int):
    from dfmask_lib.peers import PEERS

    return PEERS[name](threads=threads)


# --------------------------------------------------------------------------- phases (subprocesses)


def peer_phase(product: Path, name: str, threads: int) -> dict:
    """Read the peer's bands at 20 m and predict; wall time split into read and predict."""
    from dfmask_lib.peers import PeerUnavailable
    from dfmask_lib.reader import read_product

    peer = _peer(name, threads)
    reason = peer.unavailable()
    if reason is not None:
        return {"skipped": reason}
    t0 = time.perf_counter()
    scene = read_product(product, bands=peer.bands, resolution=RESOLUTION, progress=False)
    t1 = time.perf_counter()
    try:
        classes = peer.predict(scene)
    except PeerUnavailable as exc:
        return {"skipped": str(exc)}
    t2 = time.perf_counter()
    valid = scene.valid
    return {"seconds": t2 - t0, "read_s": t1 - t0, "predict_s": t2 - t1, "peak_gb": _peak_gb(),
            "cloud": float((classes[valid] == 2).mean()) if valid.any() else 0.0}


def dfmask_phase(product: Path, checkpoint: Path, out: Path, config: dict, threads: int) -> dict:
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    return predict_phase(product, checkpoint, out, config)


# --------------------------------------------------------------------------- driver


def _run(*args: str) -> dict:
    """One phase in a fresh process; a crash is returned as ``{"failed": reason}``."""
    env = dict(os.environ, GDAL_PAM_ENABLED="NO")
    proc = subprocess.run([sys.executable, __file__, *args], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0 or "RESULT " not in proc.stdout:
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return {"failed": f"exit {proc.returncode}: {tail[-1] if tail else 'no message'}"}
    return json.loads(proc.stdout.split("RESULT ", 1)[1])


def _goal(label: str, speedup: float | None, goal: float, missing: str | None) -> str:
    if speedup is None:
        return f"{label} >= {goal:g}x: not measured ({missing})"
    return f"{label} >= {goal:g}x: {speedup:.2f}x, {'met' if speedup >= goal else 'MISSED'}"


def _ratio(ref: dict | None, row: dict) -> str:
    if ref is None or "wall" not in ref or "wall" not in row:
        return "-"
    return f"{ref['wall'] / row['wall']:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=str(GOAL_SIZE), help="tile sides (px), comma-separated")
    parser.add_argument("--stages", default="0,3", help="dfmask stage models, comma-separated")
    parser.add_argument("--repeats", type=int, default=1,
                        help="interleaved rounds of all methods (order rotated each round)")
    parser.add_argument("--with-021", action="store_true",
                        help="also time ukis-csmask 0.2.1 (raw 5 classes)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for every method (torch, LightGBM, onnxruntime); 0: each "
                             "library's default")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--overlap", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--phase", choices=("make", "dfmask", "peer"), default=None)
    parser.add_argument("--product", type=Path)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--size", type=int)
    parser.add_argument("--peer")
    parser.add_argument("--config", default="{}")
    parser.add_argument("--record", type=Path,
                        default=PROJECT_ROOT / RECORD_DIR / "compare_tile.json",
                        help="where the JSON record goes (default: %(default)s)")
    parser.add_argument("--no-record", action="store_true", help="write no record")
    args = parser.parse_args()
    start = time.perf_counter()

    from dfmask_lib.paths import GENERATED_DIR

    cache = GENERATED_DIR / "bench"  # predict_tile.py's cache: the tile is written only once
    if args.phase == "make":
        path = make_product(cache / f"predict_tile_{args.size}_s{args.seed}", args.size, args.seed)
        print("RESULT " + json.dumps({"product": str(path), "peak_gb": _peak_gb()}))
        return
    if args.phase == "dfmask":
        print("RESULT " + json.dumps(dfmask_phase(args.product, args.checkpoint, args.out,
                                                  json.loads(args.config), args.threads)))
        return
    if args.phase == "peer":
        print("RESULT " + json.dumps(peer_phase(args.product, args.peer, args.threads)))
        return

    from dfmask_lib.predict import PredictConfig

    given = {k: v for k, v in (("window", args.window), ("overlap", args.overlap),
                               ("batch_size", args.batch_size)) if v is not None}
    cfg = dataclasses.asdict(PredictConfig(device="cpu", **given))
    sizes = [int(s) for s in args.sizes.split(",")]
    stages = [int(s) for s in args.stages.split(",")]
    peers = [S2, UKIS] + ([UKIS021] if args.with_021 else [])
    methods = [f"dfmask stage {s}" for s in stages] + peers
    skipped = {}
    labels = {f"dfmask stage {s}": f"dfmask stage {s}" for s in stages}
    for name in peers:  # a missing package is known before any run
        peer = _peer(name, args.threads)
        labels[name] = f"{peer.label or name} ({len(peer.bands)} bands)"
        reason = peer.unavailable()
        if reason is not None:
            skipped[name] = reason
            print(f"{name}: skipped ({reason})", flush=True)
    print(f"{os.cpu_count()} CPUs, threads {args.threads or 'library default'}; dfmask window "
          f"{cfg['window']}, overlap {cfg['overlap']}, batch {cfg['batch_size']}, channels_last "
          f"{cfg['channels_last']}, fp32, random weights; peers read at {RESOLUTION} m; "
          f"{args.repeats} round(s)", flush=True)

    tables = []
    with tempfile.TemporaryDirectory(prefix="compare_bench_") as tmp:
        tmp = Path(tmp)
        ckpts = write_checkpoints(tmp, stages)
        for size in sizes:
            t0 = time.perf_counter()
            made = _run("--phase", "make", "--size", str(size), "--seed", str(args.seed))
            if "failed" in made:
                raise SystemExit(f"cannot write the {size} px product: {made['failed']}")
            product = Path(made["product"])
            print(f"{size} px product ready in {time.perf_counter() - t0:.0f} s: {product}",
                  flush=True)
            runs: dict[str, list[dict]] = {m: [] for m in methods}
            for rnd in range(args.repeats):
                k = rnd % len(methods)
                for method in methods[k:] + methods[:k]:
                    if method in skipped:
                        continue
                    common = ("--product", str(product), "--threads", str(args.threads))
                    if method.startswith("dfmask"):
                        stage = int(method.rsplit(" ", 1)[1])
                        res = _run("--phase", "dfmask", *common, "--checkpoint",
                                   str(ckpts[stage]), "--out", str(tmp / f"s{stage}_{size}.tif"),
                                   "--config", json.dumps(cfg))
                    else:
                        res = _run("--phase", "peer", *common, "--peer", method)
                    if "skipped" in res or "failed" in res:
                        skipped[method] = res.get("skipped") or f"failed: {res['failed']}"
                        print(f"  round {rnd + 1} {method}: {skipped[method]}", flush=True)
                        continue
                    runs[method].append(res)
                    split = (f" (read {res['read_s']:.1f} s + predict {res['predict_s']:.1f} s)"
                             if "read_s" in res else "")
                    print(f"  round {rnd + 1} {method}: {res['seconds']:.1f} s{split}, "
                          f"{res['peak_gb']:.2f} GB", flush=True)
            mpx = size * size / 1e6
            rows = {}
            for method in methods:
                done = runs[method]
                if method in skipped and not done:
                    rows[method] = {"skipped": skipped[method]}
                    continue
                wall = statistics.median(r["seconds"] for r in done)
                rows[method] = {"wall": wall, "mpx_s": mpx / wall, "n": len(done),
                                "peak_gb": max(r["peak_gb"] for r in done),
                                "walls": [r["seconds"] for r in done]}
                if "read_s" in done[0]:
                    rows[method]["read_s"] = statistics.median(r["read_s"] for r in done)
                    rows[method]["predict_s"] = statistics.median(r["predict_s"] for r in done)
            tables.append((size, rows))

    for size, rows in tables:
        ref_s2, ref_uk = rows.get(S2), rows.get(UKIS)
        print()
        print(f"{size} x {size} px tile ({size * size / 1e6:.1f} Mpx at 20 m), medians of "
              f"{args.repeats} round(s):")
        print()
        print("| method | wall s | Mpx/s | peak RSS GB | x vs s2cloudless | x vs ukis-csmask |")
        print("|---|---|---|---|---|---|")
        for method, row in rows.items():
            if "wall" not in row:
                print(f"| {method} | skipped: {row['skipped']} | | | | |")
                continue
            print(f"| {method} | {row['wall']:.1f} | {row['mpx_s']:.2f} | {row['peak_gb']:.2f} | "
                  f"{_ratio(ref_s2, row)} | {_ratio(ref_uk, row)} |")
        print()
        if size != GOAL_SIZE:
            print(f"(the goals are defined on the full {GOAL_SIZE} px tile; on {size} px they "
                  "are indicative only)")
        miss_s2 = None if ref_s2 and "wall" in ref_s2 else (
            (ref_s2 or {}).get("skipped", "not run"))
        miss_uk = None if ref_uk and "wall" in ref_uk else (
            (ref_uk or {}).get("skipped", "not run"))
        for stage in stages:
            row = rows[f"dfmask stage {stage}"]
            mine = row.get("wall")
            if mine is None:
                why = f"dfmask stage {stage} {row['skipped']}"
            for ref, goal, miss, name in (
                    (ref_s2, GOAL_VS_S2CLOUDLESS.get(stage), miss_s2, "s2cloudless"),
                    (ref_uk, GOAL_VS_UKIS, miss_uk, "ukis-csmask 1.0")):
                if goal is None:
                    continue
                label = f"stage {stage} vs {name}"
                if mine is None:
                    print(_goal(label, None, goal, why))
                elif miss is not None:
                    print(_goal(label, None, goal, f"{name}: {miss}"))
                else:
                    print(_goal(label, ref["wall"] / mine, goal, None))
    if not args.no_record:
        results = {"config": cfg, "stages": stages, "repeats": args.repeats,
                   "threads": args.threads, "resolution": RESOLUTION,
                   "tiles": [{"size": size, "methods": {
                       m: {"label": labels.get(m, m), **row} for m, row in rows.items()}}
                       for size, rows in tables]}
        run_args = {"sizes": sizes, "stages": stages, "repeats": args.repeats,
                    "with_021": args.with_021, "threads": args.threads, "seed": args.seed,
                    "window": args.window, "overlap": args.overlap,
                    "batch_size": args.batch_size}
        path = write_benchmark_record(args.record, "compare_tile", args=run_args,
                                      results=results, seconds=time.perf_counter() - start)
        print(f"record written: {path}")


if __name__ == "__main__":
    main()
