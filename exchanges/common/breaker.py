"""A circuit breaker per venue: a dead venue is not hammered, and callers hear so at once.

closed ─(N transport failures in a row)─► open ─(cool-down)─► half-open: one request is the probe
  ▲                                                                │ it answers: closed
  └────────────────────────────────────────────────────────────────┘ it fails: open again, and the
                                                                     cool-down doubles (capped)
A short outage is over for the trader seconds after the venue is back; a long one costs the venue
one probe per max_cool_down_s.

Only transport failures count (refused, timeout, 5xx): a venue that answers, even "no", is up.
While open, reads and new orders raise `CircuitOpen` (a VenueUnavailable) without a request. It never
stands in the way of what makes the account safer: cancels, reduce-only closes and the kill switch's
reads go through (`urgent`), and their success closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from exchanges.errors import VenueUnavailable

_URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("urgent", default=False)


@contextmanager
def urgent() -> Iterator[None]:
    """Requests made inside (tasks started inside too) pass an open breaker: cancels, closes, kill."""
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


def urgent_when(on: bool) -> contextlib.AbstractContextManager[None]:
    return urgent() if on else contextlib.nullcontext()


def is_urgent() -> bool:
    return _URGENT.get()


class CircuitOpen(VenueUnavailable):
    """Refused by our own breaker: no request was sent."""


class CircuitBreaker:
    def __init__(self, venue: str, *, threshold: int = 5, cool_down_s: float = 2.0, max_cool_down_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.venue, self.threshold = venue, threshold
        self.first_cool_down_s = self.cool_down_s = cool_down_s
        self.max_cool_down_s = max_cool_down_s
        self._clock = clock
        self.failures = 0  # transport failures in a row
        self.opened_at: float | None = None
        self._probe: asyncio.Future[None] | None = None  # the half-open probe in flight

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.cool_down_s else "open"

    async def before(self, *, urgent: bool = False) -> bool:
        """Called before a request. Returns True when this request is the half-open probe; raises
        CircuitOpen when it must not be sent. While a probe is in flight, others wait for its outcome
        (so the reads of one command after a cool-down are not half refused)."""
        while True:
            if self.opened_at is None or urgent or is_urgent():
                return False
            if self.state == "open":
                raise CircuitOpen(self.describe() or "circuit open", venue=self.venue, retry_after=self.wait_s())
            if self._probe is None:
                self._probe = asyncio.get_running_loop().create_future()
                return True
            await asyncio.shield(self._probe)

    def succeeded(self) -> None:
        self.failures, self.opened_at, self.cool_down_s = 0, None, self.first_cool_down_s
        self._probe_over()

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            if self.opened_at is not None and self.state == "half-open":  # the venue is still away
                self.cool_down_s = min(self.cool_down_s * 2, self.max_cool_down_s)
            self.opened_at = self._clock()
        self._probe_over()

    def released(self, probe: bool) -> None:
        """The request ended with neither answer nor transport failure (e.g. our own budget said wait)."""
        if probe:
            self._probe_over()

    def _probe_over(self) -> None:
        if self._probe is not None:
            self._probe.set_result(None)
            self._probe = None

    def wait_s(self) -> float:
        """Seconds until the half-open probe may go (0: now, or closed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cool_down_s - (self._clock() - self.opened_at))

    def describe(self) -> str | None:
        """For /status: None while closed."""
        if self.opened_at is None:
            return None
        left = self.cool_down_s - (self._clock() - self.opened_at)
        if left > 0:
            return f"circuit open: {self.failures} failures, probing in {left:.0f}s"
        return f"circuit half-open: {self.failures} failures, probing now"
