"""The preview tells what the order will really do: TP/SL that fit the side and the market, the size a
reduce-only order can really fill, the fee at the rate it will really pay, a band only where a fat
finger can hurt, and refusals whose numbers read like money."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from desk.desk import Desk
from exchanges.models import OrderRequest, Side, TimeInForce
from tests.conftest import FakeClock
from tests.harness import make_config, rig


@pytest.fixture
async def r(tmp_path):
    made = await rig(tmp_path, FakeClock(), config=make_config(risk={"price_band_percent": 5}))
    try:
        yield made
    finally:
        await made.close()


def codes(pv) -> set[str]:
    return {x.code for x in pv.refusals}


async def hold(r, symbol: str, size: str) -> None:
    side = Side.BUY if D(size) > 0 else Side.SELL
    placed = await r.orders.place(OrderRequest("paper", symbol, side, abs(D(size)), None))
    assert placed.order.filled == abs(D(size))


@pytest.mark.parametrize(("side", "tp", "sl", "bad"), [
    (Side.BUY, "50000", "200000", {"TP_SIDE", "SL_SIDE"}),  # the case: a stop that fires at once
    (Side.BUY, "1", None, {"TP_SIDE"}),
    (Side.SELL, "150000", None, {"TP_SIDE"}),  # take profit above the market on a short
    (Side.SELL, None, "90000", {"SL_SIDE"}),
])
async def test_tp_and_sl_on_the_wrong_side_of_the_market_are_refused(r, side, tp, sl, bad):
    pv = await r.orders.preview(OrderRequest("paper", "BTC", side, D("0.01"), None,
                                             take_profit=D(tp) if tp else None, stop_loss=D(sl) if sl else None))
    assert bad <= codes(pv), pv.refusals
    text = " ".join(x.message for x in pv.refusals)
    assert "100,0" in text  # says where the market is, as money reads


async def test_tp_and_sl_on_the_right_sides_pass(r):
    pv = await r.orders.preview(OrderRequest("paper", "BTC", Side.BUY, D("0.01"), None,
                                             take_profit=D("110000"), stop_loss=D("95000")))
    assert pv.ok, pv.refusals
    pv = await r.orders.preview(OrderRequest("paper", "BTC", Side.SELL, D("0.01"), None,
                                             take_profit=D("95000"), stop_loss=D("110000")))
    assert pv.ok, pv.refusals


async def test_tp_sl_of_a_limit_order_are_checked_against_its_own_price(r):
    # a buy resting at 90,000 with its stop at 92,000: the stop is above the entry, it would close at a loss at once
    pv = await r.orders.preview(OrderRequest("paper", "BTC", Side.BUY, D("0.01"), D("96000"), stop_loss=D("97000")))
    assert "SL_SIDE" in codes(pv)


async def test_a_reduce_only_preview_never_shows_a_flip(r):
    await hold(r, "BTC", "0.045")
    pv = await r.orders.preview(OrderRequest("paper", "BTC", Side.SELL, D("1"), None, reduce_only=True))
    assert pv.ok, pv.refusals
    assert pv.request.size == D("1")  # what was typed; the venue caps it
    assert pv.position_before == D("0.045") and pv.position_after == 0
    assert pv.est_filled == D("0.045")
    assert pv.notional < D("5000") and pv.fee < D("3")  # 0.045 BTC, not 1 BTC
    assert pv.liquidation_price is None
    assert any("0.045" in w for w in pv.warnings), pv.warnings


async def test_a_reduce_only_order_with_nothing_to_reduce_is_refused(r):
    pv = await r.orders.preview(OrderRequest("paper", "BTC", Side.SELL, D("0.01"), None, reduce_only=True))
    assert "NOTHING_TO_REDUCE" in codes(pv)
    await hold(r, "ETH", "0.5")
    pv = await r.orders.preview(OrderRequest("paper", "ETH", Side.BUY, D("0.1"), None, reduce_only=True))
    assert "NOTHING_TO_REDUCE" in codes(pv)  # buying more of a long reduces nothing


async def test_a_post_only_order_is_estimated_at_the_maker_fee(r):
    ex = r.venues["paper"]
    req = OrderRequest("paper", "ETH", Side.BUY, D("0.1"), D("3400"), tif=TimeInForce.ALO)
    pv = await r.orders.preview(req)
    assert pv.fee == D("3400") * D("0.1") * ex.maker_fee
    resting = await r.orders.preview(OrderRequest("paper", "ETH", Side.BUY, D("0.1"), D("3400")))
    assert resting.fee == pv.fee  # a GTC limit below the market rests: maker too
    market = await r.orders.preview(OrderRequest("paper", "ETH", Side.BUY, D("0.1"), None))
    assert market.fee == market.est_price * D("0.1") * ex.taker_fee


async def test_the_price_band_refuses_only_the_side_a_fat_finger_hurts(r):
    passive = await r.orders.preview(OrderRequest("paper", "ETH", Side.SELL, D("0.1"), D("3700")))
    assert "PRICE_BAND" not in codes(passive)  # a sell resting 5.7% above the market
    passive = await r.orders.preview(OrderRequest("paper", "ETH", Side.BUY, D("0.1"), D("3000")))
    assert "PRICE_BAND" not in codes(passive)
    aggressive = await r.orders.preview(OrderRequest("paper", "ETH", Side.BUY, D("0.1"), D("3700")))
    assert "PRICE_BAND" in codes(aggressive)  # a buy 5.7% through the market
    aggressive = await r.orders.preview(OrderRequest("paper", "ETH", Side.SELL, D("0.1"), D("3300")))
    assert "PRICE_BAND" in codes(aggressive)


async def test_refusals_write_money_with_separators(r):
    pv = await r.orders.preview(OrderRequest("paper", "BTC", Side.BUY, D("20"), None))
    [too_large] = [x.message for x in pv.refusals if x.code == "ORDER_TOO_LARGE"]
    assert re.search(r"value \$2,0\d\d,\d{3}\.\d\d is above max_order_size \$1,000,000\.00", too_large), too_large


async def test_cancel_all_with_nothing_open_asks_nothing(r):
    desk = Desk(r.risk, r.store, r.settings, r.clock)
    assert await desk.open_order_count(["paper"], None) == 0
    await r.orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.1"), D("3000")))
    assert await desk.open_order_count(["paper"], None) == 1
    assert await desk.open_order_count(["paper"], "BTC") == 0


async def test_cancel_all_in_the_chat_asks_only_when_something_is_open(tmp_path):
    from tests.tg import Rig, button

    async with Rig(tmp_path) as rig:
        me = rig.trader
        nothing = await me.ask("/cancel all")
        assert "No open orders on paper; nothing to cancel." in nothing["text"]
        assert not nothing.get("reply_markup")
        await rig.app.risk.orders.place(OrderRequest("paper", "ETH", Side.BUY, D("0.1"), D("3000")))
        asked = await me.ask("/cancel all")
        done = await me.click(asked, button(asked, "ok:"))
        assert "1 order cancelled" in done["text"] and "(s)" not in done["text"], done["text"]
        assert await rig.paper.open_orders() == []
