"""The spread engine: pure functions from two venues' books to a net edge and an executable size.

Net edge is what a unit bought at one venue's ask and sold at the other's bid earns after both taker
fees, in basis points of the cost. The executable size walks both books together and stops at the
largest size whose volume-weighted net edge is still at or above the threshold. Stale, empty or
crossed data on either side gives no opportunity (a reason instead), never a false one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from exchanges.models import BookLevel, FundingRate, OrderBook

ZERO = Decimal(0)
BPS = Decimal(10_000)
HOURS_PER_YEAR = Decimal(24 * 365)


@dataclass(frozen=True, slots=True)
class VenueBook:
    """One venue's view of a market: its book, taker fee, lot and funding (None: unknown)."""

    venue: str
    symbol: str
    book: OrderBook
    taker_fee: Decimal
    lot: Decimal
    funding: FundingRate | None = None


@dataclass(frozen=True, slots=True)
class Opportunity:
    symbol: str
    buy_venue: str
    sell_venue: str
    best_ask: Decimal  # on the buy venue
    best_bid: Decimal  # on the sell venue
    gross_bps: Decimal
    fees_bps: Decimal
    net_bps: Decimal  # at the top of both books
    size: Decimal  # executable at or above the threshold (lot-rounded); zero: none
    buy_vwap: Decimal | None
    sell_vwap: Decimal | None
    net_bps_at_size: Decimal | None
    funding_per_hour: Decimal | None  # what the pair earns per hour per unit notional (+ = received)
    ts_ms: int

    @property
    def carry_annual_pct(self) -> Decimal | None:
        return None if self.funding_per_hour is None else self.funding_per_hour * HOURS_PER_YEAR * 100


@dataclass(frozen=True, slots=True)
class Verdict:
    """The best direction for one market, or why there is none."""

    symbol: str
    best: Opportunity | None
    reason: str | None  # "stale", "crossed", "empty", "one venue": why `best` is None


def unit_net(buy_px: Decimal, sell_px: Decimal, buy_fee: Decimal, sell_fee: Decimal) -> Decimal:
    """Net proceeds per unit bought at buy_px and sold at sell_px, after both taker fees."""
    return sell_px * (1 - sell_fee) - buy_px * (1 + buy_fee)


def net_bps(cost: Decimal, proceeds: Decimal, buy_fee: Decimal, sell_fee: Decimal) -> Decimal:
    if cost <= 0:
        return ZERO
    return (proceeds * (1 - sell_fee) - cost * (1 + buy_fee)) / cost * BPS


def common_lot(a: Decimal, b: Decimal) -> Decimal:
    """A size step both venues accept (their lots are powers of ten in practice: the coarser one;
    otherwise the smallest multiple of the coarser that the finer divides)."""
    big, small = max(a, b), min(a, b)
    if small <= 0:
        return big
    step = big
    while step % small != 0:
        step += big
    return step


