"""Hyperliquid's read keys on the shared read cache (exchanges/common/cache.py).

The account-state feeds `clearinghouseState`, `spotState` and `openOrders` stand in for the /info
types of the same state; `orders_touched` and `orders_reported` name orders as the stream will.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from exchanges.common.cache import AWAIT_UPDATES_MS, REMEMBER_REPORTED, TRUST_MS, ReadCache

__all__ = ["ACCOUNT_KEYS", "AWAIT_UPDATES_MS", "PUSHED", "REMEMBER_REPORTED", "TRUST_MS", "Reads",
           "orders_reported", "orders_touched"]

# each account-state feed: the REST info type it stands in for, and where its message holds the state
PUSHED = {"clearinghouseState": ("clearinghouseState", "clearinghouseState"),
          "spotState": ("spotClearinghouseState", "spotState"),
          "openOrders": ("frontendOpenOrders", "orders")}
ACCOUNT_KEYS = ("clearinghouseState", "spotClearinghouseState", "frontendOpenOrders")


class Reads(ReadCache):
    def __init__(self, fetch: Callable[[dict[str, Any]], Awaitable[Any]], clock: Callable[[], int],
                 live: Callable[[], bool], *, trust_ms: int = TRUST_MS):
        super().__init__(fetch, clock, live, account_keys=ACCOUNT_KEYS, trust_ms=trust_ms)

    def pushed(self, feed: str, data: dict[str, Any]) -> None:
        """A state feed's message (the main dex only: builder dexes are not traded here)."""
        key, field = PUSHED[feed]
        if data.get("dex", "") == "" and field in data:
            self.put_pushed(key, data[field])


def orders_touched(action: dict[str, Any], resp: Any) -> list[int | str]:
    """The orders an applied action touched, as the stream will name them: placed or filled ones by the
    id in the answer, cancelled ones by the id or client id in the request."""
    try:
        statuses = resp["response"]["data"]["statuses"]
    except (KeyError, TypeError):
        return []
    out: list[int | str] = []
    for s in statuses:
        if isinstance(s, dict):
            out += [s[k]["oid"] for k in ("resting", "filled") if isinstance(s.get(k), dict) and "oid" in s[k]]
    for c, s in zip(action.get("cancels", []), statuses, strict=False):
        if s == "success":
            out.append(c.get("o", c.get("cloid")))
    return out


def orders_reported(updates: list[dict[str, Any]]) -> list[int | str]:
    keys: list[int | str] = []
    for u in updates:
        order = u.get("order", {})
        keys += [k for k in (order.get("oid"), order.get("cloid")) if k is not None]
    return keys
