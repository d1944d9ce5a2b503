"""Order path: from a Confirm press reaching the bot to the order accepted by the emulated venue,
beside the official SDK's bare `Exchange.order` against the same emulator, in the same run.

    python -m bench.order_path [N] [PAUSE_MS]      (default 500 orders each, back to back)
    python -m bench.order_path --phone [N]          (default 1000: button press at the Telegram emulator ->
                                                     the result shown in the chat)

Goal: ratio of p50 (and p99) <= 1.0: the whole risk-gated, persisted path no slower than the SDK's
bare call. Both run against one emulator process on loopback (pinned to its own core), in
alternating blocks of 25 orders: the SDK in its own process, waiting while the bot runs and the
other way round, so both see the same machine and the same emulator state (each cancels its
resting orders after its block, so the book does not grow). Back to back, the bot's
timed path shares the CPU with the stream traffic of its previous order (the harder case); PAUSE_MS
> 0 pauses before each order on both sides, as a trader reading a quote would (an idle machine
then wakes up slower for both).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

import eth_account
from hyperliquid.exchange import Exchange as SdkExchange
from hyperliquid.info import Info

from bench.common import ADDRESS, HEADER, KEY, emulator, pct, row
from bench.phone import phone
from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, OrderStatus, Side

BLOCK = 25
WARM_UP = 20
SECOND_KEY = "0x" + "42" * 32
FLOOR_KEY = "0x" + "43" * 32


class Floor:
    """The floor: one order signed (coincurve) and sent as one bare POST over one keep-alive aiohttp
    session, on its own account: what no client can beat."""

    def __init__(self, url: str, asset: int):
        import aiohttp

        from exchanges.hyperliquid.signing import Signer

        self.url, self.asset, self.signer = url, asset, Signer(FLOOR_KEY)
        self.loop = asyncio.new_event_loop()
        self.session = self.loop.run_until_complete(self._session(aiohttp))
        self.nonce = 0

    @staticmethod
    async def _session(aiohttp: Any) -> Any:
        return aiohttp.ClientSession()

    def _send(self, action: dict[str, Any]) -> Any:
        self.nonce = max(self.nonce + 1, time.time_ns() // 1_000_000)
        sig = self.signer.sign_l1(action, self.nonce, vault=None, expires_after=None, is_mainnet=False)
        body = {"action": action, "nonce": self.nonce, "signature": sig, "vaultAddress": None}

        async def post() -> Any:
            async with self.session.post(f"{self.url}/exchange", json=body) as r:
                return await r.json()

        return self.loop.run_until_complete(post())

    def order(self, px: int) -> int:
        res = self._send({"type": "order", "grouping": "na", "orders": [
            {"a": self.asset, "b": True, "p": str(px), "s": "0.01", "r": False, "t": {"limit": {"tif": "Gtc"}}}]})
        assert res["status"] == "ok" and "resting" in res["response"]["data"]["statuses"][0], res
        return int(res["response"]["data"]["statuses"][0]["resting"]["oid"])

    def cancel(self, oids: list[int]) -> None:
        if oids:
            self._send({"type": "cancel", "cancels": [{"a": self.asset, "o": o} for o in oids]})


def sdk_worker(url: str, pause_s: float, conn: Connection) -> None:
    """The SDK and the floor in their own process: a block of orders each whenever asked, answered with
    the timings."""
    info = Info(url, skip_ws=True)
    info.user_state(eth_account.Account.from_key(SECOND_KEY).address)  # funded on first sight
    info.user_state(eth_account.Account.from_key(FLOOR_KEY).address)
    ex = SdkExchange(eth_account.Account.from_key(SECOND_KEY), url)
    floor = Floor(url, info.coin_to_asset[info.name_to_coin["ETH"]])
    i = 0
    while (n := conn.recv()) is not None:
        times: dict[str, list[float]] = {"sdk": [], "floor": []}
        oids, floor_oids = [], []
        for _ in range(n):
            time.sleep(pause_s)
            t0 = time.perf_counter()
            res = ex.order("ETH", True, 0.01, float(3400 - i % 50), {"limit": {"tif": "Gtc"}})
            times["sdk"].append((time.perf_counter() - t0) * 1000)
            assert res["status"] == "ok" and "resting" in res["response"]["data"]["statuses"][0], res
            oids.append(res["response"]["data"]["statuses"][0]["resting"]["oid"])
            time.sleep(pause_s)
            t0 = time.perf_counter()
            floor_oids.append(floor.order(3400 - i % 50))
            times["floor"].append((time.perf_counter() - t0) * 1000)
            i += 1
        ex.bulk_cancel([{"coin": "ETH", "oid": oid} for oid in oids])  # the book stays the same size
        floor.cancel(floor_oids)
        conn.send(times)


def _config(url: str, db: str, **extra: Any) -> Any:
    return parse_config({
        "exchanges": {"hyperliquid": {"enabled": True, "testnet": True, "base_url": url, "account_address": ADDRESS,
                                      "secret_key": KEY, "rate_limit": {"requests_per_minute": 10**9}}},
        "web": {"enabled": False},  # no chat page: the path measured is the venue's
        "storage": {"path": db},
        "trading": {"max_order_size": 10**9, "position_limits": {"max_position_size_usd": 10**9}},
        "risk": {"max_orders_per_minute": 10**6, "position_size_limit": 1, "max_data_age_seconds": 60},
        **extra,
    }, env={})[0]


async def run(url: str, n: int, db: str, pause_s: float) -> tuple[list[float], ...]:
    app = App(_config(url, db))
    await app.start()
    venue = app.exchanges["hyperliquid"]
    real_place = venue.place
    accepted_at: list[float] = []

    async def place(request):  # type: ignore[no-untyped-def]
        order = await real_place(request)
        accepted_at.append(time.perf_counter())  # the venue's answer has arrived: accepted
        return order

    venue.place = place  # type: ignore[method-assign]
    parent, child = mp.get_context("spawn").Pipe()
    worker = mp.get_context("spawn").Process(target=sdk_worker, args=(url, pause_s, child), daemon=True)
    worker.start()
    base: list[float] = []
    floor: list[float] = []
    times: list[float] = []
    full: list[float] = []
    i = 0
    try:
        while len(times) < n:
            parent.send(BLOCK)
            got = await asyncio.to_thread(parent.recv)  # the bot idles meanwhile (its streams still flow)
            base += got["sdk"]
            floor += got["floor"]
            for _ in range(BLOCK):
                req = OrderRequest("hyperliquid", "ETH", Side.BUY, Decimal("0.01"), Decimal(3400 - i % 50))
                quote = await app.desk.quote_order(1, 1, req, "buy")
                assert quote.token is not None, quote.preview.refusals
                await asyncio.sleep(pause_s)  # the trader reads the quote
                t0 = time.perf_counter()
                out = await app.desk.confirm(quote.token, 1, "bench")  # what the Confirm button handler runs
                dt = (time.perf_counter() - t0) * 1000
                assert out.status == "placed" and out.order and out.order.status is OrderStatus.OPEN, out
                if i >= WARM_UP:  # connections, caches
                    times.append((accepted_at[-1] - t0) * 1000)
                    full.append(dt)
                i += 1
            await app.risk.orders.cancel_all("hyperliquid")  # untimed: the book stays the same size
    finally:
        parent.send(None)
        worker.join(10)
        await app.stop()
    return base[WARM_UP:WARM_UP + n], floor[WARM_UP:WARM_UP + n], times[:n], full[:n]


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--phone"]
    n = int(args[0]) if args else (1000 if "--phone" in sys.argv else 500)
    pause_s = float(args[1]) / 1000 if len(args) > 1 else 0.0
    with emulator("--hyperliquid", "0", "--tick", "0", "--weight-per-minute", str(10**9)) as urls, \
            tempfile.TemporaryDirectory() as tmp:
        url = urls["hyperliquid"]
        if "--phone" in sys.argv:
            chat = {"alerts": {k: "off" for k in ("fills", "orders", "risk", "streams", "reports")}}
            times = asyncio.run(phone(lambda tg: _config(url, f"{tmp}/bench.db", telegram={
                "bot_token": "1:BENCH", "base_url": tg, "allowed_user_ids": [111]}, **chat), "hyperliquid", n))
            print(HEADER)
            print(row("button press -> result in the chat", times))
            return
        base, floor, mine, full = asyncio.run(run(url, n, f"{tmp}/bench.db", pause_s))
    print(f"pause before each order: {pause_s * 1000:g} ms; blocks of {BLOCK}, alternating")
    print(HEADER)
    print(row("floor: one bare signed POST", floor))
    print(row("official SDK Exchange.order", base))
    print(row("tradebot Confirm -> accepted", mine))
    print(row("tradebot Confirm -> result stored", full))
    print(f"ratio p50 {pct(mine, 50) / pct(base, 50):.2f}   ratio p99 {pct(mine, 99) / pct(base, 99):.2f}"
          f"   (goal <= 1.00);   to the floor p50 {pct(mine, 50) / pct(floor, 50):.2f}")


if __name__ == "__main__":
    main()
