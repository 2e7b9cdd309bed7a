"""The project's own Fmask 4 for Sentinel-2: the label source of Deep F-Mask.

Public API::

    from dfmask_lib.fmask import FmaskConfig, run_fmask, fmask_product
    result = run_fmask(scene)          # result.fmask (Fmask codes), result.classes (project codes)
    path = fmask_product("S2A_MSIL1C_....SAFE")   # writes <granule>/IMG_DATA/..._FMASK.tif

``run_fmask`` holds a scene in memory and can keep every intermediate layer (figures);
``fmask_product`` (the CLI, ``ensure_fmask``) runs the same steps over strips of the product
(:func:`dfmask_lib.fmask.strips.fmask_strips`), with the same labels bit for bit.

Please cite Zhu & Woodcock 2012 (RSE 118:83-94), Zhu et al. 2015 (RSE 159:269-277),
Qiu, Zhu & He 2019 (RSE 231:111205) and Frantz et al. 2018 (RSE 215:471-481).
"""

from __future__ import annotations

from .compose import FMASK_NAMES, class_fractions
from .config import FmaskConfig
from .pipeline import REQUIRED_BANDS, FmaskResult, run_fmask

__all__ = ["FmaskConfig", "FmaskResult", "run_fmask", "fmask_product", "default_output", "ensure_fmask",
           "class_fractions", "FMASK_NAMES", "REQUIRED_BANDS"]


def __getattr__(name: str):
    # The product I/O edge imports rasterio and the reader: load it only when asked.
    if name in ("fmask_product", "default_output", "ensure_fmask"):
        from . import product
        return getattr(product, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
