"""The exchange adapter contract. Every venue and the paper exchange implement it.

Adapters own signing, nonces, rate limits, reconnects and error mapping; callers see only the
domain model and the error hierarchy. Trading calls (`place`, `cancel`, `cancel_all`, `set_leverage`)
are reached only through the OrderManager. There is no `modify`: nothing uses it (a moved order is a
cancel and a new order, each confirmed).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from decimal import Decimal

from exchanges.errors import InvalidSymbolError
from exchanges.models import (
    AccountBalances,
    Candle,
    CashFlow,
    Event,
    Fill,
    FundingPayment,
    FundingRate,
    Market,
    Order,
    OrderBook,
    OrderRequest,
    Position,
    Ticker,
)


class Exchange(abc.ABC):
    name: str
    taker_fee: Decimal = Decimal("0.00045")  # base-tier rates; adapters set their venue's
    maker_fee: Decimal = Decimal("0.00015")

    # ---- lifecycle ----
    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    def reads_in_memory(self, symbol: str | None = None) -> bool:
        """True while balances, positions and (for `symbol`) the book and ticker are answered without
        I/O, so a caller may await them one after another rather than concurrently. A wrong True costs
        only speed, never correctness."""
        return False

    # ---- market data ----
    @abc.abstractmethod
    async def markets(self) -> dict[str, Market]:
        """Markets keyed by the symbol the trader types."""

    async def market(self, symbol: str) -> Market:
        markets = await self.markets()
        try:
            return markets[symbol]
        except KeyError:
            raise InvalidSymbolError(f"unknown market {symbol!r}", venue=self.name) from None

    @abc.abstractmethod
    async def ticker(self, symbol: str) -> Ticker: ...

    @abc.abstractmethod
    async def order_book(self, symbol: str, depth: int = 20) -> OrderBook: ...

    @abc.abstractmethod
    async def candles(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]: ...

    @abc.abstractmethod
    async def funding_rate(self, symbol: str) -> FundingRate: ...

    # ---- account ----
    # `fresh=True`: ask the venue now, never a pushed or cached answer. Whatever decides or reports a
    # kill, a flatten or a breach reads this way.
    @abc.abstractmethod
    async def balances(self, *, fresh: bool = False) -> AccountBalances: ...

    @abc.abstractmethod
    async def positions(self, *, fresh: bool = False) -> list[Position]: ...

    @abc.abstractmethod
    async def open_orders(self, *, fresh: bool = False) -> list[Order]: ...

    @abc.abstractmethod
    async def fills(self, since_ms: int) -> list[Fill]: ...

    @abc.abstractmethod
    async def funding_payments(self, since_ms: int) -> list[FundingPayment]: ...

    @abc.abstractmethod
    async def cash_flows(self, since_ms: int) -> list[CashFlow]:
        """Deposits, withdrawals and transfers at or after `since_ms`, oldest first (an entry at since_ms
        again: callers dedupe by hash and time). Raises rather than answer with a partial ledger."""

    # ---- trading (OrderManager only) ----
    @abc.abstractmethod
    async def place(self, request: OrderRequest) -> Order:
        """Send one order. `request.client_id` is required and passed to the venue."""

    @abc.abstractmethod
    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> None: ...

    @abc.abstractmethod
    async def cancel_all(self, symbol: str | None = None, *, fresh: bool = False) -> list[Order]:
        """Cancel every open order (optionally of one market); returns what was cancelled. `fresh`: the
        open orders are read from the venue now (the kill switch)."""

    @abc.abstractmethod
    async def set_leverage(self, symbol: str, leverage: int, *, cross: bool = True) -> None: ...

    @abc.abstractmethod
    async def order_status(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        """Look an order up; raises OrderNotFoundError when the venue has never seen it."""

    async def rate_limit_status(self) -> str | None:
        """The venue's request headroom in words for /status; None where the venue has no budget to tell."""
        return None

    def circuit_status(self) -> str | None:
        """The venue's circuit breaker in words for /status while it is not closed; None: closed (or none)."""
        return None

    # ---- venue dead man's switch ----
    @abc.abstractmethod
    async def arm_dead_man_switch(self, timeout_s: int) -> None: ...

    @abc.abstractmethod
    async def disarm_dead_man_switch(self) -> None: ...

    # ---- streams ----
    @abc.abstractmethod
    def events(self) -> AsyncIterator[Event]:
        """Normalised events (fills, order updates, account updates, stream status)."""


__all__ = ["Exchange"]
