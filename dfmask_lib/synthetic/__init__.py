"""Synthetic polar and mountain Sentinel-2 L1C scenes with exact per-pixel truth.

The paper's 135 scenes and their human labels (PANGAEA, doi:10.1594/PANGAEA.942321) cannot be
downloaded here, so the book trains and scores on synthetic scenes whose truth is known by
construction, written as real-layout L1C SAFE products:

* :mod:`.spectra` / ``spectra.csv``: cited TOA spectra (measured glacier points + literature);
* :mod:`.terrain`: fractal DEM and hill-shade; :mod:`.clouds`: cloud objects and shadows;
* :mod:`.scene`: :class:`SynthConfig` -> :func:`generate` -> :class:`SyntheticScene` (arrays);
* :mod:`.safe_writer`: :func:`write_safe` (the I/O edge);
* :mod:`.splits`: :func:`write_splits` (TRAIN / VALIDATION / TEST, one location per scene).
"""

from .safe_writer import ProductInfo, write_safe
from .scene import SynthConfig, SyntheticScene, generate
from .splits import DEFAULT_SPLITS, SplitsConfig, ensure_splits, find_products, write_splits

__all__ = ["SynthConfig", "SyntheticScene", "generate", "ProductInfo", "write_safe",
           "SplitsConfig", "DEFAULT_SPLITS", "write_splits", "ensure_splits", "find_products"]
