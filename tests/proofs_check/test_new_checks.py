"""The checks added for issue 8 §5 (sentences of the paper that had no check): each is registered with the verdict
this table records and ends with it, naming the numbers it found. Everything the registry asks of every check
(verbatim quotes, locations, readings, corrections named by ``corrects``) is tested once, for all checks, in
test_checks.py and test_quotes.py. Thorough-only checks (the ViT and bit-flipping studies, minutes each) run with
``--runslow``.
"""

from __future__ import annotations

import pytest

from proofs_check.registry import all_checks
from proofs_check.smoke_runs import CloneSetting, NoiseRule, clone_trajectory
from tests.check_runs import result_of

VERDICTS: dict[str, str] = {
    # Section 2: Definition 2.1, Remarks 2.1-2.2, Theorems 2.1 / A.1 and input/output nodes
    "definition-2.1/frozen-manifold-every-point": "refuted",
    "definition-2.1/frozen-manifold-corrected": "holds",
    "remark-2.1/curved-manifold-discrete-escape": "holds",
    "remark-2.1/affine-sgd-invariance": "refuted",
    "remark-2.1/affine-sgd-invariance-corrected": "holds",
    "remark-2.2/functional-lop-persists": "holds",
    "remark-2.2/frozen-manifold-data-dependent": "holds",
    "theorem-A.1/input-output-blocks": "refuted",
    "theorem-A.1/input-output-blocks-corrected": "holds",
    "theorem-2.1/input-output-blocks": "refuted",
    "theorem-2.1/input-output-blocks-corrected": "holds",
    # Section 2: the cloning experiments (smoke cloning study)
    "remark-2.4/single-noisy-step-escape": "holds",
    "remark-2.4/single-noisy-step-near-interpolation": "holds",
    "remark-2.4/stronger-noise-faster-escape": "holds",
    "figure-2.1/caption-sgd-confined-noise-dropout-escape": "holds",
    "remark-2.4/cloning-experiments-trapped": "holds",
    "remark-2.4/adam-validated-by-experiments": "holds",
    "section-4/normalization-keeps-clones": "holds",
    "section-2/vit-escape-not-far": "imprecise",
    "section-2/vit-escape-stalls": "holds",
    # Section 3 after Theorem 3.1, Remark 3.1
    "theorem-3.1/surrogates-extremes": "holds",
    "theorem-3.1/potential-positive-consumed": "holds",
    "theorem-3.1/gamma-in-unit-interval": "holds",
    "theorem-3.1/larger-gamma-larger-gain": "imprecise",
    "theorem-3.1/larger-gamma-larger-guarantee": "holds",
    "theorem-3.1/tanh-gain-monotone-at-any-mean": "imprecise",
    "theorem-3.1/tanh-gain-monotone-small-mean": "holds",
    "theorem-3.1/restoring-rank-creates-dead-units": "imprecise",
    "theorem-3.1/rank-frozen-tradeoff-along-relu-bias": "holds",
    "theorem-3.1/rank-stabilizes-potential-vanishes": "holds",
    "theorem-3.1/fixed-points-zero-pm-one": "imprecise",
    "theorem-3.1/fixed-points-corrected": "holds",
    "theorem-3.1/neural-collapse-geometry": "imprecise",
    "theorem-3.1/neural-collapse-geometry-corrected": "holds",
    "theorem-3.1/implications-near-convergence": "imprecise",
    "theorem-3.1/implications-near-convergence-corrected": "holds",
    "remark-3.1/lazy-regime-stays-near-init": "holds",
    "remark-3.1/specific-to-rich-regime": "imprecise",
    "remark-3.1/entrapment-regime-free": "holds",
    # Section 4 (smoke continual and bit-flipping studies)
    "section-4/normalization-keeps-rank-higher": "holds",
    "section-4/normalization-prevents-dead-and-duplicates": "imprecise",
    "section-4/normalization-dead-and-duplicates-measured": "holds",
    "section-4/affine-parameters-healthy-range": "holds",
    "section-4/bitflip-sgd-then-cbp-reversal": "holds",
    "section-4/bitflip-disparity-grows-with-width": "imprecise",
    "section-4/bitflip-rank-gap-grows-with-width": "holds",
    # Figure A.1 (Figure A.2's caption is appendix-A.2/frozen-increases-with-gamma)
    "figure-A.1/gap-strictly-dominates": "imprecise",
    "figure-A.1/gap-strictly-dominates-corrected": "holds",
    "figure-A.1/gap-vanishes-only-at-fixed-points": "imprecise",
    "figure-A.1/rank-gain-exceeds-guarantee": "holds",
    "figure-A.1/efficiency-bounded-by-gamma": "imprecise",
    "figure-A.1/efficiency-at-least-gamma": "holds",
    "figure-A.1/caption-quadratic-bound": "imprecise",
    "figure-A.1/caption-quartic-bound": "holds",
    # Appendix A.4-A.5
    "remark-A.5/checklist-certifies-modules": "holds",
    "observation-A.1/project-cloning-code": "holds",
    "observation-A.1/clone-aware-flatten": "holds",
    "definition-A.2/classification-depends-on-data": "imprecise",
    "definition-A.2/classification-of-point-and-loss": "holds",
    "definition-A.2/cloning-manifold-never-stable": "holds",
    "remark-A.6/normal-stability-not-convexity": "holds",
    # Appendix B.1.2
    "appendix-B.1.2/effective-rank-is-section-3-er": "imprecise",
    "appendix-B.1.2/effective-rank-relations": "holds",
    "appendix-B.1.2/stable-rank-is-section-3-rank": "imprecise",
    "appendix-B.1.2/stable-rank-relations": "holds",
    "appendix-B.1.2/noise-magnitude-relative-to-gradient": "imprecise",
    "appendix-B.1.2/noise-norm-grows-as-sqrt-dimension": "holds",
}

