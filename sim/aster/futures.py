"""Futures REST (/fapi/v1 … /fapi/v4): orders, account, positions, leverage and margin, funding.

Position mode is per account (`positionSide/dual`), margin type and leverage per symbol. `income`
lists funding payments (FUNDING_FEE, see sim/aster/funding.py), fills (REALIZED_PNL, COMMISSION) and
money sent in by `/_sim/fund` (TRANSFER). Builder codes: `approveBuilder` (main-wallet signed) records a builder and its
maximum fee rate, `builder` lists them, and an order carrying `builder` + `feeRate` pays that rate
of each fill's notional to the builder, on top of the fee (reported in the trade's commission).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchanges.precision import to_wire
from sim.aster import errors as E
from sim.aster import exchangeinfo, triggers
from sim.aster.auth import Registry
from sim.aster.call import SIGNED, STREAM, Call, Route
from sim.aster.errors import AsterError, err, mandatory
from sim.aster.events import config_account, config_leverage
from sim.aster.funding import Funding
from sim.aster.marketdata import MarketData
from sim.aster.markets import MAKER_FEE, TAKER_FEE, Catalog
from sim.aster.orders import AsterOrder, Orders
from sim.aster.params import batch_item, decimal, flag, json_list, read_order
from sim.aster.userstream import ListenKeys
from sim.aster.wire import Account, Fmt, money, order, trade
from sim.engine import Engine, Reject

ZERO = Decimal(0)
V1, V3, ALL = frozenset({"v1"}), frozenset({"v3"}), frozenset({"v1", "v3"})
SUCCESS = {"code": 200, "msg": "success"}


@dataclass
class Transfer:
    user: str
    amount: Decimal
    ts: int
    tran_id: int


@dataclass
class FuturesState:
    hedge: dict[str, bool] = field(default_factory=dict)
    multi_assets: dict[str, bool] = field(default_factory=dict)
    countdowns: dict[tuple[str, str], int] = field(default_factory=dict)  # (user, native) -> cancel at (ms)
    transfers: list[Transfer] = field(default_factory=list)


class Futures:
    def __init__(self, engine: Engine, catalog: Catalog, orders: Orders, market: MarketData, keys: ListenKeys,
                 registry: Registry, clock: Callable[[], int]):
        self.e, self.cat, self.orders, self.market, self.keys = engine, catalog, orders, market, keys
        self.registry, self.clock = registry, clock
        self.fmt = Fmt(catalog)
        self.s = FuturesState()
        self.funding = Funding(engine, catalog, market, clock)

    def hedge(self, user: str) -> bool:
        return self.s.hedge.get(user, False)

    def routes(self) -> dict[tuple[str, str], Route]:
        r = Route
        return {
            ("GET", "premiumIndex"): r(self.funding.premium_index), ("GET", "fundingRate"): r(
                self.funding.funding_rate), ("GET", "fundingInfo"): r(self.funding.funding_info),
            ("POST", "order"): r(self.order_new, SIGNED, orders=True), ("GET", "order"): r(self.order_get, SIGNED),
            ("DELETE", "order"): r(self.order_cancel, SIGNED), ("PUT", "order"): r(self.order_modify, SIGNED, V3,
                                                                                    orders=True),
            ("POST", "batchOrders"): r(self.batch_new, SIGNED, orders=True),
            ("DELETE", "batchOrders"): r(self.batch_cancel, SIGNED),
            ("GET", "openOrder"): r(self.open_order, SIGNED), ("GET", "openOrders"): r(self.open_orders, SIGNED),
            ("GET", "allOrders"): r(self.all_orders, SIGNED), ("DELETE", "allOpenOrders"): r(self.cancel_all, SIGNED),
            ("POST", "countdownCancelAll"): r(self.countdown, SIGNED),
            ("GET", "balance"): r(self.balance, SIGNED, frozenset({"v2", "v3"})),
            ("GET", "account"): r(self.account, SIGNED, frozenset({"v4"})),
            ("GET", "accountWithJoinMargin"): r(self.account, SIGNED, V3),
            ("GET", "positionRisk"): r(self.position_risk, SIGNED, frozenset({"v2", "v3"})),
            ("GET", "userTrades"): r(self.user_trades, SIGNED), ("GET", "income"): r(self.income, SIGNED),
            ("POST", "leverage"): r(self.leverage, SIGNED), ("POST", "marginType"): r(self.margin_type, SIGNED),
            ("POST", "positionMargin"): r(self.position_margin, SIGNED),
            ("GET", "positionSide/dual"): r(self.dual_get, SIGNED), ("POST", "positionSide/dual"): r(self.dual_set,
                                                                                                    SIGNED),
            ("GET", "multiAssetsMargin"): r(self.multi_get, SIGNED),
            ("POST", "multiAssetsMargin"): r(self.multi_set, SIGNED),
            ("GET", "leverageBracket"): r(self.leverage_bracket, SIGNED),
            ("GET", "commissionRate"): r(self.commission_rate, SIGNED),
            ("POST", "noop"): r(lambda c: SUCCESS, SIGNED, V3),
            ("GET", "builder"): r(self.builders, SIGNED, V3), ("DELETE", "builder"): r(self.builder_delete, SIGNED, V3),
            ("POST", "approveBuilder"): r(self.approve_builder, SIGNED, V3, action="approveBuilder"),
            ("POST", "listenKey"): r(lambda c: {"listenKey": self.keys.start(c.user, "futures")}, STREAM),
            ("PUT", "listenKey"): r(self.listen_key_put, STREAM), ("DELETE", "listenKey"): r(self.listen_key_delete,
                                                                                            STREAM),
        }

    # ---- time-driven work ----
    def housekeeping(self) -> None:
        now = self.clock()
        for (user, native), at in list(self.s.countdowns.items()):
            if at <= now:
                del self.s.countdowns[(user, native)]
                self.orders.cancel_all(user, native)
        if self.funding.settle_due():
            triggers.check(self.orders)

    # ---- orders ----
    def _order_json(self, o: AsterOrder, shape: str, resp_type: str = "RESULT") -> dict[str, Any]:
        return order(o, self.fmt, shape, as_accepted=resp_type == "ACK")

    def order_new(self, c: Call) -> Any:
        p = read_order(c.params, spot=False, hedge=self.hedge(c.user))
        o = self.orders.place(c.user, p)
        return self._order_json(o, "new", p.resp_type)

    def _ids(self, c: Call) -> tuple[str, int | None, str | None]:
        native = c.get("symbol").upper()
        if not native:
            raise mandatory("symbol")
        return native, c.int("orderId"), c.get("origClientOrderId") or None

    def order_get(self, c: Call) -> Any:
        return self._order_json(self.orders.find(c.user, *self._ids(c)), "query")

    def order_cancel(self, c: Call) -> Any:
        return self._order_json(self.orders.cancel(c.user, *self._ids(c)), "cancel")

    def order_modify(self, c: Call) -> Any:
        native, oid, cid = self._ids(c)
        qty, price = decimal(c.params, "quantity", required=True), decimal(c.params, "price", required=True)
        assert qty is not None and price is not None
        return self._order_json(self.orders.modify(c.user, native, oid, cid, qty, price), "modify")

    def batch_new(self, c: Call) -> Any:
        items = json_list(c.params, "batchOrders")
        if items is None:
            raise mandatory("batchOrders")
        if not 1 <= len(items) <= 5:
            raise err(E.BATCH_SIZE)
        out: list[Any] = []
        for item in items:
            try:
                p = read_order(batch_item(item), spot=False, hedge=self.hedge(c.user))
                out.append(self._order_json(self.orders.place(c.user, p), "batch", p.resp_type))
            except AsterError as exc:
                out.append(exc.body())
        return out

    def batch_cancel(self, c: Call) -> Any:
        native = c.get("symbol").upper()
        if not native:
            raise mandatory("symbol")
        ids, cids = json_list(c.params, "orderIdList"), json_list(c.params, "origClientOrderIdList")
        if ids is None and cids is None:
            raise AsterError(-1102, "Param 'orderIdList' or 'origClientOrderIdList' must be sent, but both were"
                                    " empty/null!")
        wanted: list[tuple[int | None, str | None]] = [(int(i), None) for i in ids or []] + [
            (None, str(x)) for x in cids or []]
        if len(wanted) > 10:
            raise AsterError(-4032, "Exceed maximum cancel order size.")
        out: list[Any] = []
        for oid, cid in wanted:
            try:
                out.append(self._order_json(self.orders.cancel(c.user, native, oid, cid), "cancel"))
            except AsterError as exc:
                out.append(exc.body())
        return out

    def open_order(self, c: Call) -> Any:
        o = self.orders.find(c.user, *self._ids(c))
        if not o.is_open:
            raise err(E.NO_SUCH_ORDER)
        return self._order_json(o, "query")

    def open_orders(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        return [self._order_json(o, "query") for o in self.orders.open_orders(c.user, native)]

    def all_orders(self, c: Call) -> Any:
        native = self.market.native(c.params)
        assert native is not None
        since, start, end = c.int("orderId") or 0, c.int("startTime") or 0, c.int("endTime") or 1 << 62
        rows = [o for o in self.orders.all_orders(c.user, native) if o.order_id >= since and start <= o.time <= end]
        return [self._order_json(o, "query") for o in rows[:min(1000, c.int("limit") or 500)]]

    def cancel_all(self, c: Call) -> Any:
        native = self.market.native(c.params)
        assert native is not None
        self.orders.cancel_all(c.user, native)
        return {"code": "200", "msg": "The operation of cancel all open order is done."}

    def countdown(self, c: Call) -> Any:
        native = self.market.native(c.params)
        assert native is not None
        ms = c.int("countdownTime", required=True)
        assert ms is not None
        if ms <= 0:
            self.s.countdowns.pop((c.user, native), None)
        else:
            self.s.countdowns[(c.user, native)] = self.clock() + ms
        return {"symbol": native, "countdownTime": str(ms)}

    # ---- account ----
    def balance(self, c: Call) -> Any:
        return Account(self.e, self.cat, c.user).balance(self.clock())

    def account(self, c: Call) -> Any:
        return Account(self.e, self.cat, c.user).info(self.fmt, self.hedge(c.user), self.clock())

    def position_risk(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        return Account(self.e, self.cat, c.user).position_risk(self.fmt, self.hedge(c.user), self.clock(), native)

    def user_trades(self, c: Call) -> Any:
        native = self.market.native(c.params)
        assert native is not None
        symbol = self.cat.markets[native].symbol
        start, end, from_id = c.int("startTime"), c.int("endTime"), c.int("fromId")
        now = self.clock()
        if start is None and end is None and from_id is None:
            start = now - 7 * 86_400_000
        rows = [t for t in self.e.fills.get(c.user, []) if t.symbol == symbol and not t.liquidation
                and (start is None or t.ts_ms >= start) and (end is None or t.ts_ms <= end)
                and (from_id is None or t.tid >= from_id)]
        limit = min(1000, c.int("limit") or 500)
        rows = rows[:limit] if from_id is not None or (start is not None and c.get("startTime")) else rows[-limit:]
        by = self.orders.by_oid
        return [trade(t, self.orders.orders.get(by.get(t.oid, -1)), self.fmt, False) for t in rows]

    def income(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        kind = c.get("incomeType") or None
        start, end = c.int("startTime") or 0, c.int("endTime") or self.clock()
        rows: list[tuple[int, dict[str, Any]]] = []

        def add(ts: int, symbol: str, t: str, amount: Decimal, tran: int, trade_id: str = "") -> None:
            if (kind is None or kind == t) and (native is None or symbol == native) and start <= ts <= end:
                rows.append((ts, {"symbol": symbol, "incomeType": t, "income": money(amount), "asset": "USDT",
                                  "info": t, "time": ts, "tranId": str(tran), "tradeId": trade_id}))
        for tr in self.s.transfers:
            if tr.user == c.user:
                add(tr.ts, "", "TRANSFER", tr.amount, tr.tran_id)
        for t in self.e.fills.get(c.user, []):
            n = self.cat.native(t.symbol)
            if t.closed_pnl:
                add(t.ts_ms, n, "REALIZED_PNL", t.closed_pnl, 9_000_000_000 + t.tid, str(t.tid))
            if t.fee or t.builder_fee:
                add(t.ts_ms, n, "COMMISSION", -(t.fee + t.builder_fee), 9_500_000_000 + t.tid, str(t.tid))
        for i, f in enumerate(self.e.fundings.get(c.user, [])):
            add(f.ts_ms, self.cat.native(f.symbol), "FUNDING_FEE", f.usdc, 8_000_000_000 + i)
        rows.sort(key=lambda r: r[0])
        limit = min(1000, c.int("limit") or 100)
        return [r for _, r in (rows[:limit] if c.get("startTime") else rows[-limit:])]

    # ---- leverage, margin, modes ----
    def _symbol(self, c: Call) -> tuple[str, str]:
        native = self.market.native(c.params)
        assert native is not None
        return native, self.cat.markets[native].symbol

    def leverage(self, c: Call) -> Any:
        native, symbol = self._symbol(c)
        lev = c.int("leverage", required=True)
        assert lev is not None
        if not 1 <= lev <= self.cat.listings[native].max_leverage:
            raise E.leverage_error(str(lev))
        cross = Account(self.e, self.cat, c.user).is_cross(symbol)
        self.e.set_leverage(c.user, symbol, lev, cross)
        self.keys.push(c.user, "futures", config_leverage(native, lev, self.clock()))
        return {"leverage": lev, "maxNotionalValue": to_wire(Decimal(exchangeinfo.MAX_NOTIONAL)), "symbol": native}

    def margin_type(self, c: Call) -> Any:
        native, symbol = self._symbol(c)
        kind = c.get("marginType").upper()
        if kind not in ("ISOLATED", "CROSSED"):
            raise mandatory("marginType")
        cross = kind == "CROSSED"
        acct = self.e.account(c.user)
        if Account(self.e, self.cat, c.user).is_cross(symbol) == cross:
            raise err(E.NO_NEED_MARGIN_TYPE)
        if acct.positions_of(symbol):
            raise err(E.MARGIN_TYPE_POSITION)
        if self.orders.open_orders(c.user, native):
            raise err(E.MARGIN_TYPE_OPEN_ORDERS)
        self.e.set_leverage(c.user, symbol, self.e.leverage_of(c.user, symbol), cross)
        return SUCCESS

    def position_margin(self, c: Call) -> Any:
        _, symbol = self._symbol(c)
        amount = decimal(c.params, "amount", required=True)
        kind = c.int("type", required=True)
        assert amount is not None
        if amount <= 0:
            raise err(E.AMOUNT_POSITIVE)
        leg = (c.get("positionSide") or "BOTH").upper()
        if (leg == "BOTH") == self.hedge(c.user):
            raise err(E.POSITION_SIDE)
        if Account(self.e, self.cat, c.user).is_cross(symbol):
            raise err(E.ISOLATED_ONLY)
        try:
            self.e.update_isolated_margin(c.user, symbol, amount if kind == 1 else -amount,
                                          None if leg == "BOTH" else leg)
        except Reject as exc:
            if "does not use" in exc.message:
                raise err(E.NO_POSITION_MARGIN) from None
            raise err(E.CROSS_INSUFFICIENT if kind == 1 else E.ISOLATED_INSUFFICIENT) from None
        return {"amount": float(amount), "code": 200, "msg": "Successfully modify position margin.", "type": kind}

    def dual_get(self, c: Call) -> Any:
        return {"dualSidePosition": self.hedge(c.user)}

    def dual_set(self, c: Call) -> Any:
        want = flag(c.params, "dualSidePosition")
        if want is None:
            raise mandatory("dualSidePosition")
        if want == self.hedge(c.user):
            raise err(E.NO_NEED_POSITION_SIDE)
        if self.orders.open_orders(c.user):
            raise err(E.POSITION_SIDE_OPEN_ORDERS)
        if self.e.account(c.user).positions:
            raise err(E.POSITION_SIDE_POSITION)
        self.s.hedge[c.user] = want
        self.keys.push(c.user, "futures", config_account(self.s.multi_assets.get(c.user, False), want, self.clock()))
        return SUCCESS

    def multi_get(self, c: Call) -> Any:
        return {"multiAssetsMargin": self.s.multi_assets.get(c.user, False)}

    def multi_set(self, c: Call) -> Any:
        want = flag(c.params, "multiAssetsMargin")
        if want is None:
            raise mandatory("multiAssetsMargin")
        self.s.multi_assets[c.user] = want
        self.keys.push(c.user, "futures", config_account(want, self.hedge(c.user), self.clock()))
        return SUCCESS

    def leverage_bracket(self, c: Call) -> Any:
        native = self.market.native(c.params, required=False)
        if native:
            return exchangeinfo.leverage_bracket(self.cat, native)
        return [exchangeinfo.leverage_bracket(self.cat, n) for n in self.cat.markets]

    def commission_rate(self, c: Call) -> Any:
        native = self.market.native(c.params)
        return {"symbol": native, "makerCommissionRate": f"{MAKER_FEE:.6f}", "takerCommissionRate": f"{TAKER_FEE:.6f}"}

    # ---- builders ----
    def builders(self, c: Call) -> Any:
        return [{"userAddress": c.user, "builderAddress": b, "maxFeeRate": to_wire(rate), "builderName": name}
                for b, (rate, name) in self.registry.builders.get(c.user, {}).items()]

    def approve_builder(self, c: Call) -> Any:
        builder = c.get("builder").lower()
        if not builder:
            raise mandatory("builder")
        rate = decimal(c.params, "maxFeeRate", required=True)
        assert rate is not None
        if not ZERO <= rate <= Decimal("0.01"):
            raise E.invalid("maxFeeRate")
        self.registry.builders.setdefault(c.user, {})[builder] = (rate, c.get("builderName"))
        return SUCCESS

    def builder_delete(self, c: Call) -> Any:
        self.registry.builders.get(c.user, {}).pop(c.get("builder").lower(), None)
        return SUCCESS

    # ---- listen keys ----
    def listen_key_put(self, c: Call) -> Any:
        self.keys.keepalive(c.user, "futures", c.get("listenKey") or None)
        return {}

    async def listen_key_delete(self, c: Call) -> Any:
        await self.keys.close(c.user, "futures", c.get("listenKey") or None)
        return {}
