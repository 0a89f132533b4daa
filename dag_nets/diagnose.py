"""Diagnose a torch model: its frozen units, its clone blocks and whether gradient descent can leave them.

``diagnose(model, batch, targets, loss)`` traces the model into a DagNet (:func:`dag_nets.from_module`) and
reports, per layer of units:

1. **Frozen units** (Theorem 2.1 part 1): the fraction of the batch on which f_v′(z(v)) = 0 for every unit
   (:func:`dag_nets.frozen.zero_derivative_fraction`); a unit is frozen when it is 1. With an optimizer,
   whether its step keeps the frozen units' incoming weights and biases fixed, its state included
   (:func:`dag_nets.frozen.optimizer_invariance`).
2. **Clone blocks** (Theorem 2.1 part 2): the coarsest approximately equitable partition at the tolerance
   chosen from the weights by the rule of :mod:`dag_nets.approximate_clones` (the coarsest partition that
   persists over a decade of tolerance between the float64 round-off floor and 1 % of the RMS weight),
   whether it is exact (already at the floor), and how far θ is from M_C (its residual and relative
   distance).
3. **The cloning manifold those blocks define** (needs targets): at θ_C = P_C θ, the orthogonal projection
   of θ onto M_C (θ itself for exact clones), the gradient's normal part ‖P_N ∇L‖ / ‖∇L‖ (0 on M_C by
   Theorem 2.1: the gradient is tangent), the extremes of the Hessian restricted to the normal directions
   the module can move (Definition A.2; :mod:`dag_nets.module_curvature` for modules with fixed
   coordinates), their class (:func:`dag_nets.stability.classify`) and, when an eigenvalue is negative, the
   escape direction: the unit normal eigenvector of the most negative one, as a change of the module's
   parameters. The spectrum is complete (an explicit basis of N, dim N Hessian-vector products) when
   P · dim N ≤ :data:`DENSE_MAX_ENTRIES`, else the k smallest and largest by the certified deflated
   Lanczos of :func:`dag_nets.lanczos.extreme_eigenvalues`.

The result prints as a table (:meth:`Diagnosis.table`), serializes to JSON (:meth:`Diagnosis.to_dict`) and
draws a figure (:meth:`Diagnosis.plot`). ``python -m dag_nets diagnose`` is its command line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dag_nets.approximate_clones import ApproximatePartition, approximate_equitable_partition
from dag_nets.curvature import NormalHessian
from dag_nets.from_module import ModuleDag, from_module, part_io
from dag_nets.frozen import Invariance, optimizer_invariance, zero_derivative_fraction
from dag_nets.graph import LOSSES, loss_of_theta
from dag_nets.lanczos import extreme_eigenvalues
from dag_nets.manifolds import Cloning
from dag_nets.memory import reuse_freed_memory
from dag_nets.module_curvature import (
    TrainableNormalHessian,
    commutes,
    escape_direction,
    escape_from_spectrum,
    subspace_spectrum,
    trainable_normal_dimension,
)
from dag_nets.stability import LANCZOS_TOL, REUSE_MEMORY_ABOVE, ZERO_EIG_RTOL, classify
from dag_nets.validation import check_int, check_real

DENSE_MAX_ENTRIES = 4_000_000
"""The complete spectrum needs an explicit P × dim N basis: used up to this many entries (32 MB in float64),
or whenever Lanczos cannot run (2k ≥ dim N)."""
FIXED_SHIFT_RTOL = 1e-12
"""P_C θ may move a fixed coordinate (a residual edge of weight 1) by round-off only, relative to max |θ|."""
METHODS = ("auto", "dense", "lanczos")
SPECTRUM_POINTS_SHOWN = 6


@dataclass
class LayerDiagnosis:
    """One layer of units (a :class:`dag_nets.from_module.Layer`): ``zero_fraction[i]`` is the fraction of the
    batch with f′ = 0 at unit i; ``frozen`` the units where it is 1; ``clone_blocks`` the groups of this
    layer's units (indices within the layer) that share a non-singleton block."""

    name: str
    label: str
    activation: str
    units: int
    zero_fraction: np.ndarray
    frozen: list[int]
    clone_blocks: list[list[int]]

    @property
    def frozen_fraction(self) -> float:
        return len(self.frozen) / self.units

    @property
    def cloned_fraction(self) -> float:
        return sum(len(b) for b in self.clone_blocks) / self.units

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "activation": self.activation,
            "units": self.units,
            "frozen": self.frozen,
            "frozen_fraction": self.frozen_fraction,
            "mean_zero_derivative_fraction": float(self.zero_fraction.mean()),
            "zero_derivative_fraction": self.zero_fraction.tolist(),
            "clone_blocks": self.clone_blocks,
            "cloned_fraction": self.cloned_fraction,
        }


