"""Fixtures over the dag_nets case zoo (tests/dag_nets/cases.py): each builds a fresh case per test."""

from __future__ import annotations

import pytest

from tests.dag_nets.cases import Case, build, names


@pytest.fixture(params=names())
def case(request: pytest.FixtureRequest) -> Case:
    """Every case of the zoo."""
    return build(request.param)


@pytest.fixture(params=names(on_manifold=True))
def cloned_case(request: pytest.FixtureRequest) -> Case:
    """Cases whose parameters lie on M_C (cloned networks)."""
    return build(request.param)


@pytest.fixture(params=names(symmetric=True))
def symmetric_case(request: pytest.FixtureRequest) -> Case:
    """Constant clones with an exact permutation symmetry (repeated normal-space eigenvalues)."""
    return build(request.param)


@pytest.fixture(params=names(on_manifold=True, symmetric=False))
def generic_case(request: pytest.FixtureRequest) -> Case:
    """Cloned cases without extra symmetry (equitable, not block-constant weights)."""
    return build(request.param)
