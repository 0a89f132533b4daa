"""The numpy engine against the per-sample autograd reference (which uses experiments/optim/cbp.py) and
against itself run one seed at a time; the torch engine (CPU form of the CUDA path) against the numpy
engine; engine selection and its fallback."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import experiments.bitflip
from experiments.bitflip.engine import BitFlipEngine, EngineFallbackWarning, make_engine
from experiments.bitflip.learner import CBPSettings, ReferenceLearner
from experiments.bitflip.task import BitFlipTask
from experiments.bitflip.torch_engine import TorchBitFlipEngine
from experiments.config import ConfigError, resolve_config
from experiments.studies.bitflip import BitFlipConfig
from experiments.studies.bitflip import main as study_main
from theory.activations import get_activation

LOSS_TOL = 1e-9  # float64 engine vs float64 autograd: only summation order differs
PARAM_TOL = 1e-10

TASK = BitFlipTask(flip_period=400)
FAST_CBP = CBPSettings(replacement_rate=1e-2, maturity_threshold=20, decay_rate=0.99)


def _reference(seed: int, steps: int, **kwargs) -> tuple[np.ndarray, list, ReferenceLearner]:
    learner = ReferenceLearner(TASK, seed, **kwargs)
    losses, replacements = learner.run(steps)
    return losses, replacements, learner


@pytest.mark.parametrize("utility", ["contribution", "adaptable_contribution"])
def test_engine_matches_autograd_reference_with_cbp_switch(utility: str) -> None:
    cbp = CBPSettings(FAST_CBP.replacement_rate, FAST_CBP.maturity_threshold, FAST_CBP.decay_rate, utility)
    steps, switch = 1500, 500
    ref_losses, ref_replacements, ref = _reference(4, steps, width=5, cbp=cbp, switch_step=switch)
    engine = BitFlipEngine(TASK, 5, [4], cbp=cbp, switch_step=switch, dtype="float64", chunk_size=333)
    losses = engine.advance(steps)[:, 0]
    assert len(ref_replacements) > 10  # CBP really acted
    assert engine.replacements[0] == sum(len(units) for _, units in ref_replacements)
    np.testing.assert_allclose(losses, ref_losses, rtol=LOSS_TOL, atol=LOSS_TOL)
    net = ref.net
    np.testing.assert_allclose(
        engine.hidden[0, :, :-1], net.hidden.weight.detach().numpy(), rtol=0, atol=PARAM_TOL
    )
    np.testing.assert_allclose(
        engine.hidden[0, :, -1], net.hidden.bias.detach().numpy(), rtol=0, atol=PARAM_TOL
    )
    np.testing.assert_allclose(engine.output[0], net.out.weight.detach().numpy()[0], rtol=0, atol=PARAM_TOL)
    np.testing.assert_allclose(engine.output_bias[0], net.out.bias.item(), rtol=0, atol=PARAM_TOL)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu:0.1"])
def test_engine_matches_reference_for_other_activations(activation: str) -> None:
    ref_losses, _, _ = _reference(1, 600, width=4, activation=activation, cbp=FAST_CBP, switch_step=200)
    engine = BitFlipEngine(
        TASK, 4, [1], activation=activation, cbp=FAST_CBP, switch_step=200, dtype="float64"
    )
    np.testing.assert_allclose(engine.advance(600)[:, 0], ref_losses, rtol=LOSS_TOL, atol=LOSS_TOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_runs_together_equal_runs_alone_bitwise(dtype: str) -> None:
    seeds, steps, switch = [0, 5, 8], 1200, 450  # switch inside a chunk
    kwargs = {"cbp": FAST_CBP, "switch_step": switch, "dtype": dtype, "lr": [0.01, 0.02, 0.005]}
    together = BitFlipEngine(TASK, 6, seeds, chunk_size=1000, **kwargs).advance(steps)
    for r, seed in enumerate(seeds):
        alone_kwargs = {**kwargs, "lr": kwargs["lr"][r]}  # type: ignore[index]
        alone = BitFlipEngine(TASK, 6, [seed], chunk_size=97, **alone_kwargs).advance(steps)
        np.testing.assert_array_equal(together[:, r], alone[:, 0])


def test_binned_losses_are_bin_means_of_the_online_losses() -> None:
    engine = BitFlipEngine(TASK, 5, [1, 2], dtype="float64", chunk_size=300)
    online = BitFlipEngine(TASK, 5, [1, 2], dtype="float64", chunk_size=300).advance(2000)
    bins: list[tuple[int, np.ndarray]] = []
    engine.run_binned(2000, 500, lambda step, loss: bins.append((step, loss)))
    assert [step for step, _ in bins] == [500, 1000, 1500, 2000]
    for k, (_, loss) in enumerate(bins):
        np.testing.assert_allclose(loss, online[500 * k : 500 * (k + 1)].mean(axis=0), rtol=1e-12)


def test_sgd_alone_learns_the_task() -> None:
    losses = BitFlipEngine(BitFlipTask(), 10, [0, 1, 2], dtype="float32").advance(20_000)
    assert losses[-2000:].mean() < 0.5 * losses[:2000].mean()


def test_hidden_features_match_the_reference_network() -> None:
    engine = BitFlipEngine(TASK, 5, [3], dtype="float64")
    ref = ReferenceLearner(TASK, 3, width=5)
    probe = np.concatenate([np.random.default_rng(0).integers(0, 2, (50, 20)), np.ones((50, 1))], axis=1)
    with torch.no_grad():
        expected = torch.relu(ref.net.hidden(torch.from_numpy(probe[:, :-1]))).numpy()
    np.testing.assert_allclose(engine.hidden_features(probe)[0], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 0}, "width"),
        ({"dtype": "float16"}, "dtype"),
        ({"cbp": FAST_CBP}, "switch_step"),
        ({"lr": [0.1, 0.2]}, "one entry per run"),
        ({"lr": float("nan")}, "lr must be finite"),
        ({"width": 2.5}, "width must be an integer"),
    ],
)
def test_bad_engine_arguments_are_named(kwargs: dict, message: str) -> None:
    args = {"width": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        BitFlipEngine(TASK, seeds=[0, 1, 2], **args)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"utility": "weight"}, "utility"),
        ({"replacement_rate": 2.0}, "replacement_rate"),
        ({"decay_rate": 1.0}, "decay_rate"),
        ({"maturity_threshold": -1}, "maturity_threshold"),
    ],
)
def test_bad_cbp_settings_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CBPSettings(**kwargs)


TORCH_TOL = 1e-12  # float64 torch engine vs numpy engine: summation order only


@pytest.mark.parametrize("utility", ["contribution", "adaptable_contribution"])
@pytest.mark.parametrize("flip", ["one", "redraw"])
def test_torch_engine_matches_numpy_engine_on_cpu(utility: str, flip: str) -> None:
    """The CPU form of the CUDA path: SGD, the switch, > 10 CBP replacements per run, per-run step sizes."""
    task = BitFlipTask(flip_period=400, flip=flip)
    cbp = CBPSettings(FAST_CBP.replacement_rate, FAST_CBP.maturity_threshold, FAST_CBP.decay_rate, utility)
    kwargs = {"cbp": cbp, "switch_step": 300, "dtype": "float64", "chunk_size": 250, "lr": [0.01, 0.02]}
    reference = BitFlipEngine(task, 5, [4, 7], **kwargs)
    engine = TorchBitFlipEngine(task, 5, [4, 7], device="cpu", **kwargs)
    np.testing.assert_allclose(engine.advance(1000), reference.advance(1000), rtol=TORCH_TOL, atol=TORCH_TOL)
    assert reference.replacements.min() > 10
    np.testing.assert_array_equal(engine.replacements, reference.replacements)
    for name in ("hidden", "output", "output_bias"):
        np.testing.assert_allclose(getattr(engine, name), getattr(reference, name), rtol=0, atol=TORCH_TOL)


def test_torch_engine_matches_numpy_engine_for_tanh() -> None:
    kwargs = {"activation": "tanh", "cbp": FAST_CBP, "switch_step": 100, "dtype": "float64"}
    reference = BitFlipEngine(TASK, 4, [2], **kwargs).advance(500)
    np.testing.assert_allclose(
        TorchBitFlipEngine(TASK, 4, [2], **kwargs).advance(500), reference, atol=TORCH_TOL
    )


def test_make_engine_picks_fused_on_cpu_and_torch_for_other_devices() -> None:
    assert make_engine(TASK, 5, [0]).backend == "fused"
    assert make_engine(TASK, 5, [0], engine="numpy").backend == "numpy"
    assert make_engine(TASK, 5, [0], engine="torch").backend == "torch"
    with pytest.raises(ValueError, match="engine must be one of"):
        make_engine(TASK, 5, [0], engine="gpu")
    with pytest.raises(ValueError, match="runs on the CPU"):
        make_engine(TASK, 5, [0], engine="fused", device="cuda")


def test_make_engine_falls_back_to_numpy_with_a_note_when_numba_is_missing(monkeypatch) -> None:
    """An optional dependency that cannot be imported: the same runs on the numpy engine, and a warning."""
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba → ImportError
    monkeypatch.delitem(sys.modules, "experiments.bitflip.fused", raising=False)
    monkeypatch.delattr(experiments.bitflip, "fused", raising=False)
    with pytest.warns(EngineFallbackWarning, match="numba could not be imported"):
        engine = make_engine(TASK, 5, [0])
    assert engine.backend == "numpy" and "numba" in (engine.fallback_note or "")
    with pytest.raises(ValueError, match="fused engine cannot run here"):
        make_engine(TASK, 5, [0], engine="fused")


def test_make_engine_falls_back_for_an_activation_without_a_compiled_form() -> None:
    modulated = get_activation("relu").modulated(1.5, 0.1)
    with pytest.warns(EngineFallbackWarning, match="no compiled form"):
        assert make_engine(TASK, 5, [0], activation=modulated).backend == "numpy"


def test_study_config_passes_flip_and_engine_through() -> None:
    cfg = resolve_config(BitFlipConfig, "smoke", ["flip=redraw", "engine=numpy"])
    assert cfg.task().flip == "redraw" and cfg.engine == "numpy"
    with pytest.raises(ConfigError, match="needs engine=torch"):
        resolve_config(BitFlipConfig, "smoke", ["device=cuda", "engine=fused"])
    with pytest.raises(ConfigError, match="flip"):
        resolve_config(BitFlipConfig, "smoke", ["flip=all"])


def test_study_logs_the_same_numbers_with_every_engine(tmp_path) -> None:
    """End to end, float64: the fused, torch and numpy engines log the same metrics (1e-9)."""
    logged = {}
    for engine in ("numpy", "fused", "torch"):
        args = [
            "--out",
            str(tmp_path / engine),
            "seeds=2",
            "samples=1200",
            "switch_step=600",
            "bin_size=300",
            "width=4",
            "summary_window=600",
            "probe_size=32",
            "flip_period=200",
            "flip=redraw",
            "precision=float64",
            f"engine={engine}",
            "maturity=10",
            "replacement_rate=0.01",
            "progress=false",
            "figures=false",
        ]
        assert study_main(args) == 0
        (run_dir,) = (tmp_path / engine / "bitflip").iterdir()
        logged[engine] = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["engine_per_width"] == {"4": engine}
    assert logged["numpy"][-1]["replacements"] > 0
    for engine in ("fused", "torch"):
        assert len(logged[engine]) == len(logged["numpy"])
        for a, b in zip(logged["numpy"], logged[engine]):
            assert (a["step"], a["seed"], a["phase"], a["replacements"]) == (
                b["step"],
                b["seed"],
                b["phase"],
                b["replacements"],
            )
            for key in ("loss", "effective_rank", "duplicate_fraction", "dead_fraction"):
                assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-9), (engine, key)
