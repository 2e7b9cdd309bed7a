"""``dfmask compare PRODUCT... --methods ...``: dfmask and its peers on the same pixels."""

from __future__ import annotations

from pathlib import Path

import click

from ._options import ManyValuedCommand, RunState, UserPath, product_options

__all__ = ["compare"]

_SUFFIXES = (".csv", ".json")


@click.command(cls=ManyValuedCommand)
@click.argument("products", metavar="PRODUCT...", nargs=-1)
@click.option("--methods", default=None, metavar="NAMES",
              help="Comma-separated methods: registered peers (see --list-methods) and trained "
                   "models as dfmask:EXP or dfmask:EXP/stage3. Default: every registered peer "
                   "(no dfmask model unless given).")
@click.option("--labels", "labels", multiple=True, metavar="PATH...",
              type=UserPath(path_type=Path),
              help="Label files (*LABELS.tif) or folders of them for the products (paired as "
                   "dfmask evaluate pairs them); default: each product's own *LABELS.tif. "
                   "Bundled datasets bring their own reference.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed rounds per method (order rotated each round; the median is shown).")
@click.option("-o", "--output", "outputs", multiple=True, metavar="OUT.csv|OUT.json",
              type=UserPath(dir_okay=False, path_type=Path),
              help="Write the table (.csv) or everything (.json); may be given twice.")
@click.option("--device", default="auto", show_default=True,
              help="Device of dfmask models: auto, cpu or cuda[:N].")
@click.option("--list-methods", is_flag=True,
              help="List the methods, the classes each claims and whether it can run here.")
@product_options
def compare(products: tuple[str, ...], methods: str | None, labels: tuple[Path, ...],
            repeats: int, outputs: tuple[Path, ...], device: str, list_methods: bool,
            reader_options: dict) -> None:
    """Compare cloud masks of several methods on PRODUCT... on the same pixels.

    PRODUCT is a SAFE folder, its zip, a folder of band files or a GeoTIFF stack (read at
    20 m), or a bundled real dataset: ukis-chip, ukis-chip-20m, betsiboka, 18svg. Pixels
    scored: reference not 0, scene valid, and every method that ran gave an answer. Each
    method is scored on the classes it claims (all classes, cloud+shadow, or cloud), and
    every method on binary cloud metrics; without a reference the cloud share (on a
    cloud-free scene: false clouds) is shown. Methods that cannot run here are skipped with
    their reason.

    \b
    dfmask compare ukis-chip betsiboka --methods fmask,s2cloudless -o cmp.csv
    dfmask compare T31TCJ.SAFE --methods fmask,dfmask:EXP/stage3 --repeats 5
    dfmask compare --list-methods
    """
    from ..compare import PIXEL_RULE, SceneInput, compare_inputs, method_listing, \
        parse_methods, product_inputs
    from ..errors import ConfigError
    from ..metrics import format_table
    from ..realdata import BUNDLED

    bad = [p for p in outputs if p.suffix.lower() not in _SUFFIXES]
    if bad:
        raise ConfigError(f"output {bad[0]} must end in .csv or .json")
    chosen = parse_methods(methods, device=device)
    if list_methods:
        click.echo(format_table(method_listing(chosen)))
        return
    if not products:
        raise click.UsageError("give at least one PRODUCT (or a bundled dataset: "
                               + ", ".join(BUNDLED) + "), or --list-methods")
    if not chosen:
        raise ConfigError("no methods to compare: no peer is registered; give --methods "
                          "dfmask:EXP")
    paths = [p for p in products if p not in BUNDLED]
    if labels and not paths:
        raise ConfigError("--labels are for product paths; the bundled datasets bring their "
                          "own reference")
    if reader_options and not paths:
        raise ConfigError("the product options (--band-names, --scale, --offset, --sun-*) are "
                          "for product paths; the bundled datasets declare their own")
    state = click.get_current_context().find_object(RunState)
    if state is not None:  # an OSError on a product named here is the user's to fix
        state.user_paths.extend(Path(p) for p in paths)
    by_path = {str(i.product): i for i in product_inputs(paths, list(labels) or None,
                                                        reader_options=reader_options)}
    inputs = []
    for p in products:
        if p in BUNDLED:
            b = BUNDLED[p]
            inputs.append(SceneInput(b.name, b.load, b.claims))
        else:
            inputs.append(by_path[str(Path(p))])
    result = compare_inputs(inputs, chosen, repeats=repeats)

    click.echo(PIXEL_RULE)
    for s in result.scenes.values():
        what = ("reference classes " + ",".join(map(str, sorted(s.reference))) if s.reference
                else "no reference: cloud share = false cloud fraction on a cloud-free scene")
        click.echo(f"  {s.name}: {s.shape[0]} x {s.shape[1]} px, {int(s.scored.sum())} scored "
                   f"pixels ({what})")
    click.echo()
    rows = [{k: v for k, v in r.items() if k != "skipped"} for r in result.table()
            if not r["skipped"]]  # skipped methods are listed below with their reasons
    if rows:
        click.echo(format_table(rows))
    else:
        click.echo("no method could run on these scenes")
    skips: dict[tuple[str, str], list[str]] = {}
    for s in result.scenes.values():
        for m in s.methods.values():
            if m.skipped:
                skips.setdefault((m.label, m.skipped), []).append(s.name)
    for (label, reason), names in skips.items():
        click.echo(f"skipped {label} on {', '.join(names)}: {reason}")
    for path in outputs:
        write = result.to_json if path.suffix.lower() == ".json" else result.to_csv
        click.echo(f"wrote {write(path)}")
