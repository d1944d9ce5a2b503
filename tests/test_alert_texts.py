"""Every alert the AlertRouter can send, built with long real values: it fits a phone, and no number
shows more decimals than its market allows."""

from __future__ import annotations

import html
import re
import typing
import unicodedata
from dataclasses import replace
from decimal import Decimal as D

import pytest

from exchanges.models import Fill, Market, MarketKind, Order, OrderStatus, OrderType, Side
from exchanges.precision import decimals_of
from handlers.alert_texts import (
    adopted_text,
    change_text,
    describe,
    fill_text,
    holding_line,
    liquidation_text,
    resolved_text,
    stream_lost_text,
    stream_restored_text,
)
from risk.events import (
    NOT_ON_VENUE,
    KillReport,
    LimitBreached,
    LossWarning,
    Notice,
    OrderAdopted,
    OrderResolved,
    SafetyNetRefused,
    StateChanged,
    TradingState,
    VenueKillReport,
    VenueReady,
    VenueWaiting,
)
from risk.order_changes import Cause, Kind, classify

PROSE, PRE = 64, 32
HL = "hyperliquid"


def perp(symbol: str, sz_decimals: int) -> Market:
    return Market(HL, symbol, MarketKind.PERP, symbol, "USDC", symbol, D(1).scaleb(-sz_decimals), price_sig_figs=5,
                  price_decimals=6 - sz_decimals, max_leverage=40)


def spot(base: str, sz_decimals: int) -> Market:
    return Market(HL, f"{base}/USDC", MarketKind.SPOT, base, "USDC", "@1", D(1).scaleb(-sz_decimals),
                  price_sig_figs=5, price_decimals=8 - sz_decimals)


BTC, KPEPE, PURR, TINY = perp("BTC", 5), perp("kPEPE", 0), spot("PURR", 0), spot("NEIRO", 0)
# market, a price, a size, and sizes of a dozen fills adding up to it
CASES = [(BTC, D("101234.5"), D("12.34567")), (KPEPE, D("0.012345"), D(12_345_678)),
         (PURR, D("0.20002"), D(99_959)), (TINY, D("0.00012345"), D(98_765_432))]


def width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) or c == "\ufe0f"
               else 1 for c in line)


def check(text: str, market: Market | None = None) -> None:
    """Each line fits (64 columns of prose, 32 in <pre>); each number has no more decimals than its
    market's prices, sizes or cents allow; the HTML is balanced."""
    assert text.count("<pre>") == text.count("</pre>") and text.count("<b>") == text.count("</b>"), text
    in_pre = False
    for raw in text.split("\n"):
        visible = html.unescape(re.sub(r"<[^>]+>", "", raw))
        in_pre = in_pre or "<pre>" in raw
        assert width(visible) <= (PRE if in_pre else PROSE), f"{width(visible)} columns: {visible!r}\n{text}"
        in_pre = in_pre and "</pre>" not in raw
    allowed = 2 if market is None else max(2, market.price_decimals or 0, decimals_of(market.lot_size))
    for places in re.findall(r"\d\.(\d+)", html.unescape(re.sub(r"<[^>]+>", "", text))):
        assert len(places) <= allowed, f"{places!r} has more than {allowed} decimals:\n{text}"
    assert "fill(s)" not in text and "order(s)" not in text


def fills_of(m: Market, price: D, size: D, n: int = 12, **kw) -> list[Fill]:
    part = (size / n).quantize(m.lot_size)
    sizes = [part] * (n - 1) + [size - part * (n - 1)]
    return [Fill(HL, f"9{i:013d}", "314848230306", m.symbol, Side.SELL, price * (1 + D(i) / 10_000), sz,
                 fee=price * sz * D("0.00045"), ts_ms=1_768_931_202_995 + i, realized_pnl=D("-12345.6789") / n,
                 start_position=size if i == 0 else None, **kw) for i, sz in enumerate(sizes)]


