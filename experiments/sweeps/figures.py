"""The paper's figures as named sweeps (Appendix B): their grids at the ``smoke`` and ``paper`` scale, and
how each figure is cut from the finished runs.

Values from the paper (Appendix B.1.1, B.1.3 and the figure captions) and, where it is silent, ours:

* **2.1 / B.7** (``cloning-escape``): MLP, CNN, ResNet, ViT × {SGD, noisy SGD, dropout} × 5 seeds; SGD
  lr 0.01, noisy SGD σ₀ = 0.01, λ = 0.999, dropout p = 0.1 (with SGD); batch norm, layer norm for the
  ViT; CIFAR-10, 20 base epochs then 500 epochs side by side, clone factor 2 (paper). Figure 2.1 is the
  MLP column of Figure B.7.
* **B.8–B.11** (``noisy-sgd``): MLP and ViT, noisy SGD with σ₀ ∈ {0.001, 0.01, 0.1} at λ = 0.999 and
  λ ∈ {0.99, 0.999, 0.9999} at σ₀ = 0.01 (the paper names the parameters, not the values: ours; one
  decade either side of the paper's default, and λ so that the noise halves after ~70, ~700, ~7,000
  steps), lr 0.01. The (σ₀ = 0.01, λ = 0.999) point is shared by both slices and run once.
* **B.12** (``dropout``): MLP, CNN, ViT × dropout p ∈ {0.05, 0.1, 0.2} (ours; the paper uses 0.1 elsewhere)
  × lr ∈ {0.01, 0.001, 0.0001} (Appendix B.1.3: "for cloning experiments with dropout, we varied the
  learning rate on a grid 0.01, 0.001, 0.0001"), SGD.
* **B.13** (``adam-mlp``) and **B.14** (``adam-vit``): SGD lr 0.01 against Adam, lr 0.001 for the MLP and
  0.0001 for the ViT (the paper gives no cloning Adam lr: ours, its continual-study values).
* **3.1 / 3.2 / 4.1 / B.3–B.6** (``continual``): MLP, CNN, ResNet, ViT × normalization {none, the
  architecture's (batch; layer for the ViT) with affine γ, β, the same without} × dropout {the
  architecture's default (0.2 MLP, 0.1 others), none} × 5 seeds, one seed per point; Tiny ImageNet,
  40 tasks × 5 classes × 500 steps, Adam lr 1e-3 (1e-4 ViT). The paper fixes lr per architecture
  (Appendix B.1.3), so lr is not an axis. Figure 4.1 is the normalization axis (dotted: with affine),
  B.5/B.6 the points without normalization and dropout (``layers.png``).
* **B.1 / B.2** (``bitflip``): widths 5, 10, 50, 100 (the paper names no widths: ours, a decade and a
  half around the target network's 100 units), one point per width (the engine runs the seeds together),
  5 seeds (Appendix B.1.3: "5 seeds for all experiments"), 5M samples, switch to CBP at 2.5M (Figure B.1's
  caption), the last 100K steps of each phase averaged for B.2 (its caption).

The ``smoke`` grids keep every axis but shrink the runs (synthetic 3×8×8 data, width 0.25, a few
epochs or steps, 2 seeds; some value lists shortened) so that each finishes on 2 CPU cores in minutes:
they check the plumbing and the figure, not the paper's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from experiments.sweeps.grid import Axis, Block, Choice, Grid, SweepError

PAPER_SEEDS = (0, 1, 2, 3, 4)
SMOKE_SEEDS = (0, 1)
CLONING_SMOKE = (
    "train_samples=512",
    "test_samples=256",
    "base_epochs=2",
    "clone_epochs=10",
    "metric_every=2",
    "metric_batch=128",
)
"""The cloning smoke preset shrunk for sweeps (a ViT point takes ~30 s on one loaded core instead of
~500 s)."""
CONTINUAL_SMOKE = ("tasks=3", "steps_per_task=50", "log_interval=25", "metric_batch_size=128")
BITFLIP_SMOKE = ("samples=200000", "switch_step=100000", "bin_size=10000", "summary_window=50000")
PRESETS = ("smoke", "paper")


def choice(label: str, **sets: Any) -> Choice:
    return Choice(label, tuple((key, str(value)) for key, value in sets.items()))


def axis(key: str, *values: Any) -> Axis:
    return Axis.of(key, [str(v) for v in values])


@dataclass(frozen=True)
class Facet:
    """One figure file cut from a sweep: the points it shows (``select`` on a point's resolved
    configuration) and the curve each point belongs to (``curve``)."""

    name: str
    title: str
    select: Callable[[dict[str, Any]], bool]
    curve: Callable[[dict[str, Any], dict[str, str]], str]


@dataclass(frozen=True)
class SweepScale:
    """A figure sweep at one scale: the study preset, fixed keys, the grid (without seeds) and the seeds."""

    study_preset: str
    fixed: tuple[str, ...]
    grid: Grid
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class FigureSweep:
    name: str
    figures: tuple[str, ...]
    study: str
    description: str
    scales: dict[str, SweepScale]
    facets: tuple[Facet, ...]
    seed_axis: str | None
    """The key that varies a point's seed (``seed``, ``seeds``), or None when the seeds are fixed."""

    def grid(self, preset: str, seeds: tuple[int, ...] | None = None) -> tuple[SweepScale, Grid]:
        scale = self.scales[preset]
        chosen = seeds if seeds is not None else scale.seeds
        if self.seed_axis is None:
            return scale, scale.grid
        return scale, scale.grid.with_axis(axis(self.seed_axis, *chosen))

    def fixed(self, preset: str, seeds: tuple[int, ...] | None = None) -> list[str]:
        scale = self.scales[preset]
        extra = []
        if self.seed_axis is None:
            chosen = seeds if seeds is not None else scale.seeds
            extra = [f"seeds={','.join(map(str, chosen))}"]
        return [*scale.fixed, *extra]


