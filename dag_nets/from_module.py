"""From a torch module to the equivalent DagNet (the network formalization of Appendix A.3, for real models).

``from_module(model, example_input)`` traces ``model`` with ``torch.fx`` and builds a :class:`DagNet` that
computes the same function, one node per unit, together with the exact map between the module's
parameters and the DagNet's θ = [edge weights; biases] (:class:`ParameterMap`).

What can be expressed (:data:`SUPPORTED`): ``nn.Linear`` (and ``F.linear`` on the module's own parameters)
on a [batch, features] tensor; the elementwise activations of the ``theory`` registry as modules
(``nn.ReLU``, ``nn.LeakyReLU``, ``nn.Tanh``, ``nn.Sigmoid``, ``nn.GELU`` (exact), ``nn.SiLU``, ``nn.ELU``, and
any parameter-free module whose ``fn`` attribute is a :class:`theory.activations.Activation`, such as the
experiments' ``Elementwise``), as ``torch`` / ``torch.nn.functional`` calls and as Tensor methods;
residual additions and subtractions of equally shaped tensors, multiplication by and addition of a
Python number; ``torch.cat`` along a feature axis; ``nn.Flatten`` / ``torch.flatten`` / ``view`` and
``reshape`` that keep the batch axis; ``nn.Identity``; ``nn.Dropout`` in eval mode (or with p = 0). Anything
else — convolutions, normalization, attention, pooling, softplus (torch's has a linear cut-off above
``threshold`` that the registry's exact softplus has not), the tanh approximation of GELU, a Linear on
tokens (one weight on many edges), a parameter used twice — is an :class:`UnsupportedModuleError` naming
the layer and what is supported. Pass ``part=NAME`` to express one submodule instead (e.g. the MLP head
of a CNN): its input is then the feature tensor the rest of the model hands it. No approximation is ever
made silently: after building, the DagNet's outputs are compared with the module's own (float64) forward
on ``example_input`` and a mismatch above :data:`REPRODUCTION_RTOL` is an error.

How it is built. Every tensor of the traced graph is held as an affine form in the DagNet's node values,
feature i = Σ c · h(u) + Σ c′, where each coefficient c is a constant or (scale × one entry of one module
parameter). ``nn.Linear`` on materialized features (each feature exactly one node's h) adds parameter
terms; an activation *materializes* a form: new nodes v with z(v) = the form and h(v) = f_v(z(v)). Sums,
constant scalings, concatenation and flattening act on forms without new nodes, so Linear → ReLU is one
layer of nodes and ``relu(W x + b) + x`` folds the residual into the same nodes' edges. A form that
feeds a Linear, is used twice or is an output is materialized first (with the linear activation):
composing it would multiply or duplicate parameters.

Coordinates. Each DagNet coordinate is either ``scale · p + offset`` for exactly one module parameter
entry p (scale ≠ 0; offset ≠ 0 where a residual puts its 1 on the same edge, as in W x + x) or *fixed*: a
constant the module cannot train (a residual edge of weight 1, the zero bias of a sum node or of a
bias-free Linear, a parameter with ``requires_grad=False``). Every used parameter entry lands in exactly one
coordinate, so module → θ → module is the identity (exactly when scale = 1 and offset = 0, as for plain
Linear layers; otherwise to one rounding of the offset) and ∂L/∂p = scale · ∂L/∂θ.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from dag_nets.graph import DagNet, Node
from theory.activations import Activation, get_activation

REPRODUCTION_RTOL = 1e-9
"""The DagNet must reproduce the module's float64 forward on the example input to this relative accuracy
(of max(1, max |output|)); float64 summation-order differences are ~1e-14, any unsupported operation that
slipped through makes an O(1) difference."""
LINEAR = get_activation("linear")

SUPPORTED = (
    "nn.Linear / F.linear on [batch, features]; elementwise activations (nn.ReLU, nn.LeakyReLU, nn.Tanh, "
    "nn.Sigmoid, nn.GELU(approximate='none'), nn.SiLU, nn.ELU, modules with a theory Activation as `fn`, and "
    "their torch / torch.nn.functional / Tensor-method calls, plus sin, erf, abs, square); residual + and −; "
    "× or + a Python number; torch.cat on a feature axis; nn.Flatten / flatten / view / reshape keeping the "
    "batch axis; nn.Identity; nn.Dropout in eval mode"
)
"""What :func:`from_module` can express, as quoted in its errors."""


class UnsupportedModuleError(ValueError):
    """A layer or operation without a node-per-unit DAG form (the message names it and :data:`SUPPORTED`)."""


# ---------------------------------------------------------------------------------------------- activations
def _by_name(name: str) -> Callable[..., Activation]:
    return lambda *_: get_activation(name)


def _leaky(slope: Any = 0.01, *_: Any) -> Activation:
    return get_activation(f"leaky_relu:{float(slope)!r}")


def _elu(alpha: Any = 1.0, *_: Any) -> Activation:
    return get_activation(f"elu:{float(alpha)!r}")


def _gelu(approximate: Any = "none", *_: Any) -> Activation:
    if approximate != "none":
        raise UnsupportedModuleError(
            f"GELU with approximate={approximate!r} is not in the activation registry (it has the exact "
            "GELU only, approximate='none')"
        )
    return get_activation("gelu")


# name → (activation from the call's extra arguments, their names in order after the input)
_FUNCTIONS: dict[str, tuple[Callable[..., Activation], tuple[str, ...]]] = {
    "relu": (_by_name("relu"), ("inplace",)),
    "leaky_relu": (_leaky, ("negative_slope", "inplace")),
    "tanh": (_by_name("tanh"), ()),
    "sigmoid": (_by_name("sigmoid"), ()),
    "gelu": (_gelu, ("approximate",)),
    "silu": (_by_name("silu"), ("inplace",)),
    "elu": (_elu, ("alpha", "inplace")),
    "sin": (_by_name("sin"), ()),
    "erf": (_by_name("erf"), ()),
    "abs": (_by_name("abs"), ()),
    "square": (_by_name("square"), ()),
}
_FUNCTION_TARGETS: dict[Any, str] = {
    F.relu: "relu",
    torch.relu: "relu",
    F.leaky_relu: "leaky_relu",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    F.gelu: "gelu",
    F.silu: "silu",
    F.elu: "elu",
    torch.sin: "sin",
    torch.erf: "erf",
    torch.special.erf: "erf",
    torch.abs: "abs",
    torch.square: "square",
}
_METHODS = {"relu", "tanh", "sigmoid", "sin", "erf", "abs", "square"}


def _module_activation(m: nn.Module) -> Activation | None:
    """The registry activation of an activation module, or None when ``m`` is not one."""
    if isinstance(m, nn.ReLU):
        return get_activation("relu")
    if isinstance(m, nn.LeakyReLU):
        return _leaky(m.negative_slope)
    if isinstance(m, nn.Tanh):
        return get_activation("tanh")
    if isinstance(m, nn.Sigmoid):
        return get_activation("sigmoid")
    if isinstance(m, nn.GELU):
        return _gelu(m.approximate)
    if isinstance(m, nn.SiLU):
        return get_activation("silu")
    if isinstance(m, nn.ELU):
        return _elu(m.alpha)
    fn = getattr(m, "fn", None)
    if isinstance(fn, Activation) and not any(True for _ in m.parameters()):
        return fn
    return None


def _bind(name: str, args: Sequence[Any], kwargs: Mapping[str, Any], extra: Sequence[str]) -> list[Any]:
    """The call's extra arguments (after the input) in the order ``extra`` names them."""
    values = list(args[1:])
    if len(values) > len(extra):
        raise UnsupportedModuleError(f"{name} called with {len(args)} positional arguments")
    unknown = set(kwargs) - set(extra) - {"input"}
    if unknown:
        raise UnsupportedModuleError(f"{name} called with unknown keyword arguments {sorted(unknown)}")
    for key in extra[len(values) :]:
        if key in kwargs:
            values.append(kwargs[key])
        else:
            break
    return values


