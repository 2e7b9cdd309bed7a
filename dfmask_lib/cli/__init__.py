"""The ``dfmask`` command line (click). One module per command, loaded lazily.

Commands are imported only when invoked, so ``dfmask --help`` and ``dfmask info`` do
not pay for importing torch. Failures end in one of three ways:

* a user mistake -- a :class:`~dfmask_lib.errors.DfmaskError`, a bad option, or an
  OSError of the user's environment (permission denied, disk full or over quota,
  read-only file system, file too large, name too long, a failing disk) or of a path
  named on the command line (or inside or beside one: no such file, not a folder,
  exists) -- prints one line
  ``dfmask: error: ...`` on stderr and exits with status 2;
* anything else is a bug in dfmask: a short message saying so, asking for a rerun with
  ``--debug``, and exit status 1;
* ``--debug`` adds the full traceback to either.

``-v`` / ``-vv`` / ``-q`` set the level of the ``dfmask_lib`` logger (INFO, DEBUG, ERROR;
default WARNING); ``-q`` also turns progress bars off.
"""

from __future__ import annotations

import errno
import importlib
import sys
import traceback
from pathlib import Path

import click

from ..errors import DfmaskError
from ._options import RunState

__all__ = ["cli", "main", "COMMANDS", "is_user_oserror"]

#: command name -> ("module:function" relative to this package, one-line help).
COMMANDS: dict[str, tuple[str, str]] = {
    "info": (".info:info", "Describe a Sentinel-2 product: baseline, offsets, grid, angles."),
    "fmask": (".fmask:fmask", "Run the project's Fmask 4 on a product; write *FMASK.tif."),
    "synth": (".synth:synth", "Write synthetic polar/mountain L1C SAFE scenes with exact truth."),
    "make-data": (".make_data:make_data", "Cut products and labels into HDF5 training patches."),
    "train": (".train:train", "Train a U-Net stage on HDF5 patches (resumable)."),
    "predict": (".predict:predict", "Predict class maps of products with a trained model (COG)."),
    "selftrain": (".selftrain:selftrain", "Self-train U-Net stages 0-3 on pseudo-labels (resumable)."),
    "evaluate": (".evaluate:evaluate", "Score class maps against labels on whole scenes."),
    "compare": (".compare:compare", "Compare dfmask and peer masks on the same pixels and metrics."),
    "book": (".book:book", "Execute the notebooks with papermill and build the book."),
}

#: OSErrors of the user's environment, whichever file they concern.
ENVIRONMENT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT,
                                errno.EROFS, errno.EFBIG, errno.ENAMETOOLONG, errno.EIO})
#: OSErrors that are the user's to fix only for a path the user named: for a path the
#: library made up itself they are a bug.
PATH_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                         errno.ENOTEMPTY, errno.ELOOP})


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


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from ..version import get_version  # asks git only when --version is given

    click.echo(f"dfmask {get_version()}")
    ctx.exit()


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    # at parse time, so that errors before the command runs (an import) know it too
    ctx.ensure_object(RunState).debug = value
    return value


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version,
              help="Show the version (package version + git commit) and exit.")
@click.option("--debug", is_flag=True, callback=_set_debug, is_eager=True,
              help="Show the full traceback of any error.")
@click.option("-v", "--verbose", count=True,
              help="More messages: -v progress notes (INFO), -vv details (DEBUG).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress bars.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int, quiet: bool) -> None:
    """dfmask: cloud, shadow, snow/ice and water masks for Sentinel-2 L1C (Deep F-Mask)."""
    from ..log import cli_logging, level_for

    if verbose and quiet:
        raise click.UsageError("give -v or -q, not both", ctx)
    ctx.with_resource(cli_logging(level_for(verbose, quiet), progress=not quiet))


def _is_users(path: Path, user_paths: list[Path]) -> bool:
    """``path`` is a path the user named, lies inside one, or beside one (its temp files)."""
    try:
        path = path.resolve()
    except (OSError, RuntimeError):
        return False
    for user in user_paths:
        user = user.resolve()
        if path == user or user in path.parents or path.parent == user.parent:
            return True
    return False


def is_user_oserror(exc: OSError, user_paths: list[Path]) -> bool:
    """Whether an OSError is the user's to fix (see the module docstring) rather than a bug."""
    if exc.errno in ENVIRONMENT_ERRNOS:
        return True
    if exc.errno in PATH_ERRNOS:
        names = [n for n in (exc.filename, exc.filename2) if n not in (None, "")]
        return any(_is_users(Path(str(n)), user_paths) for n in names)
    return False


def _oserror_line(exc: OSError) -> str:
    where = " -> ".join(str(n) for n in (exc.filename, exc.filename2) if n is not None)
    return f"{exc.strerror or exc}: {where}" if where else f"{exc.strerror or exc}"


def _fail(state: RunState, line: str, status: int) -> None:
    if state.debug:
        traceback.print_exc(file=sys.stderr)
    click.echo(line, err=True)
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dfmask`` console script (exit status 0, 1 for a bug, 2 for a user error)."""
    state = RunState()
    try:
        rv = cli.main(args=argv, prog_name="dfmask", standalone_mode=False, obj=state)
    except click.exceptions.Abort:
        click.echo("dfmask: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        if state.debug:
            traceback.print_exc(file=sys.stderr)
        exc.show()
        sys.exit(2)
    except DfmaskError as exc:
        _fail(state, f"dfmask: error: {exc}", 2)
    except OSError as exc:
        if is_user_oserror(exc, state.user_paths):
            _fail(state, f"dfmask: error: {_oserror_line(exc)}", 2)
        _bug(state, exc)
    except Exception as exc:  # noqa: BLE001 - anything else is ours to fix
        _bug(state, exc)
    else:
        sys.exit(rv if isinstance(rv, int) else 0)


def _bug(state: RunState, exc: BaseException) -> None:
    summary = f"{type(exc).__name__}: {exc}".rstrip(": ")
    hint = ("" if state.debug else
            "\ndfmask: rerun with --debug for the full traceback, and please report it with "
            "the command line")
    _fail(state, f"dfmask: internal error (a bug in dfmask, not in your input): {summary}"
                 f"{hint}", 1)
