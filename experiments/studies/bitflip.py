"""The bit-flipping study: SGD, then Continual Backpropagation (Section 4, Figures B.1, B.2, Appendix B.1.1).

For each width, the runs of ``seeds`` (the list of seeds to run, as in every study) learn the
bit-flipping task online in one vectorized engine (:func:`experiments.bitflip.engine.make_engine`,
``engine=``): plain SGD until ``switch_step``, SGD + CBP after. Every ``bin_size`` steps each run logs one
line to ``metrics.jsonl``: the mean online loss of the bin, and the effective rank, duplicate fraction and
dead fraction of its hidden features on a fixed probe batch. Figures: ``figure_b1.png`` (metrics over time,
mean ± std over seeds, per width) and ``figure_b2.png`` (per width, the average over the last
``summary_window`` steps of each phase); ``summary.json`` holds the numbers of Figure B.2. A non-finite
online loss or non-finite hidden features stop the study (status ``diverged``), keeping the bins so far.

    python -m experiments bitflip --preset smoke
    python -m experiments bitflip --preset paper seeds=0..69 --out runs
    python -m experiments bitflip --resume RUN_DIR      # continue a killed run from its checkpoint

Checkpoints (every ``checkpoint_every`` samples, at the first bin end past each multiple) hold the state
of the engine of the width being trained (:mod:`experiments.studies.bitflip_state`), the index of that
width and the finished widths' wall times; later widths' engines are rebuilt from the seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from experiments.analysis import Groups, Run, StudyKind, group_runs, load_run, per_unit_means, series
from experiments.bitflip.engine import EngineBase, make_engine
from experiments.bitflip.learner import CBPSettings
from experiments.bitflip.probe import feature_metrics, run_probe_inputs
from experiments.bitflip.task import BitFlipTask
from experiments.checkpoint import Checkpointer, load_checkpoint, restore_global_rng
from experiments.config import (
    MAX_SEED,
    BaseConfig,
    ConfigError,
    Inert,
    config_from_dict,
    inert,
    param,
    resolve_config,
    seed_everything,
)
from experiments.runs import (
    THREAD_ENVIRONMENT,
    Diverged,
    MetricsLog,
    ProgressBar,
    check_out_root,
    check_resumable,
    open_run,
    tracked_run,
)
from experiments.studies.bitflip_state import capture_engine, check_backend, restore_engine
from experiments.studies.figure_files import StudyFigures, save_figure, setup_matplotlib
from experiments.studies.resume_cli import add_resume_argument, check_resume_alone
from theory.activations import get_activation

STUDY = "bitflip"
DEFAULT_OUT = "runs"
SUMMARY_FILE = "summary.json"
PHASES = ("sgd", "cbp")
FIGURE_METRICS = ("loss", "effective_rank", "duplicate_fraction", "dead_fraction")
FIGURE_NAMES = ("figure_b1.png", "figure_b2.png")
CBP_KEYS = ("replacement_rate", "maturity", "decay", "utility")
DEFAULT_SEEDS = tuple(range(8))
DEFAULT_CHECKPOINT_SAMPLES = 500_000
"""Samples between checkpoints: a few seconds to a minute of the numpy engine; a checkpoint is small."""
PAPER_SEEDS = tuple(range(5))
"""Appendix B.1.3: five seeds."""


@dataclass
class BitFlipConfig(BaseConfig):
    """Configuration of the bit-flipping study (defaults: the smoke preset's scale, paper hyperparameters)."""

    PRESETS: ClassVar[dict[str, dict]] = {
        "default": {},
        "smoke": {},
        "paper": {
            "width": (5, 10, 50, 100),
            "seeds": PAPER_SEEDS,
            "samples": 5_000_000,
            "switch_step": 2_500_000,
            "bin_size": 20_000,
        },
    }

    seeds: tuple[int, ...] = param(
        DEFAULT_SEEDS, "the seeds to run per width (3 = seed 3 alone; 0..69 = seventy)", low=0, high=MAX_SEED
    )
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
    out: str = param(DEFAULT_OUT, "root folder of run directories")
    checkpoint_every: int = param(
        DEFAULT_CHECKPOINT_SAMPLES,
        "samples between checkpoints (at bin ends), for --resume (0 = none)",
        low=0,
    )

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

    def resolved_device(self) -> str:
        """``cpu`` unless ``engine=torch`` (the fused and numpy engines run on the CPU: ``auto`` must not
        become ``cuda`` on a GPU machine, which :meth:`validate` would then refuse when the saved
        configuration is read back); with ``engine=torch``, ``auto`` resolved as in every study."""
        return super().resolved_device() if self.engine == "torch" else "cpu"

    def inert_keys(self) -> dict[str, Inert]:
        out: dict[str, Inert] = {}
        if not self.uses_cbp:
            out |= inert(
                CBP_KEYS, "switch_step < samples", f"switch_step={self.switch_step} ≥ samples={self.samples}"
            )
        elif self.replacement_rate == 0:
            out |= inert(CBP_KEYS[1:], "replacement_rate > 0", "replacement_rate=0: CBP replaces no unit")
        if self.flipping_bits == 0:
            out |= inert(("flip_period",), "flipping_bits ≥ 1", "flipping_bits=0")
        return out

    @classmethod
    def upgrade(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Runs saved before ``seeds`` became the list of seeds: ``seeds=N`` meant seed, …, seed+N−1."""
        if isinstance(values.get("seeds"), int):
            base = int(values.get("seed", 0))
            values = {**values, "seeds": list(range(base, base + values["seeds"])), "seed": 0}
        return values

    @property
    def uses_cbp(self) -> bool:
        return self.switch_step < self.samples

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
        if not self.uses_cbp:
            return None
        return CBPSettings(self.replacement_rate, self.maturity, self.decay, self.utility)

    def run_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.seed]

    def total_steps(self) -> int:
        """Online updates of the whole run: samples × widths × seeds."""
        return self.samples * len(self.width) * len(self.run_seeds())


def make_engines(cfg: BitFlipConfig) -> dict[int, EngineBase]:
    """One engine per width (every check of the task and the engine happens here, before any run dir)."""
    try:
        task = cfg.task()
        return {
            width: make_engine(
                task,
                width,
                cfg.run_seeds(),
                engine=cfg.engine,
                device=cfg.device if cfg.engine == "torch" else "cpu",
                activation=cfg.activation,
                lr=cfg.lr,
                cbp=cfg.cbp(),
                switch_step=cfg.switch_step if cfg.uses_cbp else None,
                dtype=cfg.precision,
                chunk_size=cfg.chunk_size,
            )
            for width in cfg.width
        }
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None


def bin_logger(
    cfg: BitFlipConfig, engine: EngineBase, width: int, probe: np.ndarray, log: MetricsLog, bar: ProgressBar
) -> Callable[[int, np.ndarray], None]:
    """The engine's end-of-bin callback: check finiteness, measure the probe features, log a line per run."""

    def on_bin(step: int, losses: np.ndarray) -> None:
        bad = [seed for seed, loss in zip(engine.seeds, losses) if not math.isfinite(float(loss))]
        if bad:
            raise Diverged.at(
                f"the online loss (lr={cfg.lr}) is not finite for seed(s) {', '.join(map(str, bad))}",
                width=width,
                step=step,
                seeds=bad,
            )
        features = engine.hidden_features(probe)
        if not np.isfinite(features).all():
            raise Diverged.at(f"the hidden features (lr={cfg.lr}) are not finite", width=width, step=step)
        metrics = feature_metrics(features)
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

    return on_bin


def run_study(cfg: BitFlipConfig, out_root: str | Path | None = None) -> Path:
    """Run every width of ``cfg`` into a new run directory under ``out_root`` (default ``cfg.out``):
    config.json, status.json, metrics.jsonl, summary.json, figures; return the directory."""
    root = cfg.out if out_root is None else out_root
    check_out_root(root, STUDY)
    seed_everything(cfg.seed)  # the engine draws from per-run streams; this covers everything else
    engines = make_engines(cfg)
    with open_run(root, STUDY, cfg) as run_dir:
        train_widths(cfg, engines, run_dir, None)
    return run_dir


def resume(run_dir: str | Path) -> Path:
    """Continue the killed run ``run_dir`` from its checkpoint (from its start when it has none) in the
    same directory; returns it."""
    run_dir = Path(run_dir)
    body = check_resumable(run_dir)
    cfg = config_from_dict(BitFlipConfig, body["config"])
    checkpoint = load_checkpoint(run_dir, STUDY, body["config"])
    seed_everything(cfg.seed)
    engines = make_engines(cfg)
    if checkpoint is not None and checkpoint["state"]["engine"] is not None:
        check_backend(engines[cfg.width[checkpoint["state"]["width_index"]]], checkpoint["state"]["engine"])
    at = (
        "the start (no checkpoint)"
        if checkpoint is None
        else (f"sample {checkpoint['step']} of width {cfg.width[checkpoint['state']['width_index']]}")
    )
    with tracked_run(run_dir, f"resumed from {at}"):
        train_widths(cfg, engines, run_dir, checkpoint)
    return run_dir


def train_widths(
    cfg: BitFlipConfig, engines: dict[int, EngineBase], run_dir: Path, checkpoint: dict[str, Any] | None
) -> None:
    """Every width's engine into ``run_dir`` (from ``checkpoint`` on), then summary.json and figures.
    A checkpoint's ``state``: ``width_index``, ``timings`` (finished widths) and ``engine``
    (:func:`experiments.studies.bitflip_state.capture_engine`, None when taken between widths)."""
    probe = run_probe_inputs(cfg.run_seeds(), cfg.num_bits, cfg.probe_size)  # each run's own batch
    saver = Checkpointer(
        run_dir, STUDY, json.loads(json.dumps(cfg.to_dict(), allow_nan=False)), cfg.checkpoint_every
    )
    timings: dict[str, float] = {}
    first, lines, elapsed_before = 0, 0, 0.0
    widths = list(engines)
    if checkpoint is not None:
        saved = checkpoint["state"]
        first, lines, timings = saved["width_index"], checkpoint["metric_lines"], dict(saved["timings"])
        if saved["engine"] is not None:
            restore_engine(engines[widths[first]], saved["engine"])
            elapsed_before = float(saved["elapsed_s"])
        restore_global_rng(checkpoint["rng"])
    with (
        MetricsLog(run_dir, keep_lines=lines) as log,
        ProgressBar(cfg.samples * len(cfg.width), desc=STUDY, enabled=cfg.progress) as bar,
        np.errstate(over="ignore", invalid="ignore"),  # a diverging run is caught by bin_logger
    ):
        for index in range(first, len(widths)):
            width, engine = widths[index], engines[widths[index]]
            bar.count = index * cfg.samples + engine.step
            start = time.perf_counter() - (elapsed_before if index == first else 0.0)
            on_bin = bin_logger(cfg, engine, width, probe, log, bar)

            def logged_and_saved(
                step: int,
                losses: np.ndarray,
                index: int = index,
                on_bin: Any = on_bin,
                engine: EngineBase = engine,
                start: float = start,
            ) -> None:
                on_bin(step, losses)
                if step < cfg.samples and saver.due(step, step - cfg.bin_size):
                    log.sync()
                    saver.save(
                        step,
                        log.lines,
                        {
                            "width_index": index,
                            "timings": timings,
                            "engine": capture_engine(engine),
                            "elapsed_s": time.perf_counter() - start,
                        },
                    )

            engine.run_binned(cfg.samples - engine.step, cfg.bin_size, logged_and_saved)
            timings[str(width)] = time.perf_counter() - start
            if saver.every and index + 1 < len(widths):
                log.sync()
                saver.save(
                    cfg.samples, log.lines, {"width_index": index + 1, "timings": timings, "engine": None}
                )
    run = load_run(run_dir, KIND)
    summary = summarize_runs([run])
    summary["wall_seconds_per_width"] = timings
    summary["engine_per_width"] = {
        str(w): e.backend if e.fallback_note is None else f"{e.backend} ({e.fallback_note})"
        for w, e in engines.items()
    }
    summary["sample_steps_per_second"] = {
        w: cfg.samples * len(cfg.run_seeds()) / s for w, s in timings.items()
    }
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    targets = {name: run_dir / name for name in FIGURE_NAMES}
    if cfg.figures and not any(path.exists() for path in targets.values()):  # drawn already if killed after
        draw(group_runs([run]), targets)


# ----------------------------------------------------------------------------------------------- analysis


def missing_records(cfg: BitFlipConfig, records: list[dict[str, Any]]) -> str | None:
    """What a finished run has and ``records`` lack: every (width, seed)'s record of the last step."""
    done = {(r.get("width"), r.get("seed")) for r in records if r.get("step") == cfg.samples}
    problems = []
    for width in cfg.width:
        short = [s for s in cfg.run_seeds() if (width, s) not in done]
        if short:
            last = max((int(r["step"]) for r in records if r.get("width") == width), default=0)
            problems.append(
                f"width {width}: {len(short)} of {len(cfg.run_seeds())} seeds stop before step "
                f"{cfg.samples} (last bin logged: step {last})"
            )
    return "; ".join(problems) or None


KIND = StudyKind(
    STUDY,
    BitFlipConfig,
    missing_records,
    lambda config: "bit flipping",
    frozenset({"chunk_size"}),
    environment_keys=(
        "numpy",
        "numba",
        "torch",
        "torch_threads",
        *(name.lower() for name in THREAD_ENVIRONMENT),
    ),
)
"""The bit-flipping study for :mod:`experiments.analysis`: the chunk size changes no number (tested
bitwise); the engines are numba (fused; absent numba means the numpy engine) or numpy, the probe metrics
use torch, so the numpy, numba and torch versions, torch's thread count and the BLAS thread variables
matter."""


def summarize(run_dir: Path) -> dict:
    """Figure B.2's numbers of one saved run (:func:`summarize_runs`)."""
    return summarize_runs([load_run(run_dir, KIND)])


def summarize_runs(runs: list[Run]) -> dict:
    """Figure B.2's numbers over the seeds of ``runs`` (one setting): per width and phase, mean and std
    over seeds of each seed's average over the bins ending in the last ``summary_window`` steps of the
    phase. A phase without such bins (an incomplete run) is left out."""
    cfg: BitFlipConfig = runs[0].config
    phase_ends = {"sgd": min(cfg.switch_step, cfg.samples), "cbp": cfg.samples}
    out: dict = {"phase_end_step": phase_ends, "widths": {}}
    for width in widths_of(runs):
        per_phase: dict[str, dict] = {}
        for phase, end in phase_ends.items():
            if phase == "cbp" and not cfg.uses_cbp:
                continue

            def in_window(r: dict, width: int = width, end: int = end) -> bool:
                return r.get("width") == width and end - cfg.summary_window < r["step"] <= end

            table = {metric: per_unit_means(runs, metric, in_window) for metric in FIGURE_METRICS}
            if not table["loss"]:
                continue
            per_phase[phase] = {
                metric: {"mean": float(np.mean(by_seed)), "std": float(np.std(by_seed))}
                for metric, by_seed in table.items()
            }
        out["widths"][str(width)] = per_phase
    return out


# ----------------------------------------------------------------------------------------------- figures


def widths_of(runs: list[Run]) -> list[int]:
    """The widths of a setting's runs (one run holds several; a sweep has one run per width)."""
    return sorted({width for run in runs for width in run.config.width})


def at_width(width: int) -> Callable[[dict[str, Any]], bool]:
    """Selects the records of one width."""
    return lambda record: record.get("width") == width


def draw(groups: Groups, targets: dict[str, Path]) -> list[Path]:
    """figure_b1.png (metrics vs step, mean ± std over seeds, per setting and width) and figure_b2.png
    (phase averages vs width, :func:`summarize_runs`)."""
    plt = setup_matplotlib()
    names = sorted(groups)
    many = len(names) > 1
    fig, axes = plt.subplots(1, len(FIGURE_METRICS), figsize=(4.5 * len(FIGURE_METRICS), 3.6))
    seeds = set()
    for label in names:
        runs = groups[label]
        for width in widths_of(runs):
            for ax, metric in zip(axes, FIGURE_METRICS):
                s = series(runs, metric, at_width(width))
                if not len(s):
                    continue
                seeds.add(int(s.count.max()))
                varies = int(s.count.min()) != int(s.count.max())
                text = (
                    (f"{label}, " if many else "") + f"width {width}" + (f" ({s.n_label})" if varies else "")
                )
                ax.plot(s.steps, s.mean, label=text)
                ax.fill_between(s.steps, s.mean - s.std, s.mean + s.std, alpha=0.25)
    switches = sorted({g[0].config.switch_step for g in groups.values() if g[0].config.uses_cbp})
    for ax, metric in zip(axes, FIGURE_METRICS):
        for switch in switches:
            ax.axvline(switch, color="k", linestyle="--", linewidth=1, label="SGD → CBP")
        ax.set_xlabel("samples")
        ax.set_title(metric.replace("_", " "))
    axes[0].legend(fontsize=8)
    count = f"{seeds.pop()} seeds" if len(seeds) == 1 else "seeds"
    fig.suptitle(f"Bit flipping: SGD then CBP ({count}, mean ± std)")
    fig.tight_layout()
    written = [save_figure(fig, targets["figure_b1.png"], dpi=120)]

    fig, axes = plt.subplots(1, len(FIGURE_METRICS), figsize=(4.5 * len(FIGURE_METRICS), 3.6))
    widths = sorted({w for g in groups.values() for run in g for w in run.config.width})
    slots = [(label, phase) for label in names for phase in PHASES]
    offsets = np.linspace(-0.3, 0.3, len(slots)) if len(slots) > 1 else np.zeros(1)
    summaries = {label: summarize_runs(groups[label]) for label in names}
    for ax, metric in zip(axes, FIGURE_METRICS):
        for offset, (label, phase) in zip(offsets, slots):
            points = [
                (i, summaries[label]["widths"][str(w)][phase][metric])
                for i, w in enumerate(widths)
                if phase in summaries[label]["widths"].get(str(w), {})
            ]
            if not points:
                continue
            ax.errorbar(
                np.array([i for i, _ in points]) + offset,
                [p["mean"] for _, p in points],
                yerr=[p["std"] for _, p in points],
                fmt="o",
                capsize=3,
                label=(f"{label}: " if many else "") + ("BP (SGD)" if phase == "sgd" else "CBP"),
            )
        ax.set_xticks(range(len(widths)), [str(w) for w in widths])
        ax.set_xlabel("width")
        windows = sorted({g[0].config.summary_window for g in groups.values()})
        ax.set_title(f"{metric.replace('_', ' ')} (last {', '.join(f'{w:,}' for w in windows)} steps)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    written.append(save_figure(fig, targets["figure_b2.png"], dpi=120))
    return written


FIGURES = StudyFigures(KIND, FIGURE_NAMES, lambda run_dir: run_dir, draw)
"""The bit-flipping figure set for ``python -m experiments plot`` (a run's figures lie in the run dir)."""


# ----------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bitflip`` subcommand's arguments: ``[--preset NAME] [--out DIR] [key=value ...]``."""
    parser.add_argument(
        "--preset",
        default=None,
        choices=list(BitFlipConfig.PRESETS),
        help=f"one of {', '.join(BitFlipConfig.PRESETS)} (default: default)",
    )
    add_resume_argument(parser)
    parser.add_argument(
        "--out", default=None, help=f"root folder of run directories (same as out=DIR; default {DEFAULT_OUT})"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.epilog = "keys:\n" + BitFlipConfig.describe()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    """Run the study from parsed arguments (``python -m experiments bitflip``) or an argv list; print the dir.
    A configuration mistake prints one ``error:`` line and returns 2."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(
            prog="python -m experiments bitflip", description=__doc__.splitlines()[0]
        )
        add_arguments(parser)
        args = parser.parse_args(args)
    if args.resume:
        check_resume_alone(args)
        print(resume(args.resume))
        return 0
    overrides = list(args.overrides) + ([f"out={args.out}"] if args.out else [])
    try:
        cfg = resolve_config(BitFlipConfig, args.preset or "default", overrides)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(run_study(cfg))
    return 0


if __name__ == "__main__":  # the same errors and exit statuses as ``python -m experiments bitflip``
    from experiments.__main__ import main as experiments_main

    sys.exit(experiments_main(["bitflip", *sys.argv[1:]]))
