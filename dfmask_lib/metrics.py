"""Accuracy metrics as Nambiar et al. (2022, Remote Sens. 14:1825) compute them.

* Confusion matrix ``C`` with rows = truth, columns = prediction, over the pixels
  whose truth is not 0 (no data / unlabelled). A predicted 0 on a labelled pixel
  is an error: it lands in column 0, which no class gets credit for.
* Pooled scores sum the matrices of all scenes first; per-scene scores are also
  reported (:func:`score_scenes` from maps, :func:`score_matrices` from matrices).
* OA = trace(C) / sum(C). For each scored class c in 1..5:
  precision = C[c,c] / col_c, recall = C[c,c] / row_c,
  F1 = 2 C[c,c] / (row_c + col_c) (the harmonic mean of the two),
  IoU = C[c,c] / (row_c + col_c - C[c,c]).
* NaN rule: a ratio whose denominator is 0 is NaN, not 0. In particular a class
  absent from both truth and prediction has NaN IoU and is *skipped* by mIoU
  (the mean over the classes that are not NaN); a class present in only one of
  them has IoU 0 and counts. Precision is NaN when the class is never predicted,
  recall when it is never true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from .classes import CLASS_NAMES
from .errors import LabelError

__all__ = ["Scores", "confusion_matrix", "scores", "score_scenes", "score_matrices",
           "normalise_rows", "scores_table", "format_table"]


def _check_maps(truth: np.ndarray, pred: np.ndarray, n_classes: int) -> None:
    for name, a in (("truth", truth), ("prediction", pred)):
        if not np.issubdtype(a.dtype, np.integer):
            raise LabelError(
                f"{name} must be an integer class map, got {a.dtype}; "
                "recode with dfmask_lib.classes.recode first"
            )
        if a.size and (int(a.min()) < 0 or int(a.max()) >= n_classes):
            raise LabelError(
                f"{name} holds codes outside 0..{n_classes - 1} "
                f"(min {int(a.min())}, max {int(a.max())}); recode it into project classes"
            )
    if truth.shape != pred.shape:
        raise LabelError(
            f"truth {truth.shape} and prediction {pred.shape} differ in shape; "
            "put both on the same grid (labels with nearest resampling)"
        )


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, n_classes: int = 6) -> np.ndarray:
    """Confusion matrix over the labelled pixels (truth != 0).

    Args:
        truth: integer class map (any shape, e.g. (H, W)) in project codes 0..n_classes-1.
        pred: integer class map of the same shape and codes.
        n_classes: number of codes including 0 (6 for the project's classes).

    Returns:
        int64 (n_classes, n_classes) matrix, ``C[t, p]`` = pixels of truth t predicted p;
        row 0 is always zero, column 0 counts labelled pixels predicted as no data.

    Raises:
        LabelError: non-integer maps, codes out of range, or different shapes.
    """
    truth, pred = np.asarray(truth), np.asarray(pred)
    _check_maps(truth, pred, n_classes)
    labelled = truth != 0
    t = truth[labelled].astype(np.int64)
    p = pred[labelled].astype(np.int64)
    counts = np.bincount(t * n_classes + p, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def _check_matrix(cm: np.ndarray) -> None:
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 2 \
            or not np.issubdtype(cm.dtype, np.integer) or (cm < 0).any():
        raise LabelError(
            f"confusion matrix must be square, non-negative integer, got {cm.dtype} {cm.shape}; "
            "build it with dfmask_lib.metrics.confusion_matrix"
        )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass(frozen=True, eq=False)
class Scores:
    """Scores of one confusion matrix (see the module docstring for the definitions).

    Attributes:
        confusion: the int64 (n, n) matrix they were computed from (rows = truth).
        oa: overall accuracy in [0, 1]; NaN if no labelled pixel.
        precision, recall, f1, iou: class code (1..n-1) -> value in [0, 1] or NaN.
        miou: mean IoU over the classes whose IoU is not NaN; NaN if none.
        n_pixels: labelled pixels counted.
    """

    confusion: np.ndarray
    oa: float
    precision: Mapping[int, float]
    recall: Mapping[int, float]
    f1: Mapping[int, float]
    iou: Mapping[int, float]
    miou: float
    n_pixels: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready plain values (NaN stays a float NaN; ``json`` writes it as ``NaN``)."""
        return {
            "oa": self.oa, "miou": self.miou, "n_pixels": self.n_pixels,
            "precision": {str(c): v for c, v in self.precision.items()},
            "recall": {str(c): v for c, v in self.recall.items()},
            "f1": {str(c): v for c, v in self.f1.items()},
            "iou": {str(c): v for c, v in self.iou.items()},
            "confusion": self.confusion.tolist(),
        }

    def class_rows(self) -> list[dict[str, object]]:
        """One row per scored class: class, name, precision, recall, F1, IoU, truth pixels."""
        rows = []
        for c in self.iou:
            rows.append({
                "class": c, "name": CLASS_NAMES.get(c, str(c)),
                "precision": self.precision[c], "recall": self.recall[c],
                "F1": self.f1[c], "IoU": self.iou[c],
                "pixels": int(self.confusion[c].sum()),
            })
        return rows


def scores(cm: np.ndarray) -> Scores:
    """OA, per-class precision/recall/F1/IoU and NaN-safe mIoU of a confusion matrix.

    Args:
        cm: square non-negative integer matrix from :func:`confusion_matrix` (or a sum
            of them), rows = truth; classes 1..n-1 are scored, code 0 never is.

    Raises:
        LabelError: if ``cm`` is not a square non-negative integer matrix, or its row 0
            (truth = no data) is not empty.
    """
    cm = np.asarray(cm)
    _check_matrix(cm)
    if cm[0].any():
        # truth 0 is unlabelled: counting it would silently change OA (e.g. a matrix from
        # sklearn over all pixels), so refuse rather than guess
        raise LabelError(
            f"confusion matrix row 0 (truth = no data) holds {int(cm[0].sum())} pixels; "
            "unlabelled pixels are not scored: build it with dfmask_lib.metrics.confusion_matrix"
        )
    cm = cm.astype(np.int64)
    classes = range(1, cm.shape[0])
    diag = np.diag(cm)[1:]
    rows = cm.sum(axis=1)[1:]
    cols = cm.sum(axis=0)[1:]
    total = int(cm.sum())
    iou = _ratio(diag, rows + cols - diag)
    valid_iou = iou[~np.isnan(iou)]
    return Scores(
        confusion=cm,
        oa=float(_ratio(np.trace(cm), total)),
        precision=dict(zip(classes, _ratio(diag, cols).tolist())),
        recall=dict(zip(classes, _ratio(diag, rows).tolist())),
        f1=dict(zip(classes, _ratio(2 * diag, rows + cols).tolist())),
        iou=dict(zip(classes, iou.tolist())),
        miou=float(valid_iou.mean()) if valid_iou.size else float("nan"),
        n_pixels=total,
    )


def score_matrices(matrices: Sequence[np.ndarray]) -> tuple[Scores, list[Scores]]:
    """Pooled and per-scene scores of per-scene confusion matrices.

    Args:
        matrices: one matrix per scene from :func:`confusion_matrix`, all of the same shape.

    Returns:
        (pooled, per_scene): :func:`scores` of the summed matrix (the paper's numbers: every
        labelled pixel weighs the same, so pooled OA is not the mean of the scenes' OAs)
        and one :class:`Scores` per matrix, in input order.

    Raises:
        LabelError: no matrices, matrices of different shapes, or a matrix :func:`scores`
            refuses.
    """
    matrices = [np.asarray(m) for m in matrices]
    if not matrices:
        raise LabelError("no (truth, prediction) pairs given; nothing to score")
    shapes = sorted({m.shape for m in matrices})
    if len(shapes) > 1:
        raise LabelError(f"confusion matrices of different shapes {shapes} cannot be pooled; "
                         "build all of them with the same n_classes")
    per_scene = [scores(m) for m in matrices]  # checks each matrix before summing
    return scores(np.sum([s.confusion for s in per_scene], axis=0)), per_scene


def score_scenes(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], n_classes: int = 6
) -> tuple[Scores, list[Scores]]:
    """Pooled and per-scene scores of (truth, prediction) pairs.

    Args:
        pairs: iterable of (truth, prediction) integer class maps, one pair per scene
            (scenes may differ in shape); a generator is consumed one scene at a time.
        n_classes: as in :func:`confusion_matrix`.

    Returns:
        (pooled, per_scene) as :func:`score_matrices` returns them.

    Raises:
        LabelError: no pairs, or a pair fails :func:`confusion_matrix`'s checks.
    """
    return score_matrices([confusion_matrix(t, p, n_classes) for t, p in pairs])


