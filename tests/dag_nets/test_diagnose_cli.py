"""``python -m dag_nets diagnose`` end to end: the JSON equals the library's diagnosis; every bad file or
argument is one line naming it, exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dag_nets.__main__ import main
from dag_nets.diagnose import diagnose
from experiments.cloning.expand import expand
from experiments.models.mlp import MLP
from experiments.models.spec import make_spec

FACTORIES = """
import torch
from torch import nn
from experiments.models.mlp import MLP
from experiments.models.spec import make_spec


def wide():
    return MLP(
        make_spec("mlp", (1, 1, 4), 2, hidden=6, depth=2, normalization="none", activation="tanh")
    ).double()


def normed():
    return nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))


def not_a_module():
    return 3
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    (tmp_path / "diag_factories.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.manual_seed(0)
    base = MLP(
        make_spec("mlp", (1, 1, 4), 2, hidden=3, depth=2, normalization="none", activation="tanh")
    ).double()
    model = expand(base, 2)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(16, 1, 1, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(16, 2, generator=gen, dtype=torch.float64)
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "with_opt.pt")
    torch.save({"x": x, "y": y}, tmp_path / "data.pt")
    np.savez(tmp_path / "data.npz", x=x.numpy(), y=y.numpy())
    (tmp_path / "broken.pt").write_bytes(b"not a torch file")
    return {
        "dir": tmp_path,
        "plain": tmp_path / "plain.pt",
        "with_opt": tmp_path / "with_opt.pt",
        "data": tmp_path / "data.pt",
        "npz": tmp_path / "data.npz",
        "broken": tmp_path / "broken.pt",
        "model": model,
        "x": x,
        "y": y,
    }  # type: ignore[dict-item]


def test_json_equals_the_library(files, capsys) -> None:
    rc = main(
        [
            "diagnose",
            str(files["plain"]),
            "--model",
            "diag_factories:wide",
            "--data",
            str(files["data"]),
            "--json",
        ]
    )
    assert rc == 0
    got = json.loads(capsys.readouterr().out)
    expected = diagnose(files["model"].eval(), files["x"], files["y"]).to_dict()
    assert got["clones"]["block_sizes"] == expected["clones"]["block_sizes"] == [2] * 6
    assert [la["clone_blocks"] for la in got["layers"]] == [la["clone_blocks"] for la in expected["layers"]]
    np.testing.assert_array_equal(got["manifold"]["eigenvalues"], expected["manifold"]["eigenvalues"])
    assert got["manifold"]["classification"] == expected["manifold"]["classification"]


def test_npz_table_and_figure(files, capsys) -> None:
    fig = files["dir"] / "diag.png"
    rc = main(
        [
            "diagnose",
            str(files["plain"]),
            "--model",
            "diag_factories:wide",
            "--data",
            str(files["npz"]),
            "--figure",
            str(fig),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "clone partition: " in out and "cloning manifold (dim N =" in out
    assert fig.stat().st_size > 1000
    rc = main(
        [
            "diagnose",
            str(files["plain"]),
            "--model",
            "diag_factories:wide",
            "--data",
            str(files["npz"]),
            "--figure",
            str(fig),
        ]
    )
    assert rc == 2 and "never overwrite" in capsys.readouterr().err


def test_optimizer_state_is_used(files, capsys) -> None:
    args = [
        "diagnose",
        str(files["with_opt"]),
        "--model",
        "diag_factories:wide",
        "--data",
        str(files["data"]),
    ]
    assert main(args) == 2
    assert "pass --optimizer CLASS" in capsys.readouterr().err
    assert main([*args, "--optimizer", "SGD", "--json"]) == 0
    json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"--model": "diag_factories"}, "expected MODULE:FACTORY"),
        ({"--model": "no_such_module_xyz:f"}, "cannot import 'no_such_module_xyz'"),
        ({"--model": "diag_factories:missing"}, "has no function 'missing'"),
        ({"--model": "diag_factories:not_a_module"}, "not a torch.nn.Module"),
        ({"--model": "diag_factories:normed"}, "does not fit"),
        ({"--data": "broken"}, "broken.pt is not a readable torch.save file"),
        ({"--data": "missing.pt"}, "does not exist"),
        ({"--data": "data.csv"}, "unknown format '.csv'"),
        ({"checkpoint": "broken"}, "checkpoint"),
        ({"--tol": "-1"}, "argument --tol"),
        ({"--k": "0"}, "argument --k"),
        ({"--method": "qr"}, "invalid choice: 'qr'"),
    ],
)
def test_bad_inputs_one_line_exit_2(files, capsys, change, needle) -> None:
    d = files["dir"]
    values = {
        "checkpoint": str(files["plain"]),
        "--model": "diag_factories:wide",
        "--data": str(files["data"]),
    }
    for key, value in change.items():
        values[key] = (
            str(files[value])
            if value in files
            else (str(d / value) if "." in value and key != "--model" else value)
        )
    args = ["diagnose", values.pop("checkpoint")]
    for key, value in values.items():
        args += [key, value]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unsupported_layer_is_named(files, tmp_path, capsys) -> None:
    torch.manual_seed(0)
    normed = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    torch.save(normed.state_dict(), tmp_path / "normed.pt")
    torch.save({"x": torch.randn(5, 4)}, tmp_path / "flat.pt")
    rc = main(
        [
            "diagnose",
            str(tmp_path / "normed.pt"),
            "--model",
            "diag_factories:normed",
            "--data",
            str(tmp_path / "flat.pt"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "LayerNorm" in err and "Supported:" in err and "part=NAME" in err


def test_module_entry_point(files) -> None:
    env_path = f"{files['dir']}:{Path(__file__).resolve().parents[2]}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dag_nets",
            "diagnose",
            str(files["plain"]),
            "--model",
            "diag_factories:wide",
            "--data",
            str(files["data"]),
            "--json",
        ],
        check=False,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["manifold"]["normal_dimension"] > 0
