"""Pure rendering helpers and the emulator's Telegram rules."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from desk.services import PerVenue
from exchanges.models import Market, MarketKind, Side
from handlers.parsing import UsageError, parse_order
from handlers.render import esc, fmt_num, fmt_price, fmt_usd, split_message, table
from sim.telegram_rules import check_markup, check_text

BTC = Market("x", "BTC", MarketKind.PERP, "BTC", "USDC", "BTC", lot_size=D("0.00001"), price_sig_figs=5,
             price_decimals=1)


def test_numbers_with_separators_and_market_precision():
    assert fmt_num(D("1234567.891"), 2) == "1,234,567.89"
    assert fmt_num(D("-0.001"), 2) == "0.00"  # never "-0.00"
    assert fmt_usd(D("-12.345")) == "-$12.34" and fmt_usd(D("5"), sign=True) == "+$5.00"
    assert fmt_price(BTC, D("97123.46")) == "97,123" and fmt_price(BTC, D("9712.346")) == "9,712.3"


def test_table_escapes_and_aligns():
    out = table([["<BTC>", "1"], ["ETH", "100"]], ["Mkt", "Qty"], right=[1])
    assert out == "<pre>Mkt   Qty\n&lt;BTC&gt;   1\nETH   100</pre>"
    assert check_text(out, "HTML") is None


def test_split_keeps_parts_short_and_pre_balanced():
    text = "<b>Head</b>\n" + table([[f"row{i}", "x" * 20] for i in range(600)])
    parts = split_message(text)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert all(p.count("<pre>") == p.count("</pre>") for p in parts)
    assert all(check_text(p, "HTML") is None for p in parts)
    assert "".join(p.replace("<pre>", "").replace("</pre>", "") for p in parts).count("row") == 600
    assert split_message("short") == ["short"]


def test_escape_and_telegram_html_rules():
    assert esc("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert check_text("a < b", "HTML").startswith("Bad Request: can't parse entities")
    assert check_text("<b>x</i>", "HTML").startswith("Bad Request: can't parse entities")
    assert check_text("<foo>x</foo>", "HTML") == (
        'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 0')
    assert check_text("x" * 4097, None) == "Bad Request: message is too long"
    assert check_text("<b>" + "x" * 4096 + "</b>", "HTML") is None  # tags do not count
    assert check_text("", None) == "Bad Request: message text is empty"
    too_long = {"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]}
    assert check_markup(too_long) == "Bad Request: BUTTON_DATA_INVALID"


@pytest.mark.parametrize("args", [["BTC", "nan"], ["BTC", "inf"], ["BTC", "0"], ["B@D", "1"], ["BTC", "1", "2", "3"],
                                  ["BTC", "$-5"], ["BTC", "1", "lev=0"], ["BTC", "1", "post", "ioc"]])
def test_order_parsing_refuses_bad_input(args):
    with pytest.raises(UsageError):
        parse_order(args, Side.BUY)


def test_order_parsing_reads_every_option():
    o = parse_order(["hl", "btc", "$500", "95000", "lev=3", "post", "reduce", "tp=99000", "sl=90000"], Side.BUY)
    assert (o.exchange, o.symbol, o.usd, o.price, o.leverage, o.post, o.reduce, o.tp, o.sl) == (
        "hyperliquid", "BTC", D(500), D(95000), 3, True, True, D(99000), D(90000))


def test_alert_backlogs_group_per_chat_and_kind_in_order():
    from desk.notifier import Notifier
    from store.db import OutboxItem

    def item(i: int, chat: str, kind: str = "reports", text: str = "x") -> OutboxItem:
        return OutboxItem(i, chat, kind, text, False, {}, 0, 0)

    pending = [item(1, "a"), item(2, "b"), item(3, "a"), item(4, "b"), item(5, "a", "risk"), item(6, "a")]
    groups = [[x.id for x in g] for g in Notifier._groups(pending)]
    assert groups == [[1, 3], [2, 4], [5], [6]]
    long = [item(i, "a", text="y" * 1000) for i in range(8)]
    assert [len(g) for g in Notifier._groups(long)] == [3, 3, 2]  # summaries stay under 3,500 characters


def test_a_venue_that_cannot_be_read_gets_its_own_line_in_every_listing():
    from desk.services import PerVenue
    from exchanges.models import AccountBalances, Order, OrderStatus
    from handlers.views import balances_view, orders_view, positions_view

    down = PerVenue("aster", None, "timeout <5 s>")
    up_balances = PerVenue("paper", AccountBalances("paper", D(100), D(0), D(100), (), 0))
    order = Order("paper", "BTC", Side.BUY, D("0.01"), D(90000), OrderStatus.OPEN, order_id="7")
    for text in (balances_view([down, up_balances]), positions_view([down, PerVenue("paper", [])], {}),
                 orders_view([down, PerVenue("paper", [order])], {("paper", "BTC"): BTC})):
        assert "<b>aster</b>: ⚠️ unavailable (timeout &lt;5 s&gt;)" in text
        assert check_text(text, "HTML") is None
    assert "Total equity: $100.00" in balances_view([down, up_balances])
    assert "No open positions." in positions_view([down, PerVenue("paper", [])], {})
    assert "<b>paper</b> (1)" in orders_view([down, PerVenue("paper", [order])], {("paper", "BTC"): BTC})


# ---- what a trader sees: one rule per kind of number, words not codes (issue #11) ----------------

ETH = Market("hyperliquid", "ETH", MarketKind.PERP, "ETH", "USDC", "ETH", lot_size=D("0.0001"), price_sig_figs=5,
             price_decimals=2, max_leverage=25)
PURR = Market("hyperliquid", "PURR/USDC", MarketKind.SPOT, "PURR", "USDC", "PURR/USDC", lot_size=D(1),
              price_sig_figs=5, price_decimals=8)


def _pv(market, req, before, after, **kw):
    from risk.pretrade import Preview

    px = req.price or D(3591)
    return Preview(req, market, px, px, req.size, px * req.size, D("0.450315"), px * req.size / 5, 5, before, after,
                   kw.pop("liq", D("53001.42674995278611004147464")), kw.pop("reducing", False), **kw)


def test_a_price_reads_the_same_in_every_view():
    from exchanges.models import Order, OrderRequest, OrderStatus, Position
    from handlers.views import order_result_view, positions_view, preview_view

    filled = Order("hyperliquid", "ETH", Side.BUY, D("0.5"), None, OrderStatus.FILLED, order_id="1", filled=D("0.5"),
                   avg_price=D(3591))
    pos = Position("hyperliquid", "ETH", D("0.5"), D(3591), D(3591), D(0), 5, D("359.1"))
    pv = _pv(ETH, OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.5")), D(0), D("0.5"))
    texts = [order_result_view(filled, ETH, "buy"), positions_view([PerVenue("hyperliquid", [pos])], {ETH.key: ETH}),
             preview_view(pv, "buy")]
    assert all("3,591.0" in t for t in texts), texts
    assert fmt_price(None, D("53001.42674995278611004147464")) == "53,001.43"
    assert fmt_num(D("53001.42674995278611004147464")) == "53,001.427"  # never a raw Decimal
    assert "53,001" in preview_view(pv, "buy") and "53,001.4" not in preview_view(pv, "buy")  # ETH: 5 figures
    assert "Fee" in preview_view(pv, "buy") and "$0.45" in preview_view(pv, "buy")


def test_the_preview_names_the_side_once():
    from exchanges.models import OrderRequest, OrderStatus
    from handlers.views import order_result_view, preview_view

    req = OrderRequest("hyperliquid", "ETH", Side.BUY, D("0.5"))
    text = preview_view(_pv(ETH, req, D(0), D("0.5")), "buy")
    assert "Buy 0.5000 ETH" in text and "BUY" not in text, text
    from exchanges.models import Order
    done = order_result_view(Order("hyperliquid", "ETH", Side.BUY, D("0.5"), None, OrderStatus.FILLED,
                                   filled=D("0.5"), avg_price=D(3591)), ETH, "buy")
    assert "Buy 0.5000 ETH" in done and "BUY" not in done, done


def test_a_spot_preview_shows_the_balance_change_and_no_margin():
    from exchanges.models import OrderRequest
    from handlers.views import preview_view

    req = OrderRequest("hyperliquid", "PURR/USDC", Side.BUY, D(200), D("0.18765"))
    text = preview_view(_pv(PURR, req, D(1000), D(1200), liq=None), "buy")
    for absent in ("Margin", "Leverage", "Liq", "Position"):
        assert absent not in text, text
    assert re.search(r"PURR +1,000 → 1,200", text), text


def test_a_reduce_only_preview_shows_where_the_position_really_ends():
    from exchanges.models import OrderRequest
    from handlers.views import preview_view

    req = OrderRequest("hyperliquid", "BTC", Side.SELL, D(1), None, reduce_only=True)
    text = preview_view(_pv(BTC, req, D("0.04506"), D(0), reducing=True, liq=None), "close 100% of BTC")
    assert "+0.04506 → flat" in text and "-0.95494" not in text, text
    assert "Liq" not in text  # nothing left to liquidate


def test_the_kill_report_says_who_in_words_and_counts_in_plain_plurals():
    from handlers.views import kill_view
    from risk.events import KillReport, VenueKillReport

    def report(by, cancelled):
        return KillReport("kill requested", by, "never", (VenueKillReport("paper", cancelled, verified=True),), 0)

    one = kill_view(report("telegram:424242", 1))
    assert "by the Telegram user 424242" in one and "telegram:" not in one and "1 order cancelled" in one, one
    assert "5 orders cancelled" in kill_view(report("limit:daily_loss", 5))
    assert "by the daily loss limit" in kill_view(report("limit:daily_loss", 5))
    assert "by the drawdown limit" in kill_view(report("limit:drawdown", 0))
    assert "(s)" not in kill_view(report("restart", 0))


def test_spot_balances_at_the_assets_precision():
    from exchanges.models import AccountBalances, Balance
    from handlers.views import balances_view

    spot = (Balance("USDC", D("99959.9479847"), D(0), D("99959.9479847")),
            Balance("HYPE", D("12.3456789123"), D(0), D("345.678")))
    text = balances_view([PerVenue("hyperliquid", AccountBalances("hyperliquid", D(0), D(0), D(0), spot))])
    assert "99,959.95" in text and "99,959.9479847" not in text, text
    assert "12.345679" in text and "12.3456789123" not in text, text


def _positions_text(size, entry, mark, upnl, lev, margin_now, orders=None):
    from exchanges.models import Position
    from handlers.views import positions_view

    pos = Position("hyperliquid", "ETH", D(size), D(entry), D(mark), D(upnl), lev, D(margin_now))
    return positions_view([PerVenue("hyperliquid", [pos])], {ETH.key: ETH}, orders)


def test_upnl_percent_is_against_the_margin_at_opening():
    # short 1 ETH from 3,000 at 5x: opening margin $600; at 4,000 the loss is $1,000 = -166.67 % of it
    # (against today's margin, $800, it would read -125 %)
    text = _positions_text("-1", "3000", "4000", "-1000", 5, "800")
    assert "-166.67%" in text and "-125" not in text, text


def test_positions_show_their_take_profit_and_stop_loss():
    from exchanges.models import Order, OrderStatus, OrderType

    def trigger(kind, px, side=Side.SELL):
        return Order("hyperliquid", "ETH", side, D("0.5"), None, OrderStatus.WAITING_TRIGGER, order_id=px,
                     order_type=kind, reduce_only=True, trigger_price=D(px))

    orders = [PerVenue("hyperliquid", [trigger(OrderType.TAKE_PROFIT, "4200"), trigger(OrderType.STOP, "3300"),
                                       trigger(OrderType.STOP, "9999", Side.BUY)])]  # not this position's
    text = _positions_text("0.5", "3591", "3600", "4.5", 5, "360", orders)
    assert "TP" in text and "4,200.0" in text and "SL" in text and "3,300.0" in text, text
    assert "9,999" not in text
    unread = _positions_text("0.5", "3591", "3600", "4.5", 5, "360", [PerVenue("hyperliquid", None, "timeout")])
    assert "TP/SL" in unread and "unknown" in unread, unread


def test_funding_says_when_and_who_pays():
    from exchanges.models import FundingRate
    from handlers.views import funding_view

    now = 1_763_726_580_000  # 12:03 UTC, 13:03 in Berlin
    items = [PerVenue("hyperliquid", FundingRate("hyperliquid", "BTC", D("0.0000125"), 1, now + 57 * 60_000)),
             PerVenue("aster", FundingRate("aster", "BTC", D("-0.0001"), 8, now + 23 * 60_000)),
             PerVenue("paper", FundingRate("paper", "BTC", D(0), 1, None))]
    text = funding_view("BTC", items, now, "Europe/Berlin")
    assert "14:00" in text and "in 57m" in text and "13:26" in text and "in 23m" in text, text
    assert "longs pay shorts" in text and "shorts pay longs" in text and "no one" in text, text


def test_plurals_in_the_listings():
    from exchanges.models import Order, OrderStatus
    from handlers.render import plural

    assert (plural(0, "order"), plural(1, "order"), plural(2, "fill")) == ("0 orders", "1 order", "2 fills")
    from handlers.views import orders_view
    order = Order("paper", "BTC", Side.BUY, D("0.01"), D(90000), OrderStatus.OPEN, order_id="7")
    assert "(s)" not in orders_view([PerVenue("paper", [order])], {("paper", "BTC"): BTC})


def test_limits_put_the_current_value_in_now_and_the_bound_in_max():
    from handlers.views import LimitRow, limits_view

    text = limits_view("ACTIVE", [LimitRow("Daily loss", "$12.00", "$500.00"), LimitRow("Max order", None, "$5,000.00"),
                                  LimitRow("Min order", None, "$10.00", "min")])
    lines = text.split("\n")
    loss = next(i for i, x in enumerate(lines) if "Daily loss" in x)
    assert "now" in lines[loss] and "$12.00" in lines[loss]
    assert "max" in lines[loss + 1] and "$500.00" in lines[loss + 1]
    assert any("Min order" in x and "min" in x.split("Min order")[1] and "$10.00" in x for x in lines), text
