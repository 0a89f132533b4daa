"""Cloning profiles (Appendix A.4): the surjection π from clone units onto base units, and tensor maps.

A :class:`Profile` stores ``index[u'] = π(u')`` for every unit u' of one axis of the clone. The layout
used throughout is *adjacent clones*: with factor k the k copies of base unit i are units i·k … i·k+k−1
(``Profile.interleaved``), so that

* repeated expansion composes (k₁ then k₂ is the adjacent layout of k₁·k₂);
* a GroupNorm with the base's group count G sees, in clone group g, exactly k copies of the channels of
  base group g (same mean and variance);
* the conv → linear flatten of channel c', position s lands on flat index c'·HW + s, whose base unit is
  π(c')·HW + s (``repeat_inner``), so the next linear layer is cloned with that profile;
* attention heads are duplicated: clone head h' is a copy of base head ⌊h'/k⌋, and its query/key/value
  units use ``interleaved(D, k, inner=d_head)``; the head dimension, hence 1/sqrt(d_head), is unchanged.

A :class:`TensorMap` says how a clone parameter (or buffer) is obtained from the base one:
θ'[…, u', …] = θ[…, π(u'), …] / m_in(π(u'_in)), where ``in_axis`` is the axis of *source* units (the
copies of one input feed the same output, so each carries 1/m_in of the base weight: the column sums of
the paper's w[S_i, S_j] blocks equal the base weight, the corrected definition of the base network of
Appendix A.3) and m is the multiplicity |π⁻¹(i)|.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Profile:
    """π: clone units → base units along one axis; ``index`` is a LongTensor of length n_clone."""

    index: torch.Tensor
    n_base: int

    def __post_init__(self) -> None:
        if self.index.dtype != torch.long or self.index.dim() != 1:
            raise TypeError("Profile.index must be a 1-D LongTensor")
        counts = torch.bincount(self.index, minlength=self.n_base)
        if len(counts) != self.n_base or bool((counts == 0).any()):
            raise ValueError("a profile must map onto every base unit (a surjection onto range(n_base))")

    @classmethod
    def identity(cls, n: int) -> Profile:
        return cls(torch.arange(n), n)

    @classmethod
    def interleaved(cls, n_base: int, factor: int, inner: int = 1) -> Profile:
        """Adjacent clones of blocks of ``inner`` units: u' ↦ ⌊u' / (inner·k)⌋·inner + u' mod inner."""
        if factor < 1 or inner < 1 or n_base % inner:
            raise ValueError(f"need factor ≥ 1, inner ≥ 1 dividing n_base (got {factor}, {inner}, {n_base})")
        u = torch.arange(n_base * factor)
        return cls((u // (inner * factor)) * inner + u % inner, n_base)

    @classmethod
    def between(cls, n_base: int, n_clone: int, inner: int = 1) -> Profile:
        """Identity when the sizes agree, else the adjacent-clone profile of factor n_clone / n_base."""
        if n_clone % n_base:
            raise ValueError(f"clone size {n_clone} is not a multiple of base size {n_base}")
        return cls.interleaved(n_base, n_clone // n_base, inner)

    @property
    def n_clone(self) -> int:
        return int(self.index.numel())

    @property
    def is_identity(self) -> bool:
        return self.n_clone == self.n_base

    def multiplicity(self) -> torch.Tensor:
        """m(i) = |π⁻¹(i)| for every base unit i."""
        return torch.bincount(self.index, minlength=self.n_base)

    def uniform_multiplicity(self) -> int | None:
        m = self.multiplicity()
        return int(m[0]) if bool((m == m[0]).all()) else None

    def blocks(self) -> list[list[int]]:
        """The partition of clone units into blocks S_i = π⁻¹(i), in base order."""
        order = torch.argsort(self.index, stable=True)
        sizes = self.multiplicity().tolist()
        out, start = [], 0
        for s in sizes:
            out.append(order[start : start + s].tolist())
            start += s
        return out

    def repeat_inner(self, inner: int) -> Profile:
        """Profile of the flattening [C, inner] → C·inner: unit c'·inner + s ↦ π(c')·inner + s."""
        s = torch.arange(inner)
        return Profile((self.index[:, None] * inner + s[None, :]).reshape(-1), self.n_base * inner)

    def compose(self, outer: Profile) -> Profile:
        """π ∘ ρ for ρ = ``outer`` (a clone of this clone): the profile relative to the original base."""
        if outer.n_base != self.n_clone:
            raise ValueError(
                f"cannot compose: outer maps onto {outer.n_base} units, this profile has {self.n_clone}"
            )
        return Profile(self.index[outer.index], self.n_base)

    def gather(self, t: torch.Tensor, axis: int) -> torch.Tensor:
        """t[…, π(u'), …] along ``axis`` (base-sized → clone-sized)."""
        return t.index_select(axis, self.index.to(t.device))

    def block_sum(self, t: torch.Tensor, axis: int) -> torch.Tensor:
        """Σ_{u' ∈ π⁻¹(i)} t[…, u', …] along ``axis`` (clone-sized → base-sized)."""
        shape = list(t.shape)
        shape[axis] = self.n_base
        return torch.zeros(shape, dtype=t.dtype, device=t.device).index_add_(axis, self.index.to(t.device), t)

    def block_mean(self, t: torch.Tensor, axis: int) -> torch.Tensor:
        return self.block_sum(t, axis) / _along(self.multiplicity().to(t), axis, t.dim())

    def per_unit(self, values: torch.Tensor, axis: int, ndim: int) -> torch.Tensor:
        """values[π(u')] shaped to broadcast along ``axis`` of an ``ndim``-tensor."""
        return _along(values[self.index.to(values.device)], axis, ndim)


def _along(v: torch.Tensor, axis: int, ndim: int) -> torch.Tensor:
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


@dataclass(frozen=True)
class TensorMap:
    """How one clone tensor derives from its base tensor (see the module docstring).

    ``axes`` maps tensor axes to profiles; ``in_axis`` (source units) divides values by m_in;
    ``out_axis`` (target units) divides gradients by m_out: with outputs un-cloned,
    ∂L/∂θ'[u'] = ∂L/∂θ[π(u')] / m_out(π(u'_out)) (so block sums are m_in · ∂L/∂θ).
    """

    axes: dict[int, Profile] = field(default_factory=dict)
    in_axis: int | None = None
    out_axis: int | None = None

    def _scale(self, t: torch.Tensor, axis: int | None) -> torch.Tensor:
        if axis is None:
            return torch.ones((), dtype=t.dtype, device=t.device)
        p = self.axes[axis]
        return p.per_unit(p.multiplicity().to(t), axis, t.dim())

    def apply(self, base: torch.Tensor) -> torch.Tensor:
        """θ' = θ[π…] / m_in."""
        t = base
        for axis, p in self.axes.items():
            t = p.gather(t, axis)
        return t / self._scale(t, self.in_axis) if self.in_axis is not None else t.clone()

    def expected_grad(self, base_grad: torch.Tensor) -> torch.Tensor:
        """∂L/∂θ' predicted from the base gradient: ∂L/∂θ[π…] / m_out."""
        t = base_grad
        for axis, p in self.axes.items():
            t = p.gather(t, axis)
        return t / self._scale(t, self.out_axis) if self.out_axis is not None else t.clone()

    def block_sums(self, clone_tensor: torch.Tensor) -> torch.Tensor:
        """Σ over each block (every profiled axis) of a clone-sized tensor → base-sized."""
        t = clone_tensor
        for axis, p in self.axes.items():
            t = p.block_sum(t, axis)
        return t

    def in_multiplicity(self, base_tensor: torch.Tensor) -> torch.Tensor:
        """m_in broadcast over a base-sized tensor (1 when there is no input axis)."""
        if self.in_axis is None:
            return torch.ones((), dtype=base_tensor.dtype, device=base_tensor.device)
        return _along(self.axes[self.in_axis].multiplicity().to(base_tensor), self.in_axis, base_tensor.dim())

    def collapse(self, clone_tensor: torch.Tensor) -> torch.Tensor:
        """Base tensor of the quotient network: block means, times m_in (i.e. column sums, Appx A.3
        corrected)."""
        t = clone_tensor
        for axis, p in self.axes.items():
            t = p.block_mean(t, axis)
        return t * self.in_multiplicity(t)

    def compose(self, outer: TensorMap) -> TensorMap:
        """The map base → clone-of-clone, given this (base → clone) and ``outer`` (clone → clone-of-clone)."""
        axes = dict(self.axes)
        for axis, p in outer.axes.items():
            axes[axis] = axes[axis].compose(p) if axis in axes else p
        return TensorMap(
            axes,
            self.in_axis if self.in_axis is not None else outer.in_axis,
            self.out_axis if self.out_axis is not None else outer.out_axis,
        )
