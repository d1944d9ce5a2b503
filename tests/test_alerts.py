"""Alerts reach the phone within a second, coalesced, in order, once, through outages and restarts."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from decimal import Decimal as D

import aiohttp

from bot.app import App
from exchanges.models import OrderRequest, Side
from tests.conftest import FakeClock
from tests.tg import Rig

ALL_ON = {"alerts": {k: "on" for k in ("fills", "orders", "risk", "streams", "reports")}}


def texts(t: dict) -> list[str]:
    return [m["text"] or m["caption"] or "" for m in t["messages"] if m["from_bot"]]


async def test_a_fill_reaches_the_phone_within_a_second(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.5"), D(3450)))
        t0 = time.monotonic()
        rig.paper.set_price("ETH", D(3440))  # the resting order fills
        t = await rig.trader.wait(lambda t: any("Filled" in x for x in texts(t)), within=5)
        assert time.monotonic() - t0 < 1.0
        [alert] = [x for x in texts(t) if "Filled" in x]
        assert "BUY 0.5 ETH on paper" in alert and "avg 3,450" in alert and "position after: +0.5" in alert


async def test_a_hundred_fills_in_a_burst_arrive_as_few_messages_with_exact_totals(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        engine = rig.paper.engine
        engine.set_liquidity("ETH", [], [(D(3500) + i, D("0.01")) for i in range(100)])
        placed = await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D(1), slippage=D("0.05")))
        fills = await rig.paper.fills(0)
        assert len(fills) == 100 and placed.order.filled == D(1)
        def counted(t: dict) -> int:
            return sum(int(re.search(r"(\d+) fill\(s\)", x).group(1)) for x in texts(t) if "illed</b>" in x)

        t = await rig.trader.wait(lambda t: counted(t) >= 100, within=5)
        alerts = [x for x in texts(t) if "illed</b>" in x]
        assert 1 <= len(alerts) <= 3
        counts = [int(re.search(r"(\d+) fill\(s\)", a).group(1)) for a in alerts]
        fees = [D(re.search(r"fee ([\d,.]+) USDC", a).group(1).replace(",", "")) for a in alerts]
        sizes = [D(re.search(r"BUY ([\d,.]+) ETH", a).group(1).replace(",", "")) for a in alerts]
        assert sum(counts) == 100 and sum(sizes) == D(1)
        assert sum(fees) == sum((f.fee for f in fills), D(0))  # to the last digit
        last = alerts[-1]
        assert last.startswith("✅ <b>Filled</b>") and "order: 1 of 1 filled" in last


async def test_telegram_down_then_back_delivers_everything_once_in_order(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        await rig.fault(kind="down", duration_s=30)
        for i in range(20):
            await rig.app.notifier.alert("reports", f"alert number {i}")
        await asyncio.sleep(1)
        assert not [x for x in texts(await rig.trader.transcript()) if x.startswith("alert number")]
        t = await rig.trader.wait(lambda t: len(lines(t)) >= 20, within=90)
        assert lines(t) == [f"alert number {i}" for i in range(20)]  # in order, once each
        assert len([x for x in texts(t) if "alert number" in x]) < 20  # the backlog came as summaries


def lines(t: dict) -> list[str]:
    return [line for x in texts(t) for line in x.split("\n") if line.startswith("alert number")]


async def test_a_restart_while_telegram_is_down_loses_nothing(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        await rig.fault(kind="down", duration_s=8)
        for i in range(20):
            await rig.app.notifier.alert("reports", f"alert number {i}")
        await rig.stop_bot()  # the bot dies with 20 alerts in its outbox
        rig.app = App(rig.config())
        rig.app.telegram.poll_timeout_s = 1
        await rig.app.start()
        t = await rig.trader.wait(lambda t: len(lines(t)) >= 20, within=90)
        assert lines(t) == [f"alert number {i}" for i in range(20)]


async def test_loss_limit_path_gives_exactly_three_alerts_the_last_with_the_kill(tmp_path):
    async with Rig(tmp_path, risk={"position_size_limit": 1, "emergency_stop_enabled": True,
                                   "daily_loss_limit": 500}, kill={"flatten": "always"}, **ALL_ON) as rig:
        monitor = rig.app.risk.monitor
        await rig.app.risk.orders.place(OrderRequest("paper", "BTC", Side.BUY, D("0.1"), leverage=5))
        await monitor.check_once()  # day start
        before = len(texts(await rig.trader.transcript()))
        for px in (97_400, 95_900, 94_000):  # about -260 (52 %), -410 (82 %), -600 (past the limit)
            rig.paper.set_price("BTC", D(px))
            await monitor.check_once()
            await asyncio.sleep(1.2)  # the monitor checks every few seconds; a burst would be summarised
        await rig.app.alerts.drain()
        t = await rig.trader.wait(lambda t: any("KILL SWITCH" in x for x in texts(t)), within=10)
        await asyncio.sleep(1.5)  # anything else would have arrived by now
        risk = [x for x in texts(await rig.trader.transcript())[before:] if "Filled" not in x]
        assert len(risk) == 3, risk
        assert "50% of the limit" in risk[0] and "80% of the limit" in risk[1]
        assert "Daily loss limit breached" in risk[2] and "Trading is HALTED" in risk[2] and "KILL SWITCH" in risk[2]
        assert await rig.paper.positions() == []
        msgs = [m for m in t["messages"] if m["from_bot"] and "50% of the limit" in (m["text"] or "")]
        assert msgs[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "kill:now"


async def test_the_kill_button_on_an_alert_fires_the_kill_switch(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        await rig.app.notifier.alert("risk", "⚠️ test risk alert", risk=True)
        t = await rig.trader.wait(lambda t: any("test risk alert" in x for x in texts(t)))
        msg = next(m for m in t["messages"] if "test risk alert" in (m["text"] or ""))
        await rig.trader.click(msg, "kill:now")
        t = await rig.trader.wait(lambda t: any("KILL SWITCH" in x for x in texts(t)))
        assert rig.app.risk.state.state.value == "HALTED"
        await asyncio.sleep(1.5)  # a second copy (an alert beside the reply) would have come by now
        [report] = [m for m in (await rig.trader.transcript())["messages"] if "KILL SWITCH" in (m["text"] or "")]
        assert report["reply_markup"] is None  # nothing to flatten, nothing to kill again: no buttons
        assert "Flatten" not in report["text"] and "Trading HALTED" not in texts(t)[-1]


async def test_daily_report_fires_at_the_configured_local_time_with_a_chart(tmp_path):
    clock = FakeClock(int(datetime(2026, 11, 21, 18, 59, 30, tzinfo=UTC).timestamp() * 1000))  # 19:59:30 Berlin
    async with Rig(tmp_path, clock=clock, timezone="Europe/Berlin",
                   alerts={**ALL_ON["alerts"], "daily_report_cron": "0 20 * * *"}) as rig:
        await rig.app.risk.monitor.check_once()  # an equity point for the chart
        await rig.app.jobs.tick()
        await asyncio.sleep(0.5)
        assert not any("Daily report" in x for x in texts(await rig.trader.transcript()))
        clock.advance(31_000)  # 20:00:01 in Berlin
        await rig.app.jobs.tick()
        t = await rig.trader.wait(lambda t: any(m["photo"] for m in t["messages"]), within=10)
        assert any("Daily report" in x and "today" in x for x in texts(t))
        photo = next(m["photo"] for m in t["messages"] if m["photo"])
        async with aiohttp.ClientSession() as s, s.get(f"{rig.base}/_sim/files/{photo['file_id']}") as r:
            png = await r.read()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and photo["width"] > 400 and photo["height"] > 300
        await rig.app.jobs.tick()  # not twice
        await asyncio.sleep(0.5)
        assert sum("Daily report" in x for x in texts(await rig.trader.transcript())) == 1


async def test_alerts_command_toggles_and_persists(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        menu = await rig.trader.ask("/alerts")
        assert "fills: on" in menu["text"]
        after = await rig.trader.click(menu, "al:fills")
        assert "fills: silent" in after["text"]
        after = await rig.trader.click(after, "al:fills")
        assert "fills: off" in after["text"]
        assert await rig.app.store.get_state("alerts.fills") == "off"
        await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.1")))
        await rig.app.alerts.drain()
        await asyncio.sleep(0.5)
        assert not any("Filled" in x for x in texts(await rig.trader.transcript()))


async def test_a_short_stream_blip_is_silent_a_long_outage_is_told(tmp_path):
    from exchanges.models import StreamStatus

    async with Rig(tmp_path, alerts={**ALL_ON["alerts"], "stream_grace_seconds": 1}) as rig:
        queue = rig.paper._queue
        queue.put_nowait(StreamStatus("paper", False, 0, "blip"))
        await asyncio.sleep(0.3)
        queue.put_nowait(StreamStatus("paper", True, 0, "reconnected"))
        await asyncio.sleep(1.5)
        assert not any("stream" in x for x in texts(await rig.trader.transcript()))
        queue.put_nowait(StreamStatus("paper", False, 0, "ConnectionClosed"))
        t = await rig.trader.wait(lambda t: any("stream lost" in x for x in texts(t)), within=5)
        lost = next(m for m in t["messages"] if "stream lost" in (m["text"] or ""))
        assert lost["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "kill:now"
        queue.put_nowait(StreamStatus("paper", True, 0, "reconnected"))
        await rig.trader.wait(lambda t: any("stream restored" in x for x in texts(t)), within=5)


async def test_a_position_near_liquidation_is_warned_once(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        orders = rig.app.risk.orders
        await orders.place(OrderRequest("paper", "BTC", Side.BUY, D("0.15"), leverage=20))
        [pos] = await rig.paper.positions()
        rig.paper.set_price("BTC", pos.liquidation_price * D("1.05"))  # 5 % above liquidation
        await rig.app.jobs.tick()
        await rig.app.jobs.tick()  # warned once an hour, not on every tick
        t = await rig.trader.wait(lambda t: any("from liquidation" in x for x in texts(t)))
        await asyncio.sleep(1.2)
        warned = [x for x in texts(await rig.trader.transcript()) if "from liquidation" in x]
        assert len(warned) == 1 and "BTC is 4." in warned[0]
        assert t


async def test_high_margin_usage_is_warned_once_an_hour(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        engine = rig.paper.engine
        engine.set_leverage("paper", "BTC", 10)
        engine.place("paper", OrderRequest("paper", "BTC", Side.BUY, D("0.85"), slippage=D("0.01")))  # opened elsewhere
        await rig.app.jobs.tick()
        await rig.app.jobs.tick()
        t = await rig.trader.wait(lambda t: any("Margin usage" in x for x in texts(t)))
        await asyncio.sleep(1.2)
        warned = [x for x in texts(await rig.trader.transcript()) if "Margin usage" in x]
        assert len(warned) == 1 and "Margin usage 85." in warned[0] and "on paper" in warned[0]
        assert t
