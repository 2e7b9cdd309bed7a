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

#: command name -> ("module:function" relative to this package, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "info": (".info:info", "Describe a Sentinel-2 product: baseline, offsets, grid, angles."),
    "fmask": (".fmask:fmask", "Run the project's Fmask 4 on a product; write *FMASK.tif."),
    "synth": (".synth:synth", "Write synthetic polar/mountain L1C SAFE scenes with exact truth."),
    "make-data": (".make_data:make_data", "Cut products and labels into HDF5 training patches."),
    "train": (".train:train", "Train a U-Net stage on HDF5 patches (resumable)."),
    "book": (".book:book", "Execute the notebooks with papermill and build the book."),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target[0].split(":")
        return getattr(importlib.import_module(module, __name__), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help from the table, so `dfmask --help` imports no command (nor torch).
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dfmask")
def cli() -> None:
    """dfmask: cloud, shadow, snow/ice and water masks for Sentinel-2 L1C (Deep F-Mask)."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dfmask`` console script."""
    try:
        rv = cli.main(args=argv, prog_name="dfmask", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("dfmask: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except DfmaskError as exc:
        click.echo(f"dfmask: error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:  # unwritable output folder, full disk, ...: the user's to fix
        click.echo(f"dfmask: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(2)
    else:
        sys.exit(rv if isinstance(rv, int) else 0)
