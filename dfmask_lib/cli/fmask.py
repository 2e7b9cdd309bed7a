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
@click.option("--sun-zenith", type=click.FloatRange(0, 90, max_open=True), default=None,
              help="Sun zenith (deg) for products without MTD_TL.xml (band folders).")
@click.option("--sun-azimuth", type=click.FloatRange(0, 360), default=None,
              help="Sun azimuth (deg, clockwise from north); with --sun-zenith.")
def fmask(product: Path, out: Path | None, overwrite: bool, sun_zenith: float | None,
          sun_azimuth: float | None) -> None:
    """Run Fmask 4 (Sentinel-2) on PRODUCT and write the Fmask codes as a GeoTIFF.

    Codes: 0 clear land, 1 water, 2 cloud shadow, 3 snow, 4 cloud, 255 fill
    (Qiu, Zhu & He 2019). Prints the path and the class fractions of observed pixels.
    """
    from ..fmask.compose import class_fractions
    from ..fmask.product import fmask_product_result

    if (sun_zenith is None) != (sun_azimuth is None):
        raise click.UsageError("give both --sun-zenith and --sun-azimuth, or neither")
    sun = None if sun_zenith is None else (sun_zenith, sun_azimuth)
    path, result = fmask_product_result(product, out, overwrite=overwrite, sun=sun)
    click.echo(f"wrote {path}")
    for name, fraction in class_fractions(result.fmask).items():
        click.echo(f"  {name:<13} {100 * fraction:6.2f} %")
