"""Compare dfmask with its peers on the same scenes, the same pixels and the same metrics.

A :class:`Method` is a name, a label, the project classes it claims and a callable
scene -> uint8 class map (a :class:`~dfmask_lib.peers.base.Peer`, a trained dfmask checkpoint
through :class:`DfmaskModel`, or any function). :func:`compare_scene` runs every available
method on one scene (the pure core); :func:`compare_products` reads SAFE products / GeoTIFF
stacks at 20 m with their ``*LABELS.tif`` (the I/O edge); :func:`compare_inputs` pools either.

Rules (stated again in every result, :data:`PIXEL_RULE` and :data:`SCORING_RULE`):

* **The same pixels for every method**: a pixel is scored when its reference is not 0, the
  scene has data there (``scene.valid``) and *every method that ran* answered it (its output is
  not 0). A method's no-answer pixels therefore shrink the set for all; each row reports how
  many labelled pixels the method left unanswered (``no answer``).
* **Each method on the classes it claims** (and the reference distinguishes):
  ``all classes`` (claims 1-5): the paper's multi-class scores (:func:`dfmask_lib.metrics.scores`);
  ``cloud+shadow`` (claims cloud and shadow, not all five): 3 classes, 1 other, 2 cloud,
  3 shadow (OA and mIoU over these three); ``cloud`` (claims cloud): 1 not cloud, 2 cloud.
  Every method also gets **binary cloud metrics** (cloud vs not cloud: IoU, precision, recall,
  F1, OA), so all can be ranked on cloud; its cloud IoU equals the multi-class cloud IoU by
  construction (merging the other classes changes neither the cloud row nor its column).
* **Without a reference** (e.g. the cloud-free 18SVG): the ``cloud share`` (share of the
  common valid pixels a method calls cloud) is, on a cloud-free scene, its false cloud fraction.
* **Timing**: ``repeats`` rounds, the method order rotated by one each round (so that no
  method always runs first or last while the machine's speed drifts); median wall time per
  method and megapixels of the scene per second (``docs/PEERS.md``: speeds here vary 2-3x).
* A method that cannot run (:meth:`Method.unavailable` or :class:`PeerUnavailable` raised) is
  **skipped** with its one-line reason, never a failure. In the pooled rows of several scenes a
  method skipped on any scene is skipped, so that the pooled rows also share their pixels.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .atomic import ResultFiles
from .classes import CLASS_NAMES, CLOUD, NODATA, SCORED_CLASSES, SHADOW
from .errors import ConfigError, LabelError
from .metrics import Scores, confusion_matrix, scores
from .peers.base import PeerUnavailable, check_output
from .peers.methods import DfmaskModel, Method, method_listing, parse_methods, peer_methods
from .scene import Scene

__all__ = ["ALL", "CLOUD_SHADOW", "CLOUD_ONLY", "PIXEL_RULE", "SCORING_RULE", "Method",
           "DfmaskModel", "MethodResult", "SceneResult", "Comparison", "SceneInput",
           "scoring_level", "reduce_matrix", "compare_scene", "compare_inputs",
           "compare_products", "product_inputs", "peer_methods", "parse_methods",
           "method_listing", "speed_rows"]

log = logging.getLogger(__name__)

#: Scoring levels, by the classes a method claims (see the module docstring).
ALL, CLOUD_SHADOW, CLOUD_ONLY = "all classes", "cloud+shadow", "cloud"
#: Project code -> code at each level (0 stays 0; 1 = "other" / "not cloud").
_LUTS: Mapping[str, np.ndarray] = MappingProxyType({
    ALL: np.array([0, 1, 2, 3, 4, 5]),
    CLOUD_SHADOW: np.array([0, 1, 2, 3, 1, 1]),
    CLOUD_ONLY: np.array([0, 1, 2, 1, 1, 1]),
})
#: Classes scored per level (shown as per-class IoU) and the name of code 1 there.
_LEVEL_CLASSES: Mapping[str, tuple[int, ...]] = MappingProxyType({
    ALL: SCORED_CLASSES, CLOUD_SHADOW: (CLOUD, SHADOW), CLOUD_ONLY: (CLOUD,)})
_OTHER = {ALL: CLASS_NAMES[1], CLOUD_SHADOW: "other", CLOUD_ONLY: "not cloud"}
_COARSENESS = (ALL, CLOUD_SHADOW, CLOUD_ONLY)

PIXEL_RULE = ("scored pixels: reference != 0 and scene.valid and every method that ran gave an "
              "answer (output != 0) - the same pixels for all methods")
SCORING_RULE = ("each method on the classes it claims: 'all classes' (1-5, Nambiar et al. 2022 "
                "metrics), 'cloud+shadow' (1 other, 2 cloud, 3 shadow), 'cloud' (1 not cloud, "
                "2 cloud); binary cloud metrics (cloud vs not cloud) for every method; "
                "cloud share = share of the scored pixels called cloud (without a reference: "
                "the valid pixels every method answered; on a cloud-free scene the false "
                "cloud fraction); timing: median wall time over interleaved rounds, "
                "Mpx/s = scene pixels / median seconds")


def scoring_level(claims: Iterable[int], reference: Iterable[int]) -> str | None:
    """The level a method is scored at: the finest that both its claims and the reference's
    classes cover (:data:`ALL`, :data:`CLOUD_SHADOW`, :data:`CLOUD_ONLY`), or None (the method
    or the reference does not tell cloud: no scores)."""
    both = set(claims) & set(reference)
    if both >= set(SCORED_CLASSES):
        return ALL
    if both >= {CLOUD, SHADOW}:
        return CLOUD_SHADOW
    return CLOUD_ONLY if CLOUD in both else None


def reduce_matrix(cm: np.ndarray, level: str) -> np.ndarray:
    """A 6 x 6 project-code confusion matrix merged into ``level``'s classes (rows = truth)."""
    lut = _LUTS[level]
    n = int(lut.max()) + 1
    out = np.zeros((n, n), dtype=np.int64)
    np.add.at(out, (lut[:, None], lut[None, :]), np.asarray(cm, dtype=np.int64))
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class MethodResult:
    """One method on one scene (or pooled over scenes).

    Attributes:
        name, label, claims: of the method.
        skipped: the reason it did not run, or None.
        scored_on: its level (:data:`ALL`, :data:`CLOUD_SHADOW`, :data:`CLOUD_ONLY`), or
            None (skipped, or no reference).
        confusion: int64 6 x 6 matrix in project codes over the scored pixels (rows =
            reference); None when skipped or without a reference.
        scores: :func:`~dfmask_lib.metrics.scores` at ``scored_on`` (code 1 there is "other" /
            "not cloud" below :data:`ALL`). cloud: binary cloud scores (1 not cloud, 2 cloud).
        cloud_pixels, scored_pixels: pixels it called cloud among the scored (common) pixels,
            and their number (``cloud_share`` = their ratio).
        no_answer: labelled valid pixels it left 0 (excluded for every method).
        times: wall seconds of each round; seconds: their median; pixels: of the scene(s)
            (for Mpx/s).
    """

    name: str
    label: str
    claims: frozenset[int]
    skipped: str | None = None
    scored_on: str | None = None
    confusion: np.ndarray | None = None
    cloud_pixels: int = 0
    scored_pixels: int = 0
    no_answer: int = 0
    times: tuple[float, ...] = ()
    pixels: int = 0

    @property
    def scores(self) -> Scores | None:
        """Scores at :attr:`scored_on`, or None."""
        if self.confusion is None or self.scored_on is None:
            return None
        return scores(reduce_matrix(self.confusion, self.scored_on))

    @property
    def cloud(self) -> Scores | None:
        """Binary cloud scores (cloud vs not cloud), or None."""
        if self.confusion is None or self.scored_on is None:
            return None
        return scores(reduce_matrix(self.confusion, CLOUD_ONLY))

    @property
    def seconds(self) -> float | None:
        """Median wall time of the rounds (the sum of the scenes' medians when pooled)."""
        return statistics.median(self.times) if self.times else None

    @property
    def mpx_per_s(self) -> float | None:
        """Megapixels of the scene per median second."""
        s = self.seconds
        return self.pixels / 1e6 / s if s else None

    @property
    def cloud_share(self) -> float:
        """Share of the scored pixels it calls cloud (NaN without any)."""
        return self.cloud_pixels / self.scored_pixels if self.scored_pixels else float("nan")

    def row(self) -> dict[str, object]:
        """Table row: method, scored on, OA, IoU per class, mIoU, cloud IoU/F1, cloud share,
        pixels, no answer, s, Mpx/s, skipped (NaN where a value does not apply)."""
        nan = float("nan")
        s, c = self.scores, self.cloud
        row: dict[str, object] = {"method": self.label, "scored on": self.scored_on or "-",
                                  "OA": s.oa if s else nan}
        level = _LEVEL_CLASSES.get(self.scored_on or "", ())
        for code in SCORED_CLASSES:
            row[f"IoU {CLASS_NAMES[code]}"] = s.iou[code] if s and code in level else nan
        row.update({
            "mIoU": s.miou if s else nan,
            "cloud IoU": c.iou[CLOUD] if c else nan, "cloud F1": c.f1[CLOUD] if c else nan,
            "cloud share": nan if self.skipped else self.cloud_share,
            "pixels": self.scored_pixels, "no answer": self.no_answer,
            "s": self.seconds if self.seconds is not None else nan,
            "Mpx/s": self.mpx_per_s if self.mpx_per_s is not None else nan,
            "skipped": self.skipped or "",
        })
        return row

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (scores with their level's class names)."""
        def entry(sc: Scores | None, level: str) -> dict[str, Any] | None:
            if sc is None:
                return None
            names = {"1": _OTHER[level], **{str(k): CLASS_NAMES[k] for k in _LEVEL_CLASSES[level]}}
            return {"class_names": names, **sc.to_dict()}

        return {
            "name": self.name, "label": self.label, "claims": sorted(self.claims),
            "skipped": self.skipped, "scored_on": self.scored_on,
            "scores": entry(self.scores, self.scored_on) if self.scored_on else None,
            "cloud": entry(self.cloud, CLOUD_ONLY),
            "confusion_project_codes": None if self.confusion is None
            else self.confusion.tolist(),
            "cloud_share": self.cloud_share, "scored_pixels": self.scored_pixels,
            "no_answer": self.no_answer, "times_s": list(self.times),
            "seconds": self.seconds, "mpx_per_s": self.mpx_per_s, "pixels": self.pixels,
        }


@dataclass(frozen=True, eq=False)
class SceneResult:
    """All methods on one scene.

    Attributes:
        name: the scene's name. shape: (H, W).
        methods: method name -> :class:`MethodResult`, in the order given.
        reference: the classes the reference distinguishes (empty: no reference).
        scored: bool (H, W) the common pixels (:data:`PIXEL_RULE`; without a reference, the
            valid pixels every method answered).
        truth: the reference (uint8 (H, W)) or None. maps: method name -> its uint8 class map
            (methods that ran; empty unless kept).
    """

    name: str
    shape: tuple[int, int]
    methods: Mapping[str, MethodResult]
    reference: frozenset[int]
    scored: np.ndarray
    truth: np.ndarray | None = None
    maps: Mapping[str, np.ndarray] = field(default_factory=dict)

    def disagreement(self, cls: int = CLOUD) -> np.ndarray:
        """bool (H, W): scored pixels where the methods that claim ``cls`` and ran disagree on
        whether the pixel is ``cls`` (all False with fewer than two such maps kept)."""
        votes = [m == cls for n, m in self.maps.items() if cls in self.methods[n].claims]
        if len(votes) < 2:
            return np.zeros(self.shape, dtype=bool)
        stack = np.stack(votes)
        return stack.any(axis=0) & ~stack.all(axis=0) & self.scored


@dataclass(frozen=True, eq=False)
class Comparison(ResultFiles):
    """A comparison over one or more scenes.

    Attributes:
        scenes: scene name -> :class:`SceneResult`, in input order.
        pooled: method name -> :class:`MethodResult` with the scenes' matrices summed (at the
            coarsest level any scene was scored at) and their median times summed; None for
            one scene.
    """

    scenes: Mapping[str, SceneResult]
    pooled: Mapping[str, MethodResult] | None = None

    @property
    def skipped(self) -> dict[str, str]:
        """``"scene: method"`` -> reason, for every skip."""
        return {f"{s.name}: {m.label}": m.skipped for s in self.scenes.values()
                for m in s.methods.values() if m.skipped}

    def table(self) -> list[dict[str, object]]:
        """Rows: each scene's methods, then the pooled rows (scene ``pooled``) when several
        scenes; keys ``scene`` and those of :meth:`MethodResult.row`."""
        rows = [{"scene": s.name, **m.row()} for s in self.scenes.values()
                for m in s.methods.values()]
        if self.pooled is not None:
            rows += [{"scene": "pooled", **m.row()} for m in self.pooled.values()]
        return rows

    def overall(self) -> list[dict[str, object]]:
        """The rows of the methods that ran, pooled over the scenes (one scene: its own rows),
        keys as :meth:`table`."""
        if self.pooled is not None:
            return [{"scene": "pooled", **m.row()} for m in self.pooled.values() if not m.skipped]
        (scene,) = self.scenes.values()
        return [{"scene": scene.name, **m.row()} for m in scene.methods.values() if not m.skipped]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: the rules, each scene's methods, the pooled methods."""
        return {
            "pixel_rule": PIXEL_RULE, "scoring_rule": SCORING_RULE,
            "scenes": [{"name": s.name, "shape": list(s.shape),
                        "reference_classes": sorted(s.reference),
                        "scored_pixels": int(s.scored.sum()),
                        "methods": [m.to_dict() for m in s.methods.values()]}
                       for s in self.scenes.values()],
            "pooled": None if self.pooled is None
            else [m.to_dict() for m in self.pooled.values()],
        }



# --------------------------------------------------------------------------- the pure core


def _check_truth(truth: np.ndarray | None, scene: Scene) -> None:
    if truth is None:
        return
    if not isinstance(truth, np.ndarray) or truth.shape != scene.shape \
            or not np.issubdtype(truth.dtype, np.integer):
        got = f"{truth.dtype} {truth.shape}" if isinstance(truth, np.ndarray) else type(truth)
        raise LabelError(f"the reference must be an integer {scene.shape} class map in project "
                         f"codes (the scene's grid), got {got}")
    if truth.size and (int(truth.min()) < 0 or int(truth.max()) > max(SCORED_CLASSES)):
        raise LabelError("the reference holds codes outside 0-5; recode it into project "
                         "classes (dfmask_lib.classes.recode)")


def _rounds(names: list[str], repeats: int) -> Iterator[list[str]]:
    """The method order of each round, rotated by one per round."""
    for r in range(repeats):
        k = r % len(names) if names else 0
        yield names[k:] + names[:k]


def compare_scene(scene: Scene, truth: np.ndarray | None, methods: Sequence[Any], *,
                  repeats: int = 3, reference: Iterable[int] | None = None,
                  product: str | os.PathLike | None = None, name: str = "scene",
                  keep_maps: bool = True,
                  clock: Callable[[], float] | None = None) -> Comparison:
    """Run and score every available method on one scene (the module's rules).

    Args:
        scene: the scene, on the grid of ``truth``.
        truth: uint8 (H, W) reference in project codes (0 unlabelled), or None.
        methods: :class:`Method` s, or what :meth:`Method.wrap` takes; unique names.
        repeats: timed rounds (>= 1), method order rotated each round.
        reference: the classes ``truth`` distinguishes (default all five; ``{2}`` for a
            cloud / not-cloud reference such as Betsiboka's); ignored without ``truth``.
        product: the product's path, for methods that read a file beside it.
        name: the scene's name in tables.
        keep_maps: keep each method's class map (for plots and :meth:`SceneResult.disagreement`).
        clock: seconds counter (default :func:`time.perf_counter`).

    Returns:
        A :class:`Comparison` of one scene.

    Raises:
        ConfigError: no methods, a name twice, repeats < 1. LabelError: a reference off the
            scene's shape or codes. BandError: a method's output breaks the contract (a bug
            in that adapter).
    """
    methods = [Method.wrap(m) for m in methods]
    if not methods:
        raise ConfigError("no methods given; name peers (e.g. fmask) or dfmask:EXP")
    names = [m.name for m in methods]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"method {twice[0]!r} is given twice; give each once")
    if not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer >= 1, got {repeats!r}")
    _check_truth(truth, scene)
    ref = frozenset() if truth is None else frozenset(
        SCORED_CLASSES if reference is None else (int(c) for c in reference))
    product = None if product is None else Path(product)
    tick = clock or time.perf_counter
    by_name = {m.name: m for m in methods}

    skipped: dict[str, str] = {}
    for m in methods:
        try:
            reason = m.unavailable(scene, product)
            if reason is None and m.prepare is not None:
                m.prepare()
        except PeerUnavailable as exc:
            reason = str(exc)
        if reason is not None:
            skipped[m.name] = reason
            log.info("skipping %s: %s", m.label, reason)

    times: dict[str, list[float]] = {n: [] for n in names}
    maps: dict[str, np.ndarray] = {}
    for order in _rounds([n for n in names if n not in skipped], repeats):
        for n in order:
            if n in skipped:
                continue
            m = by_name[n]
            t0 = tick()
            try:
                out = m.predict(scene, product)
            except PeerUnavailable as exc:
                skipped[n] = str(exc)
                maps.pop(n, None)
                continue
            times[n].append(tick() - t0)
            maps.setdefault(n, check_output(out, scene, m.claims, m.name, m.background))

    ran = [n for n in names if n not in skipped]
    labelled = scene.valid if truth is None else scene.valid & (truth != NODATA)
    scored = labelled.copy()
    for n in ran:
        scored &= maps[n] != NODATA
    h, w = scene.shape
    results = {}
    for m in methods:
        if m.name in skipped:
            results[m.name] = MethodResult(m.name, m.label, m.claims, skipped=skipped[m.name])
            continue
        pred = maps[m.name]
        level = scoring_level(m.claims, ref) if truth is not None else None
        cm = None if level is None else confusion_matrix(truth[scored], pred[scored])
        results[m.name] = MethodResult(
            m.name, m.label, m.claims, scored_on=level, confusion=cm,
            cloud_pixels=int((pred[scored] == CLOUD).sum()), scored_pixels=int(scored.sum()),
            no_answer=int((labelled & (pred == NODATA)).sum()), times=tuple(times[m.name]),
            pixels=h * w)
    kept = {n: maps[n] for n in ran} if keep_maps else {}
    result = SceneResult(name, (h, w), MappingProxyType(results), ref, scored,
                         truth if keep_maps else None, MappingProxyType(kept))
    return Comparison(MappingProxyType({name: result}))


