"""The adapter contract itself (dfmask_lib.peers.base): output checks and unavailability."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dfmask_lib.errors import BandError
from dfmask_lib.peers import Peer, PeerUnavailable

from .conftest import make_scene, paint


@dataclass(frozen=True)
class Fixed(Peer):
    """Returns a fixed map (or raises a given exception)."""

    name = "fixed"
    label = "fixed 1.0"
    claims = frozenset({2, 3})
    bands = ("B02",)
    out: object = None

    def _predict(self, scene, product: Path | None) -> np.ndarray:
        if isinstance(self.out, BaseException):
            raise self.out
        return self.out


def test_output_is_checked_and_no_data_set_to_0() -> None:
    valid = np.ones((2, 3), bool)
    valid[0, 0] = False
    scene = make_scene(paint((2, 3)), valid=valid)
    out = Fixed(out=np.full((2, 3), 2, np.uint8)).predict(scene)
    assert out.tolist() == [[0, 2, 2], [2, 2, 2]]
    with pytest.raises(BandError, match=r"codes \[1\] outside the classes it claims \[2, 3\]"):
        Fixed(out=np.ones((2, 3), np.uint8)).predict(scene)
    with pytest.raises(BandError, match="expected uint8"):
        Fixed(out=np.full((2, 3), 2, np.int32)).predict(scene)
    with pytest.raises(BandError, match=r"expected a \(2, 3\) class map"):
        Fixed(out=np.full((3, 2), 2, np.uint8)).predict(scene)


def test_missing_bands_and_a_broken_optional_package_are_unavailable() -> None:
    scene = make_scene(paint((2, 3))[:1], bands=("B03",))
    with pytest.raises(PeerUnavailable, match="fixed 1.0 needs bands B02"):
        Fixed(out=np.full((2, 3), 2, np.uint8)).predict(scene)
    scene = make_scene(paint((2, 3)))
    broken = Fixed(out=ImportError("libfoo.so: cannot open shared object file"))
    with pytest.raises(PeerUnavailable, match=r"installed but cannot be imported \(libfoo"):
        broken.predict(scene)


def test_every_peer_states_its_class_mapping() -> None:
    from dfmask_lib.peers.methods import mapping_rows

    rows = {r["method"]: r for r in mapping_rows()}
    assert rows["fmask"]["mapping"].startswith("0 clear land -> clear land, 1 water -> water")
    assert "255 fill -> no data" in rows["fmask"]["mapping"]
    assert "40 cirrus -> cloud" in rows["hollstein-bayes"]["mapping"]
    assert rows["s2cloudless"]["claims"] == "cloud"
    assert all(r["mapping"] and r["citation"] for r in rows.values()), rows
    with pytest.raises(Exception, match="unknown method 'nope'"):
        mapping_rows(["nope"])
