"""Tests of dfmask_lib.windows: patch windows (moved from patches) and prediction tiling."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib import patches, windows
from dfmask_lib.errors import ConfigError
from dfmask_lib.windows import (ALIGN, blend_weights, prediction_windows, round_up, taper,
                                tile_starts)


def test_patch_windows_are_re_exported_by_patches() -> None:
    assert patches.window_starts is windows.window_starts
    assert patches.scene_windows is windows.scene_windows
    assert patches.labelled_windows is windows.labelled_windows


def test_labelled_windows_drop_all_zero_windows() -> None:
    label = np.zeros((300, 300), np.uint8)
    label[260, 10] = 2  # only in the second row of windows (rows 46..300, snapped)
    wins = windows.labelled_windows(label, 254)
    assert wins.tolist() == [[46, 0, 254, 254]]


def test_tile_starts_of_a_full_tile() -> None:
    starts = tile_starts(5490)  # 608 px windows, overlap 64: stride 544
    assert starts.tolist() == [0, 544, 1088, 1632, 2176, 2720, 3264, 3808, 4352, 4896]
    assert starts[-1] + 608 == 5504  # 14 px beyond the edge, zero-padded
    assert tile_starts(5490, 512, 64).tolist() == [0, 448, 896, 1344, 1792, 2240, 2688, 3136,
                                                   3584, 4032, 4480, 4928, 4992]


@pytest.mark.parametrize(("length", "expected"), [
    (1, [0]), (15, [0]), (512, [0]), (513, [0, 32]), (960, [0, 448]), (961, [0, 448, 480]),
])
def test_tile_starts_small(length: int, expected: list[int]) -> None:
    assert tile_starts(length, 512, 64).tolist() == expected


@pytest.mark.parametrize("length", [1, 31, 32, 33, 100, 511, 512, 513, 1000, 2745, 5490])
@pytest.mark.parametrize(("window", "overlap"), [(64, 32), (96, 0), (512, 64), (544, 96)])
def test_tiling_covers_with_overlap_on_the_pooling_grid(length, window, overlap) -> None:
    starts = tile_starts(length, window, overlap)
    size = min(window, round_up(length, ALIGN))
    assert starts[0] == 0 and (starts % ALIGN == 0).all()
    assert 0 <= starts[-1] + size - length < ALIGN  # reaches the edge, < 32 px beyond
    if len(starts) > 1:
        gaps = np.diff(starts)
        assert (gaps > 0).all() and (gaps <= window - overlap).all()  # >= overlap shared


def test_prediction_windows_grid_and_sizes() -> None:
    wins = prediction_windows((600, 15), window=512, overlap=64)
    assert wins.dtype == np.int32
    assert wins.tolist() == [[0, 0, 512, 32], [96, 0, 512, 32]]
    assert prediction_windows((600, 15)).tolist() == [[0, 0, 608, 32]]  # 600 -> 608
    assert prediction_windows((15, 15)).tolist() == [[0, 0, 32, 32]]
    full = prediction_windows((5490, 5490))
    assert len(full) == 10 * 10 and set(full[:, 2]) == set(full[:, 3]) == {608}
    assert full[:10, 0].tolist() == [0] * 10 and full[10, 0] == 544  # row-major
    assert (full[:, 2] * full[:, 3]).sum() / 5490**2 == pytest.approx(1.2265, abs=1e-4)


@pytest.mark.parametrize(("window", "overlap", "match"), [
    (500, 64, "multiple of 32"), (0, 0, "multiple of 32"), (512, 48, "overlap 48"),
    (512, 512, r"\[0, window 512\)"), (512, -32, "overlap -32"),
])
def test_bad_tiling_refused(window: int, overlap: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        tile_starts(1000, window, overlap)


def test_taper_values() -> None:
    w = taper(512, 64)
    assert w.dtype == np.float32 and w.shape == (512,)
    assert (w > 0).all() and w.max() == 1.0
    assert w[0] == w[-1] == pytest.approx(np.sin(np.pi / 2 * 0.5 / 64) ** 2, rel=1e-5)  # 1.5e-4
    assert (w[64:448] == 1).all()
    np.testing.assert_allclose(w[:256], w[::-1][:256])  # symmetric
    # where two windows overlap by exactly `overlap` px, the weights sum to 1
    np.testing.assert_allclose(w[448:] + w[:64], 1.0, atol=1e-6)
    assert (taper(40, 0) == 1).all()
    with pytest.raises(ConfigError):
        taper(0, 64)


def test_blend_weights_outer_product_positive_everywhere() -> None:
    w = blend_weights(96, 64, 32)
    assert w.shape == (96, 64) and w.dtype == np.float32
    np.testing.assert_allclose(w, np.outer(taper(96, 32), taper(64, 32)))
    assert w.min() > 0 and w[48, 32] == pytest.approx(np.sin(np.pi / 2 * 31.5 / 32) ** 2)
    assert blend_weights(96, 96, 32)[48, 48] == 1.0


def test_blended_tiling_is_a_partition_of_unity_inside() -> None:
    """Summed weights of a whole tiling are > 0 on every pixel; away from the snapped last
    window and the scene edge they are exactly 1 (the sin**2 ramps add up)."""
    shape, window, overlap = (700, 1000), 256, 64
    total = np.zeros((768, 1024))
    for r, c, h, w in prediction_windows(shape, window, overlap):
        total[r:r + h, c:c + w] += blend_weights(h, w, overlap)
    total = total[:700, :1000]
    assert total.min() > 0
    # row starts 0, 192, 384 + the snapped 448; column starts 0, 192, 384, 576 + 768
    np.testing.assert_allclose(total[64:448, 64:768], 1.0, atol=1e-5)
    assert total[500, 500] == pytest.approx(1 + taper(256, 64)[500 - 448], rel=1e-5)