def _pool(results: Sequence[SceneResult]) -> dict[str, MethodResult]:
    """Pooled method results: matrices, cloud counts and median times summed over scenes."""
    out = {}
    for name, first in results[0].methods.items():
        per = [r.methods[name] for r in results]
        skip = next(((r.name, m.skipped) for r, m in zip(results, per) if m.skipped), None)
        if skip is not None:
            out[name] = MethodResult(name, first.label, first.claims,
                                     skipped=f"skipped on {skip[0]}: {skip[1]}")
            continue
        levels = [m.scored_on for m in per if m.scored_on is not None]
        level = max(levels, key=_COARSENESS.index) if levels else None
        matrices = [m.confusion for m in per if m.confusion is not None]
        out[name] = MethodResult(
            name, first.label, first.claims, scored_on=level,
            confusion=np.sum(matrices, axis=0) if matrices else None,
            cloud_pixels=sum(m.cloud_pixels for m in per),
            scored_pixels=sum(m.scored_pixels for m in per),
            no_answer=sum(m.no_answer for m in per),
            times=(sum(m.seconds or 0.0 for m in per),), pixels=sum(m.pixels for m in per))
    return out


# --------------------------------------------------------------------------- several scenes


@dataclass(frozen=True)
class SceneInput:
    """A scene to compare, loaded only when its turn comes.

    Attributes:
        name: its name in tables (unique). load: -> (scene, reference or None).
        reference: the classes the reference distinguishes (default all five).
        product: the product's path (for methods reading a file beside it), or None.
    """

    name: str
    load: Callable[[], tuple[Scene, np.ndarray | None]]
    reference: frozenset[int] = frozenset(SCORED_CLASSES)
    product: Path | None = None


