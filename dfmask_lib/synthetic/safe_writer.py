"""Write a synthetic scene as a real-layout Sentinel-2 L1C SAFE product (the I/O edge).

The layout, element names and nesting follow genuine products (processing baseline 04.00+,
e.g. the ALCD Toulouse products in the shared data), so :func:`dfmask_lib.reader.read_product`
reads a synthetic product exactly like a real one::

    S2B_MSIL1C_<sensing>_N0400_R<orbit>_T<tile>_<processing>.SAFE/
        MTD_MSIL1C.xml                 PRODUCT_TYPE, baseline, QUANTIFICATION_VALUE, offsets
        dfmask_synth.json              the SynthConfig and ProductInfo that made it
        GRANULE/L1C_T<tile>_A<abs orbit>_<sensing>/
            MTD_TL.xml                 CRS, geoposition, sizes, sun and view angle grids
            IMG_DATA/T<tile>_<sensing>_B01.jp2 ... B12.jp2, B8A   (lossless JPEG2000, uint16)
            IMG_DATA/T<tile>_<sensing>_LABELS.tif                 (truth, 20 m, project codes)

Digital numbers: ``DN = round(reflectance * 10000) + 1000`` (QUANTIFICATION_VALUE 10000,
RADIO_ADD_OFFSET -1000), DN 0 for no data, DN 65535 for saturated B02-B04. 10 m bands carry a
zero-mean sub-pixel pattern whose 2 x 2 area average gives back the 20 m value; 60 m bands are
3 x 3 area averages.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from scipy import ndimage

from ..atomic import atomic_dir
from ..classes import CLOUD, PROJECT, SNOW
from ..config import config_to_dict
from ..errors import ConfigError
from ..scene import NATIVE_RESOLUTION, S2_BANDS
from .scene import SyntheticScene, view_zenith_at
from .spectra import CENTRAL_WAVELENGTH_NM

__all__ = ["ProductInfo", "QUANTIFICATION_VALUE", "RADIO_ADD_OFFSET", "to_dn", "band_arrays",
           "product_name", "write_safe"]

#: L1C scaling from processing baseline 04.00 on (ESA S2 L1C Product Specification).
QUANTIFICATION_VALUE = 10000
RADIO_ADD_OFFSET = -1000
PROCESSING_BASELINE = "04.00"
SATURATED_DN = 65535
#: Angle grid spacing of MTD_TL.xml (metres).
ANGLE_STEP_M = 5000.0
#: Solar irradiance (W/m2/um) of S2B per band, from real product metadata.
_SOLAR_IRRADIANCE = (1874.30, 1959.75, 1824.93, 1512.79, 1425.78, 1291.13, 1175.57, 1041.28,
                     953.93, 817.58, 365.41, 247.08, 87.75)
_JP2_OPTIONS = {"QUALITY": "100", "REVERSIBLE": "YES"}  # lossless: DNs round-trip exactly


@dataclass(frozen=True)
class ProductInfo:
    """Where and when a synthetic product pretends to be.

    Attributes:
        tile_id: MGRS-like tile, e.g. ``"21EVK"`` (zone, latitude band, two letters).
        epsg: UTM EPSG code of the tile (326zz north, 327zz south).
        ulx, uly: upper-left corner (metres, multiples of 60 so all grids align).
        sensing_time: ISO 8601 UTC, e.g. ``"2020-01-12T13:05:21"``.
        relative_orbit: 1-143.
        absolute_orbit: absolute orbit number (granule name).
        location: human-readable setting, e.g. ``"Antarctic Peninsula"``.
    """

    tile_id: str
    epsg: int
    ulx: float
    uly: float
    sensing_time: str
    relative_orbit: int
    absolute_orbit: int
    location: str = ""

    def __post_init__(self) -> None:
        if len(self.tile_id) != 5 or not self.tile_id[:2].isdigit():
            raise ConfigError(f"tile_id must look like '21EVK', got {self.tile_id!r}")
        if not 1 <= self.relative_orbit <= 143:
            raise ConfigError(f"relative_orbit must be 1-143, got {self.relative_orbit}")
        if self.ulx % 60 or self.uly % 60:
            raise ConfigError("ulx/uly must be multiples of 60 m so the 10/20/60 m grids align")
        try:
            datetime.fromisoformat(self.sensing_time)
        except ValueError:
            raise ConfigError(f"sensing_time must be ISO 8601 like '2020-01-12T13:05:21', "
                              f"got {self.sensing_time!r}") from None


def to_dn(reflectance: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """uint16 DN from reflectance: ``round(r * 10000) + 1000``, 0 where not ``valid``."""
    dn = np.rint(reflectance.astype(np.float64) * QUANTIFICATION_VALUE) - RADIO_ADD_OFFSET
    dn = np.clip(dn, 1, SATURATED_DN - 1).astype(np.uint16)
    dn[..., ~valid] = 0
    return dn


def _subpixel_10m(band20: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(2H, 2W) values whose 2 x 2 block means equal ``band20`` (H, W): +-3 % zero-mean detail."""
    h, w = band20.shape
    pattern = np.clip(rng.standard_normal((h, 2, w, 2)), -3, 3).astype(np.float32)
    pattern -= pattern.mean(axis=(1, 3), keepdims=True)
    out = band20[:, None, :, None] * (1.0 + 0.03 * pattern)
    return out.reshape(2 * h, 2 * w)


