"""``python -m theory`` on bad input: status 2, exactly one line on stderr naming the problem and the valid
choices, never a traceback or a numpy warning (issue: robustness, §3 and §6)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from theory.__main__ import EXIT_BAD_INPUT, main

# (argv, a fragment the one error line must contain)
BAD = [
    ([], "required: command"),
    (["bogus"], "invalid choice"),
    (["describe"], "required: activation"),
    (["describe", "nope"], "valid choices: relu, leaky_relu:<negative slope>"),
    (["describe", ""], "unknown activation ''"),
    (["describe", "leaky_relu:abc"], "must be a number"),
    (["describe", "leaky_relu:"], "empty parameter"),
    (["describe", "relu:"], "empty parameter"),
    (["describe", "leaky_relu:nan"], "must be finite"),
    (["describe", "elu:1e999"], "must be finite"),
    (["describe", "softplus:0"], "finite positive"),
    (["describe", "softplus:-1"], "finite positive"),
    (["describe", "tanh:3"], "takes no parameter"),
    (["describe", "relu:1:2"], "takes no parameter"),
    (["describe", "leaky_relu:1:2"], "must be a number"),
    (["describe", "relu", "--scale", "nan"], "--scale nan is invalid; valid choices"),
    (["describe", "relu", "--scale", "inf"], "--scale inf is invalid"),
    (["describe", "relu", "--scale", "0"], "--scale 0.0 is invalid"),
    (["describe", "relu", "--scale", "-0"], "--scale -0.0 is invalid"),
    (["describe", "relu", "--scale", "1e400"], "--scale inf is invalid"),
    (["describe", "relu", "--scale", "1e-320"], "|A| ≥ 2.23e-308"),
    (["describe", "relu", "--scale", "abc"], "invalid float value"),
    (["describe", "relu", "--scale", "1e308"], "overflows float64"),
    (["describe", "square", "--scale", "1e200"], "overflows float64"),
    (["describe", "relu", "--shift", "nan"], "--shift nan is invalid"),
    (["describe", "relu", "--shift", "inf"], "--shift inf is invalid"),
    (["describe", "relu", "--shift", "-60"], "constant under N(0,1) to float64 precision"),
    (["describe", "erf", "--scale", "1e-6", "--shift", "50"], "constant under N(0,1)"),
    (["describe", "relu", "--eps", "nan"], "--eps nan is invalid; valid choices: a finite number > 0"),
    (["describe", "relu", "--eps", "0"], "--eps 0.0 is invalid"),
    (["describe", "relu", "--eps", "-1"], "--eps -1.0 is invalid"),
    (["describe", "relu", "--eps", "inf"], "--eps inf is invalid"),
    (["describe", "relu", "--eps", "1e-400"], "--eps 0.0 is invalid"),
    (["describe", "relu", "--eps"], "expected one argument"),
    (["describe", "relu", "extra"], "unrecognized arguments: extra"),
    (["describe", "relu", "--scale", "2", "--scale", "3"], "--scale given twice"),
    (["describe", "relu", "--json", "--json"], "--json given twice"),
    (["kernel"], "required: activation, R"),
    (["kernel", "relu"], "required: R"),
    (["kernel", "relu", "1.5"], "valid choices: finite numbers in [-1, 1]"),
    (["kernel", "relu", "nan"], "valid choices: finite numbers in [-1, 1]"),
    (["kernel", "relu", "inf"], "valid choices"),
    (["kernel", "relu", "-1.0000001"], "valid choices"),
    (["kernel", "relu", "abc"], "invalid float value"),
    (["kernel", "nope", "0.5"], "unknown activation"),
    (["kernel", "relu", "0.5", "--json", "--json"], "--json given twice"),
    (["table", "extra"], "unrecognized arguments"),
    (["accuracy", "--bogus"], "unrecognized arguments"),
    (["plot"], "required: --out"),
    (["plot", "--out", "a", "--out", "b"], "--out given twice"),
]


def _error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own errors exit from inside parse_args
        code = stop.code
    captured = capsys.readouterr()
    assert code == EXIT_BAD_INPUT, (argv, captured)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err, lines
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize("argv, fragment", BAD, ids=[" ".join(a) or "(none)" for a, _ in BAD])
def test_bad_input_ends_in_one_clear_line(capsys, argv, fragment):
    assert fragment in _error_line(capsys, argv)


def test_bug_empty_activation_parameter_silently_uses_default(capsys):
    """``leaky_relu:`` described leaky_relu:0.01 and exited 0."""
    assert "write leaky_relu:<value>" in _error_line(capsys, ["describe", "leaky_relu:"])


def test_bug_repeated_option_silently_overrides(capsys):
    """``--scale 2 --scale 3`` used 3 without a word (argparse keeps the last)."""
    assert "give it once" in _error_line(capsys, ["describe", "tanh", "--scale", "2", "--scale", "3"])


def test_bug_plot_overwrites_existing_figures(capsys, tmp_path):
    """``plot --out DIR`` rewrote DIR/figure_A*.png; it now refuses before any work, and a file
    is no directory."""
    (tmp_path / "figure_A2.png").write_bytes(b"earlier figure")
    assert "never overwritten" in _error_line(capsys, ["plot", "--out", str(tmp_path), "--quick"])
    assert (tmp_path / "figure_A2.png").read_bytes() == b"earlier figure"
    assert not (tmp_path / "figure_A1.png").exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is a file" in _error_line(capsys, ["plot", "--out", str(a_file)])


def test_bug_subnormal_scale_reported_as_constant(capsys):
    """--scale 1e-320 (subnormal: a·z keeps ≤ 4 digits) was reported as 'constant under N(0,1)'."""
    assert "--scale 1e-320 is invalid" in _error_line(capsys, ["describe", "relu", "--scale", "1e-320"])


@pytest.mark.parametrize(
    "argv",
    [
        ["describe", "relu", "--scale", "1e308"],
        ["describe", "square", "--scale", "1e200"],
        ["kernel", "foo", "0.5"],
        ["describe", "tanh", "--scale", "abc"],
    ],
)
def test_bug_overflowing_scale_prints_numpy_warning(argv):
    """relu(1e308·z) printed numpy's 'RuntimeWarning: overflow encountered in multiply' and its source line
    before the error; as a subprocess every bad input now writes exactly one stderr line."""
    proc = subprocess.run(
        [sys.executable, "-m", "theory", *argv], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == EXIT_BAD_INPUT
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_extreme_but_valid_inputs_succeed(capsys):
    for argv in (
        ["describe", "tanh", "--scale", "1e6"],
        ["describe", "sin", "--scale", "1e6", "--shift", "50"],
        ["describe", "tanh", "--scale", "1e-6", "--shift", "50"],
        ["describe", "relu", "--scale", "1e-300"],
        ["kernel", "tanh", "1", "-1", "0", "1e-300"],
    ):
        assert main(argv) == 0, argv
        assert capsys.readouterr().err == ""
