"""Aster order path: from a Confirm press reaching the bot to the order accepted by the emulated Aster,
beside ccxt's async `create_order` and the floor (one bare signed POST over one keep-alive aiohttp
session: what no client can beat), all against one emulator process, in the same run.

    python -m bench.aster_order_path [N] [PAUSE_MS]     (default 500 orders each)
    python -m bench.aster_order_path --phone [N]         (default 1000: button press at the Telegram
                                                          emulator -> the result shown in the chat)

Method as bench.order_path: alternating blocks of 25 orders; ccxt and the floor in their own process
(each on its own account), waiting while the bot runs and the other way round; every side cancels its
resting orders after its block, so the book does not grow. Goal: ratio bot / ccxt p50 and p99 <= 1.
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

from bench.common import HEADER, emulator, pct, row
from bench.phone import phone
from bot.app import App
from bot.config import parse_config
from exchanges.models import OrderRequest, OrderStatus, Side

BLOCK = 25
WARM_UP = 20
# the docs' demo API wallet for the bot's account; main wallets for ccxt and the floor
SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
SIGNER = "0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0"
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
CCXT_KEY = "0x" + "42" * 32
FLOOR_KEY = "0x" + "43" * 32


async def _control(url: str, route: str, body: dict[str, Any]) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.post(f"{url}/_sim/{route}", json=body) as r:
        assert r.status == 200, await r.text()


def baseline_worker(url: str, pause_s: float, conn: Connection) -> None:
    asyncio.run(_baselines(url, pause_s, conn))


async def _baselines(url: str, pause_s: float, conn: Connection) -> None:
    import aiohttp
    import ccxt.async_support as ccxt

    from exchanges.aster.signing import V3Signer, encode

    ex = ccxt.aster({"privateKey": CCXT_KEY, "rateLimit": 0, "enableRateLimit": False,
                     "options": {"builderFee": False}})
    ex.urls["api"] = {k: f"{url}/{'fapi' if k.startswith('fapi') else 'api'}"
                      for k in ("fapiPublic", "fapiPrivate", "sapiPublic", "sapiPrivate")}
    floor = V3Signer(FLOOR_KEY)
    session = aiohttp.ClientSession()
    nonce = int(time.time() * 1_000_000)
    await ex.load_markets()
    i = 0
    try:
        while (n := await asyncio.to_thread(conn.recv)) is not None:
            times: dict[str, list[float]] = {"ccxt": [], "floor": []}
            for _ in range(n):
                px = 3400 - i % 50
                await asyncio.sleep(pause_s)
                t0 = time.perf_counter()
                await ex.create_order("ETH/USDT:USDT", "limit", "buy", 0.01, px)
                times["ccxt"].append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(pause_s)
                nonce = max(nonce + 1, int(time.time() * 1_000_000))
                t0 = time.perf_counter()
                msg = encode([("symbol", "ETHUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                              ("quantity", "0.01"), ("price", str(px)), ("nonce", str(nonce)),
                              ("user", floor.address), ("signer", floor.address)])
                async with session.post(f"{url}/fapi/v3/order", data=f"{msg}&signature={floor.sign(msg)}",
                                        headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
                    body = await r.json()
                times["floor"].append((time.perf_counter() - t0) * 1000)
                assert r.status == 200 and body["status"] == "NEW", body
                i += 1
            await ex.cancel_all_orders("ETH/USDT:USDT")
            nonce = max(nonce + 1, int(time.time() * 1_000_000))
            msg = encode([("symbol", "ETHUSDT"), ("nonce", str(nonce)), ("user", floor.address),
                          ("signer", floor.address)])
            async with session.delete(f"{url}/fapi/v3/allOpenOrders", data=f"{msg}&signature={floor.sign(msg)}",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"}) as r:
                assert r.status == 200, await r.text()
            conn.send(times)
    finally:
        await ex.close()
        await session.close()


def _config(url: str, db: str, **extra: Any) -> Any:
    ws = url.replace("http://", "ws://")
    raw: dict[str, Any] = {
        "exchanges": {"aster": {"enabled": True, "user": USER, "signer": SIGNER, "signer_key": SIGNER_KEY,
                                "base_url": url, "spot_base_url": url, "ws_url": f"{ws}/fstream",
                                "spot_ws_url": f"{ws}/sstream"}},
        "storage": {"path": db},
        "web": {"enabled": False},  # no chat page: the path measured is the venue's (--phone has Telegram)
        "trading": {"max_order_size": 10**9, "position_limits": {"max_position_size_usd": 10**9}},
        "risk": {"max_orders_per_minute": 10**6, "position_size_limit": 1, "max_data_age_seconds": 60},
        **extra,
    }
    return parse_config(raw, env={})[0]


def _unlimited(venue: Any, *, orders: bool = True) -> None:
    """The emulator runs without a weight limit here (--aster-weight-per-minute 1e9) but its
    exchangeInfo states the venue's 2,400: lift the adapter's budget to match what the emulator does, as
    the Hyperliquid benchmark does with requests_per_minute (a real account would pace at ~25 weight
    per confirmed order)."""
    for host in (venue.http.futures, venue.http.spot):
        host.budget.per_minute = 10**9
        if orders:
            host.orders.per_minute = 10**9


async def _accounts(url: str) -> None:
    from exchanges.aster.signing import V3Signer

    await _control(url, "signer", {"user": USER, "signer": SIGNER})
    for who in (USER, V3Signer(CCXT_KEY).address, V3Signer(FLOOR_KEY).address):
        for spot in (False, True):
            await _control(url, "fund", {"user": who, "asset": "USDT", "amount": "10000000", "spot": spot})


async def run(url: str, n: int, db: str, pause_s: float) -> dict[str, list[float]]:
    await _accounts(url)
    app = App(_config(url, db))
    await app.start()
    venue = app.exchanges["aster"]
    _unlimited(venue)
    real_place = venue.place
    accepted_at: list[float] = []

    async def place(request):  # type: ignore[no-untyped-def]
        order = await real_place(request)
        accepted_at.append(time.perf_counter())
        return order

    venue.place = place  # type: ignore[method-assign]
    parent, child = mp.get_context("spawn").Pipe()
    worker = mp.get_context("spawn").Process(target=baseline_worker, args=(url, pause_s, child), daemon=True)
    worker.start()
    out: dict[str, list[float]] = {"ccxt": [], "floor": [], "bot": [], "full": []}
    i = 0
    try:
        while len(out["bot"]) < n:
            parent.send(BLOCK)
            got = await asyncio.to_thread(parent.recv)
            out["ccxt"] += got["ccxt"]
            out["floor"] += got["floor"]
            for _ in range(BLOCK):
                req = OrderRequest("aster", "ETH", Side.BUY, Decimal("0.01"), Decimal(3400 - i % 50))
                quote = await app.desk.quote_order(1, 1, req, "buy")
                assert quote.token is not None, quote.preview.refusals
                await asyncio.sleep(pause_s)
                t0 = time.perf_counter()
                res = await app.desk.confirm(quote.token, 1, "bench")
                dt = (time.perf_counter() - t0) * 1000
                assert res.status == "placed" and res.order and res.order.status is OrderStatus.OPEN, res
                if i >= WARM_UP:
                    out["bot"].append((accepted_at[-1] - t0) * 1000)
                    out["full"].append(dt)
                i += 1
            await app.risk.orders.cancel_all("aster")
    finally:
        parent.send(None)
        worker.join(10)
        await app.stop()
    return {k: v[WARM_UP:WARM_UP + n] if k in ("ccxt", "floor") else v[:n] for k, v in out.items()}


def _chat(bot_url: str) -> dict[str, Any]:
    """The bot on the Telegram emulator, alerts off (they would interleave with the replies timed)."""
    return {"telegram": {"bot_token": "1:BENCH", "base_url": bot_url, "allowed_user_ids": [111]},
            "alerts": {k: "off" for k in ("fills", "orders", "risk", "streams", "reports")}}


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--phone"]
    phone_mode = "--phone" in sys.argv
    n = int(args[0]) if args else (1000 if phone_mode else 500)
    pause_s = float(args[1]) / 1000 if len(args) > 1 else 0.0
    with emulator("--aster", "0", "--tick", "0", "--aster-weight-per-minute", str(10**9)) as urls, \
            tempfile.TemporaryDirectory() as tmp:
        if phone_mode:
            url = urls["aster"]
            asyncio.run(_accounts(url))
            times = asyncio.run(phone(lambda tg: _config(url, f"{tmp}/bench.db", **_chat(tg)), "aster", n,
                                      lambda app: _unlimited(app.exchanges["aster"], orders=False)))
            print(HEADER)
            print(row("button press -> result in the chat", times))
            return
        out = asyncio.run(run(urls["aster"], n, f"{tmp}/bench.db", pause_s))
    print(f"pause before each order: {pause_s * 1000:g} ms; blocks of {BLOCK}, alternating")
    print(HEADER)
    print(row("floor: one bare signed POST", out["floor"]))
    print(row("ccxt async create_order", out["ccxt"]))
    print(row("tradebot Confirm -> accepted", out["bot"]))
    print(row("tradebot Confirm -> result stored", out["full"]))
    print(f"ratio to ccxt p50 {pct(out['bot'], 50) / pct(out['ccxt'], 50):.2f}"
          f"   p99 {pct(out['bot'], 99) / pct(out['ccxt'], 99):.2f}   (goal <= 1.00);"
          f"   to the floor p50 {pct(out['bot'], 50) / pct(out['floor'], 50):.2f}")


if __name__ == "__main__":
    main()
