"""Spot REST (/api/v1, /api/v3): orders (LIMIT, MARKET by quantity or quoteOrderQty, STOP /
TAKE_PROFIT and their _MARKET forms), the account, trades, commission, listenKeys.

Spot orders carry no positionSide (ccxt tells a spot order from a futures one by that field). The
engine charges the commission in the quote asset on both sides (the venue's docs show it in the
asset received); `userTrades` and executionReport say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.aster.call import SIGNED, STREAM, Call, Route
from sim.aster.errors import NO_SUCH_ORDER, err, mandatory
from sim.aster.marketdata import MarketData
from sim.aster.markets import MAKER_FEE, TAKER_FEE, Catalog
from sim.aster.orders import AsterOrder, Orders
from sim.aster.params import read_order
from sim.aster.userstream import ListenKeys
from sim.aster.wire import Fmt, order, spot_account, trade
from sim.engine import Engine

SUCCESS = {"code": 200, "msg": "success"}


class Spot:
    def __init__(self, engine: Engine, catalog: Catalog, orders: Orders, market: MarketData, keys: ListenKeys,
                 clock: Callable[[], int]):
        self.e, self.cat, self.orders, self.market, self.keys, self.clock = engine, catalog, orders, market, keys, clock
        self.fmt = Fmt(catalog)

    def routes(self) -> dict[tuple[str, str], Route]:
        r = Route
        return {
            ("POST", "order"): r(self.order_new, SIGNED, orders=True), ("GET", "order"): r(self.order_get, SIGNED),
            ("DELETE", "order"): r(self.order_cancel, SIGNED), ("GET", "openOrder"): r(self.open_order, SIGNED),
            ("GET", "openOrders"): r(self.open_orders, SIGNED), ("GET", "allOrders"): r(self.all_orders, SIGNED),
            ("DELETE", "allOpenOrders"): r(self.cancel_all, SIGNED), ("GET", "account"): r(self.account, SIGNED),
            ("GET", "userTrades"): r(self.user_trades, SIGNED), ("GET", "commissionRate"): r(self.commission, SIGNED),
            ("POST", "noop"): r(lambda c: SUCCESS, SIGNED, frozenset({"v3"})),
            ("POST", "listenKey"): r(lambda c: {"listenKey": self.keys.start(c.user, "spot")}, STREAM),
            ("PUT", "listenKey"): r(self.listen_key_put, STREAM),
            ("DELETE", "listenKey"): r(self.listen_key_delete, STREAM),
        }

    def _json(self, o: AsterOrder, shape: str = "query") -> dict[str, Any]:
        return order(o, self.fmt, shape)

    def _ids(self, c: Call) -> tuple[str, int | None, str | None]:
        native = c.get("symbol").upper()
        if not native:
            raise mandatory("symbol")
        return native, c.int("orderId"), c.get("origClientOrderId") or None

    def order_new(self, c: Call) -> Any:
        p = read_order(c.params, spot=True, hedge=False)
        return self._json(self.orders.place(c.user, p), "new")

    def order_get(self, c: Call) -> Any:
        return self._json(self.orders.find(c.user, *self._ids(c)))

    def order_cancel(self, c: Call) -> Any:
        return self._json(self.orders.cancel(c.user, *self._ids(c)), "cancel")

    def open_order(self, c: Call) -> Any:
        o = self.orders.find(c.user, *self._ids(c))
        if not o.is_open:
            raise err(NO_SUCH_ORDER)
        return self._json(o)

    def open_orders(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        return [self._json(o) for o in self.orders.open_orders(c.user, native)]

    def all_orders(self, c: Call) -> Any:
        native = self.market.native(c.params)
        assert native is not None
        since = c.int("orderId") or 0
        rows = [o for o in self.orders.all_orders(c.user, native) if o.order_id >= since]
        return [self._json(o) for o in rows[:min(1000, c.int("limit") or 500)]]

    def cancel_all(self, c: Call) -> Any:
        native = self.market.native(c.params)
        assert native is not None
        self.orders.cancel_all(c.user, native)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def account(self, c: Call) -> Any:
        return spot_account(self.e, c.user, self.clock())

    def user_trades(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        symbol = self.cat.markets[native].symbol if native else None
        start, end, from_id = c.int("startTime"), c.int("endTime"), c.int("fromId")
        if start is None and end is None and from_id is None:
            start = self.clock() - 7 * 86_400_000
        oid = c.int("orderId")
        rows = [t for t in self.e.fills.get(c.user, []) if (symbol is None or t.symbol == symbol)
                and (start is None or t.ts_ms >= start) and (end is None or t.ts_ms <= end)
                and (from_id is None or t.tid >= from_id)]
        by = self.orders.by_oid
        out = [trade(t, self.orders.orders.get(by.get(t.oid, -1)), self.fmt, True) for t in rows]
        if oid is not None:
            out = [t for t in out if t["orderId"] == oid]
        return out[-min(1000, c.int("limit") or 500):]

    def commission(self, c: Call) -> Any:
        native = self.market.native(c.params)
        return {"symbol": native, "makerCommissionRate": f"{MAKER_FEE:.6f}", "takerCommissionRate": f"{TAKER_FEE:.6f}"}

    def listen_key_put(self, c: Call) -> Any:
        self.keys.keepalive(c.user, "spot", c.get("listenKey") or None)
        return {}

    async def listen_key_delete(self, c: Call) -> Any:
        await self.keys.close(c.user, "spot", c.get("listenKey") or None)
        return {}
