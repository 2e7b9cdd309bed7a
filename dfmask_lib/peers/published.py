"""Published scores of Deep F-Mask and its peers, **quoted** from the papers (not measured here).

The comparison chapter prints them beside the numbers dfmask measures, marked as quotations,
so that a reader sees which numbers come from this run and which from the literature. Each
entry names its source; the test data of each paper differ from ours and from each other's
(``docs/PEERS.md``), so they are context, not a ranking.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

__all__ = ["PUBLISHED", "published_rows"]

_NAMBIAR = "Nambiar et al. 2022, Remote Sens. 14:1825 (polar and high-mountain test scenes)"
_QIU = "Qiu, Zhu & He 2019, Remote Sens. Environ. 231:111205 (global Sentinel-2 scenes)"
_WRIGHT = "Wright et al. 2025, Remote Sens. Environ. 322:114694 (Sentinel-2)"
_DOMNICH = "Domnich et al. 2021, Remote Sens. 13:4100 (Northern Europe, Sentinel-2)"
_HOLLSTEIN = "Hollstein et al. 2016, Remote Sens. 8:666 (hand-labelled spectra)"

#: (method, metric, value as published, source), in the order the chapter shows them.
PUBLISHED: tuple[Mapping[str, str], ...] = tuple(MappingProxyType(d) for d in (
    {"method": "Deep F-Mask (final stage)", "metric": "overall accuracy", "value": "93 %",
     "source": _NAMBIAR},
    {"method": "Deep F-Mask (final stage)", "metric": "mIoU", "value": "0.82", "source": _NAMBIAR},
    {"method": "Fmask 4", "metric": "overall accuracy", "value": "75 %", "source": _NAMBIAR},
    {"method": "Fmask 4", "metric": "mIoU", "value": "0.57", "source": _NAMBIAR},
    {"method": "Sen2Cor 2.8", "metric": "overall accuracy", "value": "76 %", "source": _NAMBIAR},
    {"method": "Fmask 4.0", "metric": "overall accuracy", "value": "94.30 %", "source": _QIU},
    {"method": "Sen2Cor 2.5.5", "metric": "overall accuracy", "value": "87.10 %", "source": _QIU},
    {"method": "OmniCloudMask", "metric": "balanced accuracy clear / cloud / shadow",
     "value": "92.2 / 91.2 / 80.5 %", "source": _WRIGHT},
    {"method": "KappaMask", "metric": "dice, L2A / L1C", "value": "80 / 76 %",
     "source": _DOMNICH},
    {"method": "Sen2Cor", "metric": "dice", "value": "59 %", "source": _DOMNICH},
    {"method": "Hollstein decision tree", "metric": "spectra correctly classified",
     "value": "about 91 %", "source": _HOLLSTEIN},
))


def published_rows() -> list[dict[str, str]]:
    """:data:`PUBLISHED` as table rows, each marked ``quoted`` (not measured by dfmask)."""
    return [{**row, "measured here": "no (quoted)"} for row in PUBLISHED]
