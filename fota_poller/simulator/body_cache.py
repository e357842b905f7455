"""A least-recently-used cache of rendered response bodies, bounded in bytes."""

from __future__ import annotations

from collections import OrderedDict


class BodyCache:
    """Keep the most recently used bodies while their total size fits a byte budget.

    A count bound alone is not enough: one 100,000-device campaign renders to
    about 9 MB, so a few thousand of them would exhaust memory.
    """

    def __init__(self, *, max_bytes: int, max_entries: int) -> None:
        if max_bytes < 0 or max_entries < 0:
            raise ValueError("cache bounds must not be negative")
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._bodies: OrderedDict[int, bytes] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._bodies)

    @property
    def size(self) -> int:
        """Total bytes currently held."""
        return self._size

    def get(self, key: int) -> bytes | None:
        """Return the body stored under key, marking it recently used."""
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: int, body: bytes) -> None:
        """Store body under key, evicting the least recently used bodies to stay in budget."""
        if len(body) > self._max_bytes or self._max_entries == 0:
            # Caching it would evict everything else for a body too big to keep.
            return
        previous = self._bodies.pop(key, None)
        if previous is not None:
            self._size -= len(previous)
        self._bodies[key] = body
        self._size += len(body)
        while self._size > self._max_bytes or len(self._bodies) > self._max_entries:
            _, evicted = self._bodies.popitem(last=False)
            self._size -= len(evicted)
