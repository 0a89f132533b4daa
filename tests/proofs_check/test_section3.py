"""The Theorem 3.1 rank-gain property check: driven by hypothesis when installed, by a seeded search when
not (hypothesis is a test extra), and a violated bound is reported as a re-runnable counterexample."""

from __future__ import annotations

import sys

import pytest

from proofs_check import section3
from proofs_check.registry import Context
from theory.activations import get_activation
from theory.bounds import rank_gain_ratio, theorem_bound

FAKE_GAP = 0.1
"""A fake bound that exceeds the ratio by this much on matrices of dimension ≥ FAKE_FROM_DIM."""
FAKE_FROM_DIM = 5


SHRINK_ACTIVATIONS = ("relu", "tanh")
"""Shrinking replays many examples: the violation tests use two activations to stay fast."""


def _run_without_hypothesis(monkeypatch: pytest.MonkeyPatch, ctx: Context):
    """Run the check with `import hypothesis` raising ImportError (only around the check: hypothesis's own
    pytest plugin imports lazily between test phases)."""
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "hypothesis", None)
        with pytest.raises(ImportError):
            import hypothesis  # noqa: F401
        return section3.rank_gain_bound(ctx)


@pytest.fixture
def violated_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(act, C):
        return rank_gain_ratio(act, C) + FAKE_GAP if len(C) >= FAKE_FROM_DIM else theorem_bound(act, C)

    monkeypatch.setattr(section3, "theorem_bound", fake)
    monkeypatch.setattr(section3, "_activations", lambda: [get_activation(n) for n in SHRINK_ACTIVATIONS])


def test_driven_by_hypothesis() -> None:
    out = section3.rank_gain_bound(Context())
    assert out.status == "holds" and "by hypothesis" in out.detail
    assert f"{section3.QUICK_EXAMPLES} matrices" in out.detail and "sample_correlation(np.random.default_rng(" in out.detail


def test_falls_back_to_the_seeded_search(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _run_without_hypothesis(monkeypatch, Context())
    assert out.status == "holds" and "hypothesis not installed" in out.detail
    assert f"{len(section3._specs(Context()))} matrices" in out.detail


def test_hypothesis_shrinks_a_violation_to_a_minimal_spec(violated_bound) -> None:
    out = section3.rank_gain_bound(Context())
    assert out.status == "refuted"
    # shrinking minimises seed and dimension and picks the first kind
    assert f"counterexample sample_correlation(np.random.default_rng(0), {FAKE_FROM_DIM}, 'gram')" in out.detail
    assert out.margin == pytest.approx(-FAKE_GAP)


def test_seeded_search_reports_a_violation(monkeypatch: pytest.MonkeyPatch, violated_bound) -> None:
    out = _run_without_hypothesis(monkeypatch, Context())
    assert out.status == "refuted" and "counterexample sample_correlation(" in out.detail
    assert "hypothesis not installed" in out.detail


def test_other_seeds_search_elsewhere() -> None:
    a, b = section3.rank_gain_bound(Context(seed=0)), section3.rank_gain_bound(Context(seed=3))
    assert a.status == b.status == "holds" and "seed 3" in b.detail and a.detail != b.detail


@pytest.mark.parametrize(
    "name, fixed, kept",
    [
        ("tanh", (-1.0, 0.0, 1.0), (-1.0, 0.0, 1.0)),  # φ − Eφ odd: K(−1) = −1
        ("abs", (0.0, 1.0), (-1.0, 0.0, 1.0)),  # even: K(−1) = 1 keeps the magnitude, but −1 ↦ 1 is not fixed
        ("relu", (0.0, 1.0), (0.0, 1.0)),  # neither: |K(−1)| < 1
    ],
)
def test_fixed_points_and_kept_correlations_of_the_kernel_map(name: str, fixed: tuple, kept: tuple) -> None:
    """One scan serves the Section 3 and Figure A.1 checks of 'the fixed points 0 or ±1'; the exact answer is known
    from the parity of φ − Eφ."""
    act = get_activation(name)
    assert section3.kernel_fixed_points(act) == fixed
    assert section3.kept_correlations(act) == kept
    assert section3.minus_one_kept(act) == (-1.0 in kept)