# ---------------------------------------------------------------------------------------------- affine forms
@dataclass
class _Form:
    """Features (flattened in C order, ``shape`` excluding the batch axis) as affine forms of node values.

    Terms: feature ``feat`` gets ``coef`` · h(``node``), times module parameter entry ``param`` when
    ``param ≥ 0``; bias terms: feature ``bfeat`` gets ``bcoef`` (× entry ``bparam`` when ≥ 0). ``nodes`` is
    set when the form is materialized (feature i = h(nodes[i]) exactly)."""

    shape: tuple[int, ...]
    feat: np.ndarray
    node: np.ndarray
    param: np.ndarray
    coef: np.ndarray
    bfeat: np.ndarray
    bparam: np.ndarray
    bcoef: np.ndarray
    sources: tuple[str, ...] = ()
    nodes: np.ndarray | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def has_parameters(self) -> bool:
        return bool((self.param >= 0).any() or (self.bparam >= 0).any())

    @classmethod
    def of_nodes(cls, shape: tuple[int, ...], nodes: np.ndarray, sources: tuple[str, ...] = ()) -> _Form:
        n = len(nodes)
        ints = np.empty(0, dtype=np.int64)
        return cls(
            shape,
            np.arange(n),
            nodes.copy(),
            np.full(n, -1),
            np.ones(n),
            ints,
            ints,
            np.empty(0),
            sources,
            nodes.copy(),
        )

    def scaled(self, c: float) -> _Form:
        return _Form(
            self.shape,
            self.feat,
            self.node,
            self.param,
            self.coef * c,
            self.bfeat,
            self.bparam,
            self.bcoef * c,
            self.sources,
        )

    def plus_constant(self, c: float) -> _Form:
        n = self.size
        return _Form(
            self.shape,
            self.feat,
            self.node,
            self.param,
            self.coef,
            np.concatenate([self.bfeat, np.arange(n)]),
            np.concatenate([self.bparam, np.full(n, -1)]),
            np.concatenate([self.bcoef, np.full(n, float(c))]),
            self.sources,
        )

    def relabelled(self, shape: tuple[int, ...], new_index: np.ndarray) -> _Form:
        """The same terms with feature f renamed ``new_index[f]`` (a permutation), in a new shape."""
        out = _Form(
            shape,
            new_index[self.feat],
            self.node,
            self.param,
            self.coef,
            new_index[self.bfeat],
            self.bparam,
            self.bcoef,
            self.sources,
        )
        if self.nodes is not None:
            nodes = np.empty_like(self.nodes)
            nodes[new_index] = self.nodes
            out.nodes = nodes
        return out


def _concat(forms: Sequence[_Form], shape: tuple[int, ...]) -> _Form:
    """Feature-wise concatenation of forms already relabelled into one index space."""

    def cat(key: str) -> np.ndarray:
        return np.concatenate([getattr(f, key) for f in forms])

    out = _Form(
        shape,
        cat("feat"),
        cat("node"),
        cat("param"),
        cat("coef"),
        cat("bfeat"),
        cat("bparam"),
        cat("bcoef"),
        sources=tuple(dict.fromkeys(s for f in forms for s in f.sources)),
    )
    if all(f.nodes is not None for f in forms):
        nodes = np.empty(math.prod(shape), dtype=np.int64)
        for f in forms:
            nodes[f.feat] = f.node
        out.nodes = nodes
    return out


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Layer:
    """The DagNet nodes one operation created: units ``nodes[0] … nodes[1] − 1`` of the DagNet's own ids.

    ``kind`` is ``input``, ``hidden`` or ``output``; ``name`` the module path or fx node that created them;
    ``sources`` the Linear layers whose weights feed them; ``activation`` the registry name."""

    name: str
    kind: str
    nodes: tuple[int, int]
    activation: str
    sources: tuple[str, ...]
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return self.nodes[1] - self.nodes[0]

    @property
    def label(self) -> str:
        """``source→name`` when the units' weights come from another module (e.g. ``1→2`` for Linear 1 then
        activation 2)."""
        own = [s for s in self.sources if s != self.name]
        return "→".join([*own, self.name]) if own else self.name


