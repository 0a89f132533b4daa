"""Bad inputs to the dag_nets CLI and API: each must end in a clear error that names the problem (and the
valid choices), raised by our own checks — never a traceback from deep inside numpy, torch or scipy, never
a silent wrong answer.

CLI: exit status 2, exactly one line on stderr, nothing on stdout, no file written. API: a ValueError or
TypeError whose message matches, raised from a dag_nets frame.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest
import torch

from dag_nets.curvature import HessianOperator
from dag_nets.dynamics import (
    Dropout,
    GradientNoise,
    OptimizerSpec,
    UnitNoise,
    cloning_report,
    frozen_unit_trajectory,
    gradient,
    run_trajectory,
    tangency_residuals,
)
from dag_nets.graph import DagNet
from dag_nets.manifolds import manifold
from dag_nets.optimizers import NoisySGD, make_optimizer
from dag_nets.stability import normal_stability
from tests.dag_nets.cases import build

ROOT = Path(__file__).resolve().parents[2]

CLI_CASES: list[tuple[str, list[str], str]] = [
    ("clone-1", ["--clone", "1"], "--clone: must be ≥ 2"),
    ("clone-0", ["--clone", "0"], "--clone: must be ≥ 2"),
    ("clone-text", ["--clone", "x"], "invalid int value"),
    ("samples-0", ["--samples", "0"], "--samples: must be ≥ 1"),
    ("seed-negative", ["--seed", "-1"], r"--seed: must be an integer in \[0, "),
    ("seed-huge", ["--seed", str(2**40)], r"--seed: must be an integer in \[0, "),
    ("lr-negative", ["--lr", "-5"], "--lr: must be a finite number > 0"),
    ("lr-zero", ["--lr", "0"], "--lr: must be a finite number > 0"),
    ("lr-nan", ["--lr", "nan"], "--lr: must be a finite number > 0"),
    ("lr-inf", ["--lr", "inf"], "--lr: must be a finite number > 0"),
    ("steps-negative", ["--steps", "-1"], "--steps: must be ≥ 0"),
    ("checkpoints-0", ["--checkpoints", "0"], r"--checkpoints: must be in \[1, "),
    (
        "checkpoints-beyond-steps",
        ["--steps", "2", "--checkpoints", "9"],
        r"--checkpoints: must be in \[1, steps \+ 1",
    ),
    ("inputs-0", ["--inputs", "0"], "--inputs: must be ≥ 1"),
    ("width-0", ["--widths", "0", "3"], "--widths: every hidden width must be ≥ 1"),
    ("widths-missing", ["--widths"], "expected at least one argument"),
    ("activation-unknown", ["--activation", "swishy"], "unknown activation 'swishy'; valid choices"),
    ("method-unknown", ["--method", "power"], "invalid choice: 'power'"),
    ("k-with-dense", ["--k", "2"], "only --method lanczos uses it"),
    ("k-0", ["--method", "lanczos", "--k", "0"], "--k: must be ≥ 1"),
    ("k-too-large", ["--method", "lanczos", "--k", "50"], r"Lanczos needs 2k < dim N_C"),
    ("dense-too-large", ["--widths", "100", "100"], "use --method lanczos"),
    ("out-is-a-file", ["--out", "{file}"], "exists and is not a directory"),
    ("out-holds-a-run", ["--out", "{run}"], "already holds stability.png, stability.csv"),
    ("unknown-option", ["--frobnicate"], "unrecognized arguments: --frobnicate"),
]
"""(id, arguments after ``stability``, expected error)."""
CLI_TOP_LEVEL: list[tuple[str, list[str], str]] = [
    ("no-command", [], "the following arguments are required: command"),
    ("unknown-command", ["train"], "invalid choice: 'train'"),
]


def _cli_args(args: list[str], tmp_path: Path) -> list[str]:
    file = tmp_path / "a-file"
    file.write_text("not a directory")
    run = tmp_path / "earlier-run"
    run.mkdir()
    for name in ("stability.png", "stability.csv"):
        (run / name).write_text("earlier")
    return [a.format(file=file, run=run) for a in args]


@pytest.mark.parametrize(
    "args, message",
    [(["stability", *a], m) for _, a, m in CLI_CASES] + [(a, m) for _, a, m in CLI_TOP_LEVEL],
    ids=[i for i, _, _ in CLI_CASES + CLI_TOP_LEVEL],
)
def test_cli_bad_argument_is_one_line(args: list[str], message: str, tmp_path: Path, capsys) -> None:
    from dag_nets.__main__ import main

    argv = _cli_args(args, tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m dag_nets: error: "), captured.err
    assert "Traceback" not in captured.err
    assert re.search(message, lines[0]), lines[0]
    assert captured.out == ""  # no work was done
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # and nothing written


def test_cli_process_exit_status(tmp_path: Path) -> None:
    """As a real process: one line on stderr and status 2."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    plain = subprocess.run(  # noqa: PLW1510 (the exit status is what is tested)
        [sys.executable, "-m", "dag_nets", "stability", "--clone", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert plain.returncode == 2 and len(plain.stderr.strip().splitlines()) == 1 and plain.stdout == ""
    assert "Traceback" not in plain.stderr


def test_cli_debug_raises_instead() -> None:
    """``--debug`` lets the error propagate (Python prints its traceback)."""
    from dag_nets.__main__ import CliError, main

    with pytest.raises(CliError, match="--clone: must be ≥ 2"):
        main(["stability", "--clone", "1", "--debug"])


# ---------------------------------------------------------------------------- the API
def _overflowing_float32_net() -> DagNet:
    G = nx.DiGraph()
    G.add_node("h", activation="tanh")
    G.add_node("y")
    G.add_edge("x", "h", weight=1e300)  # finite in float64, inf once cast to float32
    G.add_edge("h", "y", weight=1.0)
    return DagNet.from_networkx(G, inputs=["x"], outputs=["y"], dtype=torch.float32)


def _api_cases() -> list[tuple[str, Callable[[], object], type[Exception], str]]:
    c = build("mlp-tanh-equitable")
    other = build("random-dag-equitable")
    net, part, x, y = c.net, c.partition, c.x, c.y
    theta = net.flat_parameters()
    nan_y, nan_x = torch.full_like(y, math.nan), x.clone().index_fill_(0, torch.tensor([0]), math.nan)
    off = theta.clone()
    off[0] += 1.0
    hidden = net.bias_nodes[0]
    xs, ys = torch.zeros(2, 1, dtype=torch.float32), torch.zeros(2, 1, dtype=torch.float32)
    params = [torch.nn.Parameter(torch.zeros(2))]
    return [
        (
            "cloning-report-other-network",
            lambda: cloning_report(other.net, part, other.x, other.y),
            ValueError,
            "partition was built for a different network",
        ),
        (
            "zero-rtol-negative",
            lambda: normal_stability(net, part, x, y, zero_rtol=-1),
            ValueError,
            "zero_rtol must be ≥ 0",
        ),
        (
            "zero-rtol-nan",
            lambda: normal_stability(net, part, x, y, zero_rtol=math.nan),
            ValueError,
            "zero_rtol must be finite",
        ),
        ("nan-targets-dense", lambda: normal_stability(net, part, x, nan_y), ValueError, "y contains NaN"),
        (
            "nan-targets-lanczos",
            lambda: normal_stability(net, part, x, nan_y, method="lanczos"),
            ValueError,
            "y contains NaN",
        ),
        ("nan-inputs", lambda: normal_stability(net, part, nan_x, y), ValueError, "x contains NaN"),
        (
            "y-wrong-width",
            lambda: normal_stability(net, part, x, torch.zeros(24, 3, dtype=torch.float64)),
            ValueError,
            r"y must have shape \[batch ≥ 1, 1\]",
        ),
        ("batch-mismatch", lambda: normal_stability(net, part, x, y[:5]), ValueError, "same batch size"),
        (
            "x-not-a-tensor",
            lambda: normal_stability(net, part, x.tolist(), y),
            TypeError,
            "x must be a torch.Tensor",
        ),
        (
            "theta-wrong-length",
            lambda: normal_stability(net, part, x, y, theta=theta[:-1]),
            ValueError,
            r"theta must be a flat vector .* shape \(81,\)",
        ),
        (
            "theta-nan",
            lambda: normal_stability(net, part, x, y, theta=theta * math.nan),
            ValueError,
            "theta contains NaN",
        ),
        (
            "theta-not-a-tensor",
            lambda: normal_stability(net, part, x, y, theta=theta.tolist()),
            TypeError,
            "theta must be a torch.Tensor",
        ),
        (
            "stability-other-network",
            lambda: normal_stability(other.net, part, other.x, other.y),
            ValueError,
            "different network",
        ),
        (
            "stability-not-a-partition",
            lambda: normal_stability(net, [[0]], x, y),
            TypeError,
            "partition must be a Partition",
        ),
        (
            "k-zero",
            lambda: normal_stability(net, part, x, y, method="lanczos", k=0),
            ValueError,
            "k must be an integer ≥ 1",
        ),
        (
            "k-fraction",
            lambda: normal_stability(net, part, x, y, method="lanczos", k=2.5),
            TypeError,
            "k must be an integer",
        ),
        (
            "k-too-large",
            lambda: normal_stability(net, part, x, y, method="lanczos", k=20),
            ValueError,
            "too small for Lanczos with k=20",
        ),
        (
            "lanczos-tol-zero",
            lambda: normal_stability(net, part, x, y, method="lanczos", lanczos_tol=0.0),
            ValueError,
            "lanczos_tol must be > 0",
        ),
        (
            "lanczos-tol-one",
            lambda: normal_stability(net, part, x, y, method="lanczos", lanczos_tol=1.0),
            ValueError,
            r"lanczos_tol .* must be in \(0, 1\)",
        ),
        (
            "space-unknown",
            lambda: normal_stability(net, part, x, y, space="N"),
            ValueError,
            "space must be one of C, D",
        ),
        (
            "method-unknown",
            lambda: normal_stability(net, part, x, y, method="power"),
            ValueError,
            "method must be one of dense, lanczos",
        ),
        (
            "space-d-off-manifold",
            lambda: normal_stability(net, part, x, y, space="D", theta=off),
            ValueError,
            "M_D.* needs θ0 ∈ M_C",
        ),
        (
            "float32-weight-overflow",
            lambda: _with_overflowing_net(lambda n: normal_stability(n, _trivial(n), xs, ys)),
            ValueError,
            OVERFLOW,
        ),
        (
            "float32-overflow-trajectory",
            lambda: _with_overflowing_net(lambda n: run_trajectory(n, _trivial(n), xs, ys)),
            ValueError,
            OVERFLOW,
        ),
        (
            "steps-negative",
            lambda: run_trajectory(net, part, x, y, steps=-1),
            ValueError,
            "steps must be an integer ≥ 0",
        ),
        (
            "steps-fraction",
            lambda: run_trajectory(net, part, x, y, steps=1.5),
            TypeError,
            "steps must be an integer",
        ),
        (
            "seed-negative",
            lambda: run_trajectory(net, part, x, y, seed=-1),
            ValueError,
            r"seed must be an integer in \[0",
        ),
        (
            "batch-size-0",
            lambda: run_trajectory(net, part, x, y, batch_size=0),
            ValueError,
            r"batch_size must be an integer in \[1, 24\]",
        ),
        (
            "batch-size-beyond-data",
            lambda: run_trajectory(net, part, x, y, batch_size=25),
            ValueError,
            r"batch_size must be an integer in \[1, 24\]",
        ),
        (
            "optimizer-unknown",
            lambda: run_trajectory(net, part, x, y, optimizer="lion"),
            ValueError,
            "unknown optimizer 'lion'; choices: sgd, momentum",
        ),
        (
            "optimizer-old-spelling",
            lambda: run_trajectory(net, part, x, y, optimizer="adam-l2"),
            ValueError,
            "unknown optimizer 'adam-l2'; choices: .*adam_l2",
        ),
        (
            "optimizer-option-unknown",
            lambda: OptimizerSpec("adam", 0.1, {"momentum": 0.9}),
            ValueError,
            r"unknown option\(s\) \['momentum'\] for optimizer 'adam'; valid: betas, eps, weight_decay",
        ),
        (
            "optimizer-lr-in-options",
            lambda: OptimizerSpec("sgd", 0.1, {"lr": 0.2}),
            ValueError,
            "lr is its own field",
        ),
        ("optimizer-lr-negative", lambda: OptimizerSpec("sgd", -5.0), ValueError, "lr must be > 0"),
        (
            "optimizer-not-a-spec",
            lambda: run_trajectory(net, part, x, y, optimizer=3),
            TypeError,
            "optimizer must be an OptimizerSpec or a name",
        ),
        (
            "breaker-unknown",
            lambda: run_trajectory(net, part, x, y, breaker="mixup"),
            ValueError,
            "unknown symmetry breaker 'mixup'; valid choices: dropout, noisy_sgd, per_unit_noise",
        ),
        (
            "breaker-old-spelling",
            lambda: run_trajectory(net, part, x, y, breaker="noisy-sgd"),
            ValueError,
            "unknown symmetry breaker 'noisy-sgd'",
        ),
        (
            "trajectory-other-network",
            lambda: run_trajectory(other.net, part, other.x, other.y),
            ValueError,
            "different network",
        ),
        ("trajectory-nan-inputs", lambda: run_trajectory(net, part, nan_x, y), ValueError, "x contains NaN"),
        (
            "trajectory-off-manifold",
            lambda: run_trajectory(net.copy_with(off), part, x, y),
            ValueError,
            "needs θ0 ∈ M_C",
        ),
        ("dropout-rate-1", lambda: Dropout(rate=1.0), ValueError, r"dropout rate must be in \[0, 1\)"),
        ("dropout-rate-nan", lambda: Dropout(rate=math.nan), ValueError, "dropout rate must be finite"),
        ("noise-decay-0", lambda: GradientNoise(decay=0.0), ValueError, r"decay λ must be in \(0, 1\]"),
        ("noise-sigma-negative", lambda: GradientNoise(sigma0=-0.1), ValueError, "sigma0 must be ≥ 0"),
        (
            "noise-norm-unknown",
            lambda: GradientNoise(norm="l1"),
            ValueError,
            "norm must be one of tensor, global",
        ),
        (
            "breaker-steps-negative",
            lambda: GradientNoise(steps=-1),
            ValueError,
            "breaker steps must be an integer ≥ 0",
        ),
        ("unit-noise-negative", lambda: UnitNoise(std=-1.0), ValueError, "unit noise std must be ≥ 0"),
        (
            "frozen-unit-is-output",
            lambda: frozen_unit_trajectory(net, "y0", x, y),
            ValueError,
            "must be a hidden",
        ),
        (
            "frozen-warm-steps-negative",
            lambda: frozen_unit_trajectory(net, hidden, x, y, warm_steps=-1),
            ValueError,
            "warm_steps must be an integer ≥ 0",
        ),
        (
            "frozen-steps-0",
            lambda: frozen_unit_trajectory(net, hidden, x, y, steps=0),
            ValueError,
            "steps must be an integer ≥ 1",
        ),
        ("gradient-theta-wrong-length", lambda: gradient(net, x, y, theta[:3]), ValueError, r"shape \(81,\)"),
        (
            "tangency-other-network",
            lambda: tangency_residuals(other.net, part, other.x, other.y),
            ValueError,
            "different network",
        ),
        (
            "manifold-kind-unknown",
            lambda: manifold("XX", part),
            ValueError,
            "valid choices: RE, CE, C, BC, D, F",
        ),
        ("manifold-d-without-anchor", lambda: manifold("D", part), ValueError, "is affine: pass anchor"),
        ("manifold-d-anchor-off", lambda: manifold("D", part, anchor=off), ValueError, "needs θ0 ∈ M_C"),
        (
            "manifold-d-anchor-nan",
            lambda: manifold("D", part, anchor=theta * math.nan),
            ValueError,
            "anchor θ0 contains NaN",
        ),
        (
            "manifold-d-anchor-shape",
            lambda: manifold("D", part, anchor=theta[:4]),
            ValueError,
            r"anchor must have shape \(81,\)",
        ),
        (
            "manifold-f-no-units",
            lambda: manifold("F", part, anchor=theta),
            ValueError,
            "at least one frozen unit",
        ),
        (
            "manifold-f-input-unit",
            lambda: manifold("F", part, anchor=theta, frozen=["x0"]),
            ValueError,
            "non-input",
        ),
        ("manifold-c-with-anchor", lambda: manifold("C", part, anchor=theta), ValueError, "takes no anchor"),
        (
            "manifold-c-with-frozen",
            lambda: manifold("C", part, frozen=[hidden]),
            ValueError,
            "only apply to manifold 'F'",
        ),
        ("tangent-wrong-length", lambda: manifold("C", part).tangent(theta[:-2]), ValueError, "length 81"),
        (
            "hvp-mode-unknown",
            lambda: HessianOperator(net, x, y, mode="fd"),
            ValueError,
            "mode must be one of auto, double-backward, forward-over-reverse",
        ),
        (
            "make-optimizer-unknown",
            lambda: make_optimizer("lion", params, lr=0.1),
            ValueError,
            "choices: sgd",
        ),
        ("make-optimizer-no-lr", lambda: make_optimizer("sgd", params), ValueError, "needs lr"),
        (
            "noisy-sgd-decay-above-1",
            lambda: NoisySGD(params, lr=1.0, decay=1.5),
            ValueError,
            r"decay λ must be in \(0, 1\]",
        ),
    ]


OVERFLOW = "edge weights contain NaN or infinite|must be finite"
"""Caught by the entry point today; by DagNet's constructor once it checks after the float32 cast."""


def _with_overflowing_net(call: Callable[[DagNet], object]) -> object:
    return call(_overflowing_float32_net())


def _trivial(net: DagNet):
    from dag_nets.partition import Partition

    return Partition.trivial(net)


API_CASES = _api_cases()


@pytest.mark.parametrize("call, exc, message", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_bad_input_raises_a_clear_error(call, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message) as info:
        call()
    origin = traceback.extract_tb(info.value.__traceback__)[-1].filename
    assert "/dag_nets/" in origin.replace("\\", "/"), f"raised from {origin}, not by dag_nets' own checks"
