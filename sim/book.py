"""One market's order book: resting user orders in price-time priority plus synthetic liquidity.

Synthetic liquidity stands for the rest of the market: a ladder of levels around mid that takers
consume and that is rebuilt whenever the price moves. At equal price, resting user orders come
first (they were there before the ladder was rebuilt).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from exchanges.models import Market, OrderStatus, Side, TimeInForce

ZERO = Decimal(0)


@dataclass
class SimOrder:
    oid: int
    account: str
    symbol: str
    side: Side
    size: Decimal
    price: Decimal  # limit price (for market orders: the slippage cap)
    tif: TimeInForce
    ts_ms: int
    seq: int
    cloid: str | None = None
    reduce_only: bool = False
    is_market: bool = False
    trigger_px: Decimal | None = None
    tpsl: str | None = None  # "tp" | "sl"
    trigger_is_market: bool = True
    parent_oid: int | None = None  # normalTpsl child: armed when the parent fills completely
    status: OrderStatus = OrderStatus.OPEN
    reason: str | None = None  # engine reason code for a cancel/reject (e.g. "ioc", "reduce_only")
    filled: Decimal = ZERO
    notional_filled: Decimal = ZERO
    status_ms: int = 0
    orig_size: Decimal = ZERO
    position_side: str | None = None  # hedge mode leg ("LONG" | "SHORT"); None: one-way
    builder: str | None = None  # an account paid `builder_fee_rate` of each fill's notional (Aster builder codes)
    builder_fee_rate: Decimal = ZERO

    def __post_init__(self) -> None:
        if not self.orig_size:
            self.orig_size = self.size

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    @property
    def avg_price(self) -> Decimal | None:
        return self.notional_filled / self.filled if self.filled else None

    @property
    def is_trigger(self) -> bool:
        return self.trigger_px is not None


@dataclass
class Level:
    price: Decimal
    size: Decimal


@dataclass
class LiquidityProfile:
    """Synthetic ladder: `levels` per side, first at mid ± half_spread_bps, then every step_bps,
    each level worth `level_usd` (growing by `growth` per level)."""

    levels: int = 20
    half_spread_bps: int = 1
    step_bps: int = 2
    level_usd: Decimal = Decimal(50_000)
    growth: Decimal = Decimal("0.25")


@dataclass
class Book:
    market: Market
    bids: list[SimOrder] = field(default_factory=list)  # best first
    asks: list[SimOrder] = field(default_factory=list)
    synth_bids: list[Level] = field(default_factory=list)  # best first
    synth_asks: list[Level] = field(default_factory=list)

    @staticmethod
    def _key(o: SimOrder) -> tuple[Decimal, int]:
        return (-o.price, o.seq) if o.side is Side.BUY else (o.price, o.seq)

    def add(self, order: SimOrder) -> None:
        side = self.bids if order.side is Side.BUY else self.asks
        keys = [self._key(o) for o in side]
        side.insert(bisect.bisect_right(keys, self._key(order)), order)

    def remove(self, order: SimOrder) -> None:
        side = self.bids if order.side is Side.BUY else self.asks
        for i, o in enumerate(side):
            if o is order:
                del side[i]
                return

    def rebuild_synthetic(self, mid: Decimal, profile: LiquidityProfile) -> None:
        m = self.market
        self.synth_bids, self.synth_asks = [], []
        for i in range(profile.levels):
            off = Decimal(profile.half_spread_bps + i * profile.step_bps) / Decimal(10000)
            usd = profile.level_usd * (1 + profile.growth * i)
            for out, px in ((self.synth_bids, mid * (1 - off)), (self.synth_asks, mid * (1 + off))):
                side = Side.BUY if out is self.synth_bids else Side.SELL
                rounded = m.round_price_passive(px, side)
                size = (usd / rounded).quantize(m.lot_size) if rounded > 0 else ZERO
                if size <= 0:
                    continue
                if out and out[-1].price == rounded:
                    out[-1].size += size
                else:
                    out.append(Level(rounded, size))

    def set_synthetic(self, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]) -> None:
        self.synth_bids = [Level(p, s) for p, s in sorted(bids, key=lambda x: -x[0])]
        self.synth_asks = [Level(p, s) for p, s in sorted(asks, key=lambda x: x[0])]

    def best(self, side: Side) -> Decimal | None:
        """Best price on one side (BUY = best bid), over user and synthetic liquidity."""
        users = self.bids if side is Side.BUY else self.asks
        synth = self.synth_bids if side is Side.BUY else self.synth_asks
        # an emptied level (a taker just took it) is not the best price any more: the first with size is
        first_synth = next((lv.price for lv in synth if lv.size > 0), None)
        first_user = next((o.price for o in users if o.remaining > 0), None)
        cands = [p for p in (first_synth, first_user) if p is not None]
        if not cands:
            return None
        return max(cands) if side is Side.BUY else min(cands)

    def best_bid(self) -> Decimal | None:
        return self.best(Side.BUY)

    def best_ask(self) -> Decimal | None:
        return self.best(Side.SELL)

    def opposite_liquidity(self, taker_side: Side) -> Iterator[SimOrder | Level]:
        """Makers a taker of `taker_side` meets, best first; user orders first at equal price."""
        users = self.asks if taker_side is Side.BUY else self.bids
        synth = self.synth_asks if taker_side is Side.BUY else self.synth_bids
        better = (lambda a, b: a < b) if taker_side is Side.BUY else (lambda a, b: a > b)
        i = j = 0
        while True:
            while i < len(users) and users[i].remaining <= 0:
                i += 1
            while j < len(synth) and synth[j].size <= 0:
                j += 1
            if i >= len(users) and j >= len(synth):
                return
            if j >= len(synth) or (i < len(users) and not better(synth[j].price, users[i].price)):
                yield users[i]
                i += 1
            else:
                yield synth[j]
                j += 1

    def depth(self, n: int) -> tuple[list[tuple[Decimal, Decimal, int]], list[tuple[Decimal, Decimal, int]]]:
        """Aggregated levels (price, size, order count), best first, `n` per side."""

        def agg(users: list[SimOrder], synth: list[Level], desc: bool) -> list[tuple[Decimal, Decimal, int]]:
            acc: dict[Decimal, list[Decimal | int]] = {}
            for o in users:
                if o.remaining > 0:
                    e = acc.setdefault(o.price, [ZERO, 0])
                    e[0] += o.remaining
                    e[1] += 1
            for lv in synth:
                if lv.size > 0:
                    e = acc.setdefault(lv.price, [ZERO, 0])
                    e[0] += lv.size
                    e[1] += 1
            prices = sorted(acc, reverse=desc)[:n]
            return [(p, acc[p][0], acc[p][1]) for p in prices]  # type: ignore[misc]

        return agg(self.bids, self.synth_bids, True), agg(self.asks, self.synth_asks, False)