def order_of(m: Market, price: D, size: D, **kw) -> Order:
    kw = {"status": OrderStatus.FILLED, "order_id": "314848230306", "filled": size,
          "client_id": "0x3be7302763eafc3cbd4d1da5b7b3d17f", **kw}
    return Order(HL, m.symbol, Side.SELL, size, price, **kw)


@pytest.mark.parametrize(("m", "price", "size"), CASES, ids=[c[0].symbol for c in CASES])
def test_fill_alerts(m, price, size):
    fills = fills_of(m, price, size)
    held = holding_line(m.symbol, m, D(0) if m.kind is MarketKind.PERP else size * 3)
    done = order_of(m, price, size)
    for order in (done, replace(done, status=OrderStatus.PARTIALLY_FILLED, size=size * 2),
                  replace(done, status=OrderStatus.CANCELED, size=size * 2),
                  replace(done, order_type=OrderType.TAKE_PROFIT, trigger_price=price * D("1.0123")), None):
        text = fill_text(fills, order, m, held)
        check(text, m)
    one = fill_text(fills[:1], done, m, holding_line(m.symbol, m, -size, now=True))
    check(one, m)
    assert "1 fill ·" in one and "12 fills" in fill_text(fills, done, m, held)
    assert "fee $" in one and "USDC" not in one.split("\n")[1]
    check(liquidation_text(fills, m, held), m)


def test_a_fee_in_the_traded_asset_is_told_in_usd_and_spot_tells_the_balance():
    fills = [replace(f, fee=D("0.013"), fee_asset="PURR") for f in fills_of(PURR, D("0.20002"), D(200), 1)]
    text = fill_text(fills, order_of(PURR, D("0.20002"), D(200)), PURR, holding_line("PURR/USDC", PURR, D(200)))
    check(text, PURR)
    assert "fee $0.00" in text and "PURR balance: 200" in text and "position" not in text


def test_a_liquidation_names_market_size_price_and_what_is_left():
    fills = [Fill(HL, "345752513742025", "298509207410", "BTC", Side.SELL, D("93643.5"), D("12.34567"), D(0),
                  1768931202995, realized_pnl=D("-9578.0123"), liquidation=True, start_position=D("12.34567"))]
    text = liquidation_text(fills, BTC, holding_line("BTC", BTC, fills[0].position_after))
    check(text, BTC)
    assert "SELL 12.34567 BTC" in text and "at 93,644" in text and "position after: flat" in text
    assert "fee" not in text and "Partly" not in text


@pytest.mark.parametrize(("m", "price", "size"), CASES, ids=[c[0].symbol for c in CASES])
def test_order_change_alerts(m, price, size):
    leg = order_of(m, price, size, status=OrderStatus.WAITING_TRIGGER, filled=D(0), order_type=OrderType.STOP,
                   trigger_price=price)
    plain = replace(leg, status=OrderStatus.OPEN, order_type=OrderType.LIMIT, trigger_price=None)
    reason = "openInterestIncreaseRejected: " + "the venue's words, which may run long " * 5
    told = {
        "triggered": classify(leg, replace(leg, status=OrderStatus.OPEN, reason="triggered")),
        "cancelled": classify(leg, replace(leg, status=OrderStatus.CANCELED, reason="marginCanceled")),
        "cancelled plain": classify(plain, replace(plain, status=OrderStatus.CANCELED, reason=reason)),
        "rejected": classify(leg, replace(leg, status=OrderStatus.REJECTED, reason=reason)),
    }
    for what, change in told.items():
        text = change_text(change, m)
        assert text is not None, what
        check(text, m)
    assert "Stop loss triggered" in change_text(told["triggered"], m)
    cancelled = change_text(told["cancelled"], m)
    assert "not by the bot" in cancelled and "triggered" not in cancelled and "not enough margin" in cancelled
    for cause in (Cause.YOU, Cause.KILL):  # the trader's own cancels: the command's answer or the kill report
        change = classify(leg, replace(leg, status=OrderStatus.CANCELED, reason=Cause.KILL.words), cause)
        assert change.kind in (Kind.CANCELLED_BY_YOU, Kind.CANCELLED_BY_KILL) and change_text(change, m) is None


