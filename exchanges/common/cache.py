"""Reads answered from memory wherever a venue's stream allows it, and the rules for trusting that.

While a venue's stream is up, it pushes account state after every change; reads use the last push.
Anything that says the account has changed since (our own action, an order update, a fill, funding)
makes that push stale until the next one arrives, and reads in between go to REST, so a read never
returns state older than an event the bot has already seen.

Our own actions answer over HTTP, which can overtake a push sent just before the venue acted. So
after an action, pushes are not trusted until the stream has reported every order it touched (by
order id or client id), or AWAIT_UPDATES_MS has passed. Updates that beat the HTTP answer count too
(remembered in a bounded window of REMEMBER_REPORTED).
REST reads keep one request in flight per key and reuse the answer briefly.

A push is only as good as the feed that carried it: it is trusted while that very subscription has
spoken within `trust_ms`, or a REST probe since its last message found the venue agreeing with it
(`probe()`). A quiet feed is not a live one. `fresh=True` reads always ask the venue.
The venue's module says which keys are account state and how its pushes map onto them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from exchanges.common.bounded import SeenIds

AWAIT_UPDATES_MS = 1000
REMEMBER_REPORTED = 4096
TRUST_MS = 3000  # a push is trusted this long after its feed last spoke (or a probe agreed with it)


class ReadCache:
    def __init__(self, fetch: Callable[[dict[str, Any]], Awaitable[Any]], clock: Callable[[], int],
                 live: Callable[[], bool], *, account_keys: Iterable[str], trust_ms: int = TRUST_MS):
        self._fetch = fetch
        self._clock = clock
        self._live = live  # the stream is connected: pushed state is being kept current
        self.trust_ms = trust_ms
        self.account_keys = tuple(account_keys)  # what a change of the account makes stale
        self._pushed: dict[str, Any] = {}  # REST key -> the state as last pushed, while not stale
        self._vouched: dict[str, int] = {}  # REST key -> when its feed last spoke or a probe agreed (ms)
        self._cache: dict[str, tuple[int, Any]] = {}  # key -> (fetched at ms, value)
        self._flight: dict[str, asyncio.Future[Any]] = {}
        self._epoch = 0  # counts changes: an answer fetched across one is not kept
        self._awaited: set[int | str] = set()  # orders our own actions touched, not yet reported
        self._awaited_until = 0
        self._reported = SeenIds(REMEMBER_REPORTED)  # recent order updates, for those that beat the HTTP answer

    # ---- what the stream tells ----
    def put_pushed(self, key: str, value: Any) -> None:
        """A state feed's message: the account's `key` as of now."""
        if self._awaited and self._clock() < self._awaited_until:
            return  # may predate our own action: wait for the state after its order updates
        self._pushed[key] = value
        self._vouched[key] = self._clock()
        self._cache.pop(key, None)

    def changed(self) -> None:
        """The account changed (or may have): what we hold is stale until the venue says more."""
        self._epoch += 1
        for k in self.account_keys:
            self._cache.pop(k, None)
            self._pushed.pop(k, None)

    def acted(self, orders: Iterable[int | str]) -> None:
        """Our own action was applied to these orders (ids or client ids); the stream will report them."""
        self.changed()
        missing = {o for o in orders if o not in self._reported}
        if missing:
            self._awaited |= missing
            self._awaited_until = self._clock() + AWAIT_UPDATES_MS

    def order_updates(self, orders: Iterable[int | str]) -> None:
        """The stream reported these orders (ids and client ids)."""
        keys = list(orders)
        self._reported.update(keys)
        self._awaited.difference_update(keys)
        self.changed()

    def stream_lost(self) -> None:
        self._pushed.clear()  # the feeds send the whole state again on resubscribe
        self._vouched.clear()
        self._awaited.clear()

    def trusted(self, key: str) -> bool:
        """The pushed state of `key` may answer a read: the stream is up, nothing newer is known, and
        its feed spoke (or a probe agreed with it) within trust_ms."""
        return (self._live() and key in self._pushed
                and self._clock() - self._vouched.get(key, 0) <= self.trust_ms)

    def in_memory(self, *keys: str) -> bool:
        return all(self.trusted(k) for k in keys)

    def held(self, key: str, ttl_ms: int) -> bool:
        """A read of `key` would be answered without I/O now (pushed and trusted, or a REST answer reused)."""
        if self.trusted(key):
            return True
        hit = self._cache.get(key)
        return hit is not None and self._live() and self._clock() - hit[0] <= ttl_ms

    def quiet_ms(self, key: str) -> int | None:
        """How long the pushed state of `key` has gone unconfirmed (None: nothing pushed to check)."""
        if key not in self._pushed:
            return None
        return self._clock() - self._vouched.get(key, 0)

    async def probe(self, key: str, payload: dict[str, Any], same: Callable[[Any, Any], bool]) -> bool | None:
        """Ask the venue whether a quiet feed's last push still holds. True: it does (trusted again);
        False: the venue knows something the feed never said (it is behind); None: nothing to check,
        or the feed spoke meanwhile."""
        pushed, asked = self._pushed.get(key), self._clock()
        if pushed is None:
            return None
        value = await self._fetch(payload)
        if self._pushed.get(key) is not pushed or self._vouched.get(key, 0) > asked:
            return None  # a newer push (or a change) arrived while we asked
        if same(pushed, value):
            self._vouched[key] = self._clock()
            return True
        self._cache[key] = (self._clock(), value)
        return False

    # ---- reads ----
    async def read(self, key: str, payload: dict[str, Any], ttl_ms: int, *, fresh: bool = False) -> Any:
        """The state of `key`: pushed if trusted, else a REST answer (shared while in flight, reused for
        ttl_ms). `fresh`: ask the venue now, whatever is held."""
        if fresh:
            return await self._ask(key, payload)
        live = self._live()
        if self.trusted(key):
            return self._pushed[key]
        hit = self._cache.get(key)
        if hit is not None and live and self._clock() - hit[0] <= ttl_ms:
            return hit[1]
        pending = self._flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        return await self._ask(key, payload)

    async def _ask(self, key: str, payload: dict[str, Any]) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flight[key] = fut  # later readers share this answer: it is at least as new as they are
        epoch = self._epoch
        try:
            value = await self._fetch(payload)
            if epoch == self._epoch:
                self._cache[key] = (self._clock(), value)
            fut.set_result(value)
            return value
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters get it, nobody logs it as lost
            raise
        finally:
            if self._flight.get(key) is fut:
                self._flight.pop(key, None)
