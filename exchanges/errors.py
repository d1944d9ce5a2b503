"""The one error hierarchy every venue adapter maps into, at its edge.

    ExchangeError                      anything a venue (or the paper exchange) refused or failed at
    ├── AuthenticationError            bad key, bad signature, unknown signer
    ├── RateLimitError                 429/418 or the venue's own words; carries retry_after (s)
    ├── InsufficientBalanceError       margin or balance too small for the order
    ├── InvalidOrderError              tick, lot, minimum notional, reduce-only, post-only ...
    ├── InvalidSymbolError             the market does not exist or is not tradable
    ├── OrderNotFoundError             cancel/lookup of an order the venue does not know
    ├── OrderStateUnknown              timeout / 503 / reset after sending: it may or may not exist
    └── VenueUnavailable               the venue cannot be reached or answers 5xx before accepting

Callers decide with the predicates (`retryable`, `outcome_unknown`), never by matching text.
`raw` keeps the venue's own words for the trader and the logs.
"""

from __future__ import annotations


class ExchangeError(Exception):
    retryable: bool = False
    outcome_unknown: bool = False

    def __init__(self, message: str, *, venue: str = "", raw: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.venue = venue
        self.raw = raw if raw is not None else message
        self.code = code

    def __str__(self) -> str:
        prefix = f"{self.venue}: " if self.venue else ""
        return f"{prefix}{self.message}"


class AuthenticationError(ExchangeError):
    pass


class RateLimitError(ExchangeError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class InsufficientBalanceError(ExchangeError):
    pass


class InvalidOrderError(ExchangeError):
    pass


class InvalidSymbolError(ExchangeError):
    pass


class OrderNotFoundError(ExchangeError):
    pass


class OrderStateUnknown(ExchangeError):
    """The request may have reached the venue: resolve by client id before doing anything else."""

    outcome_unknown = True


class VenueUnavailable(ExchangeError):
    """`retry_after` (s), when known: when asking again can help (our own circuit breaker's next probe)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


__all__ = [
    "AuthenticationError",
    "ExchangeError",
    "InsufficientBalanceError",
    "InvalidOrderError",
    "InvalidSymbolError",
    "OrderNotFoundError",
    "OrderStateUnknown",
    "RateLimitError",
    "VenueUnavailable",
]
