"""Pure rendering helpers and the emulator's Telegram rules."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

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
    o = parse_order(["hl", "btc", "$500", "95,000", "lev=3", "post", "reduce", "tp=99000", "sl=90000"], Side.BUY)
    assert (o.exchange, o.symbol, o.usd, o.price, o.leverage, o.post, o.reduce, o.tp, o.sl) == (
        "hyperliquid", "BTC", D(500), D(95000), 3, True, True, D(99000), D(90000))


def test_alert_backlogs_group_per_chat_and_kind_in_order():
    from bot.notifier import Notifier
    from bot.store import OutboxItem

    def item(i: int, chat: str, kind: str = "reports", text: str = "x") -> OutboxItem:
        return OutboxItem(i, chat, kind, text, False, {}, 0, 0)

    pending = [item(1, "a"), item(2, "b"), item(3, "a"), item(4, "b"), item(5, "a", "risk"), item(6, "a")]
    groups = [[x.id for x in g] for g in Notifier._groups(pending)]
    assert groups == [[1, 3], [2, 4], [5], [6]]
    long = [item(i, "a", text="y" * 1000) for i in range(8)]
    assert [len(g) for g in Notifier._groups(long)] == [3, 3, 2]  # summaries stay under 3,500 characters


def test_a_venue_that_cannot_be_read_gets_its_own_line_in_every_listing():
    from bot.services import PerVenue
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
