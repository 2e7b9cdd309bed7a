"""``dfmask fmask PRODUCT``: the project's Fmask 4 on one Sentinel-2 L1C product."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from ._options import UserPath, product_options

__all__ = ["fmask"]

log = logging.getLogger(__name__)


@click.command()
@click.argument("product", type=UserPath(path_type=Path))
@click.option("-o", "--out", type=UserPath(dir_okay=False, path_type=Path), default=None,
              help="Output GeoTIFF (default: <granule>/IMG_DATA/T<tile>_<datetime>_FMASK.tif "
                   "inside a SAFE folder, else beside the input).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@product_options
def fmask(product: Path, out: Path | None, overwrite: bool,
          reader_options: dict[str, Any]) -> None:
    """Run Fmask 4 (Sentinel-2) on PRODUCT and write the Fmask codes as a GeoTIFF.

    PRODUCT is a .SAFE folder, its .zip, a folder of band files or a GeoTIFF stack
    (with --band-names). Codes: 0 clear land, 1 water, 2 cloud shadow, 3 snow, 4 cloud,
    255 fill (Qiu, Zhu & He 2019). Prints the path and the class fractions of observed
    pixels.
    """
    from ..fmask.compose import class_fractions
    from ..fmask.product import fmask_product_result

    path, result = fmask_product_result(product, out, overwrite=overwrite,
                                        reader_options=reader_options)
    log.info("Fmask of %s written to %s", product, path)
    click.echo(f"wrote {path}")
    for name, fraction in class_fractions(result.fmask).items():
        click.echo(f"  {name:<13} {100 * fraction:6.2f} %")
