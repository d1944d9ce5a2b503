"""/trades /profit /performance /daily /weekly /monthly: the aggregation by hand, the views at phone
width with long real values, and the commands end to end through the real bot on the paper venue."""

from __future__ import annotations

import asyncio
import html
import re
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal as D

from desk import history as h
from exchanges.models import Fill, FundingPayment, Market, MarketKind, Side
from handlers import history as views
from handlers.render import PHONE_COLUMNS, fmt_usd
from tests.tg import Rig, button

NY = zoneinfo.ZoneInfo("America/New_York")  # UTC-5 in January
RESET = 4  # the trading day starts at 04:00 New York = 09:00 UTC


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def fill(symbol: str, side: Side, size: str, price: str, fee: str, ts: str, realized: str = "0",
         exchange: str = "paper", fee_asset: str = "USDC", fid: str | None = None) -> Fill:
    return Fill(exchange, fid or f"{symbol}-{ts}", "o1", symbol, side, D(price), D(size), D(fee), ms(ts),
                fee_asset=fee_asset, realized_pnl=D(realized))


def funding(symbol: str, amount: str, ts: str, exchange: str = "paper") -> FundingPayment:
    return FundingPayment(exchange, symbol, D(amount), D("0.0001"), D(1), ms(ts))


# two markets, a win and a loss, fees, funding; a fill each side of the 04:00 New York reset
FILLS = [
    fill("BTC", Side.BUY, "0.01", "100000", "0.45", "2024-01-15T15:00:00"),
    fill("BTC", Side.SELL, "0.01", "101000", "0.4545", "2024-01-16T08:59:59.999", realized="10"),  # 03:59 local
    fill("ETH", Side.BUY, "0.5", "3400", "0.765", "2024-01-16T09:00:00"),  # 04:00 local: the next day
    fill("ETH", Side.SELL, "0.5", "3300", "0.7425", "2024-01-16T11:00:00", realized="-50"),
]
FUNDING = {"paper": [funding("BTC", "1.25", "2024-01-15T20:00:00"), funding("ETH", "-0.30", "2024-01-16T10:00:00")]}
NOW = ms("2024-01-16T12:00:00")  # 07:00 New York, Tuesday 16 January


def test_all_time_totals_by_hand():
    t = h.summarize(FILLS, FUNDING)
    assert (t.realized, t.fees, t.funding) == (D("-40"), D("2.4120"), D("0.95"))
    assert t.net == D("-40") - D("2.4120") + D("0.95") == D("-41.4620")
    assert (t.fills, t.closes, t.wins, t.win_rate, t.funding_known) == (4, 2, 1, D(50), True)


def test_per_market_best_first_and_best_worst():
    btc, eth = h.by_market(FILLS, FUNDING)
    assert (btc.symbol, btc.tally.realized, btc.tally.fees, btc.tally.funding) == ("BTC", D(10), D("0.9045"), D("1.25"))
    assert btc.tally.net == D("10.3455") and btc.tally.win_rate == D(100)
    assert (eth.symbol, eth.tally.net, eth.tally.wins, eth.tally.closes) == ("ETH", D("-51.8075"), 0, 1)
    assert h.best_worst([btc, eth]) == (btc, eth) and h.best_worst([btc]) is None


def test_days_turn_at_the_reset_hour_in_the_configured_zone():
    today, yesterday, before = h.by_period(FILLS, FUNDING, h.windows(h.PERIODS["daily"], NOW, 3, NY, RESET))
    assert today.window == h.Window("2024-01-16", ms("2024-01-16T09:00:00"), ms("2024-01-17T09:00:00"))
    assert (today.tally.fills, today.tally.net) == (2, D("-50") - D("1.5075") - D("0.30"))  # ETH, and its funding
    assert (yesterday.window.label, yesterday.tally.fills, yesterday.tally.net) == ("2024-01-15", 2, D("10.3455"))
    assert (before.window.label, before.tally.fills, before.tally.net) == ("2024-01-14", 0, D(0))
    [still] = h.windows(h.PERIODS["daily"], ms("2024-01-16T08:59:59.999"), 1, NY, RESET)  # 03:59 New York
    assert still.label == "2024-01-15" and still.end_ms == ms("2024-01-16T09:00:00")


