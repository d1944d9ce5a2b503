"""The emulator's clock: a base clock (wall time, or a test's) plus an offset set by `/_sim/time`.

Everything time-dependent reads it: server time, nonce and recvWindow checks, listenKey ageing,
funding times, rate-limit windows, countdown cancels, the 24-hour WebSocket cut. Moving the offset
forward ages all of them at once, without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class SimClock:
    def __init__(self, base: Callable[[], int] = wall_ms, offset_ms: int = 0):
        self.base = base
        self.offset_ms = offset_ms

    def __call__(self) -> int:
        return self.base() + self.offset_ms

    def now_us(self) -> int:
        return self() * 1000
