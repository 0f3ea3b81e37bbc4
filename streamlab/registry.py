"""One object per name: a re-run notebook cell replaces what the previous run started.

A learner who runs a cell twice gets a second producer, pool or panel under the
same name; the first must stop, or two would write to the same keys. Every
"same name replaces the old one" table in the course is a ``Registry``.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects by name; ``claim`` stops the previous holder of the name (outside the lock,
    since stopping can take a while and may itself use the registry)."""

    def __init__(self, stop: Callable[[T], object]):
        self._stop = stop
        self._items: dict[str, T] = {}
        self._lock = threading.Lock()

    def claim(self, name: str, item: T) -> T | None:
        """Make ``item`` the one under ``name``; stops and returns the one it replaced."""
        with self._lock:
            previous = self._items.get(name)
            self._items[name] = item
        if previous is not None and previous is not item:
            self._stop(previous)
            return previous
        return None

    def release(self, name: str, item: T) -> None:
        """Forget ``item`` if it still holds ``name`` (a newer holder is left alone)."""
        with self._lock:
            if self._items.get(name) is item:
                del self._items[name]

    def get(self, name: str) -> T | None:
        with self._lock:
            return self._items.get(name)

    def items(self) -> list[T]:
        """A snapshot of every holder, in the order their names were first claimed."""
        with self._lock:
            return list(self._items.values())

    def __contains__(self, name: str) -> bool:
        with self._lock:
            return name in self._items
