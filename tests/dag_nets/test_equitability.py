"""Tests of dag_nets.equitability: RE/CE/BC residuals on hand-made and random blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dag_nets.equitability import (
    block_constant_residual,
    equitability_residuals,
    is_equitable,
    validate_blocks,
)

TOL = 1e-12


def _equitable_block(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """An m×n block with all row sums equal and all column sums equal: c + (zero-row/col-sum part)."""
    z = rng.normal(size=(m, n))
    z = z - z.mean(axis=0, keepdims=True) - z.mean(axis=1, keepdims=True) + z.mean()
    return rng.normal() + z


def test_block_constant_has_zero_residuals() -> None:
    w = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0], [3.0, 3.0, 4.0]])
    rows, cols = [[0, 1], [2]], [[0, 1], [2]]
    assert equitability_residuals(w, rows, cols) == (0.0, 0.0)
    assert block_constant_residual(w, rows, cols) == 0.0
    assert is_equitable(w, rows, cols)


def test_equitable_not_block_constant() -> None:
    rng = np.random.default_rng(0)
    w = np.zeros((5, 7))
    rows, cols = [[0, 2, 4], [1, 3]], [[0, 1, 2, 3], [4, 5, 6]]
    for r in rows:
        for c in cols:
            w[np.ix_(r, c)] = _equitable_block(rng, len(r), len(c))
    re_res, ce_res = equitability_residuals(w, rows, cols)
    assert re_res < TOL and ce_res < TOL
    assert block_constant_residual(w, rows, cols) > 0.1


def test_row_equitable_only_counterexample() -> None:
    # input x -> block {a, b} with w(x,a)=1, w(x,b)=2: the single row sums trivially agree (RE),
    # the column sums 1 and 2 differ (not CE).
    w = np.array([[1.0, 2.0]])
    re_res, ce_res = equitability_residuals(w, [[0]], [[0, 1]])
    assert re_res == 0.0
    assert ce_res == pytest.approx(1.0)
    assert not is_equitable(w, [[0]], [[0, 1]])


def test_residual_values_hand_computed() -> None:
    w = np.array([[1.0, 0.0], [0.0, 3.0]])
    re_res, ce_res = equitability_residuals(w, [[0, 1]], [[0, 1]])
    assert re_res == pytest.approx(2.0)  # row sums 1, 3
    assert ce_res == pytest.approx(2.0)  # column sums 1, 3
    assert block_constant_residual(w, [[0, 1]], [[0, 1]]) == pytest.approx(3.0)


def test_torch_and_list_inputs_match_numpy() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 3))
    rows, cols = [[0, 1], [2, 3]], [[0], [1, 2]]
    ref = equitability_residuals(w, rows, cols)
    assert equitability_residuals(torch.tensor(w, requires_grad=True), rows, cols) == pytest.approx(ref)
    assert equitability_residuals(w.tolist(), rows, cols) == pytest.approx(ref)


def test_linear_weight_transpose_convention() -> None:
    lin = torch.nn.Linear(2, 4, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 5.0], [1.0, 5.0], [2.0, 0.0], [2.0, 0.0]]))
    # Linear.weight is [out, in]: rows = outputs. Transposed, source units are rows.
    assert is_equitable(lin.weight.T, [[0], [1]], [[0, 1], [2, 3]])


@pytest.mark.parametrize(
    "rows, cols, exc, match",
    [
        ([[0, 1], [1]], [[0, 1]], ValueError, "disjoint"),
        ([[0]], [[0, 1]], ValueError, "cover"),
        ([[0, 1, 2]], [[0, 1]], ValueError, "outside"),
        ([[0, 1], []], [[0, 1]], ValueError, "empty"),
        ([[0, 1.5]], [[0, 1]], TypeError, "integers"),
        ("01", [[0, 1]], TypeError, "sequence"),
    ],
)
def test_invalid_partitions(rows, cols, exc, match) -> None:
    with pytest.raises(exc, match=match):
        equitability_residuals(np.ones((2, 2)), rows, cols)


def test_invalid_weight() -> None:
    with pytest.raises(ValueError, match="2-D"):
        equitability_residuals(np.ones(3), [[0, 1, 2]], [[0]])
    with pytest.raises(ValueError, match="NaN"):
        equitability_residuals(np.array([[np.nan]]), [[0]], [[0]])
    with pytest.raises(ValueError, match="tol"):
        is_equitable(np.ones((1, 1)), [[0]], [[0]], tol=-1.0)


def test_validate_blocks_returns_arrays() -> None:
    blocks = validate_blocks([[2, 0], [1]], 3, "blocks")
    assert [b.tolist() for b in blocks] == [[2, 0], [1]]
