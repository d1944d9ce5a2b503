"""Matching, fills, triggers and liquidations: the engine's moving parts, as a mixin of Engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from exchanges.models import Market, MarketKind, OrderStatus, Side, TimeInForce
from sim.accounts import SimAccount, apply_fill, isolated_fill, key_side, key_symbol, maintenance_rate, position_key
from sim.book import Book, Level, SimOrder

if TYPE_CHECKING:
    from sim.book import LiquidityProfile

ZERO = Decimal(0)
TRIGGER_MARKET_SLIPPAGE = Decimal("0.10")  # Hyperliquid: trigger market orders tolerate 10 %


class Reject(Exception):
    """The engine refused a request. `code` is stable; emulators map it to their venue's words."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SimFill:
    tid: int
    oid: int
    cloid: str | None
    account: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    closed_pnl: Decimal
    start_position: Decimal
    crossed: bool  # taker
    ts_ms: int
    liquidation: bool = False
    builder_fee: Decimal = ZERO  # paid to the order's builder on top of `fee`


@dataclass(frozen=True, slots=True)
class SimFunding:
    account: str
    symbol: str
    usdc: Decimal  # positive = received
    szi: Decimal
    rate: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class SimLiquidation:
    account: str
    symbol: str
    size: Decimal
    price: Decimal
    ts_ms: int
    position_side: str | None = None  # the hedge leg liquidated; None: a one-way position