def floor_to(size: Decimal, lot: Decimal) -> Decimal:
    if lot <= 0:
        return size
    return (size / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def executable(asks: Sequence[BookLevel], bids: Sequence[BookLevel], buy_fee: Decimal, sell_fee: Decimal,
               min_net_bps: Decimal, lot: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Walk the buy venue's asks and the sell venue's bids together: the largest size whose VWAP net
    edge stays >= min_net_bps. Returns (size, cost, proceeds) of that size, lot-rounded down."""
    k = 1 + buy_fee + min_net_bps / BPS  # proceeds*(1-fs) >= cost*k  <=>  net bps >= threshold
    keep = 1 - sell_fee
    i = j = 0
    left_a = asks[0].size if asks else ZERO
    left_b = bids[0].size if bids else ZERO
    size = cost = proceeds = ZERO
    while i < len(asks) and j < len(bids):
        a, b = asks[i].price, bids[j].price
        chunk = min(left_a, left_b)
        slope = k * a - keep * b  # how much each more unit eats of the headroom below
        headroom = proceeds * keep - k * cost
        take = chunk if slope <= 0 else min(chunk, max(ZERO, headroom / slope))
        if take <= 0:
            break
        size += take
        cost += take * a
        proceeds += take * b
        if take < chunk:
            break
        left_a -= take
        left_b -= take
        if left_a == 0:
            i += 1
            left_a = asks[i].size if i < len(asks) else ZERO
        if left_b == 0:
            j += 1
            left_b = bids[j].size if j < len(bids) else ZERO
    rounded = floor_to(size, lot)
    if rounded == size:
        return size, cost, proceeds
    return _walk_exact(asks, bids, rounded)


def _walk_exact(asks: Sequence[BookLevel], bids: Sequence[BookLevel], size: Decimal) -> tuple[Decimal, Decimal,
                                                                                              Decimal]:
    """(size, cost, proceeds) of exactly `size` taken from both books (the size is known to fit)."""

    def take(levels: Sequence[BookLevel]) -> Decimal:
        left, total = size, ZERO
        for lv in levels:
            q = min(left, lv.size)
            total += q * lv.price
            left -= q
            if left == 0:
                break
        return total

    return size, take(asks), take(bids)


def funding_per_hour(f: FundingRate | None) -> Decimal | None:
    if f is None or f.interval_hours <= 0:
        return None
    return f.rate / f.interval_hours


def direction(buy: VenueBook, sell: VenueBook, min_net_bps: Decimal, now_ms: int) -> Opportunity | None:
    """Buy on `buy` (at its asks), sell on `sell` (at its bids); None when either side is empty."""
    if not buy.book.asks or not sell.book.bids:
        return None
    ask, bid = buy.book.asks[0].price, sell.book.bids[0].price
    lot = common_lot(buy.lot, sell.lot)
    size, cost, proceeds = executable(buy.book.asks, sell.book.bids, buy.taker_fee, sell.taker_fee, min_net_bps, lot)
    fb, fs = funding_per_hour(buy.funding), funding_per_hour(sell.funding)
    # longs pay a positive rate, shorts receive it: the pair is long on `buy`, short on `sell`
    carry = None if fb is None or fs is None else fs - fb
    return Opportunity(
        symbol=buy.symbol, buy_venue=buy.venue, sell_venue=sell.venue, best_ask=ask, best_bid=bid,
        gross_bps=(bid - ask) / ask * BPS, fees_bps=(buy.taker_fee + sell.taker_fee) * BPS,
        net_bps=unit_net(ask, bid, buy.taker_fee, sell.taker_fee) / ask * BPS, size=size,
        buy_vwap=cost / size if size else None, sell_vwap=proceeds / size if size else None,
        net_bps_at_size=net_bps(cost, proceeds, buy.taker_fee, sell.taker_fee) if size else None,
        funding_per_hour=carry, ts_ms=now_ms,
    )


def problem(s: VenueBook, now_ms: int, max_age_ms: int) -> str | None:
    b = s.book
    if not b.bids or not b.asks:
        return "empty"
    if now_ms - b.ts_ms > max_age_ms:
        return "stale"
    if b.bids[0].price >= b.asks[0].price:
        return "crossed"
    return None


def evaluate(symbol: str, sides: Sequence[VenueBook], min_net_bps: Decimal, now_ms: int, max_age_ms: int) -> Verdict:
    """The best direction over every pair of venues quoting `symbol`; sides with stale, empty or
    crossed books are left out, and with fewer than two good sides there is no opportunity."""
    good: list[VenueBook] = []
    why: str | None = None
    for s in sides:
        trouble = problem(s, now_ms, max_age_ms)
        if trouble is None:
            good.append(s)
        else:
            why = f"{trouble} ({s.venue})"
    if len(good) < 2:
        return Verdict(symbol, None, why or "one venue")
    best: Opportunity | None = None
    for buy in good:
        for sell in good:
            if buy is sell:
                continue
            opp = direction(buy, sell, min_net_bps, now_ms)
            if opp is not None and (best is None or opp.net_bps > best.net_bps):
                best = opp
    return Verdict(symbol, best, None if best is not None else "empty")


__all__ = ["Opportunity", "VenueBook", "Verdict", "common_lot", "direction", "evaluate", "executable", "floor_to",
           "funding_per_hour", "net_bps", "unit_net"]
