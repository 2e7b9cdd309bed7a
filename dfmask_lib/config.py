"""Frozen configuration dataclasses: turn them into JSON and back, save them beside outputs.

Every output (GeoTIFF tags, HDF5 attributes, checkpoints, run folders) carries the
configuration that produced it, so a result can always be traced and rebuilt.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, TypeVar

from .atomic import atomic_path
from .errors import ConfigError

__all__ = ["config_to_dict", "config_to_json", "config_from_dict", "save_config", "load_config"]

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass, with its class name under ``"__class__"``."""
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise ConfigError(f"expected a config dataclass instance, got {type(config).__name__}")
    out = _plain(config)
    out["__class__"] = f"{type(config).__module__}.{type(config).__qualname__}"
    return out


def config_to_json(config: Any) -> str:
    """The config as one compact, key-sorted JSON string (for GeoTIFF tags, HDF5 attributes)."""
    return json.dumps(config_to_dict(config), sort_keys=True)


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config of class ``cls`` from :func:`config_to_dict` output.

    Unknown keys are refused (a config from another version must not be read silently);
    lists become tuples where the field's default is a tuple.
    """
    data = {k: v for k, v in data.items() if k not in ("__class__", "__version__")}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} fields {unknown}")
    kwargs = {}
    for name, value in data.items():
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[name] = value
    return cls(**kwargs)


def save_config(config: Any, path: str | os.PathLike) -> Path:
    """Write the config as pretty JSON to ``path`` atomically; return the path.

    The file also records the code that wrote it under ``"__version__"``
    (:func:`dfmask_lib.version.get_version`); :func:`load_config` ignores that key.
    """
    from .version import get_version

    path = Path(path)
    data = {**config_to_dict(config), "__version__": get_version()}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def load_config(cls: type[T], path: str | os.PathLike) -> T:
    """Read a config written by :func:`save_config`."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"no config file at {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
    return config_from_dict(cls, data)