def test_weeks_start_monday_at_the_reset_hour_and_months_on_the_first():
    # Monday 15 January 03:59 New York still belongs to Sunday's trading day: the week before
    early = [fill("SOL", Side.SELL, "1", "150", "0.1", "2024-01-15T08:59:00", realized="2")]
    this, last = h.by_period(early + FILLS, FUNDING, h.windows(h.PERIODS["weekly"], NOW, 2, NY, RESET))
    assert this.window == h.Window("2024-01-15", ms("2024-01-15T09:00:00"), ms("2024-01-22T09:00:00"))
    assert (this.tally.fills, this.tally.net) == (4, D("-41.4620"))
    assert (last.window.label, last.tally.fills, last.tally.net) == ("2024-01-08", 1, D("1.9"))
    jan, dec = h.windows(h.PERIODS["monthly"], NOW, 2, NY, RESET)
    assert (jan.label, jan.start_ms, jan.end_ms) == ("2024-01", ms("2024-01-01T09:00:00"), ms("2024-02-01T09:00:00"))
    assert (dec.label, dec.start_ms) == ("2023-12", ms("2023-12-01T09:00:00"))


def test_an_unread_venue_is_unknown_funding_never_zero():
    got = {**FUNDING, "aster": None}
    t = h.summarize(FILLS, got)
    assert t.funding_known is False and t.funding == D("0.95")  # what could be read, marked as partial
    aster = [fill("ETH", Side.SELL, "0.1", "3452.1", "0.15", "2024-01-16T10:00:00", "3", exchange="aster",
                  fee_asset="USDT")]
    per = {(m.exchange, m.symbol): m.tally.funding_known for m in h.by_market(FILLS + aster, got)}
    assert per == {("paper", "BTC"): True, ("paper", "ETH"): True, ("aster", "ETH"): False}
    text = views.profit_view(t, FILLS[0].ts_ms, [], {"aster": "timeout"}, NY)
    rows = {line.split()[0]: line.split()[1:] for line in pre_lines(text)}
    assert rows["Net"] == ["-$41.46", "?"] and rows["Funding"] == ["+$0.95", "?"] and rows["Fees"] == ["-$2.41"]
    assert "aster could not be read (timeout)" in text


def test_fees_in_the_base_asset_are_valued_at_the_fill_price_and_others_named():
    spot = fill("PURR/USDC", Side.BUY, "1000", "0.25", "0.7", "2024-01-16T10:00:00", fee_asset="PURR")
    bnb = fill("BTC", Side.BUY, "0.001", "100000", "0.0002", "2024-01-16T10:01:00", fee_asset="BNB")
    assert h.fee_usd(spot) == D("0.175") and h.fee_usd(bnb) is None
    t = h.summarize([spot, bnb], {})
    assert t.fees == D("0.175") and t.unpriced_fees == frozenset({"BNB"})
    assert "Fees paid in BNB are not in the totals" in views.profit_view(t, spot.ts_ms, [], {}, NY)


def test_pages_are_newest_first_and_stay_put_while_new_fills_arrive():
    first = h.page(FILLS, 3, 0)
    assert [f.ts_ms for f in first.fills] == sorted((f.ts_ms for f in FILLS), reverse=True)[:3]
    assert (first.number, first.pages) == (0, 2)
    newer = fill("SOL", Side.BUY, "1", "150", "0.1", "2024-01-16T11:30:00")
    second = h.page([*FILLS, newer], 3, 1, first.until_ms)
    assert second.fills == [FILLS[0]] and second.pages == 2
    assert h.page([], 10, 0).fills == [] and h.page(FILLS, 3, 9).number == 1  # past the end: the last page


# ---- the views at phone width, with long real values -------------------------------------------------

BTC = Market("aster", "BTC", MarketKind.PERP, "BTC", "USDT", "BTCUSDT", D("0.001"), tick_size=D("0.1"))
ETH = Market("hyperliquid", "ETH", MarketKind.PERP, "ETH", "USDC", "ETH", D("0.0001"), price_sig_figs=5,
             price_decimals=2)
