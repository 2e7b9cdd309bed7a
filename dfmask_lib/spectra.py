"""Per-class TOA spectra of synthetic and real scenes, and where a method's errors go.

Issue 11: the network trained on synthetic scenes fails on real data (ukis chip: most real
cloud called clear land). These statistics put the synthetic generator's classes beside the
real ones, band by band, on the same footing:

* :func:`class_spectra` (the pure core): per class of a class map, the pixel count and each
  band's median and 25 / 75 % quantiles;
* :func:`synthetic_spectra`: the same over synthetic scenes by their truth;
* real sources, each with its own reference (say which in every row's ``source``):
  :func:`ukis_spectra` (the curated ukis-csmask mask), :func:`betsiboka_spectra`
  (s2cloudless's mask: cloud / not cloud), :func:`svg18_spectra` (cloud-free 18SVG split by
  NDWI, :data:`SVG18_WATER_RULE`), :func:`barbellino_spectra` (Sen2Cor's SCL),
  :func:`glacier_spectra` (the hand-classified Alaska points, by point class);
* :func:`error_sources`: truth class -> predicted class counts and shares of a method's errors.

Rows are plain dicts (CSV-ready, :func:`dfmask_lib.atomic.write_csv`): ``source``, ``class``
(project code), ``class_name``, ``n`` and per band of :data:`~dfmask_lib.scene.S2_BANDS`
``<band> median``, ``<band> q25``, ``<band> q75`` (NaN for a band the source lacks).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .classes import CLASS_NAMES, CLEAR, CLOUD, NODATA, SCORED_CLASSES, WATER
from .errors import BandError, LabelError
from .scene import S2_BANDS, Scene, normalized_difference

__all__ = ["QUANTILES", "STATISTICS", "SVG18_WATER_RULE", "band_key", "class_spectra",
           "point_spectra", "synthetic_spectra", "product_spectra", "ukis_spectra", "betsiboka_spectra",
           "svg18_spectra", "barbellino_spectra", "glacier_spectra", "real_spectra",
           "spectrum", "error_sources"]

#: The quantiles of every row: 25 %, median, 75 %.
QUANTILES: tuple[float, float, float] = (0.25, 0.5, 0.75)
#: Their names in row keys, in that order.
STATISTICS: tuple[str, str, str] = ("q25", "median", "q75")
#: How 18SVG (cloud-free, no reference) is split into land and water.
SVG18_WATER_RULE = ("water where NDWI = (B03 - B08) / (B03 + B08) > 0 (McFeeters 1996, Int. J. "
                    "Remote Sens. 17:1425; on reflectance clipped at 0), clear land otherwise; "
                    "the scene is cloud-free and snow-free (Virginia coast, 2016-01-12)")


def band_key(band: str, statistic: str = "median") -> str:
    """Row key of one band's statistic, e.g. ``"B02 median"``."""
    return f"{band} {statistic}"


