"""Hyperliquid and Aster in one bot, from the phone: one desk over two venues (both emulated)."""

from __future__ import annotations

import re
from decimal import Decimal as D

from exchanges.models import OrderRequest, Side
from tests.tg import Rig

BOTH = {"kill": {"flatten": "always"}, "trading": {
    "default_exchange": "hyperliquid", "max_leverage": 20, "max_order_size": 100_000,
    "position_limits": {"max_positions_per_symbol": 2, "max_total_positions": 5, "max_position_size_usd": 100_000}}}


async def test_prices_side_by_side_with_the_spread_and_funding_compared(tmp_path):
    async with Rig(tmp_path, venue="both", **BOTH) as rig:
        await rig.aster_price("BTC", "100250")
        price = await rig.trader.ask("/price BTC")
        text = price["text"]
        assert "hyperliquid" in text and "aster" in text
        spread = re.search(r"Spread between venues: ([\d,.]+) \(([\d.]+) bps", text)
        assert spread is not None, text
        assert D(spread.group(2)) > 10  # Aster's book sits 0.25 % above Hyperliquid's
        funding = await rig.trader.ask("/funding BTC")
        assert "hyperliquid" in funding["text"] and "aster" in funding["text"]
        assert "Funding difference" in funding["text"] and "points a year" in funding["text"]
        bal = await rig.trader.ask("/balance")
        assert "hyperliquid" in bal["text"] and "aster" in bal["text"] and "Total equity" in bal["text"]


async def test_kill_flattens_both_venues(tmp_path):
    async with Rig(tmp_path, venue="both", **BOTH) as rig:
        orders = rig.app.risk.orders
        await orders.place(OrderRequest("hyperliquid", "BTC", Side.BUY, D("0.01")))
        await orders.place(OrderRequest("aster", "BTC", Side.SELL, D("0.01")))
        await orders.place(OrderRequest("aster", "ETH", Side.BUY, D("0.1"), D(3000)))
        await orders.place(OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.1"), D(3000)))
        for ex in rig.app.exchanges.values():
            assert await ex.positions(fresh=True) and await ex.open_orders(fresh=True)
        first = await rig.trader.ask("/kill", within=10)
        t = await rig.trader.wait(lambda t: "confirmed by the venue" in next(
            m for m in t["messages"] if m["message_id"] == first["message_id"])["text"]
            and next(m for m in t["messages"] if m["message_id"] == first["message_id"])["text"].count(
                "confirmed by the venue") >= 2, within=30)
        report = next(m for m in t["messages"] if m["message_id"] == first["message_id"])["text"]
        assert "hyperliquid" in report and "aster" in report
        for ex in rig.app.exchanges.values():
            assert await ex.positions(fresh=True) == [] and await ex.open_orders(fresh=True) == []


async def test_one_venue_down_does_not_hold_the_other(tmp_path):
    async with Rig(tmp_path, venue="both", **BOTH) as rig:
        await rig.aster_control("fault", {"kind": "5xx", "status": 503, "duration_s": 600})
        bal = await rig.trader.ask("/balance", within=20)
        assert "hyperliquid" in bal["text"] and "$10,000.00" in bal["text"]
        assert "aster" in bal["text"]  # with what went wrong, not a silent gap
        preview = await rig.trader.ask("/buy hyperliquid BTC 0.01")
        assert "Buy" in preview["text"] and "ok:" in str(preview["reply_markup"])
        assert "Equity of aster unknown" in preview["text"]  # said, and the limits drawn stricter
        await rig.aster_control("clear", {})
