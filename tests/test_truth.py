"""The trader is told the truth under faults: each case the fault runs found, end to end against the
emulated Hyperliquid (or paper) and the Telegram emulator."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

from exchanges.models import FillEvent, Order, OrderRequest, OrderStatus, Side, StreamStatus
from risk.order_state import new_client_id
from sim.hyperliquid.server import Fault
from tests.conftest import FakeClock
from tests.hl import ADDRESS
from tests.test_hl_adapter import events_until
from tests.tg import Rig, button

ALERTS_ON = {"alerts": {k: "on" for k in ("fills", "orders", "risk", "streams")} | {"reports": "off"},
             "telegram": {"chat_id": 111}}


def texts(t) -> list[str]:
    return [m["text"] or "" for m in t["messages"] if m["from_bot"]]


def outside(rig, symbol: str, side: Side, size: str, price: str | None = None) -> None:
    """Someone trades the account outside the bot (the venue's web app): straight on the venue."""
    rig.hl.engine.place(ADDRESS, OrderRequest("hyperliquid", symbol, side, D(size), D(price) if price else None))


async def test_kill_on_a_silent_feed_cancels_and_flattens_what_the_venue_really_has(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", kill={"flatten": "always"}) as rig:
        rig.hl.hub.silent = True  # pings answered, nothing else arrives
        outside(rig, "ETH", Side.BUY, "0.5")
        outside(rig, "BTC", Side.BUY, "0.01", "90000")
        report = await rig.trader.ask("/kill", within=15)
        assert "KILL SWITCH" in report["text"]
        engine = rig.hl.engine
        assert engine.open_orders(ADDRESS) == []
        assert all(p.size == 0 for p in engine.positions_view(ADDRESS))
        assert "1 order cancelled" in report["text"] and "closed: ETH" in report["text"], report["text"]
        assert "confirmed by the venue" in report["text"]


async def test_a_silent_feed_is_caught_in_seconds_and_its_fills_are_not_lost(hl):
    sim, _, ex = hl
    placed = await ex.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.1"), D(3400), client_id="0x" + "1" * 32))
    await asyncio.sleep(0.1)
    sim.hub.silent = True  # for the rest of the test: long past any reconnect
    t0 = time.monotonic()
    sim.set_price("ETH", D(3390))  # our order fills while the feed says nothing
    seen = await events_until(ex, lambda e: isinstance(e, FillEvent) and e.fill.order_id == placed.order_id
                              and not e.is_snapshot, within=10)
    found_s = time.monotonic() - t0
    lost = [e for e in seen if isinstance(e, StreamStatus) and not e.connected]
    assert lost and lost[0].reason.startswith("stalled"), seen  # told as a stall, not as "connected"
    assert found_s < 8, found_s  # probes every 2 s; the fill comes over REST while the stream is down
    assert not ex.reads_in_memory()  # nothing answered from the silent feed's memory
    positions = await ex.positions()
    assert [(p.symbol, p.size) for p in positions] == [("ETH", D("0.1"))]


async def test_status_tells_a_stalled_stream(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid") as rig:
        rig.hl.hub.silent = True
        outside(rig, "ETH", Side.BUY, "0.5")  # the venue moved; the feed never says so
        status = None
        for _ in range(12):
            await asyncio.sleep(1)
            status = await rig.trader.ask("/status")
            if "streaming" not in status["text"]:
                break
        assert status is not None and "stream down (stalled" in status["text"], status["text"]
        positions = await rig.trader.ask("/positions")
        assert "ETH" in positions["text"] and "+0.5" in positions["text"]  # read from the venue, not the feed


async def test_fills_found_at_start_are_told(tmp_path):
    async with Rig(tmp_path, **ALERTS_ON) as rig:
        app = rig.app
        # the bot wrote its intent and died; the venue filled the order meanwhile; start-up reconciles
        cid = new_client_id()
        await app.store.insert_order(Order("paper", "ETH", Side.BUY, D("0.5"), None, OrderStatus.PENDING,
                                           client_id=cid, created_ms=app.clock(), updated_ms=app.clock()))
        venue = app.exchanges["paper"]
        venue.engine.place(venue.account, OrderRequest("paper", "ETH", Side.BUY, D("0.5"), None, client_id=cid))
        while not venue._queue.empty():  # the stream's copy is not what this test is about
            venue._queue.get_nowait()
        await app.risk.sync.reconcile("paper")
        t = await rig.trader.wait(lambda t: any("Filled" in x for x in texts(t)), within=10)
        [alert] = [x for x in texts(t) if "Filled" in x]
        assert "BUY 0.5 ETH on paper" in alert and "position after: +0.5" in alert
        assert (await app.store.get_order(cid)).status is OrderStatus.FILLED


async def test_a_first_order_the_bot_died_sending_is_told_when_it_filled(tmp_path):
    # a new database: the bot wrote its first intent, sent it and died before the answer; the venue
    # filled it. That fill is the bot's own, not history to import quietly (found by the fault matrix)
    from tests.hl import adapter

    async with Rig(tmp_path, venue="hyperliquid", **ALERTS_ON) as rig:
        await rig.stop_bot()
        cid = new_client_id()
        from store.db import Store

        store = Store(str(tmp_path / "bot.db"))
        await store.open()
        now = int(time.time() * 1000)
        await store.insert_order(Order("hyperliquid", "ETH", Side.BUY, D("0.5"), None, OrderStatus.PENDING,
                                       client_id=cid, created_ms=now, updated_ms=now))
        await store.close()
        ex = adapter(rig.hl_url)
        await ex.connect()
        await ex.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.5"), None, client_id=cid))
        await ex.close()
        await rig.start_bot()
        t = await rig.trader.wait(lambda t: any("Filled" in x for x in texts(t)), within=15)
        [alert] = [x for x in texts(t) if "Filled" in x]
        assert "BUY 0.5 ETH on hyperliquid" in alert, alert


async def test_an_order_result_telegram_refused_arrives_later(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        await rig.fault(kind="502", count=2, methods=["editMessageText"])
        await rig.trader.press(preview["message_id"], button(preview, "ok:"))
        t = await rig.trader.wait(lambda t: "Filled" in next(m for m in t["messages"]
                                                               if m["message_id"] == preview["message_id"])["text"],
                                  within=15)
        shown = next(m for m in t["messages"] if m["message_id"] == preview["message_id"])
        assert shown["reply_markup"] is None  # the preview became the result: no Confirm left


async def test_a_reply_telegram_refused_arrives_later(tmp_path):
    async with Rig(tmp_path) as rig:
        await rig.fault(kind="502", count=1, methods=["sendMessage"])
        await rig.trader.send("/balance")
        t = await rig.trader.wait(lambda t: any("Balances" in x for x in texts(t)), within=15)
        assert sum("Balances" in x for x in texts(t)) == 1


async def test_an_order_settled_at_restart_edits_its_preview(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        cid = new_client_id()
        # the press was taken and the intent written, then the bot died before sending it
        await rig.app.store.insert_order(
            Order("paper", "ETH", Side.BUY, D("0.1"), None, OrderStatus.PENDING, client_id=cid,
                  created_ms=rig.app.clock(), updated_ms=rig.app.clock()),
            extra={"chat_id": 111, "message_id": preview["message_id"], "what": "buy"})
        await rig.stop_bot()
        await rig.start_bot()
        t = await rig.trader.wait(lambda t: "never reached" in next(
            m for m in t["messages"] if m["message_id"] == preview["message_id"])["text"], within=10)
        shown = next(m for m in t["messages"] if m["message_id"] == preview["message_id"])
        assert "Nothing was sent" in shown["text"] and shown["reply_markup"] is None


async def test_an_expired_preview_loses_its_buttons(tmp_path):
    clock = FakeClock()
    async with Rig(tmp_path, clock=clock) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        assert preview["reply_markup"] is not None
        clock.advance(61_000)
        await rig.app.jobs.tick()
        await rig.trader.wait(lambda t: next(m for m in t["messages"]
                                             if m["message_id"] == preview["message_id"])["reply_markup"] is None)


async def test_kill_during_an_outage_reports_at_once_then_once_more_when_confirmed(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", kill={"flatten": "always"}) as rig:
        orders = rig.app.risk.orders
        await orders.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.2")))
        await orders.place(OrderRequest("hyperliquid", "BTC", Side.BUY, D("0.01"), D(97_000)))
        rig.hl.faults.append(Fault("503", until=time.monotonic() + 6))
        t0 = time.monotonic()
        first = await rig.trader.ask("/kill", within=10)
        first_s = time.monotonic() - t0
        assert first_s < 6, first_s  # within a few seconds, during the outage
        assert "not confirmed yet" in first["text"] and "Still working on hyperliquid" in first["text"]
        t = await rig.trader.wait(lambda t: "confirmed by the venue" in next(
            m for m in t["messages"] if m["message_id"] == first["message_id"])["text"], within=30)
        final = next(m for m in t["messages"] if m["message_id"] == first["message_id"])
        assert "closed: ETH" in final["text"] and "Still working" not in final["text"]
        assert sum("KILL SWITCH" in x for x in texts(t)) == 1  # one message per kill, edited
        assert rig.hl.engine.open_orders(ADDRESS) == []
        assert all(p.size == 0 for p in rig.hl.engine.positions_view(ADDRESS))
        # closes sent into the outage are resolved in the background, not left "unknown" until a restart
        for _ in range(100):
            if not await rig.app.store.orders_with_status([OrderStatus.UNKNOWN, OrderStatus.PENDING]):
                break
            await asyncio.sleep(0.2)
        assert await rig.app.store.orders_with_status([OrderStatus.UNKNOWN, OrderStatus.PENDING]) == []


async def test_one_kill_one_message_and_its_own_cancels_are_not_called_the_venues(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALERTS_ON) as rig:  # kill.flatten defaults to "ask"
        await rig.app.risk.orders.place(OrderRequest("hyperliquid", "BTC", Side.BUY, D("0.01"), D(97_000)))
        before = len(texts(await rig.trader.transcript()))
        report = await rig.trader.ask("/kill", within=10)
        await asyncio.sleep(2)  # a copy, a HALTED alert or a "Cancelled by" alert would have come by now
        new = texts(await rig.trader.transcript())[before:]
        assert len(new) == 1, new
        assert "1 order cancelled" in report["text"]
        assert "Flatten" not in report["text"] and report["reply_markup"] is None  # no positions: nothing to ask


async def test_start_under_a_429_storm_says_what_it_waits_for(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALERTS_ON) as rig:
        await rig.stop_bot()
        rig.hl.faults.append(Fault("429", until=time.monotonic() + 3600))
        starting = asyncio.ensure_future(rig.start_bot())
        try:
            await rig.trader.wait(lambda t: any("Starting: waiting for hyperliquid" in x for x in texts(t)), within=10)
            assert rig.hl.faults  # told during the storm, not after it
            rig.hl.faults.clear()  # the storm ends
            await rig.trader.wait(lambda t: any("hyperliquid reconciled" in x for x in texts(t)), within=60)
        finally:
            await starting


async def test_a_confirm_during_an_outage_says_it_is_checking_then_what_happened(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid") as rig:
        first = await rig.trader.ask("/buy ETH 0.1")  # sets the leverage: the next order sends only itself
        await rig.trader.click(first, button(first, "ok:"))
        preview = await rig.trader.ask("/buy ETH 0.1")
        rig.hl.faults.append(Fault("503", until=time.monotonic() + 4))
        t0 = time.monotonic()
        await rig.trader.press(preview["message_id"], button(preview, "ok:"))

        def shown(t):
            return next(m for m in t["messages"] if m["message_id"] == preview["message_id"])

        t = await rig.trader.wait(lambda t: shown(t)["edits"] > 0, within=10)
        assert time.monotonic() - t0 < 5  # within seconds, while the venue still answers 503
        assert "not known yet" in shown(t)["text"] and shown(t)["reply_markup"] is None  # not "Rejected"
        t = await rig.trader.wait(lambda t: "never reached" in shown(t)["text"], within=40)
        assert "Nothing was sent" in shown(t)["text"]
        # the 503 came before the venue acted: only the first order's position
        assert [p.size for p in rig.hl.engine.positions_view(ADDRESS) if p.size] == [D("0.1")]


async def test_a_result_the_bot_died_before_showing_is_shown_after_the_restart(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        now = rig.app.clock()
        # the venue filled it and the row says so; the bot died before editing the preview
        await rig.app.store.insert_order(
            Order("paper", "ETH", Side.BUY, D("0.1"), None, OrderStatus.FILLED, client_id=new_client_id(),
                  order_id="77", filled=D("0.1"), avg_price=D("3451.5"), created_ms=now, updated_ms=now),
            extra={"chat_id": 111, "message_id": preview["message_id"], "what": "buy"})
        await rig.stop_bot()
        await rig.start_bot()
        t = await rig.trader.wait(lambda t: "Filled" in next(
            m for m in t["messages"] if m["message_id"] == preview["message_id"])["text"], within=10)
        shown = next(m for m in t["messages"] if m["message_id"] == preview["message_id"])
        assert "3,451.5" in shown["text"] and shown["reply_markup"] is None
        await rig.stop_bot()
        await rig.start_bot()  # told once: a second restart edits nothing
        await asyncio.sleep(1.5)
        again = next(m for m in (await rig.trader.transcript())["messages"] if m["message_id"] == preview["message_id"])
        assert again["edits"] == shown["edits"]


async def test_a_complete_fill_of_an_outside_order_is_not_called_partial(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid", **ALERTS_ON) as rig:
        outside(rig, "ETH", Side.BUY, "0.5")  # one fill, the whole order, placed in the web app
        t = await rig.trader.wait(lambda t: any("BUY 0.5 ETH" in x for x in texts(t)), within=10)
        [alert] = [x for x in texts(t) if "BUY 0.5 ETH" in x]
        assert alert.startswith("✅ <b>Filled</b>"), alert
