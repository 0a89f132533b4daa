"""Shared pytest set-up: hypothesis profiles and the gates for slow and GPU tests.

Profiles: ``fast`` (default, for CI on 2 cores) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough``).
Slow tests run with ``--runslow``; GPU tests run only where CUDA is present. Every test runs with one
intra-op torch thread: the suite's networks are tiny, and on 2 cores a second thread only adds contention
(measured 10–60x slower for small kernels, see dag_nets/threads.py).
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

from dag_nets.threads import single_threaded

settings.register_profile(
    "fast", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow: pass --runslow to run")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    has_cuda = torch.cuda.is_available()
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with single_threaded():
        yield
