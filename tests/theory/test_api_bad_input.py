"""The theory API on bad input: every call ends in one ValueError/TypeError that names the problem and the
valid choices — no raw numpy/torch error, nothing silently accepted (issue: robustness, §3 and §6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from theory.activations import from_callable, get_activation, kaiming_gain, modulated
from theory.bounds import (
    apply_kernel,
    decorrelation_gap,
    gap_constant_profile,
    gap_lower_bound,
    rank_gain_ratio,
)
from theory.frozen import frozen_intervals, frozen_probability
from theory.hermite import hermite_coefficient_mp, hermite_coefficients, hermite_expansion, hermite_tail
from theory.kernels import alpha, kernel, kernel_direct
from theory.random_matrices import sample_correlation
from theory.ranks import renyi2_rank, shannon_rank, stable_rank, validate_correlation

BAD = [
    ("name None", lambda: get_activation(None), TypeError, "registered name or a callable"),
    ("name 3.5", lambda: get_activation(3.5), TypeError, "registered name or a callable"),
    ("name ':0.2'", lambda: get_activation(":0.2"), ValueError, "valid choices"),
    ("name 'elu:1e999'", lambda: get_activation("elu:1e999"), ValueError, "must be finite"),
    ("name 'softplus:nan'", lambda: get_activation("softplus:nan"), ValueError, "finite positive"),
    ("scale nan", lambda: modulated("relu", math.nan), ValueError, "finite non-zero"),
    ("scale 1e-320", lambda: modulated("relu", 1e-320), ValueError, "≥ 2.23e-308"),
    ("shift None", lambda: modulated("relu", 1.0, None), TypeError, "real number"),
    ("r 1.5", lambda: kernel("relu", 1.5), ValueError, "[-1, 1]"),
    ("r complex", lambda: kernel("relu", 1j), ValueError, "numbers in [-1, 1]"),
    ("r None", lambda: kernel("relu", None), ValueError, "must be finite"),
    ("r ragged", lambda: kernel("relu", [[0.1, 0.2], [0.3]]), ValueError, "numbers in [-1, 1]"),
    (
        "kernel method",
        lambda: kernel("relu", 0.5, method="Series"),
        ValueError,
        "valid choices: auto, series",
    ),
    ("closed tanh", lambda: kernel("tanh", 0.5, method="closed"), ValueError, "no closed-form kernel"),
    ("direct nan", lambda: kernel_direct("tanh", math.nan), ValueError, "must be finite"),
    ("alpha method", lambda: alpha("relu", method=None), ValueError, "valid choices: hermite, stein, closed"),
    ("alpha closed gelu", lambda: alpha("gelu", "closed"), ValueError, "no closed-form α"),
    ("constant callable", lambda: alpha(lambda x: x * 0), ValueError, "constant"),
    ("nan callable", lambda: alpha(lambda x: torch.full_like(x, math.nan)), ValueError, "not finite"),
    (
        "callable at a = 1e6",
        lambda: alpha(from_callable(torch.tanh).modulated(1e6)),
        ValueError,
        "quadrature panels",
    ),
    (
        "callable direct a = 300",
        lambda: kernel_direct(from_callable(torch.tanh).modulated(300), 0.5),
        ValueError,
        "evaluations per r",
    ),
    ("gain -1", lambda: from_callable(torch.tanh, kaiming_gain=-1), ValueError, "finite positive"),
    ("no gain", lambda: kaiming_gain(torch.tanh), ValueError, "no Kaiming gain"),
    ("eps 0", lambda: frozen_probability("relu", 0), ValueError, "finite positive"),
    ("eps 'x'", lambda: frozen_probability("relu", "x"), ValueError, "finite positive"),
    ("eps None", lambda: frozen_probability("relu", None), ValueError, "finite positive"),
    ("eps inf", lambda: frozen_probability("relu", math.inf), ValueError, "finite positive"),
    ("frozen method", lambda: frozen_probability("relu", method="exact"), ValueError, "valid choices: roots"),
    ("frozen closed gelu", lambda: frozen_probability("gelu", method="closed"), ValueError, "no closed-form"),
    ("sin(1e6 z) intervals", lambda: frozen_intervals(modulated("sin", 1e6)), ValueError, "without listing"),
    (
        "sin(1e6 z) slow set",
        lambda: modulated("sin", 1e6).closed_form_slow_set(1e-8),
        ValueError,
        "narrower window",
    ),
    ("degree -1", lambda: hermite_coefficients("relu", -1), ValueError, "integer in [0, 20000]"),
    ("degree 2.5", lambda: hermite_coefficients("relu", 2.5), ValueError, "integer in [0, 20000]"),
    ("degree '3'", lambda: hermite_coefficients("relu", "3"), ValueError, "integer"),
    ("expansion degree 0", lambda: hermite_expansion("relu", 0), ValueError, "integer in [1, 20000]"),
    ("tail degree -5", lambda: hermite_tail("relu", -5), ValueError, "integer"),
    ("mp index 1.5", lambda: hermite_coefficient_mp("relu", 1.5), ValueError, "integer"),
    ("C entries 2", lambda: apply_kernel("relu", [[1, 2], [2, 1]]), ValueError, "[-1, 1]"),
    ("C empty", lambda: apply_kernel("relu", np.zeros((0, 0))), ValueError, "non-empty square"),
    ("C nan", lambda: apply_kernel("relu", np.array([[1, np.nan], [np.nan, 1]])), ValueError, "non-finite"),
    ("C not square", lambda: rank_gain_ratio("relu", np.eye(3)[:2]), ValueError, "non-empty square"),
    ("C asymmetric", lambda: validate_correlation([[1, 0.5], [0.4, 1]]), ValueError, "symmetric"),
    ("C diagonal", lambda: validate_correlation([[1, 0.5], [0.5, 1.0000001]]), ValueError, "unit diagonal"),
    ("gap r 2", lambda: decorrelation_gap("relu", 2), ValueError, "[-1, 1]"),
    ("gap ratio r 0", lambda: gap_constant_profile("relu", 0), ValueError, "undefined at r"),
    ("zero matrix", lambda: renyi2_rank(np.zeros((2, 2))), ValueError, "zero matrix"),
    ("stable inf", lambda: stable_rank([[np.inf]]), ValueError, "non-finite"),
    ("shannon not square", lambda: shannon_rank(np.ones((2, 3))), ValueError, "non-empty square"),
    ("sample d 1", lambda: sample_correlation(np.random.default_rng(0), 1, "gram"), ValueError, "[2, 10000]"),
    (
        "sample kind",
        lambda: sample_correlation(np.random.default_rng(0), 3, "nope"),
        ValueError,
        "valid choices",
    ),
]


@pytest.mark.parametrize("call, kind, fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_raises_one_clear_error(call, kind, fragment):
    with pytest.raises(kind) as info:
        call()
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_bug_callable_exception_leaks_raw_error():
    """alpha(math.sin) ended in torch's 'only one element tensors can be converted to Python scalars'."""
    with pytest.raises(
        ValueError, match="'sin' failed on a float64 tensor .* must be an elementwise torch function"
    ):
        alpha(math.sin)


