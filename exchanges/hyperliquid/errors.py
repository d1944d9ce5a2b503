"""Hyperliquid's error strings mapped into the project's hierarchy, keeping the venue's words."""

from __future__ import annotations

from exchanges.errors import (
    AuthenticationError,
    ExchangeError,
    InsufficientBalanceError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
)

VENUE = "hyperliquid"
# (prefix or fragment, class): first match wins
TABLE: tuple[tuple[str, type[ExchangeError]], ...] = (
    ("does not exist", AuthenticationError),
    ("Unable to recover signer", AuthenticationError),
    ("Must deposit before performing actions", AuthenticationError),
    ("Insufficient margin", InsufficientBalanceError),
    ("Insufficient spot balance", InsufficientBalanceError),
    ("Order was never placed, already canceled, or filled", OrderNotFoundError),
    ("Cannot modify canceled or filled order", OrderNotFoundError),
    ("Too many cumulative requests", RateLimitError),
    ("Invalid nonce", ExchangeError),
)


def map_error(message: str, venue: str = VENUE) -> ExchangeError:
    text = message.removeprefix("L1 error: ")
    for fragment, cls in TABLE:
        if fragment in text:
            if cls is RateLimitError:
                return RateLimitError(text, venue=venue, raw=message, retry_after=10.0)
            return cls(text, venue=venue, raw=message)
    return InvalidOrderError(text, venue=venue, raw=message)


def is_nonce_error(message: str) -> bool:
    return "Invalid nonce" in message
