"""Alerts reach the phone within a second, coalesced, in order, once, through outages and restarts."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from decimal import Decimal as D

import aiohttp
import pytest

from bot.app import App
from exchanges.models import OrderRequest, OrderType, Side
from risk.order_state import LIVE
from tests.conftest import FakeClock
from tests.hl import ADDRESS
from tests.tg import Rig

ALL_ON = {"alerts": {k: "on" for k in ("fills", "orders", "risk", "streams", "reports")}}


def texts(t: dict) -> list[str]:
    return [m["text"] or m["caption"] or "" for m in t["messages"] if m["from_bot"]]


async def test_a_fill_reaches_the_phone_within_a_second(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        await rig.trader.wait(lambda t: any("started" in x for x in texts(t)))
        await asyncio.sleep(1)  # Telegram's 1 message a second per chat, after "started", is not the fill's
        await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.5"), D(3450)))
        t0 = time.monotonic()
        rig.paper.set_price("ETH", D(3440))  # the resting order fills
        t = await rig.trader.wait(lambda t: any("Filled" in x for x in texts(t)), within=5)
        assert time.monotonic() - t0 < 1.0
        [alert] = [x for x in texts(t) if "Filled" in x]
        assert "BUY 0.5 ETH on paper" in alert and "avg 3,450.0" in alert and "position after: +0.5" in alert


async def test_a_hundred_fills_in_a_burst_arrive_as_few_messages_with_exact_totals(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        engine = rig.paper.engine
        engine.set_liquidity("ETH", [], [(D(3500) + i, D("0.01")) for i in range(100)])
        placed = await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D(1), slippage=D("0.05")))
        fills = await rig.paper.fills(0)
        assert len(fills) == 100 and placed.order.filled == D(1)
        def counted(t: dict) -> int:
            return sum(int(re.search(r"(\d+) fills?\b", x).group(1)) for x in texts(t) if "illed</b>" in x)

        t = await rig.trader.wait(lambda t: counted(t) >= 100, within=5)
        alerts = [x for x in texts(t) if "illed</b>" in x]
        assert 1 <= len(alerts) <= 3
        counts = [int(re.search(r"(\d+) fills?\b", a).group(1)) for a in alerts]
        fees = [D(re.search(r"fee \$([\d,.]+)", a).group(1).replace(",", "")) for a in alerts]
        sizes = [D(re.search(r"BUY ([\d,.]+) ETH", a).group(1).replace(",", "")) for a in alerts]
        assert sum(counts) == 100 and sum(sizes) == D(1)
        exact = sum((f.fee for f in fills), D(0))
        assert abs(sum(fees) - exact) <= D("0.005") * len(alerts)  # in cents, like the previews
        last = alerts[-1]
        assert last.startswith("✅ <b>Filled</b>") and "fill(s)" not in last
        if len(alerts) > 1:
            assert "order: 1 of 1 filled" in last


async def test_telegram_down_then_back_delivers_everything_once_in_order(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        await rig.fault(kind="down", duration_s=3600)  # until cleared
        for i in range(20):
            await rig.app.notifier.alert("reports", f"alert number {i}")
        await asyncio.sleep(1)
        assert not [x for x in texts(await rig.trader.transcript()) if x.startswith("alert number")]
        await rig.control("clear")  # Telegram is back
        t = await rig.trader.wait(lambda t: len(lines(t)) >= 20, within=90)
        assert lines(t) == [f"alert number {i}" for i in range(20)]  # in order, once each
        assert len([x for x in texts(t) if "alert number" in x]) < 20  # the backlog came as summaries


def lines(t: dict) -> list[str]:
    return [line for x in texts(t) for line in x.split("\n") if line.startswith("alert number")]


async def test_a_restart_while_telegram_is_down_loses_nothing(tmp_path):
    async with Rig(tmp_path, **ALL_ON) as rig:
        await rig.fault(kind="down", duration_s=3600)  # until cleared
        for i in range(20):
            await rig.app.notifier.alert("reports", f"alert number {i}")
        await rig.stop_bot()  # the bot dies with 20 alerts in its outbox
        rig.app = App(rig.config())
        rig.app.telegram.poll_timeout_s = 1
        await rig.app.start()
        await asyncio.sleep(0.5)  # the new process finds Telegram still down
        await rig.control("clear")
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
        assert "of $500.00: past the limit" in risk[2] and "Trading is HALTED" in risk[2] and "KILL SWITCH" in risk[2]
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


# ---- what each alert says, end to end (paper and the emulated Hyperliquid) ----

def outside(rig, req: OrderRequest):
    """Someone trades the account outside the bot (the venue's web app): straight on the venue."""
    return rig.hl.engine.place(ADDRESS, req)


def said(t: dict, *words: str) -> list[str]:
    return [x for x in texts(t) if all(w in x for w in words)]


async def quiet_for(rig, seconds: float = 1.5) -> list[str]:
    """What the bot said in the next `seconds` (anything it was going to say has arrived by then)."""
    before = len(texts(await rig.trader.transcript()))
    await asyncio.sleep(seconds)
    return texts(await rig.trader.transcript())[before:]


def set_price(rig, symbol: str, price: D) -> None:
    (rig.hl if rig.venue == "hyperliquid" else rig.paper).set_price(symbol, price)


@pytest.mark.parametrize("venue", ["paper", "hyperliquid"])
async def test_cancelling_a_stop_or_a_take_profit_is_not_called_a_trigger(tmp_path, venue):
    async with Rig(tmp_path, venue=venue, **ALL_ON) as rig:
        orders = rig.app.risk.orders
        await orders.place(OrderRequest(venue, "ETH", Side.BUY, D("0.5")))
        legs = [await orders.place(OrderRequest(venue, "ETH", Side.SELL, D("0.5"), None, kind, reduce_only=True,
                                                trigger_price=D(px)))
                for kind, px in ((OrderType.STOP, 3150), (OrderType.TAKE_PROFIT, 3850))]
        await asyncio.sleep(0.5)
        for leg in legs:
            await orders.cancel(venue, "ETH", order_id=leg.order.order_id)
        new = await quiet_for(rig)
        assert not [x for x in new if "riggered" in x or "ancelled" in x], new  # the trader did it: nothing to tell


async def test_a_stop_cancelled_outside_the_bot_is_called_a_cancel_and_a_fired_one_a_trigger(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALL_ON) as rig:
        orders = rig.app.risk.orders
        await orders.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.5")))
        sl = await orders.place(OrderRequest("hyperliquid", "ETH", Side.SELL, D("0.5"), None, OrderType.STOP,
                                             reduce_only=True, trigger_price=D(3150)))
        tp = await orders.place(OrderRequest("hyperliquid", "ETH", Side.SELL, D("0.5"), None, OrderType.TAKE_PROFIT,
                                             reduce_only=True, trigger_price=D(3850)))
        await asyncio.sleep(0.5)
        rig.hl.engine.cancel(ADDRESS, oid=int(sl.order.order_id))  # in the venue's web app
        t = await rig.trader.wait(lambda t: said(t, "ancelled"), within=5)
        [cancel] = said(t, "ancelled")
        assert "Stop loss" in cancel and "triggered" not in cancel and "not by the bot" in cancel, cancel
        set_price(rig, "ETH", D(3900))
        t = await rig.trader.wait(lambda t: said(t, "Take profit"), within=5)
        assert said(t, "Take profit", "3,850.0"), texts(t)
        assert tp.order.order_id


async def test_the_bots_own_tp_and_sl_legs_are_not_called_outside_orders(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALL_ON) as rig:
        await rig.app.risk.orders.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.5"),
                                                     take_profit=D(3850), stop_loss=D(3150)))
        new = await quiet_for(rig)
        assert not [x for x in new if "outside" in x], new
        legs = await rig.app.store.orders_with_status(LIVE, "hyperliquid")
        assert sorted((o.order_type.value, o.trigger_price) for o in legs) == [("stop", D(3150)),
                                                                                ("take_profit", D(3850))]
        await rig.stop_bot()  # after a restart they are still the bot's own
        await rig.start_bot()
        new = await quiet_for(rig)
        assert not [x for x in new if "outside" in x], new
        set_price(rig, "ETH", D(3900))
        t = await rig.trader.wait(lambda t: said(t, "Take profit"), within=5)
        assert not said(t, "outside")