class Matching:
    markets: dict[str, Market]
    books: dict[str, Book]
    mids: dict[str, Decimal]
    accounts: dict[str, SimAccount]
    orders: dict[int, SimOrder]
    open: dict[int, SimOrder]
    fills: dict[str, list[SimFill]]
    taker_fee: Decimal
    maker_fee: Decimal
    liquidity: LiquidityProfile
    clock: Callable[[], int]
    _pending: list[tuple[str, object]]
    _touched: dict[int, SimOrder]
    _next_tid: int
    _liq_seq: int = 0  # liquidation orders get negative ids: they are the venue's, not the user's

    if TYPE_CHECKING:
        def _touch(self, o: SimOrder) -> None: ...
        def _activate(self, order: SimOrder) -> None: ...
        def account(self, name: str) -> SimAccount: ...
        def cross_account_value(self, name: str) -> Decimal: ...
        def maintenance_margin(self, name: str) -> Decimal: ...

    def _reducible(self, o: SimOrder) -> Decimal:
        """How much of a reduce-only order may still trade: never past flat."""
        pos = self.accounts[o.account].positions.get(position_key(o.symbol, o.position_side))
        size = pos.size if pos else ZERO
        if size == 0 or (size > 0) == (o.side is Side.BUY):
            return ZERO
        return min(o.remaining, abs(size))

    def _match(self, order: SimOrder) -> None:
        book = self.books[order.symbol]
        for maker in book.opposite_liquidity(order.side):
            if order.remaining <= 0:
                break
            px = maker.price
            if (order.side is Side.BUY and px > order.price) or (order.side is Side.SELL and px < order.price):
                break
            if isinstance(maker, SimOrder):
                if maker.status is not OrderStatus.OPEN:
                    continue
                if maker.account == order.account:  # self-trade prevention: the resting order goes
                    self._cancel(maker, "self_trade")
                    continue
                qty = min(order.remaining, maker.remaining)
                if maker.reduce_only:
                    qty = min(qty, self._reducible(maker))
            else:
                qty = min(order.remaining, maker.size)
            if order.reduce_only:
                qty = min(qty, self._reducible(order))
                if qty <= 0:
                    break
            if qty <= 0:
                continue
            self._execute(order, px, qty, crossed=True)
            if isinstance(maker, SimOrder):
                self._execute(maker, px, qty, crossed=False)
            else:
                maker.size -= qty
        self._clean_book(book)
        if order.reduce_only and order.remaining > 0 and self._reducible(order) == 0:
            order.reason = "reduce_only"

    def _clean_book(self, book: Book) -> None:
        book.bids[:] = [o for o in book.bids if o.status is OrderStatus.OPEN and o.remaining > 0]
        book.asks[:] = [o for o in book.asks if o.status is OrderStatus.OPEN and o.remaining > 0]

    def _execute(self, o: SimOrder, px: Decimal, qty: Decimal, *, crossed: bool, liquidation: bool = False) -> SimFill:
        m = self.markets[o.symbol]
        acct = self.accounts[o.account]
        notional = px * qty
        fee = ZERO if liquidation else notional * (self.taker_fee if crossed else self.maker_fee)
        builder_fee = notional * o.builder_fee_rate if o.builder and not liquidation else ZERO
        closed_pnl = ZERO
        if m.kind is MarketKind.PERP:
            pos = acct.position(o.symbol, o.position_side)
            start = pos.size
            # isolated: margin moves between the collateral and the position, and the PnL comes back
            # inside the equity the position hands back
            iso_flow = None if pos.cross else isolated_fill(pos, qty * o.side.sign, px, pos.leverage)
            pos.size, pos.entry, closed_pnl = apply_fill(pos.size, pos.entry, qty * o.side.sign, px)
            acct.collateral += (closed_pnl if iso_flow is None else iso_flow) - fee - builder_fee
            if pos.size == 0:
                acct.collateral += pos.raw_usd  # nothing is left in a closed position
                del acct.positions[position_key(o.symbol, o.position_side)]
            else:
                pos.realized += closed_pnl
            if builder_fee:
                self.account(o.builder or "").collateral += builder_fee
        else:
            start = acct.spot.get(m.base, ZERO)
            sign = o.side.sign
            acct.spot[m.base] = start + qty * sign
            acct.spot[m.quote] = acct.spot.get(m.quote, ZERO) - notional * sign - fee - builder_fee
            if builder_fee:
                paid = self.account(o.builder or "").spot
                paid[m.quote] = paid.get(m.quote, ZERO) + builder_fee
        o.filled += qty
        o.notional_filled += notional
        now = self.clock()
        self._next_tid += 1
        fill = SimFill(self._next_tid, o.oid, o.cloid, o.account, o.symbol, o.side, px, qty, fee,
                       closed_pnl, start, crossed, now, liquidation, builder_fee)
        self.fills[o.account].append(fill)
        self._pending.append(("fill", fill))
        self._touch(o)
        if o.remaining == 0:
            o.status, o.status_ms = OrderStatus.FILLED, now
            self.open.pop(o.oid, None)
            self._on_filled(o)
        if m.kind is MarketKind.PERP:
            self._cancel_stale_reduce_only(o.account, o.symbol)
        return fill

    def _on_filled(self, o: SimOrder) -> None:
        for child in [c for c in self.open.values() if c.parent_oid == o.oid]:
            child.parent_oid = None  # armed: the parent filled completely
            self._touch(child)
        if o.trigger_px is not None:  # a TP/SL fired and filled: its sibling is moot
            for sib in [c for c in self.open.values() if c.account == o.account and c.symbol == o.symbol
                        and c.trigger_px is not None and c.reduce_only and c.side is o.side]:
                self._cancel(sib, "sibling_filled")

    def _cancel_stale_reduce_only(self, account: str, symbol: str) -> None:
        for o in [o for o in self.open.values() if o.account == account and o.symbol == symbol]:
            if o.reduce_only and o.trigger_px is None and self._reducible(o) == 0:
                self._cancel(o, "reduce_only")

    def _cancel(self, o: SimOrder, reason: str) -> None:
        self.open.pop(o.oid, None)
        o.status, o.reason, o.status_ms = OrderStatus.CANCELED, reason, self.clock()
        self.books[o.symbol].remove(o)
        self._touch(o)
        self._cancel_children(o)

    def _cancel_children(self, o: SimOrder) -> None:
        for child in [c for c in self.open.values() if c.parent_oid == o.oid]:
            self._cancel(child, "parent_canceled")

    # ---- price-driven work ----
    def _after_price(self, symbol: str) -> None:
        self._cross_resting(symbol)
        self._check_triggers(symbol)
        self._check_liquidations()

    def _cross_resting(self, symbol: str) -> None:
        """Resting orders the market moved through fill as makers at their own price."""
        book = self.books[symbol]
        for users, synth, crosses in (
            (book.bids, book.synth_asks, lambda o, lv: lv.price <= o.price),
            (book.asks, book.synth_bids, lambda o, lv: lv.price >= o.price),
        ):
            for o in list(users):
                if o.status is not OrderStatus.OPEN:
                    continue
                levels: list[Level] = [lv for lv in synth if lv.size > 0 and crosses(o, lv)]
                if not levels:
                    break
                for lv in levels:
                    qty = min(o.remaining, lv.size)
                    if o.reduce_only:
                        qty = min(qty, self._reducible(o))
                    if qty <= 0:
                        break
                    lv.size -= qty
                    self._execute(o, o.price, qty, crossed=False)
                    if o.status is not OrderStatus.OPEN:
                        break
        self._clean_book(book)

    def _check_triggers(self, symbol: str) -> None:
        mark = self.mids[symbol]
        m = self.markets[symbol]
        waiting = [o for o in self.open.values() if o.symbol == symbol and o.status is OrderStatus.WAITING_TRIGGER
                   and o.parent_oid is None]
        for o in sorted(waiting, key=lambda o: o.seq):
            assert o.trigger_px is not None
            # a sell stop fires on the way down, a sell take-profit on the way up; buys mirror it
            up = (o.tpsl == "tp") == (o.side is Side.SELL)
            if not (mark >= o.trigger_px if up else mark <= o.trigger_px):
                continue
            if o.oid not in self.open:  # cancelled as a sibling earlier in this pass
                continue
            if o.reduce_only and self._reducible(o) == 0:
                self._cancel(o, "reduce_only")
                continue
            self.open.pop(o.oid, None)
            o.status, o.status_ms = OrderStatus.OPEN, self.clock()
            o.reason = "triggered"
            if o.trigger_is_market:
                o.is_market, o.tif = True, TimeInForce.IOC
                o.price = m.round_price_aggressive(mark * (1 + TRIGGER_MARKET_SLIPPAGE * o.side.sign), o.side)
            self._pending.append(("triggered", o))
            self._activate(o)  # a fired trigger that finds no liquidity is recorded, not raised

    def _check_liquidations(self) -> None:
        """An isolated position goes alone when its own equity falls below its maintenance margin; the
        cross positions go together when the cross account value falls below theirs."""
        for acct in list(self.accounts.values()):
            doomed = [k for k, p in acct.positions.items() if not p.cross and p.equity(self.mids[key_symbol(k)])
                      < abs(p.size) * self.mids[key_symbol(k)] * maintenance_rate(
                          self.markets[key_symbol(k)].max_leverage)]
            if any(p.cross for p in acct.positions.values()) and (
                    self.cross_account_value(acct.name) < self.maintenance_margin(acct.name)):
                doomed += [k for k, p in acct.positions.items() if p.cross]
            if not doomed:
                continue
            symbols = {key_symbol(k) for k in doomed}
            for o in [o for o in self.open.values() if o.account == acct.name and o.symbol in symbols]:
                self._cancel(o, "liquidation")
            for key in doomed:
                symbol = key_symbol(key)
                pos = acct.positions[key]
                mark = self.mids[symbol]
                size = pos.size
                side = Side.SELL if size > 0 else Side.BUY
                self._liq_seq += 1
                o = SimOrder(oid=-self._liq_seq, account=acct.name, symbol=symbol, side=side, size=abs(size),
                             price=mark, tif=TimeInForce.IOC, ts_ms=self.clock(), seq=0, is_market=True,
                             position_side=key_side(key))
                self._execute(o, mark, abs(size), crossed=True, liquidation=True)
                self._touched.pop(o.oid, None)
                self._pending.append(("liquidation", SimLiquidation(acct.name, symbol, size, mark, self.clock(),
                                                                     key_side(key))))
