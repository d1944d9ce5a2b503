"""Aster adapter: futures (`BTC`) and spot (`BTC/USDT`) behind the one exchange contract, on the
shared toolkit (REST choke point, circuit breaker, read cache, event feed, WebSocket client, nonces).

Credentials: V3 (`user`, `signer`, `signer_key`: an API wallet, what new accounts get) or V1 (`api_key`,
`api_secret`). Account reads go to REST, are shared while in flight and reused while the user-data
streams are up and have said nothing new (any account event, or an action of ours, makes them stale).
Prices and quotes come from the market streams while they are fresh. A market order is sent as a
limit IOC at the slippage cap (the venue's MARKET orders have no price limit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import aiohttp

from exchanges.aster import parse
from exchanges.aster.account import Account
from exchanges.aster.events import parse_fill_event, parse_order_event
from exchanges.aster.http import AsterHttp, Credentials
from exchanges.aster.orders import LEG_TAGS, item_error, leg, order_params, shown, shown_fill, to_json
from exchanges.aster.probe import QuietProbe
from exchanges.aster.signing import CHAIN_IDS, V3Signer
from exchanges.aster.streams import Streams
from exchanges.base import Exchange
from exchanges.common.breaker import CircuitBreaker, urgent, urgent_when
from exchanges.common.cache import ReadCache
from exchanges.common.feed import EventFeed
from exchanges.common.nonce import NonceSource
from exchanges.errors import ExchangeError, InvalidOrderError, InvalidSymbolError, OrderNotFoundError
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
    OrderUpdate,
    Position,
    Ticker,
)

log = logging.getLogger(__name__)
VENUE = "aster"
HELD_MS = 5000  # an account answer held this long at most while the streams tell no change
ACCOUNT_KEYS = ("account", "spot_account", "positions", "open_orders", "spot_open_orders")
HEDGE_MODE = ("this Aster account is in hedge mode (a long and a short per market); the bot trades one-way"
              " positions: switch it to one-way in Aster's futures settings (Position mode → One-way) with no"
              " position open, then restart the bot")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class AsterExchange(Exchange):
    name = VENUE
    taker_fee = Decimal("0.00035")
    maker_fee = Decimal("0.0001")

    def __init__(self, *, base_url: str, spot_base_url: str, ws_url: str, spot_ws_url: str, credentials: Credentials,
                 testnet: bool = False, weight_per_minute: int = 2400, orders_per_minute: int = 1200,
                 clock: Callable[[], int] = _now_ms, timeout_s: float = 10.0, breaker: CircuitBreaker | None = None,
                 session: aiohttp.ClientSession | None = None, default_slippage: Decimal = Decimal("0.05"),
                 stall_s: float = 30.0, ping_s: float = 20.0, probe_s: float = 5.0, down_poll_s: float = 5.0,
                 trust_ms: int = 1000, keepalive_s: float = 1800.0, max_connection_s: float = 23 * 3600.0):
        self.creds = credentials
        self.clock = clock
        self.nonces = NonceSource(clock, unit="us") if credentials.v3 else NonceSource(clock)
        signer = V3Signer(credentials.signer_key, CHAIN_IDS["testnet" if testnet else "mainnet"]) \
            if credentials.v3 else None
        self.http = AsterHttp(base_url, spot_base_url, credentials, signer=signer, nonces=self.nonces, clock=clock,
                              session=session, weight_per_minute=weight_per_minute,
                              orders_per_minute=orders_per_minute, timeout_s=timeout_s, breaker=breaker)
        v3 = credentials.v3
        self.f = "/fapi/v3" if v3 else "/fapi/v1"
        self.s = "/api/v3" if v3 else "/api/v1"
        self.account_path = "/fapi/v3/accountWithJoinMargin" if v3 else "/fapi/v4/account"
        self.risk_path = "/fapi/v3/positionRisk" if v3 else "/fapi/v2/positionRisk"
        self.default_slippage = default_slippage
        self.hedge = False
        self._markets: dict[str, Market] = {}
        self._perps: parse.Natives = {}
        self._spots: parse.Natives = {}
        self._funding_hours: dict[str, int] = {}
        self._armed: set[str] = set()  # symbols whose countdownCancelAll is set
        self._active: set[str] = set()  # markets traded in this run or held: what a quiet stream's probe checks
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self.feed = EventFeed(VENUE, self._queue, clock, fills=self.fills, open_orders=self.open_orders,
                              order_status=lambda symbol, oid: self.order_status(symbol, order_id=oid))
        self.streams = Streams(self, ws_url, spot_ws_url, stall_s=stall_s, ping_s=ping_s, keepalive_s=keepalive_s,
                               max_connection_s=max_connection_s)
        self.reads = ReadCache(self._read, clock, self.streams.user_live, account_keys=ACCOUNT_KEYS, trust_ms=trust_ms)
        self.account = Account(self)
        self.probe_s, self.down_poll_s, self.trust_ms = probe_s, down_poll_s, trust_ms
        self.held_ms = max(trust_ms, HELD_MS)
        self.probe = QuietProbe(self.feed, clock, open_of=self._open_of, grace_ms=min(2000, int(probe_s * 1000)),
                                trades=lambda m, since, spot: self._trades(m, since, spot=spot))

    def __repr__(self) -> str:
        return f"AsterExchange({self.creds!r})"

    # ---- lifecycle ----
    async def connect(self) -> None:
        await self.sync_time()
        await self._load_markets()
        try:
            dual = await self.http.signed("GET", f"{self.f}/positionSide/dual")
            self.hedge = bool(dual.get("dualSidePosition"))
        except ExchangeError as exc:
            log.warning("aster: could not read the position mode: %s", exc)
        if self.hedge:
            log.warning("aster: %s", HEDGE_MODE)
        try:
            fees = await self.http.signed("GET", f"{self.f}/commissionRate", {"symbol": "BTCUSDT"})
            self.taker_fee, self.maker_fee = Decimal(fees["takerCommissionRate"]), Decimal(fees["makerCommissionRate"])
        except (ExchangeError, KeyError) as exc:
            log.info("aster: commission rates not read (%s); base-tier rates assumed", exc)
        if await self.streams.start():
            self.feed.keep(self.feed.watch(self.streams.user_live, self._probe, self.streams.restart_user,
                                           probe_s=self.probe_s, down_poll_s=self.down_poll_s))

    async def close(self) -> None:
        await self.feed.close()
        await self.streams.close()
        await self.http.close()

    async def sync_time(self) -> None:
        """Measure the venue's clock (nonces and timestamps are checked against it); again every
        TIME_SYNC_S while running, and at once when the venue says a timestamp is off (-1021)."""
        await self.http.sync_time()

    async def events(self) -> AsyncIterator[Event]:
        async for event in self.feed.events():
            yield event

    async def _load_markets(self) -> None:
        fut, spot, funding = await asyncio.gather(
            self.http.public(f"{self.f}/exchangeInfo"), self.http.public(f"{self.s}/exchangeInfo"),
            self.http.public("/fapi/v1/fundingInfo"))
        brackets = await self.http.signed("GET", f"{self.f}/leverageBracket")
        perps = parse.parse_markets(fut, MarketKind.PERP, max_leverage=parse.max_leverage(brackets))
        spots = parse.parse_markets(spot, MarketKind.SPOT)
        self._markets = {**perps, **spots}
        self._perps, self._spots = parse.natives(perps, MarketKind.PERP), parse.natives(spots, MarketKind.SPOT)
        self._funding_hours = parse.funding_intervals(funding)
        for host, info in ((self.http.futures, fut), (self.http.spot, spot)):
            weight_limit, orders_limit = parse.rate_limits(info)
            if weight_limit:  # the venue's own numbers (per host), over the defaults
                host.budget.per_minute, host.budget.reserve = weight_limit, max(20, weight_limit // 20)
            if orders_limit:
                host.orders.per_minute, host.orders.reserve = orders_limit, max(5, orders_limit // 20)

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

    def _fresh_quote(self, m: Market) -> tuple[Decimal | None, Decimal | None, Decimal | None, int] | None:
        return self.streams.quote(m, self.trust_ms)

    def reads_in_memory(self, symbol: str | None = None) -> bool:
        if not all(self.reads.held(k, self.held_ms) for k in ("account", "spot_account", "positions")):
            return False
        m = self._markets.get(symbol) if symbol is not None else None
        return symbol is None or (m is not None and self._fresh_quote(m) is not None)

    async def ticker(self, symbol: str) -> Ticker:
        m = await self._market(symbol)
        quote = self._fresh_quote(m)
        if quote is not None:
            bid, ask, streamed, ts = quote
            if streamed is not None:
                return Ticker(VENUE, symbol, bid, ask, streamed, ts, last=streamed)
        path = "/fapi/v1" if m.kind is MarketKind.PERP else self.s
        if m.kind is MarketKind.PERP:
            book, premium = await asyncio.gather(self.http.public(f"{path}/ticker/bookTicker", {"symbol": m.native}),
                                                 self.http.public("/fapi/v1/premiumIndex", {"symbol": m.native}))
            mark = Decimal(premium["markPrice"])
        else:
            book = await self.http.public(f"{path}/ticker/bookTicker", {"symbol": m.native})
        bid, ask = Decimal(book["bidPrice"]), Decimal(book["askPrice"])
        if m.kind is not MarketKind.PERP:
            mark = (bid + ask) / 2 if bid > 0 and ask > 0 else Decimal(
                (await self.http.public(f"{self.s}/ticker/price", {"symbol": m.native}))["price"])
        return Ticker(VENUE, symbol, bid if bid > 0 else None, ask if ask > 0 else None, mark, self.clock(), last=mark)

    async def order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        m = await self._market(symbol)
        limit = next(n for n in (5, 10, 20, 50, 100, 500, 1000) if n >= min(depth, 1000))
        path = "/fapi/v1" if m.kind is MarketKind.PERP else self.s
        raw = await self.http.public(f"{path}/depth", {"symbol": m.native, "limit": limit})
        book = parse.parse_depth(raw, symbol, self.clock())
        return replace(book, bids=book.bids[:depth], asks=book.asks[:depth])

    async def candles(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        m = await self._market(symbol)
        if interval not in CANDLE_INTERVAL_MS:
            raise InvalidOrderError(f"unsupported candle interval {interval!r}", venue=VENUE)
        path = "/fapi/v1" if m.kind is MarketKind.PERP else self.s
        rows = await self.http.public(f"{path}/klines", {"symbol": m.native, "interval": interval,
                                                          "startTime": start_ms, "endTime": end_ms, "limit": 1500})
        return parse.parse_klines(rows)

    async def funding_rate(self, symbol: str) -> FundingRate:
        m = await self._market(symbol)
        if m.kind is not MarketKind.PERP:
            raise InvalidSymbolError(f"{symbol} is spot: no funding", venue=VENUE)
        raw = await self.http.public("/fapi/v1/premiumIndex", {"symbol": m.native})
        return parse.parse_funding_rate(raw, symbol, self._funding_hours.get(m.native, 8))

    # ---- account (exchanges/aster/account.py) ----
    async def balances(self, *, fresh: bool = False) -> AccountBalances:
        with urgent_when(fresh):
            return await self.account.balances(fresh)

    async def positions(self, *, fresh: bool = False) -> list[Position]:
        with urgent_when(fresh):
            return await self.account.positions(fresh)

    async def open_orders(self, *, fresh: bool = False) -> list[Order]:
        with urgent_when(fresh):
            return [shown(o) for o in await self.account.open_orders(fresh)]

    async def fills(self, since_ms: int) -> list[Fill]:
        return await self.account.fills(since_ms, self._active)

    async def _trades(self, m: Market, since_ms: int, *, spot: bool) -> list[Fill]:
        return await self.account.trades(m, since_ms, spot=spot)

    async def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        return parse.parse_income(await self.account.income(since_ms), self._perps)[0]

    async def cash_flows(self, since_ms: int) -> list[CashFlow]:
        return parse.parse_income(await self.account.income(since_ms), self._perps)[1]

    # ---- trading ----
    async def _cap(self, req: OrderRequest, m: Market) -> Decimal | None:
        if req.price is not None or req.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT):
            return None
        t = await self.ticker(req.symbol)
        slip = req.slippage if req.slippage is not None else self.default_slippage
        return m.round_price_aggressive(t.mid * (1 + slip * req.side.sign), req.side)

    async def place(self, request: OrderRequest) -> Order:
        if not request.client_id:
            raise InvalidOrderError("a client id is required", venue=VENUE)
        m = await self._market(request.symbol)
        if self.hedge and m.kind is MarketKind.PERP:
            raise InvalidOrderError(HEDGE_MODE, venue=VENUE)
        self._active.add(request.symbol)
        with urgent_when(request.reduce_only):  # a close is never held back by the breaker
            return await self._place(request, m)

    async def _place(self, req: OrderRequest, m: Market) -> Order:
        params = order_params(req, m, await self._cap(req, m))
        path = f"{self.f}/order" if m.kind is MarketKind.PERP else f"{self.s}/order"
        legs = [(trig, kind) for trig, kind in ((req.take_profit, OrderType.TAKE_PROFIT),
                                                (req.stop_loss, OrderType.STOP)) if trig is not None]
        self.reads.changed()
        try:
            if legs and m.kind is MarketKind.PERP:
                batch = [params] + [order_params(leg(req, trig, kind), m, None) for trig, kind in legs]
                answers = await self.http.signed("POST", f"{self.f}/batchOrders",
                                                 {"batchOrders": to_json(batch)}, write=True, order=True)
                raw = answers[0]
                if parse_error := item_error(raw):
                    raise parse_error
                for answer in answers[1:]:
                    if (err := item_error(answer)) is not None:
                        log.warning("aster: a TP/SL leg of %s was refused: %s", req.client_id, err)
            else:
                raw = await self.http.signed("POST", path, params, write=True, order=True)
        finally:
            self.reads.changed()
        order = parse.parse_order(raw, self._perps if m.kind is MarketKind.PERP else self._spots)
        order = replace(order, order_type=req.order_type, client_id=order.client_id or req.client_id)
        self.feed.track(order)
        return order

    async def _cancel_sibling(self, leg: Order) -> None:
        """One leg of an entry's TP/SL filled: the other goes (the venue keeps it otherwise, and a stop
        left behind would open a new position later)."""
        cid = leg.client_id or ""
        other = cid[:-3] + ("-sl" if cid.endswith("-tp") else "-tp")
        try:
            await self.cancel(leg.symbol, client_id=other)
        except OrderNotFoundError:
            pass  # it went already (fired, or cancelled)
        except ExchangeError as exc:
            log.warning("aster: the other leg %s of %s is still open: %s", other, cid, exc)

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> None:
        m = await self._market(symbol)
        params: dict[str, Any] = {"symbol": m.native}
        if order_id is not None:
            params["orderId"] = order_id
        elif client_id is not None:
            params["origClientOrderId"] = client_id
        else:
            raise OrderNotFoundError("give an order id or a client id", venue=VENUE)
        path = f"{self.f}/order" if m.kind is MarketKind.PERP else f"{self.s}/order"
        with urgent():
            try:
                await self.http.signed("DELETE", path, params, write=True, cancel=True)
            finally:
                self.reads.changed()

    async def cancel_all(self, symbol: str | None = None, *, fresh: bool = False) -> list[Order]:
        with urgent():  # its read of the open orders too: a cancel is never held back by the breaker
            orders = [o for o in await self.open_orders(fresh=fresh) if symbol in (None, o.symbol) and o.order_id]
            by_symbol: dict[str, list[Order]] = {}
            for o in orders:
                by_symbol.setdefault(o.symbol, []).append(o)
            try:
                done = await asyncio.gather(*(self._cancel_symbol(s, os) for s, os in by_symbol.items()))
            finally:
                self.reads.changed()
        return [o for batch in done for o in batch]

    async def _cancel_symbol(self, symbol: str, orders: list[Order]) -> list[Order]:
        """One market's open orders: futures in batches of ten per request (each answered), spot one by one."""
        m = self._markets[symbol]
        if m.kind is MarketKind.PERP:
            async def batch(chunk: list[Order]) -> list[Order]:
                answers = await self.http.signed("DELETE", f"{self.f}/batchOrders", {
                    "symbol": m.native, "orderIdList": to_json([int(o.order_id or 0) for o in chunk])},
                    write=True, cancel=True)
                return [replace(o, status=OrderStatus.CANCELED, reason="cancelled")
                        for o, a in zip(chunk, answers, strict=False) if item_error(a) is None]

            chunks = [orders[i:i + 10] for i in range(0, len(orders), 10)]
            return [o for done in await asyncio.gather(*(batch(c) for c in chunks)) for o in done]

        async def one(o: Order) -> Order | None:
            try:
                await self.http.signed("DELETE", f"{self.s}/order", {"symbol": m.native, "orderId": o.order_id},
                                       write=True, cancel=True)
            except OrderNotFoundError:
                return None
            return replace(o, status=OrderStatus.CANCELED, reason="cancelled")

        return [o for o in await asyncio.gather(*(one(o) for o in orders)) if o is not None]

    async def set_leverage(self, symbol: str, leverage: int, *, cross: bool = True) -> None:
        m = await self._market(symbol)
        if m.kind is not MarketKind.PERP:
            raise InvalidOrderError(f"{symbol} is spot: no leverage", venue=VENUE)
        if not 1 <= leverage <= m.max_leverage:
            raise InvalidOrderError(f"{symbol}: leverage {leverage}x is outside 1x to {m.max_leverage}x", venue=VENUE)
        try:
            await self.http.signed("POST", f"{self.f}/marginType",
                                   {"symbol": m.native, "marginType": "CROSSED" if cross else "ISOLATED"}, write=True)
        except ExchangeError as exc:
            if exc.code not in ("-4046", "-4059"):  # "no need to change margin type": already so
                raise
        await self.http.signed("POST", f"{self.f}/leverage", {"symbol": m.native, "leverage": leverage}, write=True)
        self.reads.changed()

    async def order_status(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        m = await self._market(symbol)
        params: dict[str, Any] = {"symbol": m.native}
        if order_id is not None:
            params["orderId"] = order_id
        else:
            params["origClientOrderId"] = client_id
        path = f"{self.f}/order" if m.kind is MarketKind.PERP else f"{self.s}/order"
        raw = await self.http.signed("GET", path, params)
        return shown(parse.parse_order(raw, self._perps if m.kind is MarketKind.PERP else self._spots))

    # ---- the venue's dead man's switch: countdownCancelAll, per symbol with open orders ----
    async def arm_dead_man_switch(self, timeout_s: int) -> None:
        symbols = {self._markets[o.symbol].native for o in await self.open_orders()
                   if self._markets.get(o.symbol) and self._markets[o.symbol].kind is MarketKind.PERP}
        with urgent():
            await asyncio.gather(*(self.http.signed("POST", f"{self.f}/countdownCancelAll",
                                                    {"symbol": s, "countdownTime": timeout_s * 1000}, write=True,
                                                    cancel=True) for s in sorted(symbols)))
            stale = self._armed - symbols
            await asyncio.gather(*(self.http.signed("POST", f"{self.f}/countdownCancelAll",
                                                    {"symbol": s, "countdownTime": 0}, write=True, cancel=True)
                                   for s in sorted(stale)))
        self._armed = symbols

    async def disarm_dead_man_switch(self) -> None:
        with urgent():
            await asyncio.gather(*(self.http.signed("POST", f"{self.f}/countdownCancelAll",
                                                    {"symbol": s, "countdownTime": 0}, write=True, cancel=True)
                                   for s in sorted(self._armed)))
        self._armed = set()

    # ---- status ----
    def circuit_status(self) -> str | None:
        return self.http.breaker.describe()

    async def rate_limit_status(self) -> str:
        f, s = self.http.futures, self.http.spot
        return (f"futures weight {f.budget.headroom():,}/{f.budget.per_minute:,} left, orders"
                f" {f.orders.headroom():,}/{f.orders.per_minute:,}; spot weight {s.budget.headroom():,}"
                f"/{s.budget.per_minute:,}")

    # ---- what the user streams tell (called by Streams) ----
    def on_user_event(self, data: dict[str, Any], *, spot: bool) -> None:
        kind = data.get("e")
        self.reads.changed()
        if kind in ("ORDER_TRADE_UPDATE", "executionReport"):
            o = data["o"] if kind == "ORDER_TRADE_UPDATE" else data
            by = self._spots if spot else self._perps
            order = parse_order_event(o, int(data.get("E") or self.clock()), by)
            self._active.add(order.symbol)
            self.probe.stream_told(order_id=order.order_id if order.status.is_final else None)
            self.feed.track(order)
            self.feed.emit(OrderUpdate(shown(order), order.updated_ms))
            fill = parse_fill_event(o, by, spot=spot)
            if fill is not None:
                self.probe.stream_told(fill_id=fill.fill_id)
                self.feed.emit_fill(shown_fill(fill), snapshot=False)
            if order.status is OrderStatus.FILLED and order.client_id and order.client_id[-3:] in LEG_TAGS:
                self.feed.keep(self._cancel_sibling(order))

    async def _probe(self) -> str | None:
        if not self.streams.user_quiet(self.probe_s):
            return None
        names = self._active | set(self.feed.open_seen.values())
        return await self.probe.check(m for m in (self._markets.get(n) for n in sorted(names)) if m)

    async def _read(self, payload: dict[str, Any]) -> Any:
        return await self.http.signed("GET", payload["path"], payload.get("params"))

    async def _open_of(self, m: Market) -> list[Order]:
        path = f"{self.f}/openOrders" if m.kind is MarketKind.PERP else f"{self.s}/openOrders"
        by = self._perps if m.kind is MarketKind.PERP else self._spots
        return [parse.parse_order(o, by) for o in await self.http.signed("GET", path, {"symbol": m.native})]


