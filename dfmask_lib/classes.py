"""The six project classes and every mapping table into them.

Class codes (Nambiar et al. 2022, Remote Sens. 14:1825, doi:10.3390/rs14081825):

====  ==================  ===============
code  class               colour (R,G,B)
====  ==================  ===============
0     no data/unlabelled  0, 0, 0
1     clear-sky land      139, 69, 19
2     cloud               245, 250, 178
3     cloud shadow        255, 0, 0
4     snow / ice          85, 255, 255
5     water               38, 40, 210
====  ==================  ===============

Code 0 is ignored by the loss and the metrics. Every other product's classes are
recoded through an explicit :class:`MappingTable`; :func:`recode` refuses codes
that are not in the table instead of guessing (the authors' code crashed on raw
Fmask 255 and silently mislabelled raw Sen2Cor codes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .errors import LabelError

__all__ = [
    "NODATA", "CLEAR", "CLOUD", "SHADOW", "SNOW", "WATER",
    "CLASS_CODES", "CLASS_NAMES", "CLASS_COLOURS", "SCORED_CLASSES",
    "MappingTable", "FMASK", "PYTHON_FMASK", "SEN2COR_SCL", "UKIS_CSMASK",
    "HOLLSTEIN", "SICOR_HOLLSTEIN", "TABLES", "recode", "colormap",
]

NODATA, CLEAR, CLOUD, SHADOW, SNOW, WATER = 0, 1, 2, 3, 4, 5
CLASS_CODES: tuple[int, ...] = (NODATA, CLEAR, CLOUD, SHADOW, SNOW, WATER)
#: Classes that enter the metrics and mIoU (code 0 never does).
SCORED_CLASSES: tuple[int, ...] = (CLEAR, CLOUD, SHADOW, SNOW, WATER)
CLASS_NAMES: Mapping[int, str] = MappingProxyType({
    NODATA: "no data",
    CLEAR: "clear land",
    CLOUD: "cloud",
    SHADOW: "cloud shadow",
    SNOW: "snow/ice",
    WATER: "water",
})
#: The authors' colours (RGB, 0-255), used in every figure and GeoTIFF colour table.
CLASS_COLOURS: Mapping[int, tuple[int, int, int]] = MappingProxyType({
    NODATA: (0, 0, 0),
    CLEAR: (139, 69, 19),
    CLOUD: (245, 250, 178),
    SHADOW: (255, 0, 0),
    SNOW: (85, 255, 255),
    WATER: (38, 40, 210),
})


@dataclass(frozen=True)
class MappingTable:
    """An explicit recoding from another product's class codes to project classes.

    Attributes:
        name: short identifier, used in error messages and GeoTIFF tags.
        mapping: source code -> project class code. Every code the source can
            emit must be listed; :func:`recode` refuses any other.
        source_names: source code -> the source's own class name (documentation).
        notes: why a non-obvious choice was made.
    """

    name: str
    mapping: Mapping[int, int]
    source_names: Mapping[int, str] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        bad = sorted(v for v in self.mapping.values() if v not in CLASS_CODES)
        if bad:
            raise LabelError(f"table {self.name!r} maps to non-project codes {bad}")
        # lookup() indexes an array by source code: a negative code would alias another
        negative = sorted(k for k in self.mapping if int(k) < 0)
        if negative:
            raise LabelError(f"table {self.name!r} has negative source codes {negative}; "
                             "source codes must be 0 or more")
        object.__setattr__(self, "mapping", MappingProxyType(dict(self.mapping)))
        object.__setattr__(self, "source_names", MappingProxyType(dict(self.source_names)))

    def lookup(self, size: int = 65536) -> np.ndarray:
        """A uint8 look-up array: ``lut[source_code] = project_code``, 255 where undefined."""
        lut = np.full(size, 255, dtype=np.uint8)
        for src, dst in self.mapping.items():
            if src < size:  # recode() sizes the array to the map's largest code
                lut[src] = dst
        return lut


#: Fmask 4 / Fmask 5 / CFmask output (Qiu, Zhu & He 2019).
FMASK = MappingTable(
    "fmask",
    {0: CLEAR, 1: WATER, 2: SHADOW, 3: SNOW, 4: CLOUD, 255: NODATA},
    {0: "clear land", 1: "water", 2: "cloud shadow", 3: "snow", 4: "cloud", 255: "fill"},
)

#: python-fmask (ubarsc) output: its codes already match the project's.
PYTHON_FMASK = MappingTable(
    "python-fmask",
    {0: NODATA, 1: CLEAR, 2: CLOUD, 3: SHADOW, 4: SNOW, 5: WATER},
    {0: "null", 1: "clear", 2: "cloud", 3: "cloud shadow", 4: "snow", 5: "water"},
)

#: Sen2Cor scene classification (SCL, read at 20 m).
SEN2COR_SCL = MappingTable(
    "sen2cor-scl",
    {0: NODATA, 1: NODATA, 2: CLEAR, 3: SHADOW, 4: CLEAR, 5: CLEAR, 6: WATER,
     7: CLEAR, 8: CLOUD, 9: CLOUD, 10: CLOUD, 11: SNOW},
    {0: "no data", 1: "saturated or defective", 2: "dark area / topographic shadow",
     3: "cloud shadow", 4: "vegetation", 5: "not vegetated", 6: "water",
     7: "unclassified", 8: "cloud medium probability", 9: "cloud high probability",
     10: "thin cirrus", 11: "snow/ice"},
    notes=(
        "SCL 2 (dark area pixels, mostly topographic shadow) is clear land: the paper's "
        "labels keep a terrain-shadowed pixel's surface class and Sen2Cor's own cloud "
        "shadow is code 3. SCL 7 (unclassified) is clear land, the class Sen2Cor falls "
        "back to when no test fires; scoring it as an error instead would penalise "
        "Sen2Cor for pixels that are mostly clear. Both choices follow METHOD.md."
    ),
)

#: ukis-csmask chip reference mask and ukis-csmask 0.2.1 raw 5-class output.
UKIS_CSMASK = MappingTable(
    "ukis-csmask",
    {0: SHADOW, 1: WATER, 2: SNOW, 3: CLEAR, 4: CLOUD},
    {0: "cloud shadow", 1: "water", 2: "snow/ice", 3: "clear land", 4: "cloud"},
)

#: Hollstein et al. (2016) classes as the decision tree names them; cirrus counts as cloud.
HOLLSTEIN = MappingTable(
    "hollstein",
    {0: NODATA, 1: CLEAR, 2: WATER, 3: SHADOW, 4: CLOUD, 5: CLOUD, 6: SNOW},
    {0: "no data", 1: "clear", 2: "water", 3: "shadow", 4: "cirrus", 5: "cloud", 6: "snow"},
    notes="Cirrus is scored as cloud, as the paper scores thin cloud.",
)

#: The Hollstein-trained Bayesian classifier file (sicor): codes 10..60; cirrus -> cloud.
SICOR_HOLLSTEIN = MappingTable(
    "sicor-hollstein",
    {0: NODATA, 10: CLEAR, 20: WATER, 30: SHADOW, 40: CLOUD, 50: CLOUD, 60: SNOW},
    {0: "no data", 10: "clear", 20: "water", 30: "shadow", 40: "cirrus", 50: "cloud", 60: "snow"},
    notes="Cirrus is scored as cloud, as the paper scores thin cloud.",
)

#: Identity on project codes (for ``*LABELS.tif`` files that already use them).
PROJECT = MappingTable("project", {c: c for c in CLASS_CODES}, dict(CLASS_NAMES))

TABLES: Mapping[str, MappingTable] = MappingProxyType({
    t.name: t for t in (FMASK, PYTHON_FMASK, SEN2COR_SCL, UKIS_CSMASK, HOLLSTEIN,
                        SICOR_HOLLSTEIN, PROJECT)
})


def recode(array: np.ndarray, table: MappingTable) -> np.ndarray:
    """Recode a class map into project classes through an explicit table.

    Args:
        array: integer class map of any shape (e.g. (H, W)) in the source's codes.
        table: the source's :class:`MappingTable`.

    Returns:
        uint8 array of the same shape in project codes 0-5.

    Raises:
        LabelError: if the array is not integer, or holds codes the table does
            not list (the message names them).
    """
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.integer):
        raise LabelError(
            f"class map for table {table.name!r} must be integer, got {array.dtype}; "
            "read label rasters without resampling or scaling"
        )
    if array.size == 0:
        return np.zeros(array.shape, dtype=np.uint8)
    codes = np.unique(array)
    unknown = [int(c) for c in codes if int(c) not in table.mapping]
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise LabelError(
            f"codes {shown} are not in the {table.name!r} mapping table "
            f"(known: {sorted(table.mapping)}); is this the right kind of label file?"
        )
    lut = table.lookup(int(codes.max()) + 1)
    return lut[array]


def colormap() -> dict[int, tuple[int, int, int, int]]:
    """The class colour table as a rasterio colormap (RGBA), codes 0-5."""
    return {c: (*rgb, 255) for c, rgb in CLASS_COLOURS.items()}
