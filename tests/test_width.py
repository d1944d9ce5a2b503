"""Every view, built with long real values, fits a phone: each line of a <pre> table at most 32
columns, prose at most 64 (Telegram wraps prose, but titles and rows should not need it).

To add texts (the alerts, a new command's view), append (name, builder) pairs to BUILDERS: a builder
takes no arguments and returns the message's HTML exactly as it would be sent.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal as D

import pytest

from desk.desk import Outcome, Status
from desk.services import PerVenue, PnLPeriod, VenueStatus
from exchanges.models import (
    AccountBalances,
    Balance,
    FundingRate,
    Market,
    MarketKind,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
    TimeInForce,
)
from handlers import views
from handlers.parsing import UsageError
from handlers.render import PHONE_COLUMNS, split_message
from risk.events import KillReport, VenueKillReport
from risk.limits import Refusal
from risk.pretrade import Preview
from sim.telegram_rules import check_text

PROSE_COLUMNS = 64
NOW = 1_763_726_580_000  # 2025-11-21 12:03 UTC
VENUES = ("hyperliquid", "aster", "paper")
LONG_ERROR = ("HTTP 502 from https://api.hyperliquid.xyz/info: upstream connect error or disconnect/reset before"
              " headers. reset reason: connection termination (retrying in 2.5 s, attempt 7 of 10)")

BTC = Market("hyperliquid", "BTC", MarketKind.PERP, "BTC", "USDC", "BTC", lot_size=D("0.00001"), price_sig_figs=5,
             price_decimals=1, max_leverage=40, asset_id=0)
BTC_ASTER = Market("aster", "BTC", MarketKind.PERP, "BTC", "USDT", "BTCUSDT", lot_size=D("0.001"),
                   tick_size=D("0.1"), max_leverage=125)
KPEPE = Market("aster", "kPEPE", MarketKind.PERP, "kPEPE", "USDT", "1000PEPEUSDT", lot_size=D(1),
               tick_size=D("0.00000001"), max_leverage=50)
PURR = Market("hyperliquid", "PURR/USDC", MarketKind.SPOT, "PURR", "USDC", "PURR/USDC", lot_size=D(1),
              price_sig_figs=5, price_decimals=8)
KPEPE_HL = Market("hyperliquid", "kPEPE", MarketKind.PERP, "kPEPE", "USDC", "kPEPE", lot_size=D(1),
                  price_sig_figs=5, price_decimals=6, max_leverage=10)
MARKETS = {m.key: m for m in (BTC, BTC_ASTER, KPEPE, KPEPE_HL, PURR)}
MARKETS |= {("paper", "BTC"): BTC}


def cols(text: str) -> int:
    """Columns on a phone's monospace font: wide characters (emoji, CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1
               for c in text if c not in "\ufe0f\u200d")