def _area_mean_60m(band20: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3 x 3 area means of a 20 m band, and the 60 m valid mask.

    The 60 m footprint reaches one 60 m pixel beyond the 20 m swath edge (filled with the
    nearest valid block): band footprints differ in real products too, and this way no 20 m
    pixel inside the swath interpolates its 60 m bands from no data.
    """
    h, w = valid.shape
    mean60 = band20.reshape(h // 3, 3, w // 3, 3).mean(axis=(1, 3))
    valid60 = valid.reshape(h // 3, 3, w // 3, 3).all(axis=(1, 3))
    if valid60.all() or not valid60.any():
        return mean60, valid60
    _, (ri, ci) = ndimage.distance_transform_edt(~valid60, return_indices=True)
    grown = ndimage.binary_dilation(valid60, structure=np.ones((3, 3), bool))
    return mean60[ri, ci], grown


def band_arrays(scene: SyntheticScene) -> dict[str, np.ndarray]:
    """uint16 DN arrays of the 13 bands at their native resolution (10, 20 or 60 m)."""
    refl, valid = scene.reflectance, scene.valid
    h, w = valid.shape
    rng = np.random.default_rng(scene.config.seed + 1)  # sub-pixel detail, seeded
    out: dict[str, np.ndarray] = {}
    for i, band in enumerate(S2_BANDS):
        res = NATIVE_RESOLUTION[band]
        r = refl[i]
        if res == 20:
            dn = to_dn(r, valid)
        elif res == 10:
            up = _subpixel_10m(r, rng)
            valid10 = np.repeat(np.repeat(valid, 2, 0), 2, 1)
            dn = to_dn(up, valid10)
        else:
            dn = to_dn(*_area_mean_60m(r, valid))
        if band in ("B02", "B03", "B04"):
            sat = scene.saturated if res == 20 else np.repeat(np.repeat(scene.saturated, 2, 0), 2, 1)
            dn[sat] = SATURATED_DN
        out[band] = dn
    return out


def _stamp(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y%m%dT%H%M%S")


def product_name(info: ProductInfo) -> str:
    """The SAFE folder name, e.g. ``S2B_MSIL1C_20200112T130521_N0400_R038_T21EVK_...SAFE``."""
    proc = (datetime.fromisoformat(info.sensing_time) + timedelta(hours=2, minutes=17)).isoformat()
    return (f"S2B_MSIL1C_{_stamp(info.sensing_time)}_N{PROCESSING_BASELINE.replace('.', '')}"
            f"_R{info.relative_orbit:03d}_T{info.tile_id}_{_stamp(proc)}.SAFE")


def _el(parent: ET.Element, tag: str, text: object = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = str(text)
    return e


def _write_xml(root: ET.Element, path: Path) -> None:
    ET.indent(root, space="  ")
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def _product_xml(info: ProductInfo, granule: str, stem: str, scene: SyntheticScene) -> ET.Element:
    ns = "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd"
    root = ET.Element("n1:Level-1C_User_Product", {"xmlns:n1": ns})
    t = info.sensing_time + ".000Z"
    general = _el(root, "n1:General_Info")
    pi = _el(general, "Product_Info")
    _el(pi, "PRODUCT_START_TIME", t)
    _el(pi, "PRODUCT_STOP_TIME", t)
    _el(pi, "PRODUCT_URI", product_name(info))
    _el(pi, "PROCESSING_LEVEL", "Level-1C")
    _el(pi, "PRODUCT_TYPE", "S2MSI1C")
    _el(pi, "PROCESSING_BASELINE", PROCESSING_BASELINE)
    _el(pi, "PRODUCT_DOI", "Not applicable (synthetic, dfmask)")
    _el(pi, "GENERATION_TIME", t)
    dt = _el(pi, "Datatake", datatakeIdentifier=f"GS2B_{_stamp(info.sensing_time)}_"
             f"{info.absolute_orbit:06d}_N{PROCESSING_BASELINE}")
    _el(dt, "SPACECRAFT_NAME", "Sentinel-2B")
    _el(dt, "DATATAKE_TYPE", "INS-NOBS")
    _el(dt, "DATATAKE_SENSING_START", t)
    _el(dt, "SENSING_ORBIT_NUMBER", info.relative_orbit)
    _el(dt, "SENSING_ORBIT_DIRECTION", "DESCENDING")
    qo = _el(pi, "Query_Options", completeSingleTile="true")
    _el(qo, "PRODUCT_FORMAT", "SAFE_COMPACT")
    gl = _el(_el(pi, "Product_Organisation"), "Granule_List")
    g = _el(gl, "Granule", imageFormat="JPEG2000",
            granuleIdentifier=f"S2B_OPER_MSI_L1C_TL_SYNT_{_stamp(info.sensing_time)}_"
                              f"A{info.absolute_orbit:06d}_T{info.tile_id}_N{PROCESSING_BASELINE}")
    for band in S2_BANDS:
        _el(g, "IMAGE_FILE", f"GRANULE/{granule}/IMG_DATA/{stem}_{band}")
    pic = _el(general, "Product_Image_Characteristics")
    for text, index in (("NODATA", 0), ("SATURATED", SATURATED_DN)):
        sv = _el(pic, "Special_Values")
        _el(sv, "SPECIAL_VALUE_TEXT", text)
        _el(sv, "SPECIAL_VALUE_INDEX", index)
    order = _el(pic, "Image_Display_Order")
    for name, ch in (("RED_CHANNEL", 3), ("GREEN_CHANNEL", 2), ("BLUE_CHANNEL", 1)):
        _el(order, name, ch)
    _el(pic, "QUANTIFICATION_VALUE", QUANTIFICATION_VALUE, unit="none")
    ol = _el(pic, "Radiometric_Offset_List")
    for i in range(len(S2_BANDS)):
        _el(ol, "RADIO_ADD_OFFSET", RADIO_ADD_OFFSET, band_id=str(i))
    rc = _el(pic, "Reflectance_Conversion")
    _el(rc, "U", "1.0")
    sil = _el(rc, "Solar_Irradiance_List")
    for i, e0 in enumerate(_SOLAR_IRRADIANCE):
        _el(sil, "SOLAR_IRRADIANCE", e0, bandId=str(i), unit="W/m²/µm")
    spl = _el(pic, "Spectral_Information_List")
    for i, band in enumerate(S2_BANDS):
        phys = band if band == "B8A" else f"B{int(band[1:])}"
        si = _el(spl, "Spectral_Information", bandId=str(i), physicalBand=phys)
        _el(si, "RESOLUTION", NATIVE_RESOLUTION[band])
        wl = _el(si, "Wavelength")
        _el(wl, "CENTRAL", CENTRAL_WAVELENGTH_NM[i], unit="nm")
    qi = _el(root, "n1:Quality_Indicators_Info")
    labelled = scene.truth > 0
    share = 100.0 * float((scene.truth[labelled] == CLOUD).mean()) if labelled.any() else 0.0
    snow = 100.0 * float((scene.truth[labelled] == SNOW).mean()) if labelled.any() else 0.0
    _el(qi, "Cloud_Coverage_Assessment", f"{share:.1f}")
    _el(qi, "Snow_Coverage_Assessment", f"{snow:.1f}")
    return root


def _angle_grid(values: np.ndarray) -> list[str]:
    return [" ".join(f"{v:.5g}" for v in row) for row in values]


def _tile_xml(info: ProductInfo, scene: SyntheticScene) -> ET.Element:
    c = scene.config
    size = c.size
    ns = "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd"
    root = ET.Element("n1:Level-1C_Tile_ID", {"xmlns:n1": ns})
    gi = _el(root, "n1:General_Info")
    stamp = _stamp(info.sensing_time)
    _el(gi, "TILE_ID", f"S2B_OPER_MSI_L1C_TL_SYNT_{stamp}_A{info.absolute_orbit:06d}_"
                       f"T{info.tile_id}_N{PROCESSING_BASELINE}", metadataLevel="Brief")
    _el(gi, "SENSING_TIME", info.sensing_time + ".000Z", metadataLevel="Standard")
    geo = _el(root, "n1:Geometric_Info")
    tg = _el(geo, "Tile_Geocoding", metadataLevel="Brief")
    _el(tg, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {info.epsg % 100}"
                                  f"{'N' if info.epsg < 32700 else 'S'}")
    _el(tg, "HORIZONTAL_CS_CODE", f"EPSG:{info.epsg}")
    for res in (10, 20, 60):
        s = _el(tg, "Size", resolution=str(res))
        n = size * 20 // res
        _el(s, "NROWS", n)
        _el(s, "NCOLS", n)
    for res in (10, 20, 60):
        gp = _el(tg, "Geoposition", resolution=str(res))
        _el(gp, "ULX", int(info.ulx))
        _el(gp, "ULY", int(info.uly))
        _el(gp, "XDIM", res)
        _el(gp, "YDIM", -res)
    ta = _el(geo, "Tile_Angles", metadataLevel="Standard")
    n = math.ceil(size * c.resolution / ANGLE_STEP_M) + 1  # 23 for a full 109.8 km tile
    # Grid node k lies at x = ULX + k * 5000 m, at pixel-centre column k * 5000 / res - 0.5;
    # the generator's view zenith there (tan(vz) linear in the column: view_zenith_at).
    col_at_node = np.arange(n) * ANGLE_STEP_M / c.resolution - 0.5
    vz_row = view_zenith_at(c, col_at_node)
    vz = np.broadcast_to(vz_row[None, :], (n, n))
    va = np.full((n, n), c.view_azimuth)
    sun = _el(ta, "Sun_Angles_Grid")
    for name, value in (("Zenith", c.sun_zenith), ("Azimuth", c.sun_azimuth)):
        _grid(_el(sun, name), np.full((n, n), value))
    msa = _el(ta, "Mean_Sun_Angle")
    _el(msa, "ZENITH_ANGLE", repr(float(c.sun_zenith)), unit="deg")
    _el(msa, "AZIMUTH_ANGLE", repr(float(c.sun_azimuth)), unit="deg")
    for i in range(len(S2_BANDS)):
        g = _el(ta, "Viewing_Incidence_Angles_Grids", bandId=str(i), detectorId="1")
        _grid(_el(g, "Zenith"), vz)
        _grid(_el(g, "Azimuth"), va)
    ml = _el(ta, "Mean_Viewing_Incidence_Angle_List")
    for i in range(len(S2_BANDS)):
        m = _el(ml, "Mean_Viewing_Incidence_Angle", bandId=str(i))
        _el(m, "ZENITH_ANGLE", repr(float(scene.view_zenith.mean())), unit="deg")
        _el(m, "AZIMUTH_ANGLE", repr(float(c.view_azimuth)), unit="deg")
    return root


def _grid(parent: ET.Element, values: np.ndarray) -> None:
    _el(parent, "COL_STEP", int(ANGLE_STEP_M), unit="m")
    _el(parent, "ROW_STEP", int(ANGLE_STEP_M), unit="m")
    vl = _el(parent, "Values_List")
    for row in _angle_grid(values):
        _el(vl, "VALUES", row)


def _write_jp2(path: Path, dn: np.ndarray, crs: str, transform: Affine) -> None:
    profile = dict(driver="JP2OpenJPEG", width=dn.shape[1], height=dn.shape[0], count=1,
                   dtype="uint16", crs=crs, transform=transform, **_JP2_OPTIONS)
    with rasterio.Env(GDAL_PAM_ENABLED="NO"):
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(dn, 1)


def write_safe(scene: SyntheticScene, info: ProductInfo, outdir: str | os.PathLike,
               overwrite: bool = False) -> Path:
    """Write ``scene`` as an L1C SAFE product in ``outdir``; return the ``.SAFE`` path.

    The whole product appears atomically (written in a temporary folder, then renamed).

    Raises:
        ConfigError: the product exists and ``overwrite`` is False, or the scene is not
            aligned to the 60 m grid.
    """
    from ..writer import write_classmap  # the project's class-map writer

    size = scene.config.size
    if scene.truth.shape != (size, size) or size % 6:
        raise ConfigError(f"scene truth {scene.truth.shape} does not match size {size} "
                          "(a multiple of 6)")
    name = product_name(info)
    target = Path(outdir) / name
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    stamp = _stamp(info.sensing_time)
    granule = f"L1C_T{info.tile_id}_A{info.absolute_orbit:06d}_{stamp}"
    stem = f"T{info.tile_id}_{stamp}"
    crs = f"EPSG:{info.epsg}"
    with atomic_dir(target, overwrite=overwrite) as tmp:
        img = tmp / "GRANULE" / granule / "IMG_DATA"
        img.mkdir(parents=True)
        for band, dn in band_arrays(scene).items():
            res = NATIVE_RESOLUTION[band]
            transform = Affine(res, 0.0, info.ulx, 0.0, -res, info.uly)
            _write_jp2(img / f"{stem}_{band}.jp2", dn, crs, transform)
        write_classmap(img / f"{stem}_LABELS.tif", scene.truth, crs=crs,
                       transform=Affine(20.0, 0.0, info.ulx, 0.0, -20.0, info.uly),
                       table=PROJECT, config=scene.config,
                       tags={"DFMASK_SYNTHETIC": "truth of a synthetic scene",
                             "DFMASK_LOCATION": info.location})
        _write_xml(_product_xml(info, granule, stem, scene), tmp / "MTD_MSIL1C.xml")
        _write_xml(_tile_xml(info, scene), tmp / "GRANULE" / granule / "MTD_TL.xml")
        meta = {"config": config_to_dict(scene.config),
                "product": {k: getattr(info, k) for k in info.__dataclass_fields__},
                "clouds": [{"kind": cl.kind, "height_m": round(cl.height_m, 1),
                            "centre_rc": list(cl.centre), "shadow_offset_rc": [cl.drow, cl.dcol]}
                           for cl in scene.clouds]}
        (tmp / "dfmask_synth.json").write_text(json.dumps(meta, indent=2) + "\n")
    return target
