"""Charts and the order book: the equity chart (/pnl), /chart (candles with your levels) and /book.

The data each picture draws is checked as numbers (pure functions), the axes as the tick labels matplotlib
really produces, and the commands end to end through the real bot on paper and on the emulated Hyperliquid.
"""

from __future__ import annotations

import re
import struct
from decimal import Decimal as D

import pytest

from desk.charts import (
    EquityData,
    PnLBar,
    candle_figure,
    equity_chart,
    equity_figure,
    equity_totals,
    pnl_bars,
    thin,
)
from desk.services import Services
from exchanges.models import BookLevel, Candle, Fill, Market, MarketKind, OrderBook, Side
from handlers.market import book_view
from handlers.render import fmt_price
from tests.conftest import FakeClock
from tests.harness import make_config, paper, rig
from tests.tg import Rig, button

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def fill(ts: int, realized: str, fee: str, n: int = 0) -> Fill:
    return Fill("paper", f"f{ts}-{n}", f"o{ts}", "BTC", Side.SELL, D(100_000), D("0.01"), D(fee), ts,
                realized_pnl=D(realized))


def drawn(fig):  # what a trader sees: the labels matplotlib put on the axes
    fig.canvas.draw()
    return fig


# ---- the equity chart (item 14) ----

def test_total_is_drawn_only_where_every_venue_has_a_value():
    # two venues snapshotted a second apart: summing rows by timestamp drew 10,000 / 5,000 / 10,010 / 5,005,
    # a saw of spikes, instead of the account's 15,000 -> 15,015
    rows = [(T0, "paper", D(10_000)), (T0 + 1000, "hl", D(5_000)),
            (T0 + MIN, "paper", D(10_010)), (T0 + MIN + 1000, "hl", D(5_005))]
    assert equity_totals(rows, ["paper", "hl"]) == [(T0 + 1000, D(15_000)), (T0 + MIN, D(15_010)),
                                                      (T0 + MIN + 1000, D(15_015))]
    # a venue missing from one snapshot keeps its last value instead of dropping out of the total
    rows += [(T0 + 2 * MIN, "paper", D(10_020))]
    assert equity_totals(rows, ["paper", "hl"])[-1] == (T0 + 2 * MIN, D(15_025))


def test_the_line_ends_at_the_live_equity_not_the_last_minute_snapshot():
    rows = [(T0, "paper", D(10_000))]
    assert equity_totals(rows, ["paper"], (T0 + 59_000, D("10_042.5"))) == [(T0, D(10_000)),
                                                                            (T0 + 59_000, D("10042.5"))]


def test_realized_pnl_and_fees_are_their_own_bars():
    fills = [fill(T0, "100", "5"), fill(T0 + HOUR, "-40", "2", 1), fill(T0 + DAY, "0", "1")]
    bars = pnl_bars(fills, lambda ts: ts - ts % DAY)
    assert bars == [PnLBar(T0 - T0 % DAY, D(60), D(7)), PnLBar(T0 + DAY - T0 % DAY, D(0), D(1))]


def test_thirty_days_of_minutes_are_thinned_keeping_the_dips_and_the_live_point():
    series = [(T0 + i * MIN, D(20_000) + i % 50) for i in range(30 * 1440)]
    series[12_345] = (series[12_345][0], D(15_000))  # one bad minute
    series.append((series[-1][0] + 30_000, D("20_049.5")))  # the live equity
    out = thin(series)
    assert len(out) <= 1201 and out[-1] == series[-1] and (series[12_345]) in out
    assert [t for t, _ in out] == sorted({t for t, _ in out}) and max(v for _, v in out) == D("20_049.5")


def _equity(points: list[tuple[int, D]], bars: list[PnLBar] = (), bar_ms: int = HOUR, **kw) -> EquityData:
    return EquityData(points, list(bars), bar_ms, "Equity, last 30 days", kw.get("tz", "UTC"),
                      kw.get("now_ms", points[-1][0] if points else T0), kw.get("since_ms", T0 - 30 * DAY))


def test_equity_axis_is_plain_dollars():
    # a quiet hour at $20,000: matplotlib labelled it "0.1 ... 0.6" under an offset "+2e4"
    data = _equity([(T0 + i * MIN, D(20_000) + D(i) / 100) for i in range(60)])
    fig = drawn(equity_figure(data))
    top = fig.axes[0]
    labels = [t.get_text() for t in top.get_yticklabels() if t.get_text()]
    assert top.yaxis.get_offset_text().get_text() == ""
    assert labels and all(re.fullmatch(r"\$(19,999|20,000)\.\d0", x) for x in labels), labels


def test_a_short_history_fills_the_chart_rather_than_standing_as_a_spike():
    # two hours of equity and a fill today: the day's bar, a day wide, squeezed the line into a sliver
    points = [(T0 - 2 * HOUR + i * MIN, D(20_000) + i % 7) for i in range(121)]
    data = _equity(points, [PnLBar(T0 - HOUR, D("12.5"), D("0.5"))])
    fig = drawn(equity_figure(data))
    left, right = fig.axes[0].get_xlim()
    xs = fig.axes[0].get_lines()[0].get_xdata()
    assert (xs.max() - xs.min()) / (right - left) > 0.6


