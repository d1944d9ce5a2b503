"""The spread engine (pure): net edge after both taker fees, size by walking both books, carry,
and no opportunity from stale, crossed or empty data."""

from __future__ import annotations

from decimal import Decimal as D

from exchanges.models import BookLevel, FundingRate, OrderBook
from risk.spreads import VenueBook, common_lot, evaluate, executable, floor_to

NOW = 1_700_000_000_000
FEE = D("0.0005")  # 5 bps each side: 10 bps round trip


def book(venue: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int = NOW) -> OrderBook:
    return OrderBook(venue, "BTC", tuple(BookLevel(D(p), D(s)) for p, s in bids),
                     tuple(BookLevel(D(p), D(s)) for p, s in asks), ts)


def side(venue: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], *, ts: int = NOW,
         fee: D = FEE, lot: str = "0.001", rate: str | None = None, hours: int = 1) -> VenueBook:
    funding = None if rate is None else FundingRate(venue, "BTC", D(rate), hours)
    return VenueBook(venue, "BTC", book(venue, bids, asks, ts), fee, D(lot), funding)


def test_net_edge_counts_both_fees_and_picks_the_direction() -> None:
    a = side("a", [("99990", "1")], [("100000", "1")])
    b = side("b", [("100300", "1")], [("100310", "1")])  # b's bid 30 bps above a's ask
    v = evaluate("BTC", [a, b], D(10), NOW, 2000)
    assert v.best is not None and v.reason is None
    o = v.best
    assert (o.buy_venue, o.sell_venue) == ("a", "b")
    assert o.gross_bps == D(30) and o.fees_bps == D(10)
    # per unit: 100300*(1-0.0005) - 100000*(1.0005) = 100249.85 - 100050 = 199.85 -> 19.985 bps
    assert o.net_bps == D("19.985")
    assert o.size == D(1) and o.net_bps_at_size == D("19.985")


def test_gap_below_fees_is_no_opportunity_size() -> None:
    a = side("a", [("99990", "1")], [("100000", "1")])
    b = side("b", [("100080", "1")], [("100090", "1")])  # 8 bps gross < 10 bps of fees
    o = evaluate("BTC", [a, b], D(0), NOW, 2000).best
    assert o is not None and o.net_bps < 0 and o.size == 0 and o.buy_vwap is None


def test_size_is_limited_by_the_thinner_book_and_the_threshold() -> None:
    # a sells 0.3 at 100000 then 5 at 100200; b bids 0.5 at 100300 then 5 at 100250
    a = side("a", [("99990", "9")], [("100000", "0.3"), ("100200", "5")])
    b = side("b", [("100300", "0.5"), ("100250", "5")], [("100310", "9")])
    size, cost, proceeds = executable(a.book.asks, b.book.bids, FEE, FEE, D(0), D("0.001"))
    # 0.3 earns 199.85/unit; 0.2 more (a's 2nd level vs b's 1st) loses 0.25/unit; then each unit of a's
    # 2nd level vs b's 2nd loses 50.225: the headroom 59.905 lasts 1.1927 more -> 1.6927, floored to a lot
    assert size == D("1.692")
    assert (proceeds * (1 - FEE) - cost * (1 + FEE)) >= 0
    one_more = proceeds + D("0.001") * D(100250), cost + D("0.001") * D(100200)
    assert one_more[0] * (1 - FEE) - one_more[1] * (1 + FEE) < 0
    # a thin book caps the size outright
    thin = side("b", [("100300", "0.02")], [("100310", "9")])
    assert evaluate("BTC", [a, thin], D(10), NOW, 2000).best.size == D("0.02")  # type: ignore[union-attr]


def test_threshold_stops_the_walk_exactly_and_rounds_to_both_lots() -> None:
    a = side("a", [("99990", "9")], [("100000", "1"), ("100100", "1")], lot="0.001")
    b = side("b", [("100300", "2")], [("100310", "9")], lot="0.01")
    o = evaluate("BTC", [a, b], D(15), NOW, 2000).best
    assert o is not None and o.size % D("0.01") == 0
    assert o.net_bps_at_size is not None and o.net_bps_at_size >= 15
    # the next lot would be below 15 bps
    nxt = o.size + D("0.01")
    cost = D(100000) + (nxt - 1) * D(100100)
    proceeds = nxt * D(100300)
    assert (proceeds * (1 - FEE) - cost * (1 + FEE)) / cost * 10_000 < 15


def test_stale_crossed_or_empty_side_gives_nothing() -> None:
    good = side("a", [("99990", "1")], [("100000", "1")])
    far = [("100500", "1")], [("100510", "1")]
    stale = side("b", *far, ts=NOW - 5000)
    v = evaluate("BTC", [good, stale], D(10), NOW, 2000)
    assert v.best is None and v.reason == "stale (b)"
    crossed = side("b", [("100500", "1")], [("100400", "1")])
    v = evaluate("BTC", [good, crossed], D(10), NOW, 2000)
    assert v.best is None and v.reason == "crossed (b)"
    empty = side("b", [], [("100510", "1")])
    assert evaluate("BTC", [good, empty], D(10), NOW, 2000).best is None
    assert evaluate("BTC", [good], D(10), NOW, 2000).reason == "one venue"


def test_funding_carry_per_hour_and_annualised() -> None:
    # long on a pays 0.01%/h, short on b receives 0.08%/8h = 0.01%/h: carry 0
    a = side("a", [("99990", "1")], [("100000", "1")], rate="0.0001")
    b = side("b", [("100300", "1")], [("100310", "1")], rate="0.0008", hours=8)
    o = evaluate("BTC", [a, b], D(10), NOW, 2000).best
    assert o is not None and o.funding_per_hour == 0 and o.carry_annual_pct == 0
    b2 = side("b", [("100300", "1")], [("100310", "1")], rate="0.0003")
    o = evaluate("BTC", [a, b2], D(10), NOW, 2000).best
    assert o is not None and o.funding_per_hour == D("0.0002") and o.carry_annual_pct == D("175.2")
    no_funding = side("b", [("100300", "1")], [("100310", "1")])
    assert evaluate("BTC", [a, no_funding], D(10), NOW, 2000).best.carry_annual_pct is None  # type: ignore[union-attr]


def test_lots() -> None:
    assert common_lot(D("0.001"), D("0.01")) == D("0.01")
    assert common_lot(D("0.002"), D("0.003")) == D("0.006")
    assert floor_to(D("1.2345"), D("0.01")) == D("1.23")
