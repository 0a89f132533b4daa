"""Row- and column-equitability of block-partitioned weight matrices (Section 2, Appendix A.3).

For a partition of the units into blocks S_1, …, S_k, the weight matrix between two blocks
w[S_i, S_j] (rows = source units u ∈ S_i, columns = target units v ∈ S_j) is

* **row-equitable** (RE) when every row sum Σ_{v∈S_j} w[u, v] is the same for all u ∈ S_i;
* **column-equitable** (CE) when every column sum Σ_{u∈S_i} w[u, v] is the same for all v ∈ S_j;
* **block-constant** (BC) when every entry of w[S_i, S_j] is the same.

BC ⊂ RE ∩ CE. This module holds pure residual functions on a plain 2-D array (numpy or torch),
independent of any network class, so other packages can call it on e.g. ``linear.weight.T``.

Orientation: ``weight[u, v]`` is the weight of the edge from source unit ``u`` to target unit ``v``
(the paper's ``w[S_i, S_j]``). ``torch.nn.Linear.weight`` is ``[out, in]``: pass its transpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_EQUITABLE_TOL: float = 1e-9
"""Default absolute tolerance of :func:`is_equitable` (float64 round-off on O(1) weights)."""

Blocks = Sequence[Sequence[int]]


def _as_matrix(weight: Any) -> np.ndarray:
    """Convert a numpy array, torch tensor or nested list to a float64 numpy matrix."""
    if hasattr(weight, "detach"):  # torch tensor, without importing torch here
        weight = weight.detach().cpu().numpy()
    try:
        mat = np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"weight must be a 2-D numeric array (numpy, torch or nested lists): {err}") from None
    if mat.ndim != 2:
        raise ValueError(f"weight must be 2-D (source units × target units), got shape {mat.shape}")
    return mat


def validate_blocks(blocks: Blocks, size: int, what: str) -> list[np.ndarray]:
    """Check that ``blocks`` partitions ``range(size)``: non-empty, disjoint, covering, in range.

    Returns the blocks as integer arrays (in the given order). ``what`` names the axis in error messages.
    """
    if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
        raise TypeError(f"{what} must be a sequence of index sequences, got {type(blocks).__name__}")
    out: list[np.ndarray] = []
    seen: dict[int, int] = {}
    for b, block in enumerate(blocks):
        if isinstance(block, (str, bytes)) or not hasattr(block, "__iter__"):
            raise TypeError(f"{what}[{b}] must be a sequence of integer indices, got {block!r}")
        idx = []
        for i in block:
            if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
                raise TypeError(f"{what}[{b}] contains {i!r}; indices must be integers")
            i = int(i)
            if not 0 <= i < size:
                raise ValueError(f"{what}[{b}] contains index {i}, outside range(0, {size})")
            if i in seen:
                raise ValueError(
                    f"{what}: index {i} appears in block {seen[i]} and in block {b}; blocks must be disjoint"
                )
            seen[i] = b
            idx.append(i)
        if not idx:
            raise ValueError(f"{what}[{b}] is empty; every block needs at least one index")
        out.append(np.asarray(idx, dtype=np.int64))
    missing = sorted(set(range(size)) - set(seen))
    if missing:
        raise ValueError(
            f"{what} does not cover indices {missing[:10]}{'…' if len(missing) > 10 else ''} "
            f"of range(0, {size})"
        )
    return out


def _validated(
    weight: Any, row_blocks: Blocks, col_blocks: Blocks
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    mat = _as_matrix(weight)
    rows = validate_blocks(row_blocks, mat.shape[0], "row_blocks")
    cols = validate_blocks(col_blocks, mat.shape[1], "col_blocks")
    if not np.all(np.isfinite(mat)):
        raise ValueError("weight contains NaN or infinite entries")
    return mat, rows, cols


def equitability_residuals(weight: Any, row_blocks: Blocks, col_blocks: Blocks) -> tuple[float, float]:
    """(RE residual, CE residual) of ``weight`` for the given row and column partitions.

    For each block pair (R, C) with sub-matrix X = weight[R, C]:

    * row-sum spread     max_{u∈R} Σ_{v∈C} X[u,v] − min_{u∈R} Σ_{v∈C} X[u,v]   (0 ⇔ RE on this pair);
    * column-sum spread  max_{v∈C} Σ_{u∈R} X[u,v] − min_{v∈C} Σ_{u∈R} X[u,v]   (0 ⇔ CE on this pair).

    Returns the maximum of each spread over all block pairs (Section 2, definitions of RE and CE).
    """
    mat, rows, cols = _validated(weight, row_blocks, col_blocks)
    re_res = 0.0
    ce_res = 0.0
    for r in rows:
        sub_rows = mat[r]
        for c in cols:
            x = sub_rows[:, c]
            row_sums = x.sum(axis=1)
            col_sums = x.sum(axis=0)
            re_res = max(re_res, float(row_sums.max() - row_sums.min()))
            ce_res = max(ce_res, float(col_sums.max() - col_sums.min()))
    return re_res, ce_res


def is_equitable(
    weight: Any, row_blocks: Blocks, col_blocks: Blocks, tol: float = DEFAULT_EQUITABLE_TOL
) -> bool:
    """True when both residuals of :func:`equitability_residuals` are ≤ ``tol`` (absolute)."""
    if not (isinstance(tol, (int, float)) and tol >= 0 and np.isfinite(tol)):
        raise ValueError(f"tol must be a finite number ≥ 0, got {tol!r}")
    re_res, ce_res = equitability_residuals(weight, row_blocks, col_blocks)
    return re_res <= tol and ce_res <= tol


def block_constant_residual(weight: Any, row_blocks: Blocks, col_blocks: Blocks) -> float:
    """Largest spread max(X) − min(X) of the entries of any block X = weight[R, C] (0 ⇔ block-constant)."""
    mat, rows, cols = _validated(weight, row_blocks, col_blocks)
    res = 0.0
    for r in rows:
        sub_rows = mat[r]
        for c in cols:
            x = sub_rows[:, c]
            res = max(res, float(x.max() - x.min()))
    return res
