"""The bit-flipping study: SGD, then Continual Backpropagation (Section 4, Figures B.1, B.2, Appendix B.1.1).

For each width, ``seeds`` runs learn the bit-flipping task online in one vectorized engine
(:func:`experiments.bitflip.engine.make_engine`, ``engine=``): plain SGD until ``switch_step``, SGD + CBP
after.
Every ``bin_size`` steps each run logs one line to ``metrics.jsonl``: the mean online loss of the bin,
and the effective rank, duplicate fraction and dead fraction of its hidden features on a fixed probe
batch. Figures: ``figure_b1.png`` (metrics over time, mean ± std over seeds, per width) and
``figure_b2.png`` (per width, the average over the last ``summary_window`` steps of each phase);
``summary.json`` holds the numbers of Figure B.2.

    python -m experiments bitflip --preset smoke
    python -m experiments bitflip --preset paper seeds=70 --out runs
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from experiments.bitflip.engine import EngineBase, make_engine
from experiments.bitflip.learner import CBPSettings
from experiments.bitflip.probe import feature_metrics, run_probe_inputs
from experiments.bitflip.task import BitFlipTask
from experiments.config import (
    BaseConfig,
    ConfigError,
    config_from_dict,
    param,
    resolve_config,
    seed_everything,
)
from experiments.runs import MetricsLog, ProgressBar, load_config, new_run_dir, save_config
from theory.activations import get_activation

STUDY = "bitflip"
DEFAULT_OUT = "runs"
SUMMARY_FILE = "summary.json"
PHASES = ("sgd", "cbp")
FIGURE_METRICS = ("loss", "effective_rank", "duplicate_fraction", "dead_fraction")


@dataclass
class BitFlipConfig(BaseConfig):
    """Configuration of the bit-flipping study (defaults: the smoke preset's scale, paper hyperparameters)."""

    PRESETS: ClassVar[dict[str, dict]] = {
        "default": {},
        "smoke": {},
        "paper": {
            "width": (5, 10, 50, 100),
            "seeds": 5,
            "samples": 5_000_000,
            "switch_step": 2_500_000,
            "bin_size": 20_000,
        },
    }

    seeds: int = param(8, "number of runs per width (seeds seed, seed+1, ...)", low=1)
    samples: int = param(600_000, "online samples (= steps) per run", low=1)
    width: tuple[int, ...] = param((5, 50), "hidden widths of the learner (comma-separated)", low=1)
    switch_step: int = param(300_000, "step at which SGD switches to SGD+CBP (>= samples: never)", low=0)
    lr: float = param(0.01, "SGD step size on (y_hat - y)^2", low=0.0, low_open=True)
    activation: str = param("relu", "hidden activation (theory.activations registry name)")
    replacement_rate: float = param(
        1e-4, "CBP replacement rate r (units per eligible unit per step)", low=0.0, high=1.0
    )
    maturity: int = param(100, "CBP maturity threshold (only units older than this are replaced)", low=0)
    decay: float = param(
        0.99,
        "CBP decay rate rho of the utility and mean-activation averages",
        low=0.0,
        high=1.0,
        high_open=True,
    )
    utility: Literal["contribution", "adaptable_contribution"] = param(
        "adaptable_contribution", "CBP utility (Dohare et al. use adaptable_contribution on this task)"
    )
    num_bits: int = param(20, "m: input bits (a bias bit comes on top)", low=1, high=64)
    flipping_bits: int = param(15, "f: flipping bits (first f inputs)", low=0)
    flip_period: int = param(10_000, "T: steps between two bit flips", low=1)
    target_width: int = param(100, "hidden LTUs of the target network", low=1)
    beta: float = param(0.7, "beta of the LTU thresholds", low=0.0, high=1.0)
    threshold_rule: Literal["original", "matching", "paper"] = param(
        "original",
        "LTU threshold rule (docs/bitflip.md): Dohare's code, intended matching rule, or as printed",
    )
    flip: Literal["one", "redraw"] = param(
        "one",
        "at every flip_period: invert one flipping bit (the paper) or redraw all of them (Dohare's code)",
    )
    engine: Literal["auto", "fused", "numpy", "torch"] = param(
        "auto",
        "auto (fused, numpy without numba), fused (numba, CPU), numpy (reference, CPU), torch (any device)",
    )
    bin_size: int = param(10_000, "steps per logged bin (must divide samples and switch_step)", low=1)
    probe_size: int = param(1000, "probe inputs for effective rank / duplicate / dead fractions", low=1)
    summary_window: int = param(
        100_000, "Figure B.2: average over the last this many steps of each phase", low=1
    )
    precision: Literal["float32", "float64"] = param("float32", "floating point type of the engine")
    chunk_size: int = param(1000, "steps of task data generated at once", low=1)
    figures: bool = param(True, "write figure_b1.png and figure_b2.png")

    def validate(self) -> None:
        super().validate()
        if self.device not in ("auto", "cpu") and self.engine != "torch":
            raise ConfigError(
                f"device={self.device!r} needs engine=torch; engine={self.engine} runs on the CPU"
            )
        if self.flipping_bits > self.num_bits:
            raise ConfigError(f"flipping_bits={self.flipping_bits} exceeds num_bits={self.num_bits}")
        if self.samples % self.bin_size:
            raise ConfigError(f"bin_size={self.bin_size} must divide samples={self.samples}")
        if self.switch_step < self.samples and self.switch_step % self.bin_size:
            raise ConfigError(f"bin_size={self.bin_size} must divide switch_step={self.switch_step}")
        if len(set(self.width)) != len(self.width) or not self.width:
            raise ConfigError(f"width={self.width} must be a non-empty list of distinct widths")
        try:
            get_activation(self.activation)
        except ValueError as error:
            raise ConfigError(f"activation={self.activation!r}: {error}") from None

    def task(self) -> BitFlipTask:
        return BitFlipTask(
            num_bits=self.num_bits,
            num_flipping=self.flipping_bits,
            flip_period=self.flip_period,
            target_width=self.target_width,
            beta=self.beta,
            threshold_rule=self.threshold_rule,
            flip=self.flip,
        )

    def cbp(self) -> CBPSettings | None:
        if self.switch_step >= self.samples:
            return None
        return CBPSettings(self.replacement_rate, self.maturity, self.decay, self.utility)

    def run_seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))


