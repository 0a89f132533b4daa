"""Uniform draws of each run's CBP stream, taken ahead of need, for engines that cannot call numpy.

A compiled or device kernel cannot draw from a run's ``numpy.random.Generator``. Generator.random yields
the same sequence of doubles however it is split into calls, so drawing ahead and consuming the values
in order gives exactly the re-initializations the numpy engine draws one replacement at a time
(``uniform_draws(rng, (count, m), bound)``: row k of the draw is the k-th replaced unit, in utility order).
The stream is used for nothing else, so drawing ahead changes nothing a run does.

Layout: ``values[r, start[r]:stop[r]]`` are run r's unused draws, in stream order; a kernel consumes from
``start``. :meth:`DrawPool.reserve` tops a run up before a segment whose consumption is bounded by
``need[r]`` values.
"""

from __future__ import annotations

import numpy as np

GROWTH = 2  # a short run is topped up to GROWTH × its need, so top-ups are rare


class DrawPool:
    """Per-run queues of U[0, 1) draws from the runs' own generators (module docstring)."""

    def __init__(self, generators: list[np.random.Generator]) -> None:
        self.generators = generators
        runs = len(generators)
        self.values = np.zeros((runs, 0))
        self.start = np.zeros(runs, dtype=np.int64)
        self.stop = np.zeros(runs, dtype=np.int64)

    def remaining(self) -> np.ndarray:
        return self.stop - self.start

    def reserve(self, need: np.ndarray) -> bool:
        """Make every run hold at least ``need[r]`` unused draws; True when any were drawn."""
        remaining = self.remaining()
        short = np.flatnonzero(remaining < need)
        if short.size == 0:
            return False
        extra = np.zeros_like(remaining)
        extra[short] = GROWTH * need[short] - remaining[short]
        if np.any(self.stop + extra > self.values.shape[1]):
            self._compact(int(np.max(remaining + extra)))
        for r in short:
            count = int(extra[r])
            self.values[r, self.stop[r] : self.stop[r] + count] = self.generators[r].random(count)
            self.stop[r] += count
        return True

    def _compact(self, capacity: int) -> None:
        """Move each run's unused draws to the front of a buffer of at least ``capacity`` columns."""
        capacity = max(capacity, GROWTH * self.values.shape[1])
        values = np.zeros((len(self.generators), capacity))
        for r in range(len(self.generators)):
            kept = self.values[r, self.start[r] : self.stop[r]]
            values[r, : kept.size] = kept
        self.stop -= self.start
        self.start[:] = 0
        self.values = values
