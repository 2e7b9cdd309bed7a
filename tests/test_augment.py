"""Tests of dfmask_lib.augment: labels stay class codes, image and labels stay aligned."""

from __future__ import annotations

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
