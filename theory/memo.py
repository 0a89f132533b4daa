"""A bounded memo for results keyed by an activation (``Activation.key``) and arguments.

Keys hold what they identify (a callable is held by identity, never by ``id()``), so an entry can never
answer for another object; the least recently used entries are dropped beyond ``maxsize``, so a loop over
fresh callables cannot grow memory without bound.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

DEFAULT_MEMO_SIZE = 512


class BoundedMemo(Generic[V]):
    """Least-recently-used mapping from hashable keys to computed values."""

    def __init__(self, maxsize: int = DEFAULT_MEMO_SIZE) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}")
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value stored under ``key``, computing (and storing) it on a miss."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = compute()
        self._entries[key] = value
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
