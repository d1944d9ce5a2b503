"""`tradebot demo`: the whole product offline, in one process, with one command.

It starts the emulated venues (sim/: the real wire protocols, signatures verified) with moving prices
and other traders trading, funds an account on each, runs the bot against them with every alert on,
and serves the chat page (bot/web/). Ctrl-C stops all of it; nothing keeps running and no port stays
open. The bot's state lives in a temporary directory (removed at exit) unless `--data DIR` is given;
the emulated venues always start afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import App, to_console
from bot.config import parse_config
from exchanges.models import Side
from exchanges.precision import to_wire
from sim.serve import start_site
from store.files import private_file

log = logging.getLogger(__name__)
FUNDS = Decimal(10_000)  # on each emulated venue (USDC, USDT on Aster), perp account and spot wallet alike
CROWD_MARKETS = ("BTC", "ETH", "SOL", "HYPE")


@dataclass
class Emulated:
    """One emulated venue of the demo: its server, the bot's config section for it, what runs beside it."""

    name: str
    url: str
    section: dict[str, Any]
    runner: web.AppRunner
    sim: Any
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.runner.cleanup()


@dataclass(frozen=True)
class Options:
    tick_s: float | None = 1.0  # seconds between price moves; None: prices move only when set
    crowd_s: float | None = 1.5  # seconds between the other traders' orders; None: nobody else trades
    seed: int = 7


Starter = Callable[[str, Options], Awaitable[Emulated]]


def _account_key(data: Path) -> str:
    """The demo account's private key: made once per data directory (it signs only for the emulators)."""
    path = data / "demo-account.key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = "0x" + secrets.token_hex(32)
    private_file(str(path))
    path.write_text(key, encoding="utf-8")
    return key


