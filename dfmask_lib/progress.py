"""One rule for progress bars across the library.

Long work shows a tqdm bar on a terminal. Where output is not a terminal (a
notebook kernel executed by the book runner, a CI log, a redirected file) bars
stay off, so rendered pages and logs are not cluttered with hundreds of
carriage-return frames. ``dfmask -q`` turns every bar off (:func:`set_bars`).
"""

from __future__ import annotations

__all__ = ["disable_bar", "set_bars", "bars_enabled"]

_enabled = True


def set_bars(enabled: bool) -> None:
    """Allow (True, the default) or forbid every progress bar of this process."""
    global _enabled
    _enabled = bool(enabled)


def bars_enabled() -> bool:
    """Whether progress bars may be shown at all (False after ``set_bars(False)``)."""
    return _enabled


def disable_bar(progress: bool) -> bool | None:
    """The value for tqdm's ``disable=``: True when progress is off, else None (terminals only)."""
    return None if progress and _enabled else True
