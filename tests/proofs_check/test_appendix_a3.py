"""Regression tests of the Appendix A.3 checks."""

from __future__ import annotations

from dag_nets.base_network import base_correspondence
from proofs_check import appendix_a3
from proofs_check.registry import Context


def test_bug_remark_a2_backward_reports_the_worst_scenario() -> None:
    """The check assigned the last scenario's gap instead of the largest one (issue 11)."""
    ctx = Context()
    gaps = {
        d: [
            base_correspondence(part, x, y, d)["backward_paper"]
            for _, part, _, x, y in appendix_a3._scenarios(ctx)
        ]
        for d in ("paper", "corrected")
    }
    assert len(gaps["corrected"]) > 1 and max(gaps["corrected"]) != gaps["corrected"][-1]
    out = appendix_a3.equitable_matches_base_backward(ctx)
    assert out.margin == min(max(v) for v in gaps.values())
    assert f"{max(gaps['corrected']):.3g}" in out.detail and f"{max(gaps['paper']):.3g}" in out.detail


def test_remark_a1_ratio_reports_the_limit_not_a_window() -> None:
    out = appendix_a3.duplicate_manifold_dimension_ratio(Context())
    assert out.status == "holds" and 0.5 < out.margin < 1.0  # L = share of hidden→hidden blocks, below 1
    assert "decreasing to L" in out.detail and "n=5" in out.detail
