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

Photometric augmentation (:func:`photometric`, opt-in through ``TrainConfig.photometric``; not
in the paper, but data augmentation as its method allows): per sample, each with probability
:data:`P_PHOTOMETRIC`, in the order the signal meets them,

* haze: a smooth field (0 to :data:`HAZE_MAX` at B02) added with the spectral slope of aerosol
  path radiance, ``(lambda / 492 nm) ** -ANGSTROM`` (Angstrom 1929, Geogr. Ann. 11:156; an
  exponent ~1.3 is typical of continental aerosol), so mostly to the blue bands;
* blur: a Gaussian of sigma :data:`BLUR_SIGMA` px (a softer point-spread function / coarser
  resolution, e.g. a 10 m band averaged to 20 m differently);
* gain and offset per band (:data:`GAIN_RANGE`, :data:`OFFSET_MAX`): calibration differences
  between sensors and processing baselines (S2 L1C absolute radiometric uncertainty is ~3-5 %,
  Gascon et al. 2017 Remote Sens. 9:584) and imperfect atmospheric/illumination models in the
  synthetic scenes;
* Gaussian noise of std up to :data:`NOISE_MAX` (sensor noise of darker scenes).

NDSI is then recomputed from the augmented B03 and B11 with the project's clip-at-0 rule
(:func:`dfmask_lib.scene.normalized_difference`). Pixels whose channels are all 0 (padding,
no data, cut-out) stay 0; labels are never touched.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .errors import BandError

__all__ = ["P_AUGMENT", "ZOOM_RANGE", "CUTOUT_RANGE", "augment_batch", "photometric",
           "P_PHOTOMETRIC", "GAIN_RANGE", "OFFSET_MAX", "HAZE_MAX", "ANGSTROM", "NOISE_MAX",
           "BLUR_SIGMA", "SWIRNDSI"]

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


# --------------------------------------------------------------------------- photometric

#: Probability of each photometric transform.
P_PHOTOMETRIC = 0.5
#: Per-band multiplicative gain range.
GAIN_RANGE = (0.9, 1.1)
#: Per-band additive offset drawn from [-OFFSET_MAX, OFFSET_MAX] (reflectance).
OFFSET_MAX = 0.01
#: Largest haze reflectance added at B02 (a thin haze; TOA B02 of clear land is ~0.08-0.12).
HAZE_MAX = 0.04
#: Angstrom exponent of the haze's spectral slope.
ANGSTROM = 1.3
#: Largest std of the added Gaussian noise (reflectance).
NOISE_MAX = 0.005
#: Range of the Gaussian blur sigma (px).
BLUR_SIGMA = (0.5, 1.0)
#: The network's default channels (``patches.INPUT_SETS["swirndsi"]``).
SWIRNDSI = ("B02", "B03", "B04", "B08", "B11", "B12", "NDSI")
#: Central wavelengths (nm) of the bands the haze reaches (ESA S2 MSI spectral responses).
_WAVELENGTH_NM = {"B01": 442.3, "B02": 492.1, "B03": 559.0, "B04": 665.0, "B05": 703.8,
                  "B06": 739.1, "B07": 779.7, "B08": 833.0, "B8A": 864.0, "B09": 943.2,
                  "B10": 1376.9, "B11": 1610.4, "B12": 2185.7}


def _uniform(generator: torch.Generator, lo: float, hi: float, shape=()) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=generator)


def _smooth_field(generator: torch.Generator, h: int, w: int) -> torch.Tensor:
    """(H, W) field in [0, 1]: bilinear upsampling of a random 4 x 4 grid (haze is smooth)."""
    grid = torch.rand((1, 1, 4, 4), generator=generator)
    field = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=True)[0, 0]
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo) if hi > lo else torch.ones_like(field)


def _blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=img.dtype, device=img.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c = img.shape[0]
    out = F.pad(img[None], (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return out[0]


def _ndsi(green: torch.Tensor, swir1: torch.Tensor) -> torch.Tensor:
    """NDSI with the clip-at-0 rule of :func:`dfmask_lib.scene.normalized_difference`."""
    a, b = green.clamp(min=0), swir1.clamp(min=0)
    total = a + b
    return torch.where(total > 0, (a - b) / torch.where(total > 0, total, 1), 0).to(green.dtype)


def photometric(image: torch.Tensor, generator: torch.Generator,
                channels: Sequence[str] = SWIRNDSI, p: float = P_PHOTOMETRIC, *,
                gain: tuple[float, float] = GAIN_RANGE, offset: float = OFFSET_MAX,
                haze: float = HAZE_MAX, noise: float = NOISE_MAX,
                blur: tuple[float, float] | None = BLUR_SIGMA) -> torch.Tensor:
    """Photometric augmentation of a batch (see the module docstring); returns a new tensor.

    Args:
        image: float (B, C, H, W) TOA reflectance channels named by ``channels``.
        generator: CPU torch generator that draws every random choice.
        channels: name of each channel: S2 band names and optionally "NDSI", which is
            recomputed from "B03" and "B11" (both must then be present).
        p: probability of each transform per sample (0 returns an equal copy).
        gain, offset, haze, noise, blur: the ranges (defaults: the module constants); a zero
            ``offset``/``haze``/``noise``, ``gain=(1, 1)`` or ``blur=None`` disables one.

    Returns:
        float (B, C, H, W), same dtype and device; all-zero pixels stay 0.

    Raises:
        BandError: wrong shape, channel names that do not match C, or NDSI without B03/B11.
    """
    channels = tuple(channels)
    if image.ndim != 4 or image.shape[1] != len(channels):
        raise BandError(f"photometric needs image (B, C, H, W) with C = {len(channels)} "
                        f"channels {channels}, got {tuple(image.shape)}")
    unknown = [c for c in channels if c != "NDSI" and c not in _WAVELENGTH_NM]
    if unknown or ("NDSI" in channels and not {"B03", "B11"} <= set(channels)):
        raise BandError(f"photometric channels must be S2 band names (NDSI needs B03 and B11), "
                        f"got {channels}")
    bands = [i for i, c in enumerate(channels) if c != "NDSI"]
    slope = torch.tensor([(_WAVELENGTH_NM[channels[i]] / _WAVELENGTH_NM["B02"]) ** -ANGSTROM
                          for i in bands], dtype=image.dtype, device=image.device)
    out = []
    for img in image:
        empty = (img == 0).all(dim=0)
        x = img[bands].clone()
        nb, h, w = x.shape
        if float(torch.rand((), generator=generator)) < p and haze > 0:
            amount = _uniform(generator, 0.0, haze) * _smooth_field(generator, h, w)
            x += slope[:, None, None] * amount.to(x)[None]
        if float(torch.rand((), generator=generator)) < p and blur is not None:
            x = _blur(x, float(_uniform(generator, *blur)))
        if float(torch.rand((), generator=generator)) < p:
            g = _uniform(generator, *gain, (nb,)).to(x)
            o = _uniform(generator, -offset, offset, (nb,)).to(x)
            x = x * g[:, None, None] + o[:, None, None]
        if float(torch.rand((), generator=generator)) < p and noise > 0:
            std = float(_uniform(generator, 0.0, noise))
            x = x + std * torch.randn((nb, h, w), generator=generator).to(x)
        res = img.clone()
        res[bands] = x
        if "NDSI" in channels:
            res[channels.index("NDSI")] = _ndsi(res[channels.index("B03")],
                                                res[channels.index("B11")])
        res[:, empty] = 0
        out.append(res)
    return torch.stack(out).contiguous()
