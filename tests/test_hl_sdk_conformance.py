"""The official hyperliquid-python-sdk, unchanged, against the emulator (it signs as testnet)."""

from __future__ import annotations

import eth_account
import pytest
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.types import Cloid

from tests.simproc import sim_process

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"


@pytest.fixture(scope="module")
def venue():
    with sim_process("--hyperliquid", "0", "--tick", "0") as urls:
        yield urls["hyperliquid"]


@pytest.fixture(scope="module")
def sdk(venue):
    info = Info(venue, skip_ws=True)
    info.user_state(ADDRESS)  # first sight funds the account
    ex = Exchange(eth_account.Account.from_key(KEY), venue)
    return info, ex


def test_meta_mids_and_book(sdk):
    info, _ = sdk
    meta = info.meta()
    assert [u["name"] for u in meta["universe"]][:3] == ["BTC", "ETH", "SOL"]
    assert meta["universe"][0]["szDecimals"] == 5
    mids = info.all_mids()
    assert mids["BTC"] == "100000.0" and "PURR/USDC" in mids and "@1" in mids
    book = info.l2_snapshot("BTC")
    bids, asks = book["levels"]
    assert float(bids[0]["px"]) < 100000 < float(asks[0]["px"]) and bids[0]["n"] >= 1
    assert info.name_to_asset("PURR/USDC") == 10000 and info.name_to_asset("HYPE/USDC") == 10001


def test_user_state_and_spot_state(sdk):
    info, _ = sdk
    state = info.user_state(ADDRESS)
    assert float(state["marginSummary"]["accountValue"]) == 100000.0 and state["assetPositions"] == []
    spot = info.spot_user_state(ADDRESS)
    assert spot["balances"][0]["coin"] == "USDC" and float(spot["balances"][0]["total"]) == 100000.0


def test_limit_order_query_modify_cancel(sdk):
    info, ex = sdk
    res = ex.order("ETH", True, 0.1, 3000.0, {"limit": {"tif": "Gtc"}})
    assert res["status"] == "ok", res
    oid = res["response"]["data"]["statuses"][0]["resting"]["oid"]
    assert [o["oid"] for o in info.open_orders(ADDRESS)] == [oid]
    q = info.query_order_by_oid(ADDRESS, oid)
    assert q["status"] == "order" and q["order"]["status"] == "open" and q["order"]["order"]["limitPx"] == "3000.0"
    mod = ex.modify_order(oid, "ETH", True, 0.2, 3100.0, {"limit": {"tif": "Gtc"}})  # sent as batchModify
    new_oid = mod["response"]["data"]["statuses"][0]["resting"]["oid"]
    assert mod["status"] == "ok" and new_oid != oid  # a modified order gets a new oid, as on the venue
    [moved] = info.open_orders(ADDRESS)
    assert moved["oid"] == new_oid
    assert moved["limitPx"] == "3100.0" and moved["sz"] == "0.2"
    cancel = ex.cancel("ETH", moved["oid"])
    assert cancel["response"]["data"]["statuses"] == ["success"]
    again = ex.cancel("ETH", moved["oid"])
    assert again["response"]["data"]["statuses"][0]["error"].startswith("Order was never placed")
    assert info.open_orders(ADDRESS) == []


def test_cloid_orders(sdk):
    info, ex = sdk
    cloid = Cloid.from_str("0x00000000000000000000000000000abc")
    res = ex.order("SOL", False, 1.0, 200.0, {"limit": {"tif": "Gtc"}}, cloid=cloid)
    assert res["response"]["data"]["statuses"][0]["resting"]["cloid"] == cloid.to_raw()
    q = info.query_order_by_cloid(ADDRESS, cloid)
    assert q["order"]["order"]["cloid"] == cloid.to_raw() and q["order"]["status"] == "open"
    assert ex.cancel_by_cloid("SOL", cloid)["response"]["data"]["statuses"] == ["success"]
    assert info.query_order_by_cloid(ADDRESS, cloid)["order"]["status"] == "canceled"
    missing = info.query_order_by_cloid(ADDRESS, Cloid.from_str("0x" + "f" * 32))
    assert missing == {"status": "unknownOid"}


def test_market_open_close_fills_and_leverage(sdk):
    info, ex = sdk
    assert ex.update_leverage(5, "BTC", is_cross=True) == {"status": "ok", "response": {"type": "default"}}
    opened = ex.market_open("BTC", True, 0.01)
    filled = opened["response"]["data"]["statuses"][0]["filled"]
    assert filled["totalSz"] == "0.01" and float(filled["avgPx"]) > 100000
    state = info.user_state(ADDRESS)
    [pos] = state["assetPositions"]
    assert pos["position"]["coin"] == "BTC" and pos["position"]["szi"] == "0.01"
    assert pos["position"]["leverage"] == {"type": "cross", "value": 5}
    closed = ex.market_close("BTC")
    assert closed["response"]["data"]["statuses"][0]["filled"]["totalSz"] == "0.01"
    fills = info.user_fills(ADDRESS)
    assert [f["dir"] for f in fills[:2]] == ["Close Long", "Open Long"]  # newest first
    assert all(f["coin"] == "BTC" and f["feeToken"] == "USDC" for f in fills[:2])


