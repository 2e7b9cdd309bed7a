"""``dfmask info PRODUCT``: what a product says about itself, and what the reader makes of it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..errors import DfmaskError, ProductError
from ..scene import Scene
from ._options import Resolution, UserPath, product_options

__all__ = ["info", "describe"]


def _offsets(offsets: dict[str, float]) -> str:
    values = set(offsets.values())
    if len(values) == 1:
        return f"{values.pop():g} (all bands)"
    return ", ".join(f"{b} {v:g}" for b, v in offsets.items())


def _angle(value: float | None) -> str:
    return "unknown" if value is None or math.isnan(value) else f"{value:.2f} deg"


def _values(m) -> str | None:
    """How file values became reflectance, for products whose radiometry was declared."""
    dtype = m.extra.get("dtype")
    if dtype is None:
        return None
    kind = "reflectance" if np.dtype(dtype).kind == "f" else "DN"
    return f"{dtype}, read as {kind}: (value + offset) / {m.quantification_value:g}"


def describe(scene: Scene) -> list[tuple[str, str]]:
    """(label, value) lines describing a scene read by :func:`dfmask_lib.reader.read_product`."""
    m = scene.metadata
    left, top = scene.transform.c, scene.transform.f
    h, w = scene.shape
    right, bottom = left + w * scene.resolution, top - h * scene.resolution
    parts = (m.spacecraft, f"sensed {m.sensing_time}" if m.sensing_time else "",
             f"tile {m.tile_id}" if m.tile_id else "")
    extra = ", ".join(x for x in parts if x)
    degrees = bool(getattr(scene.crs, "is_geographic", False))
    unit, digits = ("deg", 6) if degrees else ("m", 0)
    lines = [
        ("product", Path(m.source).name),
        ("type", m.product_type + (f" ({extra})" if extra else "")),
        ("baseline", m.processing_baseline or "unknown"),
        ("offset", _offsets(dict(m.radio_add_offset))),
        ("quantification", f"{m.quantification_value:g}"),
        ("grid", f"{scene.crs}, {h} x {w} px at {scene.resolution:g} {unit}, bounds "
                 f"({left:.{digits}f}, {bottom:.{digits}f}, {right:.{digits}f}, "
                 f"{top:.{digits}f})"),
        ("bands", " ".join(scene.band_names)),
        ("sun", f"zenith {_angle(scene.sun_zenith)}, azimuth {_angle(scene.sun_azimuth)}"),
        ("view (mean)", f"zenith {_angle(m.mean_view_zenith)}, "
                        f"azimuth {_angle(m.mean_view_azimuth)}"),
        ("valid", f"{100.0 * float(scene.valid.mean()):.1f} % of pixels"),
    ]
    values = _values(m)
    if values is not None:
        lines.insert(5, ("values", values))
    return lines


@click.command()
@click.argument("product", type=UserPath(path_type=Path))
@click.option("--resolution", type=Resolution(), default=20.0, show_default=True,
              help="Grid pixel size (m); 'native': a GeoTIFF stack's own grid (e.g. degrees).")
@product_options
def info(product: Path, resolution: float | None, reader_options: dict[str, Any]) -> None:
    """Describe a Sentinel-2 L1C PRODUCT (.SAFE folder, .zip, band folder or GeoTIFF stack)."""
    import xml.etree.ElementTree as ET

    from rasterio.errors import RasterioError

    from ..reader import read_product

    try:
        scene = read_product(product, resolution=resolution, progress=False, **reader_options)
    except DfmaskError:
        raise
    except (RasterioError, ET.ParseError) as exc:  # anything the reader did not expect
        raise ProductError(f"cannot read {product}: {exc}") from None
    width = max(len(label) for label, _ in describe(scene))
    for label, value in describe(scene):
        click.echo(f"{label:<{width}}  {value}")
