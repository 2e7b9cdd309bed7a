"""Training and inference throughput of the four stage U-Nets (7 input channels, 256 px patches).

For each stage and each variant (fp32, fp32 + channels_last, bf16 autocast, bf16 autocast +
channels_last) it times a full training step (forward, weighted cross-entropy, backward, Adam) on
a batch of random patches, and inference (forward only, eval mode). It prints one table with
patches/s and Mpx/s and the ratio against the fp32 baseline measured in the same run, on CPU
and on CUDA when available (it says so when not). The result is also written as a record
(:func:`dfmask_lib.performance.write_benchmark_record`) to ``benchmarks/records/train_step.json``
(``--record PATH`` elsewhere, ``--no-record`` not at all), which the book's performance chapter
renders. With the defaults about 5 minutes on 2 CPU cores.

Usage: ``python benchmarks/train_step.py [--stages 0 1 2 3] [--steps 3] [--batch 8]``.
Keep ``--steps`` small on a shared CPU: stage 3 takes several seconds per step.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from dfmask_lib.device import autocast
from dfmask_lib.paths import PROJECT_ROOT
from dfmask_lib.performance import RECORD_DIR, machine_info, write_benchmark_record
from dfmask_lib.unet import UNet, count_parameters, stage_config

VARIANTS = {  # name -> (bf16 autocast, channels_last)
    "fp32": (False, False),
    "fp32+CL": (False, True),
    "bf16": (True, False),
    "bf16+CL": (True, True),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Case:
    """One stage and variant: a model, a batch and its training / inference steps."""

    def __init__(self, stage: int, variant: str, device: torch.device, batch: int,
                 size: int) -> None:
        amp, channels_last = VARIANTS[variant]
        torch.manual_seed(0)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.model = UNet(stage_config(stage, in_channels=7)).to(device).to(memory_format=fmt)
        self.x = torch.rand(batch, 7, size, size, device=device).contiguous(memory_format=fmt)
        self.y = torch.randint(0, 6, (batch, size, size), device=device)
        self.infer_x = self.x[: max(1, batch // 2)]
        self.loss_fn = nn.CrossEntropyLoss(
            weight=torch.tensor([0, 1, 1, 2, 1, 2.0], device=device), ignore_index=0)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, weight_decay=1e-5)
        self.device, self.amp = device, amp
        self.train_times: list[float] = []
        self.infer_times: list[float] = []

    def _timed(self, fn, out: list[float]) -> None:
        _sync(self.device)
        t0 = time.perf_counter()
        fn()
        _sync(self.device)
        out.append(time.perf_counter() - t0)

    def train_step(self) -> None:
        self.model.train()
        with autocast(self.device, self.amp):
            loss = self.loss_fn(self.model(self.x).float(), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def infer(self) -> None:
        self.model.eval()
        with torch.no_grad(), autocast(self.device, self.amp):
            self.model(self.infer_x)

    def run_once(self) -> None:
        self._timed(self.train_step, self.train_times)
        self._timed(self.infer, self.infer_times)

    def result(self) -> dict[str, float]:
        """Median figures over the timed rounds (the first, warm-up round is dropped)."""
        t_train = statistics.median(self.train_times[1:])
        t_infer = statistics.median(self.infer_times[1:])
        return {
            "train_s_per_step": t_train,
            "train_patches_per_s": len(self.x) / t_train,
            "infer_mpx_per_s": self.infer_x.numel() / self.infer_x.shape[1] / t_infer / 1e6,
            "params": count_parameters(self.model),
        }


def bench_stage(stage: int, variants: list[str], device: torch.device, batch: int, size: int,
                steps: int) -> dict[str, dict[str, float]]:
    """Interleaved timing of every variant of one stage (round-robin, so that load spikes of a
    shared machine hit all variants alike); one warm-up round plus ``steps`` timed rounds."""
    cases = {v: Case(stage, v, device, batch, size) for v in variants}
    for _ in range(steps + 1):
        for case in cases.values():
            case.run_once()
    return {v: case.result() for v, case in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=3, help="timed rounds after one warm-up round")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--record", type=Path,
                        default=PROJECT_ROOT / RECORD_DIR / "train_step.json",
                        help="where the JSON record goes (default: %(default)s)")
    parser.add_argument("--no-record", action="store_true", help="write no record")
    args = parser.parse_args()
    start = time.perf_counter()

    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
        print(f"CUDA: {torch.cuda.get_device_name(0)}")
    else:
        print("CUDA: not available on this machine; CPU only")
    print(f"CPU: {machine_info()['cpu_model'] or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"batch {args.batch} x 7 x {args.size} x {args.size}, median of {args.steps} "
          f"interleaved rounds; ratios vs {args.variants[0]}")

    rows = []
    for device in devices:
        for stage in args.stages:
            results = bench_stage(stage, args.variants, device, args.batch, args.size, args.steps)
            base = results[args.variants[0]]
            for variant, r in results.items():
                row = {"device": device.type, "stage": stage, "variant": variant, **r,
                       "train_ratio": r["train_patches_per_s"] / base["train_patches_per_s"],
                       "infer_ratio": r["infer_mpx_per_s"] / base["infer_mpx_per_s"]}
                rows.append(row)
                print(f"{device.type:4} stage {stage} {variant:8} "
                      f"train {row['train_s_per_step']:6.2f} s/step "
                      f"{row['train_patches_per_s']:6.2f} patches/s (x{row['train_ratio']:.2f})  "
                      f"infer {row['infer_mpx_per_s']:6.2f} Mpx/s (x{row['infer_ratio']:.2f})",
                      flush=True)
    if not args.no_record:
        results = {"batch": args.batch, "size": args.size, "steps": args.steps,
                   "baseline": args.variants[0], "rows": rows}
        path = write_benchmark_record(
            args.record, "train_step", results=results, seconds=time.perf_counter() - start,
            args={k: getattr(args, k) for k in ("stages", "variants", "steps", "batch", "size")})
        print(f"record written: {path}")


if __name__ == "__main__":
    main()
