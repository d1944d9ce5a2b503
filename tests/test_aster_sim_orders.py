"""Venue behaviour of orders and positions: refusals in the venue's words, time in force, hedge mode,
conditional orders, margin types, funding, countdown cancels, modify and batches, spot orders."""

from __future__ import annotations

import json
from decimal import Decimal

import aiohttp
import pytest

from tests.aster import Client, aster_venue, control, registered

BTC = {"symbol": "BTCUSDT"}


def limit(side: str, qty: str, price: str, tif: str = "GTC", **kw: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": tif, "quantity": qty, "price": price,
            **kw}


def market(side: str, qty: str, **kw: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty, "newOrderRespType": "RESULT", **kw}


@pytest.fixture
async def venue():
    async with aster_venue() as (sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        c = Client(s, url, sim.clock)

        async def post(params: dict[str, str], path: str = "/fapi/v3/order") -> dict:
            return (await c.v3("POST", path, params))[1]
        yield sim, url, c, post


async def _position(c: Client, side: str = "BOTH") -> dict:
    rows = (await c.v3("GET", "/fapi/v3/positionRisk", BTC))[1]
    return next(r for r in rows if r["positionSide"] == side)


async def test_refusals_in_the_venues_words(venue):
    _sim, _url, c, post = venue
    cases = [
        ({**limit("BUY", "0.010", "99000"), "symbol": "NOPEUSDT"}, -1121, "Invalid symbol."),
        ({**market("BUY", "0.010"), "timeInForce": "GTC"}, -1106, "Parameter 'timeInForce' sent when not required."),
        ({k: v for k, v in limit("BUY", "0.010", "99000").items() if k != "timeInForce"}, -1102,
         "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
        (limit("BUY", "0.010", "99000.05"), -1111, "Precision is over the maximum defined for this asset."),
        (limit("BUY", "0.0101", "99000"), -1111, "Precision is over the maximum defined for this asset."),
        (limit("BUY", "0", "99000"), -4003, "Quantity less than zero."),
        (limit("BUY", "2000", "99000"), -4005, "Quantity greater than max quantity."),
        ({**limit("BUY", "1", "1.1000"), "symbol": "ASTERUSDT"}, -4164,
         "Order's notional must be no smaller than 5 (unless you choose reduce only)"),
        (limit("BUY", "0.010", "120000"), -4016, "Price is higher than mark price multiplier cap."),
        (limit("SELL", "0.010", "80000"), -4024, "Price is lower than mark price multiplier floor."),
        (limit("BUY", "0.010", "99000", positionSide="LONG"), -4061,
         "Order's position side does not match user's setting."),
        ({**limit("BUY", "0.010", "99000"), "side": "UP"}, -1117, "Invalid side."),
        ({**limit("BUY", "0.010", "99000"), "type": "ICEBERG"}, -1116, "Invalid orderType."),
        (limit("BUY", "0.010", "99000", tif="GTD"), -1115, "Invalid timeInForce."),
        (market("BUY", "50.000"), -2019, "Margin is insufficient."),
        (market("SELL", "0.010", reduceOnly="true"), -2022, "ReduceOnly Order is rejected."),
        ({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "101000", "quantity": "0.010"},
         -2021, "Order would immediately trigger."),
        (limit("BUY", "0.010", "99000", newClientOrderId="bad id!"), -4015, "Client order id is not valid."),
    ]
    for params, code, msg in cases:
        assert await post(params) == {"code": code, "msg": msg}, params
    assert (await post(limit("BUY", "0.010", "99000", newClientOrderId="once")))["status"] == "NEW"
    assert await post(limit("BUY", "0.010", "98000", newClientOrderId="once")) == {
        "code": -4116, "msg": "ClientOrderId is duplicated."}
    assert (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": 1}))[1] == {
        "code": -2013, "msg": "Order does not exist."}


async def test_time_in_force_ioc_fok_gtx(venue):
    sim, _url, c, post = venue
    ask = sim.f.engine.books["BTC"].best_ask()
    ioc = await post(limit("BUY", "5.000", str(ask), tif="IOC", newOrderRespType="RESULT"))
    assert ioc["status"] == "EXPIRED" and Decimal("0") < Decimal(ioc["executedQty"]) < 5  # the rest expired
    fok = await post(limit("BUY", "5.000", str(ask), tif="FOK", newOrderRespType="RESULT"))
    assert fok["status"] == "EXPIRED" and fok["executedQty"] == "0"  # all or nothing: nothing
    fok = await post(limit("BUY", "0.100", str(ask + 50), tif="FOK", newOrderRespType="RESULT"))
    assert fok["status"] == "FILLED" and fok["executedQty"] == "0.100"
    gtx = await post(limit("BUY", "0.010", str(ask + 100), tif="GTX", newOrderRespType="RESULT"))
    assert gtx["status"] == "EXPIRED" and gtx["executedQty"] == "0"  # post-only would have taken
    gtx = await post(limit("BUY", "0.010", "99000", tif="GTX"))
    assert gtx["status"] == "NEW"
    ack = await post({**market("SELL", "0.010"), "newOrderRespType": "ACK"})
    assert ack["status"] == "NEW" and ack["executedQty"] == "0"  # ACK: as accepted
    assert (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": ack["orderId"]}))[1]["status"] == \
        "FILLED"


async def test_hedge_mode_keeps_both_legs(venue):
    _sim, _url, c, post = venue
    assert (await post({"dualSidePosition": "true"}, "/fapi/v3/positionSide/dual")) == {"code": 200, "msg": "success"}
    assert (await c.v3("GET", "/fapi/v3/positionSide/dual"))[1] == {"dualSidePosition": True}
    assert (await post(market("BUY", "0.020")))["code"] == -4061  # BOTH in hedge mode
    assert (await post(market("BUY", "0.020", positionSide="LONG", reduceOnly="true"))) == {
        "code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."}
    assert (await post(market("BUY", "0.020", positionSide="LONG")))["status"] == "FILLED"
    assert (await post(market("SELL", "0.010", positionSide="SHORT")))["status"] == "FILLED"
    long_, short = await _position(c, "LONG"), await _position(c, "SHORT")
    assert long_["positionAmt"] == "0.020" and short["positionAmt"] == "-0.010"
    closing = await post(market("SELL", "0.050", positionSide="LONG"))  # closes the leg, never flips it
    assert closing["executedQty"] == "0.020" and closing["status"] == "EXPIRED"
    assert (await _position(c, "LONG"))["positionAmt"] == "0.000" and (await _position(c, "SHORT"))["positionAmt"] == \
        "-0.010"
    assert (await post({"dualSidePosition": "false"}, "/fapi/v3/positionSide/dual")) == {
        "code": -4068, "msg": "Position side cannot be changed if there exists position."}


async def test_conditional_orders_fire_on_the_price(venue):
    _sim, url, c, post = venue
    await post(market("BUY", "0.100"))
    stop = await post({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "99000",
                       "closePosition": "true", "workingType": "MARK_PRICE"})
    take = await post({"symbol": "BTCUSDT", "side": "SELL", "type": "TAKE_PROFIT", "stopPrice": "102000",
                       "price": "102000", "quantity": "0.050", "reduceOnly": "true"})
    trail = await post({"symbol": "BTCUSDT", "side": "SELL", "type": "TRAILING_STOP_MARKET", "quantity": "0.050",
                        "callbackRate": "1", "activationPrice": "101000", "reduceOnly": "true"})
    assert {o["status"] for o in (stop, take, trail)} == {"NEW"}
    await control(url, "price", {"symbol": "BTCUSDT", "px": "102500"})  # take-profit fires, rests as a LIMIT
    tp = (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": take["orderId"]}))[1]
    assert tp["type"] == "LIMIT" and tp["origType"] == "TAKE_PROFIT" and tp["status"] in ("NEW", "FILLED")
    await control(url, "price", {"symbol": "BTCUSDT", "px": "103500"})  # through the TP price: filled
    assert (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": take["orderId"]}))[1]["status"] == \
        "FILLED"
    await control(url, "price", {"symbol": "BTCUSDT", "px": "102300"})  # 1.16 % off the high: the trailing stop
    tr = (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": trail["orderId"]}))[1]
    assert tr["status"] == "FILLED" and tr["type"] == "MARKET" and tr["origType"] == "TRAILING_STOP_MARKET"
    assert (await _position(c))["positionAmt"] == "0.000"
    await control(url, "price", {"symbol": "BTCUSDT", "px": "98000"})  # nothing left to close: it expires
    st = (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": stop["orderId"]}))[1]
    assert st["status"] == "EXPIRED" and st["orderId"] == stop["orderId"]
    await post(market("BUY", "0.030"))
    again = await post({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "97000",
                        "closePosition": "true"})
    await control(url, "price", {"symbol": "BTCUSDT", "px": "96500"})
    fired = (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": again["orderId"]}))[1]
    assert fired["status"] == "FILLED" and fired["executedQty"] == "0.030"  # close-all took the whole position
    assert (await _position(c))["positionAmt"] == "0.000"


async def test_isolated_margin_and_position_margin(venue):
    _sim, _url, c, post = venue
    mt = "/fapi/v3/marginType"
    assert await post({"symbol": "BTCUSDT", "marginType": "CROSSED"}, mt) == {
        "code": -4046, "msg": "No need to change margin type."}
    assert await post({"symbol": "BTCUSDT", "amount": "10", "type": "1"}, "/fapi/v3/positionMargin") == {
        "code": -4049, "msg": "Add margin only support for isolated position."}
    assert await post({"symbol": "BTCUSDT", "marginType": "ISOLATED"}, mt) == {"code": 200, "msg": "success"}
    assert (await post({"symbol": "BTCUSDT", "amount": "10", "type": "1"}, "/fapi/v3/positionMargin"))["code"] == -4054
    await post(market("BUY", "0.100"))
    pos = await _position(c)
    assert pos["marginType"] == "isolated"
    assert Decimal(pos["isolatedWallet"]) == pytest.approx(Decimal(500), rel=Decimal("0.001"))
    added = await post({"symbol": "BTCUSDT", "amount": "100", "type": "1"}, "/fapi/v3/positionMargin")
    assert added == {"amount": 100.0, "code": 200, "msg": "Successfully modify position margin.", "type": 1}
    assert Decimal((await _position(c))["isolatedWallet"]) == Decimal(pos["isolatedWallet"]) + 100
    assert await post({"symbol": "BTCUSDT", "marginType": "CROSSED"}, mt) == {
        "code": -4048, "msg": "Margin type cannot be changed if there exists position."}


async def test_funding_is_settled_every_eight_hours(venue):
    sim, url, c, post = venue
    await post(market("BUY", "0.100"))
    nxt = (await c.public("GET", "/fapi/v1/premiumIndex", BTC))[1]["nextFundingTime"]
    assert nxt % (8 * 3_600_000) == 0
    await control(url, "time", {"offset_ms": nxt - sim.clock.base() + 1000})
    income = (await c.v3("GET", "/fapi/v3/income", {"incomeType": "FUNDING_FEE"}))[1]
    [paid] = income
    assert Decimal(paid["income"]) == -Decimal("0.100") * 100_000 * Decimal("0.0001")  # longs pay a positive rate
    history = (await c.public("GET", "/fapi/v1/fundingRate", BTC))[1]
    assert history[-1] == {"symbol": "BTCUSDT", "fundingRate": "0.00010000", "fundingTime": nxt}
    assert (await c.public("GET", "/fapi/v1/premiumIndex", BTC))[1]["nextFundingTime"] == nxt + 8 * 3_600_000
    await control(url, "funding", {"symbol": "BTCUSDT", "rate": "-0.0005", "settle": True})
    assert Decimal((await c.v3("GET", "/fapi/v3/income", {"incomeType": "FUNDING_FEE"}))[1][-1]["income"]) == 5


async def test_countdown_cancels_all_orders_of_the_symbol(venue):
    _sim, url, c, post = venue
    await post(limit("BUY", "0.010", "99000"))
    await post({**limit("BUY", "0.010", "3000"), "symbol": "ETHUSDT"})
    assert await post({"symbol": "BTCUSDT", "countdownTime": "120000"}, "/fapi/v3/countdownCancelAll") == {
        "symbol": "BTCUSDT", "countdownTime": "120000"}
    await control(url, "time", {"offset_ms": 60_000})
    assert len((await c.v3("GET", "/fapi/v3/openOrders"))[1]) == 2  # a heartbeat later it would be renewed
    await control(url, "time", {"offset_ms": 121_000})
    assert [o["symbol"] for o in (await c.v3("GET", "/fapi/v3/openOrders"))[1]] == ["ETHUSDT"]
    await post(limit("BUY", "0.010", "99000"))
    await post({"symbol": "BTCUSDT", "countdownTime": "1000"}, "/fapi/v3/countdownCancelAll")
    await post({"symbol": "BTCUSDT", "countdownTime": "0"}, "/fapi/v3/countdownCancelAll")  # stopped
    await control(url, "time", {"offset_ms": 130_000})
    assert len((await c.v3("GET", "/fapi/v3/openOrders"))[1]) == 2


async def test_modify_and_batches(venue):
    sim, _url, c, post = venue
    o = await post(limit("BUY", "0.010", "99000"))
    moved = (await c.v3("PUT", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": o["orderId"], "quantity": "0.020",
                                                  "price": "99200"}))[1]
    assert moved["orderId"] == o["orderId"] and moved["price"] == "99200.0" and moved["origQty"] == "0.020"
    refused = (await c.v3("PUT", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": o["orderId"], "quantity": "0.020",
                                                    "price": "99200.05"}))[1]
    assert refused["code"] == -1111
    still = (await c.v3("GET", "/fapi/v3/order", {"symbol": "BTCUSDT", "orderId": o["orderId"]}))[1]
    assert still["price"] == "99200.0" and still["status"] == "NEW"  # the refusal left it as it was
    assert [lv for lv in sim.f.engine.books["BTC"].bids if lv.price == Decimal("99200")]
    six = json.dumps([limit("BUY", "0.010", "98000")] * 6)
    assert await post({"batchOrders": six}, "/fapi/v3/batchOrders") == {
        "code": -4082, "msg": "Invalid number of batch place orders."}
    demo = "[{'symbol':'BTCUSDT','type':'LIMIT','side':'BUY','timeInForce':'GTC','quantity':'0.010','price':'98000'}]"
    placed = await post({"batchOrders": demo}, "/fapi/v3/batchOrders")  # the docs' demo sends Python reprs
    assert placed[0]["status"] == "NEW"


async def test_spot_orders_by_quote_amount_and_balance(venue):
    _sim, _url, c, post = venue
    bought = await post({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "1000"},
                        "/api/v3/order")
    assert bought["status"] == "FILLED" and 0 < Decimal(bought["cumQuote"]) <= 1000
    assert bought["origQty"] == bought["executedQty"] and "positionSide" not in bought
    account = (await c.v3("GET", "/api/v3/account"))[1]
    btc = next(b for b in account["balances"] if b["asset"] == "BTC")
    assert Decimal(btc["free"]) == Decimal(bought["executedQty"])
    rest = await post({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                       "quantity": bought["executedQty"], "price": "101000"}, "/api/v3/order")
    account = (await c.v3("GET", "/api/v3/account"))[1]
    btc = next(b for b in account["balances"] if b["asset"] == "BTC")
    assert btc["locked"] == Decimal(bought["executedQty"]).quantize(Decimal("0.00000001")).to_eng_string()
    assert await post({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "5",
                       "price": "100000"}, "/api/v3/order") == {"code": -2018, "msg": "Balance is insufficient."}
    assert await post({"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.00100",
                       "reduceOnly": "true"}, "/api/v3/order") == {
        "code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."}
    canceled = (await c.v3("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": rest["orderId"]}))[1]
    assert canceled["status"] == "CANCELED"
