"""dag_nets tests run single-threaded: their networks are tiny (see dag_nets/threads.py)."""

from __future__ import annotations

import pytest

from dag_nets.threads import single_threaded


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with single_threaded():
        yield
