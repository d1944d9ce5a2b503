"""/tp and /sl move a position's protection, confirmed, end to end; the old trigger goes only once the new
one is on the venue, and a trigger that would fire at once is refused."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.models import OrderType
from tests.tg import Rig, button


async def triggers(venue, symbol: str) -> dict[OrderType, list[D]]:
    out: dict[OrderType, list[D]] = {}
    for o in await venue.open_orders(fresh=True):
        if o.symbol == symbol and o.trigger_price is not None:
            out.setdefault(o.order_type, []).append(o.trigger_price)
    return out


@pytest.mark.parametrize("venue", ["paper", "hyperliquid"])
async def test_tp_and_sl_are_set_moved_and_removed(tmp_path, venue):
    async with Rig(tmp_path, venue=venue) as rig:
        me = rig.trader
        nothing = await me.ask("/tp BTC 120000")
        assert "no open BTC position" in nothing["text"] and not nothing.get("reply_markup")
        preview = await me.ask("/buy BTC 0.01 sl=90000")
        done = await me.click(preview, button(preview, "ok:"))
        assert "Filled" in done["text"], done["text"]
        assert (await triggers(rig.paper, "BTC")) == {OrderType.STOP: [D("90000")]}

        tp = await me.ask("/tp BTC 120000")
        assert "Take profit at 120,000 for the BTC long" in tp["text"] and "Confirm" in str(tp["reply_markup"])
        placed = await me.click(tp, button(tp, "ok:"))
        assert "Resting" in placed["text"], placed["text"]
        assert (await triggers(rig.paper, "BTC")) == {OrderType.STOP: [D("90000")],
                                                       OrderType.TAKE_PROFIT: [D("120000")]}

        moved = await me.ask("/sl BTC 95000")
        assert "replaces 90,000" in moved["text"]
        await me.click(moved, button(moved, "ok:"))
        assert (await triggers(rig.paper, "BTC")) == {OrderType.STOP: [D("95000")],
                                                       OrderType.TAKE_PROFIT: [D("120000")]}

        wrong = await me.ask("/sl BTC 150000")  # above the market on a long: it would fire at once
        assert "SL_SIDE" in wrong["text"] and "fire at once" in wrong["text"]
        assert "ok:" not in str(wrong.get("reply_markup"))

        odd = await me.ask("/tp BTC 120000.5")  # off the market's price grid: refused, never rounded
        assert "Usage:" in odd["text"] and "ok:" not in str(odd.get("reply_markup"))
        off = await me.ask("/tp BTC off")
        assert "Remove the BTC take profit at 120,000" in off["text"], off["text"]
        removed = await me.click(off, button(off, "ok:"))
        assert "take profit at 120,000 removed" in removed["text"], removed["text"]
        assert (await triggers(rig.paper, "BTC")) == {OrderType.STOP: [D("95000")]}
        [pos] = await rig.paper.positions()
        assert pos.size == D("0.01")  # nothing fired