def point_spectra(values: np.ndarray, labels: np.ndarray, band_names: Sequence[str], *,
                  source: str, names: Mapping[int, str] | None = None,
                  codes: Mapping[int, int] | None = None) -> list[dict[str, Any]]:
    """Per-label statistics of samples: the core of :func:`class_spectra`.

    Args:
        values: float (N, B) reflectance of N samples (pixels or points) in ``band_names``.
        labels: int (N,) a label per sample; 0 is ignored (no data).
        band_names: the B bands' names (any subset of S2_BANDS, in any order).
        source: the row's ``source``.
        names: label -> ``class_name`` (default :data:`~dfmask_lib.classes.CLASS_NAMES`).
        codes: label -> project ``class`` code (default: the label itself).

    Returns:
        One row per label present (ascending): ``source, class, class_name, n`` and the
        three statistics of every S2 band (float; NaN where the source lacks the band or a
        sample value is NaN in all the label's samples). NaN samples are left out per band.

    Raises:
        BandError: a shape mismatch or an unknown band name.
    """
    values = np.asarray(values, dtype=np.float64)
    labels = np.asarray(labels)
    if values.ndim != 2 or values.shape[1] != len(band_names):
        raise BandError(f"values must be (N, {len(band_names)}) for bands {list(band_names)}, "
                        f"got {values.shape}")
    if labels.shape != (values.shape[0],):
        raise BandError(f"labels must be ({values.shape[0]},), got {labels.shape}")
    unknown = [b for b in band_names if b not in S2_BANDS]
    if unknown:
        raise BandError(f"unknown bands {unknown}; name bands as in S2_BANDS ({S2_BANDS})")
    names = CLASS_NAMES if names is None else names
    rows = []
    for label in np.unique(labels):
        label = int(label)
        if label == NODATA:
            continue
        sel = values[labels == label]
        row: dict[str, Any] = {"source": source,
                               "class": int(codes[label]) if codes else label,
                               "class_name": names.get(label, str(label)), "n": int(len(sel))}
        for band in S2_BANDS:
            if band in band_names:
                col = sel[:, list(band_names).index(band)]
                col = col[np.isfinite(col)]
            else:
                col = np.empty(0)
            q = np.quantile(col, QUANTILES) if col.size else (np.nan,) * 3
            for stat, v in zip(STATISTICS, q):
                row[band_key(band, stat)] = float(v)
        rows.append(row)
    return rows


