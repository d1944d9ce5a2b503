"""Pure estimates for a preview: fill price from the book, liquidation price, correlation of returns."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal

from exchanges.models import BookLevel, OrderBook, Side

ZERO = Decimal(0)


def estimate_fill(book: OrderBook, side: Side, size: Decimal, limit: Decimal | None = None) -> tuple[Decimal, Decimal]:
    """Walk the opposite side of the book: (average price, size that would fill within `limit`)."""
    levels: Sequence[BookLevel] = book.asks if side is Side.BUY else book.bids
    left, cost = size, ZERO
    for lv in levels:
        if limit is not None and (lv.price > limit if side is Side.BUY else lv.price < limit):
            break
        take = min(left, lv.size)
        cost += take * lv.price
        left -= take
        if left == 0:
            break
    filled = size - left
    return (cost / filled if filled else ZERO), filled


def liquidation_estimate(size: Decimal, entry: Decimal, account_value: Decimal, max_leverage: int) -> Decimal | None:
    """Cross-margin liquidation price of one position with the whole account behind it
    (maintenance margin at half the initial margin of the max leverage, as Hyperliquid)."""
    if size == 0:
        return None
    mmr = Decimal(1) / Decimal(2 * max_leverage)
    if size > 0:
        px = (entry * size - account_value) / (size * (1 - mmr))
    else:
        px = (account_value + entry * -size) / (-size * (1 + mmr))
    return px if px > 0 else None


def returns(closes: Sequence[Decimal]) -> list[Decimal]:
    return [(b - a) / a for a, b in itertools.pairwise(closes) if a != 0]


def pearson(xs: Sequence[Decimal], ys: Sequence[Decimal]) -> Decimal | None:
    """Correlation of two return series (aligned from the end); None when there is too little data."""
    n = min(len(xs), len(ys))
    if n < 3:
        return None
    xs, ys = xs[-n:], ys[-n:]
    mx, my = sum(xs, ZERO) / n, sum(ys, ZERO) / n
    cov = sum(((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)), ZERO)
    vx = sum(((x - mx) ** 2 for x in xs), ZERO)
    vy = sum(((y - my) ** 2 for y in ys), ZERO)
    if vx == 0 or vy == 0:
        return None
    return cov / (vx * vy).sqrt()
