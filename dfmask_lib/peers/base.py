"""The contract every peer adapter keeps (one small module per method beside this one).

A *peer* is a cloud-masking method dfmask is compared against (``docs/PEERS.md``). Each adapter
turns one method's output into a class map in **project codes** (:mod:`dfmask_lib.classes`:
0 no data, 1 clear land, 2 cloud, 3 cloud shadow, 4 snow/ice, 5 water) on the scene's grid, and
says which of those classes it can produce (:attr:`Peer.claims`): a cloud-only method (s2cloudless)
claims {2}, a cloud/shadow method (ukis-csmask 1.0) {2, 3}; :mod:`dfmask_lib.compare` scores
each method only on the classes it claims (the rest of its map means "not one of those").

Contract of :meth:`Peer.predict`:

* input: a :class:`dfmask_lib.scene.Scene` (float32 TOA reflectance (bands, H, W), ``valid``,
  angles) on the grid the comparison runs on (20 m for a tile; the bundled arrays at their own);
  optionally the product's path (:attr:`Peer.needs_product`: methods that read a file beside
  the product, such as a Sen2Cor SCL or an official Fmask output);
* output: uint8 (H, W) project codes, 0 exactly where the scene is not ``valid`` or where the
  method gives no answer; only codes in ``{0} | claims``, plus :attr:`Peer.background` when a
  peer sets it.

:attr:`Peer.background` (None by default) is the code a peer writes for "none of my classes"
(a valid pixel it answered on). A cloud-only or cloud/shadow method sets it to 1 (clear): its
"not cloud" pixels are then told apart from no data (0) without claiming class 1, so the
comparison still scores it only on ``claims``. (Added for the learned peers; adapters that do
not set it, and callers of :func:`check_output` that do not pass it, behave as before.)

:meth:`Peer.unavailable` says, in one line, why the method cannot run here (a missing optional
package, weights or file, or a band the scene lacks) or returns None; the comparison skips a peer
with that reason instead of failing, so the absence of an optional peer never breaks the library,
the tests or the book.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..classes import CLASS_NAMES, NODATA, MappingTable
from ..errors import BandError, DfmaskError
from ..scene import Scene

__all__ = ["Peer", "PeerUnavailable", "check_output", "missing_bands"]


class PeerUnavailable(DfmaskError):
    """A peer cannot run here (optional package, weights, file or bands missing); the message
    says what to do. The comparison reports it as skipped, never as a failure."""


def missing_bands(scene: Scene, bands: tuple[str, ...]) -> list[str]:
    """Bands of ``bands`` that ``scene`` does not have, in the given order."""
    return [b for b in bands if b not in scene.band_names]


def check_output(classes: np.ndarray, scene: Scene, claims: frozenset[int], name: str,
                 background: int | None = None) -> np.ndarray:
    """Check an adapter's output against the contract; return it with no-data pixels set to 0.

    ``background``: the peer's code for "none of my classes" (:attr:`Peer.background`),
    allowed beside ``claims``; None allows only ``{0} | claims``.

    Raises:
        BandError: wrong shape or dtype, or codes the peer does not claim (a bug in the adapter).
    """
    if not isinstance(classes, np.ndarray) or classes.shape != scene.shape:
        got = getattr(classes, "shape", type(classes).__name__)
        raise BandError(f"peer {name!r} returned {got}, expected a {scene.shape} class map")
    if classes.dtype != np.uint8:
        raise BandError(f"peer {name!r} returned {classes.dtype}, expected uint8 project codes")
    codes = set(int(c) for c in np.unique(classes)) - {NODATA}
    allowed = set(claims) | ({background} if background is not None else set())
    extra = sorted(codes - allowed)
    if extra:
        raise BandError(f"peer {name!r} returned codes {extra} outside the classes it claims "
                        f"{sorted(claims)}" + (f" and its background {background}"
                                               if background is not None else ""))
    out = classes.copy()
    out[~scene.valid] = NODATA
    return out


@dataclass(frozen=True)
class Peer:
    """One method, as the comparison sees it. Subclasses set the class attributes and implement
    :meth:`_predict` (and :meth:`unavailable` when they depend on something optional).

    Attributes (class level):
        name: the method's identifier on the command line (``dfmask compare --methods``).
        label: how tables and figures name it (with its version, e.g. ``"s2cloudless 1.7.3"``).
        claims: the project classes it can produce.
        bands: the bands it reads from the scene (checked before running).
        needs_product: it reads a file beside the product (``product`` must be given).
        citation: where the method is defined.
        background: the code written for "none of my classes" (e.g. 1 for a cloud-only
            method's "not cloud"), or None when every valid pixel gets a claimed class.
        table: the :class:`~dfmask_lib.classes.MappingTable` from the method's own codes to
            project codes, where it has one; ``mapping_note`` otherwise says how its output
            becomes project codes (:meth:`mapping` gives either as one line).
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    claims: ClassVar[frozenset[int]] = frozenset()
    bands: ClassVar[tuple[str, ...]] = ()
    needs_product: ClassVar[bool] = False
    citation: ClassVar[str] = ""
    background: ClassVar[int | None] = None
    table: ClassVar[MappingTable | None] = None
    mapping_note: ClassVar[str] = ""

    @classmethod
    def mapping(cls) -> str:
        """The method's class mapping as one line: ``"0 clear land -> clear land, ..."``
        from :attr:`table` (source code, source name -> project class), else
        :attr:`mapping_note`."""
        if cls.table is None:
            return cls.mapping_note
        names = cls.table.source_names
        return ", ".join(f"{src} {names.get(src, '')}".rstrip() + f" -> {CLASS_NAMES[dst]}"
                         for src, dst in sorted(cls.table.mapping.items()))

    def unavailable(self, scene: Scene | None = None,
                    product: str | os.PathLike | None = None) -> str | None:
        """Why the method cannot run (on ``scene`` / ``product`` when given); None if it can."""
        if scene is not None:
            missing = missing_bands(scene, self.bands)
            if missing:
                return (f"{self.label or self.name} needs bands {', '.join(missing)}, which this "
                        "scene does not have")
        if self.needs_product and product is None:
            return f"{self.label or self.name} reads a file beside the product; give the product"
        return None

    def predict(self, scene: Scene, product: str | os.PathLike | None = None) -> np.ndarray:
        """The method's class map of ``scene`` in project codes (see the module contract).

        Raises:
            PeerUnavailable: the method cannot run here (the message says why), including an
                optional package that is installed but fails to import.
        """
        reason = self.unavailable(scene, product)
        if reason is not None:
            raise PeerUnavailable(reason)
        try:
            classes = self._predict(scene, None if product is None else Path(product))
        except ImportError as exc:  # installed, but broken (a missing shared library, ...)
            raise PeerUnavailable(f"{self.label or self.name} is installed but cannot be "
                                  f"imported ({exc}); reinstall it: pip install "
                                  "\"dfmask[peers]\"") from None
        return check_output(classes, scene, self.claims, self.name, self.background)

    def _predict(self, scene: Scene, product: Path | None) -> np.ndarray:
        raise NotImplementedError

