"""The methods of a comparison (:mod:`dfmask_lib.compare`): peers and trained dfmask models.

A :class:`Method` is a name, a label, the project classes it claims and a callable
``predict(scene, product)`` -> uint8 class map: a registered
:class:`~dfmask_lib.peers.base.Peer` (:data:`dfmask_lib.peers.PEERS`), a trained dfmask
checkpoint (:class:`DfmaskModel`) or any function. :func:`parse_methods` turns the CLI's
``--methods fmask,hollstein,dfmask:EXP/stage3`` into Methods.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..classes import CLASS_NAMES, CLOUD, SCORED_CLASSES
from ..errors import ConfigError, DfmaskError
from ..scene import Scene
from .base import PeerUnavailable

__all__ = ["Method", "DfmaskModel", "peer_methods", "parse_methods", "method_listing",
           "mapping_rows"]


def _no_reason(scene: Scene | None = None, product: Path | None = None) -> str | None:
    return None


@dataclass(frozen=True, eq=False)
class Method:
    """One method as :func:`compare_scene` runs it.

    Attributes:
        name: identifier (``--methods``), unique within a comparison.
        label: how tables name it (``"s2cloudless 1.7.3"``, ``"dfmask stage 2"``).
        claims: project classes it can produce (a subset of 1-5).
        predict: ``predict(scene, product)`` -> uint8 (H, W) project codes (0: no answer),
            only codes in ``claims`` or ``background``; may raise :class:`PeerUnavailable`.
        unavailable: ``unavailable(scene, product)`` -> one-line reason or None.
        background: its code for "none of my classes" (a peer's ``background``), or None.
        prepare: called once before timing (loading a model), or None.
    """

    name: str
    label: str
    claims: frozenset[int]
    predict: Callable[[Scene, Path | None], np.ndarray]
    unavailable: Callable[[Scene | None, Path | None], str | None] = _no_reason
    background: int | None = None
    prepare: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"a method needs a non-empty name, got {self.name!r}")
        claims = frozenset(int(c) for c in self.claims)
        if not claims or not claims <= set(SCORED_CLASSES):
            raise ConfigError(f"method {self.name!r} claims {sorted(claims)}; claims must be "
                              f"a non-empty subset of the project classes {list(SCORED_CLASSES)}")
        object.__setattr__(self, "claims", claims)
        object.__setattr__(self, "label", self.label or self.name)

    @classmethod
    def wrap(cls, obj: Any) -> "Method":
        """A Method of a :class:`~dfmask_lib.peers.base.Peer` (instance or class), a
        :class:`DfmaskModel` or a Method (returned as is)."""
        if isinstance(obj, Method):
            return obj
        if isinstance(obj, type):
            try:
                obj = obj()
            except DfmaskError as exc:  # an adapter that cannot even be built here
                return _unbuildable(obj, str(exc))
        for attr in ("name", "claims", "predict", "unavailable"):
            if not hasattr(obj, attr):
                raise ConfigError(f"{type(obj).__name__} is not a method: it has no {attr!r}; "
                                  "give a Peer, a DfmaskModel or a Method")
        return cls(obj.name, getattr(obj, "label", "") or obj.name, frozenset(obj.claims),
                   obj.predict, obj.unavailable, getattr(obj, "background", None),
                   getattr(obj, "prepare", None))


def _unbuildable(peer_cls: type, reason: str) -> Method:
    def predict(scene: Scene, product: Path | None = None) -> np.ndarray:
        raise PeerUnavailable(reason)

    return Method(getattr(peer_cls, "name", "") or peer_cls.__name__,
                  getattr(peer_cls, "label", ""), frozenset(getattr(peer_cls, "claims", ()))
                  or frozenset({CLOUD}), predict, lambda scene=None, product=None: reason)


_STAGE = re.compile(r"stage(\d+)")


class DfmaskModel:
    """A trained dfmask checkpoint as a method: claims all five classes.

    The checkpoint is resolved on construction (:func:`dfmask_lib.predict.resolve_checkpoint`:
    ``EXP``, ``EXP/stage2``, a folder or a ``best.pt``), loaded once on first use
    (:meth:`prepare`), and predicts :func:`dfmask_lib.predict.predict_array` on
    :func:`dfmask_lib.patches.input_stack` ``(scene, input_set)`` of its input set, with the
    scene's ``valid`` (class 0 where it has no data).

    Args:
        experiment: what ``dfmask predict -e`` takes, or a checkpoint file.
        name: identifier; default ``dfmask:<experiment>``. label: default ``dfmask stage N``
            (from the ``stageN`` folder of the checkpoint) or ``dfmask <folder>``.
        device, batch_size, window, overlap: as :func:`~dfmask_lib.predict.predict_array`.

    Raises:
        MissingDataError: no such experiment or checkpoint.
    """

    claims = frozenset(SCORED_CLASSES)
    background = None

    def __init__(self, experiment: str | os.PathLike, *, name: str | None = None,
                 label: str | None = None, device: str = "auto", batch_size: int = 2,
                 window: int | None = None, overlap: int | None = None) -> None:
        from ..predict import resolve_checkpoint

        path = Path(experiment)
        self.checkpoint = path if path.is_file() else resolve_checkpoint(experiment)
        self.name = name or f"dfmask:{experiment}"
        folder = self.checkpoint.parent.name
        m = _STAGE.fullmatch(folder)
        self.label = label or (f"dfmask stage {m.group(1)}" if m else f"dfmask {folder}")
        self.device, self.batch_size = device, batch_size
        self.tiling = {k: v for k, v in (("window", window), ("overlap", overlap)) if v}
        self._model: Any = None
        self.input_set: str | None = None

    def prepare(self) -> None:
        """Load the model (once)."""
        if self._model is not None:
            return
        from ..device import resolve_device
        from ..predict import input_set_for
        from ..train import load_checkpoint

        model, cfg, _ = load_checkpoint(self.checkpoint, device=str(resolve_device(self.device)))
        self.input_set = input_set_for(cfg.in_channels)
        self._model = model

    def unavailable(self, scene: Scene | None = None,
                    product: str | os.PathLike | None = None) -> str | None:
        """Why the model cannot run on ``scene`` (bands of its input set missing), or None."""
        if scene is None:
            return None
        from ..patches import bands_for

        self.prepare()
        missing = [b for b in bands_for(self.input_set) if b not in scene.band_names]
        if missing:
            return (f"{self.label} ({self.input_set} input) needs bands {', '.join(missing)}, "
                    "which this scene does not have")
        return None

    def predict(self, scene: Scene, product: str | os.PathLike | None = None) -> np.ndarray:
        """uint8 (H, W) classes 1-5 of ``scene`` (0 where it has no data)."""
        from ..patches import input_stack
        from ..predict import predict_array

        self.prepare()
        image = input_stack(scene, self.input_set)
        return predict_array(self._model, image, valid=scene.valid, device=self.device,
                             batch_size=self.batch_size, **self.tiling).classes


def _registry() -> Mapping[str, type]:
    from . import PEERS

    return PEERS


def peer_methods(names: Sequence[str] | None = None) -> list[Method]:
    """Methods of the registered peers (:data:`dfmask_lib.peers.PEERS`), all or those named.

    Raises:
        ConfigError: a name that is not registered (the message lists the names).
    """
    registry = _registry()
    if names is None:
        names = list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ConfigError(f"unknown method {unknown[0]!r}; choose from "
                          f"{', '.join(registry) or '(no peers registered)'} or dfmask:EXP")
    return [Method.wrap(registry[n]) for n in names]


def parse_methods(spec: str | Sequence[str] | None, *, device: str = "auto") -> list[Method]:
    """Methods from ``"fmask,hollstein,dfmask:EXP/stage3"`` (or a list of such names).

    ``None`` or ``""`` gives every registered peer. ``dfmask:EXP`` is a trained model
    (:class:`DfmaskModel`, on ``device``); other names are peers of
    :data:`dfmask_lib.peers.PEERS`.

    Raises:
        ConfigError: an unknown name, a name given twice, or ``dfmask:`` without an
            experiment. MissingDataError: no such experiment or checkpoint.
    """
    if spec is None or spec == "":
        return peer_methods()
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [p.strip() for p in parts if p.strip()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"method {twice[0]!r} is given twice; give each once")
    out = []
    for name in names:
        if name.startswith("dfmask:"):
            experiment = name.split(":", 1)[1]
            if not experiment:
                raise ConfigError("dfmask: needs an experiment, e.g. dfmask:EXP or "
                                  "dfmask:EXP/stage3")
            out.append(Method.wrap(DfmaskModel(experiment, name=name, device=device)))
        else:
            out.extend(peer_methods([name]))
    return out


def method_listing(methods: Sequence[Method] | None = None) -> list[dict[str, object]]:
    """Rows (method, label, claims, availability) of ``methods`` (default: every peer);
    availability is "available" or the reason a method cannot run here (without a scene:
    a missing package, model file or product)."""
    methods = peer_methods() if methods is None else methods
    rows = []
    for m in methods:
        reason = m.unavailable(None, None)
        rows.append({"method": m.name, "label": m.label,
                     "claims": ", ".join(CLASS_NAMES[c] for c in sorted(m.claims)),
                     "availability": reason or "available"})
    return rows


def mapping_rows(names: Sequence[str] | None = None) -> list[dict[str, object]]:
    """The class mapping of every registered peer (or those named): rows of method, label,
    claims, mapping (:meth:`~dfmask_lib.peers.base.Peer.mapping`) and citation.

    Raises:
        ConfigError: a name that is not registered.
    """
    registry = _registry()
    names = list(registry) if names is None else list(names)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ConfigError(f"unknown method {unknown[0]!r}; choose from {', '.join(registry)}")
    return [{"method": n, "label": registry[n].label,
             "claims": ", ".join(CLASS_NAMES[c] for c in sorted(registry[n].claims)),
             "mapping": registry[n].mapping(), "citation": registry[n].citation}
            for n in names]

