"""Score class maps against labels on whole scenes, as Nambiar et al. (2022) score them.

The paper's numbers are computed on **whole scenes**, never on patches: one confusion
matrix per scene (rows = truth, over the pixels whose truth is not 0; a predicted 0 on a
labelled pixel is an error), summed over the scenes for the pooled scores (every
labelled pixel weighs the same), plus the same scores per scene. Fmask and Sen2Cor are
scored exactly like Deep F-Mask. Definitions and the NaN rule: :mod:`dfmask_lib.metrics`.

* :func:`evaluate_maps` is the pure core: (name, truth, prediction) arrays in project
  codes -> :class:`Evaluation` (per-scene and pooled :class:`~dfmask_lib.metrics.Scores`,
  table rows, row-normalised confusion matrices, CSV and JSON).
* :func:`evaluate_files` is the I/O edge behind ``dfmask evaluate``: class-map GeoTIFFs
  and label files, paired, checked to lie on the same grid, recoded, scored.

**Pairing rule** (:func:`pair_files`). When as many label paths as predictions are given
and each label path holds exactly one label file, the i-th prediction is scored against
the i-th label (an explicit list; refused only when both names identify a Sentinel-2
scene and the scenes differ). Otherwise every prediction is matched with the label file
of the same scene: the same MGRS tile (``T31TCJ``) and, where both names carry one, the
same sensing time (``20240120T105341``), read from the file name or, inside a ``.SAFE``,
from the folders up to it; when either name has no tile, by the stem without the class-map
suffix (``scene1_DFMASK.tif`` <-> ``scene1_LABELS.tif``). A prediction without exactly one
such label, or two predictions of one label, is an error; labels left without a prediction
are logged (a warning) and not scored.

**Class codes** of a file (:func:`class_table_of`): the table given, else by name
(dfmask predictions ``*_DFMASK_CLASSES.tif`` as ``dfmask_lib.predict`` names them, or
``*_DFMASK.tif``, and ``*LABELS.tif``: project codes; ``*FMASK.tif``: Fmask 4 codes; a name
with ``_SCL``: Sen2Cor SCL, read at 20 m), else the ``CLASS_TABLE`` tag that
:func:`dfmask_lib.writer.write_classmap` writes; a name and a tag that disagree are refused,
and so is a probability map (``*_DFMASK_PROB.tif``).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .atomic import ResultFiles
from .classes import CLASS_NAMES, PROJECT, SEN2COR_SCL, TABLES, MappingTable
from .errors import ConfigError, LabelError, MissingDataError
from .metrics import Scores, confusion_matrix, normalise_rows, score_matrices

__all__ = ["POOLED", "METRICS", "Evaluation", "evaluate_maps", "evaluate_files",
           "SceneId", "scene_id", "pair_files", "expand_labels", "class_table_of"]

log = logging.getLogger(__name__)

#: Name of the pooled row in tables, CSV and JSON (never a scene's name).
POOLED = "pooled"
#: Per-class metrics a table can show: column prefix -> :class:`Scores` attribute.
METRICS: Mapping[str, str] = MappingProxyType(
    {"IoU": "iou", "F1": "f1", "precision": "precision", "recall": "recall"})

DEFINITION = ("confusion matrix rows = truth, columns = prediction, over the pixels whose truth "
              "is not 0 (a predicted 0 counts as an error); pooled = matrices summed over the "
              "scenes; OA = trace / sum; IoU_c = C[c,c] / (row_c + col_c - C[c,c]); mIoU = mean "
              "IoU over classes 1-5 that are not NaN (a class absent from truth and prediction "
              "is NaN); Nambiar et al. 2022, Remote Sens. 14:1825")


# --------------------------------------------------------------------------- the pure core


@dataclass(frozen=True, eq=False)
class Evaluation(ResultFiles):
    """Scores of class maps against labels: per scene (in input order) and pooled.

    Attributes:
        scenes: scene name -> its :class:`~dfmask_lib.metrics.Scores`.
        pooled: scores of the confusion matrices summed over the scenes (the paper's numbers).
        sources: scene name -> where its maps came from (``prediction``, ``labels`` paths and
            ``prediction_table``, ``label_table`` names); empty for :func:`evaluate_maps`.
    """

    scenes: Mapping[str, Scores]
    pooled: Scores
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scenes:
            raise LabelError("an Evaluation needs at least one scene")
        if POOLED in self.scenes:
            raise LabelError(f"{POOLED!r} names the pooled row; rename that scene")
        stray = sorted(set(self.sources) - set(self.scenes))
        if stray:
            raise LabelError(f"sources given for scenes that were not scored: {stray}")
        object.__setattr__(self, "scenes", MappingProxyType(dict(self.scenes)))
        object.__setattr__(self, "sources", MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in self.sources.items()}))

    @property
    def names(self) -> tuple[str, ...]:
        """Scene names in input order (without ``"pooled"``)."""
        return tuple(self.scenes)

    def scores(self, name: str = POOLED) -> Scores:
        """The scores of one scene, or the pooled scores (``"pooled"``)."""
        if name == POOLED:
            return self.pooled
        if name not in self.scenes:
            raise LabelError(f"no scene {name!r}; scenes: {', '.join(self.names)} (or {POOLED!r})")
        return self.scenes[name]

    def normalised(self, name: str = POOLED) -> np.ndarray:
        """Row-normalised confusion matrix of a scene or the pool, float64 (6, 6).

        ``N[t, p]`` = fraction of truth-t pixels predicted p (the diagonal is recall; column 0
        the share predicted as no data); rows without pixels (row 0 always) are NaN. See
        :func:`dfmask_lib.metrics.normalise_rows`.
        """
        return normalise_rows(self.scores(name).confusion)

    def rows(self, metrics: Sequence[str] = ("IoU", "F1")) -> list[dict[str, object]]:
        """Table rows, one per scene and a last one named ``"pooled"``.

        Keys: ``scene``, ``OA``, ``mIoU``, then ``"<metric> <class name>"`` for each metric
        (``IoU``, ``F1``, ``precision``, ``recall``, in the order asked) and class 1-5,
        then ``pixels`` (labelled pixels). Values are floats (NaN where undefined) and ints;
        ready for :func:`dfmask_lib.metrics.format_table`.
        """
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ConfigError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
        rows = []
        for name, s in [*self.scenes.items(), (POOLED, self.pooled)]:
            row: dict[str, object] = {"scene": name, "OA": s.oa, "mIoU": s.miou}
            for metric in metrics:
                values = getattr(s, METRICS[metric])
                row.update({f"{metric} {CLASS_NAMES.get(c, c)}": v for c, v in values.items()})
            row["pixels"] = s.n_pixels
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: definition, class names, pooled and per-scene scores.

        Each scores entry is :meth:`Scores.to_dict` (OA, mIoU, pixels, per-class precision,
        recall, F1, IoU keyed by class code, the confusion counts) plus
        ``confusion_normalised``; scenes (a list, in input order) also carry their name and
        sources. NaN stays a float NaN here (:meth:`to_json` writes it as null).
        """
        def entry(s: Scores) -> dict[str, Any]:
            return {**s.to_dict(), "confusion_normalised": normalise_rows(s.confusion).tolist()}

        return {
            "definition": DEFINITION,
            "class_names": {str(c): CLASS_NAMES.get(c, str(c)) for c in self.pooled.iou},
            "pooled": {"name": POOLED, "n_scenes": len(self.scenes), **entry(self.pooled)},
            "scenes": [{"name": name, **dict(self.sources.get(name, {})), **entry(s)}
                       for name, s in self.scenes.items()],
        }

    def csv_rows(self) -> list[dict[str, Any]]:
        """The CSV rows of :meth:`to_csv`: :meth:`rows` with all four metrics (columns: scene,
        OA, mIoU, IoU x5, F1 x5, precision x5, recall x5, pixels; one row per scene, then
        ``pooled``)."""
        return self.rows(tuple(METRICS))


def evaluate_maps(pairs: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> Evaluation:
    """Score (name, truth, prediction) class maps on whole scenes, per scene and pooled.

    Args:
        pairs: one ``(name, truth, prediction)`` per scene; ``truth`` and ``prediction``
            are integer (uint8) (H, W) maps in project codes 0-5 on the same grid (same
            shape; scenes may differ); truth 0 is unlabelled and not scored, a predicted 0
            on a labelled pixel is an error. Names are unique, non-empty and not
            ``"pooled"``. A generator is consumed one scene at a time (only the 6 x 6
            matrices are kept), so whole tiles can be streamed.

    Returns:
        :class:`Evaluation` with the scenes in input order.

    Raises:
        LabelError: no scenes, a malformed item or name, or maps that
            :func:`dfmask_lib.metrics.confusion_matrix` refuses (the message names the scene).
    """
    names: list[str] = []
    matrices: list[np.ndarray] = []
    for item in pairs:
        if not (isinstance(item, (tuple, list)) and len(item) == 3):
            raise LabelError("each scene must be a (name, truth, prediction) tuple, got "
                             f"{type(item).__name__}; e.g. ('T31TCJ', labels, prediction)")
        name, truth, pred = item
        if not isinstance(name, str) or not name.strip():
            raise LabelError(f"scene name must be a non-empty string, got {name!r}")
        if name == POOLED or name in names:
            why = "reserved for the pooled row" if name == POOLED else "used twice"
            raise LabelError(f"scene name {name!r} is {why}; give every scene its own name "
                             "(e.g. tile and sensing time)")
        try:
            matrices.append(confusion_matrix(truth, pred))
        except LabelError as exc:
            raise LabelError(f"scene {name!r}: {exc}") from None
        names.append(name)
    if not names:
        raise LabelError("no scenes given; pass (name, truth, prediction) tuples")
    pooled, per_scene = score_matrices(matrices)
    return Evaluation(dict(zip(names, per_scene)), pooled)


# --------------------------------------------------------------------------- pairing files

_TILE = re.compile(r"(?<![A-Z0-9])T(\d{2}[A-Z]{3})(?![A-Z0-9])")
_TIME = re.compile(r"(?<!\d)(\d{8}T\d{6})(?!\d)")
_EXTENSIONS = (".tif", ".tiff", ".jp2")
_CLASS_MAP_SUFFIX = re.compile(r"[_.-]?(DFMASK(_CLASSES)?|FMASK|LABELS|SCL(_\d+M)?)$",
                               re.IGNORECASE)
#: Names of dfmask class maps (project codes); checked before ``*FMASK.tif``, which they end
#: with. ``dfmask_lib.predict`` writes ``*_DFMASK_CLASSES.tif``.
_DFMASK_NAMES = ("DFMASK_CLASSES.TIF", "DFMASK_CLASSES.TIFF", "DFMASK.TIF", "DFMASK.TIFF")
_PROBABILITY_NAMES = ("DFMASK_PROB.TIF", "DFMASK_PROB.TIFF")


@dataclass(frozen=True)
class SceneId:
    """What a file name says about its scene.

    Attributes:
        tile: MGRS tile without the ``T`` (``"31TCJ"``), or None.
        time: sensing time ``YYYYMMDDTHHMMSS`` (the first one in a name), or None.
        stem: the file name without extension and class-map suffix (``_DFMASK_CLASSES``,
            ``_DFMASK``, ``_FMASK``, ``_LABELS``, ``_SCL_20m``).
    """

    tile: str | None
    time: str | None
    stem: str

    def __str__(self) -> str:
        if self.tile is None:
            return self.stem
        return f"T{self.tile}" + (f"_{self.time}" if self.time else "")

    def same_scene(self, other: "SceneId") -> bool:
        """Same tile and, when both have one, sensing time; without tiles: the same stem."""
        if self.tile is not None and other.tile is not None:
            return self.tile == other.tile and (
                self.time is None or other.time is None or self.time == other.time)
        return self.stem.upper() == other.stem.upper()


def scene_id(path: str | os.PathLike) -> SceneId:
    """The :class:`SceneId` of a class-map file (pure: only the path's text is used).

    The tile and sensing time come from the file name, else from the folders between it
    and the ``.SAFE`` holding it (granule folder, product name), the nearest first.
    """
    path = Path(path)
    name = path.name
    for ext in _EXTENSIONS:
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    stem = _CLASS_MAP_SUFFIX.sub("", name) or name
    parts = [path.name]
    if any(p.name.upper().endswith(".SAFE") for p in path.parents):
        for parent in path.parents:
            parts.append(parent.name)
            if parent.name.upper().endswith(".SAFE"):
                break
    tile = time = None
    for part in parts:
        text = part.upper()
        if tile is None and (m := _TILE.search(text)):
            tile = m.group(1)
        if time is None and (m := _TIME.search(text)):
            time = m.group(1)
    return SceneId(tile, time, stem)


def _shown(paths: Sequence[Path], n: int = 3) -> str:
    names = ", ".join(p.name for p in paths[:n])
    return names + (f" and {len(paths) - n} more" if len(paths) > n else "")


def pair_files(predictions: Sequence[str | os.PathLike],
               labels: Sequence[Sequence[str | os.PathLike]]) -> list[tuple[str, Path, Path]]:
    """Pair prediction files with label files by the module's pairing rule (pure: names only).

    Args:
        predictions: prediction class-map files, in the order given.
        labels: for each label path given, the label files it holds (:func:`expand_labels`).

    Returns:
        ``(scene name, prediction, label)`` in prediction order. The name is the scene's
        tile and sensing time (``T31TCJ_20240120T105341``) when the names say them, else the
        prediction's stem; made unique with the prediction's stem or path.

    Raises:
        ConfigError: no predictions, or a prediction given twice. MissingDataError: a
            prediction without a label. LabelError: a prediction matching several labels,
            a label matched twice, or an explicit pair naming two different scenes.
    """
    preds = [Path(p) for p in predictions]
    groups = [[Path(x) for x in g] for g in labels]
    if not preds:
        raise ConfigError("no predictions given; pass the class-map files to score")
    twice = sorted({str(p) for p in preds if preds.count(p) > 1})
    if twice:
        raise ConfigError(f"prediction {twice[0]} is given twice; give each once")
    flat = list(dict.fromkeys(x for g in groups for x in g))
    if not flat:
        raise MissingDataError("no label files given; pass *LABELS.tif files or folders "
                               "holding them with --labels")
    ids = {p: scene_id(p) for p in [*preds, *flat]}
    if len(groups) == len(preds) and all(len(g) == 1 for g in groups):
        pairs = [(p, g[0]) for p, g in zip(preds, groups)]
        twice = sorted({str(lab) for _, lab in pairs if [x for _, x in pairs].count(lab) > 1})
        if twice:
            raise LabelError(f"labels {twice[0]} are given for two predictions; score one "
                             "method at a time (one prediction per scene)")
        for p, lab in pairs:
            a, b = ids[p], ids[lab]
            if a.tile and b.tile and not a.same_scene(b):
                raise LabelError(
                    f"prediction {p.name} ({a}) and labels {lab.name} ({b}) are paired by order "
                    "but name different scenes; give predictions and labels in the same order")
    else:
        pairs, used = [], {}
        for p in preds:
            hits = [lab for lab in flat if ids[p].same_scene(ids[lab])]
            if not hits:
                raise MissingDataError(
                    f"no label file for prediction {p.name} (scene {ids[p]}) among the "
                    f"{len(flat)} given ({_shown(flat)}); pass its *LABELS.tif or the folder "
                    "holding it, or as many label files as predictions in the same order")
            if len(hits) > 1:
                raise LabelError(
                    f"prediction {p.name} (scene {ids[p]}) matches {len(hits)} label files "
                    f"({_shown(hits)}); name it after its scene (T<tile>_<YYYYMMDDTHHMMSS>) "
                    "or give predictions and labels in the same order")
            if hits[0] in used:
                raise LabelError(
                    f"labels {hits[0].name} match both {used[hits[0]].name} and {p.name}; "
                    "score one method at a time (one prediction per scene)")
            used[hits[0]] = p
            pairs.append((p, hits[0]))
        left = [lab for lab in flat if lab not in used]
        if left:
            log.warning("%d label file(s) without a prediction, not scored: %s",
                        len(left), _shown(left))
    return _named(pairs, ids)


def _named(pairs: list[tuple[Path, Path]],
           ids: Mapping[Path, SceneId]) -> list[tuple[str, Path, Path]]:
    def merged(p: Path, lab: Path) -> str:
        pred_id, label_id = ids[p], ids[lab]
        src = label_id if label_id.tile else pred_id  # the label's name first: it is the truth
        if src.tile is None:
            return pred_id.stem
        other = pred_id if src is label_id else label_id
        time = src.time or (other.time if other.tile == src.tile else None)
        return str(SceneId(src.tile, time, src.stem))

    names = [merged(p, lab) for p, lab in pairs]
    for fallback in (lambda p: ids[p].stem, str):
        clash = {n for n in names if names.count(n) > 1 or n == POOLED}
        names = [fallback(p) if n in clash else n for n, (p, _) in zip(names, pairs)]
    return [(n, p, lab) for n, (p, lab) in zip(names, pairs)]


def expand_labels(path: str | os.PathLike) -> list[Path]:
    """The label files a ``--labels`` path stands for, sorted.

    * a file: itself (any class map; its codes are told by :func:`class_table_of`);
    * a ``.SAFE`` product or a band folder: its ``GRANULE/*/IMG_DATA/*LABELS.tif`` and
      ``*LABELS.tif`` (a flat folder of label files gives all of them);
    * otherwise a folder of products (e.g. a split's ``TEST``): the label file of each
      sub-folder (:func:`dfmask_lib.reader.find_label_file`).

    Raises:
        MissingDataError: the path does not exist or holds no ``*LABELS.tif``.
    """
    from .reader import find_label_file  # the reader pulls in rasterio: only at the edge

    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"labels {path} do not exist; give *LABELS.tif files, SAFE "
                               "products holding them, or folders of either")
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.glob("GRANULE/*/IMG_DATA/*LABELS.tif")
                   if not p.name.startswith("."))
    found += sorted(p for p in path.glob("*LABELS.tif") if not p.name.startswith("."))
    if not found:
        subs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        found = [f for f in (find_label_file(s, kind="LABELS") for s in subs) if f is not None]
    if not found:
        raise MissingDataError(f"no *LABELS.tif in {path} (nor in GRANULE/*/IMG_DATA/ of it or "
                               "of its sub-folders); pass the label files themselves")
    return found


