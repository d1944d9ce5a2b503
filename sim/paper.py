"""The paper exchange: the adapter contract, in process, on the sim matching engine.

Prices follow the engine's seeded walk (offline, deterministic), advanced by a background task
every `tick_interval_s` (None: only when `tick()` is called, as tests do).

With a `state_path` the account (balances, positions, orders, fills, funding, the id counters and the
last prices) is saved there after every change and put back at the next start (sim/paper_state.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from exchanges.base import Exchange
from exchanges.errors import (
    ExchangeError,
    InsufficientBalanceError,
    InvalidOrderError,
    InvalidSymbolError,
    OrderNotFoundError,
    OrderStateUnknown,
    VenueUnavailable,
)
from exchanges.models import (
    CANDLE_INTERVAL_MS,
    AccountBalances,
    Balance,
    BookLevel,
    Candle,
    CashFlow,
    CashFlowKind,
    Event,
    Fill,
    FillEvent,
    FundingEvent,
    FundingPayment,
    FundingRate,
    Liquidation,
    Market,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    StreamStatus,
    Ticker,
)
from sim.accounts import SimCashFlow
from sim.book import SimOrder
from sim.engine import Engine, Reject, SimFill, SimFunding, SimLiquidation
from sim.history import PriceHistory
from sim.markets import default_markets, starting_prices
from sim.paper_state import PaperState, PaperStateError

PRICE_SAVE_MS = 60_000  # prices alone are saved this often (a crash costs at most a minute of walk)

ZERO = Decimal(0)
_ERRORS: dict[str, type[ExchangeError]] = {
    "UNKNOWN_MARKET": InvalidSymbolError,
    "MARGIN": InsufficientBalanceError,
    "SPOT_BALANCE": InsufficientBalanceError,
    "UNKNOWN_ORDER": OrderNotFoundError,
    "MODIFY_CLOSED": OrderNotFoundError,
}
_REASONS = {
    "user": "cancelled",
    "ioc": "unfilled remainder of an immediate-or-cancel order cancelled",
    "reduce_only": "cancelled: reduce-only order with no position left to reduce",
    "self_trade": "cancelled to prevent a self-trade",
    "scheduled": "cancelled by the dead man's switch",
    "liquidation": "cancelled by liquidation",
    "sibling_filled": "cancelled: the other TP/SL leg filled",
    "parent_canceled": "cancelled with its parent order",
    "modified": "replaced by a modified order",
    "triggered": "triggered",
}


class PriceFeed(Protocol):
    async def mids(self) -> dict[str, Decimal]: ...

    async def close(self) -> None: ...


@dataclass
class PaperFaults:
    """Faults a trader (demo) or a test can switch on to see the bot cope."""

    down: bool = False  # every call fails as if the venue were unreachable
    latency_s: float = 0.0  # added to every call
    lose_responses: int = 0  # the next N orders are accepted, then the answer is lost
    fail_before_send: int = 0  # the next N orders fail before reaching the venue


def map_reject(exc: Reject, venue: str) -> ExchangeError:
    cls = _ERRORS.get(exc.code, InvalidOrderError)
    return cls(exc.message, venue=venue, raw=exc.message, code=exc.code)


def order_from_sim(o: SimOrder, venue: str) -> Order:
    status = o.status
    if status is OrderStatus.OPEN and o.filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    if o.trigger_px is not None:
        otype = OrderType.TAKE_PROFIT if o.tpsl == "tp" else OrderType.STOP
    else:
        otype = OrderType.MARKET if o.is_market else OrderType.LIMIT
    reason = _REASONS.get(o.reason or "", o.reason)
    return Order(
        exchange=venue, symbol=o.symbol, side=o.side, size=o.size, price=o.price, status=status,
        order_id=str(o.oid), client_id=o.cloid, order_type=otype, tif=o.tif, reduce_only=o.reduce_only,
        filled=o.filled, avg_price=o.avg_price, trigger_price=o.trigger_px, created_ms=o.ts_ms,
        updated_ms=o.status_ms, reason=reason,
    )


def fill_from_sim(f: SimFill, venue: str) -> Fill:
    return Fill(
        exchange=venue, fill_id=str(f.tid), order_id=str(f.oid), client_id=f.cloid, symbol=f.symbol, side=f.side,
        price=f.price, size=f.size, fee=f.fee, ts_ms=f.ts_ms, realized_pnl=f.closed_pnl, is_maker=not f.crossed,
        liquidation=f.liquidation, start_position=f.start_position,
    )


class PaperExchange(Exchange):
    def __init__(
        self,
        *,
        starting_balance: Decimal = Decimal(10_000),
        seed: int = 1,
        clock: Callable[[], int] | None = None,
        tick_interval_s: float | None = 1.0,
        name: str = "paper",
        engine: Engine | None = None,
        account: str = "paper",
        price_feed: PriceFeed | None = None,
        state_path: str | None = None,
        history: PriceHistory | None = None,
    ):
        self.name = name
        kw: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self.engine = engine or Engine(default_markets(name), starting_prices(), seed=seed, **kw)
        self.account = account
        self.taker_fee, self.maker_fee = self.engine.taker_fee, self.engine.maker_fee
        self.starting_balance = starting_balance
        self.tick_interval_s = tick_interval_s
        self.price_feed = price_feed
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._ticker: asyncio.Task[None] | None = None
        self._history = history if history is not None else PriceHistory(self.engine.markets)
        self._state = PaperState(state_path) if state_path else None
        self._dirty = False  # the account changed since the last save
        self._save_soon: asyncio.Handle | None = None
        self._saved_ms = 0
        self._markets = {s: self._as_own(m) for s, m in self.engine.markets.items()}
        self._connected = False
        self.faults = PaperFaults()
        self._feed_error: str | None = None

    def _as_own(self, m: Market) -> Market:
        return m if m.exchange == self.name else replace(m, exchange=self.name)

    async def _gate(self) -> None:
        if self.faults.latency_s:
            await asyncio.sleep(self.faults.latency_s)
        if self.faults.down:
            raise VenueUnavailable("paper venue is down (fault injected)", venue=self.name)

    def reads_in_memory(self, symbol: str | None = None) -> bool:
        return not self.faults.latency_s

    # ---- lifecycle ----
    def load_state(self) -> bool:
        """Put the saved account back (once; connect() does it if the caller did not). True if one
        was saved. Raises PaperStateError, saying what to do, if the file cannot be used."""
        return self._state is not None and self._state.load(self.engine, self.account)

    def save_state(self) -> None:
        """Write what changed to the state file (a no-op without one)."""
        if self._save_soon is not None:
            self._save_soon.cancel()
            self._save_soon = None
        self._dirty = False
        if self._state is not None:
            self._state.save(self.engine, self.account)
            self._saved_ms = self.engine.clock()

    def _changed(self) -> None:
        """The account moved outside a call of ours (a fill on a price move, funding): saved as soon
        as the engine's call is over, once however many events it sent."""
        self._dirty = True
        if self._state is None or self._save_soon is not None:
            return
        with contextlib.suppress(RuntimeError):  # no loop running: the next call of ours saves it
            self._save_soon = asyncio.get_running_loop().call_soon(self.save_state)

    async def connect(self) -> None:
        if self._connected:
            return
        self.load_state()
        if self.account not in self.engine.accounts:
            self.engine.fund(self.account, self.starting_balance)
            self.engine.fund(self.account, self.starting_balance, spot=True)
        self.save_state()
        self.engine.subscribe(self._on_engine)
        self._record_prices()
        if self.tick_interval_s:
            self._ticker = asyncio.create_task(self._tick_loop(), name=f"{self.name}-prices")
        self._connected = True
        self._queue.put_nowait(StreamStatus(self.name, True, self.engine.clock()))

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.engine.unsubscribe(self._on_engine)
        self.save_state()
        if self._state is not None:
            self._state.close()
        if self.price_feed is not None:
            await self.price_feed.close()
        if self._connected:
            self._queue.put_nowait(StreamStatus(self.name, False, self.engine.clock(), "closed"))
        self._connected = False

    async def _tick_loop(self) -> None:
        assert self.tick_interval_s
        while True:
            if self.price_feed is not None:
                await self.follow_feed()
            else:
                self.tick()
            await asyncio.sleep(self.tick_interval_s)

    async def follow_feed(self) -> None:
        """Move the simulated markets to a venue's public prices (failures keep the last prices)."""
        assert self.price_feed is not None
        try:
            mids = await self.price_feed.mids()
        except (ExchangeError, OSError, TimeoutError) as exc:
            self._feed_error = str(exc)
            return
        self._feed_error = None
        for symbol, px in mids.items():
            if symbol in self.engine.markets and px > 0:
                self.engine.set_price(symbol, px)
        self._record_prices()

    def tick(self, n: int = 1) -> None:
        """Advance the simulated market n steps (tests call this instead of waiting)."""
        for _ in range(n):
            self.engine.step()
            self._record_prices()

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.engine.set_price(symbol, price)
        self._record_prices()

    def _record_prices(self) -> None:
        self._history.record(self.engine.clock(), self.engine.mids)
        if self._state is not None and (self._dirty or self.engine.clock() - self._saved_ms >= PRICE_SAVE_MS):
            self.save_state()

    def _on_engine(self, kind: str, payload: object) -> None:
        if getattr(payload, "account", payload) == self.account:
            self._changed()
        if isinstance(payload, SimOrder) and payload.account == self.account and kind == "order":
            self._queue.put_nowait(OrderUpdate(order_from_sim(payload, self.name), payload.status_ms))
        elif isinstance(payload, SimFill) and payload.account == self.account:
            self._queue.put_nowait(FillEvent(fill_from_sim(payload, self.name)))
        elif isinstance(payload, SimFunding) and payload.account == self.account:
            self._queue.put_nowait(FundingEvent(self._funding(payload)))
        elif isinstance(payload, SimLiquidation) and payload.account == self.account:
            self._queue.put_nowait(Liquidation(self.name, payload.symbol, payload.size, payload.price, payload.ts_ms))

    def _funding(self, f: SimFunding) -> FundingPayment:
        return FundingPayment(self.name, f.symbol, f.usdc, f.rate, f.szi, f.ts_ms)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()

    # ---- market data ----
    async def markets(self) -> dict[str, Market]:
        await self._gate()
        return dict(self._markets)

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._markets:
            raise InvalidSymbolError(f"unknown market {symbol!r}", venue=self.name)

    async def ticker(self, symbol: str) -> Ticker:
        await self._gate()
        self._check_symbol(symbol)
        book = self.engine.books[symbol]
        mark = self.engine.mark(symbol)
        return Ticker(self.name, symbol, book.best_bid(), book.best_ask(), mark, self.engine.clock(), last=mark)

    async def order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        await self._gate()
        self._check_symbol(symbol)
        bids, asks = self.engine.books[symbol].depth(depth)
        return OrderBook(
            self.name, symbol, tuple(BookLevel(p, s) for p, s, _ in bids), tuple(BookLevel(p, s) for p, s, _ in asks),
            self.engine.clock(),
        )

    async def candles(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        await self._gate()
        self._check_symbol(symbol)
        step = CANDLE_INTERVAL_MS.get(interval)
        if step is None:
            known = ", ".join(CANDLE_INTERVAL_MS)
            raise InvalidOrderError(f"unsupported candle interval {interval!r}; use one of {known}")
        return [Candle(b.open_ms, b.open, b.high, b.low, b.close, b.volume)
                for b in self._history.candles(symbol, step, start_ms, end_ms)]

    async def funding_rate(self, symbol: str) -> FundingRate:
        await self._gate()
        self._check_symbol(symbol)
        return FundingRate(self.name, symbol, self.engine.funding_rates[symbol], 1, mark=self.engine.mark(symbol))

    # ---- account ----
    async def balances(self, *, fresh: bool = False) -> AccountBalances:  # in-process: always fresh
        await self._gate()
        e, a = self.engine, self.account
        e.account(a)
        spot = []
        for asset, total in sorted(e.accounts[a].spot.items()):
            if total == 0:
                continue
            mark = Decimal(1) if asset == "USDC" else e.mids.get(f"{asset}/USDC")
            spot.append(Balance(asset, total, e.spot_available(a, asset), total * mark if mark is not None else None))
        return AccountBalances(
            self.name, e.account_value(a), e.margin_used(a), e.withdrawable(a), tuple(spot), e.clock()
        )

    async def positions(self, *, fresh: bool = False) -> list[Position]:
        await self._gate()
        return [
            Position(
                exchange=self.name, symbol=p.symbol, size=p.size, entry_price=p.entry, mark_price=p.mark,
                unrealized_pnl=p.unrealized_pnl, leverage=p.leverage, margin_used=p.margin_used,
                liquidation_price=p.liquidation_price, leverage_type="cross" if p.cross else "isolated",
                realized_pnl=p.realized_pnl, funding=p.funding,
            )
            for p in self.engine.positions_view(self.account)
        ]

    async def open_orders(self, *, fresh: bool = False) -> list[Order]:
        await self._gate()
        return [order_from_sim(o, self.name) for o in self.engine.open_orders(self.account)]

    async def fills(self, since_ms: int) -> list[Fill]:
        await self._gate()
        return [fill_from_sim(f, self.name) for f in self.engine.fills.get(self.account, []) if f.ts_ms >= since_ms]

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        await self._gate()
        return [self._funding(f) for f in self.engine.fundings.get(self.account, []) if f.ts_ms >= since_ms]

    async def cash_flows(self, since_ms: int) -> list[CashFlow]:
        await self._gate()
        return [cash_flow_from_sim(f, self.name) for f in self.engine.cash_flows.get(self.account, [])
                if f.ts_ms >= since_ms]

    def deposit(self, amount: Decimal) -> CashFlow:
        """Money in (a trader or a test topping the account up): a deposit in the venue's ledger."""
        return self._move("deposit", amount)

    def withdraw(self, amount: Decimal) -> CashFlow:
        """Money out: a withdrawal in the venue's ledger (refused beyond what is withdrawable)."""
        return self._move("withdraw", amount)

    def _move(self, kind: str, amount: Decimal) -> CashFlow:
        try:
            return cash_flow_from_sim(self.engine.move_funds(self.account, kind, amount), self.name)
        except Reject as exc:
            raise InsufficientBalanceError(exc.message, venue=self.name, raw=exc.message, code=exc.code) from None

    # ---- trading ----
    async def place(self, request: OrderRequest) -> Order:
        await self._gate()
        if not request.client_id:
            raise InvalidOrderError("a client id is required", venue=self.name)
        self._check_symbol(request.symbol)
        if self.faults.fail_before_send > 0:
            self.faults.fail_before_send -= 1
            raise VenueUnavailable("connection refused (fault injected)", venue=self.name)
        try:
            order = order_from_sim(self.engine.place(self.account, request), self.name)
        except Reject as exc:
            if self.faults.lose_responses > 0:
                self.faults.lose_responses -= 1
                raise OrderStateUnknown("response lost (fault injected)", venue=self.name) from None
            raise map_reject(exc, self.name) from None
        finally:  # a refused order is kept too: a lookup by its client id after a restart tells the truth
            self.save_state()
        if self.faults.lose_responses > 0:
            self.faults.lose_responses -= 1
            raise OrderStateUnknown("response lost after the order was accepted (fault injected)", venue=self.name)
        return order

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> None:
        await self._gate()
        try:
            self.engine.cancel(self.account, oid=_oid(order_id), cloid=client_id)
        except Reject as exc:
            raise map_reject(exc, self.name) from None
        self.save_state()

    async def cancel_all(self, symbol: str | None = None, *, fresh: bool = False) -> list[Order]:
        await self._gate()
        out = [order_from_sim(o, self.name) for o in self.engine.cancel_all(self.account, symbol)]
        self.save_state()
        return out

    async def set_leverage(self, symbol: str, leverage: int, *, cross: bool = True) -> None:
        await self._gate()
        try:
            self.engine.set_leverage(self.account, symbol, leverage, cross)
        except Reject as exc:
            raise map_reject(exc, self.name) from None
        self.save_state()

    async def order_status(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        await self._gate()
        o = self.engine.find(self.account, oid=_oid(order_id), cloid=client_id)
        if o is None:
            raise OrderNotFoundError(f"order {order_id or client_id} not found", venue=self.name)
        return order_from_sim(o, self.name)

    async def arm_dead_man_switch(self, timeout_s: int) -> None:
        await self._gate()
        self.engine.schedule_cancel(self.account, self.engine.clock() + timeout_s * 1000)
        self.save_state()

    async def disarm_dead_man_switch(self) -> None:
        await self._gate()
        self.engine.schedule_cancel(self.account, None)
        self.save_state()


def cash_flow_from_sim(f: SimCashFlow, venue: str) -> CashFlow:
    """An engine ledger entry as its change to this account's equity (a perp/spot move changes none)."""
    if f.kind == "deposit":
        return CashFlow(venue, CashFlowKind.DEPOSIT, f.usdc, f.ts_ms, f.hash, f.kind)
    if f.kind == "withdraw":
        return CashFlow(venue, CashFlowKind.WITHDRAWAL, -f.usdc - f.fee, f.ts_ms, f.hash, f.kind, fee=f.fee)
    sent = f.user == f.account and f.kind != "accountClassTransfer"
    amount = -f.usdc - f.fee if sent else ZERO if f.kind == "accountClassTransfer" else f.usdc
    return CashFlow(venue, CashFlowKind.TRANSFER, amount, f.ts_ms, f.hash, f.kind, f.token, f.fee,
                    f.destination if sent else f.user)


def _oid(order_id: str | None) -> int | None:
    if order_id is None:
        return None
    try:
        return int(order_id)
    except ValueError:
        raise OrderNotFoundError(f"order id {order_id!r} is not a paper order id") from None


__all__ = ["PaperExchange", "PaperFaults", "PaperStateError", "fill_from_sim", "map_reject", "order_from_sim"]
