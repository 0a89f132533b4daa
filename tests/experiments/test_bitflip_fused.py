"""The fused (numba) bit-flipping engine against the numpy reference engine, and its building blocks:
the compiled PCG64, the CBP draw pool and the compiled activations."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from experiments.bitflip.draw_pool import DrawPool
from experiments.bitflip.engine import BitFlipEngine
from experiments.bitflip.fused import (
    FAMILY_CODES,
    UNIT_MAJOR_MAX_WIDTH,
    FusedBitFlipEngine,
    activation_code,
    activation_values,
)
from experiments.bitflip.learner import CBPSettings
from experiments.bitflip.pcg64 import pcg64_state, raw_draws, set_pcg64_state
from experiments.bitflip.task import BitFlipTask
from theory.activations import get_activation

AGREEMENT_TOL = 1e-12  # float64 fused vs numpy engine: the same arithmetic up to summation order
FLOAT32_TOL = 1e-4  # float32, first few hundred steps (rounding differs, trajectories stay close)

TASK = BitFlipTask(flip_period=400)
FAST_CBP = CBPSettings(replacement_rate=1e-2, maturity_threshold=20, decay_rate=0.99)
ACTIVATIONS = [
    "relu",
    "leaky_relu:0.1",
    "tanh",
    "sigmoid",
    "silu",
    "elu:0.5",
    "softplus:2",
    "gelu",
    "sin",
    "erf",
    "abs",
    "square",
    "linear",
]


def _pair(
    task: BitFlipTask, width: int, seeds: list[int], **kwargs
) -> tuple[BitFlipEngine, FusedBitFlipEngine]:
    return BitFlipEngine(task, width, seeds, **kwargs), FusedBitFlipEngine(task, width, seeds, **kwargs)


def _assert_agree(reference: BitFlipEngine, fused: FusedBitFlipEngine, steps: int) -> None:
    ref_losses, fused_losses = reference.advance(steps), fused.advance(steps)
    np.testing.assert_allclose(fused_losses, ref_losses, rtol=AGREEMENT_TOL, atol=AGREEMENT_TOL)
    for name in ("hidden", "output", "output_bias"):
        np.testing.assert_allclose(
            getattr(fused, name), getattr(reference, name), rtol=0, atol=AGREEMENT_TOL, err_msg=name
        )
    np.testing.assert_array_equal(fused.replacements, reference.replacements)


def test_pcg64_in_compiled_code_draws_what_random_raw_draws() -> None:
    generators = [np.random.Generator(np.random.PCG64(seed)) for seed in (0, 1, 2**40 + 7)]
    words = np.stack([pcg64_state(g) for g in generators])
    drawn = raw_draws(words, 3000)
    for r, generator in enumerate(generators):
        np.testing.assert_array_equal(drawn[r], generator.bit_generator.random_raw(3000))
    set_pcg64_state(generators[0], words[0])
    np.testing.assert_array_equal(generators[0].bit_generator.random_raw(5), raw_draws(words[:1], 5)[0])


def test_draw_pool_hands_out_the_streams_values_in_order() -> None:
    generators = [np.random.default_rng(seed) for seed in (3, 4)]
    expected = [np.random.default_rng(seed).random(500) for seed in (3, 4)]
    pool = DrawPool(generators)
    taken: list[list[float]] = [[], []]
    for need in ([7, 0], [30, 12], [5, 90], [200, 1], [0, 60]):
        pool.reserve(np.array(need))
        for r in range(2):
            assert pool.remaining()[r] >= need[r]
            values = pool.values[r, pool.start[r] : pool.start[r] + need[r]]
            taken[r].extend(values.tolist())
            pool.start[r] += need[r]
    for r in range(2):
        np.testing.assert_array_equal(taken[r], expected[r][: len(taken[r])])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_compiled_activations_equal_the_registry(name: str) -> None:
    activation = get_activation(name)
    code, parameter = activation_code(activation)
    z = np.concatenate([np.linspace(-6.0, 6.0, 241), [0.0, -0.0, 1e-300, -1e-300]])
    h, slope = activation_values(code, parameter, z)
    np.testing.assert_allclose(h, activation.numpy_fn(z), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(slope, activation.numpy_derivative(z), rtol=1e-14, atol=1e-15)
    assert set(FAMILY_CODES) >= {activation.family}


def test_activation_without_a_compiled_form_is_named() -> None:
    modulated = get_activation("tanh").modulated(2.0, 0.5)
    with pytest.raises(ValueError, match="no compiled form.*relu"):
        activation_code(modulated)


@pytest.mark.parametrize("utility", ["contribution", "adaptable_contribution"])
@pytest.mark.parametrize("width", [5, 2 * UNIT_MAJOR_MAX_WIDTH + 1])  # both weight layouts
def test_fused_matches_numpy_through_sgd_the_switch_and_cbp_replacements(utility: str, width: int) -> None:
    cbp = CBPSettings(FAST_CBP.replacement_rate, FAST_CBP.maturity_threshold, FAST_CBP.decay_rate, utility)
    reference, fused = _pair(TASK, width, [4, 9], cbp=cbp, switch_step=500, dtype="float64", chunk_size=333)
    _assert_agree(reference, fused, 1500)
    assert reference.replacements.min() > 10  # CBP really acted


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "leaky_relu:0.1", "silu", "elu", "gelu"])
def test_fused_matches_numpy_for_other_activations(name: str) -> None:
    reference, fused = _pair(TASK, 6, [1], activation=name, cbp=FAST_CBP, switch_step=200, dtype="float64")
    _assert_agree(reference, fused, 900)


@pytest.mark.parametrize("flip", ["one", "redraw"])
def test_fused_matches_numpy_in_both_flip_modes(flip: str) -> None:
    task = BitFlipTask(flip_period=97, flip=flip)
    reference, fused = _pair(task, 5, [0, 2], cbp=FAST_CBP, switch_step=300, dtype="float64", lr=[0.01, 0.02])
    _assert_agree(reference, fused, 1000)


def test_fused_matches_numpy_without_a_target_table() -> None:
    """m − f = 14 > 12 random bits: targets from the network per sample, bits drawn in numpy."""
    task = BitFlipTask(num_bits=16, num_flipping=2, flip_period=150, target_width=30)
    assert not task.uses_table
    reference, fused = _pair(task, 4, [5], cbp=FAST_CBP, switch_step=100, dtype="float64")
    _assert_agree(reference, fused, 600)


def test_fused_float32_stays_close_to_numpy_float32() -> None:
    reference, fused = _pair(TASK, 5, [3, 4], dtype="float32")
    np.testing.assert_allclose(fused.advance(300), reference.advance(300), rtol=FLOAT32_TOL, atol=FLOAT32_TOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_runs_together_equal_runs_alone_bitwise(dtype: str) -> None:
    seeds, steps, switch = [0, 5, 8], 1200, 450  # switch inside a chunk
    kwargs = {"cbp": FAST_CBP, "switch_step": switch, "dtype": dtype, "lr": [0.01, 0.02, 0.005]}
    engine = FusedBitFlipEngine(TASK, 6, seeds, chunk_size=1000, **kwargs)
    together = engine.advance(steps)
    for r, seed in enumerate(seeds):
        alone_kwargs = {**kwargs, "lr": kwargs["lr"][r]}  # type: ignore[index]
        alone = FusedBitFlipEngine(TASK, 6, [seed], chunk_size=97, **alone_kwargs)
        np.testing.assert_array_equal(together[:, r], alone.advance(steps)[:, 0])
        np.testing.assert_array_equal(engine.hidden[r], alone.hidden[0])


def test_fused_results_do_not_depend_on_the_thread_count() -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread only")
    before = numba.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            engine = FusedBitFlipEngine(TASK, 5, [1, 2, 3, 4, 5], cbp=FAST_CBP, switch_step=100)
            results.append(engine.advance(600))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


def test_fused_binned_losses_are_bin_means_of_the_online_losses() -> None:
    engine = FusedBitFlipEngine(TASK, 5, [1, 2], dtype="float64", chunk_size=300)
    online = FusedBitFlipEngine(TASK, 5, [1, 2], dtype="float64", chunk_size=300).advance(2000)
    bins: list[tuple[int, np.ndarray]] = []
    engine.run_binned(2000, 500, lambda step, loss: bins.append((step, loss)))
    assert [step for step, _ in bins] == [500, 1000, 1500, 2000]
    for k, (_, loss) in enumerate(bins):
        np.testing.assert_allclose(loss, online[500 * k : 500 * (k + 1)].mean(axis=0), rtol=1e-12)


def test_fused_hidden_features_equal_the_numpy_engines() -> None:
    reference, fused = _pair(TASK, 20, [3, 4], dtype="float64")
    reference.advance(500), fused.advance(500)
    probe = np.random.default_rng(0).integers(0, 2, (2, 40, 21)).astype(np.float64)
    probe[:, :, -1] = 1.0
    np.testing.assert_allclose(fused.hidden_features(probe), reference.hidden_features(probe), atol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_fused_matches_numpy_when_a_utility_is_nan() -> None:
    """A unit with all-zero weights has adaptable utility 0/0 = NaN: no exception in compiled code (numpy's
    error model), and such a unit sorts last for replacement in both engines (a stable sort puts NaN last)."""
    cbp = CBPSettings(
        replacement_rate=0.05, maturity_threshold=5, decay_rate=0.9, utility="adaptable_contribution"
    )
    reference, fused = _pair(TASK, 5, [2, 3], cbp=cbp, switch_step=0, dtype="float64")
    for engine in (reference, fused):
        engine.hidden[0, 1, :] = 0.0  # relu'(0) = 0: the weights stay 0, the utility stays NaN
        engine.hidden[1, 3, :] = 0.0
    ref_losses, fused_losses = reference.advance(400), fused.advance(400)
    np.testing.assert_allclose(fused_losses, ref_losses, rtol=AGREEMENT_TOL, atol=AGREEMENT_TOL)
    np.testing.assert_allclose(fused.hidden, reference.hidden, rtol=0, atol=AGREEMENT_TOL)
    np.testing.assert_array_equal(fused.replacements, reference.replacements)
    assert reference.replacements.min() > 10
    np.testing.assert_array_equal(fused.hidden[0, 1], 0.0)  # never chosen while others are eligible
