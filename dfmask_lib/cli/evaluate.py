"""``dfmask evaluate PRED... --labels PATH...``: the paper's metrics on whole scenes."""

from __future__ import annotations

from pathlib import Path
import click

from ..classes import TABLES
from ._options import ManyValuedCommand, UserPath

__all__ = ["evaluate"]

_TABLE = click.Choice(sorted(TABLES))


@click.command(cls=ManyValuedCommand)
@click.argument("predictions", metavar="PRED...", nargs=-1, required=True,
                type=UserPath(path_type=Path))
@click.option("--labels", "labels", multiple=True, required=True, metavar="PATH...",
              type=UserPath(path_type=Path),
              help="Label files (*LABELS.tif), SAFE products holding them, or folders of "
                   "either; every path after --labels up to the next option.")
@click.option("--pred-table", type=_TABLE, default=None, metavar="NAME",
              help="Class codes of every prediction, one of " + ", ".join(_TABLE.choices)
                   + " (default per file: *_DFMASK_CLASSES.tif project, *FMASK.tif fmask, "
                     "*_SCL* sen2cor-scl, else the file's CLASS_TABLE tag).")
@click.option("--label-table", type=_TABLE, default=None, metavar="NAME",
              help="Class codes of every label file, as --pred-table (default per file: "
                   "*LABELS.tif project, else the file's CLASS_TABLE tag).")
@click.option("--csv", "csv_out", type=UserPath(dir_okay=False, path_type=Path), default=None,
              metavar="OUT.csv", help="Write per-scene and pooled scores as CSV.")
@click.option("--json", "json_out", type=UserPath(dir_okay=False, path_type=Path), default=None,
              metavar="OUT.json", help="Write scores, confusion matrices and sources as JSON.")
def evaluate(predictions: tuple[Path, ...], labels: tuple[Path, ...], pred_table: str | None,
             label_table: str | None, csv_out: Path | None, json_out: Path | None) -> None:
    """Score class maps PRED... against human labels on whole scenes (Nambiar et al. 2022).

    Per scene and pooled (confusion matrices summed over the scenes): overall accuracy,
    mIoU and per-class IoU and F1 over the labelled pixels (truth 0 is ignored; a
    predicted 0 counts as an error). Predictions pair with labels in the order given when
    there are as many label files as predictions, else by scene (tile and sensing time in
    the names, e.g. T31TCJ_20240120T105341_DFMASK_CLASSES.tif with
    T31TCJ_20240120T105341_LABELS.tif).

    \b
    dfmask evaluate preds/*_DFMASK_CLASSES.tif --labels TEST --csv scores.csv
    dfmask evaluate a_FMASK.tif b_FMASK.tif --labels a_LABELS.tif b_LABELS.tif
    """
    from ..evaluate import evaluate_files
    from ..metrics import format_table

    result = evaluate_files(list(predictions), list(labels), pred_table=pred_table,
                            label_table=label_table)
    n = len(result.scenes)
    click.echo(f"{n} scene{'s' * (n != 1)}, {result.pooled.n_pixels} labelled pixels "
               "(truth 0 ignored; a predicted 0 counts as an error); pooled = summed matrices")
    click.echo()
    click.echo(format_table(result.rows(("IoU",))))
    click.echo()
    f1 = [{k: v for k, v in row.items() if k == "scene" or k.startswith("F1 ")}
          for row in result.rows(("F1",))]
    click.echo(format_table(f1))
    for path, write in ((csv_out, result.to_csv), (json_out, result.to_json)):
        if path is not None:
            click.echo(f"wrote {write(path)}")
