"""Tests of dfmask_lib.augment: labels stay class codes, image and labels stay aligned, and
each transform is drawn with p = 0.5 over its documented range."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfmask_lib.augment import _zoom, augment_batch
from dfmask_lib.errors import BandError


def blocky_batch(b: int = 16, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels in 8x8 blocks of codes 1-5; image channel 0 = label, channel 1 = 10 x label."""
    g = torch.Generator().manual_seed(0)
    blocks = torch.randint(1, 6, (b, size // 8, size // 8), generator=g)
    mask = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)
    image = torch.stack([mask.float(), 10 * mask.float()], dim=1)
    return image, mask


def test_labels_stay_class_codes_and_aligned_with_the_image() -> None:
    image, mask = blocky_batch()
    g = torch.Generator().manual_seed(1)
    out_img, out_mask = augment_batch(image, mask, g)
    assert out_img.shape == image.shape and out_mask.shape == mask.shape
    assert out_mask.dtype == mask.dtype and out_img.dtype == image.dtype
    assert set(out_mask.unique().tolist()) <= {0, 1, 2, 3, 4, 5}
    # Where the image is not a bilinear blend (integer-valued), it must equal the label.
    exact = out_img[:, 0] == out_img[:, 0].round()
    assert exact.float().mean() > 0.9
    assert torch.equal(out_img[:, 0][exact].long(), out_mask[exact])
    assert torch.equal(out_img[:, 1], 10 * out_img[:, 0])
    assert not torch.equal(out_mask, mask)  # something happened
    assert (out_mask == 0).any()            # a cut-out happened somewhere
    assert torch.equal(image, blocky_batch()[0])  # inputs untouched


def test_zoom_uses_nearest_for_labels() -> None:
    mask = torch.tensor([[1, 2], [3, 5]]).repeat_interleave(4, 0).repeat_interleave(4, 1)
    image = mask[None].float()
    img, lab = _zoom(image, mask, 0.5)
    assert set(lab.unique().tolist()) == {1, 2, 3, 5}  # never an interpolated 2.5 or 4
    assert lab[0, 0] == 1 and lab[-1, -1] == 5 and lab.shape == (8, 8)
    assert torch.equal(lab[:4, :4], torch.ones(4, 4, dtype=mask.dtype))
    assert not torch.equal(img[0], img[0].round())  # the image is interpolated


def test_seeded_generator_reproduces_the_augmentation() -> None:
    image, mask = blocky_batch(4)
    a = augment_batch(image, mask, torch.Generator().manual_seed(7))
    b = augment_batch(image, mask, torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(BandError):
        augment_batch(torch.zeros(2, 3, 8, 8), torch.zeros(2, 8, 4, dtype=torch.long),
                      torch.Generator())


# ----------------------------------------------------------------------------- the draws

SIZE, DRAWS = 64, 2000


def probe_batch(b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs where every transform can be read off the output.

    Image channel 0 = source row, channel 1 = source column, channel 2 = 1 (cut-out sets it to
    0; bilinear zoom keeps it 1). Labels: 8 x 8 checkerboard of codes 1 and 5 only, so that a
    bilinear blend of labels (2, 3, 4) would show and a 0 can only come from the cut-out.
    """
    rows, cols = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    image = torch.stack([rows.float(), cols.float(), torch.ones(SIZE, SIZE)])
    mask = torch.where((rows // 8 + cols // 8) % 2 == 0, 1, 5)
    return image.expand(b, -1, -1, -1).clone(), mask.expand(b, -1, -1).clone()


def axis_and_sign(v: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the output axis (0 rows, 1 columns) a coordinate channel varies along, and
    its direction (+1 / -1). Checks that it is constant along the other axis (exact)."""
    big = np.float32(1e9)
    lo_r, hi_r = np.where(valid, v, big).min(2), np.where(valid, v, -big).max(2)  # per row
    lo_c, hi_c = np.where(valid, v, big).min(1), np.where(valid, v, -big).max(1)  # per column
    along_rows = (hi_r - lo_r).max(1) < 1e-4   # constant in every row: varies along rows
    along_cols = (hi_c - lo_c).max(1) < 1e-4
    assert (along_rows ^ along_cols).all()
    first_last = np.where(along_rows[:, None], lo_r[:, [0, -1]], lo_c[:, [0, -1]])
    return along_cols.astype(int), np.sign(first_last[:, 1] - first_last[:, 0]).astype(int)


@pytest.fixture(scope="module")
def draws() -> dict[str, np.ndarray]:
    """What was applied to each of 2000 seeded samples, read off the outputs."""
    g = torch.Generator().manual_seed(2024)
    out: dict[str, list] = {k: [] for k in ("key", "reflected", "zoom_px", "cut_side")}
    bad_labels: set[int] = set()
    for _ in range(DRAWS // 500):
        image, mask = probe_batch(500)
        img, lab = augment_batch(image, mask, g)
        img, lab = img.numpy(), lab.numpy()
        valid = img[:, 2] != 0
        assert np.array_equal(valid, lab != 0)              # cut-out: image and label together
        assert np.all(img[:, 2][valid] == 1)
        assert all(np.all(img[:, ch][~valid] == 0) for ch in range(3))  # cut-out image is 0
        bad_labels |= set(np.unique(lab).tolist()) - {0, 1, 5}
        (ax0, s0), (ax1, s1) = axis_and_sign(img[:, 0], valid), axis_and_sign(img[:, 1], valid)
        assert (ax0 != ax1).all()
        swapped = ax0 == 1
        out["key"] += list(zip(swapped, s0, s1))
        out["reflected"] += list(np.where(swapped, -s0 * s1, s0 * s1) < 0)
        # Zoom: clamped borders give exactly the crop's first and last source row.
        row = img[:, 0]
        span = np.where(valid, row, -1e9).max((1, 2)) - np.where(valid, row, 1e9).min((1, 2))
        assert np.allclose(span, np.round(span), atol=1e-4)
        out["zoom_px"] += list(np.round(span).astype(int) + 1)
        # Cut-out: one full square of label 0.
        for v in ~valid:
            n = int(v.sum())
            if n:
                r, c = np.nonzero(v)
                side = r.max() - r.min() + 1
                assert side == c.max() - c.min() + 1 and side * side == n
                out["cut_side"].append(side)
            else:
                out["cut_side"].append(0)
    assert not bad_labels, f"labels not of the input's codes (interpolated?): {bad_labels}"
    return {k: np.array(v) for k, v in out.items()}


def test_zoom_applied_with_p_half_over_25_to_90_percent(draws) -> None:
    zoom_px = draws["zoom_px"]
    zoomed = zoom_px < SIZE
    assert abs(zoomed.mean() - 0.5) < 0.04
    frac = zoom_px[zoomed] / SIZE
    # Crop side round(64 f), f in [0.25, 0.90] -> 16..58 px; the ends are reached.
    assert frac.min() == 0.25 and frac.max() >= 0.89
    assert frac.max() <= 58 / 64
    assert len(np.unique(zoom_px[zoomed])) >= 40  # 43 possible sides, spread over the range


def test_cutout_applied_with_p_half_and_sides_4_to_31(draws) -> None:
    side = draws["cut_side"]
    cut = side > 0
    assert abs(cut.mean() - 0.5) < 0.04
    assert side[cut].min() == 4 and side[cut].max() == 31
    assert set(side[cut].tolist()) == set(range(4, 32))  # every side, nothing outside


def test_flips_and_rot90_applied_with_p_half(draws) -> None:
    """The dihedral transform (of 8) each sample received.

    A flip of both axes is a 180-degree turn, so the single coins cannot be read off the
    output; their product can. With independent flips of p = 0.5 and a rot90 of p = 0.5 by
    k = 1, 2 or 3 quarter turns, the 4 axis-keeping elements (identity, 180 degrees, flip of
    rows, of columns) have probability 1/6 each and the 4 axis-swapping ones (quarter turns,
    transposes) 1/12 each; half the samples are mirrored, a third have the axes swapped
    (2/3 x p_rot).
    """
    keys = [tuple(int(x) for x in k) for k in draws["key"]]
    counts = {k: keys.count(k) / len(keys) for k in set(keys)}
    assert len(counts) == 8
    for (swapped, _, _), p in counts.items():
        assert abs(p - (1 / 12 if swapped else 1 / 6)) < 0.03, (swapped, p)
    assert abs(draws["reflected"].mean() - 0.5) < 0.04
    p_rot = 1.5 * np.mean([k[0] for k in keys])
    assert abs(p_rot - 0.5) < 0.04


def test_labels_follow_the_image_through_every_transform() -> None:
    """Nearest labels: away from block edges, the label is the source pixel's code."""
    g = torch.Generator().manual_seed(5)
    image, mask = probe_batch(200)
    img, lab = augment_batch(image, mask, g)
    img, lab = img.numpy(), lab.numpy()
    valid = lab != 0
    r, c = img[:, 0], img[:, 1]
    # Nearest may pick a neighbour of the bilinear source position: keep pixels whose
    # 1-pixel neighbourhood lies in one 8 x 8 block.
    safe = ((np.floor(r - 1) // 8 == np.ceil(r + 1) // 8)
            & (np.floor(c - 1) // 8 == np.ceil(c + 1) // 8))
    expected = np.where((np.round(r) // 8 + np.round(c) // 8) % 2 == 0, 1, 5)
    keep = valid & safe
    assert keep.mean() > 0.3
    assert np.array_equal(lab[keep], expected[keep])


# --------------------------------------------------------------------------- photometric

from dfmask_lib.augment import (ANGSTROM, GAIN_RANGE, HAZE_MAX, OFFSET_MAX, SWIRNDSI,
                                photometric)
from dfmask_lib.patches import INPUT_SETS
from dfmask_lib.scene import normalized_difference

B03, B11, NDSI = SWIRNDSI.index("B03"), SWIRNDSI.index("B11"), SWIRNDSI.index("NDSI")


def reflectance_batch(b: int = 4, size: int = 16) -> torch.Tensor:
    """Random 7-channel swirndsi batch with a consistent NDSI channel."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(b, 7, size, size, generator=g) * 0.5 + 0.01
    image[:, NDSI] = torch.from_numpy(normalized_difference(image[:, B03].numpy(),
                                                            image[:, B11].numpy()))
    return image


def test_photometric_channels_are_the_network_input_set() -> None:
    assert SWIRNDSI == tuple(INPUT_SETS["swirndsi"])


def test_gain_and_offset_stay_in_range_per_band() -> None:
    image = torch.full((8, 7, 4, 4), 0.2)
    image[:, :, 2:] = 0.4  # two levels per band: solve out = gain * x + offset
    out = photometric(image, torch.Generator().manual_seed(1), p=1.0, haze=0.0, noise=0.0,
                      blur=None)
    bands = [i for i in range(7) if i != NDSI]
    gain = (out[:, bands, 2, 0] - out[:, bands, 0, 0]) / 0.2
    offset = out[:, bands, 0, 0] - 0.2 * gain
    assert (gain >= GAIN_RANGE[0] - 1e-5).all() and (gain <= GAIN_RANGE[1] + 1e-5).all()
    assert (offset.abs() <= OFFSET_MAX + 1e-5).all()
    assert gain.std() > 0.02  # per band and per sample, not one global factor


def test_ndsi_is_recomputed_with_the_clip_at_0_rule() -> None:
    image = reflectance_batch()
    image[0, B11, 0, 0] = -0.02  # a negative SWIR1 (baseline-04.00 offset) counts as 0
    out = photometric(image, torch.Generator().manual_seed(2), p=1.0)
    expected = normalized_difference(out[:, B03].numpy(), out[:, B11].numpy())
    np.testing.assert_allclose(out[:, NDSI].numpy(), expected, atol=1e-6)
    assert not torch.allclose(out[:, NDSI], image[:, NDSI])


def test_haze_is_smooth_and_strongest_in_blue() -> None:
    image = torch.full((1, 7, 32, 32), 0.1)
    out = photometric(image, torch.Generator().manual_seed(0), p=1.0, gain=(1.0, 1.0),
                      offset=0.0, noise=0.0, blur=None)
    added = (out - image)[0]
    b02, b12 = SWIRNDSI.index("B02"), SWIRNDSI.index("B12")
    assert 0 <= float(added[b02].min()) and float(added[b02].max()) <= HAZE_MAX + 1e-6
    assert float(added[b02].max()) > 0
    np.testing.assert_allclose(added[b12].numpy(), added[b02].numpy() * (2185.7 / 492.1)
                               ** -ANGSTROM, atol=1e-6)
    assert float(added[b02].diff(dim=-1).abs().max()) < 0.01  # a smooth field, no speckle


def test_photometric_is_seeded_keeps_zeros_and_respects_p() -> None:
    image = reflectance_batch()
    image[0, :, :4, :4] = 0  # padding / cut-out / no data
    before = image.clone()
    a = photometric(image, torch.Generator().manual_seed(7))
    b = photometric(image, torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.shape == image.shape and a.dtype == image.dtype
    assert not torch.equal(a, photometric(image, torch.Generator().manual_seed(8)))
    assert (a[0, :, :4, :4] == 0).all()
    assert torch.equal(photometric(image, torch.Generator(), p=0.0), image)
    assert torch.equal(image, before)  # the input is not modified
    # p = 0.5 per transform: about 1/16 of the samples get none of the four.
    many = reflectance_batch(b=400, size=4)
    out = photometric(many, torch.Generator().manual_seed(0), p=0.5)
    untouched = (out == many).flatten(1).all(dim=1).float().mean()
    assert float(untouched) == pytest.approx(1 / 16, abs=0.03)


def test_photometric_refuses_wrong_channels() -> None:
    with pytest.raises(BandError, match="channels"):
        photometric(torch.zeros(1, 6, 4, 4), torch.Generator())
    with pytest.raises(BandError, match="NDSI needs"):
        photometric(torch.zeros(1, 2, 4, 4), torch.Generator(), channels=("B02", "NDSI"))
