"""Checkpoint state of the bit-flipping engine: an explicit capture / restore of everything it changes.

:class:`experiments.bitflip.engine.BitFlipEngine` keeps its state in plain attributes; this module lists
them in ONE place, so that porting checkpoints to another engine means rewriting these two functions:

* the learners: hidden weights W [R, n, m+1], output weights v [R, n], output biases c [R], the step
  counter and the per-run replacement counts;
* CBP (from the switch on): ages, ρ^age, mean activations, utilities, the replacement budget, the
  eligible counts and the schedule of units that mature at a later step;
* the data (:class:`experiments.bitflip.task.BitFlipStreams`): every run's random streams (target,
  init, flips, bits, cbp — numpy ``Generator`` states), the current flipping bits and the data step.
  The target networks are fixed after construction (rebuilt identically from the seeds), the per-flip
  target table is recomputed from the flipping bits.

Scratch buffers (``_in_magnitude``, …) are rebuilt at every chunk and hold no state. A checkpoint is
taken at a bin end only, where no chunk is half done. Restoring into an engine built from the same
configuration continues bit for bit (tested against an uninterrupted run).
"""

from __future__ import annotations

from typing import Any

from experiments.bitflip.engine import BitFlipEngine, _CBPState
from experiments.checkpoint import array_to_tensor, tensor_to_array

CBP_ARRAYS = ("age", "decay_power", "mean_activation", "utility", "budget", "eligible_count")


def capture_engine(engine: BitFlipEngine) -> dict[str, Any]:
    """Everything ``engine`` has changed since it was built (module docstring), as checkpoint values."""
    data = engine.data
    cbp = engine.cbp_state
    return {
        "step": int(engine.step),
        "hidden": array_to_tensor(engine.hidden),
        "output": array_to_tensor(engine.output),
        "output_bias": array_to_tensor(engine.output_bias),
        "replacements": array_to_tensor(engine.replacements),
        "cbp": None if cbp is None else {
            **{name: array_to_tensor(getattr(cbp, name)) for name in CBP_ARRAYS},
            "maturing": {int(step): array_to_tensor(counts) for step, counts in cbp.maturing.items()},
        },
        "data": {
            "step": int(data.step),
            "flip_bits": array_to_tensor(data.flip_bits),
            "streams": [{name: gen.bit_generator.state for name, gen in streams.items()} for streams in data.streams],
        },
    }


def restore_engine(engine: BitFlipEngine, state: dict[str, Any]) -> None:
    """Bring ``engine`` (freshly built from the same configuration) to the captured ``state``."""
    if len(state["data"]["streams"]) != engine.num_runs:
        raise ValueError(f"the checkpoint holds {len(state['data']['streams'])} runs, the engine {engine.num_runs}")
    engine.step = state["step"]
    engine.hidden[...] = tensor_to_array(state["hidden"], engine.hidden)
    engine.output[...] = tensor_to_array(state["output"], engine.output)
    engine.output_bias[...] = tensor_to_array(state["output_bias"], engine.output_bias)
    engine.replacements[...] = tensor_to_array(state["replacements"], engine.replacements)
    saved_cbp = state["cbp"]
    if saved_cbp is None:
        engine.cbp_state = None
    else:
        engine.cbp_state = _CBPState(
            **{name: tensor_to_array(saved_cbp[name]) for name in CBP_ARRAYS},
            maturing={int(step): tensor_to_array(counts) for step, counts in saved_cbp["maturing"].items()},
        )
    data = engine.data
    data.step = state["data"]["step"]
    data.flip_bits[...] = tensor_to_array(state["data"]["flip_bits"], data.flip_bits)
    for streams, saved in zip(data.streams, state["data"]["streams"]):
        for name, gen in streams.items():
            gen.bit_generator.state = saved[name]
    if data.task.uses_table:
        data._table = data._target_table()