class Crowd:
    """Other traders on the emulated Hyperliquid: another account sending small signed IOC orders over
    the venue's own wire (`POST /exchange`), as any other client of the venue does, so the tape, the
    candles' volume and the book move. It reads the emulator's market list and mids in process."""

    def __init__(self, sim: Any, url: str, seed: int):
        from exchanges.hyperliquid.signing import Signer

        self.sim, self.url, self.rng = sim, url, random.Random(seed)
        self.signer = Signer("0x" + secrets.token_hex(32))
        sim.see(self.signer.address)
        sim.engine.fund(self.signer.address, Decimal(10_000_000))  # deep pockets: never short of margin
        self._nonce = 0

    def order(self) -> dict[str, Any] | None:
        """One signed order action (the venue's wire shape), or None when the size rounds to nothing."""
        symbol = self.rng.choice(CROWD_MARKETS)
        market, mid = self.sim.engine.markets[symbol], self.sim.engine.mark(symbol)
        side = self.rng.choice((Side.BUY, Side.SELL))
        size = market.round_size(Decimal(self.rng.randrange(50, 2_000)) / mid)
        if size <= 0:
            return None
        price = market.round_price_aggressive(mid * (1 + Decimal("0.01") * side.sign), side)
        action = {"type": "order", "grouping": "na", "orders": [
            {"a": market.asset_id, "b": side is Side.BUY, "p": to_wire(price), "s": to_wire(size), "r": False,
             "t": {"limit": {"tif": "Ioc"}}}]}
        self._nonce = max(self._nonce + 1, time.time_ns() // 1_000_000)
        signature = self.signer.sign_l1(action, self._nonce, vault=None, expires_after=None, is_mainnet=False)
        return {"action": action, "nonce": self._nonce, "signature": signature, "vaultAddress": None}

    async def run(self, every_s: float) -> None:
        async with aiohttp.ClientSession() as http:
            while True:
                await asyncio.sleep(every_s * self.rng.uniform(0.5, 1.5))
                body = self.order()
                if body is None:
                    continue
                try:
                    async with http.post(f"{self.url}/exchange", json=body) as r:
                        answer = await r.text()
                    if r.status != 200 or '"err"' in answer:  # a thin book, a rate limit: the next one goes
                        log.debug("demo crowd order refused: %s %s", r.status, answer[:200])
                except aiohttp.ClientError as exc:
                    log.debug("demo crowd order not sent: %s", exc)


async def start_hyperliquid(key: str, opt: Options) -> Emulated:
    from eth_account import Account

    from sim.hyperliquid.server import HyperliquidSim

    address = str(Account.from_key(key).address)
    sim = HyperliquidSim(seed=opt.seed, fund_usdc=FUNDS, tick_interval_s=opt.tick_s)
    sim.see(address.lower())
    runner, url = await start_site(sim.app())
    emulated = Emulated("hyperliquid", url, {"enabled": True, "testnet": True, "base_url": url,
                                             "account_address": address, "secret_key": key}, runner, sim)
    if opt.crowd_s:
        crowd = Crowd(sim, url, opt.seed)
        emulated.tasks.append(asyncio.create_task(crowd.run(opt.crowd_s), name="demo crowd"))
    return emulated


async def start_aster(key: str, opt: Options) -> Emulated:
    """The emulated Aster: futures and spot on one port, the same key as the account's main wallet
    signing for itself (V3), USDT in both wallets."""
    from eth_account import Account

    from sim.aster.server import AsterSim

    address = str(Account.from_key(key).address)
    sim = AsterSim(seed=opt.seed + 1, fund_usdt=FUNDS, tick_interval_s=opt.tick_s)
    sim.see(address.lower())
    runner, url = await start_site(sim.app())
    ws = url.replace("http://", "ws://")
    section = {"enabled": True, "user": address, "signer": address, "signer_key": key, "base_url": url,
               "spot_base_url": url, "ws_url": f"{ws}/fstream", "spot_ws_url": f"{ws}/sstream"}
    return Emulated("aster", url, section, runner, sim)


# Every emulated venue of the demo, in the order they are started: the one place a venue joins.
EMULATORS: tuple[tuple[str, Starter], ...] = (
    ("hyperliquid", start_hyperliquid),
    ("aster", start_aster),
)


def demo_config(data: Path, venues: list[Emulated], host: str, port: int, password: str = "") -> dict[str, Any]:
    return {
        "exchanges": {v.name: v.section for v in venues},
        "trading": {"default_exchange": venues[0].name},
        "storage": {"path": str(data / "tradebot.db")},
        "web": {"enabled": True, "host": host, "port": port, "password": password},
        "alerts": {k: "on" for k in ("fills", "orders", "risk", "streams", "reports")},
    }


class Demo:
    def __init__(self, data: Path | None = None, *, host: str = "127.0.0.1", port: int = 8080, password: str = "",
                 options: Options = Options(), console: Callable[[str], None] = to_console):
        self.data_arg, self.host, self.port, self.options, self.console = data, host, port, options, console
        self.password = password
        self.data: Path | None = None
        self.venues: list[Emulated] = []
        self.app: App | None = None
        self._temp: str | None = None

    @property
    def url(self) -> str:
        assert self.app is not None and self.app.web is not None
        return self.app.web.url

    def venue(self, name: str) -> Any:
        """An emulator of the demo (tests move its prices)."""
        return next(v.sim for v in self.venues if v.name == name)

    async def start(self) -> None:
        t0 = time.monotonic()
        if self.data_arg is None:
            self._temp = tempfile.mkdtemp(prefix="tradebot-demo-")
            self.data = Path(self._temp)
        else:
            self.data = self.data_arg
            self.data.mkdir(parents=True, exist_ok=True)
        try:
            key = _account_key(self.data)
            for _, start in EMULATORS:
                self.venues.append(await start(key, self.options))
            raw = demo_config(self.data, self.venues, self.host, self.port, self.password)
            config, _ = parse_config(raw, env={})
            for v in self.venues:
                who = v.section.get("account_address") or v.section.get("user", "")
                cash = "USDT" if v.name == "aster" else "USDC"
                self.console(f"Emulated {v.name}: {v.url} (account {who}, {FUNDS:,} {cash};"
                             f" POST {v.url}/_sim/price moves a price)")
            self.app = App(config, console=self.console)
            await self.app.start()
        except BaseException:
            await self.stop()
            raise
        where = f"{self.data} (removed at exit)" if self._temp else str(self.data)
        self.console(f"Demo ready in {time.monotonic() - t0:.1f} s; state in {where}. Stop it with Ctrl-C.")

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None
        for v in reversed(self.venues):
            await v.stop()
        self.venues.clear()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            self.console("Stopping the demo")
            await self.stop()


__all__ = ["EMULATORS", "Demo", "Emulated", "Options", "demo_config"]
