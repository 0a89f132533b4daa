"""The theory figures of Appendix A.1–A.2, drawn with matplotlib's Agg backend.

* Figure A.1 — top: the decorrelation gap r² − K(r)² against Lemma A.1's bound γ·r²(1 − r²) (and the
  improved (1 − α)·r²(1 − r²)); bottom: the rank-gain ratio er₂(K(C))/er₂(C) against Theorem 3.1's bound
  along C(λ) = (1 − λ)·I + λ·C_dense.
* Figure A.2 — γ and the frozen probability P(|ψ'| < ε) against the ReLU bias b and the tanh gain a.
* Figure A.3 — γ against the frozen probability for every registered activation as the pre-activation
  mean (shift) and scale vary.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from theory.activations import get_activation, registered_names
from theory.bounds import decorrelation_gap, gap_lower_bound, rank_gain_ratio, theorem_bound
from theory.frozen import DEFAULT_EPSILON, frozen_probability
from theory.kernels import alpha, gamma

REPRESENTATIVE = ("relu", "tanh", "gelu", "sin")
RELU_BIASES = np.linspace(-3.0, 3.0, 61)
TANH_GAINS = np.geomspace(1e-3, 30.0, 61)
FIG_A3_SHIFTS = np.linspace(-3.0, 3.0, 25)
FIG_A3_SCALES = (0.5, 1.0, 2.0, 4.0)
FIGURE_NAMES = ("figure_A1.png", "figure_A2.png", "figure_A3.png")
DENSE_DIMENSION = 24
DENSE_RANK = 3


def dense_correlation(d: int = DENSE_DIMENSION, rank: int = DENSE_RANK, seed: int = 0) -> np.ndarray:
    """A dense random correlation matrix: normalized Gram matrix of d random vectors in R^rank plus noise."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((d, rank)) + 0.3 * rng.standard_normal((d, 1))
    gram = feats @ feats.T + 0.05 * np.eye(d)
    scale = 1.0 / np.sqrt(np.diag(gram))
    C = gram * scale[:, None] * scale[None, :]
    np.fill_diagonal(C, 1.0)
    return C


def figure_a1(out: Path, activations: tuple[str, ...] = REPRESENTATIVE, points: int = 201) -> Path:
    r = np.linspace(-1.0, 1.0, points)
    lambdas = np.linspace(0.0, 1.0, max(5, points // 10))
    dense = dense_correlation()
    fig, axes = plt.subplots(2, len(activations), figsize=(4 * len(activations), 7), squeeze=False)
    for col, name in enumerate(activations):
        act = get_activation(name)
        ax = axes[0, col]
        ax.plot(r, decorrelation_gap(act, r), label="gap r² − K(r)²")
        ax.plot(r, gap_lower_bound(act, r), "--", label="γ r²(1 − r²) (Lemma A.1)")
        ax.plot(r, gap_lower_bound(act, r, 1.0 - alpha(act)), ":", label="(1 − α) r²(1 − r²)")
        ax.set_title(f"{name}: γ = {gamma(act):.3f}")
        ax.set_xlabel("r")
        ax.legend(fontsize=7)
        ratios, bounds = [], []
        for lam in lambdas:
            C = (1 - lam) * np.eye(len(dense)) + lam * dense
            ratios.append(rank_gain_ratio(act, C))
            bounds.append(theorem_bound(act, C))
        ax = axes[1, col]
        ax.plot(lambdas, ratios, label="er₂(K(C))/er₂(C)")
        ax.plot(lambdas, bounds, "--", label="1 + γΨ/‖C‖² (Thm 3.1)")
        ax.set_xlabel("λ  (C = (1−λ) I + λ C_dense)")
        ax.legend(fontsize=7)
    fig.suptitle("Figure A.1: decorrelation gap and rank gain")
    fig.tight_layout()
    path = out / "figure_A1.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure_a2(
    out: Path, eps: float = DEFAULT_EPSILON, biases: np.ndarray = RELU_BIASES, gains: np.ndarray = TANH_GAINS
) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    relu = get_activation("relu")
    g_relu = [gamma(relu.modulated(1.0, b)) for b in biases]
    p_relu = [frozen_probability(relu.modulated(1.0, b), eps) for b in biases]
    axes[0].plot(biases, g_relu, label="γ")
    axes[0].plot(biases, p_relu, "--", label=f"P(|ψ'| < {eps:g})")
    axes[0].set_xlabel("ReLU bias b  (ψ(z) = relu(z + b))")
    axes[0].legend()
    tanh = get_activation("tanh")
    g_tanh = [gamma(tanh.modulated(a, 0.0)) for a in gains]
    p_tanh = [frozen_probability(tanh.modulated(a, 0.0), eps) for a in gains]
    axes[1].semilogx(gains, g_tanh, label="γ")
    axes[1].semilogx(gains, p_tanh, "--", label=f"P(|ψ'| < {eps:g})")
    axes[1].axhline((1 - 2 / np.pi) / (1 + 2 / np.pi), color="grey", lw=0.8, label="sup γ = (π−2)/(π+2)")
    axes[1].set_xlabel("tanh gain a  (ψ(z) = tanh(a z))")
    axes[1].legend()
    fig.suptitle("Figure A.2: the rank-plasticity trade-off for ReLU and tanh")
    fig.tight_layout()
    path = out / "figure_A2.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure_a3(
    out: Path,
    eps: float = DEFAULT_EPSILON,
    shifts: np.ndarray = FIG_A3_SHIFTS,
    scales: tuple[float, ...] = FIG_A3_SCALES,
    names: list[str] | None = None,
) -> Path:
    fig, ax = plt.subplots(figsize=(7, 5))
    chosen = names or registered_names()
    colors = plt.cm.tab20(np.linspace(0.0, 1.0, max(2, len(chosen))))
    markers = "os^vD<>ph*Xd8P"
    for idx, name in enumerate(chosen):
        base = get_activation(name)
        pts = []
        for a in scales:
            for b in shifts:
                act = base.modulated(a, b)
                pts.append((frozen_probability(act, eps), gamma(act)))
        arr = np.array(pts)
        ax.scatter(
            arr[:, 0], arr[:, 1], s=10, color=colors[idx], marker=markers[idx % len(markers)], label=name
        )
    ax.set_xlabel(f"frozen probability P(|ψ'(Z)| < {eps:g})")
    ax.set_ylabel("decorrelation strength γ")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Figure A.3: γ vs frozen probability (pre-activation mean and scale varied)")
    fig.tight_layout()
    path = out / "figure_A3.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(out: Path | str, quick: bool = False) -> list[Path]:
    """Write figure_A1.png, figure_A2.png and figure_A3.png into ``out`` (created if missing); ValueError,
    before any work, if ``out`` is a file or already holds one of them (figures are never overwritten).

    ``quick`` uses coarse grids (a few seconds instead of about half a minute).
    """
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise ValueError(
            f"--out {str(directory)!r} is a file; valid choices: a directory (created if missing)"
        )
    existing = [name for name in FIGURE_NAMES if (directory / name).exists()]
    if existing:
        raise ValueError(
            f"{directory} already holds {', '.join(existing)}; figures are never overwritten: choose another "
            "directory or move them away"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the output directory {str(directory)!r}: {err.strerror}") from None
    if not quick:
        return [figure_a1(directory), figure_a2(directory), figure_a3(directory)]
    return [
        figure_a1(directory, points=41),
        figure_a2(directory, biases=RELU_BIASES[::6], gains=TANH_GAINS[::6]),
        figure_a3(directory, shifts=FIG_A3_SHIFTS[::6], scales=(1.0, 2.0)),
    ]
