"""Every recorded Hyperliquid payload parses into the right models (real values from the files)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from exchanges.errors import AuthenticationError, InsufficientBalanceError, InvalidOrderError, OrderNotFoundError
from exchanges.hyperliquid import parse
from exchanges.hyperliquid.errors import map_error
from exchanges.models import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from tests.conftest import FIXTURES, fixture

META = parse.parse_perp_markets(fixture("hyperliquid/info/meta_recomma_2025_head.json")["response_head"])
BY_COIN = parse.market_by_coin(META)


def test_clearinghouse_state_testnet():
    ch = fixture("hyperliquid/info/clearinghouseState_testnet_2026.json")["response"]
    spot = fixture("hyperliquid/info/spotClearinghouseState_testnet_2026.json")["response"]
    bal = parse.parse_balances(ch, spot, {})
    assert (bal.account_value, bal.margin_used, bal.withdrawable) == (D("27.238902"), D("12.783463"), D("0.059593"))
    assert [(b.asset, b.total, b.available, b.usd_value) for b in bal.spot] == [
        ("USDC", D("985.710641"), D("985.710641") - D("25.184884"), D("985.710641"))]  # TZERO 0.0 is dropped
    sol, btc = parse.parse_positions(ch, BY_COIN)
    assert (sol.symbol, sol.size, sol.entry_price, sol.leverage, sol.liquidation_price) == (
        "SOL", D("0.13"), D("86.532"), 10, None)
    assert sol.mark_price == D("11.27698") / D("0.13") and sol.unrealized_pnl == D("0.02782")
    assert (btc.size, btc.entry_price, btc.margin_used, btc.funding) == (
        D("0.00297"), D("80516.4"), D("11.655765"), D("-3.156945"))


def test_isolated_position():
    [eth] = parse.parse_positions(fixture("hyperliquid/info/clearinghouseState_isolated_docs.json")["response"], {})
    assert (eth.symbol, eth.leverage_type, eth.leverage, eth.liquidation_price) == (
        "ETH", "isolated", 20, D("2866.26936529"))


def test_frontend_open_orders():
    orders = [parse.parse_order(o, BY_COIN)
              for o in fixture("hyperliquid/info/frontendOpenOrders_testnet_2026.json")["response"]]
    assert [(o.symbol, o.side, o.price, o.size, o.order_id, o.tif, o.status) for o in orders] == [
        ("BTC", Side.BUY, D("69711.0"), D("0.00039"), "53244219349", TimeInForce.GTC, OrderStatus.OPEN),
        ("BTC", Side.BUY, D("70806.0"), D("0.00039"), "53244216266", TimeInForce.GTC, OrderStatus.OPEN)]


def test_order_status_found_and_missing():
    doc = fixture("hyperliquid/info/orderStatus_docs.json")
    o = parse.parse_order_status(doc["response_found"], {})
    assert (o.symbol, o.side, o.status, o.size, o.filled, o.reduce_only, o.order_type) == (
        "ETH", Side.SELL, OrderStatus.FILLED, D("0.0076"), D("0.0076"), True, OrderType.MARKET)
    assert parse.parse_order_status(doc["response_missing"], {}) is None


def test_user_fills_including_spot_and_builder_fee():
    [fill] = [parse.parse_fill(f, BY_COIN) for f in fixture("hyperliquid/info/userFills_testnet_2026.json")["response"]]
    assert (fill.fill_id, fill.order_id, fill.price, fill.size, fill.fee, fill.is_maker) == (
        "42195709352155", "52998490771", D("80942.0"), D("0.00246"), D("0.089602"), False)
    avax, spot = [parse.parse_fill(f, {}) for f in fixture("hyperliquid/info/userFills_docs_variants.json")["response"]]
    assert avax.is_maker and avax.symbol == "AVAX"
    assert (spot.symbol, spot.side, spot.realized_pnl) == ("@107", Side.SELL, D("8722.988077"))


def test_book_candles_funding_rate_limit():
    book = parse.parse_book(fixture("hyperliquid/info/l2Book_docs.json")["response"], "BTC")
    assert (book.bids[0].price, book.bids[0].size, book.asks[0].price) == (D("113377.0"), D("7.6699"), D("113397.0"))
    [c] = parse.parse_candles(fixture("hyperliquid/info/candleSnapshot_docs.json")["response"])
    assert (c.open_ms, c.open, c.high, c.low, c.close, c.volume) == (
        1681923600000, D("29295.0"), D("29309.0"), D("29250.0"), D("29258.0"), D("0.98639"))
    [f] = [parse.parse_funding(x, {}) for x in fixture("hyperliquid/info/userFunding_docs.json")["response"]]
    assert (f.symbol, f.amount, f.rate, f.position_size) == ("ETH", D("-3.625312"), D("0.0000417"), D("49.1477"))


def test_spot_meta_and_ctxs():
    spot = parse.parse_spot_markets(fixture("hyperliquid/info/spotMetaAndAssetCtxs_docs.json")["response"][0])
    assert "PURR/USDC" in spot and spot["PURR/USDC"].asset_id == 10000
    meta, ctxs = fixture("hyperliquid/info/metaAndAssetCtxs_docs.json")["response"]
    perps = parse.parse_perp_markets(meta)
    assert perps["ETH"].max_leverage == 50 and D(ctxs[1]["markPx"]) == D("6.0436")


REQ = OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.02"), D(1900), client_id="0x" + "0" * 32)


def test_order_responses():
    filled = fixture("hyperliquid/exchange/order_filled_docs.json")["response"]["response"]["data"]["statuses"][0]
    o = parse.order_from_status(REQ, filled, 1)
    assert (o.status, o.order_id, o.filled, o.avg_price) == (OrderStatus.FILLED, "77747314", D("0.02"), D("1891.4"))
    resting = fixture("hyperliquid/exchange/order_resting_docs.json")["response"]["response"]["data"]["statuses"][0]
    assert parse.order_from_status(REQ, resting, 1).order_id == "77738308"
    two = fixture("hyperliquid/exchange/order_two_resting_testnet.json")["response"]["response"]["data"]["statuses"]
    assert [s["resting"]["oid"] for s in two] == [53244215259, 53244215260]
    err = fixture("hyperliquid/exchange/order_error_min_value_docs.json")["response"]["response"]["data"]["statuses"]
    with pytest.raises(InvalidOrderError, match=r"minimum value of \$10"):
        parse.order_from_status(REQ, err[0], 1)
    tpsl = fixture("hyperliquid/exchange/normalTpsl_filled_waitingForTrigger_ccxt.json")["response"]
    statuses = tpsl["response"]["data"]["statuses"]
    assert parse.order_from_status(REQ, statuses[0], 1).filled == D("1.0") and statuses[1:] == [
        "waitingForTrigger", "waitingForTrigger"]


def test_error_envelopes_map_into_the_hierarchy():
    doc = fixture("hyperliquid/exchange/err_envelopes_from_issues.json")
    kinds = [type(map_error(e["response"])) for e in doc["examples"] if e["status"] == "err"]
    assert kinds[0] is AuthenticationError and kinds[1] is AuthenticationError and kinds[3] is AuthenticationError
    assert isinstance(map_error("Insufficient margin to place order. asset=15"), InsufficientBalanceError)
    cancel = fixture("hyperliquid/exchange/cancel_errors_testnet.json")["response"]["response"]["data"]["statuses"]
    assert isinstance(map_error(cancel[0]["error"]), OrderNotFoundError)
    modify = fixture("hyperliquid/exchange/modify_err_unknown_oid_testnet.json")["response"]["response"]
    assert isinstance(map_error(modify), OrderNotFoundError)
    for s in doc["per_order_error_strings_seen"]:
        err = map_error(s)
        assert err.raw == s  # the venue's words are kept


def _cassettes():
    return sorted((FIXTURES / "hyperliquid" / "sdk_cassettes").glob("*.json"))


@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: p.stem)
def test_every_sdk_cassette_parses(path):
    doc = json.loads(path.read_text())
    body, resp = doc["request"]["body"], doc["response"]
    kind = body.get("type")
    if kind == "meta":
        markets = parse.parse_perp_markets(resp)
        assert markets["BTC"].asset_id == 0 and markets["BTC"].lot_size == D("0.00001")
    elif kind == "clearinghouseState":
        positions = parse.parse_positions(resp, {})
        assert all(p.size != 0 and p.entry_price > 0 for p in positions)
        value = parse.parse_balances(resp, {"balances": []}, {}).account_value
        assert value == D(resp["marginSummary"]["accountValue"])
    elif kind in ("openOrders", "frontendOpenOrders"):
        orders = [parse.parse_order(o, {}) for o in resp]
        assert orders and all(o.order_id and o.size > 0 for o in orders)
    elif kind in ("userFills", "userFillsByTime"):
        fills = [parse.parse_fill(f, {}) for f in resp]
        assert fills and all(f.price > 0 and f.size > 0 for f in fills)
        assert fills[0].price == D(resp[0]["px"])
    elif kind == "userFunding":
        pays = [parse.parse_funding(x, {}) for x in resp]
        assert all(p.amount == D(x["delta"]["usdc"]) for p, x in zip(pays, resp, strict=True))
    elif kind == "l2Book":
        book = parse.parse_book(resp, body["coin"])
        assert book.bids[0].price < book.asks[0].price
    elif kind == "candleSnapshot":
        candles = parse.parse_candles(resp)
        assert all(c.low <= c.open <= c.high for c in candles)
    elif kind == "allMids":
        mids = parse.parse_mids(resp, {"BTC": META["BTC"]})
        assert mids["BTC"] == D(resp["BTC"])
    elif kind == "userNonFundingLedgerUpdates":
        flows = parse.parse_ledger_updates(resp, body["user"])
        assert len(flows) <= len(resp) and all(f.ts_ms > 0 and f.tx_hash for f in flows)
    elif kind == "userRateLimit":  # what /status shows of the address budget
        assert int(resp["nRequestsCap"]) >= int(resp["nRequestsUsed"]) >= 0
    else:
        pytest.skip(f"{kind}: not a payload the bot reads")


def test_a_liquidation_is_read_from_its_fill_which_names_the_market():
    fills = fixture("hyperliquid/ccxt/ccxt_static_responses_hyperliquid_curated.json")["responses"][
        "fetchMyTrades_userFills_with_builderFee_and_liquidation"]
    plain, liquidated = fills
    assert parse.parse_liquidation(plain, {}) is None
    liq = parse.parse_liquidation(liquidated, {})
    assert liq is not None and (liq.symbol, liq.size, liq.price, liq.ts_ms) == ("HYPE", D("5.2"), D("21.147"),
                                                                                1768931202995)
    fill = parse.parse_fill(liquidated, {})
    assert fill.liquidation and fill.position_after == 0 and fill.realized_pnl == D("-46.0356")
