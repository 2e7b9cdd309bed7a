"""Shared test set-up: no network, no stray caches, a non-interactive plotting backend.

Real data. Tests that read the bundled real products (the shared data mirror, see
``dfmask_lib.paths.default_mirror`` and ``DFMASK_DATA_MIRROR``) get them through
:func:`fetch_real`, :func:`fetch_real_dir` or :func:`real_mirror` (or the ``real_data``
fixture). Without the data they skip with a reason starting with :data:`REAL_DATA_UNAVAILABLE`;
in CI (``CI=true``) the hook below turns every such skip into a failure, so that a green CI run
has really read the real products.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

# Set before any test module imports rasterio/matplotlib/pooch.
os.environ.setdefault("GDAL_PAM_ENABLED", "NO")  # never write .aux.xml beside shared data
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["DFMASK_OFFLINE"] = "1"  # the data registry must never download in tests

pytest_plugins = ["pytester"]  # tests of the real-data guard run pytest inside pytest

#: How every skip for missing real data starts (what the CI hook looks for).
REAL_DATA_UNAVAILABLE = "real data unavailable"


def in_ci() -> bool:
    """True when the environment says CI (``CI=true``, as GitHub Actions and ``.ci/run`` set)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def skip_without_real_data(detail: str) -> NoReturn:
    """Skip a test for missing real data (a failure under ``CI=true``, see the hook below)."""
    pytest.skip(f"{REAL_DATA_UNAVAILABLE}: {detail}")


def fetch_real(name: str) -> Path:
    """``registry.fetch(name)``, or a real-data skip when it is not available."""
    from dfmask_lib import registry
    from dfmask_lib.errors import MissingDataError

    try:
        return registry.fetch(name)
    except MissingDataError as exc:  # no mirror and offline: a checkout without the data
        skip_without_real_data(str(exc))


def fetch_real_dir(prefix: str) -> Path:
    """``registry.fetch_dir(prefix)``, or a real-data skip when it is not available."""
    from dfmask_lib import registry
    from dfmask_lib.errors import MissingDataError

    try:
        return registry.fetch_dir(prefix, progress=False)
    except MissingDataError as exc:
        skip_without_real_data(str(exc))


def real_mirror() -> Path:
    """The local data mirror folder, or a real-data skip when there is none."""
    from dfmask_lib.paths import default_mirror

    mirror = default_mirror()
    if mirror is None or not mirror.is_dir():
        skip_without_real_data(f"no shared data mirror ({mirror or '../shared/data'}); "
                               "set DFMASK_DATA_MIRROR")
    return mirror


class RealData:
    """The helpers above as a fixture, for tests in any folder."""

    fetch = staticmethod(fetch_real)
    fetch_dir = staticmethod(fetch_real_dir)
    mirror = staticmethod(real_mirror)
    unavailable = staticmethod(skip_without_real_data)


@pytest.fixture
def real_data() -> RealData:
    return RealData()


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: ...")
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under ``CI=true``, a skip for missing real data is a failure (in any phase)."""
    report = yield
    if (report.skipped and not hasattr(report, "wasxfail") and in_ci()
            and REAL_DATA_UNAVAILABLE in _skip_reason(report)):
        report.outcome = "failed"
        report.longrepr = (
            f"{_skip_reason(report)}\nCI=true: real-data tests must run in CI, not skip; "
            "provide the shared data mirror (../shared/data or DFMASK_DATA_MIRROR)")
    return report


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module of tiny nets.

    On a shared 2-core machine extra OpenMP threads only spin (100x slower); bit-identity
    is compared within one thread count (subprocesses of such tests use one thread too).
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ----------------------------------------------------------------------------- tiny inputs


def learnable_scenes(n: int, size: int = 32, seed: int = 0, gain: float = 1.0,
                     noise: float = 0.3) -> list:
    """Scenes whose label is readable from the image: channel k is bright where class k+1.

    (source name, float32 (7, size, size) image, uint8 (size, size) label with classes 1-5 in
    8 px blocks and the two top rows unlabelled), seeded.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        blocks = rng.integers(1, 6, (size // 8, size // 8))
        label = np.kron(blocks, np.ones((8, 8), dtype=np.int64)).astype(np.uint8)
        image = rng.normal(0, noise, (7, size, size)).astype(np.float32)
        for c in range(5):
            image[c] += gain * (label == c + 1)
        label[:2, :] = 0  # a few unlabelled pixels
        out.append((f"s{k}", image, label))
    return out


def tiny_products(root: Path, n: int = 3, size: int = 96) -> tuple[Path, Path]:
    """``n`` small synthetic SAFE products in ``root/scenes`` and a tiny stage-0 checkpoint
    (random weights, seeded) at ``root/best.pt``: inputs for prediction over many products."""
    import torch

    from dfmask_lib.config import config_to_dict
    from dfmask_lib.synthetic.safe_writer import ProductInfo, write_safe
    from dfmask_lib.synthetic.scene import SynthConfig, generate
    from dfmask_lib.train import TrainConfig
    from dfmask_lib.unet import UNet, UNetConfig

    for k in range(n):
        info = ProductInfo(f"2{k}EVK", 32721, 399960.0, 3000000.0, f"2020-01-1{k}T13:05:21", 38,
                           15000 + k, "tests: many products")
        write_safe(generate(SynthConfig(size=size, seed=k)), info, root / "scenes")
    torch.manual_seed(0)
    tiny = dict(start_filters=4, depth=3)
    ckpt = root / "best.pt"
    torch.save({"model": UNet(UNetConfig(in_channels=7, **tiny)).state_dict(),
                "config": config_to_dict(TrainConfig(stage=0, num_workers=0, **tiny)),
                "epoch": 1}, ckpt)
    return root / "scenes", ckpt


def class_maps(out: Path) -> dict:
    """``{file name: uint8 class map}`` of every ``*_DFMASK_CLASSES.tif`` in ``out``."""
    import rasterio

    found = {}
    for path in sorted(out.glob("*_DFMASK_CLASSES.tif")):
        with rasterio.open(path) as ds:
            found[path.name] = ds.read(1)
    return found
