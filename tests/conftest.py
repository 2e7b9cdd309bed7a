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
