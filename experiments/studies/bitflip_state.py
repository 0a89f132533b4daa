"""Checkpoint state of the bit-flipping engines: an explicit capture / restore of everything they change.

The engines (:func:`experiments.bitflip.engine.make_engine`) keep their state in plain attributes; this
module lists them in ONE place per engine, so that a new engine means a new entry here:

* every engine: the step counter, the per-run replacement counts and the data
  (:class:`experiments.bitflip.task.BitFlipStreams`): every run's random streams (target, init, flips,
  bits, cbp, probe — numpy ``Generator`` states), the current flipping bits and the data step. The
  target networks are fixed after construction (rebuilt identically from the seeds); the target table
  of the current flipping bits is recomputed from them;
* ``numpy``: hidden weights W [R, n, m+1], output weights v [R, n], output biases c [R] and, from the
  switch on, CBP's ages, ρ^age, mean activations, utilities, replacement budget, eligible counts and the
  schedule of units that mature at a later step (:data:`NUMPY_CBP_ARRAYS`);
* ``fused`` and ``torch``: the arrays of :data:`ENGINE_ARRAYS` (weights in their storage layout, CBP
  averages), whether CBP has started, and the CBP draw pool
  (:class:`experiments.bitflip.draw_pool.DrawPool`: the draws taken ahead of need and not used yet,
  which the cbp stream has already moved past); the fused engine's PCG64 words of the random-bit
  streams it draws in compiled code (``_words``, the live state of those streams).

Scratch buffers and constants (``_neg_two_lr``, ``_units``, …) are rebuilt by the constructor. A
checkpoint is taken at a bin end only, where no segment is half done; it names its engine, and restoring
into another engine is an error (their float32 results are not bitwise equal). Restoring into an engine
built from the same configuration continues bit for bit (tested against an uninterrupted run, per engine).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from experiments.bitflip.engine import EngineBase, _CBPState
from experiments.checkpoint import CheckpointMismatch, array_to_tensor, tensor_to_array

NUMPY_CBP_ARRAYS = ("age", "decay_power", "mean_activation", "utility", "budget", "eligible_count")
"""The numpy engine's CBP state (:class:`experiments.bitflip.engine._CBPState`) besides ``maturing``."""

ENGINE_ARRAYS: dict[str, tuple[str, ...]] = {
    "numpy": ("hidden", "output", "output_bias"),
    "fused": (
        "_w",
        "output",
        "output_bias",
        "_age",
        "_decay_power",
        "_mean_activation",
        "_utility",
        "_budget",
        "_words",
    ),
    "torch": (
        "_w",
        "_v",
        "_c",
        "_age",
        "_decay_power",
        "_mean_activation",
        "_utility",
        "_budget",
        "_replacements",
    ),
}
"""Per engine, the attributes (numpy arrays or torch tensors) that learning changes in place."""


class EngineMismatch(CheckpointMismatch):
    """A checkpoint of one engine restored into another."""


def check_backend(engine: EngineBase, state: dict[str, Any]) -> None:
    """An :class:`EngineMismatch` unless ``state`` was captured from an engine of ``engine``'s kind."""
    if state["backend"] != engine.backend:
        raise EngineMismatch(
            f"the checkpoint holds the state of the {state['backend']} engine, but this run builds the "
            f"{engine.backend} engine (numba missing, or engine= changed); resume where it ran, or start anew"
        )


def capture_engine(engine: EngineBase) -> dict[str, Any]:
    """Everything ``engine`` has changed since it was built (module docstring), as checkpoint values."""
    data = engine.data
    state: dict[str, Any] = {
        "backend": engine.backend,
        "step": int(engine.step),
        "replacements": array_to_tensor(engine.replacements),
        "arrays": {name: _stored(getattr(engine, name)) for name in ENGINE_ARRAYS[engine.backend]},
        "data": {
            "step": int(data.step),
            "flip_bits": array_to_tensor(data.flip_bits),
            "streams": [
                {name: gen.bit_generator.state for name, gen in streams.items()} for streams in data.streams
            ],
        },
    }
    if engine.backend == "numpy":
        cbp = engine.cbp_state  # type: ignore[attr-defined]
        state["cbp"] = (
            None
            if cbp is None
            else {
                **{name: array_to_tensor(getattr(cbp, name)) for name in NUMPY_CBP_ARRAYS},
                "maturing": {int(step): array_to_tensor(counts) for step, counts in cbp.maturing.items()},
            }
        )
    else:
        pool = engine._pool  # type: ignore[attr-defined]
        start = pool.start if engine.backend == "fused" else engine._pool_start.cpu().numpy()  # type: ignore[attr-defined]
        state["cbp_on"] = bool(engine._cbp_on)  # type: ignore[attr-defined]
        state["pool"] = {
            "values": array_to_tensor(pool.values),
            "start": array_to_tensor(start),
            "stop": array_to_tensor(pool.stop),
        }
    return state


def restore_engine(engine: EngineBase, state: dict[str, Any]) -> None:
    """Bring ``engine`` (freshly built from the same configuration) to the captured ``state``."""
    check_backend(engine, state)
    if len(state["data"]["streams"]) != engine.num_runs:
        raise ValueError(
            f"the checkpoint holds {len(state['data']['streams'])} runs, the engine {engine.num_runs}"
        )
    engine.step = state["step"]
    engine.replacements[...] = tensor_to_array(state["replacements"], engine.replacements)
    for name in ENGINE_ARRAYS[engine.backend]:
        _load_into(getattr(engine, name), state["arrays"][name])
    if engine.backend == "numpy":
        saved_cbp = state["cbp"]
        engine.cbp_state = (  # type: ignore[attr-defined]
            None
            if saved_cbp is None
            else _CBPState(
                **{name: tensor_to_array(saved_cbp[name]) for name in NUMPY_CBP_ARRAYS},
                maturing={
                    int(step): tensor_to_array(counts) for step, counts in saved_cbp["maturing"].items()
                },
            )
        )
    else:
        _restore_pool(engine, state)
    data = engine.data
    data.step = state["data"]["step"]
    data.flip_bits[...] = tensor_to_array(state["data"]["flip_bits"], data.flip_bits)
    for streams, saved in zip(data.streams, state["data"]["streams"]):
        for name, gen in streams.items():
            gen.bit_generator.state = saved[name]
    if data.task.uses_table:
        data.table = data._target_table()


def _restore_pool(engine: Any, state: dict[str, Any]) -> None:
    engine._cbp_on = state["cbp_on"]
    pool = engine._pool
    saved = state["pool"]
    pool.values = tensor_to_array(saved["values"])
    pool.start = tensor_to_array(saved["start"])
    pool.stop = tensor_to_array(saved["stop"])
    if engine.backend == "torch":  # the device copies the engine reads (the host pool is what they mirror)
        engine._pool_values = torch.from_numpy(pool.values).to(engine.device)
        engine._pool_start = torch.from_numpy(pool.start.copy()).to(engine.device)


def _stored(value: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A copy on the CPU: numpy arrays as tensors, device tensors moved to the host."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    return array_to_tensor(np.ascontiguousarray(value))


def _load_into(target: np.ndarray | torch.Tensor, saved: torch.Tensor) -> None:
    """Write ``saved`` into the engine's array or tensor in place (its dtype, layout and device kept)."""
    if tuple(saved.shape) != tuple(target.shape):
        raise ValueError(
            f"the checkpoint holds an array of shape {tuple(saved.shape)}, the engine {tuple(target.shape)}"
        )
    if isinstance(target, torch.Tensor):
        target.copy_(saved.to(target.device, target.dtype))
    else:
        target[...] = tensor_to_array(saved, target)
