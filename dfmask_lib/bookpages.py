"""What an executed book page shows and records: its run line, its parameters, its profile.

The runner (:mod:`dfmask_lib.book`) calls :func:`stamp_notebook` on every notebook it has
executed: the page gets ``metadata["dfmask"]`` (profile, code version, date, duration, run
key), a line under its title saying the same (:func:`record_line`), papermill's injected
cell hidden and the ``parameters`` cell showing the values that ran
(:func:`show_parameters`). :func:`pages_of_profile` is how a build keeps out the pages of
another profile.
"""

from __future__ import annotations

import ast
import json
import pprint
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .atomic import atomic_path

__all__ = ["RECORD_TAG", "record_line", "show_parameters", "present_notebook", "stamp_notebook",
           "page_profile", "pages_of_profile"]

#: Tag of the line under a page's title that says what it was executed under.
RECORD_TAG = "dfmask-run-record"


def duration(seconds: float) -> str:
    """Seconds as a reader says them: ``42.0 s``, ``8.1 min``, ``1.6 h``."""
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def when(iso: str) -> str:
    """``2026-12-01T18:02:07+00:00`` -> ``2026-12-01 18:02 UTC``."""
    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return str(iso)


def record_line(run: Mapping[str, Any]) -> str:
    """The line under a page's title, e.g. ``*Executed under the `default` profile, dfmask
    0.1.0+gabc1234, 2026-12-01 18:02 UTC, in 8.1 min.*``"""
    return (f"*Executed under the `{run['profile']}` profile, dfmask {run['code_version']}, "
            f"{when(run['executed'])}, in {duration(float(run['seconds']))}.*")


def _render_value(prefix: str, value: Any) -> str:
    """``prefix`` followed by ``value`` as Python (repr, long lists one item a line)."""
    text = pprint.pformat(value, width=max(40, 88 - len(prefix)), sort_dicts=False)
    return prefix + text.replace("\n", "\n" + " " * len(prefix))


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return node.target.id
    return None


def _statement_blocks(body: Sequence[ast.stmt]) -> list[list[ast.stmt]]:
    """Top-level statements grouped when they share a line (``a = 1; b = 2``)."""
    blocks: list[list[ast.stmt]] = []
    for node in body:
        if blocks and node.lineno <= max(n.end_lineno or n.lineno for n in blocks[-1]):
            blocks[-1].append(node)
        else:
            blocks.append([node])
    return blocks


def _render_statement(node: ast.stmt, source: str, values: Mapping[str, Any]) -> str:
    name = _assigned_name(node)
    if name not in values:
        return ast.get_source_segment(source, node) or ""
    annotation = "" if not isinstance(node, ast.AnnAssign) else \
        f": {ast.get_source_segment(source, node.annotation)}"
    return _render_value(f"{name}{annotation} = ", values[name])


def show_parameters(source: str, values: Mapping[str, Any]) -> str:
    """A parameters cell's source with each top-level assignment of a name in ``values``
    replaced by ``name = <value>`` (a multi-line assignment as a whole).

    Comments, other lines and a comment after a replaced assignment are kept. Display
    only: the cell is not executed again. A source that does not parse is returned as is.
    """
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return source
    lines = source.splitlines()
    for block in reversed(_statement_blocks(body)):
        if not any(_assigned_name(n) in values for n in block):
            continue
        last = max(block, key=lambda n: (n.end_lineno or n.lineno, n.end_col_offset or 0))
        end = last.end_lineno or last.lineno
        tail = lines[end - 1][last.end_col_offset or 0:].strip()
        text = "\n".join(_render_statement(n, source, values) for n in block)
        text += f"  {tail}" if tail.startswith("#") else ""
        lines[block[0].lineno - 1:end] = text.split("\n")
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def present_notebook(nb: Any, run: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
    """Prepare an executed notebook (nbformat node, changed in place) for the book.

    Sets ``metadata["dfmask"]`` to ``run`` (profile, code_version, executed, seconds,
    key), puts the :func:`record_line` (tagged :data:`RECORD_TAG`) right after the first
    markdown cell, tags papermill's ``injected-parameters`` cell ``remove-cell`` and
    shows the injected values in the ``parameters`` cell (:func:`show_parameters`).
    """
    import nbformat

    nb.metadata["dfmask"] = {k: run[k] for k in
                             ("profile", "code_version", "executed", "seconds", "key")}
    nb.cells = [c for c in nb.cells if RECORD_TAG not in _tags(c)]
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(first + 1, nbformat.v4.new_markdown_cell(
        record_line(run), metadata={"tags": [RECORD_TAG]}))
    for cell in nb.cells:
        tags = _tags(cell)
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = tags + ["remove-cell"]
        elif "parameters" in tags and cell.cell_type == "code" and parameters:
            cell.source = show_parameters(cell.source, parameters)


def stamp_notebook(path: Path, run: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
    """Rewrite the executed notebook ``path`` atomically with :func:`present_notebook`."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    present_notebook(nb, run, parameters)
    with atomic_path(path) as tmp:
        nbformat.write(nb, tmp)


def page_profile(notebook: Path) -> str | None:
    """The profile an executed notebook's metadata says it ran under (None: not recorded)."""
    try:
        meta = json.loads(Path(notebook).read_text()).get("metadata", {})
    except (OSError, ValueError):
        return None
    profile = (meta.get("dfmask") or {}).get("profile")
    return str(profile) if profile is not None else None


def pages_of_profile(names: Sequence[str], executed_dir: Path, profile: str,
                     echo: Callable[[str], None] = print) -> list[str]:
    """The notebooks whose executed page was executed under ``profile``, in order.

    Every other executed page is left out, with a line naming it and its profile.
    """
    kept = []
    for nb in names:
        other = page_profile(executed_dir / f"{nb}.ipynb")
        if other == profile:
            kept.append(nb)
        else:
            under = f"under profile {other!r}" if other else "without a run record"
            echo(f"leaving {nb} out of the book: it was executed {under}, not {profile!r} "
                 f"(execute it with --only {nb})")
    return kept
