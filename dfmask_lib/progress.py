"""One rule for progress bars across the library.

Long work shows a tqdm bar on a terminal. Where output is not a terminal (a
notebook kernel executed by the book runner, a CI log, a redirected file) bars
stay off, so rendered pages and logs are not cluttered with hundreds of
carriage-return frames.
"""

from __future__ import annotations

__all__ = ["disable_bar"]


def disable_bar(progress: bool) -> bool | None:
    """The value for tqdm's ``disable=``: True when progress is off, else None (terminals only)."""
    return None if progress else True
