"""Deflated Lanczos with multiplicity (dag_nets.lanczos) on plain matrices with planted spectra, against
numpy's dense eigvalsh of the same restricted matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from dag_nets import lanczos
from dag_nets.lanczos import extreme_eigenvalues

AGREE = 1e-9
CPU = torch.device("cpu")


@dataclass
class PlantedOperator:
    """A = U diag(λ) Uᵀ on S = span(U) (orthonormal U, P × d), zero on S^⊥."""

    U: torch.Tensor
    A: torch.Tensor
    size: int
    dimension: int
    dtype: torch.dtype = torch.float64
    device: torch.device = CPU

    def project(self, v: torch.Tensor) -> torch.Tensor:
        return self.U @ (self.U.T @ v)

    def apply_in_subspace(self, v: torch.Tensor) -> torch.Tensor:
        return self.A @ v


def planted(values: list[float], size: int, seed: int) -> PlantedOperator:
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((size, len(values))))
    A = U @ np.diag(values) @ U.T
    return PlantedOperator(torch.as_tensor(U), torch.as_tensor((A + A.T) / 2), size, len(values))


SPECTRA = {
    "simple": [float(v) for v in np.linspace(-2.0, 3.0, 30)],
    "triple-ends": [-3.0] * 3
    + [-2.5] * 2
    + [float(v) for v in np.linspace(-1, 1, 25)]
    + [2.0] * 2
    + [4.0] * 3,
    "pairs": sorted([float(v) for v in np.repeat(np.linspace(-1.5, 1.5, 15), 2)]),
    "one-sided": [0.5] * 4 + [float(v) for v in np.linspace(1, 2, 20)] + [3.0] * 4,
    "zeros-at-the-window": [-2.0, -1.0] + [0.0] * 8 + [float(v) for v in np.linspace(0.5, 2, 20)],
}
"""Spectra of A on S: simple; copies at both ends (the symmetric-clone case); all in pairs; one-signed (no
value below the masked 0 of round 1, so each end is searched alone); exact zeros inside the window (N_D)."""


@pytest.mark.parametrize("spectrum", list(SPECTRA))
@pytest.mark.parametrize("k", [1, 3, 5])
def test_extremes_with_multiplicity_match_dense(spectrum: str, k: int) -> None:
    values = SPECTRA[spectrum]
    op = planted(values, size=50, seed=k)
    ext = extreme_eigenvalues(op, k, tol=1e-12)
    ref = np.sort(values)
    assert np.max(np.abs(ext.smallest - ref[:k])) < AGREE
    assert np.max(np.abs(ext.largest - ref[-k:])) < AGREE
    assert ext.certified and ext.confirmed
    assert ext.residual_bound < AGREE
    returned = np.concatenate([ref[:k], ref[-k:]])
    expected = [(float(v), int(c)) for v, c in zip(*np.unique(np.round(returned, 9), return_counts=True))]
    assert [(round(v, 9), c) for v, c in ext.multiplicities] == expected


def test_one_round_is_not_certified(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a confirming round after the first the result must say it is not certified."""
    monkeypatch.setattr(lanczos, "MAX_ROUNDS", 0)
    ext = extreme_eigenvalues(planted(SPECTRA["triple-ends"], size=50, seed=0), 3, tol=1e-12)
    assert not ext.certified and not ext.confirmed


def test_exhausted_subspace_is_confirmed() -> None:
    """A subspace smaller than k·rounds: every eigenpair is found and the window is trivially confirmed."""
    values = [-1.0, -1.0, 0.0, 2.0, 2.0, 2.0, 3.0]
    ext = extreme_eigenvalues(planted(values, size=40, seed=3), 3, tol=1e-12)
    assert np.max(np.abs(ext.values - np.array([-1, -1, 0, 2, 2, 3.0]))) < AGREE
    assert ext.certified


@dataclass
class IdentityProjection(PlantedOperator):
    """S = ℝ^P: ``project`` returns its argument itself (the deflation must not write into it)."""

    def project(self, v: torch.Tensor) -> torch.Tensor:
        return v


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize(("masked", "offset", "unit"), [(0.0, 0.0, 1.0), (0.7, 0.3, 2.0), (-1.5, 2.0, 0.5)])
def test_deflated_operator_matches_its_dense_formula(
    identity: bool, masked: float, offset: float, unit: float
) -> None:
    """(P'AP' + c(I − P') + τI)/u with P' = P_S − QQᵀ, applied in place, against the dense matrix; the
    input vector (numpy, as ARPACK passes it) is left unchanged."""
    size = 30
    op = planted([float(v) for v in np.linspace(-1, 2, 12)], size=size, seed=4)
    if identity:
        rng = np.random.default_rng(5)
        A = rng.standard_normal((size, size))
        op = IdentityProjection(
            torch.eye(size, dtype=torch.float64), torch.as_tensor((A + A.T) / 2), size, size
        )
    U = op.U.numpy()
    Q = torch.as_tensor(np.linalg.qr(U @ np.random.default_rng(6).standard_normal((U.shape[1], 3)))[0])
    B = lanczos.DeflatedOperator(op, masked, Q, offset, unit)
    Pp = U @ U.T - Q.numpy() @ Q.numpy().T
    A = op.A.numpy()
    dense = (Pp @ A @ Pp + masked * (np.eye(size) - Pp) + offset * np.eye(size)) / unit
    for seed in range(3):
        v = np.random.default_rng(seed).standard_normal(size)
        before = v.copy()
        out = B.matvec(v)
        assert np.array_equal(v, before)
        assert np.max(np.abs(out - dense @ v)) < 1e-13
    V = torch.as_tensor(np.random.default_rng(9).standard_normal((size, 4)))
    assert np.max(np.abs(B.project(V).numpy() - Pp @ V.numpy())) < 1e-13


@pytest.mark.parametrize("k", [1, 3])
def test_zero_operator_on_the_subspace(k: int) -> None:
    """A = 0 on S: round 1's operator is exactly zero (ARPACK stops, "Starting vector is zero"); the
    extremes are 0 with multiplicity, certified with residual bound 0."""
    ext = extreme_eigenvalues(planted([0.0] * 10, size=40, seed=1), k, tol=1e-12)
    assert np.array_equal(ext.values, np.zeros(2 * k))
    assert ext.certified and ext.residual_bound == 0.0
    assert ext.multiplicities == [(0.0, 2 * k)]


def test_arpack_failure_on_a_nonzero_operator_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: object, **kwargs: object) -> None:
        raise lanczos.sla.ArpackError(-9)

    monkeypatch.setattr(lanczos.sla, "eigsh", fails)
    with pytest.raises(
        lanczos.LanczosError,
        match=r"ARPACK failed in Lanczos round 1 \(which='BE'.*not zero: "
        r"ARPACK error -9.*method='dense'",
    ):
        extreme_eigenvalues(planted(SPECTRA["simple"], size=50, seed=0), 1, tol=1e-12)
