"""The REST choke point every venue's HTTP client is built on: session, weight budget, timeouts,
the circuit breaker and the mapping of transport failures into the error hierarchy.

The IP weight budget is a sliding minute with a reserve only cancels may use, so a kill switch can
always cancel. A 429 backs off (by Retry-After when the venue says, else doubling, capped) instead
of hammering into an IP ban. A request that may have reached the venue (a write that timed out, was
reset or got a 5xx) raises OrderStateUnknown; one that cannot have (connection refused), or a read,
raises VenueUnavailable. Error bodies that are not JSON (a proxy's HTML 502 page) become a clear
ExchangeError with a short excerpt, never a crash.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from exchanges.common.breaker import CircuitBreaker, CircuitOpen
from exchanges.errors import ExchangeError, OrderStateUnknown, RateLimitError, VenueUnavailable


class WeightBudget:
    """Sliding one-minute window of request weight, with a reserve kept for cancels."""

    def __init__(self, per_minute: int, reserve: int, first_backoff_s: float = 1.0, *, venue: str = "",
                 max_backoff_s: float = 60.0):
        self.per_minute, self.reserve, self.venue = per_minute, reserve, venue
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0  # the weights in _spent, kept as they come and go (no sum per request)
        self.blocked_until = 0.0
        self.first_backoff_s = self.backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s

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
                                     venue=self.venue, retry_after=wait)
            await asyncio.sleep(min(wait, 1.0))

    def throttled(self, retry_after: float | None = None, *, ban: bool = False) -> float:
        """The venue said 429: pause everything, as long as it asked, else a little longer each time.
        A ban (418) lasts as long as the venue says, however long: asking sooner would only extend it."""
        if retry_after is None:
            delay = self.backoff_s
        else:
            delay = max(retry_after, 0.0) if ban else min(max(retry_after, 0.0), self.max_backoff_s)
        self.blocked_until = time.monotonic() + delay
        self.backoff_s = min(self.backoff_s * 2, self.max_backoff_s)
        return delay

    def fine(self) -> None:
        self.backoff_s = self.first_backoff_s

    def sync(self, used_by_venue: int) -> None:
        """The venue told how much of the minute it counts as used (a response header): when it counts
        more than we do (another client on the same IP, a restart), the difference is spent now."""
        gap = used_by_venue - self.used()
        if gap > 0:
            self._spent.append((time.monotonic(), gap))
            self._total += gap


def excerpt(body: bytes, limit: int = 200) -> str:
    """A short, readable piece of an answer: tags of an HTML error page dropped, space squeezed."""
    text = body[:4096].decode(errors="replace")
    if "<" in text and ">" in text:
        text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class RestClient:
    """One venue's HTTP edge. The session is injectable (tests, a shared pool) and otherwise created
    lazily, so constructing an adapter does no I/O."""

    def __init__(self, base_url: str, *, venue: str, session: aiohttp.ClientSession | None = None,
                 weight_per_minute: int = 1200, reserve: int = 100, timeout_s: float = 10.0,
                 max_wait_s: float = 30.0, breaker: CircuitBreaker | None = None):
        self.base_url = base_url.rstrip("/")
        self.venue = venue
        self._session = session
        self._owns_session = session is None
        self.budget = WeightBudget(weight_per_minute, reserve, venue=venue)
        self.breaker = breaker or CircuitBreaker(venue)
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

    async def read(self, method: str, path: str, *, weight: int, retries: int = 3, **kw: Any) -> Any:
        """A read: retried (after the budget or the venue's backoff) when the venue is briefly away,
        but not past our own open breaker."""
        for attempt in range(retries + 1):
            try:
                return await self.request(method, path, weight=weight, write=False, **kw)
            except CircuitOpen:
                raise
            except (RateLimitError, VenueUnavailable) as exc:
                if attempt == retries:
                    raise
                await asyncio.sleep(exc.retry_after if exc.retry_after is not None else 0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def request(self, method: str, path: str, *, weight: int, write: bool, priority: bool = False,
                      body: Any = None, params: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None) -> Any:
        """One request through the breaker and the budget. `priority`: a cancel (uses the reserve and
        passes an open breaker). `body` is JSON-encoded unless it is already bytes or str."""
        probe = await self.breaker.before(urgent=priority)
        answered = failed = False
        try:
            await self.budget.take(weight, priority=priority, max_wait_s=self.max_wait_s)
            try:
                status, text, got = await self._send(method, path, body, params, headers, write)
            except (VenueUnavailable, OrderStateUnknown):
                failed = True
                raise
            self.observe(status, got)
            if status >= 500:
                failed = True
                snippet = excerpt(text, 120)
                tail = f": {snippet}" if snippet else ""
                if write:
                    raise OrderStateUnknown(f"venue answered {status}; the action may have been applied{tail}",
                                            venue=self.venue)
                raise VenueUnavailable(f"venue answered {status}{tail}", venue=self.venue)
            answered = True
            return self._decode(status, text, got.get("Retry-After"))
        finally:
            if failed:
                self.breaker.failed()
            elif answered:
                self.breaker.succeeded()
            else:
                self.breaker.released(probe)

    async def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None,
                    headers: dict[str, str] | None, write: bool) -> tuple[int, bytes, CIMultiDictProxy[str]]:
        data = body if body is None or isinstance(body, bytes | str) else json.dumps(body, separators=(",", ":"))
        hdrs = {"Content-Type": "application/json"} if data is not None and not isinstance(body, bytes | str) else {}
        hdrs.update(headers or {})
        t0 = time.perf_counter()
        # a path with its query already encoded (a signed one) is sent byte for byte as it was signed
        url: str | URL = URL(self.base_url + path, encoded=True) if "?" in path else self.base_url + path
        try:
            async with self.session.request(method, url, data=data, params=params, headers=hdrs,
                                            timeout=self.timeout) as r:
                text = await r.read()
                status, got = r.status, r.headers
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise VenueUnavailable(f"cannot reach {self.base_url}: {exc.os_error}", venue=self.venue) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            if write:
                raise OrderStateUnknown(f"no answer from the venue ({type(exc).__name__})", venue=self.venue) from None
            raise VenueUnavailable(f"no answer from the venue ({type(exc).__name__})", venue=self.venue) from None
        self.last_latency_ms = (time.perf_counter() - t0) * 1000
        return status, text, got

    def observe(self, status: int, headers: CIMultiDictProxy[str]) -> None:
        """Every answer's headers (the venue's own count of our usage): a venue hooks in here."""

    def limited(self, status: int, text: bytes, retry_after: float | None) -> float:
        """The venue said 429 (or 418): which budget pauses, and for how long. A venue whose answer says
        which of its limits was hit (the IP's weight, or an account's order count) hooks in here."""
        return self.budget.throttled(retry_after, ban=status == 418)

    def refused(self, status: int, text: bytes) -> ExchangeError:
        """A 4xx other than 429/418, as the venue's error: a venue maps its own error bodies here."""
        return ExchangeError(f"venue refused the request ({status}): {excerpt(text, 300)}", venue=self.venue)

    def _decode(self, status: int, text: bytes, retry: str | None) -> Any:
        if status in (429, 418):  # 418: banned for ignoring 429s; Retry-After says until when
            delay = self.limited(status, text, _retry_after(retry))
            what = "rate limited by the venue (429)" if status == 429 else "banned by the venue for ignoring 429s (418)"
            raise RateLimitError(what, venue=self.venue, retry_after=delay)
        if status != 200:
            raise self.refused(status, text)
        self.budget.fine()
        try:
            return json.loads(text)
        except ValueError:
            raise ExchangeError(f"unreadable answer: {excerpt(text)}", venue=self.venue) from None
