"""Appendix A.2 / Figure A.2: γ is monotone in the ReLU bias and the tanh gain; for ReLU, γ → 1 forces the
frozen probability to 1; for tanh the gain alone caps γ at (π − 2)/(π + 2)."""

from __future__ import annotations

import math

import numpy as np

from theory.activations import modulated
from theory.frozen import frozen_probability
from theory.kernels import gamma


def test_relu_bias_tradeoff():
    biases = np.linspace(-4, 4, 17)
    g = np.array([gamma(modulated("relu", 1.0, b)) for b in biases])
    p = np.array([frozen_probability(modulated("relu", 1.0, b)) for b in biases])
    assert np.all(np.diff(g) < 0) and np.all(np.diff(p) < 0)  # both fall as b grows
    assert g[0] > 0.99 and p[0] > 0.9999


def test_tanh_gain_monotone_but_capped():
    gains = np.geomspace(0.1, 50, 12)
    g = np.array([gamma(modulated("tanh", a)) for a in gains])
    assert np.all(np.diff(g) > 0)
    assert g[-1] < (1 - 2 / math.pi) / (1 + 2 / math.pi)