def compare_inputs(inputs: Iterable[SceneInput], methods: Sequence[Any], *, repeats: int = 3,
                   keep_maps: bool = False, clock: Callable[[], float] | None = None
                   ) -> Comparison:
    """:func:`compare_scene` on each input in turn (one scene in memory at a time), pooled.

    Raises:
        ConfigError: no inputs, or a name twice; what :func:`compare_scene` raises.
    """
    methods = [Method.wrap(m) for m in methods]
    scenes: dict[str, SceneResult] = {}
    for item in inputs:
        if item.name in scenes or item.name == "pooled":
            raise ConfigError(f"scene name {item.name!r} is used twice or reserved; give each "
                              "scene its own name")
        scene, truth = item.load()
        log.info("comparing %d methods on %s", len(methods), item.name)
        one = compare_scene(scene, truth, methods, repeats=repeats, reference=item.reference,
                            product=item.product, name=item.name, keep_maps=keep_maps,
                            clock=clock)
        scenes[item.name] = one.scenes[item.name]
    if not scenes:
        raise ConfigError("no scenes given; pass products or bundled dataset names")
    pooled = _pool(list(scenes.values())) if len(scenes) > 1 else None
    return Comparison(MappingProxyType(scenes), None if pooled is None
                      else MappingProxyType(pooled))