def test_the_bars_say_what_they_draw():
    data = _equity([(T0, D(20_000)), (T0 + MIN, D(20_010))], [PnLBar(T0 - T0 % HOUR, D(100), D(5))])
    fig = drawn(equity_figure(data))
    bottom = fig.axes[1]
    heights = sorted(round(p.get_height(), 6) for p in bottom.patches)
    assert heights == [-5.0, 100.0]
    assert {t.get_text() for t in bottom.get_legend().get_texts()} == {"realized PnL", "fees"}
    assert all(t.get_text().startswith(("$", "-$")) for t in bottom.get_yticklabels() if t.get_text())


def test_equity_png_is_a_real_phone_sized_picture():
    data = _equity([(T0 + i * MIN, D(20_000) + i) for i in range(30)], [PnLBar(T0 - T0 % HOUR, D(3), D(1))])
    png = equity_chart(data)
    w, h = png_size(png)
    assert 500 <= w <= 1200 and 400 <= h <= 1200 and 10_000 < len(png) < 300_000
    empty = equity_chart(_equity([]))
    assert png_size(empty)[0] == w


async def test_services_chart_data_from_the_store_and_the_live_equity(tmp_path):
    clock = FakeClock(T0)
    venues = {"paper": paper(clock), "paper2": paper(clock, "paper2")}
    rg = await rig(tmp_path, clock, venues, make_config(exchanges={"paper": {"enabled": True}}))
    try:
        s = Services(rg.risk, rg.store, rg.settings, clock)
        for i in range(3):
            await rg.store.add_equity(T0 - 3 * MIN + i * MIN, "paper", D(10_000) + i)
            await rg.store.add_equity(T0 - 3 * MIN + i * MIN + 500, "paper2", D(10_000))
        await rg.store.add_fill(fill(T0 - 2 * MIN, "100", "5"))
        clock.advance(30_000)
        rg.risk.pnl.equity, rg.risk.pnl.known_ms = D("20_007.25"), clock()
        data = await s.equity_chart_data(30)
        assert min(v for _, v in data.series) == D(20_000)  # never one venue's equity alone
        assert data.series[-1] == (clock(), D("20007.25"))
        assert [(b.realized, b.fees) for b in data.bars] == [(D(100), D(5))]
        assert png_size(await s.equity_chart(30))[0] > 400
    finally:
        await rg.close()


# ---- /chart: candles ----

def _candles(n: int, start: int, step: int, base: D = D("101_200")) -> list[Candle]:
    out = []
    for i in range(n):
        o = base + (i % 9) * D("3.5")
        c = o + (D("4.5") if i % 2 else D("-2.5"))
        out.append(Candle(start + i * step, o, max(o, c) + 2, min(o, c) - 2, c, D(1)))
    return out


def test_candle_axis_is_plain_numbers_at_market_precision():
    candles = _candles(100, T0, 15 * MIN)
    fig = drawn(candle_figure(candles, 15 * MIN, [], 1, "UTC", "BTC"))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert labels and all(re.fullmatch(r"101,\d{3}\.\d", x) for x in labels), labels


def test_candle_time_axis_is_in_the_configured_time_zone():
    start = 1_700_006_400_000  # 2023-11-15 00:00 UTC = 09:00 in Tokyo
    candles = _candles(72, start, 5 * MIN)  # six hours

    def hours(tz: str) -> list[int]:
        fig = drawn(candle_figure(candles, 5 * MIN, [], 1, tz, "BTC"))
        return [int(t.get_text()[:2]) for t in fig.axes[0].get_xticklabels()
                if re.fullmatch(r"\d\d:\d\d", t.get_text())]

    assert hours("Asia/Tokyo") and all(9 <= h <= 17 for h in hours("Asia/Tokyo")), hours("Asia/Tokyo")
    assert hours("UTC") and all(0 <= h <= 8 for h in hours("UTC")), hours("UTC")


def test_candle_levels_are_labelled_with_their_price():
    candles = _candles(100, T0, HOUR)
    levels = [("entry", D("101_210.5")), ("TP", D("101_250")), ("SL", D("101_190")), ("liq.", D("53_001.4"))]
    fig = drawn(candle_figure(candles, HOUR, levels, 1, "UTC", "BTC"))
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"entry 101,210.5", "TP 101,250.0", "SL 101,190.0"} <= texts
    assert "liq. 53,001.4 ↓" in texts  # far below: marked at the edge rather than squashing the candles
    lo, _ = fig.axes[0].get_ylim()
    assert lo > 100_000


# ---- /book ----

BTC = Market("paper", "BTC", MarketKind.PERP, "BTC", "USDC", "BTC", D("0.00001"), tick_size=D("0.1"))


