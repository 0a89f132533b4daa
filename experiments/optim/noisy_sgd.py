"""Noisy SGD of Appendix B.1.2 (the perturbation that lets a clone escape its cloning manifold, Section 2).

One implementation serves the whole project: :class:`dag_nets.optimizers.NoisySGD` (per-tensor noise
N(0, σ_t² ‖g_p‖² I), σ_t = σ₀ λ^t, σ₀ = 0.01, λ = 0.999), which dag_nets' trajectories also use; it lives
in dag_nets because the imports run one way (theory → dag_nets → experiments).
"""

from dag_nets.optimizers import NOISE_NORMS, PAPER_DECAY, PAPER_SIGMA0, NoisySGD

__all__ = ["NOISE_NORMS", "PAPER_DECAY", "PAPER_SIGMA0", "NoisySGD"]