def product_inputs(products: Sequence[str | os.PathLike],
                   labels: Sequence[str | os.PathLike] | None = None, *,
                   reader_options: Mapping[str, Any] | None = None) -> list[SceneInput]:
    """:class:`SceneInput` s of products read at 20 m with their labels (pure of pixels: the
    products are read only when compared).

    Labels: given, products are paired with them as ``dfmask evaluate`` pairs predictions
    (:func:`dfmask_lib.evaluate.pair_files`: in order when as many, else by tile and sensing
    time); not given, each product's own ``*LABELS.tif`` (:func:`dfmask_lib.predict.find_labels`),
    or no reference. Labels are checked to lie on the product's 20 m grid.

    Raises:
        MissingDataError: a product or label path that does not exist, a product without
            labels when labels are given. LabelError: a pairing conflict.
    """
    from .errors import MissingDataError
    from .evaluate import expand_labels, pair_files, scene_id
    from .predict import find_labels

    paths = [Path(p) for p in products]
    for p in paths:
        if not p.exists():
            raise MissingDataError(f"{p} does not exist; give a .SAFE folder, its .zip, a "
                                   "folder of band files or a GeoTIFF")
    if labels:
        pairs = pair_files(paths, [expand_labels(x) for x in labels])
    else:
        pairs, seen = [], set()
        for p in paths:
            n = str(scene_id(p))
            n = n if n not in seen else f"{n}_{p.name}"
            seen.add(n)
            pairs.append((n, p, find_labels(p)))
    options = dict(reader_options or {})

    def loader(product: Path, label: Path | None) -> Callable[[], tuple[Scene, np.ndarray | None]]:
        def load() -> tuple[Scene, np.ndarray | None]:
            from .reader import read_labels, read_product
            from .reader.labels import check_label_grid
            from .reader.resample import Grid

            scene = read_product(product, resolution=20, progress=False, **options)
            if label is None:
                return scene, None
            truth, profile = read_labels(label)
            check_label_grid(profile, Grid(scene.transform, scene.shape, scene.crs),
                             label.name, product.name)
            return scene, truth
        return load

    return [SceneInput(n, loader(p, lab), frozenset(SCORED_CLASSES) if lab else frozenset(), p)
            for n, p, lab in pairs]


