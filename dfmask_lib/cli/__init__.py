"""The ``dfmask`` command line (click). One module per command, loaded lazily.

Commands are imported only when invoked, so ``dfmask info`` does not pay for
importing torch. A :class:`~dfmask_lib.errors.DfmaskError` (a user mistake)
becomes one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from ..errors import DfmaskError

#: command name -> "module:function" (relative to this package).
COMMANDS: dict[str, str] = {
    "info": ".info:info",
    "fmask": ".fmask:fmask",
    "synth": ".synth:synth",
    "make-data": ".make_data:make_data",
    "train": ".train:train",
    "book": ".book:book",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module, __name__), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dfmask")
def cli() -> None:
    """dfmask: cloud, shadow, snow/ice and water masks for Sentinel-2 L1C (Deep F-Mask)."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dfmask`` console script."""
    try:
        cli.main(args=argv, prog_name="dfmask", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("dfmask: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except DfmaskError as exc:
        click.echo(f"dfmask: error: {exc}", err=True)
        sys.exit(2)
    else:
        sys.exit(0)
