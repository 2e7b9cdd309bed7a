"""Tests of dfmask_lib.unet: stage sizes, output shapes, input checks, initialisation."""

from __future__ import annotations

import pytest
import torch

from dfmask_lib.errors import BandError, ConfigError
from dfmask_lib.unet import STAGES, UNet, UNetConfig, count_parameters, stage_config


@pytest.mark.parametrize(
    "stage, expected",
    [(0, 1_944_710), (1, 7_767_302), (2, 17_502_150), (3, 31_107_846)],
)
def test_stage_parameter_counts_match_the_paper_table(stage: int, expected: int) -> None:
    assert count_parameters(UNet(stage_config(stage, in_channels=7))) == expected


def test_stages_table() -> None:
    assert dict(STAGES) == {0: (16, 5), 1: (32, 5), 2: (24, 6), 3: (32, 6)}
    cfg = stage_config(2, in_channels=13)
    assert (cfg.start_filters, cfg.depth, cfg.in_channels, cfg.n_classes) == (24, 6, 13, 6)
    with pytest.raises(ConfigError, match="stage must be one of"):
        stage_config(4)


@pytest.mark.parametrize("size", [(8, 8), (16, 24), (40, 8)])
def test_any_multiple_of_the_pooling_factor_keeps_its_size(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    net = UNet(UNetConfig(in_channels=3, start_filters=4, depth=4)).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, *size))
    assert out.shape == (2, 6, *size)
    assert out.dtype == torch.float32


def test_wrong_size_or_channels_give_clear_errors() -> None:
    net = UNet(UNetConfig(in_channels=3, start_filters=4, depth=3))
    with pytest.raises(BandError, match="multiples of 4"):
        net(torch.rand(1, 3, 10, 12))
    with pytest.raises(BandError, match=r"\(N, 3, H, W\)"):
        net(torch.rand(1, 7, 8, 8))
    with pytest.raises(BandError):
        net(torch.rand(3, 8, 8))


@pytest.mark.parametrize(
    "kwargs", [{"depth": 0}, {"dropout": 1.0}, {"in_channels": 0}, {"n_classes": 1}]
)
def test_impossible_configs_are_refused(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        UNetConfig(**kwargs)


def test_block_structure_and_xavier_init() -> None:
    torch.manual_seed(0)
    net = UNet(UNetConfig(in_channels=7, start_filters=16, depth=2))
    kinds = [type(m).__name__ for m in net.down[0]]
    assert kinds == ["Conv2d", "ReLU", "BatchNorm2d", "Conv2d", "ReLU", "BatchNorm2d", "Dropout2d"]
    assert net.down[0][6].p == 0.25
    # Xavier normal: std = sqrt(2 / (fan_in + fan_out)), fan = channels * 9 for a 3x3 kernel.
    w = net.down[1][0].weight  # 16 -> 32 channels
    expected = (2.0 / (16 * 9 + 32 * 9)) ** 0.5
    assert abs(w.std().item() - expected) / expected < 0.05
    assert torch.all(net.down[1][0].bias == 0)
