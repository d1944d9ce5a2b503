"""The matching engine shared by the venue emulators and the paper exchange.

Price-time priority, partial fills, GTC / IOC / ALO, reduce-only, market orders as IOC with a
slippage cap, stop and take-profit triggers (with normalTpsl children), maker/taker fees, cross
margin, liquidation and funding. An order may trade one hedge-mode leg (`position_side`, Aster's
LONG / SHORT) and pay a builder fee on top of the venue's (Aster builder codes).
Single-threaded by design: every public call runs to completion on the event loop, so no two calls
interleave. Listeners receive ("order" | "fill" | "funding" | "liquidation", payload) after each
public call, in the order things happened, and ("account", name) when an account changes without an
order (funds moved in, leverage set).
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal

from exchanges.models import Market, MarketKind, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchanges.precision import to_wire
from sim.accounts import TRANSFER_KINDS, SimAccount, SimCashFlow, position_key
from sim.book import Book, Level, LiquidityProfile, SimOrder
from sim.ledger import Ledger
from sim.markets import PriceWalk
from sim.matching import Matching, Reject, SimFill, SimFunding, SimLiquidation

ZERO = Decimal(0)


Listener = Callable[[str, object], None]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Engine(Matching, Ledger):
    def __init__(
        self,
        markets: Iterable[Market],
        prices: dict[str, Decimal],
        *,
        seed: int = 1,
        clock: Callable[[], int] = _now_ms,
        taker_fee: Decimal = Decimal("0.00045"),
        maker_fee: Decimal = Decimal("0.00015"),
        liquidity: LiquidityProfile | None = None,
    ):
        self.markets: dict[str, Market] = {m.symbol: m for m in markets}
        self.clock = clock
        self.walk = PriceWalk(seed)
        self.taker_fee, self.maker_fee = taker_fee, maker_fee
        self.liquidity = liquidity or LiquidityProfile()
        self.mids: dict[str, Decimal] = {}
        self.books = {s: Book(m) for s, m in self.markets.items()}
        self.accounts: dict[str, SimAccount] = {}
        self.orders: dict[int, SimOrder] = {}
        self.open: dict[int, SimOrder] = {}  # resting or waiting for a trigger
        self.cloids: dict[tuple[str, str], int] = {}
        self.fills: dict[str, list[SimFill]] = {}
        self.fundings: dict[str, list[SimFunding]] = {}
        self.cash_flows: dict[str, list[SimCashFlow]] = {}  # each account's deposits, withdrawals, transfers
        self.funding_rates: dict[str, Decimal] = {s: Decimal("0.0000125") for s in self.markets}
        self.scheduled_cancel: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self._pending: list[tuple[str, object]] = []
        self._touched: dict[int, SimOrder] = {}
        self._seq = 0
        self._next_oid = 1_000_000
        self._next_tid = 1
        for sym, m in self.markets.items():
            self.mids[sym] = m.round_price(prices[sym])
            self.books[sym].rebuild_synthetic(self.mids[sym], self.liquidity)

    # ---- listeners -----------------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _flush(self) -> None:
        for o in self._touched.values():
            self._pending.append(("order", copy.copy(o)))
        self._touched.clear()
        events, self._pending = self._pending, []
        for kind, payload in events:
            for fn in list(self._listeners):
                fn(kind, payload)

    def _touch(self, o: SimOrder) -> None:
        self._touched[o.oid] = o

    # ---- accounts and prices -------------------------------------------------------------------
    def account(self, name: str) -> SimAccount:
        acct = self.accounts.get(name)
        if acct is None:
            acct = self.accounts[name] = SimAccount(name)
            self.fills[name] = []
            self.fundings[name] = []
        return acct

    def fund(self, name: str, amount: Decimal, asset: str = "USDC", *, spot: bool = False) -> None:
        acct = self.account(name)
        if spot:
            acct.spot[asset] = acct.spot.get(asset, ZERO) + amount
        else:
            acct.collateral += amount
        self._pending.append(("account", name))
        self._flush()

    def move_funds(self, name: str, kind: str, usdc: Decimal, *, to: str = "", to_perp: bool = True,
                   fee: Decimal = ZERO, token: str = "USDC", amount: Decimal = ZERO) -> SimCashFlow:
        """A deposit, withdrawal or transfer (`to` another account), kept in the ledger of each account it
        touches. Perp USDC moves, except for a spotTransfer (`amount` of spot `token`, worth `usdc`) and
        an accountClassTransfer (spot to perp, or back). A fee is paid by the sender."""
        if kind not in TRANSFER_KINDS or usdc <= 0 or fee < 0 or (kind == "spotTransfer" and amount <= 0):
            raise Reject("TRANSFER", f"cannot {kind} {usdc} USDC")
        acct = self.account(name)
        if kind == "spotTransfer" or (kind == "accountClassTransfer" and to_perp):
            asset, moved = (token, amount) if kind == "spotTransfer" else ("USDC", usdc)
            if moved + (fee if asset == "USDC" else ZERO) > self.spot_available(name, asset):
                raise Reject("TRANSFER", "Insufficient spot balance.")
            acct.spot[asset] = acct.spot.get(asset, ZERO) - moved
            acct.spot["USDC"] = acct.spot.get("USDC", ZERO) - fee
            if kind == "accountClassTransfer":
                acct.collateral += usdc
        elif kind == "deposit":
            acct.collateral += usdc
        else:  # out of the perp account: a withdrawal, perp to spot, a transfer to another account
            if usdc + fee > self.withdrawable(name):
                raise Reject("TRANSFER", "Insufficient balance for withdrawal or transfer.")
            acct.collateral -= usdc + fee
            if kind == "accountClassTransfer":
                acct.spot["USDC"] = acct.spot.get("USDC", ZERO) + usdc
        now = self.clock()
        ledger = self.cash_flows.setdefault(name, [])
        tx = "0x" + hashlib.sha256(f"{name}:{kind}:{len(ledger)}:{now}".encode()).hexdigest()
        flow = SimCashFlow(name, kind, usdc, now, tx, to_perp, name if to else "", to, fee, token, amount,
                           now if kind == "withdraw" else 0)
        ledger.append(flow)
        self._pending.append(("account", name))
        if to:
            dest = self.account(to)
            if kind == "spotTransfer":
                dest.spot[token] = dest.spot.get(token, ZERO) + amount
            else:
                dest.collateral += usdc
            self.cash_flows.setdefault(to, []).append(replace(flow, account=to))
            self._pending.append(("account", to))
        self._flush()
        return flow

    def market(self, symbol: str) -> Market:
        m = self.markets.get(symbol)
        if m is None:
            raise Reject("UNKNOWN_MARKET", f"Unknown market {symbol}")
        return m

    def mark(self, symbol: str) -> Decimal:
        return self.mids[symbol]

    def set_price(self, symbol: str, price: Decimal) -> None:
        m = self.market(symbol)
        self.mids[symbol] = m.round_price(price)
        self.books[symbol].rebuild_synthetic(self.mids[symbol], self.liquidity)
        self._after_price(symbol)
        self._flush()

    def step(self, n: int = 1) -> None:
        """Advance every market n steps along the seeded walk."""
        for _ in range(n):
            for sym, m in self.markets.items():
                self.mids[sym] = self.walk.next_price(m, self.mids[sym])
                self.books[sym].rebuild_synthetic(self.mids[sym], self.liquidity)
                self._after_price(sym)
        self.run_scheduled_cancels()
        self._flush()

    def set_liquidity(
        self, symbol: str, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
    ) -> None:
        """Replace the synthetic ladder (until the next price move): explicit books for tests."""
        self.books[symbol].set_synthetic(bids, asks)

    def set_leverage(self, name: str, symbol: str, leverage: int, cross: bool = True) -> None:
        m = self.market(symbol)
        if m.kind is not MarketKind.PERP or not 1 <= leverage <= m.max_leverage:
            raise Reject("LEVERAGE", f"Invalid leverage value {leverage}: allowed 1 to {m.max_leverage}")
        acct = self.account(name)
        held = acct.positions_of(symbol)
        if any(pos.cross != cross for pos in held):
            raise Reject("LEVERAGE", "Cannot switch leverage type with open position.")
        acct.leverage[symbol] = (leverage, cross)
        for pos in held:
            pos.leverage = leverage
        self._pending.append(("account", name))
        self._flush()

    def update_isolated_margin(self, name: str, symbol: str, amount: Decimal, position_side: str | None = None) -> None:
        """Add USD to an isolated position (amount > 0) or take some out (< 0)."""
        acct = self.account(name)
        pos = acct.positions.get(position_key(symbol, position_side))
        if pos is None or pos.cross:
            raise Reject("ISOLATED", "Position does not use isolated margin.")
        mark = self.mids[symbol]
        if amount > 0 and amount > self.available_margin(name):
            raise Reject("ISOLATED", "Insufficient margin to add to isolated position.")
        # what stays in must still carry the position at its leverage
        if amount < 0 and pos.equity(mark) + amount < abs(pos.size) * mark / pos.leverage:
            raise Reject("ISOLATED", "Insufficient margin to remove from isolated position.")
        pos.raw_usd += amount
        acct.collateral -= amount
        self._pending.append(("account", name))
        self._flush()

    # ---- orders --------------------------------------------------------------------------------
    def place(self, name: str, req: OrderRequest, *, position_side: str | None = None, builder: str | None = None,
              builder_fee_rate: Decimal = ZERO) -> SimOrder:
        """Validate and submit one order. Raises Reject; a rejection is still recorded (status lookups).
        `position_side` trades one hedge leg ("LONG" / "SHORT") instead of the one-way position; a
        `builder` is paid `builder_fee_rate` of each fill's notional on top of the fee."""
        try:
            order = self._validate(name, req, position_side=position_side, builder=builder,
                                   builder_fee_rate=builder_fee_rate)
            self._submit(order, req)
            return order
        finally:
            self._flush()

    def cancel(self, name: str, *, oid: int | None = None, cloid: str | None = None) -> SimOrder:
        try:
            o = self.find(name, oid=oid, cloid=cloid)
            if o is None or o.oid not in self.open:
                raise Reject("UNKNOWN_ORDER", "Order was never placed, already canceled, or filled.")
            self._cancel(o, "user")
            return o
        finally:
            self._flush()

    def cancel_all(self, name: str, symbol: str | None = None) -> list[SimOrder]:
        try:
            out = [o for o in list(self.open.values()) if o.account == name and symbol in (None, o.symbol)]
            for o in out:
                if o.oid in self.open:  # a parent's cancel may already have taken its children
                    self._cancel(o, "user")
            return out
        finally:
            self._flush()

    def modify(self, name: str, req: OrderRequest, *, oid: int | None = None, cloid: str | None = None) -> SimOrder:
        """Replace a resting order; the replacement gets a new oid (as on Hyperliquid)."""
        try:
            old = self.find(name, oid=oid, cloid=cloid)
            if old is None or old.oid not in self.open:
                raise Reject("MODIFY_CLOSED", "Cannot modify canceled or filled order")
            order = self._validate(name, req, replacing=old, position_side=old.position_side, builder=old.builder,
                                   builder_fee_rate=old.builder_fee_rate)
            self._cancel(old, "modified")
            self._submit(order, req)
            return order
        finally:
            self._flush()

    def find(self, name: str, *, oid: int | None = None, cloid: str | None = None) -> SimOrder | None:
        if cloid is not None:
            oid = self.cloids.get((name, cloid))
        o = self.orders.get(oid) if oid is not None else None
        return o if o is not None and o.account == name else None

    def open_orders(self, name: str) -> list[SimOrder]:
        return [o for o in self.open.values() if o.account == name]

    def schedule_cancel(self, name: str, at_ms: int | None) -> None:
        if at_ms is None:
            self.scheduled_cancel.pop(name, None)
        else:
            self.scheduled_cancel[name] = at_ms

    def run_scheduled_cancels(self) -> None:
        now = self.clock()
        for name, at in list(self.scheduled_cancel.items()):
            if at <= now:
                del self.scheduled_cancel[name]
                for o in self.open_orders(name):
                    if o.oid in self.open:
                        self._cancel(o, "scheduled")
        self._flush()

    def apply_funding(self, symbol: str, rate: Decimal | None = None) -> None:
        """One funding payment: longs pay shorts when the rate is positive."""
        rate = self.funding_rates[symbol] if rate is None else rate
        mark, now = self.mark(symbol), self.clock()
        for acct in self.accounts.values():
            for pos in acct.positions_of(symbol):
                if pos.size == 0:
                    continue
                usdc = -pos.size * mark * rate
                if pos.cross:
                    acct.collateral += usdc
                else:  # an isolated position pays and is paid from its own USD
                    pos.raw_usd += usdc
                pos.funding += usdc
                f = SimFunding(acct.name, symbol, usdc, pos.size, rate, now)
                self.fundings[acct.name].append(f)
                self._pending.append(("funding", f))
        self._check_liquidations()
        self._flush()

    # ---- persistence (the paper venue's state file) --------------------------------------------
    def counters(self) -> dict[str, int]:
        """The id counters: saved with an account so no order or fill id repeats after a restart."""
        return {"seq": self._seq, "oid": self._next_oid, "tid": self._next_tid, "liq": self._liq_seq}

    def restore(self, account: SimAccount, orders: Iterable[SimOrder], open_oids: set[int], fills: list[SimFill],
                fundings: list[SimFunding], counters: dict[str, int], mids: dict[str, Decimal],
                scheduled_cancel: int | None, cash_flows: Iterable[SimCashFlow] = ()) -> None:
        """Put back one saved account as it was: resting orders on the book, triggers waiting, the
        last prices (the walk goes on from them). Nothing fires and no event is sent."""
        name = account.name
        self.accounts[name], self.fills[name], self.fundings[name] = account, list(fills), list(fundings)
        self.cash_flows[name] = list(cash_flows)
        for sym, px in mids.items():
            if sym in self.markets:
                self.mids[sym] = px
                self.books[sym].rebuild_synthetic(px, self.liquidity)
        for o in orders:
            self._register(o)
            if o.oid in open_oids:
                self.open[o.oid] = o
                if o.status is OrderStatus.OPEN:
                    self.books[o.symbol].add(o)
        if scheduled_cancel is not None:
            self.scheduled_cancel[name] = scheduled_cancel
        self._seq, self._next_oid = max(self._seq, counters["seq"]), max(self._next_oid, counters["oid"])
        self._next_tid, self._liq_seq = max(self._next_tid, counters["tid"]), max(self._liq_seq, counters["liq"])

    # ---- internals: validation and submission --------------------------------------------------
    def _validate(self, name: str, req: OrderRequest, replacing: SimOrder | None = None, *,
                  position_side: str | None = None, builder: str | None = None,
                  builder_fee_rate: Decimal = ZERO) -> SimOrder:
        m = self.market(req.symbol)
        acct = self.account(name)
        if req.client_id is not None:
            known = self.cloids.get((name, req.client_id))
            if known is not None and (replacing is None or known != replacing.oid):
                raise Reject("DUPLICATE_CLOID", f"Duplicate client order id {req.client_id}")
        is_trigger = req.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT)
        is_market = req.price is None and not is_trigger
        tif = TimeInForce.IOC if is_market else req.tif
        if is_trigger:
            if req.trigger_price is None or not m.is_valid_price(req.trigger_price):
                raise self._rejected(name, req, "BAD_TRIGGER", "Invalid TP/SL price.")
            price = req.price if req.price is not None else req.trigger_price
        elif is_market:
            slip = req.slippage if req.slippage is not None else Decimal("0.05")
            mid = self.mark(req.symbol)
            price = m.round_price_aggressive(mid * (1 + slip * req.side.sign), req.side)
        else:
            assert req.price is not None
            price = req.price
        if not m.is_valid_price(price):
            raise self._rejected(name, req, "TICK", "Price must be divisible by tick size.")
        if not m.is_valid_size(req.size):
            raise self._rejected(name, req, "SIZE", "Order has invalid size.")
        if not req.reduce_only and price * req.size < m.min_notional:
            msg = f"Order must have minimum value of ${to_wire(m.min_notional)}."
            raise self._rejected(name, req, "MIN_NOTIONAL", msg)
        if m.kind is MarketKind.PERP:
            pos = acct.positions.get(position_key(req.symbol, position_side))
            size = pos.size if pos else ZERO
            if req.reduce_only and (size == 0 or (size > 0) == (req.side is Side.BUY)):
                raise self._rejected(name, req, "REDUCE_ONLY", "Reduce only order would increase position.")
            if not req.reduce_only and not is_trigger:
                opposite = abs(size) if size and (size > 0) != (req.side is Side.BUY) else ZERO
                increase = max(ZERO, req.size - opposite)
                lev = self.leverage_of(name, req.symbol)
                freed = replacing.remaining * replacing.price / lev if replacing and not replacing.reduce_only else ZERO
                if increase * price / lev > self.available_margin(name) + freed:
                    raise self._rejected(name, req, "MARGIN", "Insufficient margin to place order.")
        elif not is_trigger:
            if req.side is Side.BUY:
                need, asset = price * req.size * (1 + self.taker_fee), m.quote
            else:
                need, asset = req.size, m.base
            freed = ZERO
            if replacing is not None:
                freed = replacing.remaining * (replacing.price if replacing.side is Side.BUY else 1)
            if need > self.spot_available(name, asset) + freed:
                raise self._rejected(name, req, "SPOT_BALANCE", "Insufficient spot balance")
        if req.tif is TimeInForce.ALO and not is_trigger:
            best = self.books[req.symbol].best(req.side.opposite)
            if best is not None and (price >= best if req.side is Side.BUY else price <= best):
                bids, asks = self.books[req.symbol].best(Side.BUY), self.books[req.symbol].best(Side.SELL)
                raise self._rejected(
                    name, req, "POST_ONLY",
                    f"Post only order would have immediately matched, bbo was {bids}@{asks}",
                )
        order = self._new_order(name, req, price, tif, is_market)
        order.position_side, order.builder, order.builder_fee_rate = position_side, builder, builder_fee_rate
        return order

    def _new_order(self, name: str, req: OrderRequest, price: Decimal, tif: TimeInForce, is_market: bool) -> SimOrder:
        self._seq += 1
        self._next_oid += 1
        is_trigger = req.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT)
        return SimOrder(
            oid=self._next_oid, account=name, symbol=req.symbol, side=req.side, size=req.size, price=price,
            tif=tif, ts_ms=self.clock(), seq=self._seq, cloid=req.client_id, reduce_only=req.reduce_only,
            is_market=is_market, trigger_px=req.trigger_price if is_trigger else None,
            tpsl=("tp" if req.order_type is OrderType.TAKE_PROFIT else "sl") if is_trigger else None,
            trigger_is_market=req.trigger_is_market,
        )

    def _rejected(self, name: str, req: OrderRequest, code: str, message: str) -> Reject:
        """Record a refused order so a lookup by client id tells the truth, then return the Reject."""
        if req.client_id is not None and (name, req.client_id) not in self.cloids:
            o = self._new_order(name, req, req.price or ZERO, req.tif, req.price is None)
            self._register(o)
            o.status, o.reason, o.status_ms = OrderStatus.REJECTED, code, self.clock()
        return Reject(code, message)

    def _register(self, o: SimOrder) -> None:
        self.orders[o.oid] = o
        if o.cloid is not None:
            self.cloids[(o.account, o.cloid)] = o.oid

    def _submit(self, order: SimOrder, req: OrderRequest) -> None:
        self._register(order)
        order.status_ms = order.ts_ms
        if order.is_trigger:
            order.status = OrderStatus.WAITING_TRIGGER
            self.open[order.oid] = order
            self._touch(order)
            self._check_triggers(order.symbol)
            return
        for price, tpsl in ((req.take_profit, OrderType.TAKE_PROFIT), (req.stop_loss, OrderType.STOP)):
            if price is not None:
                child = self._new_order(
                    order.account,
                    OrderRequest(order_type=tpsl, exchange=req.exchange, symbol=order.symbol, side=order.side.opposite,
                                 size=order.size, trigger_price=price, reduce_only=True),
                    price, TimeInForce.GTC, False,
                )
                child.parent_oid = order.oid
                child.status = OrderStatus.WAITING_TRIGGER
                self._register(child)
                self.open[child.oid] = child
                self._touch(child)
        self._activate(order)

    def _activate(self, order: SimOrder) -> None:
        """Match a live order as taker; rest the remainder (GTC/ALO) or cancel it (IOC)."""
        book = self.books[order.symbol]
        no_liquidity = next(book.opposite_liquidity(order.side), None) is None
        self._match(order)
        self._touch(order)
        if order.status is OrderStatus.FILLED:
            return
        if order.tif is TimeInForce.IOC:
            self.open.pop(order.oid, None)
            if order.filled == 0:
                order.status = OrderStatus.REJECTED
                order.reason = "NO_LIQUIDITY" if order.is_market and no_liquidity else "IOC_NO_MATCH"
                order.status_ms = self.clock()
                self._cancel_children(order)
                if order.trigger_px is None:
                    msg = ("No liquidity available for market order." if order.reason == "NO_LIQUIDITY"
                           else "Order could not immediately match against any resting orders.")
                    raise Reject(order.reason, msg)
            else:
                order.status, order.reason, order.status_ms = OrderStatus.CANCELED, "ioc", self.clock()
                self._cancel_children(order)
            return
        order.status = OrderStatus.OPEN
        self.open[order.oid] = order
        book.add(order)


__all__ = ["Engine", "Level", "Reject", "SimFill", "SimFunding", "SimLiquidation", "SimOrder"]
