"""Nonces: strictly increasing per signer, in the unit the venue wants, on the venue's clock.

Two orders signed in the same millisecond (or by threads at once) still get different, rising
nonces. `offset_ms` is the server-time hook: a venue that checks nonces or timestamps against its
own clock sets it from the time it reports (`set_server_time`), so a skewed host is not refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class NonceSource:
    def __init__(self, clock_ms: Callable[[], int] | None = None, *, unit: str = "ms"):
        if unit not in ("ms", "us"):
            raise ValueError("unit is 'ms' or 'us'")
        self._clock = clock_ms or _wall_ms
        self._scale = 1000 if unit == "us" else 1
        self.offset_ms = 0  # venue clock minus ours
        self._last = 0
        self._lock = threading.Lock()  # signing may run in worker threads under load

    def set_server_time(self, server_ms: int) -> None:
        self.offset_ms = server_ms - self._clock()

    def now_ms(self) -> int:
        """The venue's time as we best know it."""
        return self._clock() + self.offset_ms

    def next(self) -> int:
        with self._lock:
            now = self.now_ms() * self._scale
            self._last = max(now, self._last + 1)
            return self._last