@dataclass(frozen=True)
class ParameterMap:
    """θ = offset + scale · p[param] on trainable coordinates, θ = offset on fixed ones (module docstring).

    ``names``/``shapes``/``starts``: the used module parameters (names relative to the root model) and where
    each starts in the flat vector p of their entries; ``unused``: module parameters that do not reach the
    traced output."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    starts: tuple[int, ...]
    param: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    unused: tuple[str, ...]

    @property
    def num_entries(self) -> int:
        return sum(math.prod(s) for s in self.shapes)

    @property
    def trainable(self) -> torch.Tensor:
        """Boolean mask of the θ coordinates that move with a module parameter."""
        return self.param >= 0

    @property
    def num_fixed(self) -> int:
        return int((self.param < 0).sum())

    def _flat(self, source: nn.Module | Mapping[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        for name, shape in zip(self.names, self.shapes):
            tensor: torch.Tensor
            if isinstance(source, nn.Module):
                tensor = source.get_parameter(name)
            else:
                if name not in source:
                    raise KeyError(f"no entry {name!r} among the given parameters")
                tensor = source[name]
            if tuple(tensor.shape) != shape:
                raise ValueError(
                    f"parameter {name!r} has shape {tuple(tensor.shape)}, the map expects {shape}"
                )
            parts.append(tensor.detach().reshape(-1).to(device="cpu", dtype=torch.float64))
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)

    def theta_from(self, source: nn.Module | Mapping[str, torch.Tensor]) -> torch.Tensor:
        """θ (float64) for the parameters of ``source``: the root model or a mapping name → tensor (such as
        its ``state_dict()``)."""
        p = self._flat(source)
        theta = self.offset.clone()
        mask = self.trainable
        theta[mask] += self.scale[mask] * p[self.param[mask]]
        return theta

    def _check(self, theta: torch.Tensor) -> torch.Tensor:
        if not isinstance(theta, torch.Tensor) or theta.shape != self.param.shape:
            shape = tuple(theta.shape) if isinstance(theta, torch.Tensor) else type(theta).__name__
            raise ValueError(f"θ must be a tensor of shape {tuple(self.param.shape)}, got {shape}")
        return theta.detach().to(device="cpu", dtype=torch.float64)

    def _unflatten(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            name: p[start : start + math.prod(shape)].reshape(shape)
            for name, shape, start in zip(self.names, self.shapes, self.starts)
        }

    def parameters_from(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The module parameters (float64) that give ``theta``; ValueError when a fixed coordinate of θ
        differs from its constant (no module parameter could produce it)."""
        theta = self._check(theta)
        fixed = ~self.trainable
        if fixed.any():
            gap = float((theta[fixed] - self.offset[fixed]).abs().max())
            if gap > 0:
                raise ValueError(
                    f"θ changes a fixed coordinate (a residual edge, a structural zero bias or a parameter "
                    f"without requires_grad) by {gap:.3g}; no module parameters give this θ"
                )
        mask = self.trainable
        p = torch.zeros(self.num_entries, dtype=torch.float64)
        p[self.param[mask]] = (theta[mask] - self.offset[mask]) / self.scale[mask]
        return self._unflatten(p)

    def load(self, model: nn.Module, theta: torch.Tensor) -> None:
        """Write the parameters that give ``theta`` into ``model`` (the root model), in its own dtypes."""
        values = self.parameters_from(theta)
        with torch.no_grad():
            for name, value in values.items():
                target = model.get_parameter(name)
                target.copy_(value.to(target))

    def gradient_to_parameters(self, grad_theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """∂L/∂p from ∂L/∂θ by the chain rule, ∂L/∂p = scale · ∂L/∂θ at p's coordinate (float64)."""
        g = self._check(grad_theta)
        mask = self.trainable
        out = torch.zeros(self.num_entries, dtype=torch.float64)
        out[self.param[mask]] = self.scale[mask] * g[mask]
        return self._unflatten(out)

    def direction_to_parameters(self, direction: torch.Tensor) -> dict[str, torch.Tensor]:
        """The change of module parameters that moves θ by ``direction`` (dp = dθ / scale); the direction
        must vanish on fixed coordinates."""
        d = self._check(direction)
        fixed = ~self.trainable
        if fixed.any() and bool((d[fixed] != 0).any()):
            raise ValueError("the direction moves fixed coordinates, which no module parameter controls")
        mask = self.trainable
        out = torch.zeros(self.num_entries, dtype=torch.float64)
        out[self.param[mask]] = d[mask] / self.scale[mask]
        return self._unflatten(out)


@dataclass
class ModuleDag:
    """A traced module as a DagNet: the network, the parameter map and the layers (module docstring).

    ``inputs(x)`` turns a batch for the root model into the DagNet's input matrix (for a ``part``, the feature
    tensor the rest of the model feeds it, computed without gradients); ``net(inputs(x))`` then equals the
    traced module's output, flattened to [batch, outputs]."""

    net: DagNet
    parameter_map: ParameterMap
    layers: tuple[Layer, ...]
    model: nn.Module
    part: str | None
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    @property
    def module(self) -> nn.Module:
        """The traced module: ``model`` itself or its submodule ``part``."""
        return self.model if self.part is None else self.model.get_submodule(self.part)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The DagNet input matrix [batch, n_in] (the net's dtype) for a batch ``x`` of the root model."""
        if self.part is None:
            feats = x
        else:
            feats, _ = part_io(self.model, self.part, x)
        if tuple(feats.shape[1:]) != self.input_shape:
            raise ValueError(
                "the traced module takes inputs of shape "
                f"[batch, {', '.join(map(str, self.input_shape))}], got "
                f"{tuple(feats.shape)}"
            )
        return feats.detach().reshape(feats.shape[0], -1).to(self.net.edge_weight.dtype)

    def theta(self) -> torch.Tensor:
        """θ of the model's current parameters."""
        return self.parameter_map.theta_from(self.model)

    def layer_of(self) -> np.ndarray:
        """Index into :attr:`layers` of every DagNet node (node ids are the DagNet's nodes 0 … N − 1)."""
        out = np.empty(self.net.num_nodes, dtype=np.int64)
        for i, layer in enumerate(self.layers):
            out[layer.nodes[0] : layer.nodes[1]] = i
        return out

    def node_label(self, node: int) -> str:
        layer = self.layers[int(self.layer_of()[node])]
        return f"{layer.label}[{node - layer.nodes[0]}]"


# ---------------------------------------------------------------------------------------------- tracing
class _Tracer(fx.Tracer):
    """torch.fx's tracer, with activation modules (including ``fn``-holding ones) kept as leaves."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if _module_activation_safe(m):
            return True
        return super().is_leaf_module(m, module_qualified_name)


def _module_activation_safe(m: nn.Module) -> bool:
    try:
        return _module_activation(m) is not None
    except UnsupportedModuleError:
        return True  # a leaf, so that the error names it when it is reached


def _trace(module: nn.Module) -> fx.Graph:
    try:
        return _Tracer().trace(module)
    except Exception as err:  # noqa: BLE001 -- fx raises many types (TraceError, TypeError, NotImplementedError)
        raise UnsupportedModuleError(
            f"torch.fx cannot trace {type(module).__name__} ({type(err).__name__}: {err}); "
            "from_module needs a "
            "module whose forward has no data-dependent control flow"
        ) from None


def part_io(model: nn.Module, part: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, output) of the submodule ``part`` when ``model`` runs on ``x`` (no gradients); ValueError
    unless it is called exactly once with one tensor."""
    sub = _submodule(model, part)
    seen: list[tuple[Any, Any]] = []
    handle = sub.register_forward_hook(lambda _m, args, out: seen.append((args, out)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    if len(seen) != 1:
        raise ValueError(
            f"part {part!r} runs {len(seen)} times in one forward pass; it must run exactly once"
        )
    args, out = seen[0]
    if len(args) != 1 or not isinstance(args[0], torch.Tensor) or not isinstance(out, torch.Tensor):
        raise ValueError(f"part {part!r} must take one tensor and return one tensor")
    return args[0], out


def _submodule(model: nn.Module, part: str) -> nn.Module:
    if not isinstance(part, str) or not part:
        raise TypeError(f"part must be the name of a submodule (a non-empty string), got {part!r}")
    try:
        return model.get_submodule(part)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        raise ValueError(
            f"model has no submodule {part!r}; its submodules: {', '.join(names[:20])}"
            f"{' …' if len(names) > 20 else ''}"
        ) from None


def _where(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack")
    return next(reversed(stack)) if stack else ""


def _node_name(node: fx.Node) -> str:
    if node.op == "call_module":
        return str(node.target)
    path = _where(node)
    return f"{path}.{node.name}" if path else node.name


class _Builder:
    """Walks the traced graph, holding every value as a :class:`_Form`, and collects nodes, edges and
    coordinates (module docstring)."""

    def __init__(self, module: nn.Module, prefix: str, uses: Mapping[fx.Node, int]) -> None:
        self.module = module
        self.prefix = prefix
        self.uses = uses
        self.num_nodes = 0
        self.acts: list[Activation | None] = []
        self.layers: list[Layer] = []
        # per materialization: (src, dst, param, scale, offset) of its edges
        self.edge_chunks: list[tuple[np.ndarray, ...]] = []
        # per non-input node
        self.bias: dict[str, list[np.ndarray]] = {"param": [], "scale": [], "offset": []}
        self.params: dict[str, tuple[int, torch.Tensor]] = {}  # name → (start, tensor)
        self.param_owner: dict[int, str] = {}  # id(parameter) → name, for sharing errors
        self.num_entries = 0

    # -- nodes
    def add_inputs(self, shape: tuple[int, ...]) -> _Form:
        n = math.prod(shape)
        nodes = np.arange(n)
        self.num_nodes = n
        self.acts = [None] * n
        self.layers.append(Layer("input", "input", (0, n), "input", (), shape))
        return _Form.of_nodes(shape, nodes)

    def materialize(self, form: _Form, act: Activation, name: str) -> _Form:
        """New nodes with z = ``form`` and h = act(z)."""
        n = form.size
        lo = self.num_nodes
        ids = np.arange(lo, lo + n)
        src, dst, param, scale, offset = self._combine(form.feat, form.node, form.param, form.coef, lo)
        self.edge_chunks.append((src, ids[dst], param, scale, offset))
        bpar, bscale, boff = self._combine_bias(form, n)
        self.bias["param"].append(bpar)
        self.bias["scale"].append(bscale)
        self.bias["offset"].append(boff)
        self.num_nodes += n
        self.acts.extend([act] * n)
        self.layers.append(Layer(name, "hidden", (lo, lo + n), act.name, form.sources, form.shape))
        return _Form.of_nodes(form.shape, ids)

    def _combine(self, feat, node, param, coef, num_nodes):
        """Group terms by edge (node → feature): at most one parameter term each, constants summed."""
        key = feat.astype(np.int64) * num_nodes + node
        uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
        inv = inv.ravel()
        is_param = param >= 0
        counts = np.bincount(inv[is_param], minlength=len(uniq))
        if np.any(counts > 1):
            raise RuntimeError("internal error: two module parameters on one DagNet edge")
        offset = np.bincount(inv, weights=np.where(is_param, 0.0, coef), minlength=len(uniq))
        pid = np.full(len(uniq), -1, dtype=np.int64)
        scale = np.zeros(len(uniq))
        pid[inv[is_param]] = param[is_param]
        scale[inv[is_param]] = coef[is_param]
        return node[first], feat[first], pid, scale, offset

    def _combine_bias(self, form: _Form, n: int):
        is_param = form.bparam >= 0
        counts = np.bincount(form.bfeat[is_param], minlength=n)
        if np.any(counts > 1):
            raise RuntimeError("internal error: two module parameters on one DagNet bias")
        offset = np.bincount(form.bfeat, weights=np.where(is_param, 0.0, form.bcoef), minlength=n)
        pid = np.full(n, -1, dtype=np.int64)
        scale = np.zeros(n)
        pid[form.bfeat[is_param]] = form.bparam[is_param]
        scale[form.bfeat[is_param]] = form.bcoef[is_param]
        return pid, scale, offset

    def materialized(self, form: _Form, name: str) -> _Form:
        return form if form.nodes is not None else self.materialize(form, LINEAR, name)

    # -- parameters
    def register(self, qualified: str, tensor: torch.Tensor, where: str) -> int | None:
        """Start of the parameter's entries in p, or None for a constant (``requires_grad=False``)."""
        if not isinstance(tensor, nn.Parameter):
            raise UnsupportedModuleError(
                f"{where}: its weight is a buffer or computed tensor, not a parameter"
            )
        name = f"{self.prefix}{qualified}"
        if id(tensor) in self.param_owner:
            raise UnsupportedModuleError(
                f"{where}: parameter {name!r} is used a second time "
                f"(first as {self.param_owner[id(tensor)]!r}); "
                "a DagNet has one weight per edge, so shared parameters are not supported"
            )
        if not bool(torch.isfinite(tensor.detach()).all()):
            raise ValueError(f"parameter {name!r} contains NaN or infinite values")
        self.param_owner[id(tensor)] = name
        if not tensor.requires_grad:
            return None
        start = self.num_entries
        self.params[name] = (start, tensor)
        self.num_entries += tensor.numel()
        return start

    def linear(
        self,
        form: _Form,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        wname: str,
        bname: str | None,
        name: str,
    ) -> _Form:
        if len(form.shape) != 1:
            raise UnsupportedModuleError(
                f"layer {name!r} (Linear) is applied to a tensor of shape "
                f"[batch, {', '.join(map(str, form.shape))}]; "
                "on more than one axis each weight would sit on many edges (weight sharing), which a DagNet "
                "cannot express. Supported: " + SUPPORTED
            )
        out_f, in_f = weight.shape
        if in_f != form.shape[0]:
            raise ValueError(f"layer {name!r} expects {in_f} input features, gets {form.shape[0]}")
        nodes, scale = _scaled_nodes(form)
        if nodes is None:
            form = self.materialize(form, LINEAR, f"{name}.input")
            nodes, scale = form.nodes, np.ones(in_f)
        assert nodes is not None
        start = self.register(wname, weight, f"layer {name!r}")
        feat = np.repeat(np.arange(out_f), in_f)
        node = np.tile(nodes, out_f)
        if start is None:
            param, coef = np.full(out_f * in_f, -1), weight.detach().double().reshape(-1).cpu().numpy()
        else:
            param, coef = start + np.arange(out_f * in_f), np.ones(out_f * in_f)
        coef = coef * np.tile(scale, out_f)
        empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
        bfeat, bparam, bcoef = empty_i, empty_i, empty_f
        if bias is not None:
            assert bname is not None
            bstart = self.register(bname, bias, f"layer {name!r}")
            bfeat = np.arange(out_f)
            if bstart is None:
                bparam, bcoef = np.full(out_f, -1), bias.detach().double().reshape(-1).cpu().numpy()
            else:
                bparam, bcoef = bstart + np.arange(out_f), np.ones(out_f)
        return _Form((out_f,), feat, node, param, coef, bfeat, bparam, bcoef, (name,))

    # -- arithmetic
    def add(self, a: _Form, b: _Form, name: str) -> _Form:
        if a.shape != b.shape:
            raise UnsupportedModuleError(
                f"{name!r} adds tensors of shapes [batch, {a.shape}] and [batch, {b.shape}]; "
                "only equal shapes "
                "(no broadcasting) are supported"
            )
        if self._collide(a, b):
            b = self.materialize(b, LINEAR, f"{name}.operand")
        out = _concat([a, b], a.shape)
        out.nodes = None
        return out

    @staticmethod
    def _collide(a: _Form, b: _Form) -> bool:
        """Whether both forms put a module parameter on the same edge or bias."""

        def keys(f: _Form) -> np.ndarray:
            m = f.param >= 0
            return f.feat[m].astype(np.int64) * (1 << 31) + f.node[m]

        if np.intersect1d(keys(a), keys(b)).size:
            return True
        return bool(np.intersect1d(a.bfeat[a.bparam >= 0], b.bfeat[b.bparam >= 0]).size)


def _scaled_nodes(form: _Form) -> tuple[np.ndarray | None, np.ndarray]:
    """(nodes, c) when feature i is exactly c_i · h(nodes[i]) with constant c_i ≠ 0 and distinct nodes (a
    Linear then folds c into its weights' scales), else (None, _)."""
    n = form.size
    if form.nodes is not None:
        return form.nodes, np.ones(n)
    if len(form.feat) != n or len(form.bfeat) or (form.param >= 0).any() or (form.coef == 0).any():
        return None, np.ones(n)
    if not np.array_equal(np.sort(form.feat), np.arange(n)) or len(np.unique(form.node)) != n:
        return None, np.ones(n)
    nodes = np.empty(n, dtype=np.int64)
    scale = np.empty(n)
    nodes[form.feat] = form.node
    scale[form.feat] = form.coef
    return nodes, scale


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class _Interpreter:
    """Evaluates the traced graph on forms (one method per operation kind)."""

    def __init__(self, module: nn.Module, graph: fx.Graph, shape: tuple[int, ...], prefix: str) -> None:
        self.module = module
        self.graph = graph
        self.modules = dict(module.named_modules())
        uses: dict[fx.Node, int] = {}
        for n in graph.nodes:
            for arg in _flat_args(n):
                uses[arg] = uses.get(arg, 0) + 1
        self.builder = _Builder(module, prefix, uses)
        self.shape = shape
        self.env: dict[fx.Node, Any] = {}

    def run(self) -> _Form:
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise UnsupportedModuleError(
                f"the traced forward takes {len(placeholders)} inputs; from_module needs exactly one tensor"
            )
        result = None
        for node in self.graph.nodes:
            if node.op == "placeholder":
                value: Any = self.builder.add_inputs(self.shape)
            elif node.op == "output":
                result = self.arg(node.args[0])
                break
            elif node.op == "get_attr":
                value = _Attr(str(node.target))
            elif node.op == "call_module":
                value = self.call_module(node)
            elif node.op == "call_function":
                value = self.call_function(node)
            elif node.op == "call_method":
                value = self.call_method(node)
            else:
                raise UnsupportedModuleError(f"unknown fx operation {node.op!r}")
            if (
                isinstance(value, _Form)
                and value.nodes is None
                and value.has_parameters
                and self.builder.uses.get(node, 0) > 1
            ):
                value = self.builder.materialize(value, LINEAR, _node_name(node))
            self.env[node] = value
        if not isinstance(result, _Form):
            raise UnsupportedModuleError(
                f"the module must return one tensor, it returns {type(result).__name__}"
            )
        return result

    def arg(self, a: Any) -> Any:
        if isinstance(a, fx.Node):
            return self.env[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self.arg(x) for x in a)
        return a

    def form(self, a: Any, name: str) -> _Form:
        value = self.arg(a)
        if not isinstance(value, _Form):
            raise UnsupportedModuleError(f"{name!r} expects a tensor argument, got {value!r}")
        return value

    def unsupported(self, what: str, name: str) -> UnsupportedModuleError:
        return UnsupportedModuleError(
            f"layer {name!r} ({what}) cannot be expressed as a DagNet (one node per unit). Supported: "
            f"{SUPPORTED}. Pass part=NAME to diagnose a submodule made only of these (e.g. the MLP head)"
        )

    # -- module calls
    def call_module(self, node: fx.Node) -> Any:
        name = str(node.target)
        m = self.modules[name]
        x = self.form(node.args[0], name) if node.args else None
        if len(node.args) != 1 or node.kwargs:
            raise self.unsupported(f"{type(m).__name__} called with {len(node.args)} arguments", name)
        assert x is not None
        if isinstance(m, nn.Linear):
            return self.builder.linear(
                x, m.weight, m.bias, f"{name}.weight", f"{name}.bias" if m.bias is not None else None, name
            )
        try:
            act = _module_activation(m)
        except UnsupportedModuleError as err:
            raise self.unsupported(str(err), name) from None
        if act is not None:
            return self.builder.materialize(x, act, name)
        if isinstance(m, nn.Identity):
            return x
        if isinstance(m, nn.Dropout):
            return self.dropout(x, m.p, m.training, name)
        if isinstance(m, nn.Flatten):
            return self.flatten(x, m.start_dim, m.end_dim, name)
        if isinstance(m, nn.Softplus):
            raise self.unsupported(
                f"Softplus: torch's returns x above threshold={m.threshold:g}, "
                "the registry's softplus is exact; "
                "use a module holding get_activation('softplus') as `fn`",
                name,
            )
        raise self.unsupported(type(m).__name__, name)

    def dropout(self, x: _Form, p: float, training: bool, name: str) -> _Form:
        if training and p > 0:
            raise self.unsupported(
                f"Dropout(p={p:g}) in training mode is random; call model.eval() first", name
            )
        return x

    def int_argument(self, value: object, what: str, name: str) -> int:
        """``value`` as a constant integer argument of an op (a traced tensor there is unsupported)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.unsupported(f"{what} that is not a constant integer", name)
        return value

    def flatten(self, x: _Form, start: int, end: int, name: str) -> _Form:
        ndim = len(x.shape) + 1
        start, end = start % ndim, end % ndim
        if start == 0:
            raise self.unsupported("flatten over the batch axis", name)
        dims = (1, *x.shape)
        shape = (*dims[1:start], math.prod(dims[start : end + 1]), *dims[end + 1 :])
        return self.reshape(x, shape)

    @staticmethod
    def reshape(x: _Form, shape: tuple[int, ...]) -> _Form:
        out = copy.copy(x)
        out.shape = tuple(shape)
        return out

    # -- function calls
    def call_function(self, node: fx.Node) -> Any:
        target = node.target
        name = _node_name(node)
        args, kwargs = node.args, node.kwargs
        if target in _FUNCTION_TARGETS:
            return self.activation(_FUNCTION_TARGETS[target], args, kwargs, name)
        if target in (operator.add, torch.add, operator.sub, torch.sub):
            if kwargs:
                raise self.unsupported(f"{getattr(target, '__name__', target)} with keyword arguments", name)
            sign = -1.0 if target in (operator.sub, torch.sub) else 1.0
            return self.add(args[0], args[1], sign, name)
        if target in (operator.mul, torch.mul, operator.truediv, torch.div):
            return self.multiply(args, kwargs, target in (operator.truediv, torch.div), name)
        if target is operator.neg:
            return self.form(args[0], name).scaled(-1.0)
        if target is F.linear:
            return self.functional_linear(args, kwargs, name)
        if target is torch.cat:
            return self.cat(args, kwargs, name)
        if target is torch.flatten:
            x = self.form(args[0], name)
            start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
            end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
            return self.flatten(
                x,
                self.int_argument(start, "flatten start_dim", name),
                self.int_argument(end, "flatten end_dim", name),
                name,
            )
        if target is F.dropout:
            x = self.form(args[0], name)
            extra = _bind("dropout", args, kwargs, ("p", "training", "inplace"))
            p = extra[0] if extra else 0.5
            training = extra[1] if len(extra) > 1 else True
            return self.dropout(x, p, training, name)
        if target is getattr and len(args) == 2 and args[1] == "shape":
            return _Shape()
        if target is operator.getitem:
            base = self.arg(args[0])
            if isinstance(base, _Shape) and args[1] == 0:
                return _BATCH
            raise self.unsupported("indexing or slicing", name)
        raise self.unsupported(
            f"function {getattr(target, '__module__', '')}.{getattr(target, '__name__', target)}", name
        )

    def activation(self, fname: str, args: Sequence[Any], kwargs: Mapping[str, Any], name: str) -> _Form:
        x = self.form(args[0] if args else kwargs.get("input"), name)
        build, extra = _FUNCTIONS[fname]
        try:
            act = build(*[self.arg(v) for v in _bind(fname, args, kwargs, extra)])
        except UnsupportedModuleError as err:
            raise self.unsupported(str(err), name) from None
        return self.builder.materialize(x, act, name)

    def add(self, a: Any, b: Any, sign: float, name: str) -> _Form:
        va, vb = self.arg(a), self.arg(b)
        if isinstance(va, _Form) and isinstance(vb, _Form):
            return self.builder.add(va, vb.scaled(sign) if sign != 1.0 else vb, name)
        if isinstance(va, _Form) and _number(vb) is not None:
            return va.plus_constant(sign * float(vb))
        if isinstance(vb, _Form) and _number(va) is not None:
            return (vb.scaled(sign) if sign != 1.0 else vb).plus_constant(float(va))
        raise self.unsupported("addition of a tensor that is not a traced feature or a Python number", name)

    def multiply(self, args: Sequence[Any], kwargs: Mapping[str, Any], divide: bool, name: str) -> _Form:
        if kwargs or len(args) != 2:
            raise self.unsupported("multiplication with keyword arguments", name)
        va, vb = self.arg(args[0]), self.arg(args[1])
        if divide:
            c = _number(vb)
            form = va
            if c is not None and c != 0:
                c = 1.0 / c
        else:
            form, c = (va, _number(vb)) if isinstance(va, _Form) else (vb, _number(va))
        if not isinstance(form, _Form) or c is None:
            raise self.unsupported("a product of two tensors (only × a Python number is linear)", name)
        if c == 0 or not math.isfinite(c):
            raise self.unsupported(
                f"multiplication by {c!r} (it would remove the parameters it multiplies)", name
            )
        return form.scaled(c)

    def functional_linear(self, args: Sequence[Any], kwargs: Mapping[str, Any], name: str) -> _Form:
        x = self.form(args[0] if args else kwargs.get("input"), name)
        w = self.arg(args[1] if len(args) > 1 else kwargs.get("weight"))
        b = self.arg(args[2] if len(args) > 2 else kwargs.get("bias"))
        if not isinstance(w, _Attr) or not (b is None or isinstance(b, _Attr)):
            raise self.unsupported("F.linear on tensors that are not the module's own parameters", name)
        weight = w.resolve(self.module)
        bias = b.resolve(self.module) if isinstance(b, _Attr) else None
        return self.builder.linear(
            x, weight, bias, w.target, b.target if isinstance(b, _Attr) else None, name
        )

    def cat(self, args: Sequence[Any], kwargs: Mapping[str, Any], name: str) -> _Form:
        tensors = self.arg(args[0] if args else kwargs.get("tensors"))
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, _Form) for t in tensors):
            raise self.unsupported("torch.cat of something other than a list of traced features", name)
        ndim = len(tensors[0].shape) + 1
        if any(len(t.shape) + 1 != ndim for t in tensors):
            raise self.unsupported("torch.cat of tensors with different numbers of axes", name)
        axis = dim % ndim
        if axis == 0:
            raise self.unsupported("torch.cat along the batch axis", name)
        ids, offset = [], 0
        for t in tensors:
            ids.append(np.arange(offset, offset + t.size).reshape(t.shape))
            offset += t.size
        try:
            joined = np.concatenate(ids, axis=axis - 1)
        except ValueError as err:
            raise self.unsupported(f"torch.cat of incompatible shapes ({err})", name) from None
        position = np.empty(offset, dtype=np.int64)
        position[joined.reshape(-1)] = np.arange(offset)
        starts = np.cumsum([0] + [t.size for t in tensors])
        parts = [t.relabelled(t.shape, position[s : s + t.size]) for t, s in zip(tensors, starts)]
        out = _concat(parts, tuple(joined.shape))
        return out

    # -- method calls
    def call_method(self, node: fx.Node) -> Any:
        method = str(node.target)
        name = _node_name(node)
        args, kwargs = node.args, node.kwargs
        if method in _METHODS:
            return self.activation(method, args, kwargs, name)
        if method in ("add", "sub"):
            return self.add(args[0], args[1], -1.0 if method == "sub" else 1.0, name)
        if method in ("mul", "div"):
            return self.multiply(args, kwargs, method == "div", name)
        if method == "flatten":
            x = self.form(args[0], name)
            start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
            end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
            return self.flatten(
                x,
                self.int_argument(start, "flatten start_dim", name),
                self.int_argument(end, "flatten end_dim", name),
                name,
            )
        if method == "size":
            if len(args) == 2 and args[1] == 0:
                return _BATCH
            raise self.unsupported("size() of a feature axis", name)
        if method in ("view", "reshape"):
            return self.view(args, name)
        raise self.unsupported(f"Tensor.{method}", name)

    def view(self, args: Sequence[Any], name: str) -> _Form:
        x = self.form(args[0], name)
        dims = (
            self.arg(args[1])
            if len(args) == 2 and isinstance(self.arg(args[1]), (list, tuple))
            else [self.arg(a) for a in args[1:]]
        )
        if not dims or dims[0] is not _BATCH:
            raise self.unsupported(
                "view/reshape that does not keep the batch axis (write x.size(0) first)", name
            )
        rest = list(dims[1:])
        if any(not isinstance(d, int) for d in rest) or rest.count(-1) > 1:
            raise self.unsupported("view/reshape with non-constant sizes", name)
        known = math.prod(d for d in rest if d != -1)
        if -1 in rest:
            if known == 0 or x.size % known:
                raise self.unsupported(f"view/reshape of {x.size} features to {rest}", name)
            rest[rest.index(-1)] = x.size // known
        if math.prod(rest) != x.size:
            raise self.unsupported(f"view/reshape of {x.size} features to {rest}", name)
        return self.reshape(x, tuple(rest))


class _BatchSize:
    """The symbolic batch size (x.size(0), x.shape[0])."""


class _Shape:
    """x.shape (only its entry 0, the batch size, is supported)."""


_BATCH = _BatchSize()


@dataclass(frozen=True)
class _Attr:
    """A ``get_attr`` of the traced module (a parameter used by F.linear)."""

    target: str

    def resolve(self, module: nn.Module) -> torch.Tensor:
        return module.get_parameter(self.target)


def _flat_args(node: fx.Node) -> list[fx.Node]:
    out: list[fx.Node] = []

    def collect(n: fx.Node) -> fx.Node:
        out.append(n)
        return n

    fx.node.map_arg((node.args, node.kwargs), collect)
    return out


# ---------------------------------------------------------------------------------------------- assembly
def _output_nodes(builder: _Builder, out: _Form) -> np.ndarray:
    """The output form as nodes that are not inputs and appear once each."""
    nodes = out.nodes
    if (
        nodes is None
        or nodes.min(initial=builder.num_nodes) < builder.layers[0].nodes[1]
        or len(np.unique(nodes)) != len(nodes)
    ):
        nodes = builder.materialize(out, LINEAR, "output").nodes
    assert nodes is not None
    return nodes


def _reaching(builder: _Builder, outputs: np.ndarray) -> np.ndarray:
    """Which nodes reach an output (edges only go from lower to higher ids, chunks in creation order)."""
    reach = np.zeros(builder.num_nodes, dtype=bool)
    reach[outputs] = True
    for src, dst, *_ in reversed(builder.edge_chunks):
        reach[src[reach[dst]]] = True
    return reach


def _assemble(builder: _Builder, out: _Form, model: nn.Module, dtype: torch.dtype, engine: str):
    outputs = _output_nodes(builder, out)
    reach = _reaching(builder, outputs)
    n_in = builder.layers[0].nodes[1]
    if not reach[:n_in].all():
        idle = np.flatnonzero(~reach[:n_in])
        raise UnsupportedModuleError(
            f"input features {idle[:10].tolist()} do not influence the output; a DagNet needs every input "
            "to reach an output"
        )
    # Whole layers are kept or dropped (every supported operation uses all features of its operands).
    keep_layers = [layer for layer in builder.layers if reach[layer.nodes[0]]]
    if any(not reach[layer.nodes[0] : layer.nodes[1]].all() for layer in keep_layers):
        raise RuntimeError("internal error: a layer reaches the output only in part")
    new_id = np.cumsum(reach) - 1
    src = np.concatenate([c[0] for c in builder.edge_chunks])
    dst = np.concatenate([c[1] for c in builder.edge_chunks])
    eparam, escale, eoff = (np.concatenate([c[k] for c in builder.edge_chunks]) for k in (2, 3, 4))
    keep_edge = reach[dst]
    src, dst = new_id[src[keep_edge]], new_id[dst[keep_edge]]
    eparam, escale, eoff = eparam[keep_edge], escale[keep_edge], eoff[keep_edge]
    bparam, bscale, boff = (np.concatenate(builder.bias[k]) for k in ("param", "scale", "offset"))
    keep_bias = reach[n_in:]
    bparam, bscale, boff = bparam[keep_bias], bscale[keep_bias], boff[keep_bias]
    num_nodes = int(reach.sum())
    acts = [a for a, r in zip(builder.acts, reach) if r]
    layers, kept_names = [], []
    for layer in keep_layers:
        lo, hi = int(new_id[layer.nodes[0]]), int(new_id[layer.nodes[1] - 1]) + 1
        kind = layer.kind
        layers.append(Layer(layer.name, kind, (lo, hi), layer.activation, layer.sources, layer.shape))
        kept_names.append(layer.name)
    out_ids = new_id[outputs]
    out_set = set(out_ids.tolist())
    layers = [
        Layer(la.name, "output", la.nodes, la.activation, la.sources, la.shape)
        if la.kind == "hidden" and la.nodes[0] in out_set
        else la
        for la in layers
    ]
    # Parameters: used entries must each sit in exactly one coordinate; renumber the used parameters.
    used_param = np.concatenate([eparam[eparam >= 0], bparam[bparam >= 0]])
    counts = np.bincount(used_param, minlength=builder.num_entries)
    if np.any(counts > 1):
        raise RuntimeError("internal error: a module parameter entry sits in two DagNet coordinates")
    names: list[str] = []
    shapes: list[tuple[int, ...]] = []
    starts: list[int] = []
    unused: list[str] = []
    new_start = 0
    entry_map = np.full(builder.num_entries, -1, dtype=np.int64)
    for name, (start, tensor) in builder.params.items():
        block = counts[start : start + tensor.numel()]
        if not block.any():
            unused.append(name)
            continue
        if not block.all():
            raise RuntimeError(f"internal error: parameter {name!r} is only partly used")
        entry_map[start : start + tensor.numel()] = new_start + np.arange(tensor.numel())
        names.append(name)
        shapes.append(tuple(tensor.shape))
        starts.append(new_start)
        new_start += tensor.numel()
    eparam = np.where(eparam >= 0, entry_map[np.maximum(eparam, 0)], -1)
    bparam = np.where(bparam >= 0, entry_map[np.maximum(bparam, 0)], -1)
    registered_params = {id(p) for _, p in builder.params.values()} | set(builder.param_owner)
    unused += [
        n
        for n, p in model.named_parameters()
        if id(p) not in registered_params and n.startswith(builder.prefix)
    ]
    # θ of the current parameters, in the order of our edges, then the DagNet.
    flat = (
        torch.cat([builder.params[n][1].detach().reshape(-1).double().cpu() for n in names])
        if names
        else torch.zeros(0, dtype=torch.float64)
    )
    flat_np = flat.numpy()
    w = eoff + np.where(eparam >= 0, escale * flat_np[np.maximum(eparam, 0)], 0.0)
    b = boff + np.where(bparam >= 0, bscale * flat_np[np.maximum(bparam, 0)], 0.0)
    nodes = list(range(num_nodes))
    edges = list(zip(src.tolist(), dst.tolist()))
    activations: dict[Node, Activation] = {}
    for v in range(n_in, num_nodes):
        act = acts[v]
        if act is None:
            raise RuntimeError(f"internal error: node {v} has no activation")
        activations[v] = act
    net = DagNet(
        nodes,
        list(range(n_in)),
        out_ids.tolist(),
        edges,
        w.tolist(),
        dict(zip(range(n_in, num_nodes), b.tolist())),
        activations,
        dtype=dtype,
        engine=engine,
    )
    # The DagNet orders edges by (target, source) position and nodes by generation: map our coordinates.
    pos = np.asarray([net.index[v] for v in nodes], dtype=np.int64)
    order = np.lexsort((pos[src], pos[dst]))
    if not (
        np.array_equal(pos[src][order], net.edge_src.numpy())
        and np.array_equal(pos[dst][order], net.edge_dst.numpy())
    ):
        raise RuntimeError("internal error: the DagNet's edge order differs from the expected one")
    bias_order = np.asarray([cast(int, v) - n_in for v in net.bias_nodes], dtype=np.int64)
    pmap = ParameterMap(
        names=tuple(names),
        shapes=tuple(shapes),
        starts=tuple(starts),
        param=torch.from_numpy(np.concatenate([eparam[order], bparam[bias_order]])),
        scale=torch.from_numpy(np.concatenate([escale[order], bscale[bias_order]])),
        offset=torch.from_numpy(np.concatenate([eoff[order], boff[bias_order]])),
        unused=tuple(unused),
    )
    return net, pmap, tuple(layers)


def from_module(
    model: nn.Module,
    example_input: torch.Tensor,
    part: str | None = None,
    dtype: torch.dtype = torch.float64,
    engine: str = "auto",
) -> ModuleDag:
    """The DagNet equivalent to ``model`` (or to its submodule ``part``) with the parameter map (module
    docstring). ``example_input`` is a batch for ``model``; it fixes the input shape and is used to check the
    result. ``dtype`` and ``engine`` are the DagNet's."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(example_input, torch.Tensor) or example_input.ndim < 2 or example_input.shape[0] < 1:
        shape = (
            tuple(example_input.shape)
            if isinstance(example_input, torch.Tensor)
            else type(example_input).__name__
        )
        raise ValueError(f"example_input must be a batch tensor [batch ≥ 1, features…], got {shape}")
    if not example_input.dtype.is_floating_point or not bool(torch.isfinite(example_input).all()):
        raise ValueError("example_input must be a finite floating tensor")
    if part is None:
        module, feats, prefix = model, example_input, ""
    else:
        module = _submodule(model, part)
        feats, _ = _run(lambda: part_io(model, part, example_input))
        prefix = f"{part}."
    if feats.ndim < 2:
        raise UnsupportedModuleError(
            f"the traced module gets a tensor of shape {tuple(feats.shape)}, not a batch"
        )
    graph = _trace(module)
    interp = _Interpreter(module, graph, tuple(feats.shape[1:]), prefix)
    out = interp.run()
    net, pmap, layers = _assemble(interp.builder, out, model, dtype, engine)
    result = ModuleDag(net, pmap, layers, model, part, tuple(feats.shape[1:]), out.shape)
    _check_reproduction(result, module, feats)
    return result


def _run(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ValueError, TypeError):
        raise
    except Exception as err:  # noqa: BLE001 -- a model's forward can fail in any way; reported, not hidden
        raise ValueError(f"the model cannot run on the example input ({type(err).__name__}: {err})") from None


def _check_reproduction(md: ModuleDag, module: nn.Module, feats: torch.Tensor) -> None:
    """The DagNet's outputs against the module's own float64 forward on the example (module docstring)."""
    reference = copy.deepcopy(module).double()
    with torch.no_grad():
        expected = _run(lambda: reference(feats.detach().double()))
        got = md.net(feats.detach().reshape(feats.shape[0], -1).to(md.net.edge_weight.dtype))
    expected = expected.reshape(expected.shape[0], -1)
    if expected.shape != got.shape:
        raise RuntimeError(
            f"internal error: DagNet outputs {tuple(got.shape)}, module {tuple(expected.shape)}"
        )
    scale = max(1.0, float(expected.abs().max()))
    gap = float((expected - got.double()).abs().max())
    if not gap <= REPRODUCTION_RTOL * scale:
        raise UnsupportedModuleError(
            f"the DagNet does not reproduce the module (max difference {gap:.3g} on the example input, "
            f"relative {gap / scale:.3g} > {REPRODUCTION_RTOL:g}): it uses an operation from_module reads "
            "differently. "
            f"Supported: {SUPPORTED}"
        )
