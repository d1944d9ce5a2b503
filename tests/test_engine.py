"""Matching engine: every expected number here was computed by hand (see the comments)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.models import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from sim.engine import Engine, Reject, SimFill, SimFunding, SimLiquidation
from sim.markets import default_markets, starting_prices

TAKER, MAKER = D("0.00045"), D("0.00015")


@pytest.fixture
def engine(clock) -> Engine:
    e = Engine(default_markets("sim"), starting_prices(), clock=clock)
    e.fund("alice", D(1000))
    return e


def req(side: Side, size: str, price: str | None = None, **kw) -> OrderRequest:
    return OrderRequest("sim", kw.pop("symbol", "BTC"), side, D(size), D(price) if price else None, **kw)


def at(engine: Engine, price: str, bids=(), asks=(), symbol: str = "BTC") -> None:
    engine.set_price(symbol, D(price))
    engine.set_liquidity(symbol, [(D(p), D(s)) for p, s in bids], [(D(p), D(s)) for p, s in asks])


def test_market_buy_sweeps_three_levels_with_average_and_fee(engine):
    engine.fund("alice", D(100_000))
    at(engine, "100000", bids=[("99990", "1")], asks=[("100010", "0.1"), ("100020", "0.2"), ("100050", "0.3")])
    events = []
    engine.subscribe(lambda kind, payload: events.append((kind, payload)))
    o = engine.place("alice", req(Side.BUY, "0.5", slippage=D("0.0005")))  # cap 100000 * 1.0005 = 100050
    fills = [p for k, p in events if k == "fill"]
    assert [(f.price, f.size) for f in fills] == [(D(100010), D("0.1")), (D(100020), D("0.2")), (D(100050), D("0.2"))]
    # notional 10001 + 20004 + 20010 = 50015; avg 50015 / 0.5 = 100030; fee 50015 * 0.00045 = 22.50675
    assert o.status is OrderStatus.FILLED and o.avg_price == D(100030)
    assert sum(f.fee for f in fills) == D("22.50675")
    assert all(f.crossed for f in fills)
    assert engine.books["BTC"].synth_asks[2].size == D("0.1")  # the third level was only partly taken
    assert [k for k, _ in events] == ["fill", "fill", "fill", "order"]


def test_market_buy_partial_fill_when_liquidity_runs_out(engine):
    engine.fund("alice", D(100_000))
    at(engine, "100000", asks=[("100010", "0.1"), ("100020", "0.2"), ("100050", "0.3"), ("101000", "5")])
    o = engine.place("alice", req(Side.BUY, "0.7", slippage=D("0.0005")))  # only 0.6 inside the 100050 cap
    assert o.status is OrderStatus.CANCELED and o.reason == "ioc"
    assert o.filled == D("0.6")
    assert o.avg_price == D("60020") / D("0.6")  # (10001 + 20004 + 30015) / 0.6
    assert engine.positions_view("alice")[0].size == D("0.6")


def test_limit_partially_fills_then_rests_and_fills_as_maker_when_price_crosses(engine):
    engine.fund("alice", D(100_000))
    at(engine, "100000", asks=[("100010", "0.1"), ("100020", "0.2"), ("100050", "0.3")])
    o = engine.place("alice", req(Side.BUY, "0.5", "100020"))
    assert (o.status, o.filled) == (OrderStatus.OPEN, D("0.3"))
    assert engine.open_orders("alice") == [o]
    engine.set_price("BTC", D("99000"))  # synthetic asks now start near 99010, below our 100020 bid
    assert (o.status, o.filled) == (OrderStatus.FILLED, D("0.5"))
    last = engine.fills["alice"][-1]
    # the remainder fills at our own limit, as maker: 0.2 * 100020 * 0.00015 = 3.0006
    assert (last.price, last.size, last.crossed, last.fee) == (D(100020), D("0.2"), False, D("3.0006"))


def test_resting_limit_filled_when_price_crosses(engine):
    o = engine.place("alice", req(Side.BUY, "0.01", "99000"))
    assert o.status is OrderStatus.OPEN and o.filled == 0
    engine.set_price("BTC", D("99100"))  # best synthetic ask 99110: does not reach 99000
    assert o.status is OrderStatus.OPEN
    engine.set_price("BTC", D("98900"))  # best synthetic ask 98910 <= 99000
    assert o.status is OrderStatus.FILLED
    f = engine.fills["alice"][-1]
    assert (f.price, f.size, f.fee) == (D(99000), D("0.01"), D("0.1485"))  # 990 * 0.00015
    assert engine.accounts["alice"].collateral == D("999.8515")
    pos = engine.positions_view("alice")[0]
    assert (pos.size, pos.entry) == (D("0.01"), D(99000))


def test_reduce_only_never_flips_a_position(engine):
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    o = engine.place("alice", req(Side.SELL, "0.3", reduce_only=True))
    assert o.filled == D("0.1") and o.status is OrderStatus.CANCELED
    assert engine.positions_view("alice") == []  # flat, not short 0.2
    with pytest.raises(Reject) as exc:
        engine.place("alice", req(Side.SELL, "0.1", reduce_only=True))
    assert exc.value.code == "REDUCE_ONLY" and exc.value.message == "Reduce only order would increase position."


def test_reduce_only_resting_order_is_cancelled_when_position_closes(engine):
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    tp = engine.place("alice", req(Side.SELL, "0.1", "60000", reduce_only=True))
    engine.place("alice", req(Side.SELL, "0.1"))  # closed by hand
    assert (tp.status, tp.reason) == (OrderStatus.CANCELED, "reduce_only")


def test_leveraged_long_pnl_margin_and_liquidation_price(engine):
    engine.set_leverage("alice", "BTC", 10)
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    acct = engine.accounts["alice"]
    assert acct.collateral == D("997.75")  # 1000 - 5000 * 0.00045
    at(engine, "52000", bids=[("52000", "5")], asks=[("52000", "5")])
    pos = engine.positions_view("alice")[0]
    assert pos.unrealized_pnl == D(200)  # (52000 - 50000) * 0.1
    assert engine.account_value("alice") == D("1197.75")
    assert pos.margin_used == D(520)  # 5200 / 10
    # cross liquidation: (entry * size - collateral) / (size * (1 - 1/(2*40))) = 4002.25 / 0.09875
    assert pos.liquidation_price == D("4002.25") / D("0.09875")
    engine.place("alice", req(Side.SELL, "0.1"))
    # realized 200, fee 5200 * 0.00045 = 2.34
    assert acct.collateral == D("997.75") + D(200) - D("2.34")
    assert engine.fills["alice"][-1].closed_pnl == D(200)


def test_leveraged_short_pnl_and_liquidation_price(engine):
    engine.set_leverage("alice", "BTC", 5)
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.SELL, "0.1"))
    pos = engine.positions_view("alice")[0]
    assert (pos.size, pos.entry, pos.leverage) == (D("-0.1"), D(50000), 5)
    # (account value + mark * |size|) / (|size| * (1 + 1/80)) = (997.75 + 5000) / 0.10125
    assert pos.liquidation_price == D("5997.75") / D("0.10125")
    at(engine, "48000", bids=[("48000", "5")], asks=[("48000", "5")])
    assert engine.positions_view("alice")[0].unrealized_pnl == D(200)


def test_liquidation_at_the_computed_price(engine):
    engine.set_leverage("alice", "BTC", 10)
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    resting = engine.place("alice", req(Side.SELL, "0.1", "70000", reduce_only=True))
    events = []
    engine.subscribe(lambda kind, payload: events.append(payload))
    engine.set_price("BTC", D("40530"))  # value 50.75 > maintenance 50.6625: still alive
    assert engine.positions_view("alice")
    engine.set_price("BTC", D("40520"))  # value 49.75 < maintenance 50.65: liquidated at mark
    assert engine.positions_view("alice") == []
    liq = [e for e in events if isinstance(e, SimLiquidation)]
    assert [(x.symbol, x.size, x.price) for x in liq] == [("BTC", D("0.1"), D(40520))]
    fill = [e for e in events if isinstance(e, SimFill)][-1]
    assert fill.liquidation and fill.closed_pnl == D(-948)  # (40520 - 50000) * 0.1
    assert resting.status is OrderStatus.CANCELED and resting.reason in ("liquidation", "reduce_only")


def test_funding_longs_pay_shorts(engine):
    engine.fund("bob", D(1000))
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    engine.place("bob", req(Side.SELL, "0.1"))
    engine.apply_funding("BTC", D("0.0001"))  # 0.1 * 50000 * 0.0001 = 0.5
    assert engine.accounts["alice"].collateral == D("997.75") - D("0.5")
    assert engine.accounts["bob"].collateral == D("997.75") + D("0.5")
    assert engine.fundings["alice"] == [SimFunding("alice", "BTC", D("-0.5"), D("0.1"), D("0.0001"), engine.clock())]
    assert engine.positions_view("bob")[0].funding == D("0.5")


def test_post_only_rejected_when_crossing_and_rests_otherwise(engine):
    at(engine, "50000", bids=[("49990", "1")], asks=[("50010", "1")])
    with pytest.raises(Reject) as exc:
        engine.place("alice", req(Side.BUY, "0.01", "50010", tif=TimeInForce.ALO))
    assert exc.value.code == "POST_ONLY"
    assert "bbo was 49990@50010" in exc.value.message
    o = engine.place("alice", req(Side.BUY, "0.01", "50000", tif=TimeInForce.ALO))
    assert o.status is OrderStatus.OPEN


def test_ioc_without_match_is_rejected_and_recorded(engine):
    at(engine, "50000", bids=[("49990", "1")], asks=[("50010", "1")])
    with pytest.raises(Reject) as exc:
        engine.place("alice", req(Side.BUY, "0.01", "50000", tif=TimeInForce.IOC, client_id="c1"))
    assert exc.value.code == "IOC_NO_MATCH"
    assert engine.find("alice", cloid="c1").status is OrderStatus.REJECTED
    with pytest.raises(Reject) as dup:
        engine.place("alice", req(Side.BUY, "0.01", "50000", client_id="c1"))
    assert dup.value.code == "DUPLICATE_CLOID"


def test_validation_errors_use_the_venue_words(engine):
    cases = [
        (req(Side.BUY, "0.01", "50000.5"), "TICK", "Price must be divisible by tick size."),
        (req(Side.BUY, "0.000001", "50000"), "SIZE", "Order has invalid size."),
        (req(Side.BUY, "0.0001", "50000"), "MIN_NOTIONAL", "Order must have minimum value of $10."),
        (req(Side.BUY, "1", "50000"), "MARGIN", "Insufficient margin to place order."),  # 50000/20 > 1000
        (req(Side.BUY, "1", "5", symbol="XYZ"), "UNKNOWN_MARKET", "Unknown market XYZ"),
    ]
    for r, code, msg in cases:
        with pytest.raises(Reject) as exc:
            engine.place("alice", r)
        assert (exc.value.code, exc.value.message) == (code, msg)


def test_margin_check_counts_leverage_at_the_limit(engine):
    engine.set_leverage("alice", "BTC", 10)
    at(engine, "50000", bids=[("49990", "1")], asks=[("50010", "1")])
    engine.place("alice", req(Side.BUY, "0.2", "49000"))  # 9800 / 10 = 980 of 1000 reserved
    engine.place("alice", req(Side.BUY, "0.004", "50000"))  # 200 / 10 = 20: exactly what is left
    assert engine.available_margin("alice") == 0
    with pytest.raises(Reject) as exc:
        engine.place("alice", req(Side.BUY, "0.0002", "50000"))  # 1 more
    assert exc.value.code == "MARGIN"


def test_stop_loss_and_take_profit_triggers(engine):
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    sl = engine.place("alice", req(Side.SELL, "0.1", order_type=OrderType.STOP, trigger_price=D(49000),
                                   reduce_only=True))
    tp = engine.place("alice", req(Side.SELL, "0.1", order_type=OrderType.TAKE_PROFIT, trigger_price=D(52000),
                                   reduce_only=True))
    assert sl.status is OrderStatus.WAITING_TRIGGER and tp.status is OrderStatus.WAITING_TRIGGER
    engine.set_price("BTC", D(49500))
    assert sl.status is OrderStatus.WAITING_TRIGGER
    engine.set_price("BTC", D(48900))  # sell stop fires on the way down, fills near the synthetic bid
    assert sl.status is OrderStatus.FILLED and sl.avg_price < D(48900)
    assert engine.positions_view("alice") == []
    assert tp.status is OrderStatus.CANCELED  # no position left to take profit on


def test_attached_tp_sl_arm_when_parent_fills_and_cancel_each_other(engine):
    at(engine, "50000", bids=[("49990", "5")], asks=[("50010", "5")])
    parent = engine.place("alice", req(Side.BUY, "0.1", "49000", take_profit=D(51000), stop_loss=D(48000)))
    children = [o for o in engine.open_orders("alice") if o.parent_oid == parent.oid]
    assert len(children) == 2 and parent.status is OrderStatus.OPEN
    engine.set_price("BTC", D(51500))  # would fire the TP, but the parent has not filled: nothing happens
    assert all(c.status is OrderStatus.WAITING_TRIGGER for c in children)
    engine.set_price("BTC", D(48900))  # parent fills at 49000; children armed; SL not reached yet
    assert parent.status is OrderStatus.FILLED
    tp = next(c for c in children if c.tpsl == "tp")
    sl = next(c for c in children if c.tpsl == "sl")
    engine.set_price("BTC", D(51100))
    assert tp.status is OrderStatus.FILLED
    assert (sl.status, sl.reason) in ((OrderStatus.CANCELED, "sibling_filled"), (OrderStatus.CANCELED, "reduce_only"))


def test_spot_buy_moves_balances(engine):
    engine.fund("alice", D(100), "USDC", spot=True)
    at(engine, "0.2", asks=[("0.2", "1000")], symbol="PURR/USDC")
    engine.place("alice", req(Side.BUY, "100", symbol="PURR/USDC"))
    spot = engine.accounts["alice"].spot
    assert spot["PURR"] == D(100)
    assert spot["USDC"] == D(100) - D(20) - D("0.009")  # 20 * 0.00045
    with pytest.raises(Reject) as exc:
        engine.place("alice", req(Side.SELL, "101", "0.3", symbol="PURR/USDC"))
    assert exc.value.code == "SPOT_BALANCE"


def test_cancel_and_unknown_order(engine):
    o = engine.place("alice", req(Side.BUY, "0.01", "90000", client_id="abc"))
    engine.cancel("alice", cloid="abc")
    assert o.status is OrderStatus.CANCELED and engine.open_orders("alice") == []
    with pytest.raises(Reject) as exc:
        engine.cancel("alice", oid=o.oid)
    assert exc.value.message == "Order was never placed, already canceled, or filled."
    assert engine.find("bob", oid=o.oid) is None  # another account cannot see it


def test_modify_gets_a_new_oid_and_keeps_the_client_id(engine):
    o = engine.place("alice", req(Side.BUY, "0.01", "90000", client_id="m1"))
    new = engine.modify("alice", req(Side.BUY, "0.02", "91000", client_id="m1"), oid=o.oid)
    assert new.oid != o.oid and o.status is OrderStatus.CANCELED and o.reason == "modified"
    assert engine.find("alice", cloid="m1") is new and new.price == D(91000)


def test_dead_man_switch_cancels_everything_when_due(engine, clock):
    engine.place("alice", req(Side.BUY, "0.01", "90000"))
    engine.schedule_cancel("alice", clock() + 5000)
    clock.advance(4999)
    engine.run_scheduled_cancels()
    assert engine.open_orders("alice")
    clock.advance(1)
    engine.run_scheduled_cancels()
    assert engine.open_orders("alice") == []


def test_price_walk_is_deterministic_per_seed():
    def path(seed):
        e = Engine(default_markets("sim"), starting_prices(), seed=seed)
        e.step(50)
        return dict(e.mids)

    assert path(7) == path(7)
    assert path(7) != path(8)


def test_market_order_with_empty_book_says_no_liquidity(engine):
    at(engine, "50000", bids=[("49990", "1")], asks=[])
    with pytest.raises(Reject) as exc:
        engine.place("alice", req(Side.BUY, "0.01"))
    assert (exc.value.code, exc.value.message) == ("NO_LIQUIDITY", "No liquidity available for market order.")


def test_isolated_long_margin_pnl_and_liquidation_price(engine):
    engine.set_leverage("alice", "BTC", 10, cross=False)
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    acct = engine.accounts["alice"]
    pos = acct.positions["BTC"]
    # margin 5000 / 10 = 500 leaves the collateral; fee 5000 * 0.00045 = 2.25
    assert acct.collateral == D("497.75")
    assert pos.raw_usd == D(-4500)  # 500 margin - 5000 paid for the contracts
    assert engine.account_value("alice") == D("997.75") and engine.withdrawable("alice") == D("497.75")
    view = engine.positions_view("alice")[0]
    # equity -4500 + 0.1 * mark = maintenance 0.1 * mark / 80  ->  mark = 4500 / (0.1 * (1 - 1/80))
    assert (view.cross, view.margin_used, view.liquidation_price) == (False, D(500), D(4500) / D("0.09875"))
    at(engine, "52000", bids=[("52000", "5")], asks=[("52000", "5")])
    view = engine.positions_view("alice")[0]
    assert (view.unrealized_pnl, view.margin_used) == (D(200), D(700))  # its equity: -4500 + 5200
    assert engine.account_value("alice") == D("1197.75") and engine.cross_account_value("alice") == D("497.75")
    assert view.liquidation_price == D(4500) / D("0.09875")  # a cross profit elsewhere would not move it

    engine.update_isolated_margin("alice", "BTC", D(100))
    assert (pos.raw_usd, acct.collateral) == (D(-4400), D("397.75"))
    assert engine.positions_view("alice")[0].liquidation_price == D(4400) / D("0.09875")

    engine.place("alice", req(Side.SELL, "0.05"))
    # half the position hands back half its equity: 0.5 * (-4400 + 5200) = 400; fee 2600 * 0.00045 = 1.17
    assert acct.collateral == D("397.75") + D(400) - D("1.17")
    assert pos.raw_usd == D(-2200) and engine.fills["alice"][-1].closed_pnl == D(100)
    assert engine.account_value("alice") == D("1197.75") - D("1.17")
    engine.place("alice", req(Side.SELL, "0.05"))
    assert "BTC" not in acct.positions and acct.collateral == D("1197.75") - D("1.17") - D("1.17")


def test_isolated_position_is_liquidated_alone(engine):
    engine.set_leverage("alice", "BTC", 10, cross=False)
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    engine.place("alice", req(Side.BUY, "0.1"))
    at(engine, "3500", bids=[("3500", "5")], asks=[("3500", "5")], symbol="ETH")
    engine.place("alice", req(Side.BUY, "1", symbol="ETH"))  # cross, 20x: fee 1.575
    acct = engine.accounts["alice"]
    assert acct.collateral == D("497.75") - D("1.575")
    engine.set_price("BTC", D(45600))  # equity -4500 + 4560 = 60 >= maintenance 4560 / 80 = 57
    assert "BTC" in acct.positions
    engine.set_price("BTC", D(45560))  # equity 56 < 56.95: the BTC position goes, at mark, without a fee
    assert "BTC" not in acct.positions and "ETH" in acct.positions
    assert acct.collateral == D("496.175") + D(56)  # what was left in it comes back
    assert engine.fills["alice"][-1].liquidation and engine.fills["alice"][-1].closed_pnl == D(-444)


def test_isolated_margin_rules(engine):
    at(engine, "50000", bids=[("50000", "5")], asks=[("50000", "5")])
    with pytest.raises(Reject, match=r"Position does not use isolated margin\."):
        engine.update_isolated_margin("alice", "BTC", D(10))  # no position
    engine.place("alice", req(Side.BUY, "0.01"))  # cross
    with pytest.raises(Reject, match=r"Position does not use isolated margin\."):
        engine.update_isolated_margin("alice", "BTC", D(10))
    with pytest.raises(Reject, match=r"Cannot switch leverage type with open position\."):
        engine.set_leverage("alice", "BTC", 10, cross=False)
    engine.place("alice", req(Side.SELL, "0.01"))
    engine.set_leverage("alice", "BTC", 10, cross=False)  # flat: fine
    engine.place("alice", req(Side.BUY, "0.1"))
    with pytest.raises(Reject):  # 500 of margin carries 5000 at 10x: none can come out
        engine.update_isolated_margin("alice", "BTC", D(-1))
    with pytest.raises(Reject):  # more than the cross side has free
        engine.update_isolated_margin("alice", "BTC", D(10_000))
    engine.apply_funding("BTC", D("0.0001"))  # paid from the position's own USD: 5000 * 0.0001 = 0.5
    pos = engine.accounts["alice"].positions["BTC"]
    assert pos.raw_usd == D("-4500.5")


def test_an_emptied_best_level_is_not_the_best_price_and_post_only_still_sees_the_cross(engine):
    engine.fund("alice", D(100_000))
    at(engine, "100000", bids=[("99990", "1")], asks=[("100010", "0.1"), ("100020", "0.2")])
    engine.place("alice", req(Side.BUY, "0.1", "100010", tif=TimeInForce.IOC))  # takes the whole first level
    book = engine.books["BTC"]
    assert book.best_ask() == D(100020)  # the next level, not nothing
    with pytest.raises(Reject) as exc:  # a post-only bid at the new best ask would take: refused
        engine.place("alice", req(Side.BUY, "0.01", "100020", tif=TimeInForce.ALO))
    assert exc.value.code == "POST_ONLY"
