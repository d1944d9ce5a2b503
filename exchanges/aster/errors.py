"""Aster's error bodies (`{"code": -1121, "msg": "Invalid symbol."}`) mapped into the hierarchy by code,
keeping the venue's words. A code never seen before is an ExchangeError with those words, never a crash."""

from __future__ import annotations

import json
from typing import Any

from exchanges.errors import (
    AuthenticationError,
    ExchangeError,
    InsufficientBalanceError,
    InvalidOrderError,
    InvalidSymbolError,
    OrderNotFoundError,
    OrderStateUnknown,
    RateLimitError,
)

VENUE = "aster"
CODES: dict[int, type[ExchangeError]] = {
    -1000: OrderStateUnknown,  # UNKNOWN: "an unknown error occurred while processing the request"
    -1003: RateLimitError, -1015: RateLimitError,
    -1021: AuthenticationError, -1022: AuthenticationError, -2014: AuthenticationError, -2015: AuthenticationError,
    -4225: AuthenticationError,  # nonce expired (reused or below the window): the request was refused unread
    -1121: InvalidSymbolError,
    -2011: OrderNotFoundError, -2013: OrderNotFoundError,
    -2018: InsufficientBalanceError, -2019: InsufficientBalanceError,
    -1125: AuthenticationError,  # invalid listenKey: the stream makes a new one
}
NONCE_CODES = frozenset({-4225})
TOO_MANY_ORDERS = -1015  # the account's order count, not the IP's weight
TIMESTAMP_OFF = -1021  # a timestamp (V1) or nonce (V3) outside the venue's window: refused unread
UNKNOWN_LISTEN_KEY = -1125
NO_NEED_TO_CHANGE = frozenset({-4046, -4059})  # margin type / position mode already as asked


def error_body(text: bytes | str) -> dict[str, Any] | None:
    """The `{code, msg}` of an answer, or None when it is not one."""
    try:
        body = json.loads(text)
    except (ValueError, TypeError):
        return None
    if isinstance(body, dict) and "code" in body and "msg" in body:
        return body
    return None


def is_error(body: Any) -> bool:
    """A `{code, msg}` that is not a success (setters answer `{"code": 200, "msg": "success"}`)."""
    if not (isinstance(body, dict) and "code" in body and "msg" in body):
        return False
    try:
        return int(body["code"]) < 0
    except (TypeError, ValueError):
        return True


def map_error(body: dict[str, Any], venue: str = VENUE, retry_after: float = 1.0) -> ExchangeError:
    try:
        code = int(body["code"])
    except (KeyError, TypeError, ValueError):
        code = 0
    msg = str(body.get("msg", "")) or f"error {code}"
    raw = f"{msg} ({code})" if code else msg
    cls = CODES.get(code)
    if cls is RateLimitError:
        return RateLimitError(msg, venue=venue, raw=raw, code=str(code), retry_after=retry_after)
    if cls is None:
        # -1xxx are request errors, -2xxx/-4xxx/-5xxx the order's own: both say the order was not taken
        cls = InvalidOrderError if code <= -1100 else ExchangeError
    return cls(msg, venue=venue, raw=raw, code=str(code))
