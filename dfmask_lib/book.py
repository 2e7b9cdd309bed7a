"""The book runner: execute the notebooks of a profile with papermill, then render them.

The notebooks are executed here, outside the book (the CUPiD/showyourwork pattern);
jupyter-book only renders what was executed (``execute_notebooks: "off"``).

A *profile* (``book/profiles/<name>.yml``, or any YAML file given by path) lists the
notebooks to run, in order, and the parameters papermill passes to each::

    notebooks: [01_synthetic, 00_data]
    parameters:
      00_data: {products: [...]}

For every listed ``NN_name``: ``notebooks/NN_name.py`` (jupytext percent format) is
converted to a notebook, executed with papermill (kernel ``python3``, working
directory = project root, the profile's parameters injected after the cell tagged
``parameters``) and kept as ``book/executed/NN_name.ipynb`` (written atomically; a
failed run is kept as ``NN_name.failed.ipynb`` for inspection). Then
``jupyter-book build`` renders ``book/`` into ``book/_build/html`` with a table of
contents restricted to the notebooks of the profile that have been executed.

Run it as ``python -m dfmask_lib.book --profile default [--only 00_data ...]`` or
``dfmask book``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .atomic import atomic_path
from .config import save_config
from .errors import ConfigError, MissingDataError, NotebookError
from .paths import BOOK_DIR, NOTEBOOKS_DIR, PROJECT_ROOT

__all__ = ["Profile", "find_profile", "parse_profile", "load_profile", "notebook_source",
           "notebook_parameters", "check_parameters", "execute_notebook", "book_toc",
           "build_html", "run_book", "EXECUTED_DIR"]

#: Executed notebooks (git-ignored), the pages the book renders.
EXECUTED_DIR = BOOK_DIR / "executed"
PROFILES_DIR = BOOK_DIR / "profiles"
#: ``NN_name``: two digits give the book's order, the name says what the notebook shows.
NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")
KERNEL = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Profile:
    """Which notebooks the book runs, in order, and with which parameters.

    Attributes:
        name: the profile's name (file stem), shown in messages.
        notebooks: notebook names ``NN_name`` in execution (and book) order.
        parameters: notebook name -> papermill parameters (paths relative to the project root).
        source: the YAML file it was read from ("" when built in code).
    """

    name: str
    notebooks: tuple[str, ...]
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""


def find_profile(name_or_path: str | Path, profiles_dir: Path = PROFILES_DIR) -> Path:
    """The YAML file of a profile: ``profiles_dir/<name>.yml``, or an existing file path.

    Raises:
        ConfigError: neither such a profile nor such a file exists (names the known ones).
    """
    candidate = Path(name_or_path)
    if candidate.suffix in (".yml", ".yaml") or candidate.is_file():
        if candidate.is_file():
            return candidate
        raise ConfigError(f"profile file {candidate} does not exist")
    path = profiles_dir / f"{name_or_path}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in profiles_dir.glob("*.yml"))
        raise ConfigError(
            f"no profile {str(name_or_path)!r} in {profiles_dir} (known: {known}); "
            "or give the path of a profile .yml file"
        )
    return path


def parse_profile(data: Any, name: str = "profile", source: str = "") -> Profile:
    """Check the parsed YAML of a profile and return it as a :class:`Profile`.

    Raises:
        ConfigError: not a mapping, unknown keys, no notebooks, a bad or duplicated
            notebook name, or parameters for a notebook the profile does not list.
    """
    where = f"profile {name!r}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a YAML mapping with 'notebooks' and 'parameters'")
    unknown = sorted(set(data) - {"notebooks", "parameters"})
    if unknown:
        raise ConfigError(f"{where} has unknown keys {unknown}; allowed: notebooks, parameters")
    notebooks = data.get("notebooks")
    if not isinstance(notebooks, list) or not notebooks:
        raise ConfigError(f"{where} needs a non-empty list 'notebooks' (e.g. [00_data])")
    for nb in notebooks:
        if not isinstance(nb, str) or not NOTEBOOK_NAME.match(nb):
            raise ConfigError(
                f"{where}: notebook name {nb!r} is not of the form NN_name "
                "(two digits, underscore, lower-case name, no .py)"
            )
    if len(set(notebooks)) != len(notebooks):
        raise ConfigError(f"{where} lists a notebook twice: {notebooks}")
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: 'parameters' must map notebook names to mappings")
    for nb, block in params.items():
        if nb not in notebooks:
            raise ConfigError(
                f"{where} has parameters for {nb!r}, which is not in its notebooks {notebooks}"
            )
        if block is not None and not isinstance(block, dict):
            raise ConfigError(f"{where}: parameters of {nb!r} must be a mapping, got {block!r}")
    return Profile(
        name=name,
        notebooks=tuple(notebooks),
        parameters={nb: dict(params.get(nb) or {}) for nb in notebooks},
        source=source,
    )


def load_profile(name_or_path: str | Path, profiles_dir: Path = PROFILES_DIR) -> Profile:
    """Read and check a profile given by name (``book/profiles/<name>.yml``) or by path."""
    import yaml

    path = find_profile(name_or_path, profiles_dir)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"profile {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_profile(data, name=path.stem, source=str(path))


def notebook_source(name: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    """``notebooks_dir/<name>.py``, checked to exist.

    Raises:
        MissingDataError: the notebook does not exist (names the ones that do).
    """
    path = notebooks_dir / f"{name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in notebooks_dir.glob("[0-9][0-9]_*.py"))
        raise MissingDataError(
            f"the profile names notebook {name!r} but {path} does not exist "
            f"(notebooks: {known}); fix the profile's 'notebooks' list"
        )
    return path


def notebook_parameters(source: Path) -> tuple[str, ...]:
    """Names assigned in the cell tagged ``parameters`` of a jupytext ``.py`` notebook.

    Raises:
        ConfigError: the notebook has no such cell, or it is not valid Python.
    """
    import jupytext

    cells = [c for c in jupytext.read(source).cells
             if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise ConfigError(f"notebook {source} has no cell tagged 'parameters' "
                          "(add `# %% tags=[\"parameters\"]` above its parameters)")
    try:
        body = ast.parse(cells[0].source).body
    except SyntaxError as exc:
        raise ConfigError(f"parameters cell of {source} is not valid Python: {exc.msg}") from None
    return tuple(t.id for node in body if isinstance(node, (ast.Assign, ast.AnnAssign))
                 for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                 if isinstance(t, ast.Name))


def check_parameters(source: Path, parameters: Mapping[str, Any]) -> None:
    """Refuse parameters the notebook does not define (a typo would be silently ignored).

    Raises:
        ConfigError: names the unknown parameters and the known ones.
    """
    known = notebook_parameters(source)
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown} for notebook {source.stem} "
                          f"(its parameters: {list(known)}); fix the profile")


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables the caller has not set, for the kernels started inside."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _first_line(source: str) -> str:
    lines = [ln.strip() for ln in source.splitlines() if ln.strip()]
    line = lines[0] if lines else "<empty>"
    return line if len(line) <= 60 else line[:57] + "..."


def _failure(name: str, exc: Exception, failed: Path) -> str:
    """One line saying which notebook failed where, and why."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        evalue = str(exc.evalue).splitlines()[0] if exc.evalue else ""
        where = f"failed in cell [{exc.exec_count}] ({_first_line(exc.source)!r}): " \
                f"{exc.ename}: {evalue}"
    elif type(exc).__name__ == "DeadKernelError":
        where = "the kernel died (out of memory?)"
    else:
        where = "a cell timed out"
    return f"notebook {name} {where} (executed copy: {failed})"