@dataclass
class ManifoldDiagnosis:
    """Tangency and normal curvature of M_C at θ_C (module docstring, step 3). ``skipped`` names why nothing
    was computed (then the numbers are NaN and ``eigenvalues`` empty)."""

    normal_dimension: int
    distance_to_projection: float
    gradient_norm: float
    normal_gradient_norm: float
    eigenvalues: np.ndarray
    inertia: tuple[int, int, int]
    classification: str
    method: str
    complete: bool
    certified: bool
    zero_tol: float
    hvp_count: int
    escape_eigenvalue: float | None = None
    escape_residual: float | None = None
    escape_theta: torch.Tensor | None = None
    escape: dict[str, torch.Tensor] | None = None
    skipped: str = ""

    @property
    def normal_gradient_fraction(self) -> float:
        return self.normal_gradient_norm / self.gradient_norm if self.gradient_norm > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "skipped": self.skipped,
            "normal_dimension": self.normal_dimension,
            "distance_to_projection": self.distance_to_projection,
            "gradient_norm": self.gradient_norm,
            "normal_gradient_norm": self.normal_gradient_norm,
            "normal_gradient_fraction": self.normal_gradient_fraction if not self.skipped else None,
            "eigenvalues": self.eigenvalues.tolist(),
            "inertia": list(self.inertia),
            "classification": self.classification,
            "method": self.method,
            "complete": self.complete,
            "certified": self.certified,
            "zero_tol": self.zero_tol,
            "hvp_count": self.hvp_count,
            "escape_eigenvalue": self.escape_eigenvalue,
            "escape_residual": self.escape_residual,
        }
        if self.escape is not None:
            out["escape_parameter_norms"] = {k: float(v.norm()) for k, v in self.escape.items()}
        return out


