"""The bit-flipping task (Appendix B.1.1): flip process, random bits, LTU thresholds, chunked targets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from experiments.bitflip.task import (
    BitFlipStreams,
    BitFlipTask,
    ltu_thresholds,
    make_target,
    run_streams,
)


def _all_chunks(task: BitFlipTask, seeds: list[int], steps: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    streams = BitFlipStreams(task, seeds)
    parts = [streams.next_chunk(min(chunk, steps - s)) for s in range(0, steps, chunk)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_flip_process_changes_exactly_one_flipping_bit_every_period() -> None:
    task = BitFlipTask(flip_period=50)
    inputs, _ = _all_chunks(task, [0, 1], 1000, 64)
    flipping = inputs[:, :, : task.num_flipping]
    changes = np.abs(np.diff(flipping, axis=0)).sum(axis=2)  # [steps-1, R]
    for t in range(1, 1000):
        expected = 1 if t % 50 == 0 else 0
        assert np.all(changes[t - 1] == expected), t
    assert np.all(inputs[:, :, task.num_bits] == 1.0)  # bias bit


def test_random_bits_are_fresh_fair_coins() -> None:
    task = BitFlipTask()
    inputs, _ = _all_chunks(task, [3], 20_000, 1000)
    random_bits = inputs[:, 0, task.num_flipping : task.num_bits]
    # Mean 1/2 with std 1/(2√N) per bit; 5 sigma.
    assert np.all(np.abs(random_bits.mean(axis=0) - 0.5) < 5 * 0.5 / np.sqrt(20_000))
    lag_one = (random_bits[1:] == random_bits[:-1]).mean()
    assert abs(lag_one - 0.5) < 5 * 0.5 / np.sqrt(20_000 * 5)


@pytest.mark.parametrize("num_bits, num_flipping", [(20, 15), (16, 2)])  # table path, direct path
def test_targets_match_the_ltu_network_evaluated_per_sample(num_bits: int, num_flipping: int) -> None:
    task = BitFlipTask(num_bits=num_bits, num_flipping=num_flipping, flip_period=37, target_width=30)
    assert task.uses_table == (num_bits - num_flipping <= 12)
    inputs, targets = _all_chunks(task, [5, 9], 300, 100)
    for r, seed in enumerate([5, 9]):
        target = make_target(task, run_streams(seed)["target"])
        for t in range(0, 300, 7):
            x = inputs[t, r]
            hidden = [
                1.0 if sum(w * xi for w, xi in zip(target.weights[i], x)) - target.thresholds[i] >= 0 else 0.0
                for i in range(task.target_width)
            ]
            expected = sum(v * h for v, h in zip(target.output_weights, hidden)) + target.output_bias
            assert targets[t, r] == expected


def test_data_do_not_depend_on_chunking_or_on_other_runs() -> None:
    task = BitFlipTask(flip_period=100)
    a_inputs, a_targets = _all_chunks(task, [2, 7, 11], 1234, 1000)
    b_inputs, b_targets = _all_chunks(task, [7], 1234, 13)
    np.testing.assert_array_equal(a_inputs[:, 1], b_inputs[:, 0])
    np.testing.assert_array_equal(a_targets[:, 1], b_targets[:, 0])


def test_threshold_rules_by_hand() -> None:
    # One unit, m = 4: input weights (+1, −1, −1, +1), bias-bit weight −1, β = 0.5.
    w = np.array([[1.0, -1.0, -1.0, 1.0, -1.0]])
    assert ltu_thresholds(w, 0.5, "original")[0] == 0.5 * 5 - (2 - 0.5)  # S = 2 + ½·(−1)
    assert ltu_thresholds(w, 0.5, "matching")[0] == 0.5 * 5 - 3  # three negative weights of five
    assert ltu_thresholds(w, 0.5, "paper")[0] == 0.5 * 4 - (2 + 0.5)  # S = 2 − ½·(−1)


@pytest.mark.parametrize("beta", [0.3, 0.7, 0.9])
def test_matching_rule_fires_iff_enough_bits_agree_with_the_weight_signs(beta: float) -> None:
    rng = np.random.default_rng(0)
    m = 6
    weights = rng.choice([-1.0, 1.0], size=(8, m + 1))
    theta = ltu_thresholds(weights, beta, "matching")
    for bits in itertools.product([0.0, 1.0], repeat=m):
        x = np.array(bits + (1.0,))
        for i in range(8):
            agreeing = sum(1 for w, xi in zip(weights[i], x) if (w > 0) == (xi == 1.0))
            assert (weights[i] @ x - theta[i] >= 0) == (agreeing >= beta * (m + 1))


def test_default_thresholds_never_tie_with_integer_preactivations() -> None:
    task = BitFlipTask()
    for rule in ("original", "matching", "paper"):
        target = make_target(BitFlipTask(threshold_rule=rule), run_streams(0)["target"])
        fractional = np.abs(target.thresholds - np.round(target.thresholds))
        assert np.all(fractional > 0.1), rule
    assert task.input_size == 21


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_flipping": 21}, "num_flipping"),
        ({"beta": 1.5}, "beta"),
        ({"threshold_rule": "other"}, "threshold_rule"),
        ({"flip_period": 0}, "flip_period"),
    ],
)
def test_bad_task_parameters_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BitFlipTask(**kwargs)


def test_printed_rule_equals_matching_rule_for_the_defaults_and_original_differs_by_bias_sign() -> None:
    """β = 0.7, m = 20: both need ≥ 15 agreeing bits of 21; the original needs 15 (w_bias = +1) or 17 (−1)."""
    rng = np.random.default_rng(2)
    weights = rng.choice([-1.0, 1.0], size=(200, 21))
    x = np.concatenate([rng.integers(0, 2, (500, 20)), np.ones((500, 1))], axis=1)
    agreeing = ((weights[None, :, :] > 0) == (x[:, None, :] == 1.0)).sum(axis=2)  # [samples, units]
    fires = {
        rule: x @ weights.T - ltu_thresholds(weights, 0.7, rule) >= 0
        for rule in ("original", "matching", "paper")
    }
    np.testing.assert_array_equal(fires["paper"], fires["matching"])
    np.testing.assert_array_equal(fires["matching"], agreeing >= 15)
    needed = np.where(weights[:, 20] > 0, 15, 17)
    np.testing.assert_array_equal(fires["original"], agreeing >= needed[None, :])
