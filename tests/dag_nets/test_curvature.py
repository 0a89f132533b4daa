"""Curvature operators: HessianOperator (both HVP modes) and NormalHessian against dense references
built another way (torch.autograd.functional.hessian, the SVD projector of the constraint matrix)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dag_nets.curvature import HessianOperator, NormalHessian, dense_hessian
from dag_nets.graph import loss_of_theta
from dag_nets.manifolds import manifold
from tests.dag_nets.cases import Case, build

EXACT = 1e-12


def _reference_hessian(case: Case) -> torch.Tensor:
    theta = case.net.flat_parameters()
    return torch.autograd.functional.hessian(loss_of_theta(case.net, case.x, case.y, case.loss), theta)


@pytest.mark.parametrize("mode", ["double-backward", "forward-over-reverse"])
def test_hvp_modes_match_autograd_hessian(case: Case, mode: str) -> None:
    H_ref = _reference_hessian(case)
    op = HessianOperator(case.net, case.x, case.y, mode=mode)
    V = torch.randn(
        case.net.num_parameters, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    assert torch.allclose(op.matvec(V[:, 0]), H_ref @ V[:, 0], atol=EXACT, rtol=0)
    assert torch.allclose(op.matmat(V), H_ref @ V, atol=EXACT, rtol=0)
    assert op.hvp_count == 4
    assert torch.allclose(op.dense(), H_ref, atol=EXACT, rtol=0)
    assert torch.allclose(
        dense_hessian(case.net, case.x, case.y, case.net.flat_parameters()), H_ref, atol=EXACT, rtol=0
    )
    out = op.to_scipy() @ V[:, 1].numpy()
    assert np.allclose(out, (H_ref @ V[:, 1]).numpy(), atol=EXACT, rtol=0)


def _check_normal_hessian(cloned_case: Case, kind: str) -> None:
    net = cloned_case.net
    theta = net.flat_parameters()
    M = {
        "D": lambda: manifold("D", cloned_case.partition, anchor=theta),
        "F": lambda: manifold("F", cloned_case.partition, anchor=theta, frozen=[net.bias_nodes[0]]),
    }.get(kind, lambda: manifold(kind, cloned_case.partition))()
    op = NormalHessian.at(M, cloned_case.x, cloned_case.y)
    H = _reference_hessian(cloned_case).numpy()
    T, N = M.dense_bases()
    P_N = N @ N.T
    assert op.dimension == N.shape[1] == M.normal_dimension()
    v = torch.randn(net.num_parameters, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert np.allclose(op.matvec(v).numpy(), P_N @ H @ P_N @ v.numpy(), atol=EXACT, rtol=0)
    assert np.allclose(op.to_scipy() @ v.numpy(), P_N @ H @ P_N @ v.numpy(), atol=EXACT, rtol=0)
    assert np.allclose(op.dense(), N.T @ H @ N, atol=EXACT, rtol=0)
    assert np.allclose(op.matvec(torch.as_tensor(T[:, 0])).numpy(), 0.0, atol=EXACT)  # vanishes on T
    P = M.normal_projector()
    assert np.allclose(P.dense().numpy(), P_N, atol=EXACT, rtol=0) and P.dimension == N.shape[1]
    assert np.allclose(M.tangent_projector().to_scipy() @ v.numpy(), T @ T.T @ v.numpy(), atol=EXACT, rtol=0)


@pytest.mark.parametrize("kind", ["C", "D"])
def test_normal_hessian_is_projected_hessian(generic_case: Case, kind: str) -> None:
    _check_normal_hessian(generic_case, kind)


def test_normal_hessian_of_a_symmetric_clone() -> None:
    _check_normal_hessian(build("mlp-symmetric-x3-seed0"), "C")


@pytest.mark.parametrize("kind", ["RE", "CE", "BC", "F"])
def test_normal_hessian_of_other_kinds(kind: str) -> None:
    _check_normal_hessian(build("mlp-mixed-skip-equitable"), kind)


def test_operator_errors(cloned_case: Case) -> None:
    net, x, y = cloned_case.net, cloned_case.x, cloned_case.y
    with pytest.raises(ValueError, match="mode must be one of"):
        HessianOperator(net, x, y, mode="fd")
    with pytest.raises(ValueError, match="normal-space projector"):
        NormalHessian(HessianOperator(net, x, y), manifold("C", cloned_case.partition).tangent_projector())
    with pytest.raises(ValueError, match="shape"):
        HessianOperator(net, x, y).matvec(torch.zeros(3, dtype=torch.float64))


def test_dense_hessian_runs_on_batching_rules(case: Case) -> None:
    """jacfwd(grad L) on the fast engine: every primitive has its vmap rule, so torch warns of no
    per-sample fallback (the filter that hid that warning for the former propagation is gone)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # torch's own
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        H = HessianOperator(case.net, case.x, case.y).dense()
    assert torch.allclose(H, _reference_hessian(case), atol=EXACT, rtol=0)