# --------------------------------------------------------------------------- reading files


def class_table_of(path: str | os.PathLike, table: MappingTable | str | None = None,
                   tags: Mapping[str, str] | None = None, *,
                   option: str = "table") -> MappingTable:
    """The mapping table of a class-map file (pure: its name and tags only).

    Args:
        path: the file (only its name is used).
        table: a :class:`~dfmask_lib.classes.MappingTable` or a name in
            :data:`~dfmask_lib.classes.TABLES`; wins over name and tags.
        tags: the file's GeoTIFF tags (``CLASS_TABLE`` as the writer records it).
        option: how the caller names the ``table`` argument, for the message.

    Raises:
        LabelError: unknown table name, a name and a tag that disagree, or nothing tells.
    """
    from .reader.labels import table_for

    path = Path(path)
    name = path.name.upper()
    if name.endswith(_PROBABILITY_NAMES):
        raise LabelError(f"{path.name} holds class probabilities, not classes; give the class "
                         "map beside it (*_DFMASK_CLASSES.tif)")
    if table is not None:
        return table_for(path, table)
    by_name: MappingTable | None
    if name.endswith(_DFMASK_NAMES):
        by_name = PROJECT  # checked first: "_DFMASK.tif" also ends with "FMASK.tif"
    elif "_SCL" in name:
        by_name = SEN2COR_SCL
    else:
        try:
            by_name = table_for(path)
        except LabelError:
            by_name = None
    tag = (tags or {}).get("CLASS_TABLE")
    tagged = TABLES.get(tag) if tag else None
    if by_name is not None and tagged is not None and by_name is not tagged:
        raise LabelError(
            f"{path.name} is named as {by_name.name!r} codes but its CLASS_TABLE tag says "
            f"{tagged.name!r}; rename it or pass {option} (one of {sorted(TABLES)})")
    if by_name is None and tagged is None:
        raise LabelError(
            f"cannot tell the class codes of {path.name} (neither *_DFMASK_CLASSES.tif, "
            f"*LABELS.tif, *FMASK.tif, *_SCL* nor a CLASS_TABLE tag); pass {option} one of "
            f"{sorted(TABLES)}")
    return by_name or tagged


