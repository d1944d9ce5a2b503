"""The trader's session, end to end: Telegram emulator -> PTB -> services -> risk -> paper exchange."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.tg import Rig, button


@pytest.mark.parametrize("venue", ["paper", "hyperliquid"])
async def test_full_trading_session(tmp_path, venue):
    async with Rig(tmp_path, venue=venue) as rig:
        me = rig.trader
        start = await me.ask("/start")
        assert "KILL" in start["text"] and start["reply_markup"]["keyboard"][0][0]["text"] == "🛑 KILL"
        bal = await me.ask("/balance")
        assert "Account value" in bal["text"] and "$10,000.00" in bal["text"] and "Total equity" in bal["text"]

        preview = await me.ask("/buy BTC 0.01")
        assert "Buy" in preview["text"] and "0.01000 BTC" in preview["text"] and "Est. price" in preview["text"]
        done = await me.click(preview, button(preview, "ok:"))
        assert "✅ Filled 0.01000 at avg" in done["text"], done["text"]
        [pos] = await rig.paper.positions()
        assert pos.size == D("0.01")
        refreshed = await me.click(bal, button(bal, "r:balance"))  # the earlier /balance, now with margin in use
        assert refreshed["message_id"] == bal["message_id"] and "Margin used" in refreshed["text"]
        assert refreshed["text"] != bal["text"] and "r:balance" in str(refreshed["reply_markup"])

        listing = await me.ask("/positions")
        assert "BTC" in listing["text"] and "LONG" in listing["text"] and "+0.01000" in listing["text"]
        close_preview = await me.click(listing, button(listing, "cl:"))
        assert "Close 100% of BTC" in close_preview["text"] and "reduce-only" in close_preview["text"]
        closed = await me.click(close_preview, button(close_preview, "ok:"))
        assert "✅ Filled 0.01000" in closed["text"], closed["text"]
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
