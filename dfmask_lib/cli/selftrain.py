"""``dfmask selftrain``: the self-training stages of Deep F-Mask in one experiment folder."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ._options import UserPath

__all__ = ["selftrain", "parse_stages", "parse_epochs"]


def parse_stages(text: str) -> tuple[int, ...]:
    """``"0-3"`` -> (0, 1, 2, 3); ``"0"`` -> (0,). Stages always start at 0."""
    m = re.fullmatch(r"\s*0\s*(?:-\s*([0-3])\s*)?", text)
    if m is None:
        raise click.BadParameter(
            f"{text!r}: give 0-K with K in 0-3 (stages run in order from 0, each relabelling "
            "with the one before; finished stages are reused)")
    return tuple(range(int(m.group(1) or 0) + 1))


def parse_epochs(text: str) -> int | tuple[int, ...]:
    """``"40"`` -> 40 (every stage); ``"40,30,20,10"`` -> one per stage."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise click.BadParameter(f"{text!r}: give a number of epochs >= 1, or one per stage "
                                 "separated by commas (e.g. 40,30,20,10)")
    return values[0] if len(values) == 1 else values


def _stages(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    return parse_stages(value)


def _epochs(ctx: click.Context, param: click.Parameter, value: str) -> int | tuple[int, ...]:
    return parse_epochs(value)


@click.command("selftrain")
@click.argument("experiment")
@click.option("--train-h5", type=UserPath(path_type=Path), required=True,
              help="Training patches (dfmask make-data --mode train): Fmask labels, subsets 0-3.")
@click.option("--val-h5", type=UserPath(path_type=Path), required=True,
              help="Validation patches with human labels (dfmask make-data --mode test); they "
                   "select each stage's model.")
@click.option("--stages", default="0-3", show_default=True, metavar="0-K", callback=_stages,
              help="Stages to run, 0 to K (K <= 3).")
@click.option("--epochs", default="400", show_default=True, metavar="N[,N..]", callback=_epochs,
              help="Maximum epochs of every stage, or one per stage (e.g. 40,30,20,10); "
                   "early stopping may end a stage sooner.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--amp", is_flag=True, help="Mixed precision (bf16 on CPU) for training and "
                                          "relabelling.")
@click.option("--channels-last", is_flag=True, help="NHWC memory format.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Data-loader workers (default min(2, CPUs)).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--seed", default=0, show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Pseudo-labels: minimum top softmax probability (Nambiar et al. 2022).")
@click.option("--photometric", is_flag=True,
              help="Photometric augmentation (haze, blur, per-band gain/offset, noise) in every "
                   "stage; it turns augmentation on in stage 0 too (the paper: from stage 1).")
@click.option("--overwrite", is_flag=True,
              help="Take over a folder holding an experiment of other settings or inputs "
                   "(stages still valid for the new ones are reused).")
@click.option("--runs-dir", type=UserPath(file_okay=False, path_type=Path), default=None,
              help="Folder of experiments (default runs/ in the project).")
def selftrain(experiment: str, train_h5: Path, val_h5: Path, stages: tuple[int, ...],
              epochs: int | tuple[int, ...], batch_size: int, amp: bool, channels_last: bool,
              workers: int | None, device: str, seed: int, threshold: float, photometric: bool,
              overwrite: bool, runs_dir: Path | None) -> None:
    """Self-train stages 0..K of EXPERIMENT (Nambiar et al. 2022).

    Stage 0 learns from the Fmask labels of subset 0; before stage k, the best stage k-1
    model relabels subsets 1..k, and a bigger U-Net trains on subsets 0..k. Rerun the same
    command after an interruption: finished stages are reused, an interrupted one resumes.
    """
    from ..selftrain import SelfTrainConfig, experiment_dir, selftrain as run

    extra = {} if workers is None else {"num_workers": workers}
    config = SelfTrainConfig(stages=stages, max_epochs=epochs, batch_size=batch_size, amp=amp,
                             channels_last=channels_last, device=device, seed=seed,
                             threshold=threshold, photometric=photometric, **extra)
    exp_dir = experiment_dir(experiment, runs_dir)
    result = run(config, train_h5, val_h5, exp_dir, overwrite=overwrite)
    for s in result.stages:
        if s.pseudolabels is not None:
            summary, subsets = s.pseudolabels.stats["summary"], s.pseudolabels.stats[
                "relabelled_subsets"]
            n = summary["labelled"]
            pct = (lambda v: f"{100 * v / n:.1f} %") if n else (lambda v: "-")
            click.echo(f"stage {s.stage} pseudo-labels, subsets {subsets[0]}-{subsets[-1]}: "
                       f"{n:,} Fmask-labelled px, {pct(summary['changed'])} changed class, "
                       f"{pct(summary['dropped'])} dropped below {s.pseudolabels.stats['threshold']:g}"
                       f"{'' if s.pseudolabels.built else ' (reused)'} -> {s.pseudolabels.path}")
        t = s.train
        how = "stopped early" if t.stopped_early else "done"
        click.echo(f"stage {s.stage}: {t.epochs_run} epochs ({how}{'' if s.trained else ', reused'}); "
                   f"best validation mIoU {t.best_miou:.3f} at epoch {t.best_epoch} -> "
                   f"{s.checkpoint}")
    click.echo(f"{exp_dir}: best model {result.best_checkpoint}")
