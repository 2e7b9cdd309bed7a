"""``dfmask info PRODUCT``: what a product says about itself, and what the reader makes of it."""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..errors import DfmaskError, ProductError
from ..scene import Scene

__all__ = ["info", "describe"]


def _offsets(offsets: dict[str, float]) -> str:
    values = set(offsets.values())
    if len(values) == 1:
        return f"{values.pop():g} (all bands)"
    return ", ".join(f"{b} {v:g}" for b, v in offsets.items())


def _angle(value: float | None) -> str:
    return "unknown" if value is None or math.isnan(value) else f"{value:.2f} deg"


def describe(scene: Scene) -> list[tuple[str, str]]:
    """(label, value) lines describing a scene read by :func:`dfmask_lib.reader.read_product`."""
    m = scene.metadata
    left, top = scene.transform.c, scene.transform.f
    h, w = scene.shape
    right, bottom = left + w * scene.resolution, top - h * scene.resolution
    parts = (m.spacecraft, f"sensed {m.sensing_time}" if m.sensing_time else "",
             f"tile {m.tile_id}" if m.tile_id else "")
    extra = ", ".join(x for x in parts if x)
    return [
        ("product", Path(m.source).name),
        ("type", m.product_type + (f" ({extra})" if extra else "")),
        ("baseline", m.processing_baseline or "unknown"),
        ("offset", _offsets(dict(m.radio_add_offset))),
        ("quantification", f"{m.quantification_value:g}"),
        ("grid", f"{scene.crs}, {h} x {w} px at {scene.resolution:g} m, bounds "
                 f"({left:.0f}, {bottom:.0f}, {right:.0f}, {top:.0f})"),
        ("bands", " ".join(scene.band_names)),
        ("sun", f"zenith {_angle(scene.sun_zenith)}, azimuth {_angle(scene.sun_azimuth)}"),
        ("view (mean)", f"zenith {_angle(m.mean_view_zenith)}, "
                        f"azimuth {_angle(m.mean_view_azimuth)}"),
        ("valid", f"{100.0 * float(scene.valid.mean()):.1f} % of pixels"),
    ]


@click.command()
@click.argument("product", type=click.Path(path_type=Path))
@click.option("--resolution", default=20.0, show_default=True, help="Grid pixel size (m).")
@click.option("--band-names", default=None,
              help="For a GeoTIFF stack: comma-separated name of each band in file order.")
def info(product: Path, resolution: float, band_names: str | None) -> None:
    """Describe a Sentinel-2 L1C PRODUCT (.SAFE folder, .zip, band folder or GeoTIFF)."""
    import xml.etree.ElementTree as ET

    from rasterio.errors import RasterioError

    from ..reader import read_product

    names = tuple(n.strip() for n in band_names.split(",")) if band_names else None
    try:
        scene = read_product(product, resolution=resolution, band_names=names, progress=False)
    except DfmaskError:
        raise
    except (RasterioError, ET.ParseError, OSError) as exc:  # anything the reader did not expect
        raise ProductError(f"cannot read {product}: {exc}") from None
    width = max(len(label) for label, _ in describe(scene))
    for label, value in describe(scene):
        click.echo(f"{label:<{width}}  {value}")
