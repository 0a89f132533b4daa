"""Argument checks shared by the dag_nets entry points: each raises a ValueError (or TypeError for a wrong
type) that names the argument, what was given and what is valid, before any numpy/torch/scipy call can
fail deep inside with a message about something else."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import torch

from dag_nets.graph import DagNet


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"≥ {low}" if high is None else f"in [{low}, {high}]" if low is not None else f"≤ {high}"
        raise ValueError(f"{name} must be an integer {bounds}, got {value}")
    return value


def check_real(value: Any, name: str, low: float | None = None, positive: bool = False) -> float:
    """A finite real number, ≥ ``low`` (or > 0 when ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be ≥ {low}, got {value!r}")
    return value


def check_parameters(net: DagNet) -> None:
    """The network's own weights and biases are finite (e.g. a weight that overflowed float32)."""
    if not isinstance(net, DagNet):
        raise TypeError(f"net must be a DagNet, got {type(net).__name__}")
    for what, p in (("edge weights", net.edge_weight), ("biases", net.bias)):
        if not bool(torch.isfinite(p.detach()).all()):
            raise ValueError(
                f"the network's {what} contain NaN or infinite values (in {p.dtype}); "
                "every parameter must be finite"
            )


def check_theta(net: DagNet, theta: Any, name: str = "theta") -> torch.Tensor:
    """θ as a detached vector of the network's dtype and device, checked for length and finiteness."""
    if not isinstance(theta, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape ({net.num_parameters},), got {type(theta).__name__}"
        )
    if theta.shape != (net.num_parameters,):
        raise ValueError(
            f"{name} must be a flat vector [edge weights; biases] of shape ({net.num_parameters},), "
            f"got {tuple(theta.shape)}"
        )
    if not theta.dtype.is_floating_point:
        raise TypeError(f"{name} must be a real floating tensor, got {theta.dtype}")
    out = theta.detach().to(dtype=net.edge_weight.dtype, device=net.edge_weight.device)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} contains NaN or infinite entries (in {out.dtype})")
    return out


def check_batch(net: DagNet, x: Any, y: Any) -> None:
    """x is [batch, inputs] and y is [batch, outputs], both real floating, non-empty and finite."""
    for name, t, width, what in (("x", x, len(net.inputs), "inputs"), ("y", y, len(net.outputs), "outputs")):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor of shape [batch, {width}], got {type(t).__name__}"
            )
        if not t.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating tensor, got {t.dtype}")
        if t.ndim != 2 or t.shape[1] != width or t.shape[0] == 0:
            raise ValueError(
                f"{name} must have shape [batch ≥ 1, {width}] (the network's {what}), got {tuple(t.shape)}"
            )
        if not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"{name} contains NaN or infinite values; the loss and its derivatives need finite data"
            )
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size, got {x.shape[0]} and {y.shape[0]}")
