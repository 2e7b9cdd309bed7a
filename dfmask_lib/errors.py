"""The dfmask error hierarchy.

Every error a user can cause is a :class:`DfmaskError`. Each subclass also
inherits the matching builtin, so ``except ValueError`` keeps working for
callers who do not know this package (the rasterio pattern). The CLI turns any
``DfmaskError`` into one line on stderr and exit status 2.
"""

from __future__ import annotations

__all__ = [
    "DfmaskError",
    "ProductError",
    "MissingDataError",
    "BandError",
    "LabelError",
    "ConfigError",
    "DataFileError",
    "NotebookError",
]


class DfmaskError(Exception):
    """Base class of every error raised on purpose by dfmask."""


class ProductError(DfmaskError, ValueError):
    """A Sentinel-2 product (SAFE folder, zip, GeoTIFF stack) is malformed or of the wrong kind."""


class MissingDataError(DfmaskError, FileNotFoundError):
    """A file the user asked for, or one a product needs, does not exist or cannot be obtained."""


class BandError(DfmaskError, ValueError):
    """Band names, band count or band order do not match what a function requires."""


class LabelError(DfmaskError, ValueError):
    """A class map holds codes outside its mapping table, or has the wrong shape or dtype."""


class ConfigError(DfmaskError, ValueError):
    """A configuration value or command-line argument is impossible."""


class DataFileError(DfmaskError, ValueError):
    """A derived data file (HDF5 patches, checkpoint) is missing a dataset or has wrong contents."""


class NotebookError(DfmaskError, RuntimeError):
    """A book notebook failed to execute, or the book failed to build."""
