"""Window arithmetic on the 20 m grid: the one place for it, shared by patches and prediction.

Two kinds of windows, both as int32 arrays (N, 4) of ``row, col, height, width`` (row-major):

* **Patch windows** (:func:`window_starts`, :func:`scene_windows`, :func:`labelled_windows`):
  non-overlapping 254 px windows, the last row and column snapped to the scene edge
  (Nambiar et al. 2022, Remote Sens. 14:1825; 22 x 22 per 5490 px tile), zero-padded to
  256 px by :func:`dfmask_lib.patches.extract_patches`.
* **Prediction windows** (:func:`tile_starts`, :func:`prediction_windows`,
  :func:`blend_weights`): overlapping windows of ``window`` px (default 608) at stride
  ``window - overlap`` (default overlap 64, stride 544), whose softmax outputs are blended
  with a taper that is positive everywhere (every pixel is covered; no zero strips). The
  authors used 510 px at stride 408 and overwrote the overlaps (their stitching also trimmed
  the wrong axis, leaving 3 px zero strips on every scene edge; never reproduced here).

  Why multiples of 32: every window start and size is a multiple of :data:`ALIGN` = 32, the
  factor of the deepest stage U-Net (depth 6: 5 poolings), so every stage takes a window as
  it is and every window sees the same max-pool grid as a prediction of the whole scene at
  once: the result does not depend on the window size beyond the blended borders (see
  ``tests/test_predict.py``). The last window of a row or column starts at the first
  multiple of 32 at or after ``length - window``: it reaches the scene edge or at most 31 px
  beyond it, where the input is zero-padded (zero = no data, as the network sees no data
  everywhere). A scene smaller than a window gets one window of the scene's size rounded up
  to 32 (a 15 px scene is predicted as one 32 px window).

  Why 608 / 64: a Sentinel-2 tile (5490 px at 20 m) is covered by 10 x 10 windows of 608 px,
  37.0 Mpx computed (1.23 x the tile), against 13 x 13 windows and 44.3 Mpx (1.47 x) with
  512 px; the U-Nets run at the same speed per pixel on either size (CPU, measured), and two
  stage-3 windows of 608 px take about 1.1 GB. An overlap of 64 px keeps the blended
  probabilities within ~0.01 of a whole-scene prediction (32 px: ~0.03).
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

__all__ = [
    "ALIGN", "DEFAULT_WINDOW", "DEFAULT_OVERLAP", "window_starts", "scene_windows",
    "labelled_windows", "round_up", "check_tiling", "tile_starts", "prediction_windows",
    "taper", "blend_weights", "STRIP_PIXELS", "STRIP_MULTIPLE", "strip_rows_for",
]

#: Window starts and sizes of prediction are multiples of this: 2**5, the input factor of
#: the depth-6 U-Nets of stages 2 and 3 (any shallower stage divides it too).
ALIGN = 32
#: Prediction window and overlap (px on the 20 m grid); see the module docstring.
DEFAULT_WINDOW = 608
DEFAULT_OVERLAP = 64


# --------------------------------------------------------------------------- patch windows


def window_starts(length: int, window: int = 254) -> np.ndarray:
    """Start offsets of non-overlapping windows along one axis, the last one snapped to the edge.

    ``window_starts(5490)`` gives 22 starts 0, 254, ..., 5080, 5236 (the last window overlaps
    its neighbour instead of running off the scene). A scene shorter than ``window`` gets one
    window at 0 (it is zero-padded later).
    """
    if length < 1 or window < 1:
        raise ConfigError(f"need length >= 1 and window >= 1, got {length}, {window}")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, window)
    if starts[-1] + window < length:
        starts = np.append(starts, length - window)
    return starts


def scene_windows(shape: tuple[int, int], window: int = 254) -> np.ndarray:
    """All windows of a (H, W) grid as an int32 array (N, 4) of row, col, height, width (row-major)."""
    h, w = shape
    rows, cols = window_starts(h, window), window_starts(w, window)
    out = [(r, c, min(window, h), min(window, w)) for r in rows for c in cols]
    return np.asarray(out, dtype=np.int32)


def labelled_windows(label: np.ndarray, window: int = 254) -> np.ndarray:
    """The windows of :func:`scene_windows` whose label is not all 0 (int32 (N, 4))."""
    wins = scene_windows(label.shape, window)
    keep = [i for i, (r, c, h, w) in enumerate(wins) if label[r:r + h, c:c + w].any()]
    return wins[keep]


# --------------------------------------------------------------------------- prediction windows


def round_up(n: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= ``n``."""
    return -(-int(n) // int(multiple)) * int(multiple)


def check_tiling(window: int, overlap: int, align: int = ALIGN) -> None:
    """Raise :class:`ConfigError` unless ``window`` and ``overlap`` tile on the ``align`` grid."""
    if align < 1:
        raise ConfigError(f"align must be >= 1, got {align}")
    if window < align or window % align:
        raise ConfigError(f"prediction window {window} px must be a positive multiple of "
                          f"{align} (the U-Net's input factor); e.g. 512")
    if overlap < 0 or overlap % align or overlap >= window:
        raise ConfigError(f"overlap {overlap} px must be a multiple of {align} in "
                          f"[0, window {window}); e.g. 64")


def tile_starts(length: int, window: int = DEFAULT_WINDOW, overlap: int = DEFAULT_OVERLAP,
                align: int = ALIGN) -> np.ndarray:
    """Starts of overlapping prediction windows along one axis (int64, increasing).

    Starts are multiples of ``align``, ``window - overlap`` apart; the last one is the first
    multiple of ``align`` at or after ``length - window`` (so it overlaps its neighbour by at
    least ``overlap`` and ends at most ``align - 1`` px beyond the scene). A ``length`` of at
    most ``window`` gets the single start 0.

    ``tile_starts(5490)`` gives 0, 544, ..., 4352, 4896 (10 windows; the last ends at 5504).

    Raises:
        ConfigError: ``length`` < 1, or ``window``/``overlap`` not multiples of ``align``,
            or ``overlap`` >= ``window``.
    """
    check_tiling(window, overlap, align)
    if length < 1:
        raise ConfigError(f"need a length >= 1, got {length}")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    stride = window - overlap
    starts = np.arange(0, length - window, stride, dtype=np.int64)
    last = round_up(length - window, align)
    if last > starts[-1]:
        starts = np.append(starts, last)
    return starts


def prediction_windows(shape: tuple[int, int], window: int = DEFAULT_WINDOW,
                       overlap: int = DEFAULT_OVERLAP, align: int = ALIGN) -> np.ndarray:
    """All prediction windows of a (H, W) grid: int32 (N, 4) row, col, height, width.

    Row-major (all windows of the first row of starts, then the next). Every window has the
    same size: ``window`` along an axis longer than it, else the axis length rounded up to
    ``align``. Windows may reach up to ``align - 1`` px beyond the grid (see
    :func:`tile_starts`); the caller zero-pads there.
    """
    h, w = (int(v) for v in shape)
    if h < 1 or w < 1:
        raise ConfigError(f"need a grid of at least 1 x 1 px, got {shape}")
    wh, ww = min(window, round_up(h, align)), min(window, round_up(w, align))
    rows, cols = tile_starts(h, window, overlap, align), tile_starts(w, window, overlap, align)
    out = np.empty((len(rows) * len(cols), 4), dtype=np.int32)
    out[:, 0] = np.repeat(rows, len(cols))
    out[:, 1] = np.tile(cols, len(rows))
    out[:, 2], out[:, 3] = wh, ww
    return out


def taper(length: int, overlap: int = DEFAULT_OVERLAP) -> np.ndarray:
    """1-D blending weight of a window: float32 (length,), in (0, 1], 1 in the middle.

    ``sin**2`` ramps over the ``overlap`` px next to each border (at half-pixel distance
    ``d`` from the border: ``sin(pi / 2 * d / overlap)**2``), so where two windows overlap by
    exactly ``overlap`` px their weights sum to 1, and a pixel near one window's border,
    where that window's convolutions saw little context, takes almost all of its value from
    the other window. Positive everywhere (about 1.5e-4 at the border for overlap 64), so a
    pixel covered by one window only (the scene edge) keeps that window's value. Overlap 0
    gives all ones.
    """
    if length < 1 or overlap < 0:
        raise ConfigError(f"need length >= 1 and overlap >= 0, got {length}, {overlap}")
    if overlap == 0:
        return np.ones(length, dtype=np.float32)
    i = np.arange(length, dtype=np.float64)
    d = np.minimum(i, length - 1 - i) + 0.5  # distance of the pixel centre to the border
    w = np.sin(np.pi / 2 * np.minimum(d / overlap, 1.0)) ** 2
    return w.astype(np.float32)


def blend_weights(height: int, width: int, overlap: int = DEFAULT_OVERLAP) -> np.ndarray:
    """2-D blending weight of a (height, width) window: the outer product of :func:`taper`.

    float32 (height, width), positive everywhere. Blended output = sum over windows of
    weight x softmax, divided by the sum of the weights.
    """
    return np.outer(taper(height, overlap), taper(width, overlap)).astype(np.float32)


#: Pixels read per strip of a product (:func:`strip_rows_for`; prediction and Fmask).
STRIP_PIXELS = 6_000_000
#: Strips are multiples of this many rows, so that no strip boundary cuts through a row of
#: the 1024 px JPEG2000 tiles of L1C bands (20 m bands: 1024 rows; 10 m bands: 512 rows at
#: 20 m). Cutting them costs: 512-row strips made a 5490 px tile 1.5x slower (155 s against
#: 106 s for stage 0, ``benchmarks/predict_tile.py`` host, 2026-12).
STRIP_MULTIPLE = 1024


def strip_rows_for(width: int) -> int:
    """Rows per strip read from a product of ``width`` px: about :data:`STRIP_PIXELS` pixels,
    a multiple of :data:`STRIP_MULTIPLE` rows, at least one multiple (5490 px -> 1024 rows,
    2748 -> 2048)."""
    return max(1, STRIP_PIXELS // max(1, int(width)) // STRIP_MULTIPLE) * STRIP_MULTIPLE
