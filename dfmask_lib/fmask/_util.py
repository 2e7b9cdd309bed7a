"""Small helpers shared by the Fmask steps: input checks and subsampled percentiles."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import BandError

__all__ = ["check_arrays", "check_masks", "StridedSample", "masked_percentile", "BoxSums",
           "disk"]


def check_arrays(where: str, **arrays: np.ndarray | None) -> tuple[int, int]:
    """Check that every given (non-None) array is 2-D and of one shape; return that shape.

    Raises:
        BandError: naming the function and the offending argument.
    """
    shape: tuple[int, int] | None = None
    for name, a in arrays.items():
        if a is None:
            continue
        if not isinstance(a, np.ndarray) or a.ndim != 2:
            raise BandError(f"{where}: {name} must be a 2-D (H, W) array, got "
                            f"{getattr(a, 'shape', type(a).__name__)}")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise BandError(f"{where}: {name} has shape {a.shape}, expected {shape} like the "
                            "other inputs; put every layer on the same grid first")
    if shape is None:
        raise BandError(f"{where}: no arrays given")
    return shape  # type: ignore[return-value]


def check_masks(where: str, **masks: np.ndarray | None) -> None:
    """Check that every given (non-None) mask is a 2-D bool array.

    An integer 0/1 mask would be taken as fancy indices by ``a[mask]`` (rows 0 and 1)
    and give a silently wrong answer, so it is refused.

    Raises:
        BandError: naming the function and the offending argument.
    """
    given = {name: m for name, m in masks.items() if m is not None}
    if not given:
        return
    check_arrays(where, **given)
    for name, m in given.items():
        if m.dtype != bool:
            raise BandError(f"{where}: {name} must be a bool mask, got dtype {m.dtype}; "
                            "pass mask.astype(bool) (or mask != 0)")


class StridedSample:
    """The pixels a percentile is computed from, gathered strip by strip in row-major order.

    Of the ``count`` selected pixels of a scene, every ``stride``-th is kept, ``stride =
    ceil(count / max_samples)`` when ``count > max_samples`` (1 otherwise; ``max_samples`` 0
    keeps all): a deterministic regular subsample whose members depend only on their index
    among the selected pixels of the whole scene, not on how the scene was cut into strips.
    So the strip pipeline (:mod:`dfmask_lib.fmask.strips`) and :func:`masked_percentile` on
    the whole scene give the same numbers, bit for bit. ``count`` must be known first (a
    previous pass counts it); :meth:`add` takes the strips in order.
    """

    def __init__(self, count: int, max_samples: int) -> None:
        self.count = int(count)
        self.stride = (int(np.ceil(self.count / max_samples))
                       if max_samples and self.count > max_samples else 1)
        self.seen = 0
        self._parts: list[np.ndarray] = []

    def add(self, values: np.ndarray, mask: np.ndarray) -> None:
        """Keep the members of the subsample among ``values[mask]`` (the next strip)."""
        picked = values[mask]
        first = -self.seen % self.stride
        self._parts.append(picked[first::self.stride].copy() if self.stride > 1 else picked)
        self.seen += picked.size

    def percentile(self, q: float | list[float]) -> np.ndarray | float:
        """Percentile(s) ``q`` (0-100) of the sample; NaN when nothing was selected.

        Raises:
            RuntimeError: the strips added did not hold ``count`` selected pixels.
        """
        if self.seen != self.count:
            raise RuntimeError(f"StridedSample was told {self.count} pixels but saw {self.seen}")
        picked = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        if picked.size == 0:
            return np.full(np.shape(q), np.nan) if np.ndim(q) else float("nan")
        result = np.percentile(picked, q)
        return result if np.ndim(q) else float(result)


def masked_percentile(values: np.ndarray, mask: np.ndarray, q: float | list[float],
                      max_samples: int) -> np.ndarray | float:
    """Percentile(s) ``q`` (0-100) of ``values[mask]``; NaN when the mask is empty.

    With more than ``max_samples`` selected pixels, a regular stride through them is
    used (:class:`StridedSample`: deterministic; percentiles of a 2-million-pixel sample
    differ from the full tile's by far less than the thresholds' precision).
    """
    sample = StridedSample(np.count_nonzero(mask), max_samples)
    sample.add(values, mask)
    return sample.percentile(q)


class _Prefix:
    """Running prefix sums P[k] = sum of the rows < k, added one row at a time from P[0] = 0."""

    def __init__(self) -> None:
        self.pos, self.value = 0, None

    def advance(self, k: int, rows: Callable[[int, int], np.ndarray]) -> np.ndarray:
        """P[pos + 1 .. k], (k - pos, ...) from rows(pos, k) (k - pos, ...)."""
        x = rows(self.pos, k)
        if self.value is None:
            self.value = np.zeros(x.shape[1:], x.dtype)
        x = np.concatenate([self.value[None], x])
        np.cumsum(x, axis=0, out=x)  # sequential along axis 0: the same chain for any strips
        self.value, self.pos = x[-1].copy(), k
        return x[1:]

    def take(self, a: int, b: int, rows: Callable[[int, int], np.ndarray],
             chunk: int) -> np.ndarray:
        """P[a .. b] (b - a + 1, ...), a >= the position reached (prefixes only move forward)."""
        if a < self.pos:
            raise RuntimeError(f"prefix sums asked for row {a} behind row {self.pos}")
        while self.pos < a:
            self.advance(min(a, self.pos + chunk), rows)
        if self.value is None:  # P[0]: zeros of the rows' shape
            self.value = np.zeros(rows(0, 0).shape[1:], np.float64)
        head = self.value[None].copy()
        return np.concatenate([head, self.advance(b, rows)]) if b > self.pos else head


class BoxSums:
    """Sums over (2r + 1) x (2r + 1) windows, zero outside the image, strip by strip.

    ``rows(a, b)`` gives the layers of image rows a .. b as float64 (layers, b - a, W);
    :meth:`__call__` (r0, r1) returns the window sums of rows r0 .. r1, (layers, r1 - r0, W),
    for strips asked in order, each starting where the previous one ended.

    Window sums along a row are differences of that row's prefix sums (rows are always
    whole); down the columns they are differences of two running prefix sums of those,
    one r + 1 rows ahead of the strip and one r rows behind, each added one row at a time
    from 0. So every value is the same whichever strips the image is cut into (the one
    mechanism behind the whole-scene and the strip pipelines' identical SCSI), and memory is
    a few strips' rows, not the window's 2r + 1 rows (the rows behind are read twice).
    """

    def __init__(self, rows: Callable[[int, int], np.ndarray], height: int,
                 radius: int) -> None:
        self.rows, self.height, self.radius = rows, int(height), int(radius)
        self.lead, self.lag = _Prefix(), _Prefix()
        self.next = 0

    def _row_sums(self, a: int, b: int) -> np.ndarray:
        x = self.rows(a, b)  # (layers, n, W)
        layers, n, w = x.shape
        prefix = np.zeros((layers, n, w + 1), np.float64)
        np.cumsum(x, axis=2, out=prefix[..., 1:])
        del x
        j = np.arange(w)
        sums = (prefix[..., np.minimum(j + self.radius + 1, w)]
                - prefix[..., np.maximum(j - self.radius, 0)])
        return np.ascontiguousarray(np.moveaxis(sums, 1, 0))  # (n, layers, W)

    def __call__(self, r0: int, r1: int) -> np.ndarray:
        if r0 != self.next or not r0 < r1 <= self.height:
            raise RuntimeError(f"BoxSums: rows {r0}:{r1} asked, next strip starts at row "
                               f"{self.next} of {self.height}")
        i = np.arange(r0, r1)
        hi = np.minimum(i + self.radius + 1, self.height)
        lo = np.maximum(i - self.radius, 0)
        chunk = max(1, r1 - r0)
        upper = self.lead.take(int(hi[0]), int(hi[-1]), self._row_sums, chunk)
        lower = self.lag.take(int(lo[0]), int(lo[-1]), self._row_sums, chunk)
        self.next = r1
        out = upper[hi - hi[0]]
        out -= lower[lo - lo[0]]
        return np.moveaxis(out, 1, 0)  # (layers, n, W)


def disk(radius: int) -> np.ndarray:
    """A bool disk structuring element of the given radius in pixels."""
    r = int(radius)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy * yy + xx * xx) <= r * r
