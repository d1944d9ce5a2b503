"""Cross-venue spreads from the phone on the emulated Hyperliquid + Aster pair: /spread, the debounced
alert (fees counted; none below fees or for a blip shorter than min_duration_ms), and Execute -> both
legs filled as the venues' own APIs say, one report, zero residual."""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal as D
from typing import Any

from risk.spreads import VenueBook, evaluate
from tests.hl import control as hl_control
from tests.tg import TRADER, Rig, button

BOTH: dict[str, Any] = {"kill": {"flatten": "always"}, "trading": {
    "default_exchange": "hyperliquid", "max_leverage": 20, "max_order_size": 100_000,
    "position_limits": {"max_positions_per_symbol": 2, "max_total_positions": 5, "max_position_size_usd": 100_000}}}
ARB = {"enabled": True, "min_net_bps": 10, "min_duration_ms": 300, "cooldown_s": 300, "poll_ms": 50,
       "max_notional_usd": 2000, "slippage": "0.002"}


def alerts(t: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in t["messages"] if m["from_bot"] and "spread</b>" in (m["text"] or "")]


async def prices(rig: Rig, hl: str, aster: str) -> None:
    await hl_control(rig.hl_url or "", "price", {"coin": "BTC", "px": hl})
    await rig.aster_price("BTC", aster)


async def expected_net(rig: Rig) -> D:
    assert rig.app is not None
    sides = []
    for name, ex in rig.app.exchanges.items():
        m = await ex.market("BTC")
        sides.append(VenueBook(name, "BTC", await ex.order_book("BTC"), ex.taker_fee, m.lot_size))
    best = evaluate("BTC", sides, D(10), rig.app.clock(), 2000).best
    assert best is not None
    return best.net_bps


async def test_alert_within_a_second_with_fees_counted_and_execute(tmp_path):
    async with Rig(tmp_path, venue="both", arbitrage=ARB, alerts={"reports": "on"}, **BOTH) as rig:
        assert rig.app is not None
        table = await rig.trader.ask("/spread BTC")
        assert "Cross-venue spreads" in table["text"] and "BTC" in table["text"] and "sr:BTC" in str(
            table["reply_markup"])
        # a gap below both taker fees: no alert
        await prices(rig, "100000", "100050")
        await asyncio.sleep(0.8)
        assert alerts(await rig.trader.transcript()) == []
        # a wide gap shorter than min_duration_ms: no alert
        await prices(rig, "100000", "100500")
        await asyncio.sleep(0.12)
        await prices(rig, "100000", "100000")
        await asyncio.sleep(0.6)
        assert alerts(await rig.trader.transcript()) == []
        # a lasting gap: one alert within a second, with the net edge the books give after fees
        t0 = time.monotonic()
        await prices(rig, "100000", "100500")
        t = await rig.trader.wait(lambda t: bool(alerts(t)), within=3)
        took = time.monotonic() - t0
        assert took < 1.0, took
        [alert] = alerts(t)
        said = D(re.search(r"<b>([\d.-]+) bps</b>", alert["text"]).group(1))  # type: ignore[union-attr]
        assert abs(said - await expected_net(rig)) <= D("0.1")
        fees = sum((ex.taker_fee for ex in rig.app.exchanges.values()), D(0)) * 10_000
        assert abs(said - (D(50) - fees)) < 3  # ~50 bps gross less both venues' taker fees
        assert "buy hyperliquid" in alert["text"] and "sell aster" in alert["text"]
        await asyncio.sleep(0.4)
        assert len(alerts(await rig.trader.transcript())) == 1  # debounced: one per cooldown
        # Execute -> a two-leg preview -> Execute both legs
        preview = await rig.trader.click(alert, button(alert, "Execute"))
        assert "Two-leg preview" in preview["text"] and "Expected net" in preview["text"], preview
        assert "Margin hyperliquid" in preview["text"] and "Margin aster" in preview["text"]
        execute = button(preview, "sx:")
        await rig.trader.click(preview, execute)
        t = await rig.trader.wait(lambda t: "Residual exposure" in next(
            m for m in t["messages"] if m["message_id"] == preview["message_id"])["text"], within=15)
        report = next(m for m in t["messages"] if m["message_id"] == preview["message_id"])["text"]
        assert "Residual exposure: zero" in report, report
        hl = await rig.app.exchanges["hyperliquid"].positions(fresh=True)
        aster = await rig.app.exchanges["aster"].positions(fresh=True)
        [long_] = [p.size for p in hl if p.symbol == "BTC"]
        assert D("0.01") < long_ <= D("0.02")  # max_notional_usd 2000 at ~100000, rounded to both lots
        assert [(p.symbol, p.size) for p in aster] == [("BTC", -long_)]  # net exposure zero, on the venues
        assert f"{long_.normalize():f}" in report
        # the token is spent: a second press (a replayed callback) is refused, nothing more is sent
        refused, claimed = await rig.app.desk.claim(execute.split(":", 1)[1], TRADER)
        assert claimed is None and refused is not None and refused.status == "used"
        assert [p.size for p in await rig.app.exchanges["hyperliquid"].positions(fresh=True)] == [long_]


