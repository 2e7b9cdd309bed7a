"""Pick the compute device and its mixed-precision mode (CPU runs everywhere, CUDA when present).

* CPU: bf16 autocast, no gradient scaler needed; whether it is faster depends on the CPU
  (AVX-512 BF16 / AMX): ``benchmarks/train_step.py`` measures it and its record is shown in the
  book's chapter ``07_performance``.
* CUDA: bf16 autocast where the GPU supports it, else fp16 with a gradient scaler.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

from .errors import ConfigError

__all__ = ["resolve_device", "amp_dtype", "autocast", "needs_grad_scaler"]


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available else CPU; otherwise the named device, checked to exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use 'cpu' or 'auto'")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device type {device.type!r} is not supported; use 'cpu' or 'cuda'")
    return device


def amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype for ``device``: bf16 on CPU and on bf16-capable GPUs, else fp16."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def needs_grad_scaler(device: torch.device, amp: bool) -> bool:
    """True when training in fp16 (gradients may underflow without loss scaling)."""
    return amp and amp_dtype(device) == torch.float16


def autocast(device: torch.device, amp: bool) -> ContextManager:
    """An autocast context for ``device`` when ``amp``, else a no-op context."""
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp_dtype(device))