def with_arch(arch: str) -> Callable[[dict[str, Any]], bool]:
    """Selects the points of one architecture."""
    return lambda config: config["arch"] == arch


def _arch_facets(
    prefix: str, archs: tuple[str, ...], title: str, curve: Callable[..., str]
) -> tuple[Facet, ...]:
    return tuple(Facet(f"{prefix}_{arch}", f"{title}, {arch}", with_arch(arch), curve) for arch in archs)


def by_labels(*axes: str) -> Callable[[dict[str, Any], dict[str, str]], str]:
    """A point's curve: its labels on ``axes``."""
    return lambda config, labels: ", ".join(labels[a] if len(axes) == 1 else f"{a}={labels[a]}" for a in axes)


ARCHS = ("mlp", "cnn", "resnet", "vit")
ESCAPE = Axis(
    "method",
    (
        choice("SGD", optimizer="sgd"),
        choice("noisy SGD", optimizer="noisy_sgd", sigma0=0.01, decay=0.999),
        choice("dropout", dropout=0.1),
    ),
)
SIGMAS, DECAYS = (0.001, 0.01, 0.1), (0.99, 0.999, 0.9999)
PAPER_SIGMA0, PAPER_DECAY = 0.01, 0.999


def noisy_grid(archs: tuple[str, ...]) -> Grid:
    """σ₀ varied at the paper's λ, and λ varied at the paper's σ₀ (two blocks)."""
    return Grid(
        (
            Block((axis("arch", *archs), axis("sigma0", *SIGMAS), axis("decay", PAPER_DECAY))),
            Block((axis("arch", *archs), axis("sigma0", PAPER_SIGMA0), axis("decay", *DECAYS))),
        )
    )


def with_arch_at(arch: str, key: str, value: float) -> Callable[[dict[str, Any]], bool]:
    """Selects the points of one architecture with ``key`` = ``value`` (one slice of a two-block grid)."""
    return lambda config: config["arch"] == arch and config[key] == value


def noisy_facets() -> tuple[Facet, ...]:
    out = []
    for figure_sigma, figure_decay, arch in (("B8", "B9", "mlp"), ("B10", "B11", "vit")):
        out.append(
            Facet(
                f"{figure_sigma}_{arch}_sigma0",
                f"Figure {figure_sigma[0]}.{figure_sigma[1:]}: σ₀ (λ = 0.999), {arch}",
                with_arch_at(arch, "decay", PAPER_DECAY),
                lambda c, labels: f"σ₀={c['sigma0']}",
            )
        )
        out.append(
            Facet(
                f"{figure_decay}_{arch}_decay",
                f"Figure {figure_decay[0]}.{figure_decay[1:]}: λ (σ₀ = 0.01), {arch}",
                with_arch_at(arch, "sigma0", PAPER_SIGMA0),
                lambda c, labels: f"λ={c['decay']}",
            )
        )
    return tuple(out)