@dataclass
class Diagnosis:
    """What :func:`diagnose` found (module docstring)."""

    module_dag: ModuleDag
    layers: list[LayerDiagnosis]
    clones: ApproximatePartition
    invariance: Invariance | None
    manifold: ManifoldDiagnosis | None
    loss: str
    batch_size: int
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        c = self.clones
        return {
            "parameters": self.module_dag.net.num_parameters,
            "fixed_coordinates": self.module_dag.parameter_map.num_fixed,
            "units": int(sum(layer.units for layer in self.layers)),
            "batch_size": self.batch_size,
            "loss": self.loss,
            "options": dict(self.options),
            "layers": [layer.to_dict() for layer in self.layers],
            "clones": {
                "tol": c.tol,
                "floor": c.floor,
                "chosen_by": c.chosen_by,
                "plateau": list(c.plateau),
                "exact": c.exact,
                "num_blocks": c.num_blocks,
                "block_sizes": c.sizes,
                "residual": c.residual,
                "relative_distance": c.relative_distance,
                "ladder": c.ladder.tolist(),
                "blocks_per_rung": c.blocks,
            },
            "frozen_invariance": None if self.invariance is None else self.invariance.to_dict(),
            "manifold": None if self.manifold is None else self.manifold.to_dict(),
        }

    def table(self) -> str:
        """The report as text: one row per layer, then the clone partition and the manifold."""
        md = self.module_dag
        lines = [
            (
                f"model: {md.net.num_parameters} DagNet parameters "
                f"({md.parameter_map.num_fixed} fixed), batch "
                f"{self.batch_size}, loss {self.loss}"
            ),
            (
                f"{'layer':<28} {'act':<10} {'units':>6} {'frozen':>7} {'f′=0 (mean)':>12} "
                f"{'cloned':>7} {'blocks':>7}"
            ),
        ]
        for layer in self.layers:
            lines.append(
                f"{layer.label[:28]:<28} {layer.activation[:10]:<10} {layer.units:>6} {len(layer.frozen):>7} "
                f"{layer.zero_fraction.mean():>12.3f} {sum(len(b) for b in layer.clone_blocks):>7} "
                f"{len(layer.clone_blocks):>7}"
            )
        c = self.clones
        lines.append(
            f"clone partition: {c.num_blocks} blocks, non-singleton sizes {c.sizes[:12]}"
            f"{' …' if len(c.sizes) > 12 else ''}; tol {c.tol:.3g} ({c.chosen_by}; floor {c.floor:.3g}); "
            f"{'exact' if c.exact else 'approximate'}; M_C residual {c.residual:.3g}, ‖θ − P_C θ‖/‖θ‖ "
            f"{c.relative_distance:.3g}"
        )
        if self.invariance is not None:
            inv = self.invariance
            lines.append(
                f"frozen set under {inv.optimizer}: {'invariant' if inv.invariant else 'NOT invariant'} "
                f"({'; '.join(inv.causes)}; {inv.moved_units} unit(s) moved, "
                f"max |Δθ| {inv.max_displacement:.3g})"
            )
        m = self.manifold
        if m is None:
            lines.append("cloning manifold: nothing cloned")
        elif m.skipped:
            lines.append(f"cloning manifold: not analysed ({m.skipped})")
        else:
            ev = m.eigenvalues
            shown = (
                ev
                if len(ev) <= SPECTRUM_POINTS_SHOWN
                else np.concatenate([ev[: SPECTRUM_POINTS_SHOWN // 2], ev[-(SPECTRUM_POINTS_SHOWN // 2) :]])
            )
            lines.append(
                f"cloning manifold (dim N = {m.normal_dimension}): gradient normal fraction "
                f"{m.normal_gradient_fraction:.3g}; normal Hessian {m.classification} "
                f"(inertia +{m.inertia[0]} −{m.inertia[1]} 0×{m.inertia[2]}, {m.method}"
                f"{', complete' if m.complete else ''}"
                f"{', certified' if m.certified else ', NOT certified'}); "
                f"extremes {np.array2string(shown, precision=4)}"
            )
            if m.escape_eigenvalue is not None:
                lines.append(
                    f"escape direction: eigenvalue {m.escape_eigenvalue:.4g} "
                    f"(residual {m.escape_residual:.2g})"
                )
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Per-layer bars of frozen and cloned fractions and the normal spectrum, written to ``path`` (PNG);
        FileExistsError rather than overwrite."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; choose another figure path (runs never overwrite)")
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        idx = np.arange(len(self.layers))
        ax1.bar(idx - 0.2, [la.frozen_fraction for la in self.layers], 0.4, label="frozen")
        ax1.bar(idx + 0.2, [la.cloned_fraction for la in self.layers], 0.4, label="cloned")
        ax1.set_xticks(idx, [la.label for la in self.layers], rotation=45, ha="right", fontsize=7)
        ax1.set_ylim(0, 1)
        ax1.set_ylabel("fraction of the layer's units")
        ax1.legend()
        ax1.set_title("frozen and cloned units per layer")
        m = self.manifold
        if m is not None and not m.skipped and len(m.eigenvalues):
            ax2.plot(m.eigenvalues, "o", ms=3)
            ax2.axhline(0, color="k", lw=0.5)
            ax2.set_title(f"normal-space Hessian ({m.classification}, {m.method})")
            ax2.set_xlabel("index (ascending)" if m.complete else "k smallest, then k largest")
        else:
            ax2.set_title("normal-space Hessian: " + ("nothing cloned" if m is None else m.skipped or "—"))
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def targets_matrix(targets: torch.Tensor, loss: str, batch: int, outputs: int) -> torch.Tensor:
    """Targets as the [batch, outputs] float64 matrix the loss takes: class indices become one-hot rows for
    ``cross_entropy``; a [batch] vector is one column for a one-output ``mse``."""
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a tensor, got {type(targets).__name__}")
    if loss == "cross_entropy" and targets.ndim == 1 and not targets.dtype.is_floating_point:
        if targets.shape[0] != batch or bool(((targets < 0) | (targets >= outputs)).any()):
            raise ValueError(
                f"class-index targets must be {batch} integers in [0, {outputs}), got "
                f"shape {tuple(targets.shape)} with range [{int(targets.min())}, {int(targets.max())}]"
            )
        return nn.functional.one_hot(targets.long(), outputs).double()
    y = targets.detach().double()
    if y.ndim == 1 and outputs == 1:
        y = y.reshape(-1, 1)
    if tuple(y.shape) != (batch, outputs):
        raise ValueError(
            f"targets must have shape [{batch}, {outputs}] (or class indices for cross_entropy), "
            f"got {tuple(targets.shape)}"
        )
    if not bool(torch.isfinite(y).all()):
        raise ValueError("targets contain NaN or infinite values")
    return y


def _frozen_coordinates(
    md: ModuleDag, units: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(entries, unit_of) of :func:`dag_nets.frozen.optimizer_invariance`: per module parameter, the flat
    indices of the frozen units' trainable incoming-edge and bias coordinates and the unit of each."""
    net, pmap = md.net, md.parameter_map
    pos = np.asarray([net.index[int(v)] for v in units], dtype=np.int64)
    dst = net.edge_dst.cpu().numpy()
    edge_hit = np.isin(dst, pos)
    unit_at = np.full(net.num_nodes, -1, dtype=np.int64)
    unit_at[pos] = units
    coord = np.concatenate([np.flatnonzero(edge_hit), net.num_edges + pos - len(net.inputs)])
    coord_unit = np.concatenate([unit_at[dst[edge_hit]], units])
    entry = pmap.param.numpy()[coord]
    keep = entry >= 0
    entry, coord_unit = entry[keep], coord_unit[keep]
    starts = np.asarray(pmap.starts, dtype=np.int64)
    which = np.searchsorted(starts, entry, side="right") - 1
    entries, unit_of = {}, {}
    for i, name in enumerate(pmap.names):
        sel = which == i
        entries[name] = entry[sel] - starts[i]
        unit_of[name] = coord_unit[sel]
    return entries, unit_of


def _module_closure(
    md: ModuleDag, batch: torch.Tensor, y: torch.Tensor, loss: str
) -> Callable[[nn.Module], torch.Tensor]:
    """model ↦ the loss of (a copy of) the model on the batch, what its optimizer differentiates."""
    fn = LOSSES[loss]
    feats = None if md.part is None else part_io(md.model, md.part, batch)[0]

    def closure(model: nn.Module) -> torch.Tensor:
        out = model(batch) if md.part is None else model.get_submodule(md.part)(feats)
        out = out.reshape(out.shape[0], -1)
        return fn(out, y.to(out.dtype))

    return closure


def _layer_diagnoses(md: ModuleDag, zero: np.ndarray, colour: np.ndarray) -> list[LayerDiagnosis]:
    net = md.net
    n_in = len(net.inputs)
    sizes = np.bincount(colour)
    out = []
    for layer in md.layers:
        if layer.kind == "input":
            continue
        pos = np.asarray([net.index[v] for v in range(layer.nodes[0], layer.nodes[1])], dtype=np.int64)
        frac = zero[pos - n_in]
        blocks: dict[int, list[int]] = {}
        for i, c in enumerate(colour[pos]):
            if sizes[c] > 1:
                blocks.setdefault(int(c), []).append(i)
        out.append(
            LayerDiagnosis(
                layer.name,
                layer.label,
                layer.activation,
                layer.size,
                frac,
                np.flatnonzero(frac == 1.0).tolist(),
                [b for b in blocks.values() if len(b) > 1],
            )
        )
    return out


def _manifold_diagnosis(
    md: ModuleDag,
    clones: ApproximatePartition,
    X: torch.Tensor,
    Y: torch.Tensor,
    loss: str,
    method: str,
    k: int,
    seed: int,
) -> ManifoldDiagnosis:
    net, pmap = md.net, md.parameter_map
    assert clones.partition is not None
    theta = net.flat_parameters().double()
    M = Cloning(clones.partition)
    mask = pmap.trainable.to(theta.device)
    theta_c = M.tangent(theta)
    shift = float((theta_c - theta)[~mask].abs().max()) if bool((~mask).any()) else 0.0
    nan = float("nan")

    def skipped(reason: str) -> ManifoldDiagnosis:
        return ManifoldDiagnosis(
            0, nan, nan, nan, np.zeros(0), (0, 0, 0), "", method, False, False, nan, 0, skipped=reason
        )

    if shift > FIXED_SHIFT_RTOL * max(1.0, float(theta.abs().max())):
        return skipped(
            f"the projection onto M_C moves fixed coordinates by {shift:.3g}; the module cannot reach it"
        )
    fixed = bool((~mask).any())
    if fixed and not commutes(clones.partition, pmap.trainable):
        return skipped(
            "a block pair mixes fixed and trainable coordinates (P_C and the trainable-space projector "
            "do not commute)"
        )
    distance = float(torch.linalg.vector_norm(theta_c - theta))
    t = theta_c.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_of_theta(net, X, Y, loss)(t), t)
    g = (g * mask).detach()
    normal_g = M.normal(g) * mask
    nh = NormalHessian.at(M, X, Y, theta_c, loss)
    op = (
        TrainableNormalHessian(nh, pmap.trainable, trainable_normal_dimension(M, pmap.trainable))
        if fixed
        else nh
    )
    dim = op.dimension
    if dim == 0:
        return skipped("the cloning manifold has no normal directions the module can move")
    dense = method == "dense" or (method == "auto" and (op.size * dim <= DENSE_MAX_ENTRIES or 2 * k >= dim))
    if method == "lanczos" and 2 * k >= dim:
        raise ValueError(
            f"the normal space has dimension {dim}, too small for Lanczos with k={k} (needs 2k < dim N); "
            "use method='dense' or 'auto'"
        )
    escape = None
    if dense:
        spectrum = subspace_spectrum(op, seed)
        ev, certified, complete, used = spectrum.values, True, True, "dense"
    else:
        with reuse_freed_memory() if op.size >= REUSE_MEMORY_ABOVE else contextlib.nullcontext():
            ext = extreme_eigenvalues(op, k, LANCZOS_TOL, seed)
        ev, certified, complete, used = ext.values, ext.certified, False, "lanczos"
    zero_tol = ZERO_EIG_RTOL * max(1.0, float(np.abs(ev).max(initial=0.0)))
    inertia, label = classify(ev, zero_tol)
    if len(ev) and ev[0] < -zero_tol:
        escape = escape_from_spectrum(op, spectrum) if dense else escape_direction(op, LANCZOS_TOL, seed)
    out = ManifoldDiagnosis(
        dim,
        distance,
        float(g.norm()),
        float(normal_g.norm()),
        ev,
        inertia,
        label,
        used,
        complete,
        certified,
        zero_tol,
        op.hvp_count,
    )
    if escape is not None:
        out.escape_eigenvalue, out.escape_residual = escape.eigenvalue, escape.residual
        out.escape_theta = escape.direction.detach() * mask
        out.escape = pmap.direction_to_parameters(out.escape_theta)
    return out


def diagnose(
    model: nn.Module,
    batch: torch.Tensor,
    targets: torch.Tensor | None = None,
    loss: str = "mse",
    optimizer: torch.optim.Optimizer | None = None,
    part: str | None = None,
    tol: float | None = None,
    frozen_tol: float = 0.0,
    method: str = "auto",
    k: int = 3,
    seed: int = 0,
) -> Diagnosis:
    """Frozen units, clone blocks and the stability of their cloning manifold (module docstring).

    ``batch``: inputs for ``model`` (the example input of :func:`from_module`); ``targets``: the batch's
    targets (needed for the manifold step and for the optimizer check's gradient; class indices or
    probability rows for ``loss="cross_entropy"``); ``optimizer``: the model's optimizer, its state included
    (None: plain SGD); ``part``: diagnose this submodule only; ``tol``: the clone tolerance (None: chosen
    from the weights); ``frozen_tol``: |f′| ≤ frozen_tol counts as 0; ``method``: ``auto``, ``dense`` or
    ``lanczos`` for the normal spectrum, ``k`` extremes per end for Lanczos."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid choices: {', '.join(LOSSES)}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    k = check_int(k, "k", low=1)
    frozen_tol = check_real(frozen_tol, "frozen_tol", low=0.0)
    md = from_module(model, batch, part=part)
    net = md.net
    X = md.inputs(batch)
    Y = None if targets is None else targets_matrix(targets, loss, X.shape[0], len(net.outputs))
    zero = zero_derivative_fraction(net, X, tol=frozen_tol)
    clones = approximate_equitable_partition(net, tol)
    layers = _layer_diagnoses(md, zero, clones.colouring)
    hidden = np.concatenate([np.arange(*la.nodes) for la in md.layers if la.kind != "input"])
    frozen_units = hidden[zero[np.asarray([net.index[int(v)] for v in hidden]) - len(net.inputs)] == 1.0]
    invariance = None
    if len(frozen_units):
        entries, unit_of = _frozen_coordinates(md, frozen_units)
        closure = None if Y is None else _module_closure(md, batch, Y, loss)
        invariance = optimizer_invariance(model, optimizer, entries, unit_of, closure)
    manifold_result = None
    if clones.partition is not None:
        if Y is None:
            nan = float("nan")
            manifold_result = ManifoldDiagnosis(
                0,
                nan,
                nan,
                nan,
                np.zeros(0),
                (0, 0, 0),
                "",
                method,
                False,
                False,
                nan,
                0,
                skipped="no targets given",
            )
        else:
            manifold_result = _manifold_diagnosis(md, clones, X, Y, loss, method, k, seed)
    options = {"part": part, "tol": tol, "frozen_tol": frozen_tol, "method": method, "k": k, "seed": seed}
    return Diagnosis(md, layers, clones, invariance, manifold_result, loss, int(X.shape[0]), options)