def test_outside_orders_in_one_message():
    orders = [order_of(BTC, D(101_234) + i, D("12.34567"), status=OrderStatus.OPEN, filled=D(0),
                       order_id=str(298509207410 + i)) for i in range(25)]
    many = adopted_text(HL, orders, {"BTC": BTC})
    check(many, BTC)
    assert "25 orders placed outside the bot" in many and "… and 20 more" in many and many.count("\n") <= 8
    one = adopted_text(HL, orders[:1], {"BTC": BTC})
    check(one, BTC)
    assert "298509207410" in one


def test_stream_alerts():
    check(stream_lost_text(HL, "stalled: the clearinghouseState feed fell behind the venue " * 3))
    check(stream_restored_text(HL))


def kill_report() -> KillReport:
    failures = ("cancel of BTC 314848230306 failed: 429 Too Many Requests (retry after 12 s); retrying",)
    return KillReport("daily loss limit breached: $195,487.77 of $500.00", "telegram:424242", "ask", (
        VenueKillReport(HL, cancelled=25, closed=("BTC", "ETH", "kPEPE", "PURR/USDC"), verified=True),
        VenueKillReport("aster", cancelled=3, remaining_orders=2, remaining_positions=("BTCUSDT", "ETHUSDT"),
                        failures=failures, kept_positions=("SOLUSDT",), attempts=3)), 1_768_931_202_995,
        retrying=("aster",), kill_id=7, final=False)


def notices() -> list[Notice]:
    order = order_of(BTC, D("101234.5"), D("12.34567"), status=OrderStatus.OPEN, filled=D(0))
    ts = 1_768_931_202_995
    return [
        StateChanged(TradingState.ACTIVE, TradingState.REDUCING, "daily loss limit breached: $195,487.77 of"
                     " $500.00 (39,097%)", "telegram:424242", ts),
        OrderAdopted(order, ts),
        OrderResolved(order, NOT_ON_VENUE, ts),
        LossWarning("daily_loss", D("0.8"), D("195487.7712"), D(500), ts),
        LossWarning("drawdown", D("0.5"), D("65.4321"), D(10), ts),
        LimitBreached("daily_loss", D("195487.77"), D(500), ts),
        LimitBreached("equity_unknown", None, None, ts),
        kill_report(),
        SafetyNetRefused(HL, "scheduleCancel refused: Cannot set scheduled cancel time until enough volume"
                         " traded. Required: $1000000. Traded: $123456.78.", ts),
        VenueWaiting(HL, "429 Too Many Requests from /info (IP weight 1,200 of 1,200 used); retrying in 12 s", ts),
        VenueReady(HL, ts),
    ]


def test_every_risk_notice_is_told_and_fits():
    built = notices()
    assert {type(n) for n in built} == set(typing.get_args(Notice))  # a new notice must be added here
    for n in built:
        if isinstance(n, OrderResolved):
            text = resolved_text(n, BTC, "buy")
            assert "Nothing was sent" in text
        else:
            described = describe(n)
            assert described is not None, type(n).__name__
            text = described[1]
        check(text, BTC if isinstance(n, OrderAdopted | OrderResolved) else None)
    state = describe(built[0])[1]
    assert "telegram:424242" not in state and "424242" in state


@pytest.mark.parametrize("status", [OrderStatus.FILLED, OrderStatus.UNKNOWN, OrderStatus.PARTIALLY_FILLED,
                                    OrderStatus.REJECTED])
def test_an_order_settled_after_a_restart_fits(status):
    order = order_of(BTC, D("101234.5"), D("12.34567"), status=status, filled=D("6.17283"), avg_price=D("101234.5"),
                     reason="never reached the venue (the bot stopped before sending it)")
    check(resolved_text(OrderResolved(order, "found on the venue", 0), BTC, "close 100% of BTC"), BTC)