KPEPE = Market("hyperliquid", "kPEPE", MarketKind.PERP, "kPEPE", "USDC", "kPEPE", D(1), price_sig_figs=5,
               price_decimals=6)
PURR = Market("hyperliquid", "PURR/USDC", MarketKind.SPOT, "PURR", "USDC", "PURR/USDC", D(1), price_sig_figs=5,
              price_decimals=8)
MARKETS = {(m.exchange, m.symbol): m for m in (BTC, ETH, KPEPE, PURR)}
LONG = [
    fill("BTC", Side.SELL, "12.345", "101234.5", "1234.56", "2024-01-16T11:00:00", "-12345.67", "aster", "USDT"),
    fill("ETH", Side.BUY, "12.3456", "3452.1", "12345.67", "2024-01-16T11:01:00", "12345.67", "hyperliquid"),
    fill("kPEPE", Side.SELL, "1234567", "0.012345", "9.87", "2024-01-16T11:02:00", "-12345.67", "hyperliquid"),
    fill("PURR/USDC", Side.BUY, "123456", "0.23456", "123.45", "2024-01-16T11:03:00", "0", "hyperliquid", "PURR"),
    fill("PURR/USDC", Side.SELL, "123456", "0.23456", "1.2", "2024-01-16T11:04:00", "-9999.99", "aster", "BNB"),
]
LONG_FUNDING = {"hyperliquid": [funding("kPEPE", "-12345.67", "2024-01-16T10:00:00", "hyperliquid")],
                "aster": None}


def pre_lines(text: str) -> list[str]:
    blocks = re.findall(r"<pre>(.*?)</pre>", text, re.S)
    assert blocks, text
    return [html.unescape(line) for b in blocks for line in b.split("\n")]


def assert_phone_width(text: str) -> None:
    wide = [line for line in pre_lines(text) if len(line) > PHONE_COLUMNS]
    assert not wide, "\n".join(f"{len(w)}: {w!r}" for w in wide)


def test_trades_view_fits_a_phone_with_long_values():
    pg = h.page(LONG, 10, 0)
    text = views.trades_view(pg, MARKETS, NY)
    assert_phone_width(text)
    lines = pre_lines(text)
    assert lines[0] == "01-16 06:04 SELL PURR/USDC aster"  # newest first, local time, venue when several
    assert lines[2] == "  pnl -$9,999.99 fee 1.2 BNB"  # a fee in an asset we cannot value: as it is
    assert lines[3:6] == ["01-16 06:03 BUY  PURR/USDC hl", "  123,456 @ 0.23456", "  fee $28.96"]  # 123.45 PURR
    assert "  12.345 @ 101,234.5" in lines and "  pnl -$12,345.67 fee $1,234.56" in lines
    assert "  12.3456 @ 3,452.1" in lines and "  pnl +$12,345.67 fee $12,345.67" in lines
    assert views.trades_view(h.page([], 10, 0), {}, NY) == "No trades yet."


def test_profit_performance_and_period_views_fit_a_phone_with_long_values():
    t = h.summarize(LONG, LONG_FUNDING)
    per = h.by_market(LONG, LONG_FUNDING)
    errors = {"aster": "venue unavailable"}
    profit = views.profit_view(t, LONG[0].ts_ms, per, errors, NY)
    performance = views.performance_view(per, errors)
    kinds = {name: views.periods_view(kind, h.by_period(LONG, LONG_FUNDING, h.windows(kind, NOW, kind.maximum, NY,
                                                                                     RESET)), errors, NY, RESET)
             for name, kind in h.PERIODS.items()}
    for text in (profit, performance, *kinds.values()):
        assert_phone_width(text)
    assert "Realized" in profit and "Worst: kPEPE on hyperliquid -$24,701.21" in html.unescape(profit)
    assert all(f"<b>{s}</b>" in performance for s in ("BTC", "ETH", "kPEPE", "PURR/USDC"))
    assert "2024-01-16" in kinds["daily"] and "2024-01-15" in kinds["weekly"] and "2024-01" in kinds["monthly"]
    assert views.profit_view(None, 0, [], {}, NY) == "No trades yet."
    assert views.performance_view([], {}) == "No trades yet."
    quiet = views.periods_view(h.PERIODS["daily"], h.by_period([], {}, h.windows(h.PERIODS["daily"], NOW, 7, NY,
                                                                                   RESET)), {}, NY, RESET)
    assert "No trades in the last 7 days." in quiet


