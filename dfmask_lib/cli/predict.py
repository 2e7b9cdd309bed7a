"""``dfmask predict``: class maps of Sentinel-2 L1C products from a trained model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from ._options import UserPath, product_options

__all__ = ["predict"]

log = logging.getLogger(__name__)


def _is_product(path: Path) -> bool:
    """A path that is one product (not a folder of products): SAFE, zip, file, band folder."""
    if not path.is_dir():
        return True
    if path.name.endswith(".SAFE") or (path / "MTD_MSIL1C.xml").exists() \
            or (path / "MTD_MSIL2A.xml").exists():
        return True
    from ..reader.geotiff import find_band_files

    return bool(find_band_files(path))


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    """Products named on the command line; a folder of products gives its products."""
    from ..products import find_products
    from ..predict import is_prediction_file

    out: list[Path] = []
    for path in paths:
        if _is_product(path):
            out.append(path)
        else:  # outputs of an earlier run lie beside stacks: they are not products
            out.extend(p for p in find_products(path) if not is_prediction_file(p))
    return out


@click.command("predict")
@click.argument("products", nargs=-1, required=True, type=UserPath(path_type=Path))
@click.option("-e", "--experiment", metavar="EXP[/stageN]", default=None,
              help="Experiment: runs/EXP (or a folder path): the best.pt of its highest "
                   "finished stage<N>; EXP/stage2 picks a stage.")
@click.option("--checkpoint", type=UserPath(dir_okay=False, path_type=Path), default=None,
              help="A checkpoint file (best.pt) instead of -e.")
@click.option("-o", "--out-dir", type=UserPath(file_okay=False, path_type=Path), default=None,
              help="Write DIR/<product>_DFMASK_CLASSES.tif (default: inside a SAFE's "
                   "GRANULE/*/IMG_DATA as T<tile>_<datetime>_DFMASK_CLASSES.tif, else beside "
                   "the input).")
@click.option("--overwrite", is_flag=True,
              help="Recompute and replace outputs (default: skip up-to-date ones, recompute stale "
                   "ones, refuse files dfmask did not write).")
@click.option("--probabilities", is_flag=True,
              help="Also write *_DFMASK_PROB.tif: class 1-5 probabilities in percent.")
@click.option("--batch-size", type=click.IntRange(min=1), default=2, show_default=True,
              help="Windows per forward pass.")
@click.option("--amp", is_flag=True,
              help="bf16/fp16 autocast: opt-in, changes the class of ~0.1 % of pixels; "
                   "faster on GPUs and AMX CPUs, not on every CPU.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--window", type=click.IntRange(min=32), default=608, show_default=True,
              help="Prediction window in px (multiple of 32).")
@click.option("--overlap", type=click.IntRange(min=0), default=64, show_default=True,
              help="Overlap of neighbouring windows in px (multiple of 32), blended.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Predict this many products at once in local processes (each with "
                   "CPUs/N threads): one reads its product while another predicts.")
@click.option("--dask", "scheduler", metavar="ADDRESS", default=None,
              help="Run one task per product on a dask.distributed cluster: its scheduler "
                   "address (tcp://host:8786) or scheduler file. Paths must be the same on "
                   "the workers (shared file system).")
@product_options
def predict(products: tuple[Path, ...], experiment: str | None, checkpoint: Path | None,
            out_dir: Path | None, overwrite: bool, probabilities: bool, batch_size: int,
            amp: bool, device: str, window: int, overlap: int, workers: int,
            scheduler: str | None, reader_options: dict[str, Any]) -> None:
    """Predict cloud, shadow, snow/ice and water in each PRODUCT with a trained U-Net.

    PRODUCT is a .SAFE folder, its .zip, a folder of band files, a GeoTIFF stack (with
    --band-names) or a folder of such products. Writes a Cloud-Optimized GeoTIFF of the
    project classes (0 no data, 1 clear land, 2 cloud, 3 shadow, 4 snow/ice, 5 water) on
    the product's 20 m grid and prints the class fractions; with human labels
    (*LABELS.tif) beside the bands, also OA and mIoU. Up-to-date outputs are skipped, so
    an interrupted run is finished by running the same command again; a product that fails
    is reported and the others go on.
    """
    from ..batch import make_jobs, run_jobs
    from ..errors import ConfigError, DfmaskError
    from ..metrics import scores
    from ..predict import PredictConfig, resolve_checkpoint

    if (experiment is None) == (checkpoint is None):
        raise click.UsageError("give either -e EXPERIMENT or --checkpoint FILE")
    if scheduler is not None and workers > 1:
        raise click.UsageError("give either --workers N (this machine) or --dask ADDRESS")
    ckpt = checkpoint if checkpoint is not None else resolve_checkpoint(experiment)
    config = PredictConfig(window=window, overlap=overlap, batch_size=batch_size, amp=amp,
                           device=device, probabilities=probabilities)
    todo = _expand(products)
    jobs = make_jobs(ckpt, todo, out_dir, config, reader_options, overwrite)
    where = f" on dask at {scheduler}" if scheduler else (
        f" in {workers} processes" if workers > 1 and len(todo) > 1 else "")
    click.echo(f"model {ckpt}; {len(todo)} product{'s' if len(todo) != 1 else ''}{where}")
    matrices, failed = [], []
    for outcome in run_jobs(jobs, workers=workers, scheduler=scheduler):
        if outcome.error is not None:
            failed.append(outcome)
            if len(jobs) > 1:
                click.echo(f"failed {outcome.job.product}: {outcome.error}", err=True)
            continue
        res = outcome.result
        _report(res)
        if res.scores is not None:
            matrices.append(res.scores.confusion)
    if len(matrices) > 1:
        pooled = scores(sum(matrices))
        click.echo(f"pooled over {len(matrices)} labelled products: OA {pooled.oa:.3f}, "
                   f"mIoU {pooled.miou:.3f}")
    if failed:
        if len(jobs) == 1:
            raise failed[0].error
        bug = next((f.error for f in failed if not isinstance(f.error, (DfmaskError, OSError))),
                   None)
        if bug is not None:
            raise bug
        raise ConfigError(f"{len(failed)} of {len(jobs)} products failed (listed above); the "
                          "others are written: fix those and run the same command again")


def _report(res: Any) -> None:
    """The lines of one finished product: output, size and speed, classes, scores."""
    h, w = res.shape
    if res.skipped:
        click.echo(f"up to date {res.path} ({h} x {w} px; --overwrite recomputes it)")
    else:
        click.echo(f"wrote {res.path} ({h} x {w} px, {res.seconds:.1f} s, "
                   f"{res.mpx_per_s:.2f} Mpx/s)")
    if res.probabilities_path is not None:
        click.echo(f"  probabilities {res.probabilities_path}")
    click.echo("  " + ", ".join(f"{name} {100 * f:.1f} %"
                                for name, f in res.class_fractions.items()))
    if res.scores is not None:
        s = res.scores
        click.echo(f"  vs {res.label_path.name}: OA {s.oa:.3f}, mIoU {s.miou:.3f} "
                   f"({s.n_pixels} labelled px)")
