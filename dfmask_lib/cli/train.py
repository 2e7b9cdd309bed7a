"""``dfmask train``: train the U-Net of one stage on HDF5 patch files."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ._options import UserPath

__all__ = ["train"]


@click.command("train")
@click.argument("experiment")
@click.option("--stage", type=click.IntRange(0, 3), default=0, show_default=True,
              help="Self-training stage: picks the network size and learning rate.")
@click.option("--full", is_flag=True,
              help="Supervised mode (the baseline): all training patches with their Fmask "
                   "labels. Stages 1-3 without it are the self-training: `dfmask selftrain`.")
@click.option("--train-h5", type=UserPath(path_type=Path), required=True,
              help="Training patches (dfmask make-data --mode train).")
@click.option("--val-h5", type=UserPath(path_type=Path), required=True,
              help="Validation patches with human labels (dfmask make-data --mode test).")
@click.option("--epochs", type=click.IntRange(min=1), default=400, show_default=True,
              help="Maximum epochs (early stopping may end sooner).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--amp", is_flag=True, help="Mixed precision (bf16 on CPU).")
@click.option("--channels-last", is_flag=True, help="NHWC memory format.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Data-loader workers (default min(2, CPUs)).")
@click.option("--augment/--no-augment", default=None,
              help="Geometric augmentation (flips, rot90, zoom, cut-out); default as the paper: "
                   "off in stage 0, on from stage 1.")
@click.option("--photometric", is_flag=True,
              help="Also photometric augmentation (haze, blur, per-band gain/offset, noise); "
                   "needs augmentation on (in stage 0: --augment).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--seed", default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue the run in the output folder.")
@click.option("--out-dir", type=UserPath(path_type=Path), default=None,
              help="Output folder (default runs/EXPERIMENT/stage<N>).")
def train(experiment: str, stage: int, full: bool, train_h5: Path, val_h5: Path, epochs: int,
          batch_size: int, amp: bool, channels_last: bool, workers: int | None,
          augment: bool | None, photometric: bool, device: str, seed: int, resume: bool,
          out_dir: Path | None) -> None:
    """Train stage N of EXPERIMENT; writes checkpoints, logs and config.json.

    Stage 0 alone trains on subset 0 with Fmask labels; with --full, any stage trains on all
    patches with their Fmask labels (the supervised baseline). The self-training of stages
    0-3 (pseudo-labels from the previous stage) is `dfmask selftrain`. Under torchrun
    (`torchrun --nproc-per-node N -m dfmask_lib train ...`) the N processes train one model
    with --batch-size as the global batch; rank 0 writes.
    """
    from ..dataset import PatchDataset
    from ..train import TrainConfig, run_dir, train as run

    in_channels = PatchDataset(train_h5).in_channels  # checks the file; the model follows it
    extra = {} if workers is None else {"num_workers": workers}
    cfg = TrainConfig(stage=stage, in_channels=in_channels, full=full, max_epochs=epochs,
                      batch_size=batch_size, amp=amp, channels_last=channels_last,
                      augment=augment, photometric=photometric, device=device, seed=seed,
                      **extra)
    out = out_dir or run_dir(experiment, stage)
    res = run(cfg, train_h5, val_h5, out, resume=resume)
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only rank 0 reports (and writes)
    how = "stopped early" if res.stopped_early else "done"
    click.echo(f"{out}: {res.epochs_run} epochs ({how}); best validation mIoU "
               f"{res.best_miou:.3f} at epoch {res.best_epoch} -> {out / 'best.pt'}")
