"""Activations as types: family, parameter, Kaiming gain, closed forms and the cache key (issue: caches
keyed by ``id()`` and families parsed from names)."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
import torch
from torch import nn

from theory.activations import CALLABLE_FAMILY, from_callable, get_activation, kaiming_gain, registered_names
from theory.frozen import frozen_probability
from theory.kernels import alpha, kernel
from theory.memo import BoundedMemo


def test_bug_alpha_cache_keyed_by_id() -> None:
    """alpha(lambda x: 2*x) then alpha(lambda x: x**3) returned 1.0: the second lambda reused
    the first's id."""
    results = []
    for _ in range(20):  # fresh lambdas, collected in between, so ids are reused
        results.append((alpha(lambda x: 2 * x), alpha(lambda x: x**3)))
        gc.collect()
    # x³: a_1 = E[Z·Z³] = 3, Var = E[Z⁶] = 15, so α = 9/15 exactly; 2x is linear, α = 1
    for linear, cubic in results:
        assert linear == pytest.approx(1.0, abs=1e-12)
        assert cubic == pytest.approx(0.6, abs=1e-12)


def test_bug_stale_cache_hit_skips_the_nonfinite_check() -> None:
    alpha(lambda x: torch.tanh(x))
    gc.collect()
    with pytest.raises(ValueError, match="not finite"):
        alpha(lambda x: torch.where(x > 3.0, torch.full_like(x, math.inf), x))  # infinite beyond z = 3


def test_bug_frozen_probability_cache_keyed_by_id() -> None:
    for _ in range(10):
        assert frozen_probability(lambda x: 2 * x) == 0.0  # |ψ'| = 2 ≥ ε everywhere
        gc.collect()
        assert frozen_probability(lambda x: 0.001 * x) == 1.0  # |ψ'| = 0.001 < ε everywhere
        gc.collect()


def test_bug_callable_named_like_a_family_gets_no_closed_form() -> None:
    def relu(x: torch.Tensor) -> torch.Tensor:  # named relu, computes tanh
        return torch.tanh(x)

    act = get_activation(relu)
    assert act.family == CALLABLE_FAMILY and act.name == "relu"
    assert act.closed_form_kernel(0.5) is None and act.closed_form_alpha() is None
    with pytest.raises(ValueError, match="no closed-form kernel"):
        kernel(relu, 0.5, method="closed")
    assert alpha(relu) == pytest.approx(alpha("tanh"), rel=1e-12)


def test_bug_swish_kaiming_gain_differs_between_tables() -> None:
    """``swish`` (an alias of silu) got gain 1 in the CBP table and √2 in the bit-flipping one."""
    from experiments.optim.cbp_targets import reinit_gain

    assert get_activation("swish").family == "silu"
    assert kaiming_gain("swish") == kaiming_gain("silu") == math.sqrt(2.0)
    assert reinit_gain("swish", "kaiming") == math.sqrt(2.0)


@pytest.mark.parametrize(
    "name, torch_args",
    [
        ("relu", ("relu",)),
        ("tanh", ("tanh",)),
        ("sigmoid", ("sigmoid",)),
        ("linear", ("linear",)),
        ("leaky_relu:0.2", ("leaky_relu", 0.2)),
        ("leaky_relu", ("leaky_relu", 0.01)),
    ],
)
def test_kaiming_gain_matches_torch(name: str, torch_args: tuple) -> None:
    assert kaiming_gain(name) == pytest.approx(nn.init.calculate_gain(*torch_args), rel=1e-15)


def test_every_family_has_a_gain_and_callables_need_one() -> None:
    for name in registered_names():
        act = get_activation(name)
        assert act.family == name and act.kaiming_gain is not None and act.kaiming_gain > 0
    with pytest.raises(ValueError, match="no Kaiming gain"):
        kaiming_gain(lambda x: x)
    assert kaiming_gain(from_callable(torch.sin, kaiming_gain=1.5)) == 1.5
    with pytest.raises(ValueError, match="kaiming_gain must be a finite positive"):
        from_callable(torch.sin, kaiming_gain=-1.0)


def test_modulation_keeps_family_parameter_and_gain() -> None:
    psi = get_activation("leaky_relu:0.2").modulated(2.0, -0.5)
    assert (psi.family, psi.parameter, psi.kaiming_gain) == (
        "leaky_relu",
        0.2,
        kaiming_gain("leaky_relu:0.2"),
    )


def test_key_is_by_value_for_registered_and_by_object_for_callables() -> None:
    assert get_activation("leaky_relu:0.2").key == get_activation("leaky_relu:0.20").key
    assert get_activation("leaky_relu:0.2").key != get_activation("leaky_relu:0.3").key
    assert get_activation("relu").modulated(2.0).key != get_activation("relu").key

    def f(x: torch.Tensor) -> torch.Tensor:
        return x * x

    assert get_activation(f).key == get_activation(f).key  # two wrappers of one function
    assert get_activation(f).key != get_activation(lambda x: x * x).key
    hash(get_activation(f).key)


def test_bounded_memo_drops_the_least_recently_used() -> None:
    memo: BoundedMemo[int] = BoundedMemo(maxsize=2)
    calls = []

    def compute(v: int):
        return lambda: calls.append(v) or v

    assert memo.get_or_compute("a", compute(1)) == 1
    assert memo.get_or_compute("b", compute(2)) == 2
    assert memo.get_or_compute("a", compute(9)) == 1  # a hit refreshes "a"
    memo.get_or_compute("c", compute(3))  # evicts "b"
    assert "b" not in memo and "a" in memo and len(memo) == 2
    assert calls == [1, 2, 3]
    with pytest.raises(ValueError, match="positive"):
        BoundedMemo(0)


def test_theory_memos_stay_bounded_over_many_callables() -> None:
    from theory import hermite

    for k in range(hermite._MOMENTS.maxsize + 20):
        alpha(lambda x, k=k: x + 1e-3 * k * x * x)
    assert len(hermite._MOMENTS) <= hermite._MOMENTS.maxsize
    assert np.isfinite(alpha(lambda x: x + x * x))