def execute_notebook(
    source: Path,
    output: Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    cwd: Path = PROJECT_ROOT,
    kernel: str = KERNEL,
    quiet_progress: bool = True,
) -> float:
    """Convert a jupytext ``.py`` notebook, execute it with papermill, keep the result.

    Args:
        source: the percent-format ``.py`` notebook (one cell tagged ``parameters``).
        output: the executed ``.ipynb``, written atomically; on failure the partly
            executed notebook is kept beside it as ``<stem>.failed.ipynb``.
        parameters: injected by papermill after the ``parameters`` cell.
        cwd: the kernel's working directory (the project root: profile paths are relative to it).
        kernel: Jupyter kernel name.
        quiet_progress: run the kernel with ``TQDM_DISABLE=1`` and tqdm's "IProgress not
            found" warning ignored (each unless the caller's environment sets that
            variable) so that progress bars do not clutter the rendered pages; the runner
            reports progress per notebook instead.

    Returns:
        Wall time of the execution in seconds.

    Raises:
        ConfigError: ``parameters`` names a parameter the notebook does not define.
        NotebookError: a cell raised (the one-line message names the notebook, the cell
            and the exception), the kernel died, or there is no such kernel.
    """
    import jupytext
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    check_parameters(source, parameters or {})
    output = Path(output)
    failed = output.with_name(f"{output.stem}.failed.ipynb")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dfmask-book-") as scratch:
        converted = Path(scratch) / f"{output.stem}.ipynb"
        nb = jupytext.read(source)
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3",
                                     "language": "python"}
        jupytext.write(nb, converted)
        # tqdm.auto warns once per kernel that ipywidgets is absent; the bars are off anyway.
        quiet = {"TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore:IProgress not found"} \
            if quiet_progress else {}
        with atomic_path(output) as tmp, _environment(**quiet):
            try:
                papermill.execute_notebook(
                    str(converted), str(tmp), parameters=dict(parameters or {}),
                    kernel_name=kernel, language="python", cwd=str(cwd), progress_bar=False,
                    log_output=False,
                )
            except NoSuchKernel:
                raise NotebookError(f"no Jupyter kernel {kernel!r} for notebook {source.stem}; "
                                    "`make setup` installs it into .venv") from None
            except (PapermillExecutionError, DeadKernelError, CellTimeoutError) as exc:
                if tmp.exists():
                    tmp.replace(failed)
                raise NotebookError(_failure(source.stem, exc, failed)) from None
    failed.unlink(missing_ok=True)
    return time.perf_counter() - start


