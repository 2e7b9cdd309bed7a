"""Training on several processes with torchrun (DistributedDataParallel).

``torchrun --nproc-per-node N -m dfmask_lib train ...`` starts N copies of the same command;
torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address, and
:func:`dfmask_lib.train.train` then trains one model on all of them:

* **the same run as one process with the same global batch.** ``batch_size`` stays the
  *global* batch: each global batch is the one a single process would draw (the same seeded
  shuffle), and process ``r`` of ``N`` takes samples ``r, r + N, ...`` of it
  (:class:`ShardedBatchSampler`). BatchNorm statistics are those of the global batch
  (:class:`GlobalBatchNorm2d`, on CPU and GPU), and the weighted cross-entropy is divided by
  the global batch's total weight (:func:`global_weighted_loss`), so the gradient that
  DistributedDataParallel averages is the single-process gradient. What differs is only float
  rounding (sums in another order) and the random draws of dropout and augmentation, which each
  process makes for its own samples: the same distribution, not the same numbers.
* **one checkpoint writer.** Only rank 0 writes checkpoints, logs and ``config.json``; every
  rank validates on the whole validation set with the same weights and so takes the same
  early-stopping decision.
* the backend is NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``) and gloo on CPU.

A global batch smaller than the number of processes (the last one of an epoch, when the
patch count leaves fewer samples than processes) is skipped by every process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn

from .errors import ConfigError

__all__ = ["Distributed", "ShardedBatchSampler", "GlobalBatchNorm2d", "global_batchnorm",
           "global_weighted_loss", "all_sum"]


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    started_here: bool = False  # this process initialised the process group (and ends it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """The one process that writes checkpoints and logs (rank 0)."""
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> "Distributed":
        """Join the torchrun job described by the environment (``WORLD_SIZE`` > 1), if any.

        Raises:
            ConfigError: ``WORLD_SIZE`` / ``RANK`` / ``LOCAL_RANK`` that are not integers.
        """
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError as exc:
            raise ConfigError(f"torchrun's WORLD_SIZE/RANK/LOCAL_RANK must be integers ({exc})"
                              ) from None
        if world <= 1:
            return cls()
        started = False
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            started = True
        global _STATS_GROUP
        # BatchNorm's all-reduces run inside backward, beside DistributedDataParallel's own
        # gradient all-reduces: a group of their own keeps the two streams from interleaving.
        _STATS_GROUP = dist.new_group()
        return cls(rank, world, local, started)

    def device(self, device: torch.device) -> torch.device:
        """The device of this process: ``cuda:LOCAL_RANK`` for CUDA jobs, else ``device``."""
        if self.enabled and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        """End the process group if this process started it."""
        if self.started_here and dist.is_initialized():
            dist.destroy_process_group()


#: The process group of the BatchNorm statistics (see :meth:`Distributed.from_env`).
_STATS_GROUP = None


def all_sum(t: torch.Tensor, group: object = None) -> torch.Tensor:
    """The sum of ``t`` over all processes (``t`` itself without a process group); no grad."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        t = t.clone()
        dist.all_reduce(t, group=group)
    return t


class ShardedBatchSampler(torch.utils.data.Sampler):
    """This rank's share of the global batches a single shuffled DataLoader would draw.

    Draws as ``DataLoader(shuffle=True, generator=g, batch_size=B)`` does: one int64 from
    ``g`` (the loader's worker seed), then ``torch.randperm(n, generator=g)``; global batch
    ``k`` is ``perm[k*B:(k+1)*B]`` and rank ``r`` of ``W`` yields ``batch[r::W]``. A global
    batch with fewer than ``W`` samples is skipped. ``len`` is the number of batches yielded.
    """

    def __init__(self, n: int, global_batch: int, rank: int, world_size: int,
                 generator: torch.Generator) -> None:
        if global_batch % world_size:
            raise ConfigError(f"the batch size {global_batch} is the global batch: it must be "
                              f"a multiple of the {world_size} processes")
        self.n, self.batch, self.rank, self.world = n, global_batch, rank, world_size
        self.generator = generator

    def __len__(self) -> int:
        full, tail = divmod(self.n, self.batch)
        return full + (tail >= self.world)

    def __iter__(self) -> Iterator[list[int]]:
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        perm = torch.randperm(self.n, generator=self.generator).tolist()
        for k in range(0, self.n, self.batch):
            batch = perm[k:k + self.batch]
            if len(batch) >= self.world:
                yield batch[self.rank::self.world]


class _GlobalMoments(torch.autograd.Function):
    """Sum over processes with the gradient summed back (autograd through an all-reduce)."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return all_sum(t, _STATS_GROUP)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return all_sum(grad.contiguous(), _STATS_GROUP)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the global batch (all processes).

    Same parameters and state dict as :class:`torch.nn.BatchNorm2d` (checkpoints are
    interchangeable); without a process group it is exactly BatchNorm2d. Works on CPU (gloo),
    where torch's SyncBatchNorm does not.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        dims = (0, 2, 3)
        xf = x.float()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float32, device=x.device)
        moments = _GlobalMoments.apply(torch.cat([xf.sum(dims), (xf * xf).sum(dims)]))
        n = all_sum(count, _STATS_GROUP)
        mean, sq = moments.chunk(2)
        mean, var = mean / n, sq / n - (mean / n) ** 2
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1).clamp(min=1))
        shape = (1, -1, 1, 1)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return (y * self.weight.view(shape) + self.bias.view(shape)).to(x.dtype)


def global_batchnorm(model: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d of ``model`` (in place) by :class:`GlobalBatchNorm2d`."""
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats).to(child.weight.device)
            new.load_state_dict(child.state_dict())
            setattr(model, name, new)
        else:
            global_batchnorm(child)
    return model


def global_weighted_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                         world_size: int) -> tuple[torch.Tensor, float]:
    """The weighted cross-entropy of the global batch, as this rank's share of it.

    ``CrossEntropyLoss(weight, ignore_index=0)`` averages over the batch's total weight; here
    the sum over this rank's pixels is divided by the total weight of all ranks' pixels and
    multiplied by ``world_size`` (DistributedDataParallel averages the ranks' gradients), so
    the gradient is the single-process one. Returns (loss to backpropagate, the global batch
    loss for the log); the loss is 0 (no gradient) when no pixel of the global batch is
    labelled.
    """
    per_pixel = nn.functional.cross_entropy(logits, target, weight=weight, ignore_index=0,
                                            reduction="sum")
    labelled = target > 0
    local_weight = weight[target[labelled]].sum() if labelled.any() else logits.new_zeros(())
    total = all_sum(torch.stack([local_weight.detach().float(), per_pixel.detach().float()]))
    if total[0] <= 0:
        return per_pixel * 0.0, float("nan")
    return per_pixel * world_size / total[0], float(total[1] / total[0])
