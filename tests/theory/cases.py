"""The activation zoo every theory test runs on: all registered families plus modulated ones (App. A.2)."""

from __future__ import annotations

from theory.activations import get_activation, registered_names

MODULATED = (
    ("relu", 1.0, -1.0),
    ("relu", -2.0, 0.5),
    ("tanh", 3.0, 0.5),
    ("sin", 2.0, 0.3),
    ("erf", 0.5, 0.0),
    ("elu", 2.0, -1.0),
    ("gelu", 0.5, 1.0),
    ("square", 1.5, 0.5),
    ("abs", 1.0, 0.7),
)
ZOO = [(n, 1.0, 0.0) for n in registered_names()] + list(MODULATED)
ZOO_IDS = [f"{n}({a:g},{b:g})" for n, a, b in ZOO]


def build(spec: tuple[str, float, float]):
    name, a, b = spec
    return get_activation(name).modulated(a, b)