def book_toc(toc: Mapping[str, Any], executed: Sequence[str]) -> dict[str, Any]:
    """The table of contents restricted to the notebooks that were executed.

    Chapters ``executed/<name>`` whose notebook is not in ``executed`` are dropped;
    executed notebooks the toc does not list are appended in ``executed`` order
    (a user's own profile may add notebooks). Other pages are kept.

    Args:
        toc: parsed ``_toc.yml`` (jupyter-book ``jb-book`` format: ``root``, ``chapters``).
        executed: names of the executed notebooks, in book order.
    """
    chapters = []
    listed = set()
    for entry in toc.get("chapters", []):
        page = str(entry.get("file", ""))
        if page.startswith("executed/"):
            name = page.split("/", 1)[1]
            listed.add(name)
            if name not in executed:
                continue
        chapters.append(dict(entry))
    chapters += [{"file": f"executed/{nb}"} for nb in executed if nb not in listed]
    return {**toc, "chapters": chapters}


def build_html(
    executed: Sequence[str],
    *,
    book_dir: Path = BOOK_DIR,
    config: Path = PROJECT_ROOT / "_config.yml",
    toc: Path = PROJECT_ROOT / "_toc.yml",
    echo: Callable[[str], None] = print,
) -> Path:
    """Render ``book_dir`` into ``book_dir/_build/html`` with jupyter-book (offline).

    Args:
        executed: names of the notebooks to include (must exist in ``book_dir/executed``).
        book_dir, config, toc: the book's sources, ``_config.yml`` and ``_toc.yml``.
        echo: where Sphinx's warnings go (each distinct one once).

    Returns:
        The path of ``index.html``.

    Raises:
        NotebookError: jupyter-book failed (the message ends with its last output line).
    """
    import yaml

    build = book_dir / "_build"
    build.mkdir(parents=True, exist_ok=True)
    effective = book_toc(yaml.safe_load(toc.read_text()), executed)
    toc_used = build / "_toc.yml"
    with atomic_path(toc_used) as tmp:
        tmp.write_text(yaml.safe_dump(effective, sort_keys=False))
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; "
           "sys.exit(main())", "build", str(book_dir), "--config", str(config),
           "--toc", str(toc_used), "--path-output", str(book_dir), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=book_dir)
    index = build / "html" / "index.html"
    output = _ANSI.sub("", proc.stderr + proc.stdout)
    for line in dict.fromkeys(ln.strip() for ln in output.splitlines() if "WARNING" in ln):
        echo(f"  sphinx: {line}")
    if proc.returncode != 0 or not index.exists():
        tail = (output.strip() or "no output").splitlines()[-1]
        raise NotebookError(f"jupyter-book build failed (exit {proc.returncode}): {tail}")
    return index


