"""The paper's explicit forward pass and backward recursion, node by node (Appendix A.3).

This is the independent reference for :class:`dag_nets.graph.DagNet` (vectorized, autograd): a plain
per-node loop in numpy float64 over a topological order,

    h(v) = x_v (inputs),   z(v) = Σ_{u∈in(v)} w(u,v) h(u) + b(v),   h(v) = f_v(z(v)),
    δ(v) = ∂L/∂h(v)                                      for output nodes,
    δ(v) = Σ_{u∈out(v)} δ(u) · w(v,u) · f'_u(z(u))       otherwise,
    ∂L/∂w(u,v) = δ(v) f'_v(z(v)) h(u),     ∂L/∂b(v) = δ(v) f'_v(z(v)).

Every quantity is per example, shape ``[batch]``; the batch loss is a sum/mean of per-example losses,
so the parameter gradient sums the per-example products. δ here is ∂L/∂h (post-activation adjoint),
exactly as in the paper's recursion.

The fast engine's backward is this recursion vectorized over generations: δ = (I − Aᵀ diag(f'(z)))⁻¹ g,
the adjoint sweep ``dag_nets.propagation.solve(…, transpose=True)``, checked against
:func:`explicit_backprop` node by node in tests/dag_nets/test_propagation.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dag_nets.graph import DagNet, Node


@dataclass
class ExplicitPass:
    """Per-node forward values h, z and adjoints δ = ∂L/∂h (each ``{node: array[batch]}``) and the
    gradients in the DagNet's flat order (edge weights, biases)."""

    h: dict[Node, np.ndarray]
    z: dict[Node, np.ndarray]
    delta: dict[Node, np.ndarray]
    grad_weights: np.ndarray
    grad_biases: np.ndarray

    @property
    def grad(self) -> np.ndarray:
        return np.concatenate([self.grad_weights, self.grad_biases])


def mse_output_adjoint(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂L/∂out for L = mean over batch and outputs of (out − y)²: 2 (out − y) / (B · n_out)."""
    return 2.0 * (out - y) / out.size


def explicit_forward(net: DagNet, x: np.ndarray) -> tuple[dict[Node, np.ndarray], dict[Node, np.ndarray]]:
    """h and z of every node by the per-node formula of Appendix A.3 (numpy float64)."""
    x = np.asarray(x, dtype=np.float64)
    w = net.edge_weights()
    b = net.node_biases()
    h: dict[Node, np.ndarray] = {v: x[:, i] for i, v in enumerate(net.inputs)}
    z: dict[Node, np.ndarray] = {}
    G = net.graph
    for v in net.nodes[len(net.inputs) :]:
        pre = np.full(x.shape[0], b[v])
        for u in G.predecessors(v):
            pre = pre + w[(u, v)] * h[u]
        z[v] = pre
        h[v] = net.node_activation[v].numpy_fn(pre)
    return h, z


def explicit_backprop(net: DagNet, x: np.ndarray, y: np.ndarray) -> ExplicitPass:
    """The δ recursion of Appendix A.3 for the mean-squared-error loss, with the per-edge gradients."""
    y = np.asarray(y, dtype=np.float64)
    h, z = explicit_forward(net, x)
    out = np.stack([h[v] for v in net.outputs], axis=1)
    if y.shape != out.shape:
        raise ValueError(f"y must have shape {out.shape}, got {y.shape}")
    adj = mse_output_adjoint(out, y)
    w = net.edge_weights()
    G = net.graph
    fprime = {v: net.node_activation[v].numpy_derivative(z[v]) for v in z}
    delta: dict[Node, np.ndarray] = {}
    out_pos = {v: i for i, v in enumerate(net.outputs)}
    for v in reversed(net.nodes):
        d = adj[:, out_pos[v]].copy() if v in out_pos else np.zeros(out.shape[0])
        for u in G.successors(v):
            d = d + delta[u] * w[(v, u)] * fprime[u]
        delta[v] = d
    gw = np.array([float(np.sum(delta[v] * fprime[v] * h[u])) for u, v in net.edges])
    gb = np.array([float(np.sum(delta[v] * fprime[v])) for v in net.bias_nodes])
    return ExplicitPass(h=h, z=z, delta=delta, grad_weights=gw, grad_biases=gb)


def autograd_adjoints(net: DagNet, theta, x, y, loss: str = "mse"):
    """(H, Z, δ, ∂L/∂z) by autograd, each ``[batch, num_nodes]`` in ``net.nodes`` order.

    ∂L/∂z is the gradient with respect to an additive zero perturbation of every pre-activation;
    δ = ∂L/∂h then follows from one scatter over the edges, δ(u) = Σ_e w_e ∂L/∂z(dst_e) + ∂L/∂out(u).
    """
    import torch

    from dag_nets.graph import get_loss

    loss_fn = get_loss(loss)
    theta = theta.detach()
    noise = torch.zeros(x.shape[0], net.num_nodes, dtype=theta.dtype, device=theta.device, requires_grad=True)
    H, Z = net.node_values(theta, x, unit_noise=noise)
    H_out = H.detach().index_select(1, net.output_positions.to(x.device)).requires_grad_(True)
    (g_out,) = torch.autograd.grad(loss_fn(H_out, y), H_out)
    out = H.index_select(1, net.output_positions.to(x.device))
    (dz,) = torch.autograd.grad(loss_fn(out, y), noise)
    w, _ = net.split(theta)
    src, dst = net.edge_src.to(x.device), net.edge_dst.to(x.device)
    delta = torch.zeros_like(dz).index_add(1, src, dz.index_select(1, dst) * w)
    delta = delta.index_add(1, net.output_positions.to(x.device), g_out)
    return H.detach(), Z.detach(), delta, dz
