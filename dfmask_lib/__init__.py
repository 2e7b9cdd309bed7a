"""dfmask: Deep F-Mask for Sentinel-2 L1C images of snow- and ice-covered regions.

An open reimplementation of Nambiar et al. (2022), "A Self-Trained Model for
Cloud, Shadow and Snow Detection in Sentinel-2 Images of Snow- and Ice-Covered
Regions", Remote Sensing 14(8):1825, doi:10.3390/rs14081825. Please cite it.

``dfmask_lib.__version__`` names the code that runs: the package version plus the
git commit of a checkout, e.g. ``0.1.0+g7b7f24b`` (see :mod:`dfmask_lib.version`).
It is computed on first access, so ``import dfmask_lib`` starts no subprocess.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # PEP 562: `from dfmask_lib import __version__` works, and asks git only when used.
    if name == "__version__":
        from .version import get_version

        return get_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