def _require_book_extra() -> None:
    import importlib.util

    missing = [m for m in ("papermill", "jupytext", "yaml", "jupyter_book", "ipykernel")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise NotebookError(f"the book needs {missing}: install the book extra "
                            "(`make setup`, or pip install -e '.[book]')")


def run_book(
    profile: str | Path | Profile,
    *,
    only: Sequence[str] = (),
    build: bool = True,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    book_dir: Path = BOOK_DIR,
    echo: Callable[[str], None] = print,
) -> dict[str, float]:
    """Execute a profile's notebooks (all, or ``only`` some) and build the book.

    Args:
        profile: a :class:`Profile`, a profile name or a profile file path.
        only: execute just these notebooks of the profile (others already executed stay
            in the book).
        build: render the HTML after executing.
        notebooks_dir: where the ``.py`` notebooks are.
        book_dir: the book's sources; executed copies go to ``book_dir/executed``.
        echo: where progress lines go.

    Returns:
        Notebook name -> execution wall time (s), for the notebooks executed now.

    Raises:
        ConfigError: bad profile, or ``only`` names a notebook the profile does not list.
        MissingDataError: the profile names a notebook that does not exist.
        NotebookError: a notebook or the HTML build failed.
    """
    _require_book_extra()
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    stray = [nb for nb in only if nb not in profile.notebooks]
    if stray:
        raise ConfigError(f"--only {stray}: not in profile {profile.name!r} "
                          f"(it lists {list(profile.notebooks)})")
    todo = [nb for nb in profile.notebooks if not only or nb in only]
    sources = {nb: notebook_source(nb, notebooks_dir) for nb in todo}  # all checked first
    for nb in todo:
        check_parameters(sources[nb], profile.parameters.get(nb, {}))
    executed_dir = book_dir / "executed"
    # Inherited by the kernels: GDAL must not write .aux.xml files beside a shared data mirror.
    os.environ.setdefault("GDAL_PAM_ENABLED", "NO")
    executed_dir.mkdir(parents=True, exist_ok=True)
    save_config(profile, executed_dir / "profile.json")
    times: dict[str, float] = {}
    for i, nb in enumerate(todo, 1):
        echo(f"[{i}/{len(todo)}] {nb}: executing ({profile.name} profile) ...")
        times[nb] = execute_notebook(sources[nb], executed_dir / f"{nb}.ipynb",
                                     profile.parameters.get(nb, {}))
        echo(f"[{i}/{len(todo)}] {nb}: done in {times[nb]:.1f} s")
    if build:
        present = [nb for nb in profile.notebooks if (executed_dir / f"{nb}.ipynb").is_file()]
        start = time.perf_counter()
        echo(f"building the book with {len(present)} notebook(s): {', '.join(present)} ...")
        index = build_html(present, book_dir=book_dir, echo=echo)
        echo(f"book built in {time.perf_counter() - start:.1f} s: {index}")
    return times


if __name__ == "__main__":
    from .cli import main

    main(["book", *sys.argv[1:]])