def test_bug_callable_not_elementwise_accepted():
    """A reduction (x.sum()) broadcast silently to every node and gave a 'constant' or a wrong α."""
    with pytest.raises(ValueError, match="elementwise torch function: a float64 tensor of shape"):
        alpha(lambda x: x.sum())


def test_bug_gap_lower_bound_accepts_nan_constant():
    with pytest.raises(ValueError, match="finite number"):
        gap_lower_bound("relu", 0.5, constant=math.nan)
    with pytest.raises(ValueError, match="finite number"):
        gap_lower_bound("relu", 0.5, constant="x")


def test_bug_renyi2_rank_accepts_indefinite_matrix():
    """er₂ of diag(1, −1) returned 0.0: its 'symmetric PSD' check only checked symmetry."""
    with pytest.raises(ValueError, match="positive semi-definite"):
        renyi2_rank([[1.0, 0.0], [0.0, -1.0]])


def test_bug_shannon_rank_clips_negative_eigenvalues():
    """Negative eigenvalues were clipped to 0 whatever their size: [[0, 1], [1, 0]] got rank 1."""
    with pytest.raises(ValueError, match="positive semi-definite"):
        shannon_rank([[0.0, 1.0], [1.0, 0.0]])
    assert shannon_rank(np.eye(3) - 1e-17) == pytest.approx(3.0)  # rounding-negative stays accepted


def test_bug_callable_kinks_not_validated():
    """kinks=('a',) gave Python's 'could not convert string to float', kinks=[nan] was accepted."""
    for kinks, kind, message in (
        (("a",), TypeError, "real number"),
        ([math.nan], ValueError, "finite"),
        (3, TypeError, "sequence"),
    ):
        with pytest.raises(kind, match=message):
            from_callable(torch.tanh, kinks=kinks)


def test_bug_hermite_degree_unbounded():
    """degree=10**9 started a computation of hours; True and 2.5 were taken as 1 and 2."""
    for degree in (10**9, True, 2.5):
        with pytest.raises(ValueError, match="integer in"):
            hermite_coefficients("relu", degree)
    assert hermite_coefficients("relu", 0).shape == (1,)  # degree 0 is a_0 alone


def test_bug_scale_accepts_bool_and_str():
    for bad in (True, "2"):
        with pytest.raises(TypeError, match="real number"):
            modulated("relu", bad)


def test_bug_raw_numpy_errors_for_non_numbers():
    """kernel('relu', [0.5, 'a']) and rank_gain_ratio('relu', 'abc') ended in numpy's conversion errors."""
    with pytest.raises(ValueError, match="numbers in \\[-1, 1\\]"):
        kernel("relu", [0.5, "a"])
    with pytest.raises(ValueError, match="square matrix of real numbers"):
        rank_gain_ratio("relu", "abc")
    with pytest.raises(TypeError, match="numpy Generator"):
        sample_correlation(0, 3, "gram")
    with pytest.raises(ValueError, match=r"\[2, 10000\]"):
        sample_correlation(np.random.default_rng(0), 10**6, "gram")
