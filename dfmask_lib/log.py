"""Logging set-up for the command line.

Library modules log through ``logging.getLogger(__name__)`` and configure nothing;
an application that imports dfmask_lib decides where messages go. The ``dfmask``
command wraps each run in :func:`cli_logging`: messages of the ``dfmask_lib`` logger
at the chosen level go to stderr as ``dfmask: warning: ...``, and everything is put
back afterwards (the CLI runs many times in one test process).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator

from .progress import bars_enabled, set_bars

__all__ = ["LOGGER_NAME", "level_for", "cli_logging"]

#: The package's root logger: every library module's logger is below it.
LOGGER_NAME = "dfmask_lib"


def level_for(verbose: int = 0, quiet: bool = False) -> int:
    """The logging level of ``-q`` (ERROR), none (WARNING), ``-v`` (INFO), ``-vv`` (DEBUG)."""
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"dfmask: {record.levelname.lower()}: {record.getMessage()}"
        if record.levelno <= logging.DEBUG:
            text += f" [{record.name}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StderrHandler(logging.StreamHandler):
    """A StreamHandler on the ``sys.stderr`` of the moment (pytest and click swap it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; ignore
        pass


@contextlib.contextmanager
def cli_logging(level: int, *, progress: bool = True) -> Iterator[logging.Logger]:
    """Within the block, ``dfmask_lib`` logs at ``level`` to stderr; bars off if not ``progress``.

    The logger keeps propagating to the root logger, so an embedding application's own
    handlers (or pytest's ``caplog``) still see the records.
    """
    logger = logging.getLogger(LOGGER_NAME)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    old_level, old_bars = logger.level, bars_enabled()
    logger.addHandler(handler)
    logger.setLevel(level)
    set_bars(progress and old_bars)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        set_bars(old_bars)