async def test_many_outside_orders_are_told_in_one_message(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALL_ON) as rig:
        for i in range(25):  # a grid placed in the venue's web app
            outside(rig, OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.01"), D(3000 - i)))
        await rig.trader.wait(lambda t: said(t, "outside"), within=5)
        await asyncio.sleep(1)
        [found] = said(await rig.trader.transcript(), "outside")
        assert "25 orders" in found and found.count("\n") <= 8, found
        await rig.stop_bot()
        for i in range(25):  # and 25 more while the bot was stopped
            outside(rig, OrderRequest("hyperliquid", "ETH", Side.SELL, D("0.01"), D(4000 + i)))
        await rig.start_bot()
        await rig.trader.wait(lambda t: len(said(t, "outside")) >= 2, within=10)
        await asyncio.sleep(1)
        found = said(await rig.trader.transcript(), "outside")
        assert len(found) == 2 and "25 orders" in found[1], found


async def test_a_liquidation_names_market_size_price_and_the_position_after(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALL_ON) as rig:
        engine = rig.hl.engine
        engine.set_leverage(ADDRESS, "BTC", 20)
        outside(rig, OrderRequest("hyperliquid", "BTC", Side.BUY, D("1.5"), slippage=D("0.01")))
        await asyncio.sleep(1)
        [pos] = await rig.paper.positions(fresh=True)
        before = len(texts(await rig.trader.transcript()))
        rig.hl.set_price("BTC", (pos.liquidation_price * D("0.99")).quantize(D(1)))
        t = await rig.trader.wait(lambda t: said(t, "<b>Liquidation</b>"), within=5)
        await asyncio.sleep(1.5)
        new = texts(await rig.trader.transcript())[before:]
        [liq] = [x for x in new if "<b>Liquidation</b>" in x]
        assert liq.count("<b>Liquidation</b>") == 1, liq
        assert "SELL 1.5 BTC" in liq and "position after: flat" in liq, liq
        px = (pos.liquidation_price * D("0.99")).quantize(D(1))
        assert f"{px:,}" in liq and " at 0" not in liq
        assert not [x for x in new if "Partly" in x or "fee 0" in x], new  # the fill is the liquidation
        assert t


async def test_an_outside_market_order_that_fills_completely_is_one_filled_alert(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALL_ON) as rig:
        rig.hl.engine.set_liquidity("ETH", [], [(D(3500) + i, D("0.1")) for i in range(5)])
        outside(rig, OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.5"), slippage=D("0.05")))
        await rig.trader.wait(lambda t: said(t, "ETH"), within=5)
        await asyncio.sleep(1.5)
        new = said(await rig.trader.transcript(), "ETH")
        assert len(new) == 1, new
        assert new[0].startswith("✅ <b>Filled</b> BUY 0.5 ETH") and "5 fills" in new[0], new[0]
        assert "avg 3,502.0" in new[0] and "fee $" in new[0] and "USDC" not in new[0], new[0]


async def test_a_fresh_database_does_not_replay_old_fills_but_a_restart_tells_missed_ones(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALL_ON) as rig:
        await rig.stop_bot()
        for i in range(12):  # history the bot's database has never seen
            outside(rig, OrderRequest("hyperliquid", "ETH", Side.BUY if i % 2 == 0 else Side.SELL, D("0.1")))
        await rig.start_bot()
        new = await quiet_for(rig, 2.5)
        assert not [x for x in new if "ill" in x and "ETH" in x], new
        outside(rig, OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.2")))  # a fill now is told
        await rig.trader.wait(lambda t: said(t, "BUY 0.2 ETH"), within=5)
        await rig.stop_bot()
        outside(rig, OrderRequest("hyperliquid", "ETH", Side.SELL, D("0.3")))  # while the bot was down
        await rig.start_bot()
        await rig.trader.wait(lambda t: said(t, "SELL 0.3 ETH"), within=10)


async def test_a_spot_fill_tells_the_balance_not_a_position_and_fees_in_usd(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALL_ON) as rig:
        await rig.app.risk.orders.place(OrderRequest("hyperliquid", "PURR/USDC", Side.BUY, D(200)))
        t = await rig.trader.wait(lambda t: said(t, "PURR"), within=5)
        [fill] = said(t, "PURR")
        assert "position" not in fill and "PURR balance: 200" in fill, fill
        assert "fill(s)" not in fill and re.search(r"fee \$\d+\.\d\d\b", fill), fill