def test_book_fits_a_phone_with_long_real_values():
    asks = tuple(BookLevel(D("101_234.5") + i, D("12.34567") * (i + 1)) for i in range(5))
    bids = tuple(BookLevel(D("101_233.5") - i, D("812.34567") + i) for i in range(5))
    text = book_view(OrderBook("paper", "BTC", bids, asks, T0), BTC)
    pre = text[text.index("<pre>") + 5:text.index("</pre>")]
    lines = pre.split("\n")
    assert max(len(x) for x in lines) <= 32, "\n".join(lines)
    assert lines.index(next(x for x in lines if "101,238.5" in x)) < lines.index(
        next(x for x in lines if "101,234.5" in x)) < lines.index(next(x for x in lines if "101,233.5" in x))
    assert "12.34567" in pre and "185.18505" in pre  # the best ask's size; the asks' cumulative size
    assert "Spread 1.0" in text and "(0.10 bps)" in text and "Mid 101,234.0" in text


def test_book_with_an_empty_side_says_so():
    text = book_view(OrderBook("paper", "BTC", (), (BookLevel(D(101_000), D(1)),), T0), BTC)
    assert "no bids" in text and "Spread" not in text


# ---- end to end through the real bot ----

def _pre_lines(text: str) -> list[str]:
    return [x for block in re.findall(r"<pre>(.*?)</pre>", text, re.S) for x in block.split("\n")]


async def test_chart_end_to_end_on_paper_with_your_levels(tmp_path):
    clock = FakeClock(T0)
    async with Rig(tmp_path, clock=clock) as rig:
        me = rig.trader
        for _ in range(120):  # 30 hours of 15-minute prices
            clock.advance(15 * MIN)
            rig.paper.tick()
        mark = (await rig.paper.ticker("BTC")).mark
        preview = await me.ask(f"/buy BTC 0.01 tp={int(mark * D('1.02'))} sl={int(mark * D('0.98'))}")
        done = await me.click(preview, button(preview, "ok:"))
        assert "Filled" in done["text"], done["text"]
        [pos] = await rig.paper.positions()
        before = len(await me.bot_messages())
        await me.send("/chart BTC 15m")
        t = await me.wait(lambda t: len([m for m in t["messages"] if m["from_bot"]]) > before)
        msg = [m for m in t["messages"] if m["from_bot"]][before]
        assert msg["photo"], msg
        candles = await rig.paper.candles("BTC", "15m", clock() - 100 * 15 * MIN, clock())
        market = await rig.paper.market("BTC")
        caption = msg["caption"]
        assert "BTC" in caption and "paper" in caption and "15m" in caption
        assert f"last close {fmt_price(market, candles[-1].close)}" in caption, caption
        assert f"entry {fmt_price(market, pos.entry_price)}" in caption, caption
        tp, sl = int(mark * D("1.02")), int(mark * D("0.98"))
        assert f"TP {fmt_price(market, D(tp))}" in caption and f"SL {fmt_price(market, D(sl))}" in caption, caption
        # a position of at most the account's equity on cross margin has no liquidation price on paper
        liq = f"liq. {fmt_price(market, pos.liquidation_price)}" if pos.liquidation_price else "liq."
        assert (liq in caption) == bool(pos.liquidation_price), caption
        assert msg["photo"]["width"] > 500

        unknown = await me.ask("/chart XYZ")
        assert unknown["text"] == "XYZ is not a market on paper." and not unknown.get("photo")
        bad = await me.ask("/chart BTC 7m")
        assert "/chart [exchange] SYMBOL [1m|5m|15m|1h|4h|1d]" in bad["text"]


@pytest.mark.parametrize("venue", ["paper", "hyperliquid"])
async def test_book_end_to_end_shows_the_venues_best_prices(tmp_path, venue):
    async with Rig(tmp_path, venue=venue) as rig:
        msg = await rig.trader.ask("/book ETH")
        ob = await rig.paper.order_book("ETH")
        market = await rig.paper.market("ETH")
        text = msg["text"]
        assert fmt_price(market, ob.bids[0].price) in text and fmt_price(market, ob.asks[0].price) in text
        assert f"<b>ETH</b> order book on {venue}" in text
        assert _pre_lines(text) and all(len(x) <= 32 for x in _pre_lines(text)), text


async def test_chart_end_to_end_on_hyperliquid_from_its_candle_snapshot(tmp_path):
    async with Rig(tmp_path, venue="hyperliquid") as rig:
        now = rig.hl.engine.clock()
        for i in range(120, 0, -1):  # five days of hourly prices on the emulated venue
            rig.hl.history.record(now - i * HOUR, {"ETH": D(3400) + i % 13})
        msg = await rig.trader.ask("/chart ETH 1h")
        candles = await rig.paper.candles("ETH", "1h", now - 100 * HOUR, rig.hl.engine.clock())
        market = await rig.paper.market("ETH")
        assert msg["photo"]["width"] > 500 and len(candles) >= 100
        assert msg["caption"].startswith("<b>ETH</b> on hyperliquid · 1h · last close"), msg["caption"]
        assert f"last close {fmt_price(market, candles[-1].close)}" in msg["caption"]
