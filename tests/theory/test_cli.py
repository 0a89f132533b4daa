"""``python -m theory``: output shapes, JSON keys, and exit status 2 with a message on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from theory.__main__ import main


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_describe_json(capsys):
    out = _json(capsys, ["describe", "relu", "--shift", "-1", "--json"])
    assert {"alpha", "gamma", "frozen_probability", "hermite"} <= set(out)
    assert len(out["hermite"]) == 8 and out["gamma"] == pytest.approx((1 - out["alpha"]) / (1 + out["alpha"]))
    assert out["frozen_probability"] == pytest.approx(0.8413447460685429, rel=1e-12)


def test_kernel_json(capsys):
    out = _json(capsys, ["kernel", "relu", "0.5", "-1", "--json"])
    assert [row["r"] for row in out["kernel"]] == [0.5, -1.0]
    assert set(out["kernel"][0]) == {"r", "K"}


def test_text_outputs(capsys):
    assert main(["describe", "tanh", "--scale", "2"]) == 0
    assert "gamma" in capsys.readouterr().out
    assert main(["table"]) == 0
    text = capsys.readouterr().out
    assert "relu" in text and "linear" in text


def test_plot_quick(tmp_path, capsys):
    assert main(["plot", "--out", str(tmp_path), "--quick"]) == 0
    for name in ("figure_A1.png", "figure_A2.png", "figure_A3.png"):
        assert (tmp_path / name).stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["describe", "nope"], "valid choices"),
        (["kernel", "relu", "1.5"], "valid choices"),
        (["kernel", "relu", "nan"], "valid choices"),
        (["describe", "relu", "--eps", "0"], "--eps"),
        (["describe", "relu", "--scale", "0"], "--scale"),
        (["kernel", "relu", "abc"], "invalid float"),
    ],
)
def test_bad_input_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) if argv[-1] == "abc" else _no_raise():
        code = main(argv)
        assert code == 2
    assert message in capsys.readouterr().err


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_subprocess_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "theory", "kernel", "foo", "0.5"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "valid choices" in proc.stderr
