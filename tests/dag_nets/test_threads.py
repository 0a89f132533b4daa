"""Thread counts scoped to a block (dag_nets.threads): set inside, restored after, also on an exception."""

from __future__ import annotations

import pytest
import torch

from dag_nets.threads import _loaded_openblas, single_threaded, single_threaded_blas


def test_single_threaded_restores_torch_threads() -> None:
    before = torch.get_num_threads()
    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_single_threaded_blas_sets_and_restores_every_openblas() -> None:
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS beside numpy's)

    libs = _loaded_openblas()
    before = [get() for get, _ in libs]
    with pytest.raises(RuntimeError, match="inside"), single_threaded_blas() as n:
        assert n == len(libs)
        assert [get() for get, _ in libs] == [1] * len(libs)
        raise RuntimeError("inside")
    assert [get() for get, _ in libs] == before