NORMALIZATION = Axis(
    "normalization",
    (
        choice("none", normalization="none"),
        choice("norm+affine", normalization="default", affine="true"),
        choice("norm", normalization="default", affine="false"),
    ),
)
DROPOUT = Axis("dropout", (Choice("default dropout", ()), choice("no dropout", dropout=0.0)))

FIGURE_SWEEPS: tuple[FigureSweep, ...] = (
    FigureSweep(
        "cloning-escape",
        ("2.1", "B.7"),
        "cloning",
        "cloning: architectures × SGD / noisy SGD / dropout (Figure 2.1 is the MLP column of B.7)",
        {
            "smoke": SweepScale(
                "smoke", CLONING_SMOKE, Grid((Block((axis("arch", *ARCHS), ESCAPE)),)), SMOKE_SEEDS
            ),
            "paper": SweepScale(
                "paper", ("lr=0.01",), Grid((Block((axis("arch", *ARCHS), ESCAPE)),)), PAPER_SEEDS
            ),
        },
        _arch_facets("fig2.1_B7", ARCHS, "Figures 2.1 / B.7", by_labels("method")),
        "seed",
    ),
    FigureSweep(
        "noisy-sgd",
        ("B.8", "B.9", "B.10", "B.11"),
        "cloning",
        "cloning: noisy SGD's σ₀ (B.8 MLP, B.10 ViT) and λ (B.9 MLP, B.11 ViT)",
        {
            "smoke": SweepScale(
                "smoke", (*CLONING_SMOKE, "optimizer=noisy_sgd"), noisy_grid(("mlp", "vit")), SMOKE_SEEDS
            ),
            "paper": SweepScale(
                "paper", ("optimizer=noisy_sgd", "lr=0.01"), noisy_grid(("mlp", "vit")), PAPER_SEEDS
            ),
        },
        noisy_facets(),
        "seed",
    ),
    FigureSweep(
        "dropout",
        ("B.12",),
        "cloning",
        "cloning: dropout probability × learning rate, MLP, CNN, ViT (SGD)",
        {
            "smoke": SweepScale(
                "smoke",
                CLONING_SMOKE,
                Grid(
                    (
                        Block(
                            (
                                axis("arch", "mlp", "cnn", "vit"),
                                axis("dropout", 0.1, 0.2),
                                axis("lr", 0.05, 0.005),
                            )
                        ),
                    )
                ),
                SMOKE_SEEDS,
            ),
            "paper": SweepScale(
                "paper",
                (),
                Grid(
                    (
                        Block(
                            (
                                axis("arch", "mlp", "cnn", "vit"),
                                axis("dropout", 0.05, 0.1, 0.2),
                                axis("lr", 0.01, 0.001, 0.0001),
                            )
                        ),
                    )
                ),
                PAPER_SEEDS,
            ),
        },
        _arch_facets("B12", ("mlp", "cnn", "vit"), "Figure B.12", by_labels("dropout", "lr")),
        "seed",
    ),
    FigureSweep(
        "adam-mlp",
        ("B.13",),
        "cloning",
        "cloning: SGD against Adam, MLP",
        {
            "smoke": SweepScale(
                "smoke",
                (*CLONING_SMOKE, "arch=mlp"),
                Grid(
                    (
                        Block(
                            (
                                Axis(
                                    "optimizer",
                                    (
                                        choice("SGD", optimizer="sgd"),
                                        choice("Adam", optimizer="adam", lr=0.001),
                                    ),
                                ),
                            )
                        ),
                    )
                ),
                SMOKE_SEEDS,
            ),
            "paper": SweepScale(
                "paper",
                ("arch=mlp",),
                Grid(
                    (
                        Block(
                            (
                                Axis(
                                    "optimizer",
                                    (
                                        choice("SGD", optimizer="sgd", lr=0.01),
                                        choice("Adam", optimizer="adam", lr=0.001),
                                    ),
                                ),
                            )
                        ),
                    )
                ),
                PAPER_SEEDS,
            ),
        },
        (Facet("B13_mlp", "Figure B.13: SGD vs Adam, MLP", lambda c: True, by_labels("optimizer")),),
        "seed",
    ),
    FigureSweep(
        "adam-vit",
        ("B.14",),
        "cloning",
        "cloning: SGD against Adam, ViT",
        {
            "smoke": SweepScale(
                "smoke",
                (*CLONING_SMOKE, "arch=vit"),
                Grid(
                    (
                        Block(
                            (
                                Axis(
                                    "optimizer",
                                    (
                                        choice("SGD", optimizer="sgd"),
                                        choice("Adam", optimizer="adam", lr=0.0001),
                                    ),
                                ),
                            )
                        ),
                    )
                ),
                SMOKE_SEEDS,
            ),
            "paper": SweepScale(
                "paper",
                ("arch=vit",),
                Grid(
                    (
                        Block(
                            (
                                Axis(
                                    "optimizer",
                                    (
                                        choice("SGD", optimizer="sgd", lr=0.01),
                                        choice("Adam", optimizer="adam", lr=0.0001),
                                    ),
                                ),
                            )
                        ),
                    )
                ),
                PAPER_SEEDS,
            ),
        },
        (Facet("B14_vit", "Figure B.14: SGD vs Adam, ViT", lambda c: True, by_labels("optimizer")),),
        "seed",
    ),
    FigureSweep(
        "continual",
        ("3.1", "3.2", "4.1", "B.3", "B.4", "B.5", "B.6"),
        "continual",
        "continual learning: architectures × normalization (± affine) × dropout",
        {
            "smoke": SweepScale(
                "smoke",
                CONTINUAL_SMOKE,
                Grid((Block((axis("arch", *ARCHS), NORMALIZATION, DROPOUT)),)),
                SMOKE_SEEDS,
            ),
            "paper": SweepScale(
                "paper", (), Grid((Block((axis("arch", *ARCHS), NORMALIZATION, DROPOUT)),)), PAPER_SEEDS
            ),
        },
        _arch_facets(
            "continual", ARCHS, "Figures 3.1, 3.2, 4.1, B.3–B.6", by_labels("normalization", "dropout")
        ),
        "seeds",
    ),
    FigureSweep(
        "bitflip",
        ("B.1", "B.2"),
        "bitflip",
        "bit flipping: SGD then CBP, one point per width (seeds vectorized)",
        {
            "smoke": SweepScale(
                "smoke", BITFLIP_SMOKE, Grid((Block((axis("width", 5, 10, 50, 100),)),)), (0, 1, 2, 3)
            ),
            "paper": SweepScale("paper", (), Grid((Block((axis("width", 5, 10, 50, 100),)),)), PAPER_SEEDS),
        },
        (Facet("B1_B2", "Figures B.1 / B.2", lambda c: True, lambda c, labels: "bit flipping"),),
        None,
    ),
)
"""Every named figure sweep (``python -m experiments sweep --list``)."""


def normalize_figure_id(text: str) -> str:
    t = text.strip().lower().removeprefix("figure").removeprefix("fig").strip().lstrip(".").strip()
    return t.upper() if t[:1] == "b" else t


def find_figure_sweep(text: str) -> FigureSweep:
    """The figure sweep named ``text`` or drawing figure ``text`` (``2.1``, ``B.7``, ``Figure B.7``,
    ``b7``)."""
    wanted = normalize_figure_id(text)
    for sweep in FIGURE_SWEEPS:
        ids = {normalize_figure_id(f) for f in sweep.figures} | {f.replace(".", "") for f in sweep.figures}
        if (
            text == sweep.name
            or wanted in ids
            or wanted.replace(".", "") in {i.replace(".", "") for i in ids}
        ):
            return sweep
    known = ", ".join(f"{s.name} ({', '.join(s.figures)})" for s in FIGURE_SWEEPS)
    raise SweepError(f"--figure {text!r} names no figure sweep; figure sweeps: {known}")


def figure_sweep_named(name: str | None) -> FigureSweep | None:
    return next((s for s in FIGURE_SWEEPS if s.name == name), None)
