"""Module-level cloning certificates (Definition A.1, Lemma A.2, Remark A.5) checked with dag_nets.

For every cloned weight (Linear, Conv2d, attention projections, patch embedding) the weight is viewed as
the paper's block matrix w[u, v] with u a *source* unit and v a *target* unit — the transpose of torch's
[out, in] layout — partitioned by the input profile (rows) and the output profile (columns), and
:func:`dag_nets.equitability.equitability_residuals` gives its RE and CE residuals.

Convolutions are checked *per kernel position*: in the unrolled DAG the edge (c_in, p) → (c_out, q)
carries K[c_out, c_in, q − p], so the blocks between clone groups of one input position and one output
position are the slices K[:, :, a, b]. Equitability of the sum over kernel positions is necessary but
not sufficient (``proofs_check`` shows a counterexample), so it is not what we check.

Per-unit parameters (biases, normalization γ/β, class and position embeddings) must be constant on
every block (units of a block share their activation function, Theorem A.1's hypothesis); normalization
layers additionally need their statistics to be clone-invariant, which :mod:`experiments.cloning.expand`
checks when it builds the clone (LayerNorm: uniform multiplicity; GroupNorm: groups of clones).

Certificate of a module: MC1 (forward) ⇐ CE of its weights and block-constant per-unit parameters;
MC2 (backward) ⇐ additionally RE; MC3 (gradients block-constant, update stays on M_D) ⇐ MC1 ∧ MC2
(∂L/∂W = h δᵀ). Lemma A.2 as printed swaps RE and CE; this is the corrected version.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dag_nets.equitability import block_constant_residual, equitability_residuals
from experiments.cloning.expand import ClonePlan

CERTIFICATE_RTOL = {torch.float32: 1e-6, torch.float64: 1e-13}
"""Residuals are relative to the largest |entry| of the tensor; these are the round-off allowances."""


@dataclass(frozen=True)
class TensorCertificate:
    name: str
    kind: str  # "weight" | "per-unit" | "shared"
    re: float
    ce: float
    block_constant: float

    def holds(self, tol: float) -> dict[str, bool]:
        """MC1 needs CE (weights) or block-constancy (per-unit); MC2 needs RE too; MC3 = MC1 ∧ MC2."""
        if self.kind == "weight":
            mc1, mc2 = self.ce <= tol, self.ce <= tol and self.re <= tol
        elif self.kind == "per-unit":
            mc1 = mc2 = self.block_constant <= tol
        else:
            mc1 = mc2 = True
        return {"MC1": mc1, "MC2": mc2, "MC3": mc1 and mc2}


@dataclass
class Certificate:
    tensors: list[TensorCertificate]
    tol: float

    def failing(self) -> list[tuple[str, str]]:
        return [(t.name, cond) for t in self.tensors for cond, ok in t.holds(self.tol).items() if not ok]

    @property
    def certified(self) -> bool:
        return not self.failing()

    def manifold(self) -> str:
        """Where the clone sits: M_BC (block-constant) ⊂ M_D(w) = RE ∩ CE ⊂ CE only (forward clone)."""
        weights = [t for t in self.tensors if t.kind != "shared"]
        if all(t.block_constant <= self.tol for t in weights):
            return "M_BC (block-constant: on M_D, cloned forward and backward)"
        if all(t.holds(self.tol)["MC3"] for t in self.tensors):
            return "M_D(w) = RE ∩ CE, not block-constant: cloned forward and backward, stays under training"
        if all(t.holds(self.tol)["MC1"] for t in self.tensors):
            return "CE only: forward clone, backward not cloned (leaves the manifold under training)"
        return "not a clone"


def certify(clone: nn.Module, plan: ClonePlan) -> Certificate:
    """RE / CE / block-constancy residual of every clone parameter, relative to its largest entry."""
    params = dict(clone.named_parameters())
    out: list[TensorCertificate] = []
    dtype = next(iter(clone.parameters())).dtype
    for name, tmap in plan.params.items():
        t = params[name].detach().to(torch.float64).cpu()
        scale = max(float(t.abs().max()), 1e-300)
        if tmap.in_axis is not None and tmap.out_axis is not None:
            rows = tmap.axes[tmap.in_axis].blocks()
            cols = tmap.axes[tmap.out_axis].blocks()
            # [out, in, *kernel] → one [source, target] matrix per kernel position
            slices = t.reshape(t.shape[0], t.shape[1], -1).permute(2, 1, 0)
            re = ce = bc = 0.0
            for w in slices:
                r, c = equitability_residuals(w, rows, cols)
                re, ce = max(re, r), max(ce, c)
                bc = max(bc, block_constant_residual(w, rows, cols))
            out.append(TensorCertificate(name, "weight", re / scale, ce / scale, bc / scale))
        elif tmap.axes:
            ((axis, profile),) = tmap.axes.items()
            mat = t.movedim(axis, -1).reshape(-1, t.shape[axis])
            bc = block_constant_residual(mat, [[i] for i in range(mat.shape[0])], profile.blocks())
            out.append(TensorCertificate(name, "per-unit", 0.0, 0.0, bc / scale))
        else:
            out.append(TensorCertificate(name, "shared", 0.0, 0.0, 0.0))
    return Certificate(out, CERTIFICATE_RTOL.get(dtype, 1e-6))
