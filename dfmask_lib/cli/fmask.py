"""``dfmask fmask PRODUCT``: the project's Fmask 4 on one Sentinel-2 L1C product."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["fmask"]


@click.command()
@click.argument("product", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output GeoTIFF (default: <granule>/IMG_DATA/T<tile>_<datetime>_FMASK.tif "
                   "inside a SAFE folder, else beside the input).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def fmask(product: Path, out: Path | None, overwrite: bool) -> None:
    """Run Fmask 4 (Sentinel-2) on PRODUCT and write the Fmask codes as a GeoTIFF.

    Codes: 0 clear land, 1 water, 2 cloud shadow, 3 snow, 4 cloud, 255 fill
    (Qiu, Zhu & He 2019). Prints the path and the class fractions of observed pixels.
    """
    from ..fmask.compose import class_fractions
    from ..fmask.product import fmask_product_result

    path, result = fmask_product_result(product, out, overwrite=overwrite)
    click.echo(f"wrote {path}")
    for name, fraction in class_fractions(result.fmask).items():
        click.echo(f"  {name:<13} {100 * fraction:6.2f} %")
