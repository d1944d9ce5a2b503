"""Hyperliquid adapter: the exchange contract over our own async REST and WebSocket clients.

Mainnet or testnet signing is chosen from config, never from the URL. `secret_key` may belong to
the account or to an API (agent) wallet approved for it; queries always use the account address.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from exchanges.aio import gather_reads
from exchanges.base import Exchange
from exchanges.common.breaker import CircuitBreaker, urgent, urgent_when
from exchanges.common.feed import EventFeed
from exchanges.common.nonce import NonceSource
from exchanges.errors import ExchangeError, InvalidOrderError, InvalidSymbolError, OrderNotFoundError
from exchanges.hyperliquid import parse
from exchanges.hyperliquid.errors import is_nonce_error, map_error
from exchanges.hyperliquid.feed import Channels, Prices
from exchanges.hyperliquid.http import HyperliquidHttp
from exchanges.hyperliquid.reads import Reads, orders_touched
from exchanges.hyperliquid.signing import Signer
from exchanges.hyperliquid.stream import stream_client
from exchanges.models import (
    CANDLE_INTERVAL_MS,
    AccountBalances,
    Candle,
    CashFlow,
    Event,
    Fill,
    FundingPayment,
    FundingRate,
    Market,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Ticker,
    TimeInForce,
)
from exchanges.precision import to_wire

log = logging.getLogger(__name__)
VENUE = "hyperliquid"
TIF = {TimeInForce.GTC: "Gtc", TimeInForce.IOC: "Ioc", TimeInForce.ALO: "Alo"}
TRIGGER_SLIPPAGE = Decimal("0.10")
LEDGER_PAGE = 500  # the venue caps time-range answers at 500 entries


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class HyperliquidExchange(Exchange):
    name = VENUE

    def __init__(self, *, api_url: str, ws_url: str, account_address: str, secret_key: str, is_mainnet: bool,
                 vault_address: str | None = None, weight_per_minute: int = 1200, clock: Callable[[], int] = _now_ms,
                 stall_s: float = 30.0, ping_s: float = 50.0, default_slippage: Decimal = Decimal("0.05"),
                 timeout_s: float = 10.0, probe_s: float = 2.0, down_poll_s: float = 5.0,
                 breaker: CircuitBreaker | None = None):
        self.http = HyperliquidHttp(api_url, weight_per_minute=weight_per_minute, timeout_s=timeout_s, breaker=breaker)
        self.ws_url = ws_url
        self.signer = Signer(secret_key)
        self.user = (vault_address or account_address).lower()
        self.vault = vault_address.lower() if vault_address else None
        self.is_mainnet = is_mainnet
        self.clock = clock
        self.nonces = NonceSource(clock)
        self.default_slippage = default_slippage
        self._markets: dict[str, Market] = {}
        self._by_coin: dict[str, Market] = {}
        self.prices = Prices()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self.feed = EventFeed(VENUE, self._queue, clock, fills=self.fills, open_orders=self.open_orders,
                              order_status=lambda symbol, oid: self.order_status(symbol, order_id=oid),
                              on_lost=self._stream_lost)
        self._stream = stream_client(ws_url, [
            {"type": "allMids"}, {"type": "orderUpdates", "user": self.user}, {"type": "userFills", "user": self.user},
            {"type": "userEvents", "user": self.user}, {"type": "userFundings", "user": self.user},
            {"type": "clearinghouseState", "user": self.user}, {"type": "spotState", "user": self.user},
            {"type": "openOrders", "user": self.user},
        ], self._on_message, self.feed.on_state, stall_s=stall_s, ping_s=ping_s, first_data_s=max(5.0, 2 * probe_s))
        self.probe_s, self.down_poll_s = probe_s, down_poll_s
        # a push is trusted for a probe interval and a half after its feed spoke or a probe agreed
        self.reads = Reads(self.http.info, clock, self._stream.connected.is_set, trust_ms=int(probe_s * 1500))
        self.channels = Channels(self.feed, self.reads, self.prices, lambda: self._by_coin, info=self.http.info,
                                 user=self.user, quiet_s=self._stream.quiet_s, probe_s=probe_s)

    def __repr__(self) -> str:
        return f"HyperliquidExchange({self.user}, {'mainnet' if self.is_mainnet else 'testnet'})"

    # ---- lifecycle ----
    async def connect(self) -> None:
        await self._load_markets()
        if self._stream.start(name="hyperliquid-stream"):
            self.feed.keep(self.feed.watch(self._stream.connected.is_set, self.channels.probe_once,
                                           self._stream.restart, probe_s=self.probe_s, down_poll_s=self.down_poll_s))
            await self._stream.wait_connected(10)

    async def close(self) -> None:
        await self.feed.close()
        await self._stream.close()
        await self.http.close()

    async def _on_message(self, channel: str, data: Any) -> None:
        await self.channels.on_message(channel, data)

    def _stream_lost(self) -> None:
        self.reads.stream_lost()
        self.prices.clear()

    async def events(self) -> AsyncIterator[Event]:
        async for event in self.feed.events():
            yield event

    async def _load_markets(self) -> None:
        meta, spot = await asyncio.gather(self.http.info({"type": "meta"}), self.http.info({"type": "spotMeta"}))
        markets = {**parse.parse_perp_markets(meta), **parse.parse_spot_markets(spot)}
        self._markets, self._by_coin = markets, parse.market_by_coin(markets)

    # ---- market data ----
    async def markets(self) -> dict[str, Market]:
        if not self._markets:
            await self._load_markets()
        return dict(self._markets)

    async def _market(self, symbol: str) -> Market:
        if not self._markets:
            await self._load_markets()
        m = self._markets.get(symbol)
        if m is None:
            raise InvalidSymbolError(f"unknown market {symbol!r}", venue=VENUE)
        return m

    def _mids_fresh(self) -> bool:
        # the venue sends allMids as prices move; mids unheard of (and unprobed) for a trust window are
        # checked over REST
        return (bool(self.prices.mids) and self._stream.connected.is_set()
                and self.clock() - self.prices.mids_ms <= self.reads.trust_ms)

    def reads_in_memory(self, symbol: str | None = None) -> bool:
        if not (self._mids_fresh() and self.reads.in_memory("clearinghouseState", "spotClearinghouseState")):
            return False
        m = self._markets.get(symbol) if symbol is not None else None
        return symbol is None or (m is not None and m.native in self.prices.books)

    async def mids(self) -> dict[str, Decimal]:
        if self._mids_fresh():
            return self.prices.mids
        raw = await self.http.info({"type": "allMids"})
        self.prices.mids, self.prices.mids_ms = parse.parse_mids(raw, self._by_coin), self.clock()
        return self.prices.mids

    async def ticker(self, symbol: str) -> Ticker:
        book = await self.order_book(symbol, 1)
        mids = await self.mids()
        bid = book.bids[0].price if book.bids else None
        ask = book.asks[0].price if book.asks else None
        mark = mids.get(symbol) or ((bid + ask) / 2 if bid and ask else None)
        if mark is None:
            raise ExchangeError(f"no price for {symbol}", venue=VENUE)
        return Ticker(VENUE, symbol, bid, ask, mark, book.ts_ms, last=mark)

    async def order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        m = await self._market(symbol)
        book = self.prices.books.get(m.native) if self._mids_fresh() else None
        if isinstance(book, dict):
            try:
                book = self.prices.books[m.native] = parse.parse_book(book, symbol)
            except (ValueError, ArithmeticError, LookupError, TypeError) as exc:  # garbled: ask over REST instead
                log.warning("unreadable l2Book push for %s: %s", symbol, exc)
                del self.prices.books[m.native]
                book = None
        if book is None:
            await self._stream.subscribe({"type": "l2Book", "coin": m.native})  # keep it streaming from now on
            raw = await self.reads.read(f"l2Book:{m.native}", {"type": "l2Book", "coin": m.native}, 250)
            book = parse.parse_book(raw, symbol)
        return OrderBook(VENUE, symbol, book.bids[:depth], book.asks[:depth], book.ts_ms)

    async def candles(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        m = await self._market(symbol)
        if interval not in CANDLE_INTERVAL_MS:
            raise InvalidOrderError(f"unsupported candle interval {interval!r}", venue=VENUE)
        rows = await self.http.info({"type": "candleSnapshot", "req": {"coin": m.native, "interval": interval,
                                                                        "startTime": start_ms, "endTime": end_ms}})
        return parse.parse_candles(rows)

    async def funding_rate(self, symbol: str) -> FundingRate:
        m = await self._market(symbol)
        if m.kind is not MarketKind.PERP:
            raise InvalidSymbolError(f"{symbol} is spot: no funding", venue=VENUE)
        _, ctxs = await self.http.info({"type": "metaAndAssetCtxs"})
        ctx = ctxs[m.asset_id]
        return FundingRate(VENUE, symbol, Decimal(ctx["funding"]), 1, mark=Decimal(ctx["markPx"]))

    # ---- account ----
    async def _clearinghouse(self, fresh: bool = False) -> dict[str, Any]:
        return await self.reads.read("clearinghouseState", {"type": "clearinghouseState", "user": self.user},
                                     1000, fresh=fresh)

    async def balances(self, *, fresh: bool = False) -> AccountBalances:
        spot_q = {"type": "spotClearinghouseState", "user": self.user}
        with urgent_when(fresh):
            ch, spot, mids = await gather_reads(
                self._clearinghouse(fresh), self.reads.read("spotClearinghouseState", spot_q, 1000, fresh=fresh),
                self.mids(), in_memory=not fresh and self.reads_in_memory())
        return parse.parse_balances(ch, spot, mids, ts_ms=self.clock())

    async def positions(self, *, fresh: bool = False) -> list[Position]:
        with urgent_when(fresh):
            return parse.parse_positions(await self._clearinghouse(fresh), self._by_coin)

    async def open_orders(self, *, fresh: bool = False) -> list[Order]:
        with urgent_when(fresh):
            raw = await self.reads.read("frontendOpenOrders", {"type": "frontendOpenOrders", "user": self.user}, 0,
                                        fresh=fresh)
        out = []
        for o in raw:
            out.append(parse.parse_order(o, self._by_coin))
            out += [parse.parse_order(c, self._by_coin) for c in o.get("children", [])]
        return out

    async def fills(self, since_ms: int) -> list[Fill]:
        out: list[Fill] = []
        start = since_ms
        while True:
            page = await self.http.info({"type": "userFillsByTime", "user": self.user, "startTime": start})
            out += [parse.parse_fill(f, self._by_coin) for f in page]
            if len(page) < 2000:
                break
            start = max(int(f["time"]) for f in page) + 1
        return out

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Funding from since_ms, paged by time (an answer holds at most LEDGER_PAGE; every market is paid
        in the same millisecond, so a page may end inside one: start there again and drop repeats)."""
        found: dict[tuple[int, str], FundingPayment] = {}
        start = since_ms
        while True:
            rows = await self.http.info({"type": "userFunding", "user": self.user, "startTime": start})
            for r in rows:
                p = parse.parse_funding(r, self._by_coin)
                found[(p.ts_ms, p.symbol)] = p
            last = max((int(r["time"]) for r in rows), default=start)
            if len(rows) < LEDGER_PAGE or last <= start:
                break
            start = last
        return sorted(found.values(), key=lambda p: (p.ts_ms, p.symbol))

    async def cash_flows(self, since_ms: int) -> list[CashFlow]:
        """The non-funding ledger from since_ms (paged by time: an answer holds at most LEDGER_PAGE)."""
        found: dict[tuple[int, str, str, Decimal], CashFlow] = {}
        start = since_ms
        while True:
            page = await self.http.info({"type": "userNonFundingLedgerUpdates", "user": self.user, "startTime": start})
            try:
                flows = parse.parse_ledger_updates(page, self.user)
            except (LookupError, TypeError, ValueError) as exc:  # ParseError is a ValueError
                raise ExchangeError(f"unreadable ledger: {exc}", venue=VENUE) from None
            for f in flows:
                found[(f.ts_ms, f.tx_hash, f.venue_kind, f.amount)] = f
            last = max((int(r["time"]) for r in page), default=start)
            if len(page) < LEDGER_PAGE or last <= start:
                break
            start = last  # inclusive: entries of that very millisecond come again and are deduped
        return sorted(found.values(), key=lambda f: f.ts_ms)  # stable: same-millisecond entries keep the venue's order

    # ---- signing and sending ----
    async def _act(self, action: dict[str, Any], *, cancel: bool = False, batch: int = 1) -> Any:
        for attempt in range(2):
            nonce = self.nonces.next()
            sig = self.signer.sign_l1(action, nonce, vault=self.vault, expires_after=None, is_mainnet=self.is_mainnet)
            body = {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": self.vault}
            try:
                resp = await self.http.exchange(body, cancel=cancel, batch=batch)
            except BaseException:
                self.reads.changed()  # it may have been applied all the same
                raise
            self.reads.acted(orders_touched(action, resp))
            if resp.get("status") == "err":
                message = str(resp.get("response"))
                if is_nonce_error(message) and attempt == 0:
                    continue  # the venue refused before acting: safe to sign again with a fresh nonce
                raise map_error(message)
            return resp["response"]
        raise AssertionError("unreachable")

    async def _wire(self, req: OrderRequest, m: Market) -> dict[str, Any]:
        size = to_wire(req.size)
        if req.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT):
            assert req.trigger_price is not None
            trig = m.round_price(req.trigger_price)
            limit = req.price if req.price is not None else m.round_price_aggressive(
                trig * (1 + TRIGGER_SLIPPAGE * req.side.sign), req.side)
            t: dict[str, Any] = {"trigger": {"isMarket": req.price is None, "triggerPx": to_wire(trig),
                                             "tpsl": "tp" if req.order_type is OrderType.TAKE_PROFIT else "sl"}}
            price = limit
        elif req.price is None:
            mid = (await self.mids()).get(req.symbol)
            if mid is None:
                raise ExchangeError(f"no mid price for {req.symbol}", venue=VENUE)
            slip = req.slippage if req.slippage is not None else self.default_slippage
            price = m.round_price_aggressive(mid * (1 + slip * req.side.sign), req.side)
            t = {"limit": {"tif": "Ioc"}}
        else:
            price = req.price
            t = {"limit": {"tif": TIF[req.tif]}}
        wire: dict[str, Any] = {"a": m.asset_id, "b": req.side.value == "buy", "p": to_wire(price), "s": size,
                                "r": req.reduce_only, "t": t}
        if req.client_id:
            wire["c"] = req.client_id
        return wire

    async def place(self, request: OrderRequest) -> Order:
        if not request.client_id:
            raise InvalidOrderError("a client id is required", venue=VENUE)
        with urgent_when(request.reduce_only):  # a close is never held back by the breaker
            return await self._place(request)

    async def _place(self, request: OrderRequest) -> Order:
        m = await self._market(request.symbol)
        wires = [await self._wire(request, m)]
        grouping = "na"
        for trig, kind in ((request.take_profit, OrderType.TAKE_PROFIT), (request.stop_loss, OrderType.STOP)):
            if trig is not None:
                child = OrderRequest(VENUE, request.symbol, request.side.opposite, request.size, None, kind,
                                     reduce_only=True, trigger_price=trig)
                wires.append(await self._wire(child, m))
                grouping = "normalTpsl"
        resp = await self._act({"type": "order", "orders": wires, "grouping": grouping}, batch=len(wires))
        status = resp["data"]["statuses"][0]
        return self._placed(request, status)

    def _placed(self, req: OrderRequest, status: Any) -> Order:
        order = parse.order_from_status(req, status, self.clock())
        self.feed.track(order)
        return order

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> None:
        m = await self._market(symbol)
        if order_id is not None:
            action = {"type": "cancel", "cancels": [{"a": m.asset_id, "o": int(order_id)}]}
        elif client_id is not None:
            action = {"type": "cancelByCloid", "cancels": [{"asset": m.asset_id, "cloid": client_id}]}
        else:
            raise OrderNotFoundError("give an order id or a client id", venue=VENUE)
        with urgent():
            status = (await self._act(action, cancel=True))["data"]["statuses"][0]
        if status != "success":
            raise map_error(str(status.get("error", status)))

    async def cancel_all(self, symbol: str | None = None, *, fresh: bool = False) -> list[Order]:
        with urgent():  # its read of the open orders too: a cancel is never held back by the breaker
            return await self._cancel_all(symbol, fresh)

    async def _cancel_all(self, symbol: str | None, fresh: bool) -> list[Order]:
        orders = [o for o in await self.open_orders(fresh=fresh) if symbol in (None, o.symbol) and o.order_id]
        if not orders:
            return []
        cancels = [{"a": self._markets[o.symbol].asset_id, "o": int(o.order_id)} for o in orders]  # type: ignore[arg-type]
        statuses = (await self._act({"type": "cancel", "cancels": cancels}, cancel=True,
                                    batch=len(cancels)))["data"]["statuses"]
        return [replace(o, status=OrderStatus.CANCELED, reason="cancelled")
                for o, s in zip(orders, statuses, strict=False) if s == "success"]

    async def set_leverage(self, symbol: str, leverage: int, *, cross: bool = True) -> None:
        m = await self._market(symbol)
        await self._act({"type": "updateLeverage", "asset": m.asset_id, "isCross": cross, "leverage": leverage})

    async def order_status(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        ref: int | str = int(order_id) if order_id is not None else str(client_id)
        resp = await self.http.info({"type": "orderStatus", "user": self.user, "oid": ref})
        order = parse.parse_order_status(resp, self._by_coin)
        if order is None:
            raise OrderNotFoundError(f"order {ref} is not known to the venue", venue=VENUE)
        return order

    async def arm_dead_man_switch(self, timeout_s: int) -> None:
        await self._act({"type": "scheduleCancel", "time": self.clock() + timeout_s * 1000}, cancel=True)

    async def disarm_dead_man_switch(self) -> None:
        await self._act({"type": "scheduleCancel"}, cancel=True)

    def circuit_status(self) -> str | None:
        """The breaker's state for /status (None: closed)."""
        return self.http.breaker.describe()

    async def rate_limit_status(self) -> str:
        used = await self.http.info({"type": "userRateLimit", "user": self.user})
        cap = int(used["nRequestsCap"])
        left = max(0, cap - int(used["nRequestsUsed"]))  # both counts as headroom: what is left of what
        budget = self.http.budget
        return f"IP weight {budget.headroom():,}/{budget.per_minute:,} left, address {left:,}/{cap:,} left"

