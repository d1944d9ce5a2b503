"""The Hyperliquid emulator: /info, /exchange and /ws on the shared engine, plus `/_sim/` controls.

It verifies as testnet (source "b", what the official SDK signs for any non-mainnet URL) unless
built with mainnet=True. Accounts are funded on first sight in /info (or by POST /_sim/fund, a
deposit); an /exchange signer nobody has seen gets the venue's "does not exist" refusal, so a wrong
signature can never pass. POST /_sim/transfer deposits, withdraws and transfers; every such move is
kept in the ledger that `userNonFundingLedgerUpdates` answers from.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from sim.engine import Engine, Reject, SimFill
from sim.history import PriceHistory
from sim.hyperliquid.actions import Accounts, Actions
from sim.hyperliquid.info import WEIGHTS, Info
from sim.hyperliquid.wire import Names, WireError
from sim.hyperliquid.ws import Hub
from sim.markets import default_markets, starting_prices

DESERIALIZE = "Failed to deserialize the JSON body into the target type"


@dataclass
class Fault:
    kind: str  # latency | 429 | 503 | 500 | drop | hold | ws_silent
    count: int = 1
    until: float | None = None
    ms: int = 0
    action: str | None = None  # only this /exchange action type (e.g. "order"); None: any request


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class HyperliquidSim:
    def __init__(self, *, mainnet: bool = False, seed: int = 1, clock: Callable[[], int] = _now_ms,
                 fund_usdc: Decimal = Decimal(100_000), weight_per_minute: int = 1200,
                 tick_interval_s: float | None = None, schedule_cancel_volume: Decimal = Decimal(0)):
        self.engine = Engine(default_markets("hyperliquid"), starting_prices(), seed=seed, clock=clock)
        self.names = Names(self.engine)
        self.history = PriceHistory(self.engine.markets)
        self.history.record(clock(), self.engine.mids)
        self.accounts = Accounts()
        self.fund_usdc = fund_usdc
        self.info = Info(self.engine, self.names, self.history, self.see, lambda u: self.accounts.volume.get(
            u, Decimal(0)), lambda u: self.accounts.requests.get(u, 0))
        self.actions = Actions(self.engine, self.names, self.accounts, mainnet=mainnet,
                               schedule_cancel_volume=schedule_cancel_volume)
        self.hub = Hub(self.engine, self.names, self.info.handle, self.actions.handle)
        self.engine.subscribe(self._on_engine)
        self.faults: list[Fault] = []
        self.weight_per_minute = weight_per_minute
        self._weights: dict[str, deque[tuple[float, int]]] = {}
        self.tick_interval_s = tick_interval_s
        self._ticker: asyncio.Task[None] | None = None
        self.requests: list[tuple[str, str]] = []  # (path, type) of every request, for tests and benchmarks

    # ---- accounts and prices ----
    def see(self, user: str) -> None:
        if user not in self.accounts.known:
            self.accounts.known.add(user)
            if user not in self.engine.accounts:
                self.engine.fund(user, self.fund_usdc)
                self.engine.fund(user, self.fund_usdc, "USDC", spot=True)

    def _on_engine(self, kind: str, payload: object) -> None:
        if isinstance(payload, SimFill) and payload.crossed:
            self.history.trade(payload.ts_ms, payload.symbol, payload.size)

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.engine.set_price(symbol, price)
        self.history.record(self.engine.clock(), self.engine.mids)
        self.hub.prices_moved([symbol])

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.engine.step()
            self.history.record(self.engine.clock(), self.engine.mids)
        self.hub.prices_moved(list(self.engine.markets))

    async def _tick_loop(self) -> None:
        assert self.tick_interval_s
        while True:
            await asyncio.sleep(self.tick_interval_s)
            self.step()

    async def on_startup(self, app: web.Application) -> None:
        if self.tick_interval_s:
            self._ticker = asyncio.create_task(self._tick_loop())

    async def on_cleanup(self, app: web.Application) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.hub.close_all()

    # ---- app ----
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/info", self.http_info)
        app.router.add_post("/exchange", self.http_exchange)
        app.router.add_get("/ws", self.hub.handle)
        for name in ("fund", "transfer", "price", "fault", "step", "funding", "vault", "clear"):
            app.router.add_post(f"/_sim/{name}", getattr(self, f"sim_{name}"))
        app.on_startup.append(self.on_startup)
        app.on_cleanup.append(self.on_cleanup)
        return app

    # ---- faults and limits ----
    def _fault(self, kinds: set[str], action: str | None = None) -> Fault | None:
        now = time.monotonic()
        for f in list(self.faults):
            if f.until is not None and now > f.until:
                self.faults.remove(f)
                continue
            if f.kind in kinds and f.action in (None, action):
                if f.until is None:
                    f.count -= 1
                    if f.count <= 0:
                        self.faults.remove(f)
                return f
        return None

    def _charge(self, ip: str, weight: int) -> bool:
        now = time.monotonic()
        q = self._weights.setdefault(ip, deque())
        while q and q[0][0] < now - 60:
            q.popleft()
        if sum(w for _, w in q) + weight > self.weight_per_minute:
            return False
        q.append((now, weight))
        return True

    async def _gate(self, request: web.Request, weight: int) -> web.Response | None:
        latency = self._fault({"latency"})
        if latency is not None:  # one-way latency: on the way in here, on the way out in _reply
            await asyncio.sleep(latency.ms / 1000)
            request["latency_ms"] = latency.ms
        if self._fault({"429"}) is not None or not self._charge(request.remote or "?", weight):
            return web.json_response(None, status=429)
        for code in ("503", "500"):
            if self._fault({code}) is not None:
                return web.Response(status=int(code), text="upstream unavailable")
        return None

    @staticmethod
    async def _json(request: web.Request) -> Any:
        try:
            return await request.json()
        except (ValueError, UnicodeDecodeError):
            raise WireError(DESERIALIZE) from None

    async def http_info(self, request: web.Request) -> web.Response:
        try:
            body = await self._json(request)
            if not isinstance(body, dict):
                raise WireError(DESERIALIZE)
            self.requests.append(("/info", str(body.get("type"))))
            refused = await self._gate(request, WEIGHTS.get(str(body.get("type")), 20))
            if refused is not None:
                return refused
            return await self._reply(request, self.info.handle(body))
        except WireError as exc:
            return web.Response(status=422, text=f"{DESERIALIZE}: {exc}" if str(exc) != DESERIALIZE else DESERIALIZE)

    async def http_exchange(self, request: web.Request) -> web.Response:
        try:
            body = await self._json(request)
            if not isinstance(body, dict):
                raise WireError(DESERIALIZE)
            action = body.get("action") or {}
            self.requests.append(("/exchange", str(action.get("type"))))
            n = len(action.get("orders") or action.get("cancels") or action.get("modifies") or [])
            refused = await self._gate(request, 1 + n // 40)
            if refused is not None:
                return refused
            result = self.actions.handle(body)
        except WireError as exc:
            return web.Response(status=422, text=f"{DESERIALIZE}: {exc}" if str(exc) != DESERIALIZE else DESERIALIZE)
        kind = str(action.get("type"))
        if self._fault({"drop"}, kind) is not None and request.transport is not None:
            request.transport.abort()  # accepted, but the answer never arrives
        hold = self._fault({"hold"}, kind)
        if hold is not None:
            await asyncio.sleep(hold.ms / 1000)  # accepted; the answer comes late (or never, to a dead client)
        return await self._reply(request, result)

    @staticmethod
    async def _reply(request: web.Request, body: Any) -> web.Response:
        if "latency_ms" in request:
            await asyncio.sleep(request["latency_ms"] / 1000)
        return web.json_response(body)

    # ---- control routes ----
    async def sim_fund(self, request: web.Request) -> web.Response:
        """Money in: perp USDC is a deposit (in the ledger); spot USDC a deposit moved to spot; another
        spot token is simply credited (the venue would show a genesis or a transfer from someone)."""
        body = await request.json()
        user, amount, token = str(body["user"]).lower(), Decimal(str(body.get("amount", "0"))), str(
            body.get("token", "USDC"))
        self.see(user)
        spot = bool(body.get("spot", False))
        if token != "USDC" or amount <= 0:
            self.engine.fund(user, amount, token, spot=spot)
        else:
            self.transfer(user, "deposit", amount)
            if spot:
                self.transfer(user, "accountClassTransfer", amount, to_perp=False)
        return web.json_response({"ok": True})

    def transfer(self, user: str, kind: str, usdc: Decimal, **kw: Any) -> str:
        """A deposit, withdrawal or transfer as the venue's ledger records it; returns its hash."""
        self.see(user)  # a destination is not funded on sight: it holds what it is sent
        return self.engine.move_funds(user, kind, usdc, **kw).hash

    async def sim_transfer(self, request: web.Request) -> web.Response:
        """POST {user, type: deposit | withdraw | accountClassTransfer | internalTransfer |
        subAccountTransfer | spotTransfer, usdc, toPerp?, destination?, fee?, token?, amount?}."""
        body = await request.json()
        kw: dict[str, Any] = {"to": str(body.get("destination", "")).lower(), "to_perp": bool(body.get("toPerp", True)),
                              "fee": Decimal(str(body.get("fee", "0"))), "token": str(body.get("token", "USDC")),
                              "amount": Decimal(str(body.get("amount", "0")))}
        try:
            tx = self.transfer(str(body["user"]).lower(), str(body["type"]), Decimal(str(body["usdc"])), **kw)
        except Reject as exc:
            return web.json_response({"ok": False, "error": exc.message}, status=400)
        return web.json_response({"ok": True, "hash": tx})

    async def sim_price(self, request: web.Request) -> web.Response:
        body = await request.json()
        symbol = self.names.symbol_of.get(body["coin"], body["coin"])
        self.set_price(symbol, Decimal(str(body["px"])))
        return web.json_response({"ok": True, "px": str(self.engine.mark(symbol))})

    async def sim_step(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.step(int(body.get("n", 1)))
        return web.json_response({"ok": True})

    async def sim_funding(self, request: web.Request) -> web.Response:
        body = await request.json()
        symbol = self.names.symbol_of.get(body["coin"], body["coin"])
        self.engine.apply_funding(symbol, Decimal(str(body["rate"])) if "rate" in body else None)
        return web.json_response({"ok": True})

    async def sim_vault(self, request: web.Request) -> web.Response:
        body = await request.json()
        vault, leader = str(body["vault"]).lower(), str(body["leader"]).lower()
        self.accounts.vaults[vault] = leader
        self.see(vault)
        return web.json_response({"ok": True})

    async def sim_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = str(body["kind"])
        if kind == "ws_close":
            await self.hub.close_all()
            return web.json_response({"ok": True})
        duration = body.get("duration_s")
        until = time.monotonic() + float(duration) if duration is not None else None
        if kind == "ws_silent":
            self.hub.silent = True
            if duration is not None:
                asyncio.get_running_loop().call_later(float(duration), setattr, self.hub, "silent", False)
            return web.json_response({"ok": True})
        self.faults.append(Fault(kind, int(body.get("count", 1)), until, int(body.get("ms", 0)), body.get("action")))
        return web.json_response({"ok": True})

    async def sim_clear(self, request: web.Request) -> web.Response:
        self.faults.clear()
        self.hub.silent = False
        return web.json_response({"ok": True})


__all__ = ["HyperliquidSim"]
