"""Parse Sentinel-2 L1C metadata: MTD_MSIL1C.xml (product) and MTD_TL.xml (tile).

Pure functions from XML bytes to small frozen dataclasses. Element names follow
the ESA Level-1C product specification (S2-PDGS-TAS-DI-PSD); namespaces differ
between format versions, so elements are matched by local name.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

import numpy as np

from ..errors import ProductError
from ..scene import S2_BANDS
from .angles import mean_angle_grid

__all__ = ["ProductXml", "TileXml", "parse_product_xml", "parse_tile_xml", "band_name",
           "check_same_product", "OFFSET_BASELINE",
           "L1C_PRODUCT_TYPE"]

#: The only product type dfmask accepts.
L1C_PRODUCT_TYPE = "S2MSI1C"
_L2A_MESSAGE = "this is a Level-2A product; dfmask needs Level-1C (S2MSI1C)"


@dataclass(frozen=True)
class ProductXml:
    """What MTD_MSIL1C.xml says (see :class:`~dfmask_lib.scene.ProductMetadata`)."""

    product_type: str
    processing_baseline: str
    quantification_value: float
    radio_add_offset: Mapping[str, float]
    spacecraft: str
    sensing_time: str
    product_uri: str = ""


@dataclass(frozen=True)
class TileXml:
    """What MTD_TL.xml says.

    Attributes:
        epsg: EPSG code of the tile's UTM (or polar stereographic) CRS.
        geoposition: resolution (m) -> (ULX, ULY, XDIM, YDIM).
        size: resolution (m) -> (NROWS, NCOLS).
        sun_zenith, sun_azimuth: tile means, degrees.
        view_zenith_grid, view_azimuth_grid: (rows, cols) detector/band means on the
            angle grid, degrees, NaN where no detector sees a node; None if absent.
        angle_step: node spacing of the angle grids, metres.
        mean_view_zenith, mean_view_azimuth: scene means over bands, degrees, or None.
        tile_id, sensing_time: e.g. ``"31TCJ"``, ISO 8601.
    """

    epsg: int
    geoposition: Mapping[int, tuple[float, float, float, float]]
    size: Mapping[int, tuple[int, int]]
    sun_zenith: float
    sun_azimuth: float
    view_zenith_grid: np.ndarray | None = None
    view_azimuth_grid: np.ndarray | None = None
    angle_step: float = 5000.0
    mean_view_zenith: float | None = None
    mean_view_azimuth: float | None = None
    tile_id: str = ""
    sensing_time: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)


def band_name(physical: str) -> str:
    """ESA physical band name -> project name: ``"B1"`` -> ``"B01"``, ``"B8A"`` -> ``"B8A"``."""
    m = re.fullmatch(r"B0?(\d{1,2}|8A)", physical.strip().upper())
    if not m:
        raise ProductError(f"unknown Sentinel-2 band name {physical!r}")
    num = m.group(1)
    name = "B8A" if num == "8A" else f"B{int(num):02d}"
    if name not in S2_BANDS:
        raise ProductError(f"unknown Sentinel-2 band name {physical!r}")
    return name


def _parse(data: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProductError(f"{what} is not valid XML ({exc}); the product is damaged, "
                           "download it again") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _text(root: ET.Element, name: str, what: str, default: str | None = None) -> str:
    for e in root.iter():
        if _local(e.tag) == name and e.text is not None:
            return e.text.strip()
    if default is not None:
        return default
    raise ProductError(f"{what} has no <{name}> element; the metadata is truncated or "
                       "not a Sentinel-2 L1C file")


def _float(text: str, name: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ProductError(f"{what}: <{name}> is {text!r}, not a number") from None


def _int(text: str, name: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProductError(f"{what}: <{name}> is {text!r}, not a whole number") from None


#: The first processing baseline whose DN carry RADIO_ADD_OFFSET (-1000): ESA's baseline
#: 04.00 of 25 January 2022 ("Sentinel-2: new processing baseline 04.00", ESA 2021).
OFFSET_BASELINE = (4, 0)


def _baseline_number(text: str) -> tuple[int, int]:
    """``"04.00"`` -> (4, 0); anything unreadable counts as the oldest baseline, (0, 0)."""
    m = re.fullmatch(r"\s*N?(\d{1,2})\.?(\d{2})\s*", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def check_same_product(product: ProductXml, tile: TileXml, where: str) -> None:
    """Refuse a SAFE whose MTD_MSIL1C.xml and MTD_TL.xml describe different products.

    Compares the tile in the product's name (``PRODUCT_URI``) with the tile's ``TILE_ID``,
    and the sensing times (at most 2 hours apart: the datatake starts before the tile is
    sensed). Checks only what both files state.

    Raises:
        ProductError: the two files disagree (metadata copied from another product).
    """
    m = re.search(r"_T(\d{2}[A-Z]{3})(?:_|\.|$)", product.product_uri)
    if m and tile.tile_id and m.group(1) != tile.tile_id:
        raise ProductError(f"{where}: MTD_MSIL1C.xml is of another product ({product.product_uri},"
                           f" tile {m.group(1)}) than MTD_TL.xml (tile {tile.tile_id}); the "
                           "product is damaged, download it again")
    times = [_when(t) for t in (product.sensing_time, tile.sensing_time)]
    if None not in times and abs((times[0] - times[1]).total_seconds()) > 7200:
        raise ProductError(f"{where}: MTD_MSIL1C.xml is of another product (sensed "
                           f"{product.sensing_time}) than MTD_TL.xml (sensed {tile.sensing_time});"
                           " the product is damaged, download it again")


def _when(text: str) -> datetime | None:
    """An ISO 8601 time (``Z`` allowed) as an aware datetime, or None."""
    try:
        t = datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def parse_product_xml(data: bytes, what: str = "MTD_MSIL1C.xml") -> ProductXml:
    """Parse the product metadata. Refuses Level-2A and anything that is not S2MSI1C.

    Offsets are mapped from ``band_id`` to band names through the file's own
    ``Spectral_Information`` list (bandId -> physicalBand), never by position.
    Products before baseline 04.00 have no RADIO_ADD_OFFSET: every offset is 0. From
    04.00 on every band has one; a list missing some bands is refused.

    Raises:
        ProductError: invalid XML, missing elements, Level-2A, other product types.
    """
    root = _parse(data, what)
    if "Level-2A" in _local(root.tag):
        raise ProductError(_L2A_MESSAGE)
    product_type = _text(root, "PRODUCT_TYPE", what)
    if product_type.endswith("2A"):
        raise ProductError(_L2A_MESSAGE)
    if product_type != L1C_PRODUCT_TYPE:
        raise ProductError(f"product type {product_type!r} is not supported; dfmask needs "
                           f"Level-1C ({L1C_PRODUCT_TYPE})")
    ids = {e.get("bandId"): band_name(e.get("physicalBand", ""))
           for e in _all(root, "Spectral_Information") if e.get("bandId") is not None}
    if not ids:  # the specification's fixed order, used only when the list is absent
        ids = {str(i): b for i, b in enumerate(S2_BANDS)}
    offsets = {b: 0.0 for b in S2_BANDS}
    given: set[str] = set()
    for e in _all(root, "RADIO_ADD_OFFSET"):
        bid = e.get("band_id")
        if bid not in ids:
            raise ProductError(f"{what}: RADIO_ADD_OFFSET for unknown band_id {bid!r}")
        offsets[ids[bid]] = _float(e.text or "", "RADIO_ADD_OFFSET", what)
        given.add(ids[bid])
    if given and len(given) != len(S2_BANDS):
        # baseline >= 04.00 lists every band; a band silently left at 0 would be 0.1 too bright
        missing = [b for b in S2_BANDS if b not in given]
        raise ProductError(f"{what} has RADIO_ADD_OFFSET for {len(given)} bands but not for "
                           f"{missing}; the metadata is damaged, download the product again")
    baseline = _text(root, "PROCESSING_BASELINE", what)
    if not given and _baseline_number(baseline) >= OFFSET_BASELINE:
        raise ProductError(f"{what} says processing baseline {baseline} but has no "
                           "RADIO_ADD_OFFSET (every product from 04.00 on declares -1000 per "
                           "band); the metadata is damaged, download the product again")
    quantification = _float(_text(root, "QUANTIFICATION_VALUE", what), "QUANTIFICATION_VALUE",
                            what)
    if not (np.isfinite(quantification) and quantification > 0):
        raise ProductError(f"{what}: QUANTIFICATION_VALUE is {quantification:g}, not a positive "
                           "number (10000 for L1C); the metadata is damaged")
    return ProductXml(
        product_type=product_type,
        processing_baseline=baseline,
        quantification_value=quantification,
        radio_add_offset=offsets,
        spacecraft=_text(root, "SPACECRAFT_NAME", what, default=""),
        sensing_time=_text(root, "PRODUCT_START_TIME", what, default=""),
        product_uri=_text(root, "PRODUCT_URI", what, default=""),
    )


def _values(elem: ET.Element, name: str, what: str) -> np.ndarray | None:
    """The VALUES rows under child ``name`` (Zenith/Azimuth) as a float array."""
    for child in elem:
        if _local(child.tag) == name:
            rows = [[_float(v, "VALUES", what) for v in (r.text or "").split()]
                    for r in _all(child, "VALUES")]
            if rows and len({len(r) for r in rows}) == 1:
                return np.array(rows, dtype=np.float64)
    return None


def parse_tile_xml(data: bytes, what: str = "MTD_TL.xml") -> TileXml:
    """Parse the granule metadata: CRS, grid geoposition, sun and view angles.

    Raises:
        ProductError: invalid XML or missing CRS/geoposition/sun angles.
    """
    root = _parse(data, what)
    code = _text(root, "HORIZONTAL_CS_CODE", what)
    m = re.fullmatch(r"EPSG:(\d+)", code)
    if not m:
        raise ProductError(f"{what}: HORIZONTAL_CS_CODE {code!r} is not an EPSG code")
    geopos = {}
    for g in _all(root, "Geoposition"):
        res = _int(g.get("resolution", "0"), "Geoposition resolution", what)
        geopos[res] = tuple(_float(_text(g, k, what), k, what)
                            for k in ("ULX", "ULY", "XDIM", "YDIM"))
    if not geopos:
        raise ProductError(f"{what} has no <Geoposition>; the metadata is truncated")
    size = {_int(s.get("resolution", "0"), "Size resolution", what):
            (_int(_text(s, "NROWS", what), "NROWS", what),
             _int(_text(s, "NCOLS", what), "NCOLS", what))
            for s in _all(root, "Size")}
    sun = _all(root, "Mean_Sun_Angle")
    if not sun:
        raise ProductError(f"{what} has no <Mean_Sun_Angle>; the metadata is truncated")
    sun_zen = _float(_text(sun[0], "ZENITH_ANGLE", what), "ZENITH_ANGLE", what)
    sun_az = _float(_text(sun[0], "AZIMUTH_ANGLE", what), "AZIMUTH_ANGLE", what)

    zen_grids, az_grids, step = [], [], 5000.0
    for g in _all(root, "Viewing_Incidence_Angles_Grids"):
        z, a = _values(g, "Zenith", what), _values(g, "Azimuth", what)
        if z is not None and a is not None and z.shape == a.shape:
            zen_grids.append(z)
            az_grids.append(a)
            step = _float(_text(g, "COL_STEP", what, default="5000"), "COL_STEP", what)
    vz = va = None
    if zen_grids and len({z.shape for z in zen_grids}) == 1:
        vz, va = mean_angle_grid(np.stack(zen_grids), np.stack(az_grids))

    means = _all(root, "Mean_Viewing_Incidence_Angle")
    mvz = mva = None
    if means:
        zs = [_float(_text(e, "ZENITH_ANGLE", what), "ZENITH_ANGLE", what) for e in means]
        azs = [_float(_text(e, "AZIMUTH_ANGLE", what), "AZIMUTH_ANGLE", what) for e in means]
        # the mean look direction over bands: the parallax-vector mean, as for the grids
        mean_z, mean_a = mean_angle_grid(np.array(zs)[:, None, None], np.array(azs)[:, None, None])
        mvz, mva = float(mean_z[0, 0]), float(mean_a[0, 0])

    tile_name = _text(root, "TILE_ID", what, default="")
    tm = re.search(r"_T(\d{2}[A-Z]{3})_", tile_name)
    return TileXml(
        epsg=int(m.group(1)), geoposition=geopos, size=size, sun_zenith=sun_zen,
        sun_azimuth=sun_az, view_zenith_grid=vz, view_azimuth_grid=va, angle_step=step,
        mean_view_zenith=mvz, mean_view_azimuth=mva,
        tile_id=tm.group(1) if tm else "",
        sensing_time=_text(root, "SENSING_TIME", what, default=""),
        extra={"tile_name": tile_name},
    )
