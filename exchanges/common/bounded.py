"""Memory with a stated bound: ids seen recently (fills by venue fill id, order reports)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable


class SeenIds:
    """The last `maxlen` distinct ids, oldest forgotten first. `add` says whether the id is new, so a
    duplicate (a replayed snapshot, a backfill overlapping the stream) is dropped in one call."""

    def __init__(self, maxlen: int):
        if maxlen <= 0:
            raise ValueError("maxlen must be positive")
        self.maxlen = maxlen
        self._ids: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, key: Hashable) -> bool:
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.maxlen:
            self._ids.popitem(last=False)
        return True

    def update(self, keys: Iterable[Hashable]) -> None:
        for k in keys:
            self.add(k)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)
