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
contents restricted to the notebooks of the profile that have been executed, and the
static checks of :mod:`dfmask_lib.bookcheck` run on the pages just rendered.

A notebook is executed only when something it depends on changed. After a successful
run the runner writes ``book/executed/NN_name.run.json``, whose ``key`` is a sha256 over
the notebook's source text, its parameters, the code version, the fingerprints of its
external inputs (:func:`external_inputs`, fingerprinted by
:func:`dfmask_lib.cache.fingerprint_inputs`) and the runs (key and time) of the notebooks
before it in the profile, so that re-executing a chapter re-executes the ones after it; a
notebook whose record, key, profile and executed copy are all still
right is skipped (``--force`` executes it anyway). Each executed page says what it ran
under (metadata ``dfmask`` and a line below its title); the book renders only the pages
executed under the profile it is built for. The parameters cell of a page shows the
values the profile injected (papermill's own injected cell is hidden).

Run it as ``python -m dfmask_lib.book --profile default [--only 00_data ... | --from
02_fmask] [--force]`` or ``dfmask book``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from . import paths
from .atomic import atomic_path, write_json
from .config import save_config
from .errors import ConfigError, MissingDataError, NotebookError
from .bookpages import (duration, page_profile, pages_of_profile, present_notebook,
                        record_line, show_parameters, stamp_notebook, when)
from .paths import BOOK_DIR, NOTEBOOKS_DIR, PROJECT_ROOT

__all__ = ["Profile", "find_profile", "parse_profile", "load_profile", "notebook_source",
           "notebook_parameters", "check_parameters", "execute_notebook", "book_toc",
           "build_html", "run_book", "EXECUTED_DIR", "external_inputs", "key_parts", "run_key",
           "read_run_record", "record_line", "show_parameters", "present_notebook",
           "stamp_notebook", "page_profile", "pages_of_profile", "select_notebooks"]

#: Executed notebooks (git-ignored), the pages the book renders.
EXECUTED_DIR = BOOK_DIR / "executed"
PROFILES_DIR = BOOK_DIR / "profiles"
#: ``NN_name``: two digits give the book's order, the name says what the notebook shows.
NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")
KERNEL = "python3"
#: Arguments of every kernel: its own log only for errors. Its warnings are about the
#: kernel's transport ("running over TCP without encryption", every time), not the notebook,
#: whose warnings reach the page as notes (dfmask_lib.display).
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR",)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: What a changed part of a run key is called in the runner's messages.
KEY_PART_NAMES = {"source": "its source", "parameters": "its parameters",
                  "code_version": "the code version", "inputs": "its input files",
                  "upstream": "an earlier notebook"}


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
                    log_output=False, extra_arguments=list(KERNEL_ARGUMENTS),
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


def _parameter_strings(value: Any) -> Iterator[str]:
    """The strings a parameter value holds: itself, or the strings inside a list."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _parameter_strings(item)


def _existing(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a path
        return False


def external_inputs(parameters: Mapping[str, Any], *, root: Path = PROJECT_ROOT,
                    mirrors: Sequence[Path] | None = None,
                    excluded: Sequence[Path] | None = None) -> list[Path]:
    """The existing files and folders a notebook's parameters name: its external inputs.

    A parameter value (a string, or a string inside a list) is an input when it names
    an existing path relative to ``root`` (or absolute), else relative to a data mirror
    (registry names such as ``"alcd_toulouse_safe/...SAFE"``). Paths under ``excluded``
    are not inputs: they are the book's own outputs, which the keys of the notebooks
    that write them cover; nor are ``root``, a mirror, or folders above them.

    Args:
        parameters: one notebook's papermill parameters.
        root: the project root (the kernels' working directory).
        mirrors: data folders registry names are relative to; default the local mirror
            (:func:`dfmask_lib.paths.default_mirror`) when it exists.
        excluded: default ``root/data/generated`` and :data:`dfmask_lib.paths.GENERATED_DIR`.

    Returns:
        Resolved paths, each once, in the order the parameters name them.
    """
    if mirrors is None:
        mirror = paths.default_mirror()
        mirrors = [mirror] if mirror is not None and mirror.is_dir() else []
    bases = [Path(root).resolve(), *(Path(m).resolve() for m in mirrors)]
    if excluded is None:
        excluded = [Path(root) / "data" / "generated", paths.GENERATED_DIR]
    outside = [Path(e).resolve() for e in excluded]
    found: dict[Path, None] = {}
    for value in parameters.values():
        for text in _parameter_strings(value):
            hit = next((b / text for b in bases if text.strip() and _existing(b / text)), None)
            if hit is None:
                continue
            hit = hit.resolve()
            if any(hit.is_relative_to(e) for e in outside) or any(
                    b.is_relative_to(hit) for b in bases):
                continue
            found[hit] = None
    return list(found)


def key_parts(source_text: str, parameters: Mapping[str, Any],
              upstream: Sequence[str | None], *, version: str | None = None,
              inputs: Sequence[Path] = ()) -> dict[str, str]:
    """What a notebook's run key is computed from, each part as text.

    Args:
        source_text: the notebook's ``.py`` source.
        parameters: its papermill parameters (JSON, keys sorted).
        upstream: the runs of the notebooks before it in the profile, each as its run
            record's ``key@executed`` (None: never executed).
        version: the code version; default :func:`dfmask_lib.version.get_version`.
        inputs: its external inputs (:func:`external_inputs`), fingerprinted by
            :func:`dfmask_lib.cache.fingerprint_inputs` (name, size, mtime).
    """
    from .cache import fingerprint_inputs
    from .version import get_version

    return {"source": source_text,
            "parameters": json.dumps(dict(parameters), sort_keys=True, default=str),
            "code_version": version or get_version(),
            "inputs": json.dumps(fingerprint_inputs(inputs), default=str),
            "upstream": json.dumps(list(upstream))}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_key(parts: Mapping[str, str]) -> str:
    """sha256 (hex) of the :func:`key_parts` (as JSON, keys sorted)."""
    return _sha256(json.dumps(dict(parts), sort_keys=True))


def _part_digests(parts: Mapping[str, str]) -> dict[str, str]:
    """A short digest of each key part, kept in the run record to say later what changed."""
    return {k: _sha256(v)[:16] for k, v in parts.items()}


def read_run_record(path: Path) -> dict[str, Any] | None:
    """A run record ``NN_name.run.json`` as a dict, or None (missing or unreadable)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _run_id(record: Mapping[str, Any] | None) -> str | None:
    """How a later notebook's key names one run of an earlier one: ``key@executed``.

    The time is part of it so that re-executing an earlier notebook (``--force``, a
    missing page) re-executes the later ones even when its key did not change: its
    outputs under ``data/generated`` (training, random draws) may have.
    """
    return None if record is None else f"{record.get('key')}@{record.get('executed')}"


def _why_execute(record: Mapping[str, Any] | None, parts: Mapping[str, str], page: Path,
                 profile: str, force: bool) -> str | None:
    """Why a notebook must be executed now ("" when it never was), or None: up to date."""
    if force:
        return "--force"
    if record is None:
        return ""
    if not page.is_file():
        return "its executed page is missing"
    if record.get("profile") != profile:
        return f"last executed under profile {record.get('profile')!r}"
    if record.get("key") == run_key(parts):
        return None
    old = record.get("parts") or {}
    changed = [KEY_PART_NAMES[k] for k, v in _part_digests(parts).items() if old.get(k) != v]
    return f"{' and '.join(changed) or 'its key'} changed"


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
    check: bool = True,
) -> Path:
    """Render ``book_dir`` into ``book_dir/_build/html`` with jupyter-book (offline).

    Every page is rendered again (``--all``, a few seconds: the notebooks are executed
    already), so that a changed stylesheet or extension reaches every page.

    Args:
        executed: names of the notebooks to include (must exist in ``book_dir/executed``).
        book_dir, config, toc: the book's sources, ``_config.yml`` and ``_toc.yml``.
        echo: where Sphinx's warnings go (each distinct one once).
        check: run :func:`dfmask_lib.bookcheck.check_html` on the pages just rendered.

    Returns:
        The path of ``index.html``.

    Raises:
        NotebookError: jupyter-book failed (the message ends with its last output line),
            or ``check`` found problems (the message names the first ones).
    """
    import yaml

    build = book_dir / "_build"
    build.mkdir(parents=True, exist_ok=True)
    _drop_stale_pages(build / "html" / "executed", executed)
    effective = book_toc(yaml.safe_load(toc.read_text()), executed)
    toc_used = build / "_toc.yml"
    with atomic_path(toc_used) as tmp:
        tmp.write_text(yaml.safe_dump(effective, sort_keys=False))
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; "
           "sys.exit(main())", "build", str(book_dir), "--config", str(config),
           "--toc", str(toc_used), "--path-output", str(book_dir), "--quiet", "--all"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=book_dir)
    index = build / "html" / "index.html"
    output = _ANSI.sub("", proc.stderr + proc.stdout)
    for line in dict.fromkeys(ln.strip() for ln in output.splitlines() if "WARNING" in ln):
        echo(f"  sphinx: {line}")
    if proc.returncode != 0 or not index.exists():
        tail = (output.strip() or "no output").splitlines()[-1]
        raise NotebookError(f"jupyter-book build failed (exit {proc.returncode}): {tail}")
    if check:
        _check_built(build / "html", executed, book_dir / "executed")
    return index