# ---- end to end: the real bot, the Telegram emulator, the paper venue -------------------------------


def shown_fills(text: str) -> list[tuple[str, str, D, D]]:
    """(side, symbol, size, price) of each fill a /trades page shows, top to bottom."""
    lines = pre_lines(text)
    out = []
    for head, at in zip(lines[0::3], lines[1::3], strict=True):
        size, price = at.split(" @ ")
        out.append((head.split()[2], head.split()[3], D(size.replace(",", "")), D(price.replace(",", ""))))
    return out


def seen(f: Fill) -> tuple[str, str, D, D]:
    return f.side.value.upper(), f.symbol, f.size, f.price


async def test_history_commands_end_to_end(tmp_path):
    async with Rig(tmp_path, timezone="Europe/Berlin", risk={"position_size_limit": 1, "day_reset_hour": 4}) as rig:
        me, desk = rig.trader, rig.other  # the history is the account's: both traders see it (and the
        # per-chat flood limit of the emulated Telegram is shared out, so nothing waits on it)
        assert (await desk.ask("/trades"))["text"] == "No trades yet."
        assert (await desk.ask("/profit"))["text"] == "No trades yet."
        for order, symbol in (("/buy BTC 0.01", "BTC"), ("/buy ETH 0.5", "ETH")):
            preview = await me.ask(order)
            assert "✅ Filled" in (await me.click(preview, button(preview, "ok:")))["text"]
            close = await me.ask(f"/close {symbol}")
            assert "✅ Filled" in (await me.click(close, button(close, "ok:")))["text"]
        venue = sorted(await rig.paper.fills(0), key=lambda f: (f.ts_ms, f.fill_id), reverse=True)
        assert len(venue) == 4
        assert rig.app is not None
        for _ in range(200):  # the fills reach the store from the venue's stream
            if len(await rig.app.store.fills_since(0)) == 4:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the fills never reached the store")

        listing = await me.ask("/trades 2")
        assert "page 1 of 2" in listing["text"]
        assert shown_fills(listing["text"]) == [seen(f) for f in venue[:2]]  # newest first: ETH sell, ETH buy
        assert shown_fills(listing["text"])[0][:3] == ("SELL", "ETH", D("0.5"))
        older = await me.click(listing, button(listing, "Older"))
        assert older["message_id"] == listing["message_id"] and "page 2 of 2" in older["text"]
        assert shown_fills(older["text"]) == [seen(f) for f in venue[2:]]
        assert shown_fills(older["text"])[1][:3] == ("BUY", "BTC", D("0.01"))
        back = await me.click(older, button(older, "◀"))
        assert "page 1 of 2" in back["text"]

        profit = html.unescape((await desk.ask("/profit"))["text"])
        realized, fees = sum(f.realized_pnl for f in venue), sum(f.fee for f in venue)
        assert re.search(rf"Realized +{re.escape(fmt_usd(realized, sign=True))}\n", profit), profit
        assert re.search(rf"Fees +{re.escape(fmt_usd(-fees, sign=True))}\n", profit), profit
        assert "Fills 4" in re.sub(r" +", " ", profit) and "(Europe/Berlin)" in profit

        performance = (await desk.ask("/performance"))["text"]
        assert "<b>BTC</b> on paper" in performance and "<b>ETH</b> on paper" in performance
        daily = await desk.ask("/daily")
        today = h.local_day(rig.app.clock(), zoneinfo.ZoneInfo("Europe/Berlin"), 4).isoformat()
        row = next(line for line in pre_lines(daily["text"]) if line.startswith(today))
        assert row.split()[-1] == "4" and "days from 04:00" in daily["text"]
        for text in (listing["text"], older["text"], performance, daily["text"], (await desk.ask("/weekly"))["text"],
                     (await desk.ask("/monthly 2"))["text"]):
            assert_phone_width(text)
        bad = await desk.ask("/daily lots")
        assert "<code>/daily [DAYS]</code>" in bad["text"] and "Something went wrong" not in bad["text"]