async def test_the_alerts_size_is_what_the_thinner_book_holds_at_the_edge(tmp_path):
    async with Rig(tmp_path, venue="both", arbitrage=ARB, alerts={"reports": "on"}, **BOTH) as rig:
        assert rig.app is not None
        await rig.aster_price("BTC", "100500")
        # Hyperliquid's asks hold only 0.004 BTC; Aster's bids far more (the emulator's book, streamed)
        rig.hl.engine.set_liquidity("BTC", [(D(99990), D(5))], [(D(100010), D("0.004"))])
        rig.hl.hub.prices_moved(["BTC"])
        t = await rig.trader.wait(lambda t: bool(alerts(t)), within=3)
        [alert] = alerts(t)
        size = D(re.search(r"up to ([\d.]+)", alert["text"]).group(1))  # type: ignore[union-attr]
        assert size == D("0.004"), alert["text"]  # all the thinner side holds


async def test_no_alert_while_one_sides_data_is_stale(tmp_path):
    async with Rig(tmp_path, venue="both", arbitrage=ARB, alerts={"reports": "on"}, **BOTH) as rig:
        await prices(rig, "100000", "100000")
        await asyncio.sleep(0.3)
        # Aster's stream goes silent and its REST fails: what the bot holds of it only ages
        await rig.aster_control("fault", {"kind": "ws_silent", "duration_s": 30})
        await rig.aster_control("fault", {"kind": "5xx", "status": 503, "duration_s": 30})
        await hl_control(rig.hl_url or "", "price", {"coin": "BTC", "px": "99000"})  # a 1 % gap, it seems
        await asyncio.sleep(3.0)  # past max_data_age_ms (2 s) and min_duration_ms
        assert alerts(await rig.trader.transcript()) == []
        await rig.aster_control("clear", {})


async def test_a_residual_that_cannot_be_hedged_is_told_with_the_kill_button(tmp_path):
    async with Rig(tmp_path, venue="both", arbitrage=ARB, alerts={"reports": "on", "risk": "on"}, **BOTH) as rig:
        assert rig.app is not None
        await prices(rig, "100000", "100500")
        alert = (alerts(await rig.trader.wait(lambda t: bool(alerts(t)), within=3)))[0]
        preview = await rig.trader.click(alert, button(alert, "Execute"))
        execute = button(preview, "sx:")
        # now Aster refuses every order (its leg and the retry), and Hyperliquid's bids fall 5 % away,
        # beyond the slippage bound, so the excess of the Hyperliquid leg cannot be closed either
        await rig.aster_control("fault", {"kind": "429", "path": "/order", "duration_s": 30})
        await rig.aster_control("fault", {"kind": "429", "path": "/batchOrders", "duration_s": 30})
        rig.hl.engine.set_liquidity("BTC", [(D(95000), D(5))], [(D(100010), D(5))])
        rig.hl.hub.prices_moved(["BTC"])
        await asyncio.sleep(0.3)
        await rig.trader.click(preview, execute)
        t = await rig.trader.wait(lambda t: "Residual exposure" in next(
            m for m in t["messages"] if m["message_id"] == preview["message_id"])["text"], within=20)
        report = next(m for m in t["messages"] if m["message_id"] == preview["message_id"])["text"]
        assert "could not be hedged" in report and "on hyperliquid" in report, report
        t = await rig.trader.wait(lambda t: any("could not be hedged" in (m["text"] or "") and "kill:now" in str(
            m["reply_markup"]) for m in t["messages"] if m["message_id"] != preview["message_id"]), within=10)
        [long_] = [p.size for p in await rig.app.exchanges["hyperliquid"].positions(fresh=True)]
        assert long_ > 0 and f"{long_.normalize():f}" in report  # what the report says is what the venue holds
        await rig.aster_control("clear", {})
