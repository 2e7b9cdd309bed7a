"""The cited TOA spectra of every synthetic surface and cloud type, and their project classes.

The numbers live in ``spectra.csv`` (package data, rebuilt by
:mod:`dfmask_lib.synthetic.make_spectra`); each row carries its source and notes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ..classes import CLEAR, CLOUD, SNOW, WATER
from ..errors import ConfigError
from ..scene import S2_BANDS
from .make_spectra import SPECTRA_CSV

__all__ = ["CENTRAL_WAVELENGTH_NM", "Spectrum", "SURFACES", "TEMPERATE_SURFACES", "CLOUD_TYPES",
           "SURFACE_CLASS",
           "CLOUD_CLASS",
           "load_spectra", "spectrum", "shadow_ratio"]

#: Central wavelength (nm) of each band of Sentinel-2B, ``S2_BANDS`` order (ESA S2 MSI spectral
#: response functions, as listed in L1C product metadata).
CENTRAL_WAVELENGTH_NM: tuple[float, ...] = (442.3, 492.1, 559.0, 665.0, 703.8, 739.1, 779.7,
                                            833.0, 864.0, 943.2, 1376.9, 1610.4, 2185.7)

#: Ground surfaces the generator paints, and the project class each one is labelled with.
SURFACE_CLASS: Mapping[str, int] = MappingProxyType({
    "fresh_snow": SNOW,
    "old_snow": SNOW,
    "glacier_ice": SNOW,
    "blue_ice": SNOW,
    "sea_ice": SNOW,
    "rock_moraine": CLEAR,
    "tundra": CLEAR,
    "open_water": WATER,
    "turbid_meltwater": WATER,
    "lead": WATER,
    # Temperate surfaces, painted only by SynthConfig(landscape="temperate" / "mixed");
    # appended so that the indices of the polar surfaces (and every polar scene) stay the same.
    "cropland": CLEAR,
    "forest": CLEAR,
    "sparse_vegetation": CLEAR,
    "bare_soil": CLEAR,
    "urban": CLEAR,
})
SURFACES: tuple[str, ...] = tuple(SURFACE_CLASS)
#: The temperate surfaces (all clear land): measured rows from real L1C scenes, urban from the
#: literature (see ``make_spectra``).
TEMPERATE_SURFACES: tuple[str, ...] = ("cropland", "forest", "sparse_vegetation", "bare_soil",
                                       "urban")
#: Cloud types; all are labelled :data:`~dfmask_lib.classes.CLOUD` where thick enough.
CLOUD_TYPES: tuple[str, ...] = ("cumulus", "stratus", "thin_cloud", "cirrus")
#: The class of every cloud type (where thick enough, see :data:`~.clouds.TAU_CLOUD`).
CLOUD_CLASS: int = CLOUD


@dataclass(frozen=True)
class Spectrum:
    """Mean and standard deviation of TOA reflectance, 13 values in ``S2_BANDS`` order."""

    name: str
    mean: np.ndarray
    std: np.ndarray
    source: str
    notes: str


@lru_cache(maxsize=1)
def load_spectra() -> Mapping[str, Spectrum]:
    """All rows of ``spectra.csv`` by name (``shadow_ratio`` holds its ratio in ``mean``)."""
    with open(SPECTRA_CSV, newline="") as fh:
        rows = list(csv.DictReader(fh))
    grouped: dict[str, dict[str, dict[str, str]]] = {}
    for row in rows:
        grouped.setdefault(row["name"], {})[row["statistic"]] = row
    out: dict[str, Spectrum] = {}
    for name, stats in grouped.items():
        first = next(iter(stats.values()))
        mean_row = stats.get("mean", stats.get("ratio"))
        std_row = stats.get("std")
        mean = np.array([float(mean_row[b]) for b in S2_BANDS], dtype=np.float32)
        std = (np.array([float(std_row[b]) for b in S2_BANDS], dtype=np.float32)
               if std_row else np.zeros(len(S2_BANDS), np.float32))
        out[name] = Spectrum(name, mean, std, first["source"], first["notes"])
    return MappingProxyType(out)


def spectrum(name: str) -> Spectrum:
    """One surface or cloud spectrum by name (see :data:`SURFACES`, :data:`CLOUD_TYPES`)."""
    table = load_spectra()
    if name not in table:
        raise ConfigError(f"no spectrum {name!r} in spectra.csv (known: {sorted(table)})")
    return table[name]


def shadow_ratio() -> np.ndarray:
    """Per-band TOA brightness left in a full shadow (13 values in ``S2_BANDS`` order)."""
    return spectrum("shadow_ratio").mean
