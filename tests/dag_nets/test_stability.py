"""Normal-space stability (Definition A.2): dense vs Lanczos with multiplicity, N_C vs N_D, classification."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dag_nets.stability import classify, normal_stability
from tests.dag_nets.cases import Case, build

AGREE = 1e-8
"""Dense vs Lanczos eigenvalue agreement required in float64."""


def _extremes(ev: np.ndarray, k: int) -> np.ndarray:
    return np.concatenate([ev[:k], ev[-k:]])


def _lanczos_matches_dense(c: Case, space: str) -> None:
    dense = normal_stability(c.net, c.partition, c.x, c.y, space=space, method="dense")
    lanczos = normal_stability(c.net, c.partition, c.x, c.y, space=space, method="lanczos", k=3)
    assert np.max(np.abs(lanczos.eigenvalues - _extremes(dense.eigenvalues, 3))) < AGREE
    assert lanczos.classification == dense.classification
    assert lanczos.certified and dense.certified and dense.complete and not lanczos.complete
    assert sum(dense.inertia) == dense.normal_dimension == len(dense.eigenvalues) == lanczos.normal_dimension


def test_lanczos_matches_dense_on_n_c(cloned_case: Case) -> None:
    _lanczos_matches_dense(cloned_case, "C")


@pytest.mark.parametrize("name", ["mlp-tanh-equitable", "mlp-symmetric-x3-seed0"])
def test_lanczos_matches_dense_on_n_d(name: str) -> None:
    _lanczos_matches_dense(build(name), "D")


@pytest.mark.parametrize("k", [2, 5])
def test_bug_lanczos_misses_repeated_eigenvalues(symmetric_case: Case, k: int) -> None:
    """Constant clones of equal size have an exact permutation symmetry, so normal-space eigenvalues come
    in equal copies; single-vector eigsh found one copy and np.unique merged bit-identical ones, giving
    wrong k extremes (0.56 off at k=3 for blocks of 3) and short inertia counts."""
    c = symmetric_case
    dense = normal_stability(c.net, c.partition, c.x, c.y, method="dense")
    ev = dense.eigenvalues
    if c.spec["symmetric"] >= 3:  # blocks of 2 have only one-dimensional symmetry classes
        assert np.sum(np.diff(ev) < 1e-9) >= c.spec["symmetric"] - 2, (
            "the case must have repeated eigenvalues"
        )
    res = normal_stability(c.net, c.partition, c.x, c.y, method="lanczos", k=k)
    assert len(res.eigenvalues) == 2 * k
    assert np.max(np.abs(res.eigenvalues - _extremes(ev, k))) < AGREE
    assert res.certified
    expected = classify(_extremes(ev, k), res.zero_tol)
    assert (res.inertia, res.classification) == expected and sum(res.inertia) == 2 * k
    counts = [count for _, count in res.details["multiplicities"]]
    assert sum(counts) == 2 * k
    groups = np.split(_extremes(ev, k), np.flatnonzero(np.diff(_extremes(ev, k)) > 1e-7) + 1)
    assert counts == [len(g) for g in groups]


def test_n_d_is_n_c_plus_zeros(cloned_case: Case) -> None:
    c = cloned_case
    dc = normal_stability(c.net, c.partition, c.x, c.y, space="C")
    dd = normal_stability(c.net, c.partition, c.x, c.y, space="D")
    extra = dd.normal_dimension - dc.normal_dimension
    merged = np.sort(np.concatenate([dc.eigenvalues, np.zeros(extra)]))
    assert np.max(np.abs(merged - dd.eigenvalues)) < 1e-10
    assert dd.inertia[2] >= extra
    if c.spec["mode"] == "equitable":
        assert extra > 0


def test_theta_argument_is_used() -> None:
    c = build("mlp-tanh-equitable")
    theta = c.net.flat_parameters()
    moved = c.net.copy_with(theta * 1.1)
    a = normal_stability(c.net, c.partition, c.x, c.y, theta=theta * 1.1)
    b = normal_stability(moved, c.partition, c.x, c.y)
    assert np.array_equal(a.eigenvalues, b.eigenvalues)
    assert not np.allclose(a.eigenvalues, normal_stability(c.net, c.partition, c.x, c.y).eigenvalues)


@pytest.mark.parametrize(
    "ev, label",
    [
        ([1.0, 2.0], "stable"),
        ([-1.0, -2.0], "unstable"),
        ([-1.0, 2.0], "saddle"),
        ([0.0, 2.0], "degenerate"),
        ([], "degenerate"),
    ],
)
def test_classify(ev, label) -> None:
    assert classify(np.array(ev), 1e-9)[1] == label


def test_errors() -> None:
    c = build("mlp-tanh-equitable")
    net, part, x, y = c.net, c.partition, c.x, c.y
    with pytest.raises(ValueError, match="space"):
        normal_stability(net, part, x, y, space="X")
    with pytest.raises(ValueError, match="method"):
        normal_stability(net, part, x, y, method="power")
    with pytest.raises(ValueError, match="zero_rtol must be ≥ 0"):
        normal_stability(net, part, x, y, zero_rtol=-1)
    with pytest.raises(ValueError, match="y contains NaN"):
        normal_stability(net, part, x, torch.full_like(y, float("nan")), method="lanczos")
    with pytest.raises(ValueError, match=r"shape \(81,\)"):
        normal_stability(net, part, x, y, theta=torch.zeros(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="different network"):
        normal_stability(build("random-dag-equitable").net, part, x, y)
    with pytest.raises(ValueError, match="k must be an integer ≥ 1"):
        normal_stability(net, part, x, y, method="lanczos", k=0)
    with pytest.raises(ValueError, match="too small for Lanczos"):
        normal_stability(net, part, x, y, method="lanczos", k=20)
    with pytest.raises(ValueError, match="lanczos_tol"):
        normal_stability(net, part, x, y, method="lanczos", lanczos_tol=2.0)


@pytest.mark.parametrize("space", ["C", "D"])
@pytest.mark.parametrize("k", [1, 3])
def test_bug_lanczos_zero_normal_hessian_arpack_error(space: str, k: int) -> None:
    """At an exact fit of a clone the residual is 0 and the normal-space Hessian vanishes exactly
    (P_N ∇²L v = 0 to the last bit), so ARPACK stopped with error -9 "Starting vector is zero". Now: the
    k extremes are 0 with multiplicity, certified, as the dense method finds them (every eigenvalue 0)."""
    from dag_nets.base_network import clone_network
    from dag_nets.builders import mlp, teacher_batch

    base = mlp(2, [2], 1, "tanh", seed=0)
    net, part = clone_network(base, {v: 2 for v in base.bias_nodes if v not in base.outputs})
    x, _ = teacher_batch(2, 1, 8, seed=0)
    with torch.no_grad():
        y = net(x)
    dense = normal_stability(net, part, x, y, space=space, method="dense")
    assert dense.classification == "degenerate" and dense.inertia == (0, 0, dense.normal_dimension)
    assert np.max(np.abs(dense.eigenvalues)) < 1e-30
    lanczos = normal_stability(net, part, x, y, space=space, method="lanczos", k=k)
    assert np.max(np.abs(lanczos.eigenvalues - _extremes(dense.eigenvalues, k))) < AGREE
    assert np.array_equal(lanczos.eigenvalues, np.zeros(2 * k))
    assert lanczos.classification == "degenerate" and lanczos.inertia == (0, 0, 2 * k)
    assert lanczos.certified and lanczos.details["residual_bound"] == 0.0
