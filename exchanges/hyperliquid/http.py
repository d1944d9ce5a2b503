"""The one request choke point for Hyperliquid REST: session, weight budget, timeouts, error mapping.

IP weight budget (1200/min on the venue) is tracked per request type, with a reserve only cancels
may use, so a kill switch can always cancel. A 429 backs off (doubling, capped) instead of
hammering into an IP ban. A request that may have reached the venue (/exchange timeout, reset,
5xx) raises OrderStateUnknown; one that cannot have (connection refused) raises VenueUnavailable.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

import aiohttp

from exchanges.errors import ExchangeError, OrderStateUnknown, RateLimitError, VenueUnavailable

VENUE = "hyperliquid"
INFO_WEIGHTS = {"l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2, "spotClearinghouseState": 2,
                "exchangeStatus": 2, "userRole": 60}


class WeightBudget:
    """Sliding one-minute window of request weight, with a reserve kept for cancels."""

    def __init__(self, per_minute: int, reserve: int, first_backoff_s: float = 1.0):
        self.per_minute, self.reserve = per_minute, reserve
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0  # the weights in _spent, kept as they come and go (no sum per request)
        self.blocked_until = 0.0
        self.first_backoff_s = self.backoff_s = first_backoff_s

    def used(self) -> int:
        cutoff = time.monotonic() - 60
        while self._spent and self._spent[0][0] < cutoff:
            self._total -= self._spent.popleft()[1]
        return self._total

    def headroom(self) -> int:
        return self.per_minute - self.used()

    async def take(self, weight: int, *, priority: bool, max_wait_s: float) -> None:
        limit = self.per_minute if priority else self.per_minute - self.reserve
        deadline = time.monotonic() + max_wait_s
        while True:
            now = time.monotonic()
            wait = max(0.0, self.blocked_until - now)
            if not wait and self.used() + weight <= limit:
                self._spent.append((now, weight))
                self._total += weight
                return
            if not wait:
                wait = max(0.05, self._spent[0][0] + 60 - now) if self._spent else 0.05
            if now + wait > deadline:
                raise RateLimitError("request weight budget exhausted; slowing down to avoid an IP ban",
                                     venue=VENUE, retry_after=wait)
            await asyncio.sleep(min(wait, 1.0))

    def throttled(self) -> float:
        """The venue said 429: pause everything, a little longer each time."""
        delay = self.backoff_s
        self.blocked_until = time.monotonic() + delay
        self.backoff_s = min(self.backoff_s * 2, 60.0)
        return delay

    def fine(self) -> None:
        self.backoff_s = self.first_backoff_s


class HyperliquidHttp:
    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None = None, weight_per_minute: int = 1200,
                 reserve: int = 100, timeout_s: float = 10.0, max_wait_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self.budget = WeightBudget(weight_per_minute, reserve)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.max_wait_s = max_wait_s
        self.last_latency_ms: float | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # keep-alive pool; created lazily so constructing the adapter does no I/O
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=60))
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def info(self, payload: dict[str, Any], *, retries: int = 3) -> Any:
        weight = INFO_WEIGHTS.get(str(payload.get("type")), 20)
        for attempt in range(retries + 1):
            await self.budget.take(weight, priority=False, max_wait_s=self.max_wait_s)
            try:
                return await self._post("/info", payload, exchange=False)
            except (RateLimitError, VenueUnavailable) as exc:
                if attempt == retries:
                    raise
                await asyncio.sleep(getattr(exc, "retry_after", 0.2 * (attempt + 1)))
        raise AssertionError("unreachable")

    async def exchange(self, body: dict[str, Any], *, cancel: bool = False, batch: int = 1) -> Any:
        await self.budget.take(1 + batch // 40, priority=cancel, max_wait_s=self.max_wait_s)
        return await self._post("/exchange", body, exchange=True)

    async def _post(self, path: str, payload: dict[str, Any], *, exchange: bool) -> Any:
        t0 = time.perf_counter()
        try:
            async with self.session.post(self.base_url + path, data=json.dumps(payload, separators=(",", ":")),
                                         headers={"Content-Type": "application/json"}, timeout=self.timeout) as r:
                text = await r.read()
                status = r.status
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise VenueUnavailable(f"cannot reach {self.base_url}: {exc.os_error}", venue=VENUE) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            if exchange:
                raise OrderStateUnknown(f"no answer from the venue ({type(exc).__name__})", venue=VENUE) from None
            raise VenueUnavailable(f"no answer from the venue ({type(exc).__name__})", venue=VENUE) from None
        self.last_latency_ms = (time.perf_counter() - t0) * 1000
        if status == 429:
            delay = self.budget.throttled()
            raise RateLimitError("rate limited by the venue (429)", venue=VENUE, retry_after=delay)
        if status >= 500:
            if exchange:
                raise OrderStateUnknown(f"venue answered {status}; the action may have been applied", venue=VENUE)
            raise VenueUnavailable(f"venue answered {status}", venue=VENUE)
        if status != 200:
            raise ExchangeError(f"venue refused the request ({status}): {text[:300].decode(errors='replace')}",
                                venue=VENUE)
        self.budget.fine()
        try:
            return json.loads(text)
        except ValueError:
            raise ExchangeError(f"unreadable answer: {text[:200].decode(errors='replace')}", venue=VENUE) from None