def run_study(cfg: BitFlipConfig, out_root: str | Path = DEFAULT_OUT) -> Path:
    """Run every width of ``cfg``: write config.json, metrics.jsonl, summary.json, figures; return the dir."""
    seed_everything(cfg.seed)  # the engine draws from per-run streams; this covers everything else
    run_dir = new_run_dir(out_root, STUDY)
    save_config(run_dir, cfg)
    task = cfg.task()
    probe = run_probe_inputs(cfg.run_seeds(), cfg.num_bits, cfg.probe_size)  # each run's own batch
    timings: dict[str, float] = {}
    engines: dict[str, str] = {}
    with (
        MetricsLog(run_dir) as log,
        ProgressBar(cfg.samples * len(cfg.width), desc=STUDY, enabled=cfg.progress) as bar,
    ):
        for width in cfg.width:
            engine = make_engine(
                task,
                width,
                cfg.run_seeds(),
                engine=cfg.engine,
                device=cfg.device if cfg.engine == "torch" else "cpu",
                activation=cfg.activation,
                lr=cfg.lr,
                cbp=cfg.cbp(),
                switch_step=cfg.switch_step if cfg.switch_step < cfg.samples else None,
                dtype=cfg.precision,
                chunk_size=cfg.chunk_size,
            )
            start = time.perf_counter()

            def on_bin(
                step: int, losses: np.ndarray, engine: EngineBase = engine, width: int = width
            ) -> None:
                metrics = feature_metrics(engine.hidden_features(probe))
                phase = "sgd" if step <= cfg.switch_step else "cbp"
                for r, seed in enumerate(engine.seeds):
                    log.log(
                        step=step,
                        seed=seed,
                        width=width,
                        phase=phase,
                        loss=float(losses[r]),
                        **{name: float(values[r]) for name, values in metrics.items()},
                        replacements=int(engine.replacements[r]),
                    )
                bar.update(cfg.bin_size, width=width, loss=float(losses.mean()))

            engine.run_binned(cfg.samples, cfg.bin_size, on_bin)
            timings[str(width)] = time.perf_counter() - start
            engines[str(width)] = engine.backend if engine.fallback_note is None else (
                f"{engine.backend} ({engine.fallback_note})"
            )
    summary = summarize(run_dir, cfg)
    summary["wall_seconds_per_width"] = timings
    summary["engine_per_width"] = engines
    summary["sample_steps_per_second"] = {w: cfg.samples * cfg.seeds / s for w, s in timings.items()}
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    if cfg.figures:
        plot_figures(run_dir, cfg, summary)
    return run_dir


