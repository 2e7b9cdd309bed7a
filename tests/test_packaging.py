"""The pins of environment.yml equal pyproject.toml's (dependencies + book, test, scale extras)."""

from __future__ import annotations

import tomllib

import yaml

from dfmask_lib.paths import PROJECT_ROOT


def _pyproject_pins(extras: tuple[str, ...] = ("book", "test", "scale")) -> list[str]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    return project["dependencies"] + [p for e in extras for p in optional[e]]


#: environment.yml also carries the optional `peers` extra (never needed by `make test`).
ALL_EXTRAS = ("book", "test", "scale", "peers")


def _environment_pins() -> list[str]:
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return [p for p in pip if not p.startswith("-e")]


def test_environment_pins_equal_pyproject():
    assert sorted(_environment_pins()) == sorted(_pyproject_pins(ALL_EXTRAS))


def test_every_pin_is_exact_and_unique():
    pins = _pyproject_pins(ALL_EXTRAS)
    assert all(p.count("==") == 1 for p in pins), [p for p in pins if "==" not in p]
    names = [p.split("==")[0].lower() for p in pins]
    assert len(names) == len(set(names))


def test_torch_pinned_and_python_311():
    assert "torch==2.13.0" in _pyproject_pins()
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert "-e ." in next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def test_installed_versions_match_pins():
    from importlib.metadata import PackageNotFoundError, version

    wrong = {}
    for pin in _pyproject_pins():
        name, want = pin.split("==")
        try:
            have = version(name)
        except PackageNotFoundError:
            have = None
        if have is None or have.split("+")[0] != want:
            wrong[name] = (want, have)
    assert not wrong, f"installed versions differ from the pins (run `make setup`): {wrong}"


def test_installed_optional_peers_match_pins():
    """The `peers` extra is optional (``make test`` never needs it), but where installed it must
    be the pinned version: the book's peer numbers depend on it."""
    from importlib.metadata import PackageNotFoundError, version

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    wrong = {}
    for pin in project["optional-dependencies"]["peers"]:
        name, want = pin.split("==")
        try:
            have = version(name)
        except PackageNotFoundError:
            continue
        if have.split("+")[0] != want:
            wrong[name] = (want, have)
    assert not wrong, f"installed peers differ from the pins (pip install -e '.[peers]'): {wrong}"


def test_installed_metadata_version_is_pyproject_version():
    """dfmask_lib.version builds on the installed metadata: it must be this pyproject's."""
    from dfmask_lib.version import package_version

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert package_version() == project["version"], "reinstall the package: make setup"