def compare_products(products: Sequence[str | os.PathLike], methods: Sequence[Any],
                     labels: Sequence[str | os.PathLike] | None = None, *, repeats: int = 3,
                     reader_options: Mapping[str, Any] | None = None,
                     keep_maps: bool = False) -> Comparison:
    """Compare methods on SAFE products / GeoTIFF stacks at 20 m, per scene and pooled.

    See :func:`product_inputs` for the labels and :func:`compare_scene` for the rules;
    ``reader_options`` are :func:`dfmask_lib.reader.read_product` keywords (band names, scale,
    offset, sun angles of a stack).
    """
    return compare_inputs(product_inputs(products, labels, reader_options=reader_options),
                          methods, repeats=repeats, keep_maps=keep_maps)


def speed_rows(*comparisons: Comparison) -> list[dict[str, object]]:
    """Speed of each method over the scenes of ``comparisons``: rows of method, median Mpx/s
    (of its per-scene medians), total pixels and scenes it ran on (pooled rows not counted)."""
    speeds: dict[str, list[float]] = {}
    pixels: dict[str, int] = {}
    for comparison in comparisons:
        for scene in comparison.scenes.values():
            for m in scene.methods.values():
                if m.skipped or m.mpx_per_s is None:
                    continue
                speeds.setdefault(m.label, []).append(m.mpx_per_s)
                pixels[m.label] = pixels.get(m.label, 0) + m.pixels
    return [{"method": label, "median Mpx/s": statistics.median(v),
             "Mpx": pixels[label] / 1e6, "scenes": len(v)} for label, v in speeds.items()]

