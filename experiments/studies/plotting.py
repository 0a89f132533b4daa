"""``python -m experiments plot RUN_DIR ...``: redraw a study's figures from saved runs.

The study is read from each run's ``config.json`` (``config_class``); all runs given must belong to one
study. Cloning runs are drawn here (Figure 2.1 layout): cloning R², training loss of clone and base,
effective rank — mean and spread (± one standard deviation) over the seeds of each setting. Runs are
grouped by their configuration without the seed; a group's label lists the keys that differ between
groups (e.g. ``optimizer=noisy_sgd``). Continual and bit-flipping runs are drawn by their study modules.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.config import ConfigError  # noqa: E402
from experiments.runs import load_config, load_metrics  # noqa: E402

PANELS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Cloning R²", ("cloning_r2",), "R²"),
    ("Training loss (solid: clone, dashed: base)", ("clone_loss", "base_loss"), "loss"),
    ("Effective rank, last hidden layer (solid: clone, dashed: base)", ("clone_effective_rank", "base_effective_rank"),
     "effective rank"),
)
_IGNORED_KEYS = {"seed", "out", "progress", "device"}


def group_runs(run_dirs: list[Path]) -> dict[str, list[Path]]:
    """Runs keyed by a label naming the configuration keys that differ between the groups."""
    configs = {d: {k: v for k, v in load_config(d).items() if k not in _IGNORED_KEYS} for d in run_dirs}
    keys = sorted({k for c in configs.values() for k in c})
    varying = [k for k in keys if len({json.dumps(c.get(k)) for c in configs.values()}) > 1]
    groups: dict[str, list[Path]] = defaultdict(list)
    for d, c in configs.items():
        label = ", ".join(f"{k}={c.get(k)}" for k in varying) or str(c.get("optimizer", "run"))
        groups[label].append(d)
    return dict(groups)


def series(run_dirs: list[Path], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, std) of ``key`` over the clone phase of ``run_dirs`` (steps common to all runs)."""
    per_run = []
    for d in run_dirs:
        pts = {r["step"]: r[key] for r in load_metrics(d) if r.get("phase") == "clone" and key in r
               and isinstance(r[key], (int, float)) and not math.isnan(r[key])}
        per_run.append(pts)
    steps = sorted(set.intersection(*(set(p) for p in per_run))) if per_run else []
    if not steps:
        return np.array([]), np.array([]), np.array([])
    values = np.array([[p[s] for s in steps] for p in per_run], dtype=float)
    return np.array(steps), values.mean(0), values.std(0)


def plot_runs(run_dirs: list[Path], out_file: Path) -> Path:
    """Draw the three panels for every group of ``run_dirs`` into ``out_file`` (PNG)."""
    groups = group_runs([Path(d) for d in run_dirs])
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.6))
    for ax, (title, keys, ylabel) in zip(axes, PANELS):
        for gi, (label, dirs) in enumerate(sorted(groups.items())):
            colour = f"C{gi % 10}"
            for ki, key in enumerate(keys):
                steps, mean, std = series(dirs, key)
                if not len(steps):
                    continue
                who = key.split("_")[0] if len(keys) > 1 else ""
                ax.plot(steps, mean, color=colour, linestyle="-" if ki == 0 else "--",
                        label=f"{label} {who}".strip() + (f" (n={len(dirs)})" if len(dirs) > 1 else ""))
                if len(dirs) > 1:
                    ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("epoch after cloning")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
    return out_file


def add_arguments(parser: Any) -> None:
    parser.add_argument("runs", nargs="+", help="run directories (or folders containing run directories)")
    parser.add_argument(
        "--output",
        default=None,
        help="cloning: PNG file (default: cloning.png beside the runs); continual: folder (default: figures/ in the first run)",
    )


def _expand_dirs(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if (p / "config.json").is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(d for d in p.rglob("*") if (d / "config.json").is_file())
        else:
            raise FileNotFoundError(f"{p} is not a run directory (no config.json) nor a folder of runs")
    if not out:
        raise FileNotFoundError(f"no run directories found under {paths}")
    return out


def _study_of(run_dir: Path) -> str:
    return json.loads((run_dir / "config.json").read_text()).get("config_class", "")


def main(args: Any) -> int:
    dirs = _expand_dirs(args.runs)
    studies = {_study_of(d) for d in dirs}
    if len(studies) != 1:
        raise ConfigError(f"runs of several studies were given ({', '.join(sorted(studies))}); plot one study at a time")
    study = studies.pop()
    if study == "ContinualConfig":
        from experiments.studies import continual

        out_dir = Path(args.output) if args.output else dirs[0] / "figures"
        paths = continual.plot_run(dirs, out_dir)
    elif study == "BitFlipConfig":
        from experiments.studies import bitflip

        if args.output:
            raise ConfigError("bit-flipping figures are redrawn inside each run directory; drop --output")
        paths = [p for d in dirs for p in bitflip.redraw(d)]
    elif study == "CloningConfig":
        paths = [plot_runs(dirs, Path(args.output) if args.output else dirs[0].parent / "cloning.png")]
    else:
        raise ConfigError(f"{dirs[0]} holds a {study or 'unnamed'} run; plot knows CloningConfig, ContinualConfig, BitFlipConfig")
    for path in paths:
        print(path)
    return 0
