"""``python -m dag_nets stability`` end to end on a tiny configuration, checked against the library."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from dag_nets.__main__ import TEACHER_SEED_OFFSET, main
from dag_nets.base_network import clone_network
from dag_nets.builders import mlp
from dag_nets.graph import get_loss
from dag_nets.stability import normal_stability

ARGS = ["stability", "--widths", "2", "2", "--steps", "4", "--checkpoints", "2", "--samples", "8"]


def _recomputed(space: str, method: str, k: int = 3):
    """Step 0 of the command above, rebuilt from the library (the same seeds and draws in the same order)."""
    gen = torch.Generator().manual_seed(0)
    teacher = mlp(3, [4, 4], 1, "tanh", seed=TEACHER_SEED_OFFSET, gain=2.0)
    student = mlp(3, [2, 2], 1, "tanh", seed=0)
    x = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y = teacher(x)
    sizes = {v: 2 for v in student.bias_nodes if v not in student.outputs}
    cloned, part = clone_network(student, sizes, mode="equitable", generator=gen, scale=0.3)
    with torch.no_grad():
        loss = float(get_loss("mse")(student(x), y))
    return loss, normal_stability(cloned, part, x, y, space=space, method=method, k=k)


def test_stability_command_writes_what_the_library_computes(tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "run"
    rc = main([*ARGS, "--out", str(out_dir)])
    assert rc == 0
    assert (out_dir / "stability.png").stat().st_size > 1000
    rows = list(csv.DictReader((out_dir / "stability.csv").open()))
    assert len(rows) == 2 * 2 and [r["step"] for r in rows] == ["0", "0", "4", "4"]
    for row in rows[:2]:
        loss, res = _recomputed(row["space"], "dense")
        assert float(row["loss"]) == pytest.approx(loss, rel=1e-12)
        assert int(row["normal_dim"]) == res.normal_dimension
        assert (int(row["positive"]), int(row["negative"]), int(row["zero"])) == res.inertia
        assert row["class"] == res.classification
        assert float(row["lambda_min"]) == pytest.approx(res.eigenvalues[0], rel=1e-10, abs=1e-14)
        assert float(row["lambda_max"]) == pytest.approx(res.eigenvalues[-1], rel=1e-10, abs=1e-14)
    assert int(rows[1]["zero"]) >= int(rows[1]["normal_dim"]) - int(rows[0]["normal_dim"])  # N_D adds zeros
    assert float(rows[2]["loss"]) < float(rows[0]["loss"])  # the base network trained
    printed = [ln.split() for ln in capsys.readouterr().out.splitlines()[1:5]]
    assert [(p[0], p[2], p[3], p[-4]) for p in printed] == [
        (r["step"], r["space"], r["normal_dim"], r["class"]) for r in rows
    ]


def test_lanczos_method_prints_the_dense_extremes(capsys) -> None:
    assert main([*ARGS, "--method", "lanczos", "--k", "2"]) == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines()[1:3]]
    for line, space in zip(lines, ("C", "D")):
        _, dense = _recomputed(space, "dense")
        assert line[2] == space
        assert np.isclose(float(line[-3]), dense.eigenvalues[0], rtol=1e-3)  # printed with 4 digits
        assert np.isclose(float(line[-1]), dense.eigenvalues[-1], rtol=1e-3)


def test_a_second_run_never_overwrites_the_first(tmp_path: Path, capsys) -> None:
    assert main([*ARGS, "--out", str(tmp_path)]) == 0
    before = (tmp_path / "stability.csv").read_bytes()
    capsys.readouterr()
    assert main([*ARGS, "--steps", "2", "--out", str(tmp_path)]) == 2
    assert "already holds" in capsys.readouterr().err
    assert (tmp_path / "stability.csv").read_bytes() == before
