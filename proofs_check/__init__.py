"""Checks of every theorem, lemma and remark of the paper; ``python -m proofs_check`` runs them.

Each section module registers its claims with :func:`proofs_check.registry.claim` on import.
"""

from __future__ import annotations

import importlib

SECTION_MODULES: tuple[str, ...] = (
    "proofs_check.section2",
    "proofs_check.section2_manifolds",
    "proofs_check.section2_escape",
    "proofs_check.section3",
    "proofs_check.section3_text",
    "proofs_check.section4",
    "proofs_check.appendix_a1",
    "proofs_check.figures_a",
    "proofs_check.appendix_a2",
    "proofs_check.appendix_a3",
    "proofs_check.appendix_a4",
    "proofs_check.appendix_a4_remarks",
    "proofs_check.appendix_a5",
    "proofs_check.appendix_a5_remarks",
    "proofs_check.appendix_b",
)


def load_all() -> None:
    """Import every section module, registering its checks (idempotent)."""
    for name in SECTION_MODULES:
        importlib.import_module(name)
