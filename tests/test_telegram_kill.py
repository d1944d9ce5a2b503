"""The emergency stop from the phone, long listings, and flood control."""

from __future__ import annotations

import time
from decimal import Decimal as D

from exchanges.models import OrderRequest, Side
from handlers.keyboards import KILL_TEXT
from tests.tg import Rig, button


async def load(rig, resting: int = 5) -> None:
    orders = rig.app.risk.orders
    for i in range(resting):
        await orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.01"), D(3400 - i)))
    await orders.place(OrderRequest("paper", "BTC", Side.BUY, D("0.01")))
    await orders.place(OrderRequest("paper", "SOL", Side.SELL, D(2)))


async def test_kill_button_cancels_flattens_and_reports(tmp_path):
    async with Rig(tmp_path, kill={"flatten": "always"}) as rig:
        await load(rig)
        await rig.trader.ask("/start")
        report = await rig.trader.ask(KILL_TEXT)  # the persistent keyboard button sends its text
        assert "KILL SWITCH" in report["text"] and "HALTED" in report["text"]
        assert "5 orders cancelled" in report["text"] and "closed: BTC, SOL" in report["text"]
        assert await rig.paper.open_orders() == [] and await rig.paper.positions() == []
        refused = await rig.trader.ask("/buy BTC 0.01")
        assert "Trading is halted" in refused["text"] and "ok:" not in str(refused["reply_markup"])
        resume = await rig.trader.ask("/resume")
        done = await rig.trader.click(resume, button(resume, "ok:"))
        assert done["text"] == "✅ Trading resumed."
        assert rig.app.risk.state.state.value == "ACTIVE"


async def test_kill_with_flatten_ask_offers_the_choice(tmp_path):
    async with Rig(tmp_path) as rig:  # kill.flatten defaults to "ask"
        await load(rig)
        report = await rig.trader.ask("/kill")
        assert "Positions were kept. Flatten them now?" in report["text"]
        assert len(await rig.paper.positions()) == 2 and await rig.paper.open_orders() == []
        flat = await rig.trader.click(report, button(report, "kf:yes"))
        assert "closed: BTC, SOL" in flat["text"] and await rig.paper.positions() == []


async def test_a_long_orders_listing_arrives_split(tmp_path):
    async with Rig(tmp_path, risk={"max_orders_per_minute": 2000, "position_size_limit": 1}) as rig:
        orders = rig.app.risk.orders
        for i in range(520):
            await orders.place(OrderRequest("paper", "DOGE", Side.BUY, D(60 + i % 7), D("0.195")))
        before = len(await rig.trader.bot_messages())
        await rig.trader.send("/orders")
        t = await rig.trader.wait(lambda t: any("Cancel all" in str(m["reply_markup"]) for m in t["messages"]))
        parts = [m for m in t["messages"] if m["from_bot"]][before:]
        total = sum(len(p["text"]) for p in parts)
        assert total > 15_000 and len(parts) >= 4
        assert all(len(p["text"]) < 4096 for p in parts)
        assert all(p["text"].count("<pre>") == p["text"].count("</pre>") for p in parts)
        assert sum(p["text"].count("DOGE") for p in parts) == 520  # every order, once


async def test_a_429_storm_delays_but_loses_nothing(tmp_path):
    async with Rig(tmp_path) as rig:
        await rig.fault(kind="429", count=3, retry_after=1, methods=["sendMessage"])
        t0 = time.monotonic()
        for cmd in ("/balance", "/positions", "/orders"):
            await rig.trader.send(cmd)
        t = await rig.trader.wait(lambda t: len([m for m in t["messages"] if m["from_bot"]]) >= 3, within=30)
        texts = [m["text"] for m in t["messages"] if m["from_bot"]]
        assert [x.split("\n")[0] for x in texts] == ["<b>Balances</b>", "<b>Positions</b>", "<b>Open orders</b>"]
        assert time.monotonic() - t0 >= 1  # it waited as told


async def test_telegram_down_at_start_then_back(tmp_path):
    async with Rig(tmp_path) as rig:
        await rig.stop_bot()
        await rig.fault(kind="down", duration_s=2)
        await rig.trader.send("/balance")  # sent while the bot cannot reach Telegram
        rig.app = None
        from bot.app import App

        rig.app = App(rig.config())
        rig.app.telegram.poll_timeout_s = 1
        await rig.app.start()  # does not block on Telegram
        assert not rig.app.telegram.running.is_set()
        t = await rig.trader.wait(lambda t: any(m["from_bot"] and "Balances" in (m["text"] or "")
                                                for m in t["messages"]), within=20)
        assert t
