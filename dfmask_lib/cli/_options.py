"""Options shared by the commands: the product options, path arguments, the run's state.

:func:`product_options` is the one definition of the options that declare what a product
without full metadata cannot say itself (GeoTIFF stacks, band folders). Every command
that reads products takes it, and receives them as one ``reader_options`` dict of
:func:`dfmask_lib.reader.read_product` keyword arguments (only the options given).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import click

__all__ = ["RunState", "UserPath", "product_options", "parse_band_names", "Resolution",
           "ManyValuedCommand", "spread_values", "MANY_VALUED"]


@dataclass
class RunState:
    """What :func:`dfmask_lib.cli.main` needs to know after a command failed."""

    debug: bool = False
    #: every path given on the command line (arguments and options of type UserPath)
    user_paths: list[Path] = field(default_factory=list)


def _state(ctx: click.Context | None) -> RunState | None:
    return None if ctx is None else ctx.find_object(RunState)


class UserPath(click.Path):
    """``click.Path`` that records the path, so an OSError on it reads as the user's to fix."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        out = super().convert(value, param, ctx)
        state = _state(ctx)
        if state is not None and out is not None:
            state.user_paths.append(Path(out))
        return out


_BAND = re.compile(r"B(\d)")  # Earth Engine spells B01 as B1


def parse_band_names(text: str | None) -> tuple[str, ...] | None:
    """``"B2, B03,b8a"`` -> ``("B02", "B03", "B8A")``: comma-separated, any case, B1 = B01."""
    if text is None:
        return None
    names = []
    for part in text.split(","):
        name = part.strip().upper()
        m = _BAND.fullmatch(name)
        names.append(f"B0{m.group(1)}" if m else name)
    return tuple(names)


def _check_sun(zenith: float | None, azimuth: float | None) -> None:
    from ..errors import ConfigError

    if (zenith is None) != (azimuth is None):
        raise ConfigError("give both --sun-zenith and --sun-azimuth, or neither")


_PRODUCT_OPTIONS: tuple[Callable, ...] = (
    click.option("--band-names", metavar="NAMES", default=None,
                 help="GeoTIFF stack: the Sentinel-2 band in each file band, in file order, "
                      "comma-separated (e.g. B02,B03,B04,B8A,B11,B12; B2 = B02)."),
    click.option("--scale", type=float, default=None, metavar="X",
                 help="GeoTIFF stack or band folder: reflectance = (value + offset) / X. "
                      "Default 10000 for integer files (L1C DN), 1 for float files "
                      "(reflectance)."),
    click.option("--offset", type=float, default=None, metavar="X",
                 help="GeoTIFF stack or band folder: added to each value before scaling "
                      "(-1000 for DN of processing baseline 04.00 or later). Default 0."),
    click.option("--sun-zenith", type=click.FloatRange(0, 90, max_open=True), default=None,
                 metavar="DEG", help="Sun zenith (deg) of a product without MTD_TL.xml (GeoTIFF "
                                     "stack, band folder); with --sun-azimuth."),
    click.option("--sun-azimuth", type=click.FloatRange(0, 360), default=None, metavar="DEG",
                 help="Sun azimuth (deg, clockwise from north); with --sun-zenith."),
)


def product_options(command: Callable) -> Callable:
    """Decorator: add the product options; the command gets them as ``reader_options``.

    ``reader_options`` holds only the options given, under the names of
    :data:`dfmask_lib.reader.PRODUCT_OPTIONS`, ready for ``read_product(path, **reader_options)``.
    """
    @functools.wraps(command)
    def wrapper(*args: Any, band_names: str | None, scale: float | None, offset: float | None,
                sun_zenith: float | None, sun_azimuth: float | None, **kwargs: Any) -> Any:
        _check_sun(sun_zenith, sun_azimuth)
        given = {"band_names": parse_band_names(band_names), "scale": scale, "offset": offset,
                 "sun_zenith": sun_zenith, "sun_azimuth": sun_azimuth}
        options = {k: v for k, v in given.items() if v is not None}
        return command(*args, reader_options=options, **kwargs)

    for option in reversed(_PRODUCT_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


class Resolution(click.ParamType):
    """A pixel size in metres, or ``native`` (None: a GeoTIFF stack's own grid)."""

    name = "metres|native"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float | None:
        if value is None or isinstance(value, float):
            return value
        if str(value).strip().lower() == "native":
            return None
        try:
            return float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a pixel size in metres nor 'native'", param, ctx)


#: Options that take every following path (``--labels a.tif b.tif``), in every command
#: whose class is :class:`ManyValuedCommand` (evaluate, compare).
MANY_VALUED = ("--labels",)


def spread_values(args: Sequence[str], names: Sequence[str] = MANY_VALUED) -> list[str]:
    """``--labels a b c`` -> ``--labels a --labels b --labels c`` (pure, on raw arguments).

    Click options take a fixed number of values; this lets ``--labels`` take every
    argument after it up to the next option (a token starting with ``-``) or ``--``,
    so that ``--labels labels/*.tif`` works with a shell glob. An option given no value is
    passed on bare, for click to report it.
    """
    out: list[str] = []
    pending: str | None = None
    taken = 0
    for k, token in enumerate(args):
        if pending is not None:
            if token != "--" and not token.startswith("-"):
                out += [pending, token]
                taken += 1
                continue
            if not taken:
                out.append(pending)
            pending = None
        if token == "--":
            return out + list(args[k:])
        if token in names:
            pending, taken = token, 0
            continue
        out.append(token)
    if pending is not None and not taken:
        out.append(pending)
    return out


class ManyValuedCommand(click.Command):
    """A command whose MANY_VALUED options take several values after one flag."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(args))
