"""Predicting many products: in this process, in a local worker pool, or on a dask cluster.

One *job* is one product (:class:`ProductJob`: checkpoint, product, output, settings), run by
:func:`run_job`, which is :func:`dfmask_lib.predict.predict_product`: an output that is up to
date is skipped, a stale one recomputed, and every file appears atomically. So a batch that
was interrupted is finished by running it again, wherever it runs.

* ``workers=1`` (default): one product after another in this process.
* ``workers=N``: a pool of N processes (spawned, each with ``CPUs / N`` torch threads). While
  one worker predicts, another reads and decodes its next product: reading the JPEG 2000
  bands is a good share of the time of a tile.
* ``scheduler="tcp://host:8786"`` (or the path of a dask scheduler file): one dask.distributed
  task per product; the workers read the products and write the outputs themselves, so every
  path must be visible to them under the same name (a shared file system). dask is optional
  (``pip install "dfmask[scale]"``).

Results come back as they finish (not in input order) as :class:`JobOutcome`: the
:class:`~dfmask_lib.predict.PredictResult` or the error of that one product. A bad product
never stops the others.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .errors import ConfigError, MissingDataError
from .predict import PredictConfig, PredictResult, predict_product

__all__ = ["ProductJob", "JobOutcome", "run_job", "run_jobs", "make_jobs", "dask_client"]


@dataclass(frozen=True)
class ProductJob:
    """One product to predict (picklable: it travels to pool and dask workers)."""

    checkpoint: Path
    product: Path
    out: Path
    config: PredictConfig
    reader_options: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = False


@dataclass(frozen=True)
class JobOutcome:
    """What became of one job: ``result`` when it succeeded, else ``error``."""

    job: ProductJob
    result: PredictResult | None = None
    error: BaseException | None = None


def make_jobs(checkpoint: str | os.PathLike, products: Sequence[str | os.PathLike],
              out_dir: str | os.PathLike | None, config: PredictConfig,
              reader_options: Mapping[str, Any] | None = None,
              overwrite: bool = False) -> list[ProductJob]:
    """One job per product (a product named twice once), each writing to its default output
    in ``out_dir``.

    Raises:
        ConfigError: two products would write the same output file.
    """
    from .predict import default_output

    jobs: list[ProductJob] = []
    seen: dict[Path, Path] = {}
    for p in dict.fromkeys(Path(p) for p in products):  # a product named twice runs once
        job = ProductJob(Path(checkpoint), p, default_output(p, out_dir), config,
                         dict(reader_options or {}), overwrite)
        other = seen.setdefault(job.out.resolve(), job.product)
        if other != job.product:
            raise ConfigError(f"{other} and {job.product} would both write {job.out}; give "
                              "them separate output folders")
        jobs.append(job)
    return jobs


def run_job(job: ProductJob) -> PredictResult:
    """Predict one product (what each worker runs)."""
    return predict_product(job.checkpoint, job.product, job.out,
                           reader_options=dict(job.reader_options), config=job.config,
                           overwrite=job.overwrite, progress=False)


def _pool_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_jobs(jobs: Sequence[ProductJob], *, workers: int = 1,
             scheduler: str | None = None) -> Iterator[JobOutcome]:
    """Run ``jobs``; yield each :class:`JobOutcome` as it finishes.

    Args:
        jobs: from :func:`make_jobs`.
        workers: local processes (1 = this process); ignored with ``scheduler``.
        scheduler: a dask.distributed scheduler address or scheduler-file path.

    Raises:
        ConfigError: ``workers`` < 1, or both a pool and a scheduler. MissingDataError: dask
            is not installed, or its scheduler cannot be reached.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
    if scheduler is not None and workers > 1:
        raise ConfigError("give either a local pool (workers > 1) or a dask scheduler, not both")
    if scheduler is not None:
        yield from _run_dask(jobs, scheduler)
    elif workers == 1 or len(jobs) <= 1:
        for job in jobs:
            try:
                yield JobOutcome(job, run_job(job))
            except Exception as exc:  # noqa: BLE001 - reported per product by the caller
                yield JobOutcome(job, error=exc)
    else:
        threads = max(1, (os.cpu_count() or 1) // workers)
        ctx = multiprocessing.get_context("spawn")  # torch's threads do not survive a fork
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx,
                                 initializer=_pool_init, initargs=(threads,)) as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for fut in as_completed(futures):
                exc = fut.exception()
                yield JobOutcome(futures[fut], None if exc else fut.result(), exc)


def dask_client(scheduler: str, timeout: str = "20s") -> Any:
    """A dask.distributed ``Client`` of ``scheduler`` (an address, or a scheduler file).

    Raises:
        MissingDataError: dask.distributed is not installed, or nothing answers there.
    """
    try:
        from distributed import Client
    except ImportError:
        raise MissingDataError('--dask needs dask.distributed: pip install "dfmask[scale]" '
                               '(or dask distributed)') from None
    kwargs = {"scheduler_file": scheduler} if Path(scheduler).is_file() else {"address": scheduler}
    try:
        return Client(timeout=timeout, **kwargs)
    except (OSError, TimeoutError) as exc:
        raise MissingDataError(f"no dask scheduler answers at {scheduler} ({exc}); start one "
                               "(dask scheduler, or dask-jobqueue's SLURMCluster) and give its "
                               "address") from None


def _run_dask(jobs: Sequence[ProductJob], scheduler: str) -> Iterator[JobOutcome]:
    from distributed import as_completed as dask_completed

    client = dask_client(scheduler)
    try:
        # pure=False: the task must run (it checks freshness itself); a key of its own per
        # submission, readable on the dashboard, never a result kept from an earlier run
        futures = {client.submit(run_job, job, pure=False,
                                 key=f"dfmask-predict-{job.out.stem}-{uuid.uuid4().hex[:8]}"): job
                   for job in jobs}
        for fut in dask_completed(list(futures)):
            job = futures[fut]
            try:
                yield JobOutcome(job, fut.result())
            except Exception as exc:  # noqa: BLE001 - the worker's error, re-raised here
                yield JobOutcome(job, error=exc)
    finally:
        client.close()
