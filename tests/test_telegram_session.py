"""The trader's session, end to end: Telegram emulator -> PTB -> services -> risk -> paper exchange."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from tests.tg import Rig, button


@pytest.mark.parametrize("venue", ["paper", "hyperliquid", "aster"])
async def test_full_trading_session(tmp_path, venue):
    async with Rig(tmp_path, venue=venue) as rig:
        me = rig.trader
        lot = "0.010" if venue == "aster" else "0.01000"  # sizes are shown to the market's lot
        start = await me.ask("/start")
        assert "KILL" in start["text"] and start["reply_markup"]["keyboard"][0][0]["text"] == "🛑 KILL"
        bal = await me.ask("/balance")
        assert "Account value" in bal["text"] and "$10,000.00" in bal["text"] and "Total equity" in bal["text"]

        preview = await me.ask("/buy BTC 0.01")
        assert "Buy" in preview["text"] and f"{lot} BTC" in preview["text"] and "Est. price" in preview["text"]
        done = await me.click(preview, button(preview, "ok:"))
        assert f"✅ Filled {lot} at avg" in done["text"], done["text"]
        [pos] = await rig.paper.positions()
        assert pos.size == D("0.01")
        refreshed = await me.click(bal, button(bal, "r:balance"))  # the earlier /balance, now with margin in use
        assert refreshed["message_id"] == bal["message_id"] and "Margin used" in refreshed["text"]
        assert refreshed["text"] != bal["text"] and "r:balance" in str(refreshed["reply_markup"])

        listing = await me.ask("/positions")
        assert "BTC" in listing["text"] and "LONG" in listing["text"] and f"+{lot}" in listing["text"]
        close_preview = await me.click(listing, button(listing, "cl:"))
        assert "Close 100% of BTC" in close_preview["text"] and "reduce-only" in close_preview["text"]
        closed = await me.click(close_preview, button(close_preview, "ok:"))
        assert f"✅ Filled {lot}" in closed["text"], closed["text"]
        assert await rig.paper.positions() == []

        for _ in range(50):  # fills reach the store from the venue's stream
            photos = sum(bool(m["photo"]) for m in (await me.transcript())["messages"])
            pnl = await me.ask("/pnl")
            # its chart arrives before the next ask, so the next answer is not taken for this chart
            await me.wait(lambda t, n=photos: sum(bool(m["photo"]) for m in t["messages"]) > n)
            if "Trades: today 2" in (pnl["text"] or ""):
                break
        assert "today" in pnl["text"] and "Trades: today 2" in pnl["text"]
        t = await me.wait(lambda t: any(m["photo"] for m in t["messages"]))
        photo = next(m for m in t["messages"] if m["photo"])
        assert photo["caption"] == "Equity, last 30 days" and photo["photo"]["width"] > 400
        fees = sum(f.fee for f in await rig.paper.fills(0))
        assert f"-${fees.quantize(D('0.01'))}" in pnl["text"]

        status = await me.ask("/status")
        assert "trading ACTIVE" in status["text"] and "REST" in status["text"]
        if venue == "hyperliquid":
            assert "rate limits: IP weight" in status["text"] and "address" in status["text"]
        menu = (await me.transcript())
        assert menu["messages"]  # every reply parsed as valid Telegram HTML (the emulator enforces it)
        assert [c["command"] for c in rig.sim.commands][:3] == ["start", "help", "balance"]


@pytest.mark.parametrize("venue", ["paper", "hyperliquid"])
async def test_the_commands_traders_expect(tmp_path, venue):
    """#11's commands, end to end: protection set and moved, the history, the book, the chart, funding."""
    from handlers.render import fmt_usd
    from tests.test_width import too_wide

    async with Rig(tmp_path, venue=venue) as rig:
        rig.sim.chat_limits = (10_000, 10_000.0)  # the emulator's flood control is tested elsewhere
        me = rig.trader
        preview = await me.ask("/buy ETH 0.5 tp=4000 sl=3000")
        assert "Buy 0.5000 ETH" in preview["text"] and "TP" in preview["text"] and "SL" in preview["text"]
        done = await me.click(preview, button(preview, "ok:"))
        assert "✅ Filled 0.5000" in done["text"], done["text"]
        listing = await me.ask("/positions")
        assert "TP" in listing["text"] and "4,000" in listing["text"] and "3,000" in listing["text"]

        moved = await me.ask("/sl ETH 3200")
        assert "Stop loss at 3,200 for the ETH long (replaces 3,000)" in moved["text"]
        await me.click(moved, button(moved, "ok:"))
        triggers = {(o.order_type.value, o.trigger_price) for o in await rig.paper.open_orders(fresh=True)}
        assert (("stop", D(3200)) in triggers and ("take_profit", D(4000)) in triggers
                and ("stop", D(3000)) not in triggers), triggers

        close = await me.ask("/close ETH")
        closed = await me.click(close, button(close, "ok:"))
        assert "✅ Filled 0.5000" in closed["text"], closed["text"]
        fills = await rig.paper.fills(0)
        for _ in range(100):  # the fills reach the store from the venue's stream
            trades = await me.ask("/trades")
            if trades["text"].count("ETH") >= 2:
                break
        assert "SELL" in trades["text"] and "BUY" in trades["text"] and "0.5" in trades["text"]
        profit = await me.ask("/profit")
        fees = sum(f.fee for f in fills)
        assert f"${fees.quantize(D('0.01'))}" in profit["text"], (profit["text"], fees)
        perf = await me.ask("/performance")
        assert "ETH" in perf["text"]
        net = fmt_usd(sum(f.realized_pnl for f in fills) - fees)
        for cmd in ("/daily", "/weekly", "/monthly"):
            table = await me.ask(cmd)  # this period's row: the net of the two fills, and their count
            assert re.search(rf"\n\S+ +{re.escape(net)} +2\n", table["text"]), (cmd, net, table["text"])

        book = await me.ask("/book ETH")
        top = await rig.paper.order_book("ETH")
        assert "Spread" in book["text"] or "spread" in book["text"]
        assert f"{top.bids[0].price:,}".rstrip("0").rstrip(".") in book["text"]

        before = sum(bool(m["photo"]) for m in (await me.transcript())["messages"])
        await me.send("/chart BTC 15m")
        t = await me.wait(lambda t: sum(bool(m["photo"]) for m in t["messages"]) > before, within=20)
        chart = [m for m in t["messages"] if m["photo"]][-1]
        assert "BTC" in chart["caption"] and "15m" in chart["caption"]

        funding = await me.ask("/funding BTC")
        assert "pay" in funding["text"] and ("in " in funding["text"])
        for message in (await me.transcript())["messages"]:
            if message["from_bot"] and message["text"]:
                assert too_wide(message["text"]) == [], message["text"]