def visible(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def too_wide(text: str) -> list[str]:
    """The lines that do not fit, each marked with where it is."""
    bad = []
    for block in re.findall(r"<pre>(.*?)</pre>", text, flags=re.S):
        bad += [f"pre {cols(x)}: {x!r}" for x in visible(block).split("\n") if cols(x) > PHONE_COLUMNS]
    prose = re.sub(r"<pre>.*?</pre>", "\n", text, flags=re.S)
    bad += [f"prose {cols(x)}: {x!r}" for x in visible(prose).split("\n") if cols(x) > PROSE_COLUMNS]
    return bad


def raw_decimals(text: str) -> list[str]:
    """Numbers printed with more digits than any rule allows (more than 8 decimals and more than 8
    significant digits): a computed Decimal printed as it came."""
    out = []
    for n in re.findall(r"\d[\d,]*\.\d+", text):
        whole, frac = n.replace(",", "").split(".")
        if len(frac) > 8 and len((whole + frac).lstrip("0")) > 8:
            out.append(n)
    return out


# ---- long, real values ----------------------------------------------------------------------------

def _balances() -> list[PerVenue[AccountBalances]]:
    spot = (Balance("USDC", D("99959.9479847"), D("99959.9479847"), D("99959.9479847")),
            Balance("PURR", D("1234567.12345678"), D("1234567.12345678"), D("231987.6543219")),
            Balance("HYPE", D("0.000123456789"), D(0), None))
    return [PerVenue("hyperliquid", AccountBalances("hyperliquid", D("1234567.89"), D("987654.321"),
                                                    D("246913.569"), spot)),
            PerVenue("aster", None, LONG_ERROR),
            PerVenue("paper", AccountBalances("paper", D("-12345.678"), D("0"), D("0")))]


BTC_LONG = Position("hyperliquid", "BTC", D("12.34567"), D("111234.5"), D("101234.5"), D("-123456.78"), 20,
                    D("62490.41"), D("53001.42674995278611004147464"))
PEPE_SHORT = Position("aster", "kPEPE", D("-123456789"), D("0.01234567"), D("0.01334567"), D("-123456.78"), 50,
                      D("32952.24"), D("0.02399999"), "isolated")


def _orders(n: int = 25) -> list[Order]:
    out = [Order("hyperliquid", "BTC", Side.SELL, D("12.34567"), None, OrderStatus.WAITING_TRIGGER,
                 order_id="45678901234", order_type=OrderType.TAKE_PROFIT, reduce_only=True,
                 trigger_price=D("121234.5")),
           Order("hyperliquid", "BTC", Side.SELL, D("12.34567"), None, OrderStatus.WAITING_TRIGGER,
                 order_id="45678901235", order_type=OrderType.STOP, reduce_only=True, trigger_price=D("99123.4"))]
    for i in range(n - len(out)):
        out.append(Order("hyperliquid", "BTC", Side.BUY, D("12.34567"), D("101234.5") - i, OrderStatus.OPEN,
                         order_id=str(45678902000 + i), tif=TimeInForce.ALO, filled=D("1.23456")))
    return out


def _pepe_orders() -> list[Order]:
    return [Order("aster", "kPEPE", Side.BUY, D("123456789"), D("0.01234567"), OrderStatus.OPEN,
                  order_id="12345678901234567"),
            Order("aster", "kPEPE", Side.BUY, D("123456789"), None, OrderStatus.WAITING_TRIGGER,
                  order_id="12345678901234568", order_type=OrderType.TAKE_PROFIT, reduce_only=True,
                  trigger_price=D("0.00999999"))]


def _preview(market: Market, req: OrderRequest, *, before: D, after: D, refusals: list[Refusal] | None = None,
             warnings: list[str] | None = None) -> Preview:
    price = req.price or D("101234.5")
    return Preview(req, market, price, price, req.size, price * req.size, D("562.1234567"), price * req.size / 20,
                   20, before, after, D("53001.42674995278611004147464") if market.kind is MarketKind.PERP else None,
                   False, refusals or [], warnings or [], NOW)


BIG_BUY = OrderRequest("hyperliquid", "BTC", Side.BUY, D("12.34567"), D("101234.5"), tif=TimeInForce.ALO,
                       leverage=20, take_profit=D("121234.5"), stop_loss=D("99123.4"))
CLOSE = OrderRequest("hyperliquid", "BTC", Side.SELL, D("123.45678"), None, reduce_only=True, tif=TimeInForce.IOC)
SPOT = OrderRequest("hyperliquid", "PURR/USDC", Side.BUY, D("1234567"), D("0.18765432"))
REFUSALS = [Refusal("POSITION_FRACTION", "The position would be $2,499,616.54, above position_size_limit 0.5 of"
                                         " equity ($617,283.94)."),
            Refusal("PRICE_BAND", "Price 101,234.5 is 7.2% from mark 94,444.1, beyond the 5% band.")]


def _kill() -> KillReport:
    return KillReport("daily loss limit breached, resumed after a restart", "limit:daily_loss", "ask", (
        VenueKillReport("hyperliquid", 25, ("BTC", "ETH", "kPEPE", "PURR/USDC", "SOL", "DOGE", "WIF"),
                        verified=True, attempts=1),
        VenueKillReport("aster", 1, (), 3, ("BTC", "kPEPE"), (LONG_ERROR, LONG_ERROR), attempts=7,
                        kept_positions=("BTC", "kPEPE")),
        VenueKillReport("paper", 0, verified=True)), NOW, retrying=("aster", "hyperliquid"), final=False)


def _status() -> list[VenueStatus]:
    return [VenueStatus("hyperliquid", True, 123.4, 2.0, None, "IP weight 1,150/1,200 left, address 9,990/10,000 left"),
            VenueStatus("aster", False, None, 12345.0, LONG_ERROR, None, f"stalled 30 s: {LONG_ERROR}"),
            VenueStatus("paper", None, 0.1, None, None)]


def _tickers(symbol: str, px: D) -> list[PerVenue[Ticker]]:
    tick = px / 10_000
    return [PerVenue("hyperliquid", Ticker("hyperliquid", symbol, px, px + tick, px, NOW)),
            PerVenue("aster", Ticker("aster", symbol, px - tick, px + 2 * tick, px + tick, NOW)),
            PerVenue("paper", None, LONG_ERROR)]


def _funding() -> list[PerVenue[FundingRate]]:
    return [PerVenue("hyperliquid", FundingRate("hyperliquid", "BTC", D("0.0000125"), 1, NOW + 23 * 60_000)),
            PerVenue("aster", FundingRate("aster", "BTC", D("-0.0123456"), 8, NOW + 7 * 3_600_000 + 57 * 60_000)),
            PerVenue("paper", None, LONG_ERROR)]


def _pnl() -> list[PnLPeriod]:
    return [PnLPeriod("today", D("-123456.78"), D("1234.5678"), D("-12345.67"), 1),
            PnLPeriod("7 days", D("1234567.89"), D("23456.78"), None, 1234),
            PnLPeriod("30 days", D("-1234567.89"), D("123456.78"), D("123456.78"), 12345)]


def _limits() -> list[views.LimitRow]:
    return [views.LimitRow("Daily loss", "$195,487.77", "$500.00"),
            views.LimitRow("Drawdown", "39,097.55%", "20.00%"),
            views.LimitRow("Positions", "12", "10"), views.LimitRow("Per symbol", "3", "1"),
            views.LimitRow("Largest pos.", "$1,249,808.27", "$100,000.00"),
            views.LimitRow("Pos./equity", "101.23%", "50.00%"), views.LimitRow("Orders/min", "123", "60"),
            views.LimitRow("Max order", None, "$1,000,000.00"),
            views.LimitRow("Min order", None, "$10.00", "min"), views.LimitRow("Leverage", "40x", "20x"),
            views.LimitRow("Price band", None, "5.00%"), views.LimitRow("Correlation", None, "0.8")]


def _result(status: OrderStatus, **kw: object) -> str:
    o = Order("hyperliquid", "BTC", Side.BUY, D("12.34567"), D("101234.5"), status, order_id="45678901234",
              filled=D("1.23456"), avg_price=D("101234.56789"), reason=LONG_ERROR, **kw)  # type: ignore[arg-type]
    return views.order_result_view(o, BTC, "close 100% of BTC")


BUILDERS: list[tuple[str, Callable[[], str]]] = [
    ("usage", lambda: views.usage_view(UsageError("unknown market " + "X" * 5000,
                                                  "/buy [exchange] SYMBOL SIZE [PRICE] [lev=N] [post|ioc] [reduce]"
                                                  " [tp=PRICE] [sl=PRICE]",
                                                  "/buy BTC 0.01   /buy BTC $500 95000 lev=3 post"))),
    ("balances", lambda: views.balances_view(_balances())),
    ("positions", lambda: views.positions_view(
        [PerVenue("hyperliquid", [BTC_LONG]), PerVenue("aster", [PEPE_SHORT]), PerVenue("paper", None, LONG_ERROR)],
        MARKETS, [PerVenue("hyperliquid", _orders()), PerVenue("aster", _pepe_orders()),
                  PerVenue("paper", None, LONG_ERROR)])),
    ("orders", lambda: views.orders_view([PerVenue("hyperliquid", _orders()), PerVenue("aster", _pepe_orders()),
                                          PerVenue("paper", None, LONG_ERROR)], MARKETS)),
    ("preview", lambda: views.preview_view(_preview(BTC, BIG_BUY, before=D("12.34567"), after=D("24.69134"),
                                                    warnings=[LONG_ERROR]), "buy")),
    ("preview refused", lambda: views.preview_view(_preview(BTC, BIG_BUY, before=D("-123.45678"),
                                                            after=D("-111.11111"), refusals=REFUSALS), "buy",
                                                   requote=True)),
    ("preview close", lambda: views.preview_view(_preview(BTC, CLOSE, before=D("123.45678"), after=D(0)),
                                                 "close 100% of BTC")),
    ("preview spot", lambda: views.preview_view(_preview(PURR, SPOT, before=D("1234567"), after=D("2469134")),
                                                "buy")),
    *[(f"result {s.value}", lambda s=s: _result(s)) for s in OrderStatus],
    ("outcome", lambda: views.outcome_view(Outcome(Status.FAILED, detail=LONG_ERROR))),
    ("kill", lambda: views.kill_view(_kill())),
    ("prices", lambda: views.prices_view("BTC", _tickers("BTC", D("101234.5")), MARKETS)),
    ("prices kPEPE", lambda: views.prices_view("kPEPE", _tickers("kPEPE", D("0.01234567")), MARKETS)),
    ("funding", lambda: views.funding_view("BTC", _funding(), NOW, "Europe/Berlin")),
    ("pnl", lambda: views.pnl_view(_pnl(), D("-1234567.89"))),
    ("status", lambda: views.status_view(_status(), "REDUCING", "daily loss limit breached (" + LONG_ERROR + ")",
                                         "Daily loss $195,487.77 of $500.00 (39,097.55%)\nDrawdown 12.34% of 20.00%",
                                         123456.0, "0.1.0.dev123+g1234567")),
    ("limits", lambda: views.limits_view("REDUCING", _limits())),
]


@pytest.mark.parametrize(("name", "build"), BUILDERS, ids=[n for n, _ in BUILDERS])
def test_every_view_fits_a_phone(name: str, build: Callable[[], str]) -> None:
    text = build()
    for part in split_message(text):
        assert check_text(part, "HTML") is None, part
        assert too_wide(part) == [], f"{name}:\n" + "\n".join(too_wide(part))
    assert raw_decimals(visible(text)) == [], name
    assert "(s)" not in text, name


def test_every_view_in_handlers_views_is_built_above(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [n for n in dir(views) if n.endswith("_view") and callable(getattr(views, n))]
    called: set[str] = set()

    def spy(name: str, fn: Callable[..., str]) -> Callable[..., str]:
        def run(*a: object, **k: object) -> str:
            called.add(name)
            return fn(*a, **k)
        return run

    for n in names:
        monkeypatch.setattr(views, n, spy(n, getattr(views, n)))
    for _, build in BUILDERS:
        build()
    assert sorted(set(names) - called) == []


# ---- end to end: what each read command sends, against the emulated Hyperliquid -------------------

@pytest.mark.parametrize("venue", ["paper", "hyperliquid"])
async def test_every_read_command_fits_and_says_what_a_trader_needs(tmp_path, venue):
    from tests.tg import Rig, button

    async with Rig(tmp_path, venue=venue) as rig:
        me = rig.trader
        mark = (await rig.paper.ticker("BTC")).mark
        tp, sl = int(mark * D("1.1")), int(mark * D("0.9"))
        preview = await me.ask(f"/buy BTC 0.01 tp={tp} sl={sl}")
        done = await me.click(preview, button(preview, "ok:"))
        assert "Filled" in done["text"], done["text"]
        replies = {cmd: await me.ask(cmd) for cmd in ("/positions", "/orders", "/price BTC", "/funding BTC",
                                                      "/status", "/limits", "/balance", "/pnl")}  # /pnl's chart last
        for cmd, msg in replies.items():
            assert too_wide(msg["text"]) == [], f"{cmd}:\n{msg['text']}"
            assert raw_decimals(visible(msg["text"])) == [] and "(s)" not in msg["text"], msg["text"]
        positions = visible(replies["/positions"]["text"])
        assert re.search(rf"TP +{tp:,}", positions) and re.search(rf"SL +{sl:,}", positions), positions
        funding = visible(replies["/funding BTC"]["text"])
        assert "Next" in funding and re.search(r"\d\d:00, in (\d+h )?\d+m", funding), funding
        assert re.search(r"(longs pay shorts|shorts pay longs|no one)", funding), funding
        limits = visible(replies["/limits"]["text"])
        assert re.search(r"Min order +min +\$", limits) and re.search(r"Positions +now +1\n +max +5", limits), limits
        if venue == "hyperliquid":
            status = visible(replies["/status"]["text"])
            assert "\nhyperliquid: 🟢 streaming" in status, status
            assert "rate limits: IP weight" in status and "used" not in status, status
            assert re.search(r"address\s+[\d,]+/[\d,]+ left", status), status