def _drop_stale_pages(pages: Path, executed: Sequence[str]) -> None:
    """Delete rendered chapter pages of notebooks not in this build (Sphinx keeps them)."""
    if pages.is_dir():
        for page in pages.glob("*.html"):
            if page.stem not in executed:
                page.unlink()


def _check_built(html: Path, chapters: Sequence[str], executed_dir: Path) -> None:
    """Raise NotebookError naming the first problems :func:`check_html` finds, if any."""
    from .bookcheck import check_html

    problems = check_html(html, chapters, executed_dir=executed_dir)
    if problems:
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise NotebookError(f"the built book has {len(problems)} problem(s): "
                            f"{'; '.join(problems[:3])}{more} (all: python -m "
                            f"dfmask_lib.bookcheck {html}; or build with --no-check)")


def _require_book_extra() -> None:
    import importlib.util

    missing = [m for m in ("papermill", "jupytext", "yaml", "jupyter_book", "ipykernel")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise NotebookError(f"the book needs {missing}: install the book extra "
                            "(`make setup`, or pip install -e '.[book]')")


def select_notebooks(profile: Profile, only: Sequence[str] = (),
                     from_notebook: str | None = None) -> list[str]:
    """The notebooks of ``profile`` to consider now, in profile order.

    Args:
        only: just these (``--only``); empty: all.
        from_notebook: this one and every one after it (``--from``).

    Raises:
        ConfigError: both given, or a name the profile does not list.
    """
    listed = list(profile.notebooks)
    if only and from_notebook:
        raise ConfigError("give --from or --only, not both (--from NB executes NB and every "
                          "notebook after it)")
    stray = [nb for nb in (*only, *([from_notebook] if from_notebook else [])) if nb not in listed]
    if stray:
        flag = "--only" if only else "--from"
        raise ConfigError(f"{flag} {stray}: not in profile {profile.name!r} "
                          f"(it lists {listed})")
    if from_notebook:
        return listed[listed.index(from_notebook):]
    return [nb for nb in listed if not only or nb in only]


def children_peak_gb() -> float:
    """The largest peak RSS (GB) among this process's finished, reaped children and their
    descendants (``getrusage(RUSAGE_CHILDREN).ru_maxrss``; Linux reports kB).

    Each notebook's kernel is such a child: when the value grows while a notebook runs, its
    kernel (or a process it started and waited for) peaked at the new value; when it does not,
    the notebook stayed at or below the old one. So a run of the book names the notebook that
    needed the most memory (its ``<nb>.run.json``: ``peak_gb``, else ``peak_at_most_gb``).
    """
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9


def _execute_recorded(nb: str, source: Path, profile: Profile, source_text: str,
                      upstream: Sequence[str | None], executed_dir: Path) -> dict[str, Any]:
    """Execute one notebook, stamp its page and write its run record; return the record.

    The key is computed once the notebook has run, with the source text read before:
    a notebook that writes into an input folder would otherwise never be up to date.
    """
    params = profile.parameters.get(nb, {})
    before = children_peak_gb()
    seconds = execute_notebook(source, executed_dir / f"{nb}.ipynb", params)
    after = children_peak_gb()
    parts = key_parts(source_text, params, upstream, inputs=external_inputs(params))
    run = {"notebook": nb, "key": run_key(parts), "profile": profile.name,
           "code_version": parts["code_version"],
           "executed": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
           "seconds": round(seconds, 1), "parts": _part_digests(parts),
           # The kernel's peak RSS when it set a new high for this runner, else a bound.
           "peak_gb": round(after, 2) if after > before else None,
           "peak_at_most_gb": None if after > before else round(before, 2)}
    stamp_notebook(executed_dir / f"{nb}.ipynb", run, params)
    write_json(executed_dir / f"{nb}.run.json", run)
    return run


def _execute_profile(profile: Profile, todo: Sequence[str], sources: Mapping[str, Path],
                     executed_dir: Path, force: bool,
                     echo: Callable[[str], None]) -> dict[str, float]:
    """Execute the notebooks ``todo`` of ``profile`` that are not up to date."""
    times: dict[str, float] = {}
    for i, nb in enumerate(todo, 1):
        step = f"[{i}/{len(todo)}] {nb}"
        earlier = profile.notebooks[:profile.notebooks.index(nb)]
        upstream = [_run_id(read_run_record(executed_dir / f"{u}.run.json")) for u in earlier]
        params = profile.parameters.get(nb, {})
        text = sources[nb].read_text()
        record = read_run_record(executed_dir / f"{nb}.run.json")
        parts = key_parts(text, params, upstream, inputs=external_inputs(params))
        why = _why_execute(record, parts, executed_dir / f"{nb}.ipynb", profile.name, force)
        if why is None:
            echo(f"{step}: up to date (executed {when(record.get('executed'))} under "
                 f"profile {record.get('profile')}), skipped")
            continue
        echo(f"{step}: executing ({profile.name} profile{'; ' + why if why else ''}) ...")
        run = _execute_recorded(nb, sources[nb], profile, text, upstream, executed_dir)
        times[nb] = run["seconds"]
        peak = "" if run["peak_gb"] is None else f", its largest process {run['peak_gb']:.1f} GB"
        echo(f"{step}: done in {duration(run['seconds'])}{peak}")
    return times


def run_book(
    profile: str | Path | Profile,
    *,
    only: Sequence[str] = (),
    from_notebook: str | None = None,
    force: bool = False,
    build: bool = True,
    check: bool = True,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    book_dir: Path = BOOK_DIR,
    echo: Callable[[str], None] = print,
) -> dict[str, float]:
    """Execute a profile's notebooks that are not up to date, then build the book.

    Args:
        profile: a :class:`Profile`, a profile name or a profile file path.
        only: consider just these notebooks of the profile (``--only``; the pages of the
            others stay in the book).
        from_notebook: consider this notebook and every one after it (``--from``).
        force: execute the notebooks considered even when they are up to date.
        build: render the HTML after executing, with only the pages executed under
            this profile (each other page is named in a printed line).
        check: run the static checks on the rendered pages (:func:`build_html`).
        notebooks_dir: where the ``.py`` notebooks are.
        book_dir: the book's sources; executed copies and their run records go to
            ``book_dir/executed``.
        echo: where progress lines go.

    Returns:
        Notebook name -> execution wall time (s), for the notebooks executed now.

    Raises:
        ConfigError: bad profile; ``only``/``from_notebook`` name a notebook the profile
            does not list, or both are given.
        MissingDataError: the profile names a notebook that does not exist.
        NotebookError: a notebook or the HTML build failed, or the built pages have problems.
    """
    _require_book_extra()
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    todo = select_notebooks(profile, only, from_notebook)
    sources = {nb: notebook_source(nb, notebooks_dir) for nb in todo}  # all checked first
    for nb in todo:
        check_parameters(sources[nb], profile.parameters.get(nb, {}))
    executed_dir = book_dir / "executed"
    # Inherited by the kernels: GDAL must not write .aux.xml files beside a shared data mirror.
    os.environ.setdefault("GDAL_PAM_ENABLED", "NO")
    executed_dir.mkdir(parents=True, exist_ok=True)
    save_config(profile, executed_dir / "profile.json")
    times = _execute_profile(profile, todo, sources, executed_dir, force, echo)
    if build:
        present = [nb for nb in profile.notebooks if (executed_dir / f"{nb}.ipynb").is_file()]
        pages = pages_of_profile(present, executed_dir, profile.name, echo)
        start = time.perf_counter()
        echo(f"building the book with {len(pages)} notebook(s): {', '.join(pages)} ...")
        index = build_html(pages, book_dir=book_dir, echo=echo, check=check)
        echo(f"book built in {time.perf_counter() - start:.1f} s: {index}")
    return times


if __name__ == "__main__":
    from .cli import main

    main(["book", *sys.argv[1:]])