def _header(path: Path, role: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Profile and tags of a class-map file, without reading its pixels."""
    import rasterio
    from rasterio.errors import RasterioError

    from .reader.safe import GDAL_ENV

    if not path.exists():
        raise MissingDataError(f"{role} file {path} does not exist")
    if path.is_dir():
        raise LabelError(f"{role} {path} is a folder; give the class-map file itself "
                         "(e.g. .../GRANULE/*/IMG_DATA/*_DFMASK_CLASSES.tif)")
    try:
        with rasterio.Env(**GDAL_ENV), rasterio.open(path) as ds:
            return dict(ds.profile), dict(ds.tags())
    except RasterioError as exc:
        raise LabelError(f"cannot read {role} file {path}: {exc}") from None


def _read(path: Path, table: MappingTable) -> np.ndarray:
    from .reader import read_labels, read_scl

    array, _ = read_scl(path) if table is SEN2COR_SCL else read_labels(path, table)
    return array


def evaluate_files(
    predictions: Sequence[str | os.PathLike] | str | os.PathLike,
    labels: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    pred_table: MappingTable | str | None = None,
    label_table: MappingTable | str | None = None,
    progress: bool = True,
) -> Evaluation:
    """Score prediction GeoTIFFs against label files on whole scenes (``dfmask evaluate``).

    Args:
        predictions: class-map files, one per scene: dfmask predictions
            ``*_DFMASK_CLASSES.tif`` or ``*_DFMASK.tif`` (project codes), Fmask 4 output
            ``*FMASK.tif`` (Fmask codes, 255 fill), Sen2Cor ``*_SCL_20m.jp2`` /
            ``*_SCL*.tif`` (20 m SCL), or any map with ``pred_table``.
        labels: ``*LABELS.tif`` files, SAFE products holding them, or folders of either
            (:func:`expand_labels`); paired with the predictions by the module's pairing rule.
        pred_table, label_table: the codes of every prediction / label file (a
            :class:`~dfmask_lib.classes.MappingTable` or its name in
            :data:`~dfmask_lib.classes.TABLES`); by default told per file by
            :func:`class_table_of`.
        progress: a progress bar over the scenes (terminals only).

    Every file header is checked before any pixel is read: the tables, and that each
    prediction lies on its label's grid (CRS, transform, shape). Maps are then read one
    scene at a time (no resampling), recoded into project codes and scored by
    :func:`evaluate_maps`.

    Returns:
        :class:`Evaluation` whose ``sources`` record each scene's files and tables.

    Raises:
        MissingDataError: a missing file, or a prediction without a label. LabelError: a
            pairing conflict, a file whose codes are unknown or not in its table, or a
            prediction on another grid than its labels. ConfigError: no predictions.
    """
    from tqdm.auto import tqdm

    from .progress import disable_bar
    from .reader.labels import check_label_grid
    from .reader.resample import Grid

    if isinstance(predictions, (str, os.PathLike)):
        predictions = [predictions]
    if isinstance(labels, (str, os.PathLike)):
        labels = [labels]
    if not labels:
        raise MissingDataError("no labels given; pass *LABELS.tif files or folders holding "
                               "them (CLI: --labels)")
    for p in predictions:
        if not Path(p).exists():
            raise MissingDataError(f"prediction file {p} does not exist")
    pairs = pair_files(predictions, [expand_labels(x) for x in labels])

    jobs = []
    for name, pred, lab in pairs:
        p_profile, p_tags = _header(pred, "prediction")
        l_profile, l_tags = _header(lab, "label")
        p_tab = class_table_of(pred, pred_table, p_tags, option="pred_table= (--pred-table)")
        l_tab = class_table_of(lab, label_table, l_tags, option="label_table= (--label-table)")
        grid = Grid(p_profile["transform"], (int(p_profile["height"]), int(p_profile["width"])),
                    p_profile.get("crs"))
        check_label_grid(l_profile, grid, f"labels {lab.name}", f"prediction {pred.name}")
        jobs.append((name, pred, lab, p_tab, l_tab))
        log.info("%s: prediction %s (%s codes) against labels %s (%s codes)",
                 name, pred, p_tab.name, lab, l_tab.name)

    def maps() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for name, pred, lab, p_tab, l_tab in tqdm(jobs, desc="scoring", unit="scene",
                                                  disable=disable_bar(progress)):
            yield name, _read(lab, l_tab), _read(pred, p_tab)

    evaluation = evaluate_maps(maps())
    sources = {name: {"prediction": str(pred), "labels": str(lab),
                      "prediction_table": p_tab.name, "label_table": l_tab.name}
               for name, pred, lab, p_tab, l_tab in jobs}
    return replace(evaluation, sources=sources)