CHECKS = {c.id: c for c in all_checks()}
MINE = [CHECKS[i] for i in VERDICTS if i in CHECKS]


def test_every_new_check_is_registered_with_the_recorded_verdict() -> None:
    missing = sorted(set(VERDICTS) - set(CHECKS))
    assert not missing, f"not registered: {missing}"
    wrong = {i: (CHECKS[i].expected, v) for i, v in VERDICTS.items() if CHECKS[i].expected != v}
    assert not wrong, f"registered expectation differs from the table: {wrong}"


@pytest.mark.parametrize("check", [c for c in MINE if not c.thorough_only], ids=lambda c: c.id)
def test_new_check_ends_with_its_verdict(check) -> None:
    result = result_of(check.id)
    assert result.outcome.status == VERDICTS[check.id], result.outcome.detail
    assert any(ch.isdigit() for ch in result.outcome.detail), "the detail names the numbers it found"


@pytest.mark.slow
@pytest.mark.parametrize("check", [c for c in MINE if c.thorough_only], ids=lambda c: c.id)
def test_thorough_only_check_ends_with_its_verdict(check) -> None:
    result = result_of(check.id, thorough=True)
    assert result.outcome.status == VERDICTS[check.id], result.outcome.detail


def test_smoke_clone_runs_are_cached_by_their_setting_and_reproducible() -> None:
    setting = CloneSetting(seed=0, epochs=1, noise=NoiseRule(0.01))
    cached = clone_trajectory(setting)
    assert clone_trajectory(CloneSetting(seed=0, epochs=1, noise=NoiseRule(0.01))) is cached
    fresh = clone_trajectory.__wrapped__(setting)
    assert fresh.distance == cached.distance and fresh.r2 == cached.r2
    assert clone_trajectory(CloneSetting(seed=1, epochs=1, noise=NoiseRule(0.01))).distance != cached.distance


def test_literal_noise_reading_needs_the_global_norm() -> None:
    with pytest.raises(ValueError, match="global gradient norm"):
        clone_trajectory(CloneSetting(seed=0, epochs=1, noise=NoiseRule(0.01, norm="tensor", per_norm=True)))
