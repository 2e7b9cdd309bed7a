"""On-the-fly augmentation of training batches (self-training stages 1-3).

Each transform is applied per sample with probability 0.5 (Nambiar et al. 2022, Remote Sens.
14:1825): horizontal flip, vertical flip, rot90 (k = 1-3), central zoom-in, cut-out.

* Zoom-in: a central crop whose side is a fraction of the patch side drawn uniformly from
  [0.25, 0.90] (:data:`ZOOM_RANGE`), resized back to the patch size — bilinear for the image,
  **nearest for the labels** (the authors' code interpolated labels bilinearly and produced
  invalid class values; nearest keeps every label an existing class code).
* Cut-out: one square of side 4-31 px (:data:`CUTOUT_RANGE`) at a random position; image set to
  0 and labels set to 0 (unlabelled, ignored by the loss).

All random draws come from the ``generator`` argument, so a seeded generator makes the
augmentation reproducible (and an interrupted training run resumable bit for bit).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import BandError

__all__ = ["P_AUGMENT", "ZOOM_RANGE", "CUTOUT_RANGE", "augment_batch"]

#: Probability of each transform (Nambiar et al. 2022).
P_AUGMENT = 0.5
#: Side of the central zoom crop as a fraction of the patch side.
ZOOM_RANGE = (0.25, 0.90)
#: Side of the cut-out square in pixels (inclusive).
CUTOUT_RANGE = (4, 31)


def _coin(generator: torch.Generator) -> bool:
    return bool(torch.rand((), generator=generator) < P_AUGMENT)


def _zoom(image: torch.Tensor, mask: torch.Tensor, frac: float) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = mask.shape
    ch, cw = max(1, round(h * frac)), max(1, round(w * frac))
    r, c = (h - ch) // 2, (w - cw) // 2
    img = image[None, :, r:r + ch, c:c + cw]
    lab = mask[None, None, r:r + ch, c:c + cw].float()
    img = F.interpolate(img, size=(h, w), mode="bilinear", align_corners=False)[0]
    lab = F.interpolate(lab, size=(h, w), mode="nearest")[0, 0]
    return img.to(image.dtype), lab.to(mask.dtype)


def augment_batch(
    image: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch; returns new tensors (the inputs are not modified).

    Args:
        image: float (B, C, H, W). mask: integer (B, H, W) class codes, same B, H, W.
        generator: CPU torch generator that draws every random choice.

    Returns:
        (image, mask) of the same shapes and dtypes; mask values are a subset of the input's
        values plus 0 (cut-out).
    """
    if image.ndim != 4 or mask.shape != (image.shape[0], *image.shape[2:]):
        raise BandError(
            f"augment_batch needs image (B, C, H, W) and mask (B, H, W), got "
            f"{tuple(image.shape)} and {tuple(mask.shape)}"
        )
    images, masks = [], []
    for img, lab in zip(image, mask):
        if _coin(generator):
            img, lab = img.flip(-1), lab.flip(-1)
        if _coin(generator):
            img, lab = img.flip(-2), lab.flip(-2)
        if _coin(generator):
            k = int(torch.randint(1, 4, (), generator=generator))
            if lab.shape[0] != lab.shape[1]:
                k = 2  # a quarter turn would change the shape of a non-square patch
            img, lab = torch.rot90(img, k, (-2, -1)), torch.rot90(lab, k, (-2, -1))
        if _coin(generator):
            lo, hi = ZOOM_RANGE
            frac = lo + (hi - lo) * float(torch.rand((), generator=generator))
            img, lab = _zoom(img, lab, frac)
        if _coin(generator):
            h, w = lab.shape
            side = int(torch.randint(CUTOUT_RANGE[0], CUTOUT_RANGE[1] + 1, (), generator=generator))
            r = int(torch.randint(0, max(1, h - side + 1), (), generator=generator))
            c = int(torch.randint(0, max(1, w - side + 1), (), generator=generator))
            img, lab = img.clone(), lab.clone()
            img[:, r:r + side, c:c + side] = 0
            lab[r:r + side, c:c + side] = 0
        images.append(img)
        masks.append(lab)
    return torch.stack(images).contiguous(), torch.stack(masks).contiguous()
