"""The Aster emulator: futures and spot REST, their streams and `/_sim/` controls, on one port.

Futures REST under /fapi/v1 … /fapi/v4, spot under /api/v1 and /api/v3; WebSockets under /fstream/
and /sstream/. Each side runs on its own engine (spot and futures are separate accounts at the venue
and list the same ids, BTCUSDT on both). `/v3/` paths take V3 (EIP-712) requests only; the others
take V1 (HMAC) ones, and V3 ones as well (ccxt signs `/fapi/v4/account` that way). An account is
funded on first sight (`fund_usdt` on each side, 0 to start empty) unless `/_sim/fund` saw it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from exchanges.models import MarketKind
from sim.aster import triggers
from sim.aster.auth import MAINNET_CHAIN_ID, TESTNET_CHAIN_ID, Registry, Verifier, parse_params
from sim.aster.call import NONE, SIGNED, Call, Route
from sim.aster.clock import SimClock, wall_ms
from sim.aster.errors import UNKNOWN, AsterError
from sim.aster.events import force_order
from sim.aster.faults import HTML_5XX, Faults
from sim.aster.futures import Futures, Transfer
from sim.aster.limits import MINUTE_MS, Limits, weight_of
from sim.aster.marketdata import MarketData
from sim.aster.markets import MAKER_FEE, TAKER_FEE, Catalog
from sim.aster.orders import Orders
from sim.aster.params import json_list
from sim.aster.spot import Spot
from sim.aster.streams import Conn, Hub
from sim.aster.userstream import ListenKeys, UserFeed
from sim.engine import Engine, SimLiquidation
from sim.history import PriceHistory

SIDES = ("futures", "spot")


class Side:
    """One side of the venue: its engine, orders, market data, user feed and REST routes."""

    def __init__(self, name: str, kind: MarketKind, sim: AsterSim, seed: int, first_id: int,
                 weight_per_minute: int, orders_limits: tuple[tuple[int, int], ...]):
        clock = sim.clock
        self.name = name
        self.cat = Catalog.of(kind)
        self.engine = Engine(self.cat.engine_markets(), self.cat.prices(), seed=seed, clock=clock,
                             taker_fee=TAKER_FEE, maker_fee=MAKER_FEE)
        self.history = PriceHistory(self.engine.markets)
        self.history.record(clock(), self.engine.mids)
        self.orders = Orders(self.engine, self.cat, clock, first_id=first_id,
                             builders=lambda user: sim.registry.builders.get(user, {}))
        funding: Callable[[str], tuple[Decimal, int]] | None = None
        if kind is MarketKind.PERP:
            def funding(n: str) -> tuple[Decimal, int]:
                return sim.futures.funding.of(n)
        self.market = MarketData(self.engine, self.cat, clock, sim.hub, name, self.history, funding)
        self.feed = UserFeed(self.engine, self.orders, sim.keys, name, clock)
        self.limits = Limits(clock, weight_per_minute=weight_per_minute, ignored_to_ban=sim.ignored_to_ban,
                             orders=orders_limits)
        m = self.market
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "ping"): Route(lambda c: {}), ("GET", "time"): Route(lambda c: {"serverTime": clock()}),
            ("GET", "depth"): Route(lambda c: m.depth(c.params)), ("GET", "trades"): Route(
                lambda c: m.recent_trades(c.params)),
            ("GET", "klines"): Route(lambda c: m.klines(c.params)),
            ("GET", "ticker/24hr"): Route(lambda c: m.ticker_24hr(c.params)),
            ("GET", "ticker/price"): Route(lambda c: m.ticker_price(c.params)),
            ("GET", "ticker/bookTicker"): Route(lambda c: m.book_ticker(c.params)),
        }

    def prices_moved(self) -> None:
        self.history.record(self.engine.clock(), self.engine.mids)
        natives = list(self.cat.markets)
        self.market.prices_moved(natives)
        triggers.check(self.orders, natives)
        self.feed.check_margin()


class AsterSim:
    def __init__(self, *, seed: int = 1, clock: Callable[[], int] = wall_ms, fund_usdt: Decimal = Decimal(100_000),
                 tick_interval_s: float | None = None, testnet: bool = False, weight_per_minute: int = 2400,
                 spot_weight_per_minute: int = 6000, nonce_window_ms: int = 10_000, ignored_to_ban: int = 3,
                 ping_interval_s: float | None = None, pong_timeout_s: float | None = None,
                 housekeeping_s: float = 0.05):
        self.clock = SimClock(clock)
        self.fund_usdt, self.tick_interval_s, self.housekeeping_s = fund_usdt, tick_interval_s, housekeeping_s
        self.ignored_to_ban = ignored_to_ban
        self.registry = Registry()
        self.verifier = Verifier(self.registry, self.clock, chain_id=TESTNET_CHAIN_ID if testnet else MAINNET_CHAIN_ID,
                                 nonce_window_ms=nonce_window_ms)
        self.hub = Hub(self.clock, is_listen_key=lambda side, key: self.keys.live(side, key),
                       on_subscribe=self._on_subscribe, ping_interval_s=ping_interval_s, pong_timeout_s=pong_timeout_s)
        self.keys = ListenKeys(self.clock, self.hub)
        self.f = Side("futures", MarketKind.PERP, self, seed, 1_000_000, weight_per_minute, ((MINUTE_MS, 1200),))
        self.s = Side("spot", MarketKind.SPOT, self, seed + 1, 5_000_000, spot_weight_per_minute,
                      ((10_000, 300), (MINUTE_MS, 6000)))
        self.futures = Futures(self.f.engine, self.f.cat, self.f.orders, self.f.market, self.keys, self.registry,
                               self.clock)
        self.spot = Spot(self.s.engine, self.s.cat, self.s.orders, self.s.market, self.keys, self.clock)
        self.f.routes.update(self.futures.routes())
        self.s.routes.update(self.spot.routes())
        self.f.routes[("GET", "exchangeInfo")] = Route(lambda c: self._exchange_info("futures"))
        self.s.routes[("GET", "exchangeInfo")] = Route(lambda c: self._exchange_info("spot"))
        self.f.engine.subscribe(self._on_futures_engine)
        self.faults = Faults()
        self.known: set[str] = set()
        self.requests: deque[tuple[str, str]] = deque(maxlen=100_000)  # (method, path) of REST requests: tests
        self._tasks: list[asyncio.Task[None]] = []

    def side(self, name: str) -> Side:
        return self.f if name == "futures" else self.s

    def _exchange_info(self, side: str) -> Any:
        from sim.aster import exchangeinfo

        if side == "futures":
            return exchangeinfo.futures(self.f.cat, self.clock())
        return exchangeinfo.spot(self.s.cat, self.clock(), self.s.limits.weight_per_minute)

    # ---- accounts and prices ----
    def see(self, user: str) -> None:
        if user in self.known:
            return
        self.known.add(user)
        if self.fund_usdt > 0:
            self.fund(user, self.fund_usdt, "USDT", spot=False)
            self.fund(user, self.fund_usdt, "USDT", spot=True)

    def fund(self, user: str, amount: Decimal, asset: str = "USDT", *, spot: bool = False) -> None:
        self.known.add(user)
        side = self.s if spot else self.f
        side.engine.fund(user, amount, asset, spot=spot)
        if spot:
            side.feed.changed(user, [], "DEPOSIT", amount)
        else:
            tran = 9_689_322_392 + len(self.futures.s.transfers)
            self.futures.s.transfers.append(Transfer(user, amount, self.clock(), tran))
            side.feed.changed(user, [], "DEPOSIT", amount)

    def _on_futures_engine(self, kind: str, payload: object) -> None:
        if isinstance(payload, SimLiquidation):
            native = self.f.cat.native(payload.symbol)
            side = "SELL" if payload.size > 0 else "BUY"
            body = force_order(self.f.market.fmt, native, side, abs(payload.size), payload.price, payload.ts_ms)
            for stream in (f"{native.lower()}@forceOrder", "!forceOrder@arr"):
                self.hub.publish("futures", stream, body)

    def _on_subscribe(self, conn: Conn, stream: str) -> None:
        self.side(conn.side).market.on_subscribe(conn, stream)

    # ---- lifecycle ----
    def app(self) -> web.Application:
        from sim.aster.controls import Controls

        app = web.Application()
        app.router.add_route("*", "/fapi/{version:v[0-9]+}/{path:.*}", self._rest("futures"))
        app.router.add_route("*", "/api/{version:v[0-9]+}/{path:.*}", self._rest("spot"))
        app.router.add_get("/fstream/{tail:.*}", self.hub.route("futures"))
        app.router.add_get("/sstream/{tail:.*}", self.hub.route("spot"))
        Controls(self).register(app)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app: web.Application) -> None:
        self._tasks.append(asyncio.create_task(self._housekeeping_loop()))
        if self.tick_interval_s:
            self._tasks.append(asyncio.create_task(self._tick_loop()))

    async def _stop(self, app: web.Application) -> None:
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.hub.close_all()

    async def _tick_loop(self) -> None:
        assert self.tick_interval_s
        while True:
            await asyncio.sleep(self.tick_interval_s)
            self.step()

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.housekeeping_s)
            await self.housekeeping()

    async def housekeeping(self) -> None:
        self.housekeeping_sync()
        for side in (self.f, self.s):
            side.market.cadence()
        await self.hub.housekeeping()

    def housekeeping_sync(self) -> None:
        self.keys.expire()
        self.futures.housekeeping()

    def step(self, n: int = 1) -> None:
        for side in (self.f, self.s):
            for _ in range(n):
                side.engine.step()
                side.history.record(side.engine.clock(), side.engine.mids)
            side.prices_moved()

    # ---- REST ----
    def _rest(self, side_name: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self.handle(request, self.side(side_name))
        return handler

    async def handle(self, request: web.Request, side: Side) -> web.StreamResponse:
        version, path, method = request.match_info["version"], request.match_info["path"], request.method
        self.requests.append((method, request.path))
        route = side.routes.get((method, path))
        if route is None or version not in route.versions:
            return web.Response(status=404, text="")
        latency = self.faults.take("latency", request.path)
        if latency is not None:
            await asyncio.sleep(latency.ms / 1000)
        html = self.faults.take("5xx", request.path)
        if html is not None:
            return web.Response(status=html.status, text=HTML_5XX.format(status=html.status), content_type="text/html")
        headers: dict[str, str] = {}
        ip = request.remote or "?"
        try:
            raw_query = request.rel_url.raw_query_string
            raw_body = await request.text() if request.body_exists else ""
            params = parse_params(raw_query, raw_body)
            ban = self.faults.take("418", request.path)
            if ban is not None:
                side.limits.ban(ip, ban.ms or 2 * MINUTE_MS)
            if self.faults.take("429", request.path) is not None:
                raise AsterError(-1003, "Too many requests; please use the websocket for live updates.", 429,
                                 {"Retry-After": "1"})
            headers["X-MBX-USED-WEIGHT-1M"] = str(side.limits.charge(ip, weight_of(path, method, params)))
            self.housekeeping_sync()
            user = ""
            if route.security != NONE:
                user, params = self._auth(request, route, version, raw_query, raw_body, params)
            call = Call(user, params, method, version, ip)
            if route.orders:
                batch = json_list(params, "batchOrders") if path == "batchOrders" and method == "POST" else None
                headers.update(side.limits.count_orders(user, len(batch) if batch else 1))
            fault_503 = self.faults.take("503", request.path)
            if fault_503 is not None and not fault_503.executed:
                raise AsterError(UNKNOWN[0], UNKNOWN[1], 503)
            result = route.fn(call)
            if inspect.isawaitable(result):
                result = await result
            if fault_503 is not None:
                raise AsterError(UNKNOWN[0], UNKNOWN[1], 503)
            headers.update(call.headers)
        except AsterError as exc:
            headers.update(exc.headers)
            return await self._reply(request, exc.body(), exc.status, headers, latency)
        if self.faults.take("drop", request.path) is not None and request.transport is not None:
            request.transport.abort()  # carried out, but the answer never arrives
        hold = self.faults.take("hold", request.path)
        if hold is not None:
            await asyncio.sleep(hold.ms / 1000)
        return await self._reply(request, result, 200, headers, latency)

    @staticmethod
    async def _reply(request: web.Request, body: Any, status: int, headers: dict[str, str],
                     latency: Any) -> web.Response:
        if latency is not None:
            await asyncio.sleep(latency.ms / 1000)
        return web.json_response(body, status=status, headers=headers)

    def _auth(self, request: web.Request, route: Route, version: str, raw_query: str, raw_body: str,
              params: dict[str, str]) -> tuple[str, dict[str, str]]:
        key = request.headers.get("X-MBX-APIKEY")
        v3 = version == "v3" or (not key and "nonce" in params and "timestamp" not in params)
        if v3:
            ident, params = self.verifier.v3(raw_query, raw_body, route.action)
        else:
            ident, params = self.verifier.v1(key, raw_query, raw_body, signed=route.security == SIGNED)
        self.see(ident.user)
        return ident.user, params


__all__ = ["SIDES", "AsterSim"]