def class_spectra(scene: Scene, classes: np.ndarray, *, source: str,
                  names: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
    """Per class of ``classes``: pixel count and each band's median, 25 and 75 % quantiles.

    Args:
        scene: a Scene (any bands of S2_BANDS). classes: uint8 (H, W) project codes on its
            grid; 0 and pixels outside ``scene.valid`` are left out.
        source: the rows' ``source`` (name the reference too, e.g. ``"ukis-chip (curated)"``).
        names: code -> class name (default the project's).

    Returns:
        Rows as :func:`point_spectra` returns them.

    Raises:
        LabelError: ``classes`` is not an integer (H, W) map on the scene's grid.
    """
    classes = np.asarray(classes)
    if classes.shape != scene.shape or not np.issubdtype(classes.dtype, np.integer):
        raise LabelError(f"classes must be an integer {scene.shape} map on the scene's grid, "
                         f"got {classes.dtype} {classes.shape}")
    keep = scene.valid & (classes != NODATA)
    values = scene.reflectance[:, keep].T
    return point_spectra(values, classes[keep], scene.band_names, source=source, names=names)


def synthetic_spectra(scenes: Iterable[Any], *, source: str = "synthetic"
                      ) -> list[dict[str, Any]]:
    """:func:`class_spectra` of synthetic scenes by their truth, pooled over the scenes.

    Args:
        scenes: :class:`~dfmask_lib.synthetic.SyntheticScene` s (anything with float32
            ``reflectance`` (13, H, W) in S2_BANDS order, ``truth`` (H, W) and ``valid``), or
            ``(Scene, truth)`` pairs.
        source: the rows' ``source``.

    Returns:
        One row per project class present in any scene's truth.
    """
    values, labels, bands = [], [], None
    for item in scenes:
        if isinstance(item, tuple):
            scene, truth = item
            refl, valid, names = scene.reflectance, scene.valid, scene.band_names
        else:
            refl, truth, valid, names = item.reflectance, item.truth, item.valid, S2_BANDS
        if bands is None:
            bands = tuple(names)
        elif tuple(names) != bands:
            raise BandError(f"synthetic scenes with different bands: {bands} and {tuple(names)}")
        keep = np.asarray(valid, bool) & (np.asarray(truth) != NODATA)
        values.append(np.asarray(refl)[:, keep].T)
        labels.append(np.asarray(truth)[keep])
    if bands is None:
        raise LabelError("no synthetic scenes given")
    return point_spectra(np.concatenate(values), np.concatenate(labels), bands, source=source)


def product_spectra(products: Iterable[Any], *, source: str = "synthetic") -> list[dict[str, Any]]:
    """:func:`synthetic_spectra` of products on disk by their ``*LABELS.tif`` (e.g. the synthetic
    TRAIN split of ``dfmask synth``): each product read at 20 m, its labels checked to lie on
    its grid.

    Raises:
        MissingDataError: a product without ``*LABELS.tif``. LabelError: labels off its grid.
    """
    from .errors import MissingDataError
    from .predict import find_labels
    from .reader import read_labels, read_product
    from .reader.labels import check_label_grid
    from .reader.resample import Grid

    pairs = []
    for product in products:
        label = find_labels(product)
        if label is None:
            raise MissingDataError(f"{product} has no *LABELS.tif; spectra need its labels")
        scene = read_product(product, progress=False)
        truth, profile = read_labels(label)
        check_label_grid(profile, Grid(scene.transform, scene.shape, scene.crs), label.name,
                         str(product))
        pairs.append((scene, truth))
    return synthetic_spectra(pairs, source=source)


# --------------------------------------------------------------------------- the real sources


def ukis_spectra(resolution: int = 10) -> list[dict[str, Any]]:
    """The ukis chip's classes by its curated reference (:func:`dfmask_lib.realdata.ukis_chip`)."""
    from .realdata import ukis_chip

    scene, truth = ukis_chip(resolution)
    return class_spectra(scene, truth, source=f"ukis-chip {resolution} m (curated reference)")


def betsiboka_spectra() -> list[dict[str, Any]]:
    """Betsiboka by s2cloudless's mask: cloud (2) and not cloud (1, any other class)."""
    from .realdata import betsiboka

    scene, truth = betsiboka()
    return class_spectra(scene, truth, source="betsiboka (s2cloudless mask)",
                         names={CLEAR: "not cloud", CLOUD: CLASS_NAMES[CLOUD]})


def svg18_classes(scene: Scene) -> np.ndarray:
    """uint8 (H, W): 5 water / 1 clear land of a cloud-free scene by :data:`SVG18_WATER_RULE`
    (B08, or B8A when the scene lacks B08); 0 outside ``valid``."""
    nir = scene.band("B08" if "B08" in scene.band_names else "B8A")
    ndwi = normalized_difference(scene.band("B03"), nir)
    out = np.where(ndwi > 0, WATER, CLEAR).astype(np.uint8)
    out[~scene.valid] = NODATA
    return out


def svg18_spectra() -> list[dict[str, Any]]:
    """18SVG (cloud-free) split into land and water by :data:`SVG18_WATER_RULE`."""
    from .realdata import svg18

    scene, _ = svg18()
    return class_spectra(scene, svg18_classes(scene), source="18svg (NDWI > 0 water)")


def barbellino_spectra(date: str = "20170703") -> list[dict[str, Any]]:
    """The Barbellino L1C crop by Sen2Cor's SCL (:func:`dfmask_lib.realdata.barbellino`)."""
    from .realdata import barbellino

    scene, truth = barbellino(date)
    return class_spectra(scene, truth, source=f"barbellino {date} (Sen2Cor SCL)")


def glacier_spectra(*, by_point_class: bool = True) -> list[dict[str, Any]]:
    """The Alaska glacier points (:func:`dfmask_lib.realdata.glacier_points`).

    Args:
        by_point_class: one row per point class (snow, shadowed snow, glacier ice,
            rock/debris; ``class`` is the project code 4 or 1, ``class_name`` says
            ``"snow/ice: shadowed snow"``), or False: per project class (snow/ice, clear land).
    """
    from .realdata import GLACIER_CLASSES, GLACIER_PROJECT_CLASSES, glacier_points

    pts = glacier_points()
    source = "alaska glacier points (hand-classified)"
    if not by_point_class:
        return point_spectra(pts.reflectance, pts.classes, S2_BANDS, source=source)
    names = {k: f"{CLASS_NAMES[GLACIER_PROJECT_CLASSES[k]]}: {v}"
             for k, v in GLACIER_CLASSES.items()}
    return point_spectra(pts.reflectance, pts.point_class, S2_BANDS, source=source,
                         names=names, codes=GLACIER_PROJECT_CLASSES)


def real_spectra() -> list[dict[str, Any]]:
    """Every real source above, in order: ukis 10 m, Betsiboka, 18SVG, both Barbellino
    dates, glacier points by point class."""
    from .realdata import BARBELLINO_DATES

    rows = ukis_spectra(10) + betsiboka_spectra() + svg18_spectra()
    for date in BARBELLINO_DATES:
        rows += barbellino_spectra(date)
    return rows + glacier_spectra()


def spectrum(rows: Sequence[Mapping[str, Any]], source: str, cls: int,
             statistic: str = "median", class_name: str | None = None) -> dict[str, float]:
    """One row's ``statistic`` per band (bands the source has), found by source and class
    (and class name where a source has several rows of one class).

    Raises:
        LabelError: no such row, or several without ``class_name``.
    """
    hits = [r for r in rows if r["source"] == source and r["class"] == cls
            and (class_name is None or r["class_name"] == class_name)]
    if len(hits) != 1:
        raise LabelError(f"{len(hits)} rows of source {source!r} class {cls}"
                         + (f" ({class_name})" if class_name else "") + "; give class_name")
    return {b: hits[0][band_key(b, statistic)] for b in S2_BANDS
            if np.isfinite(hits[0][band_key(b, statistic)])}


# --------------------------------------------------------------------------- error sources


def error_sources(truth: np.ndarray, pred: np.ndarray, *, valid: np.ndarray | None = None,
                  include_correct: bool = False) -> list[dict[str, Any]]:
    """Where a method's errors go: truth class -> predicted class, counts and shares.

    Args:
        truth, pred: integer arrays of one shape (project codes). Pixels where either is 0,
            or outside ``valid`` (bool, same shape) when given, are left out.
        include_correct: also give the diagonal (truth == predicted) rows.

    Returns:
        Rows, most pixels first: ``truth``, ``predicted`` (class names), ``truth code``,
        ``predicted code``, ``pixels``, ``share of truth class`` (of the scored pixels of that
        truth class) and ``share of errors`` (of all wrong scored pixels; NaN on the diagonal).

    Raises:
        LabelError: shapes differ.
    """
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape or (valid is not None and np.shape(valid) != truth.shape):
        raise LabelError(f"truth {truth.shape}, prediction {pred.shape}"
                         + ("" if valid is None else f" and valid {np.shape(valid)}")
                         + " must have one shape")
    keep = (truth != NODATA) & (pred != NODATA)
    if valid is not None:
        keep &= np.asarray(valid, bool)
    t, p = truth[keep].astype(np.int64), pred[keep].astype(np.int64)
    n = max(int(t.max(initial=0)), int(p.max(initial=0)), max(SCORED_CLASSES)) + 1
    cm = np.bincount(t * n + p, minlength=n * n).reshape(n, n)
    per_truth = cm.sum(axis=1)
    errors = int(cm.sum() - np.trace(cm))
    rows = []
    for a in range(1, n):
        for b in range(1, n):
            if cm[a, b] == 0 or (a == b and not include_correct):
                continue
            rows.append({"truth": CLASS_NAMES.get(a, str(a)),
                         "predicted": CLASS_NAMES.get(b, str(b)),
                         "truth code": a, "predicted code": b, "pixels": int(cm[a, b]),
                         "share of truth class": float(cm[a, b] / per_truth[a]),
                         "share of errors": float(cm[a, b] / errors) if a != b and errors
                         else float("nan")})
    rows.sort(key=lambda r: (-r["pixels"], r["truth code"], r["predicted code"]))
    return rows
