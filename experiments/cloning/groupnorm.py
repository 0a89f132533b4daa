"""When a GroupNorm with duplicated (γ, β) preserves cloning — the exact condition (Remark A.4).

Setting. A base GroupNorm over C channels in G contiguous groups of s = C/G channels, with ε > 0 and affine
parameters (γ_c, β_c); a clone GroupNorm over C' channels in G' contiguous groups of s' = C'/G', fed
x'_{c'} = x_{π(c')} for a profile π : {0..C'−1} → {0..C−1} (a surjection, :class:`Profile`), with
γ'_{c'} = γ_{π(c')} and β'_{c'} = β_{π(c')}. For a clone group g' let n_{g'}(c) = |{c' ∈ g' : π(c') = c}|.
Each channel carries P ≥ 1 values (spatial positions); the statistics of group g are
μ_g = (1/(sP)) Σ_{c∈g, p} x_{c,p} and σ_g² = (1/(sP)) Σ_{c∈g, p} x_{c,p}² − μ_g², and
y_{c,p} = γ_c (x_{c,p} − μ_g)/√(σ_g² + ε) + β_c.

Theorem. For (γ, β) with every γ_c ≠ 0, the clone reproduces the base, y'_{c'} = y_{π(c')} for every input,
if and only if every clone group is a *uniform cover of one base group*: there is a base group g with
n_{g'}(c) = s'/s for every c ∈ g and n_{g'}(c) = 0 for c ∉ g.

Proof. (⇐) μ'_{g'} = (1/(s'P)) Σ_{c'∈g'} Σ_p x_{π(c'),p} = (1/(s'P)) (s'/s) Σ_{c∈g} Σ_p x_{c,p} = μ_g, and the
mean of squares likewise, so σ'²_{g'} = σ_g² and y'_{c'} = y_{π(c')}. (⇒) Let c' ∈ g', c = π(c') in
base group g, and scale the input, x ↦ t·x. Both outputs are β_c + γ_c·t·(x_{c,p} − m)/√(t²v + ε) with
(m, v) = (μ'_{g'}, σ'²_{g'}) or (μ_g, σ_g²); subtract, divide by γ_c·t/√ε and let t → 0: μ'_{g'}(x) = μ_g(x)
for every x. Both are linear forms in x; comparing the coefficient of x_{d,p} gives
n_{g'}(d)/(s'P) = [d ∈ g]/(sP) for every base channel d, which is the cover condition. ∎

Consequences. Adjacent copies (c' = i·k + j, uniform factor k) with G' = G: clone group g holds k copies of
every channel of base group g — exact. Copies placed block after block (c' = j·C + i) with G' = k·G: each
clone group holds one copy of one base group, although no group holds a whole clone block — exact; with
G' = G such a group mixes base groups — not exact. Non-uniform factors are allowed as long as every clone
group covers its base group uniformly. LayerNorm over the channel axis is G = G' = 1: exact iff every channel
has the same number of clones.

:func:`numpy_group_norm` is an independent float64 implementation (plain numpy, explicit group loop) used
to test torch's ``nn.GroupNorm`` through the cloning code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from experiments.cloning.profile import Profile


@dataclass(frozen=True)
class GroupCover:
    """For every clone group: the base group it covers uniformly, or None with the reason it does not."""

    base_groups: int
    clone_groups: int
    covers: tuple[int | None, ...]
    reasons: tuple[str, ...]

    @property
    def exact(self) -> bool:
        """Whether the clone GroupNorm reproduces the base (the theorem of the module docstring)."""
        return all(g is not None for g in self.covers)

    def why_not(self) -> str:
        return "; ".join(r for r in self.reasons if r) or "every clone group covers one base group uniformly"


def _check_groups_divide(groups: int, width: int, what: str) -> None:
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or width % groups:
        raise ValueError(
            f"{what}: the number of groups must be a positive integer dividing {width}, got {groups!r}"
        )


def group_cover(profile: Profile, base_groups: int, clone_groups: int) -> GroupCover:
    """Test the exact condition for a clone GroupNorm(``clone_groups``, profile.n_clone) fed through
    ``profile`` to reproduce a base GroupNorm(``base_groups``, profile.n_base) with duplicated (γ, β)."""
    _check_groups_divide(base_groups, profile.n_base, "base GroupNorm")
    _check_groups_divide(clone_groups, profile.n_clone, "clone GroupNorm")
    s, s_clone = profile.n_base // base_groups, profile.n_clone // clone_groups
    covers: list[int | None] = []
    reasons: list[str] = []
    for g_clone in range(clone_groups):
        members = profile.index[g_clone * s_clone : (g_clone + 1) * s_clone]
        sources = sorted({int(c) // s for c in members})
        counts = torch.bincount(members, minlength=profile.n_base)
        if len(sources) != 1:
            covers.append(None)
            reasons.append(f"clone group {g_clone} mixes base groups {sources}")
            continue
        g = sources[0]
        inside = counts[g * s : (g + 1) * s]
        if s_clone % s or not bool((inside == s_clone // s).all()):
            covers.append(None)
            reasons.append(
                f"clone group {g_clone} holds base group {g}'s channels {inside.tolist()} times, not "
                f"{s_clone / s:g} each"
            )
            continue
        covers.append(g)
        reasons.append("")
    return GroupCover(base_groups, clone_groups, tuple(covers), tuple(reasons))


def numpy_group_norm(
    x: np.ndarray, groups: int, weight: np.ndarray, bias: np.ndarray, eps: float
) -> np.ndarray:
    """GroupNorm of x with shape (N, C, *spatial) in float64: contiguous groups, biased variance, then
    γ, β."""
    x = np.asarray(x, dtype=np.float64)
    n, c = x.shape[:2]
    _check_groups_divide(groups, c, "numpy_group_norm")
    flat = x.reshape(n, c, -1)
    out = np.empty_like(flat)
    size = c // groups
    for g in range(groups):
        block = flat[:, g * size : (g + 1) * size, :]
        mean = block.mean(axis=(1, 2), keepdims=True)
        var = ((block - mean) ** 2).mean(axis=(1, 2), keepdims=True)
        out[:, g * size : (g + 1) * size, :] = (block - mean) / np.sqrt(var + eps)
    out = out * np.asarray(weight)[None, :, None] + np.asarray(bias)[None, :, None]
    return out.reshape(x.shape)
