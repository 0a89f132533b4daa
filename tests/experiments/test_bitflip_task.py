"""The bit-flipping task (Appendix B.1.1): flip process, random bits, LTU thresholds, chunked targets."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch

from experiments.bitflip.task import (
    STREAM_NAMES,
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
    task = BitFlipTask(flip_period=50, flip="one")
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
            z = [sum(w * xi for w, xi in zip(target.weights[i], x)) for i in range(task.target_width)]
            hidden = [1.0 if z[i] > target.thresholds[i] else 0.0 for i in range(task.target_width)]
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


def test_default_original_and_printed_thresholds_never_tie_with_integer_preactivations() -> None:
    task = BitFlipTask()
    for rule in ("original", "paper"):  # matching: θ = 14.7 − (integer), never a tie either
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
        ({"flip": "two"}, "flip must be one of"),
        ({"beta": float("nan")}, "beta"),
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
    theta = {rule: ltu_thresholds(weights, 0.7, rule) for rule in ("original", "matching", "paper")}
    fires = {
        "original": x @ weights.T > theta["original"],
        "matching": x @ weights.T >= theta["matching"],
        "paper": x @ weights.T - theta["paper"] >= 0,
    }
    np.testing.assert_array_equal(fires["paper"], fires["matching"])
    np.testing.assert_array_equal(fires["matching"], agreeing >= 15)
    needed = np.where(weights[:, 20] > 0, 15, 17)
    np.testing.assert_array_equal(fires["original"], agreeing >= needed[None, :])


def _dohare_targets(
    weights: np.ndarray, output_weights: np.ndarray, output_bias: float, beta: float, inputs: np.ndarray
) -> np.ndarray:
    """y as Dohare et al.'s FixLTUNet computes it, in float32 torch: S = (m − Σ_j w_j + b)/2,
    τ = β(m+1) − S, a unit fires on (W x + b) > τ (lop/nets/fix_ltu_net.py, lop/utils/ltu.py)."""
    m = weights.shape[1] - 1
    w = torch.tensor(weights[:, :m], dtype=torch.float32)
    b = torch.tensor(weights[:, m], dtype=torch.float32)
    s = (m - w.sum(dim=1) + b) / 2
    tau = beta * (m + 1) - s
    z = torch.tensor(inputs[:, :m], dtype=torch.float32) @ w.T + b
    fires = torch.where(z > tau, torch.ones(()), torch.zeros(()))
    return (fires @ torch.tensor(output_weights, dtype=torch.float32) + output_bias).double().numpy()


@pytest.mark.parametrize("beta", [0.5, 0.7, 0.75, 0.49999999, 0.6999999999])
def test_bug_original_rule_fires_strictly_as_dohares_ltu(beta: float) -> None:
    """Issue 9: the target fired on z ≥ θ where Dohare's LTU fires on z > τ; at ties (β(m+1) mod 1 = ½,
    β = 0.5 here) most outputs differed. Both the per-sample network and the per-flip table now equal a
    float32 re-expression of their FixLTUNet (β = 0.49999999: β(m+1) is a tie only once rounded to
    float32)."""
    task = BitFlipTask(beta=beta, flip_period=50)
    streams = BitFlipStreams(task, [3, 8])
    inputs, targets = streams.next_chunk(600)
    for r, target in enumerate(streams.targets):
        expected = _dohare_targets(
            target.weights, target.output_weights, target.output_bias, beta, inputs[:, r]
        )
        np.testing.assert_array_equal(target(inputs[:, r]), expected)
        np.testing.assert_array_equal(targets[:, r], expected)


def test_strict_and_non_strict_comparisons_differ_at_ties() -> None:
    """Why the strictness matters: at β = 0.5 most targets change if z ≥ τ replaces z > τ."""
    task = BitFlipTask(beta=0.5)
    target = make_target(task, run_streams(1)["target"])
    x = np.concatenate([np.random.default_rng(0).integers(0, 2, (2000, 20)), np.ones((2000, 1))], axis=1)
    z = x @ target.weights.T
    strict = (z > target.thresholds).astype(float) @ target.output_weights
    loose = (z >= target.thresholds).astype(float) @ target.output_weights
    assert np.mean(strict != loose) > 0.5


@pytest.mark.parametrize(
    "rule, num_bits, beta",
    # 0.28·25 = 7.000000000000001, 0.14·25 = 3.5000000000000004
    [("matching", 24, 0.28), ("paper", 25, 0.14)],
)
def test_ties_are_decided_by_the_decimal_beta(rule: str, num_bits: int, beta: float) -> None:
    """For the matching and printed rules β is the decimal written: the binary product β·m would put the
    threshold above an integer z that exactly meets it."""
    task = BitFlipTask(num_bits=num_bits, num_flipping=num_bits - 5, beta=beta, threshold_rule=rule)
    target = make_target(task, run_streams(2)["target"])
    m = num_bits
    exact_beta = Fraction(str(beta))
    x = np.concatenate([np.random.default_rng(1).integers(0, 2, (400, m)), np.ones((400, 1))], axis=1)
    z = (x @ target.weights.T).astype(np.int64)
    ties = 0
    for i, w in enumerate(target.weights):
        negatives = int((w[:m] < 0).sum())
        if rule == "matching":
            theta = exact_beta * (m + 1) - negatives - int(w[m] < 0)
        else:
            theta = exact_beta * m - (negatives - Fraction(int(w[m]), 2))
        fires = z[:, i] >= theta
        ties += int(np.sum(z[:, i] == theta))
        np.testing.assert_array_equal(z[:, i] >= target.firing_threshold[i], fires)
        np.testing.assert_array_equal(z[:, i] >= target.thresholds[i], fires)
    assert ties > 0  # the case the decimal reading decides


def test_redraw_flip_draws_every_flipping_bit_afresh_every_period() -> None:
    """flip="redraw" (Dohare's default data path): at every k·T all f flipping bits are a fresh draw
    from the run's flip stream; in between they do not change."""
    task = BitFlipTask(flip_period=40, flip="redraw")
    inputs, _ = _all_chunks(task, [4, 6], 2000, 64)
    for r, seed in enumerate([4, 6]):
        flips = run_streams(seed)["flips"]
        expected = [flips.integers(0, 2, size=task.num_flipping) for _ in range(2000 // 40)]
        for k in range(2000 // 40):
            segment = inputs[40 * k : 40 * (k + 1), r, : task.num_flipping]
            np.testing.assert_array_equal(segment, np.broadcast_to(expected[k], segment.shape))
    changed = np.abs(np.diff(inputs[::40, :, : task.num_flipping], axis=0)).sum(axis=2)
    assert 5.0 < changed.mean() < 10.0  # f/2 = 7.5 on average, not exactly one


def test_segments_and_chunks_give_the_same_data() -> None:
    task = BitFlipTask(flip_period=70, flip="redraw")
    a = BitFlipStreams(task, [1, 2])
    inputs, targets = a.next_chunk(500)
    b = BitFlipStreams(task, [1, 2])
    done = 0
    while done < 500:
        length = min(30, b.steps_to_flip(), 500 - done)
        patterns = b.next_segment(length)
        np.testing.assert_array_equal(b.segment_targets(patterns).T, targets[done : done + length])
        bits = (patterns.T[:, :, None] >> np.arange(task.num_random, dtype=np.uint64)) & np.uint64(1)
        np.testing.assert_array_equal(
            bits, inputs[done : done + length, :, task.num_flipping : task.num_bits]
        )
        done += length
    with pytest.raises(ValueError, match="segment length"):
        b.next_segment(b.steps_to_flip() + 1)


def test_taken_over_bits_are_not_drawn_twice() -> None:
    streams = BitFlipStreams(BitFlipTask(), [0])
    streams.take_over_bits()
    with pytest.raises(RuntimeError, match="taken over"):
        streams.next_chunk(10)


def test_appending_the_probe_stream_left_the_other_streams_unchanged() -> None:
    """run_streams spawns children by index, so the streams drawn before "probe" existed are the same."""
    assert STREAM_NAMES[-1] == "probe"
    old = np.random.SeedSequence(9).spawn(len(STREAM_NAMES) - 1)
    new = run_streams(9)
    for name, child in zip(STREAM_NAMES[:-1], old):
        expected = np.random.Generator(np.random.PCG64(child)).random(4)
        np.testing.assert_array_equal(new[name].random(4), expected)
