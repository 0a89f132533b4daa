"""Function-preserving cloning of the four architectures (Theorem 2.2 / A.2, Remark A.4) and its checks."""

from experiments.cloning.expand import PERTURBATIONS, ClonePlan, Feature, expand, expand_with_plan
from experiments.cloning.profile import Profile, TensorMap
from experiments.cloning.verify import (
    FLOAT32_RTOL,
    FLOAT64_RTOL,
    CloneReport,
    collapse,
    compare_with_base,
    manifold_residual,
    tolerance_for,
)

__all__ = [
    "FLOAT32_RTOL",
    "FLOAT64_RTOL",
    "PERTURBATIONS",
    "ClonePlan",
    "CloneReport",
    "Feature",
    "Profile",
    "TensorMap",
    "collapse",
    "compare_with_base",
    "expand",
    "expand_with_plan",
    "manifold_residual",
    "tolerance_for",
]