def redraw(run_dir: Path) -> list[Path]:
    """Recompute ``summary.json``'s figure numbers from a saved run and redraw its two figures."""
    cfg = config_from_dict(BitFlipConfig, load_config(run_dir))
    plot_figures(run_dir, cfg, summarize(run_dir, cfg))
    return [run_dir / "figure_b1.png", run_dir / "figure_b2.png"]


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def summarize(run_dir: Path, cfg: BitFlipConfig) -> dict:
    """Figure B.2's numbers: per width and phase, mean and std over seeds of each run's average over the
    bins ending in the last ``summary_window`` steps of the phase."""
    records = _records(run_dir)
    phase_ends = {"sgd": min(cfg.switch_step, cfg.samples), "cbp": cfg.samples}
    out: dict = {"phase_end_step": phase_ends, "widths": {}}
    for width in cfg.width:
        per_phase = {}
        for phase, end in phase_ends.items():
            if phase == "cbp" and cfg.switch_step >= cfg.samples:
                continue
            window = [
                r for r in records if r["width"] == width and end - cfg.summary_window < r["step"] <= end
            ]
            per_phase[phase] = {}
            for metric in FIGURE_METRICS:
                by_seed = [np.mean([r[metric] for r in window if r["seed"] == s]) for s in cfg.run_seeds()]
                per_phase[phase][metric] = {"mean": float(np.mean(by_seed)), "std": float(np.std(by_seed))}
        out["widths"][str(width)] = per_phase
    return out


def plot_figures(run_dir: Path, cfg: BitFlipConfig, summary: dict) -> None:
    """figure_b1.png (metrics vs step, mean ± std over seeds) and figure_b2.png (phase averages vs width)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = _records(run_dir)
    fig, axes = plt.subplots(1, len(FIGURE_METRICS), figsize=(4.5 * len(FIGURE_METRICS), 3.6))
    for width in cfg.width:
        steps = sorted({r["step"] for r in records if r["width"] == width})
        for ax, metric in zip(axes, FIGURE_METRICS):
            table = np.array(
                [[r[metric] for r in records if r["width"] == width and r["step"] == s] for s in steps]
            )
            mean, std = table.mean(axis=1), table.std(axis=1)
            ax.plot(steps, mean, label=f"width {width}")
            ax.fill_between(steps, mean - std, mean + std, alpha=0.25)
    for ax, metric in zip(axes, FIGURE_METRICS):
        if cfg.switch_step < cfg.samples:
            ax.axvline(cfg.switch_step, color="k", linestyle="--", linewidth=1, label="SGD → CBP")
        ax.set_xlabel("samples")
        ax.set_title(metric.replace("_", " "))
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Bit flipping: SGD then CBP ({cfg.seeds} seeds, mean ± std)")
    fig.tight_layout()
    fig.savefig(run_dir / "figure_b1.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(FIGURE_METRICS), figsize=(4.5 * len(FIGURE_METRICS), 3.6))
    widths = list(cfg.width)
    for ax, metric in zip(axes, FIGURE_METRICS):
        for offset, phase in zip((-0.15, 0.15), PHASES):
            if phase not in summary["widths"][str(widths[0])]:
                continue
            mean = [summary["widths"][str(w)][phase][metric]["mean"] for w in widths]
            std = [summary["widths"][str(w)][phase][metric]["std"] for w in widths]
            ax.errorbar(
                np.arange(len(widths)) + offset,
                mean,
                yerr=std,
                fmt="o",
                capsize=3,
                label="BP (SGD)" if phase == "sgd" else "CBP",
            )
        ax.set_xticks(range(len(widths)), [str(w) for w in widths])
        ax.set_xlabel("width")
        ax.set_title(f"{metric.replace('_', ' ')} (last {cfg.summary_window:,} steps)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(run_dir / "figure_b2.png", dpi=120)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bitflip`` subcommand's arguments: ``[--preset NAME] [--out DIR] [key=value ...]``."""
    parser.add_argument("--preset", default="default", help=f"one of {', '.join(BitFlipConfig.PRESETS)}")
    parser.add_argument("--out", default=DEFAULT_OUT, help="root directory of run directories")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.epilog = "keys:\n" + BitFlipConfig.describe()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Run the study from parsed arguments (``python -m experiments bitflip``) or an argv list; print the dir."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(
            prog="python -m experiments bitflip", description=__doc__.splitlines()[0]
        )
        add_arguments(parser)
        args = parser.parse_args(args)
    try:
        cfg = resolve_config(BitFlipConfig, args.preset, args.overrides)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(run_study(cfg, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
