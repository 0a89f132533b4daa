"""Thread counts scoped to a block of code: torch's for small networks, OpenBLAS's around ARPACK.

The per-generation kernels of a small DagNet are tiny (tens of elements); torch's intra-op thread pool
then costs more than it saves — measured on the 2-core CI machine under load: ``index_add`` of a 20×32
block takes ~230 µs with 2 threads against ~4 µs with 1. :func:`single_threaded` scopes
``torch.set_num_threads(1)`` to a block and restores the previous setting afterwards.
:func:`single_threaded_blas` does the same for the OpenBLAS libraries numpy and scipy bring (through
their ``*_set_num_threads`` entry points, found in the loaded libraries with ctypes).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import Any

import torch


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block with one intra-op torch thread, restoring the previous count on exit."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_OPENBLAS_SETTERS = (
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
)
"""(getter, setter) symbol names of OpenBLAS builds (plain; scipy's wheels, LP64 and ILP64)."""


def _loaded_openblas() -> list[tuple[Any, Any]]:
    """(get, set) thread-count functions of every OpenBLAS library loaded in this process (Linux, from
    /proc/self/maps; empty elsewhere or when none is loaded)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()})
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _OPENBLAS_SETTERS:
            if hasattr(lib, get) and hasattr(lib, set_):
                getter, setter = getattr(lib, get), getattr(lib, set_)
                getter.restype, getter.argtypes = ctypes.c_int, []
                setter.restype, setter.argtypes = None, [ctypes.c_int]
                found.append((getter, setter))
                break
    return found


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[int]:
    """Run the block with numpy's and scipy's OpenBLAS on one thread (restored on exit); yields how many
    OpenBLAS libraries were switched (0 where none is found: another BLAS, another platform).

    Why: scipy's ARPACK calls OpenBLAS between the operator applications, and an idle OpenBLAS worker
    thread keeps spinning for a while after each call, taking a core from torch's threads in the next
    Hessian-vector product. Measured (2-core CI machine, benchmarks/bench_dag_lanczos.py's small
    network, 167 products): 27 s with OpenBLAS's default threads, 0.5 s with one. ARPACK's own vector
    work is memory-bound, so one thread costs it little.
    """
    libs = _loaded_openblas()
    before = [get() for get, _ in libs]
    for _, set_ in libs:
        set_(1)
    try:
        yield len(libs)
    finally:
        for (_, set_), n in zip(libs, before):
            set_(n)
