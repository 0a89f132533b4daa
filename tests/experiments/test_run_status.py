"""Run directories' status, metrics reading and output checks (experiments.runs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from experiments.config import ConfigError
from experiments.runs import (
    COMPLETE,
    DIVERGED,
    FAILED,
    RUNNING,
    STATUS_FILE,
    Diverged,
    MetricsLog,
    RunFileError,
    check_out_root,
    create_exclusive,
    open_run,
    read_metrics,
    read_status,
    require_finite,
    torch_threads,
    write_status,
)


def states(run_dir: Path) -> str:
    status = read_status(run_dir)
    assert status is not None
    return status["state"]


def test_a_run_is_running_then_complete(tmp_path: Path) -> None:
    with open_run(tmp_path, "toy", {"a": 1}) as run_dir:
        assert states(run_dir) == RUNNING and (run_dir / "config.json").is_file()
    assert states(run_dir) == COMPLETE
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_diverged_run_says_where_and_keeps_its_metrics(tmp_path: Path) -> None:
    with (
        pytest.raises(Diverged) as info,
        open_run(tmp_path, "toy", {"a": 1}) as run_dir,
        MetricsLog(run_dir) as log,
    ):
        log.log(step=0, loss=1.0)
        require_finite(math.nan, "the loss", seed=3, step=7)
    assert info.value.run_dir == run_dir and info.value.message == "the loss is nan at seed 3, step 7"
    status = read_status(run_dir)
    assert status is not None and status["state"] == DIVERGED and (status["seed"], status["step"]) == (3, 7)
    assert read_metrics(run_dir).records == [{"step": 0, "loss": 1.0}]


def test_a_crashed_run_is_marked_failed(tmp_path: Path) -> None:
    with pytest.raises(KeyError), open_run(tmp_path, "toy", {"a": 1}) as run_dir:
        raise KeyError("boom")
    status = read_status(run_dir)
    assert status is not None and status["state"] == FAILED and "KeyError" in status["message"]


def test_status_rejects_unknown_states(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="running, complete, diverged, failed"):
        write_status(tmp_path, "sleeping")
    (tmp_path / STATUS_FILE).write_text("[")
    with pytest.raises(RunFileError, match="status.json is not valid JSON"):
        read_status(tmp_path)
    assert read_status(tmp_path / "nowhere") is None


def test_torn_last_line_is_dropped_and_other_damage_named(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 0}\n{"step": 1}\n')
    assert (
        read_metrics(tmp_path).records == [{"step": 0}, {"step": 1}]
        and not read_metrics(tmp_path).torn_last_line
    )
    path.write_text('{"step": 0}\n{"step": 1}')  # complete last record, newline not yet written
    assert len(read_metrics(tmp_path).records) == 2 and not read_metrics(tmp_path).torn_last_line
    path.write_text('{"step": 0}\n{"step": 1, "lo')
    contents = read_metrics(tmp_path)
    assert contents.records == [{"step": 0}] and contents.torn_last_line
    path.write_text('{"step": 0}\n{"step": 1, "lo\n')  # a newline after it: not torn by a kill
    with pytest.raises(RunFileError, match=r"metrics.jsonl, line 2: not a JSON object"):
        read_metrics(tmp_path)
    path.write_text('{"step": 0}\n"text"\n{"step": 2}\n')
    with pytest.raises(RunFileError, match="line 2"):
        read_metrics(tmp_path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(RunFileError, match="not UTF-8"):
        read_metrics(tmp_path)


def test_out_must_be_a_writable_folder(tmp_path: Path) -> None:
    assert check_out_root(tmp_path / "new" / "deeper", "study") == tmp_path / "new" / "deeper"
    (tmp_path / "file").write_text("")
    for out in (tmp_path / "file", tmp_path / "file" / "below"):
        with pytest.raises(ConfigError, match="is a file, not a folder"):
            check_out_root(out, "study")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "study").write_text("")
    with pytest.raises(ConfigError, match="root/study is a file"):
        check_out_root(tmp_path / "root", "study")


def test_figures_are_created_exclusively(tmp_path: Path) -> None:
    with create_exclusive(tmp_path / "a.png") as handle:
        handle.write(b"first")
    with pytest.raises(FileExistsError, match="never overwritten"):
        create_exclusive(tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == b"first"


def test_thread_setting_is_scoped(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with torch_threads(0):
        assert torch.get_num_threads() == before


def test_environment_records_what_changes_results(tmp_path: Path) -> None:
    with torch_threads(2), open_run(tmp_path, "toy", {"a": 1}) as run_dir:
        pass
    environment = json.loads((run_dir / "config.json").read_text())["environment"]
    assert environment["torch_threads"] == 2 and environment["torch"] == torch.__version__
    assert environment["default_dtype"] == "torch.float32" and "numpy" in environment
