"""Continual Backpropagation (Appendix B.1.2): every rule of experiments/optim/cbp.py, each proved by a test.

Hand computations use explicit Python loops in float64, independent of the vectorized code.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from experiments.optim.cbp import ContinualBackprop, UnitLayer, kaiming_uniform_bound
from theory.activations import RELU_GAIN, TANH_GAIN

EXACT = 0.0
FLOAT64_TOL = 1e-12


class TwoLayer(nn.Module):
    def __init__(self, n_in: int = 3, n_hidden: int = 4, n_out: int = 2, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc1 = nn.Linear(n_in, n_hidden).double()
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(n_hidden, n_out).double()
        with torch.no_grad():  # positive biases keep every ReLU unit alive, so utilities differ
            self.fc1.bias.uniform_(0.5, 1.0)
            self.fc2.bias.uniform_(-1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    def unit_layers(self) -> list[UnitLayer]:
        return [UnitLayer(self.fc1, self.fc2, self.act)]


def _batches(count: int, batch: int = 5, n_in: int = 3, seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(batch, n_in, generator=generator, dtype=torch.float64) for _ in range(count)]


def _train(net: TwoLayer, cbp: ContinualBackprop, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> list:
    optimizer.zero_grad()
    net(x).pow(2).mean().backward()
    optimizer.step()
    return cbp.step()


def _hand_utilities(net: TwoLayer, batches: list[torch.Tensor], rho: float, adaptable: bool) -> list[float]:
    """û after len(batches) steps without replacement, with loops (weights fixed: lr = 0)."""
    w1, b1, w2 = net.fc1.weight.tolist(), net.fc1.bias.tolist(), net.fc2.weight.tolist()
    units = len(w1)
    mean_act, util = [0.0] * units, [0.0] * units
    for age, x in enumerate(batches, start=1):
        rows = x.tolist()
        for i in range(units):
            hs = [max(0.0, sum(w * v for w, v in zip(w1[i], row)) + b1[i]) for row in rows]
            mean_act[i] = rho * mean_act[i] + (1 - rho) * sum(hs) / len(hs)
            corrected = mean_act[i] / (1 - rho**age)
            out_mag = sum(abs(w2[k][i]) for k in range(len(w2))) / len(w2)
            if adaptable:
                in_mag = sum(abs(w) for w in w1[i]) / len(w1[i])
                new = sum(abs(h - corrected) for h in hs) / len(hs) * out_mag / in_mag
            else:
                new = sum(abs(h) for h in hs) / len(hs) * out_mag
            util[i] = rho * util[i] + (1 - rho) * new
    age = len(batches)
    return [u / (1 - rho**age) for u in util]


@pytest.mark.parametrize("utility", ["contribution", "adaptable_contribution"])
def test_utilities_match_hand_computation(utility: str) -> None:
    net, rho = TwoLayer(), 0.9
    cbp = ContinualBackprop(net.unit_layers(), replacement_rate=0.0, decay_rate=rho, utility=utility)
    batches = _batches(4)
    for x in batches:
        net(x)
        cbp.step()
    expected = _hand_utilities(net, batches, rho, adaptable=utility == "adaptable_contribution")
    torch.testing.assert_close(
        cbp.bias_corrected_utility(0), torch.tensor(expected, dtype=torch.float64), rtol=FLOAT64_TOL, atol=0.0
    )
    cbp.close()


def _replacement_setup(optimizer_name: str = "sgd"):
    """Two identical nets; ``a`` never replaces (reference statistics), ``b`` replaces 1 unit at step 3."""
    net_a, net_b = TwoLayer(), TwoLayer()
    net_b.load_state_dict(net_a.state_dict())
    make_opt = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    }[optimizer_name]
    opt_a, opt_b = make_opt(net_a.parameters()), make_opt(net_b.parameters())
    # 4 units, maturity 2, rate 1/4: at step 3 all 4 are eligible, budget 1 -> exactly one replacement.
    kwargs = {"replacement_rate": 0.25, "maturity_threshold": 2, "decay_rate": 0.9}
    cbp_a = ContinualBackprop(net_a.unit_layers(), opt_a, **{**kwargs, "replacement_rate": 0.0})
    cbp_b = ContinualBackprop(
        net_b.unit_layers(), opt_b, generator=torch.Generator().manual_seed(7), **kwargs
    )
    return net_a, net_b, opt_a, opt_b, cbp_a, cbp_b


def test_replacement_changes_exactly_the_lowest_utility_unit_and_preserves_mean_output() -> None:
    net_a, net_b, opt_a, opt_b, cbp_a, cbp_b = _replacement_setup()
    batches = _batches(3)
    for x in batches[:2]:
        assert _train(net_a, cbp_a, opt_a, x)[0].numel() == 0
        assert _train(net_b, cbp_b, opt_b, x)[0].numel() == 0
    _train(net_a, cbp_a, opt_a, batches[2])
    replaced = _train(net_b, cbp_b, opt_b, batches[2])[0]
    # Same trajectory so far: net_a holds net_b's pre-replacement weights and statistics.
    expected_unit = int(torch.argmin(cbp_a.bias_corrected_utility(0)))
    assert replaced.tolist() == [expected_unit]
    i, others = expected_unit, [j for j in range(4) if j != expected_unit]
    assert not torch.equal(net_b.fc1.weight[i], net_a.fc1.weight[i])
    torch.testing.assert_close(net_b.fc1.weight[others], net_a.fc1.weight[others], rtol=EXACT, atol=EXACT)
    torch.testing.assert_close(net_b.fc1.bias[others], net_a.fc1.bias[others], rtol=EXACT, atol=EXACT)
    assert net_b.fc1.bias.detach()[i].item() == 0.0
    assert torch.all(net_b.fc2.weight[:, i] == 0.0)
    torch.testing.assert_close(
        net_b.fc2.weight[:, others], net_a.fc2.weight[:, others], rtol=EXACT, atol=EXACT
    )
    # Bias correction: next layer's output on the (bias-corrected) mean activation is unchanged ...
    mean_act = cbp_a.bias_corrected_mean_activation(0)
    out_a = net_a.fc2.weight @ mean_act + net_a.fc2.bias
    out_b = net_b.fc2.weight @ mean_act + net_b.fc2.bias
    torch.testing.assert_close(out_b, out_a, rtol=FLOAT64_TOL, atol=FLOAT64_TOL)
    # ... and it used the mean BEFORE its reset (GnT's bug would leave the bias unchanged).
    assert float(mean_act[i]) > 0.0
    assert not torch.equal(net_b.fc2.bias, net_a.fc2.bias)
    # Statistics of the replaced unit reset, others untouched.
    state_a, state_b = cbp_a.states[0], cbp_b.states[0]
    assert (
        int(state_b.age[i]) == 0
        and float(state_b.utility[i]) == 0.0
        and float(state_b.mean_activation[i]) == 0.0
    )
    torch.testing.assert_close(state_b.utility[others], state_a.utility[others], rtol=EXACT, atol=EXACT)


def test_new_incoming_weights_are_kaiming_uniform_draws() -> None:
    requests: list[tuple[tuple[int, ...], float]] = []

    def sampler(shape: tuple[int, ...], bound: float) -> torch.Tensor:
        requests.append((shape, bound))
        return torch.full(shape, 0.125, dtype=torch.float64)

    net = TwoLayer()
    cbp = ContinualBackprop(net.unit_layers(), replacement_rate=0.25, maturity_threshold=0, sampler=sampler)
    net(_batches(1)[0])
    (replaced,) = cbp.step()
    assert requests == [((1, 3), math.sqrt(2.0) * math.sqrt(3.0 / 3))]
    assert torch.all(net.fc1.weight[replaced] == 0.125)
    assert kaiming_uniform_bound(3, RELU_GAIN) == requests[0][1]


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_optimizer_state_reset_exactly_on_replaced_entries(optimizer_name: str) -> None:
    net_a, net_b, opt_a, opt_b, cbp_a, cbp_b = _replacement_setup(optimizer_name)
    batches = _batches(3)
    for x in batches[:2]:
        _train(net_a, cbp_a, opt_a, x)
        _train(net_b, cbp_b, opt_b, x)
    _train(net_a, cbp_a, opt_a, batches[2])
    (replaced,) = _train(net_b, cbp_b, opt_b, batches[2])
    i = int(replaced[0])
    keys = ["momentum_buffer"] if optimizer_name == "sgd" else ["exp_avg", "exp_avg_sq"]
    for key in keys:
        for name, cleared in [
            ("fc1.weight", (i, slice(None))),
            ("fc1.bias", (i,)),
            ("fc2.weight", (slice(None), i)),
        ]:
            p_a, p_b = dict(net_a.named_parameters())[name], dict(net_b.named_parameters())[name]
            buf_a, buf_b = opt_a.state[p_a][key], opt_b.state[p_b][key]
            assert torch.all(buf_b[cleared] == 0.0), (key, name)
            assert torch.all(buf_a[cleared] != 0.0), (key, name)  # there was something to clear
            keep = torch.ones_like(buf_b, dtype=torch.bool)
            keep[cleared] = False
            torch.testing.assert_close(buf_b[keep], buf_a[keep], rtol=EXACT, atol=EXACT)
        # The outgoing bias is not a replaced weight: its state stays.
        torch.testing.assert_close(
            opt_b.state[net_b.fc2.bias][key], opt_a.state[net_a.fc2.bias][key], rtol=EXACT, atol=EXACT
        )
    if optimizer_name == "adam":  # per-tensor step counter, documented as left unchanged
        assert float(opt_b.state[net_b.fc1.weight]["step"]) == 3.0


def test_fractional_rate_accumulates_to_exact_schedule() -> None:
    net = TwoLayer()
    # maturity 0: every unit is eligible once aged 1; budget grows 4 * 1/16 = 1/4 per step (exact in binary).
    cbp = ContinualBackprop(net.unit_layers(), replacement_rate=1 / 16, maturity_threshold=0)
    steps_with_replacement = []
    for step, x in enumerate(_batches(40), start=1):
        net(x)
        (replaced,) = cbp.step()
        assert replaced.numel() <= 1
        if replaced.numel():
            steps_with_replacement.append(step)
    assert steps_with_replacement == list(range(4, 41, 4))


@given(maturity=st.integers(0, 6), rate=st.sampled_from([0.05, 0.3, 0.5, 1.0]), seed=st.integers(0, 3))
def test_immature_units_are_never_replaced(maturity: int, rate: float, seed: int) -> None:
    net = TwoLayer(seed=seed)
    cbp = ContinualBackprop(
        net.unit_layers(), replacement_rate=rate, maturity_threshold=maturity, generator=torch.Generator()
    )
    for x in _batches(15, seed=seed):
        net(x)
        age_after_increment = cbp.states[0].age + 1
        (replaced,) = cbp.step()
        assert torch.all(age_after_increment[replaced] > maturity)


def test_conv_to_linear_boundary_uses_all_spatial_columns() -> None:
    torch.manual_seed(3)
    conv = nn.Conv2d(2, 3, kernel_size=3, padding=1).double()
    act, head = nn.ReLU(), nn.Linear(3 * 4 * 4, 2).double()
    with torch.no_grad():
        conv.bias.uniform_(0.5, 1.0)
    reference_head = copy.deepcopy(head)
    layer = UnitLayer(conv, head, act, spatial_size=16)
    cbp = ContinualBackprop([layer], replacement_rate=1 / 3, maturity_threshold=0)
    x = torch.rand(4, 2, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        head(torch.flatten(act(conv(x)), 1))
        channel_means = act(conv(x)).mean(dim=(0, 2, 3))  # age 1: ĥ = h̄/(1−ρ) = the batch mean
    (replaced,) = cbp.step()
    i = int(replaced[0])
    assert torch.all(head.weight[:, 16 * i : 16 * (i + 1)] == 0.0)
    untouched = [c for c in range(48) if not 16 * i <= c < 16 * (i + 1)]
    torch.testing.assert_close(
        head.weight[:, untouched], reference_head.weight[:, untouched], rtol=EXACT, atol=EXACT
    )
    # Per-channel mean activation, broadcast to every position, gives the same head output as before.
    flat_mean = channel_means.repeat_interleave(16)
    torch.testing.assert_close(head(flat_mean), reference_head(flat_mean), rtol=FLOAT64_TOL, atol=FLOAT64_TOL)


def test_conv_to_conv_zeroes_outgoing_input_channel() -> None:
    torch.manual_seed(4)
    conv1, act, conv2 = nn.Conv2d(1, 3, 3).double(), nn.Tanh(), nn.Conv2d(3, 2, 3).double()
    cbp = ContinualBackprop(
        [UnitLayer(conv1, conv2, act, gain=TANH_GAIN)], replacement_rate=1 / 3, maturity_threshold=0
    )
    conv2(act(conv1(torch.rand(2, 1, 7, 7, dtype=torch.float64))))
    (replaced,) = cbp.step()
    assert torch.all(conv2.weight[:, replaced] == 0.0)
    assert torch.all(conv1.bias[replaced] == 0.0)


def test_close_removes_hooks() -> None:
    net = TwoLayer()
    cbp = ContinualBackprop(net.unit_layers())
    assert len(net.act._forward_hooks) == 1
    cbp.close()
    assert len(net.act._forward_hooks) == 0
    net(_batches(1)[0])
    with pytest.raises(RuntimeError, match="before a forward pass"):
        cbp.step()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"replacement_rate": 1.5}, "replacement_rate"),
        ({"decay_rate": 1.0}, "decay_rate"),
        ({"maturity_threshold": -1}, "maturity_threshold"),
        ({"utility": "weight"}, "utility must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ContinualBackprop(TwoLayer().unit_layers(), **kwargs)


def test_mismatched_unit_layer_is_rejected() -> None:
    fc1, fc2 = nn.Linear(3, 4), nn.Linear(5, 1)
    with pytest.raises(ValueError, match="outgoing layer takes 5 inputs"):
        ContinualBackprop([UnitLayer(fc1, fc2, nn.ReLU())])
    with pytest.raises(TypeError, match="nn.Linear or nn.Conv2d"):
        ContinualBackprop([UnitLayer(fc1, nn.ReLU(), nn.ReLU())])  # type: ignore[arg-type]


def test_two_unit_layers_in_a_deep_mlp_are_handled_independently() -> None:
    torch.manual_seed(5)
    fc1, act1, fc2, act2, fc3 = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1)
    with torch.no_grad():
        fc1.bias.fill_(1.0)
        fc2.bias.fill_(1.0)
    net = nn.Sequential(fc1, act1, fc2, act2, fc3)
    cbp = ContinualBackprop(
        [UnitLayer(fc1, fc2, act1), UnitLayer(fc2, fc3, act2)], replacement_rate=0.5, maturity_threshold=1
    )
    net(torch.rand(8, 3))
    assert [r.numel() for r in cbp.step()] == [0, 0]  # age 1: nobody mature yet
    net(torch.rand(8, 3))
    first, second = cbp.step()  # budgets 4·½ = 2 and 6·½ = 3
    assert (first.numel(), second.numel()) == (2, 3)
    assert torch.all(fc3.weight[:, second] == 0.0)
    assert torch.all(fc2.bias[second] == 0.0)
