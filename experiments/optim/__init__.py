"""Optimizers and plasticity interventions: NoisySGD and the optimizer factory (Appendix B.1.2),
Continual Backpropagation and its baselines (Section 4; ``cbp``, ``plasticity_baselines``).
"""

from experiments.optim.factory import STUDY_OPTIMIZERS, make_optimizer
from experiments.optim.noisy_sgd import NoisySGD

__all__ = ["STUDY_OPTIMIZERS", "NoisySGD", "make_optimizer"]