def normalise_rows(cm: np.ndarray) -> np.ndarray:
    """A confusion matrix divided by its row sums: ``N[t, p]`` = fraction of truth t predicted p.

    Each row with pixels sums to 1 and its diagonal entry is that class's recall; column 0 is
    the fraction predicted as no data. A row without pixels (always row 0, and any class
    absent from the truth) is NaN, by the module's NaN rule, not 0.

    Args:
        cm: square non-negative integer matrix (rows = truth) from :func:`confusion_matrix`.

    Returns:
        float64 array of the same shape.

    Raises:
        LabelError: if ``cm`` is not a square non-negative integer matrix.
    """
    cm = np.asarray(cm)
    _check_matrix(cm)
    rows = cm.sum(axis=1, keepdims=True)
    return _ratio(cm, np.broadcast_to(rows, cm.shape))


def scores_table(named: Mapping[str, Scores]) -> list[dict[str, object]]:
    """One summary row per named result: name, OA, IoU of each class, mIoU, pixels.

    Args:
        named: e.g. ``{"Fmask": s1, "Deep F-Mask": s2}`` or ``{scene_id: s}``, in display order.
    """
    rows = []
    for name, s in named.items():
        row: dict[str, object] = {"name": name, "OA": s.oa}
        row.update({f"IoU {CLASS_NAMES.get(c, c)}": v for c, v in s.iou.items()})
        row.update({"mIoU": s.miou, "pixels": s.n_pixels})
        rows.append(row)
    return rows


def format_table(rows: Sequence[Mapping[str, object]], digits: int = 3) -> str:
    """Rows of dicts (same keys) as a fixed-width text table; floats rounded, NaN as ``nan``."""
    if not rows:
        return ""
    keys = list(rows[0])

    def cell(v: object) -> str:
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    cells = [[cell(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.rjust(w) for k, w in zip(keys, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
