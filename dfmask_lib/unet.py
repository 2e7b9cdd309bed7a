"""The U-Net family of Deep F-Mask: one network size per self-training stage.

Architecture (Nambiar et al. 2022, Remote Sens. 14:1825, doi:10.3390/rs14081825, and the
table of stage sizes; reimplemented from the description, not copied):

* block = (conv 3x3 -> ReLU -> BatchNorm) x 2 -> Dropout2d(0.25);
* encoder: ``depth`` levels of blocks with ``start_filters * 2**level`` filters, 2x2 max-pool
  between levels;
* decoder: 2x2 transposed convolution (stride 2) up, concatenate the encoder's skip, block;
* head: 1x1 convolution to ``n_classes`` logits; all convolutions Xavier-normal initialised.

Input contract: float tensor (N, in_channels, H, W) with H and W multiples of
``2 ** (depth - 1)``; output: logits (N, n_classes, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import torch
from torch import nn

from .classes import CLASS_CODES
from .errors import BandError, ConfigError

__all__ = ["UNetConfig", "UNet", "STAGES", "stage_config", "count_parameters"]


@dataclass(frozen=True)
class UNetConfig:
    """Size of one U-Net.

    Attributes:
        in_channels: input channels (7 for the "swirndsi" input set, 13 for "all13").
        n_classes: output logits; 6 = the project classes 0-5 (0 is never a training target
            but keeps logit index == class code).
        start_filters: filters of the first level, doubled at every level down.
        depth: number of encoder levels (depth - 1 poolings).
        dropout: Dropout2d probability at the end of every block (0.25 in the paper's code).
    """

    in_channels: int = 7
    n_classes: int = len(CLASS_CODES)
    start_filters: int = 16
    depth: int = 5
    dropout: float = 0.25

    def __post_init__(self) -> None:
        if self.in_channels < 1 or self.n_classes < 2 or self.start_filters < 1:
            raise ConfigError(
                f"UNetConfig needs in_channels >= 1, n_classes >= 2, start_filters >= 1; got {self}"
            )
        if self.depth < 1:
            raise ConfigError(f"UNetConfig.depth must be >= 1, got {self.depth}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"UNetConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this (2 ** (depth - 1))."""
        return 2 ** (self.depth - 1)


#: Network size per self-training stage: (start filters, depth). Parameter counts for 7 input
#: channels: 1,944,710 / 7,767,302 / 17,502,150 / 31,107,846 (Nambiar et al. 2022, stage table).
STAGES: Mapping[int, tuple[int, int]] = MappingProxyType(
    {0: (16, 5), 1: (32, 5), 2: (24, 6), 3: (32, 6)})


def stage_config(stage: int, in_channels: int = 7) -> UNetConfig:
    """The :class:`UNetConfig` of self-training stage 0-3 for ``in_channels`` inputs."""
    if stage not in STAGES:
        raise ConfigError(f"stage must be one of {sorted(STAGES)}, got {stage}")
    filters, depth = STAGES[stage]
    return UNetConfig(in_channels=in_channels, start_filters=filters, depth=depth)


class _Block(nn.Sequential):
    """(conv3x3 -> ReLU -> BatchNorm) x 2 -> Dropout2d."""

    def __init__(self, c_in: int, c_out: int, dropout: float) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(c_out),
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(c_out),
            nn.Dropout2d(dropout),
        )


class UNet(nn.Module):
    """A U-Net of the Deep F-Mask family (see module docstring); built from a :class:`UNetConfig`."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.start_filters * 2**i for i in range(config.depth)]
        self.down = nn.ModuleList()
        c_in = config.in_channels
        for w in widths:
            self.down.append(_Block(c_in, w, config.dropout))
            c_in = w
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for w_low, w in zip(widths[:0:-1], widths[-2::-1]):
            self.up.append(nn.ConvTranspose2d(w_low, w, 2, stride=2))
            self.up_blocks.append(_Block(2 * w, w, config.dropout))
        self.head = nn.Conv2d(widths[0], config.n_classes, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`BandError` unless ``x`` is (N, in_channels, H, W) with H, W multiples."""
        c, m = self.config.in_channels, self.config.multiple
        if x.ndim != 4 or x.shape[1] != c:
            raise BandError(
                f"U-Net expects a (N, {c}, H, W) tensor, got {tuple(x.shape)}; "
                "check the input set the model was trained with"
            )
        if x.shape[2] % m or x.shape[3] % m:
            raise BandError(
                f"U-Net of depth {self.config.depth} needs H and W multiples of {m}, got "
                f"{tuple(x.shape[2:])}; pad the input (patches are 256 px)"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes, H, W) of a (N, in_channels, H, W) float input."""
        self.check_input(x)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = self.pool(x)
            x = block(x)
            skips.append(x)
        for up, block, skip in zip(self.up, self.up_blocks, reversed(skips[:-1])):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
