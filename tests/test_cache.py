"""The one staleness mechanism: artefacts rebuilt when inputs, config or code version change."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest

from dfmask_lib.cache import Recipe, ensure, fingerprint_inputs, is_fresh, read_record, sidecar
from dfmask_lib.errors import ConfigError


@dataclass(frozen=True)
class _Cfg:
    a: int = 1


def _builder(calls: list):
    def build(path):
        calls.append(path)
        path.write_text(f"built {len(calls)}")
    return build


def test_ensure_builds_once_and_rebuilds_on_every_kind_of_change(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("x")
    out = tmp_path / "out.txt"
    calls: list = []
    build = _builder(calls)

    def recipe(**kw):
        base = dict(kind="test", inputs=(src,), config=_Cfg(), extra={"opt": 1}, version="1.0")
        return Recipe(**{**base, **kw})

    assert ensure(out, recipe(), build) == (out, True)
    assert ensure(out, recipe(), build) == (out, False) and len(calls) == 1
    assert json.loads(sidecar(out).read_text())["key"] == recipe().key(out)
    for changed in (dict(config=_Cfg(a=2)), dict(extra={"opt": 2}), dict(version="1.1"),
                    dict(kind="other")):
        assert not is_fresh(out, recipe(**changed)), changed
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the input was touched
    assert ensure(out, recipe(), build)[1] and len(calls) == 2
    src.write_text("xy")  # and rewritten
    assert ensure(out, recipe(), build)[1] and len(calls) == 3
    assert ensure(out, recipe(), build, force=True)[1] and len(calls) == 4


def test_a_failed_build_leaves_nothing_that_looks_fresh(tmp_path):
    out = tmp_path / "out.txt"
    recipe = Recipe("test", version="1")
    ensure(out, recipe, _builder([]))

    def broken(path):
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        ensure(out, Recipe("test", version="2"), broken)
    assert not sidecar(out).exists() and not is_fresh(out, recipe)
    assert read_record(out) is None


def test_folder_inputs_ignore_the_artefacts_written_into_them(tmp_path):
    product = tmp_path / "P.SAFE"
    (product / "IMG_DATA").mkdir(parents=True)
    (product / "IMG_DATA" / "B02.jp2").write_text("band")
    recipe = Recipe("fmask", inputs=(product,), version="1")
    label = product / "IMG_DATA" / "P_FMASK.tif"
    before = fingerprint_inputs([product])
    ensure(label, recipe, lambda p: p.write_text("mask"))
    assert fingerprint_inputs([product]) == before  # the label and its sidecar do not count
    assert is_fresh(label, recipe)
    (product / "IMG_DATA" / "B03.jp2").write_text("band")  # a real change of the product does
    assert not is_fresh(label, recipe)


def test_missing_inputs_and_bad_recipes(tmp_path):
    gone = tmp_path / "gone.tif"
    assert fingerprint_inputs([gone]) == [[str(gone), None, None]]
    with pytest.raises(ConfigError):
        Recipe("")
    with pytest.raises(ConfigError, match="config"):
        Recipe("x", config=object(), version="1").key()
    assert Recipe("x").version  # the running code's version by default
