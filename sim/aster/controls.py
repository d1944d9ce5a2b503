"""`/_sim/` control routes of the Aster emulator (POST, JSON bodies; shapes shared with the
Hyperliquid emulator's where they overlap):

- `fund {"user", "asset": "USDT", "amount", "spot": false}`: money in (a TRANSFER in futures income);
- `signer {"user", "signer"}`: register an API wallet (V3 signer) for a user;
- `apikey {"user", "api_key", "api_secret"}`: register a V1 HMAC key pair;
- `price {"symbol", "px", "spot": false}`: set a market's price (and its book around it);
- `step {"n": 1}`: move every market n steps along the seeded walk;
- `funding {"symbol"?, "rate"?, "settle": false}`: set a funding rate; settle = pay it now;
- `fault {"kind", ...}`: see sim/aster/faults.py;
- `time {"offset_ms"}`: the server clock's offset (skew, listenKey ageing, funding, countdowns);
- `clear`: faults, stalls, rate-limit windows and bans gone.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sim.aster.faults import REST_KINDS, Fault

if TYPE_CHECKING:
    from sim.aster.server import AsterSim


class Controls:
    def __init__(self, sim: AsterSim):
        self.sim = sim

    def register(self, app: web.Application) -> None:
        for name in ("fund", "signer", "apikey", "price", "step", "funding", "fault", "time", "clear"):
            app.router.add_post(f"/_sim/{name}", getattr(self, name))

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        body = await request.json()
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _ok(**kw: Any) -> web.Response:
        return web.json_response({"ok": True, **kw})

    @staticmethod
    def _bad(msg: str) -> web.Response:
        return web.json_response({"ok": False, "error": msg}, status=400)

    async def fund(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        asset, spot = str(b.get("asset", "USDT")).upper(), bool(b.get("spot", False))
        if not spot and asset != "USDT":
            return self._bad("the futures wallet holds USDT only")
        self.sim.fund(str(b["user"]).lower(), Decimal(str(b["amount"])), asset, spot=spot)
        return self._ok()

    async def signer(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.sim.registry.agents[str(b["signer"]).lower()] = str(b["user"]).lower()
        return self._ok()

    async def apikey(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.sim.registry.api_keys[str(b["api_key"])] = (str(b["user"]).lower(), str(b["api_secret"]))
        return self._ok()

    async def price(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        side = self.sim.s if b.get("spot") else self.sim.f
        native = str(b["symbol"]).upper()
        symbol = side.cat.symbol(native)
        if symbol is None:
            return self._bad(f"unknown symbol {native}")
        side.engine.set_price(symbol, Decimal(str(b["px"])))
        side.prices_moved()
        return self._ok(px=str(side.engine.mark(symbol)))

    async def step(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.sim.step(int(b.get("n", 1)))
        return self._ok()

    async def funding(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        fut = self.sim.futures
        natives = [str(b["symbol"]).upper()] if b.get("symbol") else list(fut.cat.markets)
        if any(n not in fut.cat.markets for n in natives):
            return self._bad("unknown symbol")
        for n in natives:
            if "rate" in b:
                fut.funding.rates[n] = Decimal(str(b["rate"]))
            if b.get("settle"):
                fut.funding.settle(n, self.sim.clock())
        return self._ok()

    async def fault(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        kind = str(b.get("kind"))
        hub = self.sim.hub
        if kind == "ws_close":
            await hub.close_all()
        elif kind == "ws_silent":
            hub.silent = True
            if b.get("duration_s") is not None:
                asyncio.get_running_loop().call_later(float(b["duration_s"]), setattr, hub, "silent", False)
        elif kind == "listenkey_expire":
            self.sim.keys.expire(str(b.get("user", "*")).lower())
        elif kind in REST_KINDS:
            until = time.monotonic() + float(b["duration_s"]) if b.get("duration_s") is not None else None
            self.sim.faults.add(Fault(kind, int(b.get("count", 1)), until, int(b.get("ms", 0)), b.get("path"),
                                      bool(b.get("executed", False)), int(b.get("status", 502))))
        else:
            return self._bad(f"unknown fault {kind!r}")
        return self._ok()

    async def time(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.sim.clock.offset_ms = int(b.get("offset_ms", 0))
        await self.sim.housekeeping()
        return self._ok(server_time=self.sim.clock())

    async def clear(self, request: web.Request) -> web.Response:
        self.sim.faults.clear()
        self.sim.hub.silent = False
        for side in (self.sim.f, self.sim.s):
            side.limits.clear()
        return self._ok()
