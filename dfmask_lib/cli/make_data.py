"""``dfmask make-data``: cut a folder of products into an HDF5 patch file for the network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..patches import INPUT_SETS, PatchConfig
from ..products import make_data as build
from ._options import UserPath, product_options

__all__ = ["make_data"]


@click.command("make-data")
@click.argument("src_dir", type=UserPath(path_type=Path))
@click.argument("out", type=UserPath(path_type=Path))
@click.option("--mode", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="train: Fmask labels (*FMASK.tif), split into 4 subsets; "
                   "test: human labels (*LABELS.tif) for validation/test.")
@click.option("--labels-dir", type=UserPath(path_type=Path), default=None,
              help="Folder of label files named <product>*FMASK.tif / *LABELS.tif "
                   "(default: beside each product's bands).")
@click.option("--input-set", type=click.Choice(sorted(INPUT_SETS)), default="swirndsi",
              show_default=True, help="Network input channels.")
@click.option("--seed", default=0, show_default=True, help="Seed of the split into subsets.")
@click.option("--compression", type=click.Choice(["lzf", "gzip", "none"]), default="lzf",
              show_default=True, help="HDF5 compression filter.")
@product_options
def make_data(src_dir: Path, out: Path, mode: str, labels_dir: Path | None, input_set: str,
              seed: int, compression: str, reader_options: dict[str, Any]) -> None:
    """Cut every product in SRC_DIR into 256 px patches and write them to OUT (.h5).

    The product options apply to every product read (all must share them).
    """
    import h5py

    config = PatchConfig(mode=mode, input_set=input_set, seed=seed, compression=compression)
    path = build(src_dir, out, config, labels_dir=labels_dir, reader_options=reader_options)
    with h5py.File(path, "r") as f:
        n, c = f["image"].shape[:2]
    click.echo(f"{path}: {n} patches of {c} channels ({input_set}, {mode} mode)")
