"""``dfmask book``: execute the book's notebooks with papermill, then build the HTML."""

from __future__ import annotations

import click


@click.command("book")
@click.option("--profile", "-p", default="default", show_default=True,
              help="Profile name (book/profiles/NAME.yml) or path of a profile .yml file.")
@click.option("--only", multiple=True, metavar="NB",
              help="Consider only this notebook of the profile (repeatable), e.g. --only 00_data.")
@click.option("--from", "from_notebook", default=None, metavar="NB",
              help="Consider this notebook of the profile and every one after it.")
@click.option("--force", is_flag=True,
              help="Execute the notebooks considered even when they are up to date.")
@click.option("--build/--no-build", default=True, show_default=True,
              help="Render book/_build/html after executing.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Check the rendered pages (python -m dfmask_lib.bookcheck) and fail on problems.")
def book(profile: str, only: tuple[str, ...], from_notebook: str | None, force: bool,
         build: bool, check: bool) -> None:
    """Execute the notebooks of a profile with papermill and build the book.

    A notebook is executed only when its source, parameters, input files, the code
    version or an earlier notebook changed since its last run (book/executed/NB.run.json),
    or with --force. Executed notebooks are kept in book/executed/; the HTML goes to
    book/_build/html and shows only the pages executed under this profile.
    """
    from ..book import run_book

    run_book(profile, only=only, from_notebook=from_notebook, force=force, build=build,
             check=check, echo=click.echo)
