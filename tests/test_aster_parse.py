"""Aster's recorded payloads (../shared/fixtures/aster/) parsed into the domain model, with real values."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.aster import parse
from exchanges.aster.errors import error_body, is_error, map_error
from exchanges.aster.events import parse_fill_event, parse_order_event
from exchanges.errors import InvalidSymbolError, OrderNotFoundError, RateLimitError
from exchanges.models import CashFlowKind, Market, MarketKind, OrderStatus, OrderType, Side, TimeInForce
from tests.conftest import fixture


def payload(name: str):
    return fixture(f"aster/{name}.json")["payload"]


PERPS = parse.parse_markets(payload("futures_exchangeInfo"), MarketKind.PERP, max_leverage={"BTCUSDT": 125})
SPOTS = parse.parse_markets(payload("spot_exchangeInfo"), MarketKind.SPOT)
# the other payloads name BTCUSDT, which the docs' exchangeInfo example does not list
BTC = Market("aster", "BTC", MarketKind.PERP, "BTC", "USDT", "BTCUSDT", D("0.001"), D("0.1"), max_leverage=125)
BY_PERP = {**parse.natives(PERPS, MarketKind.PERP), "BTCUSDT": BTC}
BY_SPOT = parse.natives(SPOTS, MarketKind.SPOT)


def test_markets_carry_the_venues_filters():
    doge = PERPS["BLZ"]  # the docs' example pairs DOGEUSDT with baseAsset BLZ: the trader types the base
    assert (doge.native, doge.tick_size, doge.lot_size, doge.min_size, doge.min_notional, doge.max_leverage) == (
        "DOGEUSDT", D("0.0001"), D(1), D(1), D(1), 1)  # no bracket known: 1x, nothing assumed
    bnb = SPOTS["BNB/USDT"]
    assert (bnb.kind, bnb.tick_size, bnb.lot_size, bnb.min_size, bnb.min_notional) == (
        MarketKind.SPOT, D("0.01"), D("0.001"), D(1), D(5))  # spot's MIN_NOTIONAL says minNotional
    assert parse.rate_limits(payload("futures_exchangeInfo")) == (2400, 1200)
    assert parse.rate_limits(payload("spot_exchangeInfo")) == (6000, 6000)


def test_leverage_caps_come_from_the_brackets():
    brackets = [{"symbol": "BTCUSDT", "brackets": [{"bracket": 1, "initialLeverage": 125},
                                                   {"bracket": 2, "initialLeverage": "100"}]}]
    assert parse.max_leverage(brackets) == {"BTCUSDT": 125}


def test_balances_futures_totals_and_spot_at_mark():
    bal = parse.parse_balances(payload("futures_account_v4"), payload("spot_account"), {"BTC": D(2)}, ts_ms=5)
    assert (bal.account_value, bal.margin_used, bal.withdrawable) == (D("23.72469206"), 0, D("23.72469206"))
    btc = next(b for b in bal.spot if b.asset == "BTC")
    assert btc.total == D("4723846.89208129") and btc.usd_value == D("4723846.89208129") * 2
    ltc = next(b for b in bal.spot if b.asset == "LTC")
    assert ltc.usd_value is None  # no price known: not counted at zero, not guessed
    same = parse.parse_balances(payload("futures_v3_account_accountWithJoinMargin"), None, {}, ts_ms=5)
    assert same.account_value == bal.account_value and same.spot == ()


def test_positions_one_way_and_hedge_mode_is_told():
    oneway = payload("futures_positionRisk_oneway")
    assert parse.parse_positions(oneway, BY_PERP) == [] and not parse.hedge_mode(oneway)
    hedge = payload("futures_positionRisk_hedge")
    assert parse.hedge_mode(hedge)
    long, short = parse.parse_positions(hedge, BY_PERP)
    assert (long.symbol, long.size, long.entry_price, long.leverage, long.leverage_type) == (
        "BTC", D(20), D("6563.66500"), 10, "isolated")
    assert (long.margin_used, long.liquidation_price, long.unrealized_pnl) == (
        D("15517.54150468"), D("5930.78"), D("2316.83423560"))
    assert short.size == D(-10)


def test_orders_as_rest_answers_them():
    o = parse.parse_order(payload("futures_order_new"), BY_PERP)
    assert (o.symbol, o.side, o.size, o.status, o.order_id, o.client_id, o.order_type, o.trigger_price) == (
        "BTC", Side.BUY, D(10), OrderStatus.WAITING_TRIGGER, "22542179", "testOrder", OrderType.STOP, D(9300))
    assert o.price is None  # "0": no limit price
    gone = parse.parse_order(payload("futures_order_cancel"), BY_PERP)
    assert gone.status is OrderStatus.CANCELED and gone.updated_ms == 1571110484038
    [listed] = [parse.parse_order(x, BY_PERP) for x in payload("futures_openOrders")]
    assert (listed.size, listed.created_ms) == (D("0.40"), 1579276756075)


def test_fills_funding_and_cash_flows():
    [t] = [parse.parse_trade(x, BY_PERP, spot=False) for x in payload("futures_userTrades")]
    assert (t.fill_id, t.order_id, t.symbol, t.side, t.price, t.size, t.fee, t.realized_pnl, t.is_maker) == (
        "BTCUSDT:698759", "25851813", "BTC", Side.SELL, D("7819.01"), D("0.002"), D("0.07819010"),
        D("-0.91539999"), False)
    funding, flows = parse.parse_income(payload("futures_income"), BY_PERP)
    assert funding == []  # the fixture has a transfer and a commission (the commission is the fill's own)
    [flow] = flows
    assert (flow.kind, flow.amount, flow.tx_hash, flow.ts_ms) == (
        CashFlowKind.WITHDRAWAL, D("-0.375"), "9689322392", 1570608000000)
    rate = parse.parse_funding_rate(payload("futures_premiumIndex_single"), "BTC",
                                    parse.funding_intervals(payload("futures_fundingInfo")).get("BTCUSDT", 8))
    assert (rate.rate, rate.interval_hours, rate.next_ms, rate.mark) == (
        D("0.00038246"), 8, 1597392000000, D("11793.63104562"))
    assert parse.funding_intervals(payload("futures_fundingInfo")) == {"INJUSDT": 8, "ZORAUSDT": 4}


def test_book_and_candles():
    book = parse.parse_depth(payload("futures_depth"), "BTC", 0)
    assert (book.bids[0].price, book.bids[0].size, book.asks[0].price, book.ts_ms) == (
        D(4), D(431), D("4.000002"), 1589436922959)
    [c] = parse.parse_klines(payload("futures_klines"))
    assert (c.open_ms, c.open, c.high, c.low, c.close, c.volume) == (
        1499040000000, D("0.0163479"), D("0.8"), D("0.015758"), D("0.015771"), D("148976.11427815"))


def test_stream_events_orders_and_their_fills():
    ev = payload("ws_user_ORDER_TRADE_UPDATE")
    o = parse_order_event(ev["o"], ev["E"], BY_PERP)
    assert (o.symbol, o.side, o.status, o.order_id, o.client_id, o.trigger_price, o.order_type) == (
        "BTC", Side.SELL, OrderStatus.WAITING_TRIGGER, "8886774", "TEST", D("7103.04"), OrderType.STOP)
    assert parse_fill_event(ev["o"], BY_PERP, spot=False) is None  # x = NEW: no fill
    spot = payload("ws_spot_executionReport")
    o = parse_order_event(spot, spot["E"], BY_SPOT)
    assert (o.status, o.filled, o.tif, o.price) == (OrderStatus.PARTIALLY_FILLED, D("8.999"), TimeInForce.GTC,
                                                   D("19.1"))
    f = parse_fill_event(spot, BY_SPOT, spot=True)
    assert f is not None and (f.fill_id, f.size, f.price, f.fee, f.fee_asset, f.is_maker) == (
        "spot:ADA25SLP25:18", D(1), D("19.1"), D("0.00382"), "SLP25", True)


def test_error_bodies_map_by_code_and_keep_the_venues_words():
    body = error_body(b'{"code": -1121, "msg": "Invalid symbol."}')
    assert body is not None and is_error(body)
    err = map_error(body)
    assert isinstance(err, InvalidSymbolError) and err.raw == "Invalid symbol. (-1121)" and err.code == "-1121"
    assert isinstance(map_error({"code": -2013, "msg": "Order does not exist."}), OrderNotFoundError)
    assert isinstance(map_error({"code": -1003, "msg": "Too many requests."}), RateLimitError)
    assert not is_error(payload("futures_allOpenOrders_cancel"))  # {"code": "200", ...}: a success
    odd = map_error({"code": -9999, "msg": "Something new."})
    assert odd.raw == "Something new. (-9999)"  # never seen before: the venue's words, no crash
    assert error_body(b"<html>502</html>") is None


@pytest.mark.parametrize("name", ["futures_batchOrders"])
def test_a_batch_answer_is_an_order_or_its_own_error(name):
    ok, refused = payload(name)
    assert not is_error(ok) and parse.parse_order(ok, BY_PERP).order_id == "22542179"
    assert is_error(refused) and map_error(refused).raw == "ReduceOnly Order is rejected. (-2022)"


def test_stream_frames_quotes_and_control_answers():
    from exchanges.aster.stream import MarketFrames, UserFrames, quote_rows, stream_base

    [(sym, bid, ask, mark)] = quote_rows(payload("ws_futures_bookTicker"))
    assert (sym, bid, ask, mark) == ("BNBUSDT", D("25.3519"), D("25.3652"), None)
    marks = quote_rows([payload("ws_futures_markPriceUpdate")])  # `!markPrice@arr` sends a list
    assert marks == [("BTCUSDT", None, None, D("11794.15"))]
    assert MarketFrames().route(payload("ws_futures_subscribe_response")) is None  # {"result": null, "id": 1}
    env = {"stream": "btcusdt@bookTicker", "data": payload("ws_futures_bookTicker")}
    assert MarketFrames().route(env) == ("btcusdt@bookTicker", env["data"])
    expired = payload("ws_user_listenKeyExpired")
    assert UserFrames().route(expired) == ("listenKeyExpired", expired)
    assert UserFrames().route({"stream": "key", "data": expired}) == ("listenKeyExpired", expired)
    assert stream_base("wss://fstream.asterdex.com/ws") == stream_base("wss://fstream.asterdex.com/") == (
        "wss://fstream.asterdex.com")


@pytest.mark.parametrize(("name", "expected"), [
    ("futures_leverage", {"leverage": 21, "symbol": "BTCUSDT"}),
    ("futures_countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": "100000"}),
    ("futures_listenKey", {"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}),
])
def test_setter_answers_hold_what_the_adapter_reads(name, expected):
    body = payload(name)
    assert not is_error(body) and {k: body[k] for k in expected} == expected
