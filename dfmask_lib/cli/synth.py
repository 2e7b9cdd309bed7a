"""``dfmask synth OUTDIR``: write synthetic TRAIN / VALIDATION / TEST L1C products with truth."""

from __future__ import annotations

from pathlib import Path

import click

from ._options import UserPath

from ..synthetic.splits import DEFAULT_SPLITS

__all__ = ["synth"]


@click.command()
@click.argument("outdir", type=UserPath(path_type=Path))
@click.option("--n-train", type=int, default=DEFAULT_SPLITS.n_train, show_default=True,
              help="Scenes in TRAIN/.")
@click.option("--n-val", type=int, default=DEFAULT_SPLITS.n_val, show_default=True,
              help="Scenes in VALIDATION/.")
@click.option("--n-test", type=int, default=DEFAULT_SPLITS.n_test, show_default=True,
              help="Scenes in TEST/.")
@click.option("--size", type=int, default=DEFAULT_SPLITS.size, show_default=True,
              help="Scene side in 20 m pixels (a multiple of 6).")
@click.option("--seed", type=int, default=DEFAULT_SPLITS.seed, show_default=True,
              help="Seed of the whole set; same seed, same bytes.")
@click.option("--temperate-share", type=float, default=DEFAULT_SPLITS.temperate_share,
              show_default=True,
              help="Share of each split's scenes that are temperate/mixed landscapes "
                   "(farmland, forest, towns); 0 = polar only.")
@click.option("--cloud-model", type=click.Choice(["setting", "beer_lambert", "two_stream"]),
              default="setting", show_default=True,
              help="How clouds mix with the surface: each landscape's own model (polar "
                   "beer_lambert, temperate two_stream), or one model for every scene.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty OUTDIR.")
def synth(outdir: Path, n_train: int, n_val: int, n_test: int, size: int, seed: int,
          temperate_share: float, cloud_model: str, overwrite: bool) -> None:
    """Write synthetic polar/mountain Sentinel-2 L1C SAFE products with exact truth.

    Each product is a real-layout .SAFE folder (lossless JPEG2000 bands, MTD_MSIL1C.xml,
    MTD_TL.xml) with its truth in GRANULE/*/IMG_DATA/*_LABELS.tif; every scene has its own
    location and tile, never shared between splits.
    """
    from ..synthetic.splits import write_splits  # numpy/rasterio only when the command runs

    out = write_splits(outdir, n_train, n_val, n_test, size, seed, overwrite=overwrite,
                       temperate_share=temperate_share,
                       cloud_model=None if cloud_model == "setting" else cloud_model)
    for split, paths in out.items():
        click.echo(f"{split}: {len(paths)} products in {outdir / split}")
