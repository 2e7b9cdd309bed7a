"""The one mechanism that decides whether a cached artefact is stale.

Every artefact the pipeline caches (Fmask label files, patch files, pseudo-labels,
checkpoints, predictions) is described by a :class:`Recipe`: its kind, the files it is
made from, the configuration that made it and anything else that changes its content,
and the code version. The recipe's :meth:`~Recipe.key` is a hash of all of them; it is
written beside the artefact in a sidecar ``<name>.recipe.json`` once the artefact is
complete. An artefact is fresh when its sidecar holds the key of the recipe asked for now,
so a change of inputs (name, size, mtime), configuration or code version rebuilds it, and
nothing else does. Notebooks and commands call :func:`ensure` instead of checking files.

Inputs are fingerprinted like ``make`` does, by size and modification time (cheap on
full tiles); a folder input (a ``.SAFE`` product) by every file below it, except sidecars
and the artefacts they describe (an ``*FMASK.tif`` written into a product's IMG_DATA must
not make the product look changed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .atomic import atomic_path
from .config import config_to_dict
from .errors import ConfigError

__all__ = ["SIDECAR_SUFFIX", "Recipe", "fingerprint_inputs", "sidecar", "is_fresh", "record",
           "ensure", "read_record"]

log = logging.getLogger(__name__)

#: Suffix of the sidecar that records an artefact's recipe.
SIDECAR_SUFFIX = ".recipe.json"


def sidecar(path: str | os.PathLike) -> Path:
    """The sidecar of an artefact: ``<path>.recipe.json`` beside it."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _is_artefact(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX) or sidecar(path).exists()


def _files(path: Path, exclude: Path | None) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not _is_artefact(p)
                      and p != exclude and not (exclude is not None and p == sidecar(exclude)))
    return [path]


def fingerprint_inputs(paths: Iterable[str | os.PathLike],
                       exclude: str | os.PathLike | None = None) -> list[list[Any]]:
    """``[name, size, mtime_ns]`` of every input file (folders: the files below them).

    ``exclude``: the artefact itself (and its sidecar), never its own input when it is
    written into an input folder.

    A missing input is recorded as ``[name, None, None]`` (so that it appearing later
    makes the artefact stale). Names are relative to a folder input, so moving a whole
    data folder elsewhere keeps its artefacts fresh only if the paths passed are the same.
    """
    out: list[list[Any]] = []
    exclude = None if exclude is None else Path(exclude)
    for p in paths:
        p = Path(p)
        if not p.exists():
            out.append([str(p), None, None])
            continue
        for f in _files(p, exclude):
            st = f.stat()
            name = str(f.relative_to(p)) if p.is_dir() else str(f)
            out.append([f"{p}:{name}" if p.is_dir() else name, st.st_size, st.st_mtime_ns])
    return out


def _plain_config(config: Any) -> Any:
    if config is None:
        return None
    if is_dataclass(config) and not isinstance(config, type):
        return config_to_dict(config)
    if isinstance(config, Mapping):
        return {str(k): _plain_config(v) if is_dataclass(v) else v for k, v in config.items()}
    raise ConfigError(f"a recipe's config must be a config dataclass or a mapping, got "
                      f"{type(config).__name__}")


@dataclass(frozen=True)
class Recipe:
    """How an artefact is made (see the module docstring).

    Attributes:
        kind: what it is, e.g. ``"fmask"``, ``"patches"``, ``"pseudolabels"``,
            ``"checkpoint"``, ``"prediction"``.
        inputs: files or folders it is made from (their fingerprints enter the key).
        config: the configuration dataclass (or a mapping of them) that made it.
        extra: anything else JSON-able that changes its content (reader options, stage).
        version: the code version; default the running code's
            (:func:`dfmask_lib.version.get_version`).
    """

    kind: str
    inputs: tuple[Path, ...] = ()
    config: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            raise ConfigError("a recipe needs a kind")
        object.__setattr__(self, "inputs", tuple(Path(p) for p in self.inputs))
        if self.version is None:
            from .version import get_version

            object.__setattr__(self, "version", get_version())

    def describe(self, output: str | os.PathLike | None = None) -> dict[str, Any]:
        """The JSON-able content the key is computed from (``output`` left out of the inputs)."""
        return {"kind": self.kind, "version": self.version,
                "config": _plain_config(self.config), "extra": dict(self.extra),
                "inputs": fingerprint_inputs(self.inputs, exclude=output)}

    def key(self, output: str | os.PathLike | None = None) -> str:
        """sha256 (hex) of :meth:`describe` for the artefact ``output``."""
        text = json.dumps(self.describe(output), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def read_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """The sidecar of an artefact as a dict, or None (no sidecar, unreadable)."""
    try:
        return json.loads(sidecar(path).read_text())
    except (OSError, ValueError):
        return None


def is_fresh(path: str | os.PathLike, recipe: Recipe) -> bool:
    """True when ``path`` exists and its sidecar holds ``recipe``'s key."""
    path = Path(path)
    if not path.exists():
        return False
    rec = read_record(path)
    return rec is not None and rec.get("key") == recipe.key(path)


def record(path: str | os.PathLike, recipe: Recipe) -> Path:
    """Write ``path``'s sidecar for ``recipe`` (atomically); call once the artefact is complete."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"cannot record a recipe for {path}: it does not exist")
    data = {"key": recipe.key(path), **recipe.describe(path)}
    with atomic_path(sidecar(path)) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    return sidecar(path)


def ensure(path: str | os.PathLike, recipe: Recipe, build: Callable[[Path], Any], *,
           force: bool = False) -> tuple[Path, bool]:
    """Reuse ``path`` if it is fresh for ``recipe``, else ``build(path)`` it and record it.

    ``build`` must write ``path`` atomically (:func:`dfmask_lib.atomic.atomic_path`): the
    old sidecar is removed first, so an interrupted build leaves no artefact that looks fresh.

    Returns:
        (path, True if it was (re)built).
    """
    path = Path(path)
    if not force and is_fresh(path, recipe):
        log.info("%s is up to date (%s)", path, recipe.kind)
        return path, False
    sidecar(path).unlink(missing_ok=True)
    log.info("building %s (%s)", path, recipe.kind)
    build(path)
    record(path, recipe)
    return path, True
