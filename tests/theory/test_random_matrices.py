"""Seeded random correlation matrices and their hypothesis strategy (property tests of Theorem 3.1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from theory.random_matrices import CORRELATION_KINDS, CorrelationSpec, correlation_specs, sample_correlation
from theory.ranks import decorrelation_potential, validate_correlation


@given(spec=correlation_specs(max_dim=9))
def test_every_draw_is_a_correlation_matrix(spec: CorrelationSpec) -> None:
    C = spec.matrix()
    assert C.shape == (spec.dim, spec.dim)
    np.testing.assert_array_equal(validate_correlation(C), C)
    np.testing.assert_array_equal(spec.matrix(), C)  # the spec re-runs to the same matrix


@pytest.mark.parametrize("d", [3, 5, 8])
def test_degenerate_kinds_have_exact_structure(d: int) -> None:
    rng = np.random.default_rng(d)
    off = ~np.eye(d, dtype=bool)
    zero_one = sample_correlation(rng, d, "zero-one-blocks")
    assert set(np.unique(zero_one[off])) <= {-1.0, 0.0, 1.0} and decorrelation_potential(zero_one) == 0.0
    clones = sample_correlation(rng, d, "clones")  # m < d distinct features: some pair is an exact ±copy
    assert np.any(np.abs(clones[off]) == 1.0)
    for seed in range(20):  # ≥ 2 blocks: exact zeros; some draws also clone (m < d): exact ±1
        blocks = sample_correlation(np.random.default_rng(seed), d, "cloned-blocks")
        assert np.any(blocks[off] == 0.0)
    assert any(
        np.any(np.abs(sample_correlation(np.random.default_rng(s), d, "cloned-blocks")[off]) == 1.0)
        for s in range(20)
    )


def test_low_rank_kinds_are_singular() -> None:
    rng = np.random.default_rng(0)
    for _ in range(10):
        assert np.linalg.matrix_rank(sample_correlation(rng, 6, "low-rank")) < 6
        assert np.linalg.matrix_rank(sample_correlation(rng, 6, "clones")) < 6


def test_spec_prints_a_rerunnable_expression() -> None:
    spec = CorrelationSpec(7, 4, "clones")
    assert str(spec) == "sample_correlation(np.random.default_rng(7), 4, 'clones')"
    np.testing.assert_array_equal(spec.matrix(), sample_correlation(np.random.default_rng(7), 4, "clones"))


def test_bad_inputs_name_the_choices() -> None:
    with pytest.raises(ValueError, match="valid choices"):
        sample_correlation(np.random.default_rng(0), 4, "nope")
    with pytest.raises(ValueError, match="integer in \\[2, 10000\\]"):
        sample_correlation(np.random.default_rng(0), 1, "gram")
    with pytest.raises(ValueError, match="subset of"):
        correlation_specs(kinds=("gram", "nope"))
    with pytest.raises(ValueError, match="min_dim"):
        correlation_specs(min_dim=5, max_dim=3)
    assert len(CORRELATION_KINDS) == len(set(CORRELATION_KINDS))
