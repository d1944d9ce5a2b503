"""The venue's orders on the shared engine: ids, client ids, statuses, and what the engine lacks.

Each venue side (futures, spot) has one `Orders` on its own engine. An order the venue accepts gets
the venue's id and keeps it for life; while it works in the engine it is mapped to the engine's
order (a modify moves it to a new one, as the engine replaces orders). What the venue does and the
engine does not is done here:
- FOK: filled whole at once or EXPIRED, checked against the book before anything trades;
- GTX (post-only): an order that would take liquidity is EXPIRED, not placed (Binance-style futures,
  which Aster's API derives from; the docs are silent);
- IOC remainders, market orders that find nothing, reduce-only orders left with nothing to reduce,
  self-trade-prevented makers: EXPIRED;
- conditional orders (STOP, TAKE_PROFIT and their _MARKET forms, TRAILING_STOP_MARKET, closePosition)
  wait here (sim/aster/triggers.py) and enter the engine when they fire, keeping their id, with
  `type` turned into LIMIT or MARKET and `origType` kept;
- hedge mode: LONG / SHORT legs are engine positions of their own; the closing side of a leg only
  reduces it.
Listeners get (order, execution type, fill or None) for every change, in the order things happened:
NEW, TRADE (one per fill), CANCELED, EXPIRED, CALCULATED (a liquidation's fill).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from exchanges.models import MarketKind, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from sim.aster import errors as E
from sim.aster.errors import AsterError, err
from sim.aster.markets import Catalog
from sim.aster.params import PERCENT_DOWN, PERCENT_UP, OrderParams, check_price, check_qty
from sim.book import SimOrder
from sim.engine import Engine, Reject, SimFill, SimLiquidation

ZERO = Decimal(0)
OPEN = ("NEW", "PARTIALLY_FILLED")
MARKET_SLIPPAGE = Decimal("0.05")  # how far a market order may walk the book from the mark
WEEK_MS = 7 * 86_400_000
EXPIRING_REASONS = {"ioc", "reduce_only", "self_trade", "liquidation", "parent_canceled", "triggered"}
Listener = Callable[["AsterOrder", str, SimFill | None], None]


@dataclass
class AsterOrder:
    order_id: int
    user: str
    native: str
    spot: bool
    client_id: str
    side: str
    position_side: str
    type: str
    orig_type: str
    tif: str
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    reduce_only: bool
    close_position: bool
    working_type: str
    price_protect: bool
    time: int
    update_time: int
    activate_price: Decimal | None = None
    price_rate: Decimal | None = None
    quote_qty: Decimal = ZERO
    builder: str | None = None
    fee_rate: Decimal = ZERO
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    engine_oid: int | None = None
    announced: bool = False
    extreme: Decimal | None = None  # trailing stop: best price since it was armed
    armed: bool = False  # trailing stop: the activation price was reached

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def waiting(self) -> bool:
        """A conditional order that has not fired yet."""
        return self.is_open and self.engine_oid is None and self.type == self.orig_type and self.is_conditional

    @property
    def is_conditional(self) -> bool:
        return self.orig_type not in ("LIMIT", "MARKET")

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed if self.executed else ZERO


class Orders:
    def __init__(self, engine: Engine, catalog: Catalog, clock: Callable[[], int], *, first_id: int,
                 builders: Callable[[str], dict[str, tuple[Decimal, str]]] | None = None):
        self.e, self.cat, self.clock = engine, catalog, clock
        self.spot = catalog.kind is MarketKind.SPOT
        self.builders = builders or (lambda user: {})
        self.orders: dict[int, AsterOrder] = {}
        self.by_oid: dict[int, int] = {}
        self.listeners: list[Listener] = []
        self._next_id = first_id
        self._placing: AsterOrder | None = None
        engine.subscribe(self._on_engine)

    # ---- lookups ----
    def market(self, native: str) -> str:
        symbol = self.cat.symbol(native)
        if symbol is None:
            raise err(E.BAD_SYMBOL)
        return symbol

    def mark(self, native: str) -> Decimal:
        return self.e.mark(self.market(native))

    def find(self, user: str, native: str, order_id: int | None, client_id: str | None) -> AsterOrder:
        if order_id is None and not client_id:
            raise AsterError(-1102, "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!")
        self.market(native)
        o = self.orders.get(order_id) if order_id is not None else None
        if o is None and order_id is None:
            mine = [o for o in self.orders.values() if o.user == user and o.client_id == client_id]
            o = max(mine, key=lambda o: o.order_id) if mine else None
        if o is None or o.user != user or o.native != native.upper():
            raise err(E.NO_SUCH_ORDER)
        if o.status in ("CANCELED", "EXPIRED") and not o.executed and o.time + WEEK_MS < self.clock():
            raise err(E.NO_SUCH_ORDER)  # the docs: such orders are not kept past 7 days
        return o

    def open_orders(self, user: str, native: str | None = None) -> list[AsterOrder]:
        return [o for o in self.orders.values()
                if o.user == user and o.is_open and (native is None or o.native == native.upper())]

    def all_orders(self, user: str, native: str) -> list[AsterOrder]:
        week_ago = self.clock() - WEEK_MS
        return [o for o in self.orders.values() if o.user == user and o.native == native.upper() and o.time >= week_ago]

    # ---- placing ----
    def validate(self, user: str, p: OrderParams) -> None:
        symbol = self.market(p.native)
        m, item = self.cat.markets[p.native], self.cat.listings[p.native]
        if p.qty is not None:
            check_qty(m, p.qty, Decimal(item.market_max_qty if p.type == "MARKET" else item.max_qty))
        max_price = Decimal(item.price) * 100
        for px in (p.price, p.stop_price, p.activation_price):
            if px is not None:
                check_price(m, px, max_price)
        mark = self.e.mark(symbol)
        if p.price is not None and p.type in ("LIMIT", "STOP", "TAKE_PROFIT"):
            if p.side == "BUY" and p.price > mark * PERCENT_UP:
                raise err(E.PERCENT_UP)
            if p.side == "SELL" and p.price < mark * PERCENT_DOWN:
                raise err(E.PERCENT_DOWN)
        if p.client_id and any(o.client_id == p.client_id for o in self.open_orders(user)):
            raise err(E.DUPLICATE_CLIENT_ID)
        reduces = p.reduce_only or p.close_position or self._closes_leg(p.side, p.position_side)
        ref = p.price or p.stop_price or mark
        if p.qty is not None and not reduces and ref * p.qty < m.min_notional:
            raise E.notional_error(str(m.min_notional))
        if p.builder is not None:
            approved = self.builders(user).get(p.builder)
            if approved is None or p.fee_rate is None or not ZERO <= p.fee_rate <= approved[0]:
                raise E.invalid("builder" if approved is None else "feeRate")

    @staticmethod
    def _closes_leg(side: str, position_side: str) -> bool:
        return (position_side, side) in (("LONG", "SELL"), ("SHORT", "BUY"))

    def place(self, user: str, p: OrderParams) -> AsterOrder:
        """Accept one order (or raise the venue's refusal) and start it working."""
        self.validate(user, p)
        now = self.clock()
        self._next_id += 1
        o = AsterOrder(
            order_id=self._next_id, user=user, native=p.native, spot=self.spot,
            client_id=p.client_id or f"{'web' if self.spot else 'ios'}_{self._next_id:x}{now % 10**6:06d}",
            side=p.side, position_side=p.position_side, type=p.type, orig_type=p.type, tif=p.tif,
            qty=p.qty or ZERO, price=p.price or ZERO, stop_price=p.stop_price or ZERO, reduce_only=p.reduce_only,
            close_position=p.close_position, working_type=p.working_type, price_protect=p.price_protect, time=now,
            update_time=now, activate_price=p.activation_price, price_rate=p.callback_rate,
            quote_qty=p.quote_qty or ZERO, builder=p.builder, fee_rate=p.fee_rate or ZERO,
        )
        if o.is_conditional:
            from sim.aster.triggers import would_trigger

            if would_trigger(o, self.mark(o.native)):
                raise err(E.WOULD_TRIGGER)
            if o.orig_type == "TRAILING_STOP_MARKET" and o.activate_price is None:
                o.armed, o.extreme = True, self.mark(o.native)
            self.orders[o.order_id] = o
            self.emit(o, "NEW", None)
            return o
        self.orders[o.order_id] = o
        try:
            self.submit(o, o.qty)
        except AsterError:
            if not o.announced:
                del self.orders[o.order_id]
            raise
        return o

    def submit(self, o: AsterOrder, size: Decimal) -> None:
        """Into the engine: a LIMIT (GTC / IOC / FOK / GTX) or a MARKET of `size`."""
        symbol = self.market(o.native)
        side = Side.BUY if o.side == "BUY" else Side.SELL
        hedge_leg = o.position_side if o.position_side != "BOTH" else None
        reduce = o.reduce_only or o.close_position or self._closes_leg(o.side, o.position_side)
        price: Decimal | None = o.price if o.type == "LIMIT" else None
        tif = {"IOC": TimeInForce.IOC, "FOK": TimeInForce.IOC, "GTX": TimeInForce.ALO}.get(o.tif, TimeInForce.GTC)
        if o.type == "MARKET" and o.quote_qty and not size:
            size, price = self._size_for_quote(o, symbol, side)
            tif, o.qty = TimeInForce.IOC, size  # what the quote amount comes to on the book
            if not size:
                return self._expire_unplaced(o)
        if o.type == "LIMIT" and ((o.tif == "FOK" and self._fillable(o.user, symbol, side, o.price) < size)
                                  or (o.tif == "GTX" and self._crosses(symbol, side, o.price))):
            return self._expire_unplaced(o)
        req = OrderRequest(exchange="aster", symbol=symbol, side=side, size=size, price=price, tif=tif,
                           reduce_only=reduce, order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
                           slippage=MARKET_SLIPPAGE)
        self._placing = o
        try:
            self.e.place(o.user, req, position_side=hedge_leg, builder=o.builder, builder_fee_rate=o.fee_rate)
        except Reject as exc:
            if exc.code in ("IOC_NO_MATCH", "NO_LIQUIDITY"):
                return  # accepted, and expired: the engine's events said so
            raise _refusal(exc, self.spot) from None
        finally:
            self._placing = None

    def _expire_unplaced(self, o: AsterOrder) -> None:
        self.emit(o, "NEW", None)
        o.status, o.update_time = "EXPIRED", self.clock()
        self.emit(o, "EXPIRED", None)

    def _fillable(self, user: str, symbol: str, side: Side, limit: Decimal) -> Decimal:
        total = ZERO
        for maker in self.e.books[symbol].opposite_liquidity(side):
            px = maker.price
            if (side is Side.BUY and px > limit) or (side is Side.SELL and px < limit):
                break
            if isinstance(maker, SimOrder):
                if maker.account != user:
                    total += maker.remaining
            else:
                total += maker.size
        return total

    def _crosses(self, symbol: str, side: Side, price: Decimal) -> bool:
        # the first maker it would meet (Book.best looks at the first synthetic level only, even when a
        # taker has emptied it)
        first = next(self.e.books[symbol].opposite_liquidity(side), None)
        return first is not None and (price >= first.price if side is Side.BUY else price <= first.price)

    def _size_for_quote(self, o: AsterOrder, symbol: str, side: Side) -> tuple[Decimal, Decimal | None]:
        """A spot market order by quoteOrderQty: as much as that amount buys (or sells for) on the book."""
        m = self.cat.markets[o.native]
        left, size, worst = o.quote_qty, ZERO, None
        for maker in self.e.books[symbol].opposite_liquidity(side):
            avail = maker.remaining if isinstance(maker, SimOrder) else maker.size
            take = min(avail, left / maker.price)
            size, left, worst = size + take, left - take * maker.price, maker.price
            if left <= 0 or take < avail:
                break
        size = (size // m.lot_size) * m.lot_size
        return size, worst

    # ---- cancels and modifies ----
    def cancel(self, user: str, native: str, order_id: int | None, client_id: str | None) -> AsterOrder:
        try:
            o = self.find(user, native, order_id, client_id)
        except AsterError as exc:
            if exc.code == E.NO_SUCH_ORDER[0]:
                raise err(E.UNKNOWN_ORDER) from None
            raise
        if not o.is_open:
            raise err(E.UNKNOWN_ORDER)
        self._cancel(o, "CANCELED")
        return o

    def _cancel(self, o: AsterOrder, status: str) -> None:
        if o.engine_oid is not None and o.engine_oid in self.e.open:
            self.e.cancel(o.user, oid=o.engine_oid)  # the engine's event marks it
        if o.is_open:
            o.status, o.update_time = status, self.clock()
            self.emit(o, status, None)

    def cancel_all(self, user: str, native: str) -> list[AsterOrder]:
        self.market(native)
        out = self.open_orders(user, native)
        for o in out:
            if o.is_open:
                self._cancel(o, "CANCELED")
        return out

    def modify(self, user: str, native: str, order_id: int | None, client_id: str | None, qty: Decimal,
               price: Decimal) -> AsterOrder:
        """PUT order: a resting LIMIT gets a new quantity and price; a refusal leaves it as it was."""
        o = self.find(user, native, order_id, client_id)
        if not o.is_open or o.engine_oid is None or o.type != "LIMIT":
            raise AsterError(-4000, "Invalid order status.")
        m, item = self.cat.markets[o.native], self.cat.listings[o.native]
        check_qty(m, qty, Decimal(item.max_qty))
        check_price(m, price, Decimal(item.price) * 100)
        if qty <= o.executed:
            raise AsterError(-4000, "Invalid order status.")
        symbol = self.market(native)
        req = OrderRequest(exchange="aster", symbol=symbol, side=Side.BUY if o.side == "BUY" else Side.SELL,
                           size=qty - o.executed, price=price, tif=TimeInForce.GTC, reduce_only=o.reduce_only)
        old_qty, old_price = o.qty, o.price
        o.qty, o.price = qty, price
        self._placing = o
        try:
            self.e.modify(user, req, oid=o.engine_oid)
        except Reject as exc:
            o.qty, o.price = old_qty, old_price
            raise _refusal(exc, self.spot) from None
        finally:
            self._placing = None
        o.update_time = self.clock()
        return o

    # ---- engine events ----
    def emit(self, o: AsterOrder, x: str, fill: SimFill | None) -> None:
        if x == "NEW":
            if o.announced:
                return
            o.announced = True
        elif not o.announced:
            self.emit(o, "NEW", None)
        for fn in list(self.listeners):
            fn(o, x, fill)

    def _order_of(self, oid: int, account: str) -> AsterOrder | None:
        aid = self.by_oid.get(oid)
        if aid is None and self._placing is not None and account == self._placing.user and oid > 0:
            aid = self._placing.order_id  # the engine's new order for the one being placed or modified
            self._placing.engine_oid = oid  # a modified order's old engine id stays mapped: its cancel is ignored
            self.by_oid[oid] = aid
        return self.orders.get(aid) if aid is not None else None

    def _on_engine(self, kind: str, payload: object) -> None:
        if isinstance(payload, SimFill):
            o = self._order_of(payload.oid, payload.account) if payload.oid > 0 else self._liquidation(payload)
            if o is None:
                return
            o.executed += payload.size
            o.cum_quote += payload.price * payload.size
            o.status = "FILLED" if o.executed >= o.qty and o.qty else "PARTIALLY_FILLED"
            o.update_time = payload.ts_ms
            self.emit(o, "CALCULATED" if payload.liquidation else "TRADE", payload)
        elif isinstance(payload, SimOrder) and kind == "order" and payload.oid > 0:
            o = self._order_of(payload.oid, payload.account)
            if o is None or not o.is_open:
                return
            if payload.status is OrderStatus.CANCELED and payload.reason == "modified":
                return
            if payload.status in (OrderStatus.CANCELED, OrderStatus.REJECTED):
                status = "EXPIRED" if payload.reason in EXPIRING_REASONS or payload.status is OrderStatus.REJECTED \
                    or payload.reason in ("IOC_NO_MATCH", "NO_LIQUIDITY") else "CANCELED"
                o.status, o.update_time = status, payload.status_ms or self.clock()
                self.emit(o, status, None)
            else:
                self.emit(o, "NEW", None)
        elif isinstance(payload, SimLiquidation):
            pass  # its fill came first, as CALCULATED

    def _liquidation(self, fill: SimFill) -> AsterOrder:
        """The venue's own order closing a liquidated position: `autoclose-` client id."""
        aid = self.by_oid.get(fill.oid)
        if aid is not None:
            return self.orders[aid]
        self._next_id += 1
        m_native = self.cat.native(fill.symbol)
        o = AsterOrder(order_id=self._next_id, user=fill.account, native=m_native, spot=False,
                       client_id=f"autoclose-{fill.ts_ms}", side="BUY" if fill.side is Side.BUY else "SELL",
                       position_side="BOTH", type="LIMIT", orig_type="LIMIT", tif="IOC", qty=fill.size,
                       price=fill.price, stop_price=ZERO, reduce_only=True, close_position=False,
                       working_type="CONTRACT_PRICE", price_protect=False, time=fill.ts_ms, update_time=fill.ts_ms,
                       engine_oid=fill.oid, announced=True)
        self.orders[o.order_id] = o
        self.by_oid[fill.oid] = o.order_id
        return o


def _refusal(exc: Reject, spot: bool) -> AsterError:
    """The engine's refusal in the venue's words."""
    table = {"TICK": E.TICK, "SIZE": E.STEP, "REDUCE_ONLY": E.REDUCE_ONLY,
             "MARGIN": E.MARGIN, "SPOT_BALANCE": E.BALANCE, "UNKNOWN_MARKET": E.BAD_SYMBOL,
             "MODIFY_CLOSED": (-4000, "Invalid order status."), "UNKNOWN_ORDER": E.UNKNOWN_ORDER}
    if exc.code == "MIN_NOTIONAL":
        return E.notional_error("5")
    pair = table.get(exc.code)
    return err(pair) if pair else AsterError(-2010, "NEW_ORDER_REJECTED")


__all__ = ["OPEN", "AsterOrder", "Orders"]
