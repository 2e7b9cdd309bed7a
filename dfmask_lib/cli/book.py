"""``dfmask book``: execute the book's notebooks with papermill, then build the HTML."""

from __future__ import annotations

import click


@click.command("book")
@click.option("--profile", "-p", default="default", show_default=True,
              help="Profile name (book/profiles/NAME.yml) or path of a profile .yml file.")
@click.option("--only", multiple=True, metavar="NB",
              help="Execute only this notebook of the profile (repeatable), e.g. --only 00_data.")
@click.option("--build/--no-build", default=True, show_default=True,
              help="Render book/_build/html after executing.")
def book(profile: str, only: tuple[str, ...], build: bool) -> None:
    """Execute the notebooks of a profile with papermill and build the book.

    Executed notebooks are kept in book/executed/; the HTML goes to book/_build/html.
    """
    from ..book import run_book

    run_book(profile, only=only, build=build, echo=click.echo)