def test_isolated_margin_position_and_update(sdk):
    info, ex = sdk
    refused = ex.update_isolated_margin(100, "SOL")  # no position yet
    assert refused == {"status": "err", "response": "Position does not use isolated margin."}
    assert ex.update_leverage(10, "SOL", is_cross=False)["status"] == "ok"
    opened = ex.market_open("SOL", True, 10)["response"]["data"]["statuses"][0]["filled"]
    pos = next(p["position"] for p in info.user_state(ADDRESS)["assetPositions"] if p["position"]["coin"] == "SOL")
    lev = pos["leverage"]
    assert (lev["type"], lev["value"]) == ("isolated", 10)
    notional = 10 * float(opened["avgPx"])
    assert abs(float(lev["rawUsd"]) - (notional / 10 - notional)) < 1e-6  # margin in, contracts paid for
    assert abs(float(pos["marginUsed"]) - (float(lev["rawUsd"]) + float(pos["positionValue"]))) < 1e-6
    assert ex.update_isolated_margin(25, "SOL") == {"status": "ok", "response": {"type": "default"}}
    after = next(p["position"] for p in info.user_state(ADDRESS)["assetPositions"] if p["position"]["coin"] == "SOL")
    assert abs(float(after["leverage"]["rawUsd"]) - float(lev["rawUsd"]) - 25) < 1e-6
    assert float(after["liquidationPx"]) < float(pos["liquidationPx"])  # more margin: further away
    assert ex.market_close("SOL")["status"] == "ok"


def test_errors_in_the_venues_words(sdk):
    _, ex = sdk
    tick = ex.order("BTC", True, 0.01, 95000.5, {"limit": {"tif": "Gtc"}})
    assert tick["response"]["data"]["statuses"][0]["error"] == "Price must be divisible by tick size. asset=0"
    small = ex.order("BTC", True, 0.00001, 95000.0, {"limit": {"tif": "Gtc"}})
    assert small["response"]["data"]["statuses"][0]["error"] == "Order must have minimum value of $10. asset=0"
    ioc = ex.order("BTC", True, 0.01, 90000.0, {"limit": {"tif": "Ioc"}})
    assert ioc["response"]["data"]["statuses"][0]["error"].startswith("Order could not immediately match")
    alo = ex.order("BTC", True, 0.01, 110000.0, {"limit": {"tif": "Alo"}})
    assert alo["response"]["data"]["statuses"][0]["error"].startswith("Post only order would have immediately")
    ro = ex.order("ETH", True, 0.1, 3000.0, {"limit": {"tif": "Gtc"}}, reduce_only=True)
    assert ro["response"]["data"]["statuses"][0]["error"] == "Reduce only order would increase position. asset=1"


def test_a_wrong_key_or_network_is_refused(venue):
    stranger = Exchange(eth_account.Account.create(), venue)
    res = stranger.order("BTC", True, 0.01, 90000.0, {"limit": {"tif": "Gtc"}})
    assert res["status"] == "err" and res["response"].startswith("User or API Wallet 0x")
    assert res["response"].endswith("does not exist.")


def test_non_funding_ledger_updates(sdk, venue):
    import json
    import time
    import urllib.request

    info, _ = sdk
    since = int(time.time() * 1000) - 1
    for body in ({"type": "deposit", "usdc": "500"}, {"type": "withdraw", "usdc": "99", "fee": "1"},
                 {"type": "accountClassTransfer", "usdc": "12", "toPerp": False}):
        req = urllib.request.Request(f"{venue}/_sim/transfer", json.dumps({"user": ADDRESS, **body}).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:  # the emulator's control route: loopback only
            assert json.loads(r.read())["ok"]
    rows = info.user_non_funding_ledger_updates(ADDRESS, since)
    assert [r["delta"] for r in rows] == [
        {"type": "deposit", "usdc": "500.0"}, {"type": "withdraw", "usdc": "99.0", "nonce": rows[1]["time"],
                                               "fee": "1.0"},
        {"type": "accountClassTransfer", "usdc": "12.0", "toPerp": False}]
    assert all(r["hash"].startswith("0x") and len(r["hash"]) == 66 for r in rows)
    first = rows[0]["time"]
    assert info.user_non_funding_ledger_updates(ADDRESS, since, first) == [r for r in rows if r["time"] <= first]
    assert info.user_non_funding_ledger_updates(ADDRESS, rows[-1]["time"] + 1) == []
