"""Experiment: does training on temperate synthetic scenes (+ photometric augmentation) transfer
to real Sentinel-2 data, without losing the polar synthetic scores? (issue 11)

Two stage-0 U-Nets (the supervised baseline: all patches, Fmask labels) are compared:

* **before**: the default study's model, trained on the 16 polar synthetic TRAIN scenes of the
  default book (``data/generated/default/runs/synthetic/stage0/best.pt``, or ``--before``); when
  it is missing it is trained here on the same data with the same settings;
* **after**: trained on the same 16 polar scenes, changed by the options: ``--cloud-model``
  regenerates them with another cloud model (``two_stream``: the surface shows through thick
  cloud, see ``dfmask_lib/synthetic/clouds.py``); ``--n-temperate N`` adds N *temperate*
  synthetic scenes (farmland, forest, towns: ``dfmask synth --temperate-share 1``, spectra from
  unscored real training scenes, see ``dfmask_lib/synthetic/make_spectra.py``; 0 = none), their
  validation scenes joining the polar VALIDATION; ``--photometric`` (default on) adds photometric
  augmentation (it turns the geometric augmentation on as well).

Both are scored on the *real* data checks (:mod:`dfmask_lib.realchecks`: the ukis chip at 10 and
20 m, 18SVG false cloud, Betsiboka, the Alaska glacier points), against the project's Fmask with
B08 for B8A, and on the whole synthetic polar TEST scenes of the default book (the scores that must
not get worse) and the temperate TEST scenes. Nothing here trains on real data: the real checks
are held out.

Usage (the commands behind the records in ``benchmarks/records/``; each in its own ``--out``)::

    python benchmarks/real_transfer.py --n-temperate 0 --no-photometric --curve 2   # control
    python benchmarks/real_transfer.py --n-temperate 0 --photometric --curve 2
    python benchmarks/real_transfer.py --n-temperate 0 --no-photometric --cloud-model two_stream \
        --curve 2
    python benchmarks/real_transfer.py --n-temperate 0 --no-photometric --epochs 8
    python benchmarks/real_transfer.py --no-photometric                 # + 8 temperate
    python benchmarks/real_transfer.py --cloud-model beer_lambert       # + 8 temperate, photometric

Each run takes 10-25 minutes on 2 cores (``--curve`` adds about 10 s per kept epoch). Scenes, patches and runs go to ``--out`` (default
``data/generated/real_transfer/``, cached like the book: reruns reuse what is up to date; give
each variant its own ``--out``). The record (:mod:`dfmask_lib.transfer`) goes to
``benchmarks/records/real_transfer_<variant>.json``; notebook ``06_comparison`` renders every
record there as the before/after table, so commit it to update the book.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default-dir", type=Path, default=Path("data/generated/default"),
                        help="the default book's data (synthetic/, runs/)")
    parser.add_argument("--out", type=Path, default=Path("data/generated/real_transfer"))
    parser.add_argument("--before", type=Path, default=None,
                        help="checkpoint of the polar-only model (default: the book's)")
    parser.add_argument("--n-temperate", type=int, default=8,
                        help="temperate TRAIN scenes (0: polar scenes only)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--photometric", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--cloud-model", default="setting",
                        choices=("setting", "beer_lambert", "two_stream"),
                        help="cloud model of the 'after' training scenes: each landscape's own "
                             "(polar beer_lambert, temperate two_stream) or one for all; with "
                             "a model, the polar TRAIN/VALIDATION scenes are regenerated with it")
    parser.add_argument("--size", type=int, default=504,
                        help="side of the temperate scenes, px (the default book's: 504)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curve", type=int, default=0, metavar="N",
                        help="keep every N-th epoch of the 'after' run and score each on the "
                             "real checks and the polar TEST scenes (the transfer curve)")
    parser.add_argument("--record", type=Path, default=None,
                        help="where to write the record (default: benchmarks/records/"
                             "real_transfer_<variant>.json, which the book reads)")
    parser.add_argument("--from-outputs", type=Path, default=None, metavar="LOG",
                        help="train and score nothing: rebuild the record of a finished run from "
                             "the CSV files in --out and its printed log LOG (for runs made "
                             "before records existed); needs --code-version")
    parser.add_argument("--code-version", default=None,
                        help="with --from-outputs: the code version the run was made with")
    args = parser.parse_args()
    if args.from_outputs is not None:
        if not args.code_version:
            raise SystemExit("--from-outputs needs --code-version (the run's commit)")
        print(f"record: {record_from_outputs(args)}")
        return

    from dfmask_lib.compare import compare_products
    from dfmask_lib.fmask import ensure_fmask
    from dfmask_lib.metrics import format_table
    from dfmask_lib.patches import PatchConfig
    from dfmask_lib.peers import OwnFmask, OwnFmaskB08
    from dfmask_lib.peers.methods import DfmaskModel, Method
    from dfmask_lib.products import find_products, make_data
    from dfmask_lib.realchecks import run_real_checks
    from dfmask_lib.synthetic.splits import ensure_splits
    from dfmask_lib.train import TrainConfig, train
    from dfmask_lib.transfer import write_record
    from dfmask_lib.version import version_string

    t0 = time.perf_counter()
    polar = args.default_dir / "synthetic"
    if not (polar / "TRAIN").is_dir():
        raise SystemExit(f"{polar} has no synthetic splits; run `make book` (notebook 01) first")
    size = args.size
    polar_train = {"TRAIN": find_products(polar / "TRAIN"),
                   "VALIDATION": find_products(polar / "VALIDATION")}
    if args.cloud_model != "setting":  # the same polar scenes with another cloud model
        saved = json.loads((polar / "synth_splits.json").read_text())
        polar_train = ensure_splits(args.out / "polar", n_train=saved["n_train"],
                                    n_val=saved["n_val"], n_test=saved["n_test"],
                                    size=saved["size"], seed=saved["seed"],
                                    cloud_model=args.cloud_model)
    temperate = {"TRAIN": [], "VALIDATION": [], "TEST": []}
    if args.n_temperate > 0:
        n_val = max(1, args.n_temperate // 4)
        temperate = ensure_splits(args.out / "temperate", n_train=args.n_temperate, n_val=n_val,
                                  n_test=n_val, size=size, seed=args.seed + 1,
                                  temperate_share=1.0, cloud_model=None
                                  if args.cloud_model == "setting" else args.cloud_model)
    # the "after" training and validation folders: polar + temperate products (links)
    folders = {}
    for split in ("TRAIN", "VALIDATION"):
        folder = args.out / "mixed" / split
        folder.mkdir(parents=True, exist_ok=True)
        for product in polar_train[split] + temperate[split]:
            link = folder / product.name
            if not link.exists():
                os.symlink(product.resolve(), link)
        folders[split] = folder
    for product in find_products(folders["TRAIN"]) + find_products(folders["VALIDATION"]):
        ensure_fmask(product)
    train_h5 = make_data(folders["TRAIN"], args.out / "patches" / "train_fmask.h5",
                         PatchConfig(mode="train", seed=args.seed))
    val_h5 = make_data(folders["VALIDATION"], args.out / "patches" / "validation_truth.h5",
                       PatchConfig(mode="test"))
    base = dict(stage=0, in_channels=7, full=True, max_epochs=args.epochs, batch_size=8,
                amp=True, channels_last=True, seed=args.seed)

    before = args.before or args.default_dir / "runs" / "synthetic" / "stage0" / "best.pt"
    if not before.is_file():  # train it on the polar data only, like notebook 03
        polar_train = make_data(polar / "TRAIN", args.out / "patches" / "polar_train.h5",
                                PatchConfig(mode="train", seed=args.seed))
        polar_val = make_data(polar / "VALIDATION", args.out / "patches" / "polar_val.h5",
                              PatchConfig(mode="test"))
        train(TrainConfig(**base), polar_train, polar_val, args.out / "runs" / "before",
              resume=True, restart_on_change=True)
        before = args.out / "runs" / "before" / "best.pt"
    cfg = TrainConfig(**base, augment=True if args.photometric else None,
                      photometric=args.photometric)
    curve_dir = args.out / "runs" / "after_epochs"

    def keep_epoch(epoch: int, last: Path) -> None:
        if args.curve and (epoch % args.curve == 0 or epoch == args.epochs):
            curve_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(last, curve_dir / f"epoch_{epoch:03d}.pt")

    res = train(cfg, train_h5, val_h5, args.out / "runs" / "after", resume=True,
                restart_on_change=True, on_epoch=keep_epoch)
    print(f"after: {res.epochs_run} epochs, best validation mIoU {res.best_miou:.3f} at epoch "
          f"{res.best_epoch}; {time.perf_counter() - t0:.0f} s so far", flush=True)

    models = [Method.wrap(DfmaskModel(before, name="before", label="stage 0, polar only")),
              Method.wrap(DfmaskModel(args.out / "runs" / "after" / "best.pt", name="after",
                                      label=after_label(args)))]
    checks = run_real_checks(models + [Method.wrap(OwnFmaskB08)], repeats=1)
    checks.to_csv(args.out / "real_checks.csv")
    keep = ("method", "ukis OA", "ukis cloud IoU", "ukis shadow IoU", "ukis water IoU",
            "ukis land IoU", "ukis-20m OA", "18SVG false cloud %", "Betsiboka cloud IoU",
            "glacier mean acc", "glacier called cloud %")
    print("\nreal data checks (held out; nothing here trains on them):")
    print(format_table([{k: r[k] for k in keep} for r in checks.table()]))
    tests = [("polar TEST (the default book's)", "polar", find_products(polar / "TEST"))]
    if args.cloud_model != "setting":
        tests.append((f"polar TEST with {args.cloud_model} clouds", "polar_model",
                      polar_train["TEST"]))
    if temperate["TEST"]:
        tests.append(("temperate TEST", "temperate", temperate["TEST"]))
    synthetic = {}
    for name, stem, products in tests:
        comp = compare_products(products, models + [Method.wrap(OwnFmask)], repeats=1)
        comp.to_csv(args.out / f"{stem}_test.csv")
        synthetic[stem] = comp.overall()
        print(f"\nsynthetic {name}, whole scenes, pooled:")
        print(format_table([{k: r[k] for k in ("method", "OA", "IoU clear land", "IoU cloud",
                                                "IoU cloud shadow", "IoU snow/ice", "IoU water",
                                                "mIoU")} for r in comp.overall()]))
    curve = score_curve(args, curve_dir, res, find_products(polar / "TEST")) if args.curve else []
    seconds = time.perf_counter() - t0
    record = record_path(args)
    write_record(record, variant=variant_name(args), label=after_label(args),
                 code_version=version_string(), args=plain_args(args), seconds=seconds,
                 epochs={"after": res.epochs_run, "best_epoch": res.best_epoch},
                 real_checks=checks.table(), synthetic=synthetic, curve=curve)
    print(f"\nrecord: {record} (the book's 06_comparison reads it); total {seconds:.0f} s")


def score_curve(args: argparse.Namespace, curve_dir: Path, res, polar_test: list[Path]
                ) -> list[dict[str, object]]:
    """Every kept epoch of the "after" run scored on the real checks (not ukis-20m) and on the
    polar TEST scenes: the transfer curve against the synthetic validation mIoU."""
    from dfmask_lib.compare import compare_products
    from dfmask_lib.peers.methods import DfmaskModel, Method
    from dfmask_lib.realchecks import run_real_checks

    paths = [p for p in sorted(curve_dir.glob("epoch_*.pt"))
             if int(p.stem.split("_")[1]) <= res.epochs_run]
    models = [Method.wrap(DfmaskModel(p, name=p.stem, label=p.stem)) for p in paths]
    checks = {r["method"]: r for r in run_real_checks(
        models, checks=("ukis", "18svg", "betsiboka", "glacier")).table()}
    polar = {r["method"]: r for r in compare_products(polar_test, models).overall()}
    rows = []
    for p in paths:
        epoch = int(p.stem.split("_")[1])
        row: dict[str, object] = {"epoch": epoch,
                                  "val_miou": float(res.history[epoch - 1]["val_miou"])}
        row.update({k: checks[p.stem][k] for k in ("ukis OA", "ukis cloud IoU",
                                                    "18SVG false cloud %", "Betsiboka cloud IoU",
                                                    "glacier mean acc")})
        row.update({"polar TEST OA": polar[p.stem]["OA"], "polar TEST mIoU": polar[p.stem]["mIoU"]})
        rows.append(row)
    return rows


def _csv_rows(path: Path) -> list[dict[str, object]]:
    """Rows of a result CSV, numbers as floats (``nan`` -> NaN), text as text."""
    import csv

    def value(v: str) -> object:
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def record_from_outputs(args: argparse.Namespace) -> Path:
    """The record of a finished run, from its CSV outputs in ``args.out`` and its printed log
    (the "after: N epochs, best validation mIoU M at epoch E" and "total S s" lines)."""
    import re

    from dfmask_lib.transfer import write_record

    log = args.from_outputs.read_text().replace("\r", "\n")
    epochs = re.search(r"after: (\d+) epochs, best validation mIoU [\d.]+ at epoch (\d+)", log)
    total = re.search(r"total (\d+) s", log)
    if epochs is None or total is None:
        raise SystemExit(f"{args.from_outputs}: no 'after: ... epochs' or 'total ... s' line")
    label = after_label(args)

    def relabel(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        # rows are [before, after, Fmask ...]; older runs named the after model differently
        return [{**r, "method": label} if i == 1 else r for i, r in enumerate(rows)]

    synthetic = {}
    for path in sorted(args.out.glob("*_test.csv")):
        rows = _csv_rows(path)
        pooled = [r for r in rows if r["scene"] == "pooled"]
        synthetic[path.stem.removesuffix("_test")] = relabel(pooled or rows)
    return write_record(record_path(args), variant=variant_name(args), label=label,
                        code_version=f"{args.code_version} (record rebuilt from the run's CSV "
                                     "outputs)",
                        args=plain_args(args), seconds=float(total.group(1)),
                        epochs={"after": int(epochs.group(1)),
                                "best_epoch": int(epochs.group(2))},
                        real_checks=relabel(_csv_rows(args.out / "real_checks.csv")),
                        synthetic=synthetic)


def record_path(args: argparse.Namespace) -> Path:
    """``--record``, or ``benchmarks/records/real_transfer_<variant>.json``."""
    from dfmask_lib.transfer import RECORD_DIR

    return args.record or RECORD_DIR / f"real_transfer_{variant_name(args)}.json"


def plain_args(args: argparse.Namespace) -> dict[str, object]:
    """The run's arguments for its record (without the record-rebuilding ones)."""
    return {k: v for k, v in vars(args).items() if k not in ("from_outputs", "code_version")}


def variant_name(args: argparse.Namespace) -> str:
    """File-name tag of the variant, e.g. ``polar-two_stream`` or ``temperate8-photometric``."""
    parts = [f"temperate{args.n_temperate}" if args.n_temperate else "polar"]
    if args.cloud_model != "setting":
        parts.append(args.cloud_model)
    if args.photometric:
        parts.append("photometric")
    if args.epochs != 40:
        parts.append(f"{args.epochs}ep")
    return "-".join(parts)


def after_label(args: argparse.Namespace) -> str:
    """What the 'after' model was trained on, in words."""
    parts = ["stage 0, polar"]
    if args.cloud_model != "setting":
        parts.append(f"({args.cloud_model} clouds)")
    if args.n_temperate:
        parts.append(f"+ {args.n_temperate} temperate")
    if args.photometric:
        parts.append("+ photometric")
    label = " ".join(parts)
    return label if args.epochs == 40 else f"{label}, {args.epochs} epochs"


if __name__ == "__main__":
    main()
