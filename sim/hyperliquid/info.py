"""POST /info: the request types the bot and the official SDK use, answered in the real shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchanges.models import CANDLE_INTERVAL_MS, OrderStatus
from sim.accounts import SimCashFlow
from sim.engine import Engine
from sim.history import PriceHistory
from sim.hyperliquid import wire
from sim.hyperliquid.wire import Names, WireError, num

MAX_TIME_RANGE = 500  # time-range answers cap at 500 elements
MAX_FILLS = 2000
INTERVALS = {**CANDLE_INTERVAL_MS, "3m": 180_000, "30m": 1_800_000, "2h": 7_200_000, "8h": 28_800_000,
             "12h": 43_200_000, "3d": 259_200_000, "1w": 604_800_000}
# weights per request type (docs): the rest weigh 20
WEIGHTS = {"l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2, "spotClearinghouseState": 2,
           "exchangeStatus": 2, "userRole": 60}


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    if not isinstance(user, str) or not user.startswith("0x") or len(user) != 42:
        raise WireError("user must be a 0x address")
    return user.lower()


class Info:
    def __init__(self, engine: Engine, names: Names, history: PriceHistory, on_user: Callable[[str], None],
                 cum_volume: Callable[[str], Any], requests_used: Callable[[str], int]):
        self.e, self.n, self.history = engine, names, history
        self.on_user = on_user  # accounts are funded on first sight
        self.cum_volume, self.requests_used = cum_volume, requests_used

    def handle(self, body: dict[str, Any]) -> Any:
        kind = body.get("type")
        fn = getattr(self, f"t_{kind}", None) if isinstance(kind, str) else None
        if fn is None:
            raise WireError(f"unknown info type {kind!r}")
        if "user" in body:
            self.on_user(_user(body))
        return fn(body)

    def t_meta(self, body: dict[str, Any]) -> Any:
        return wire.meta(self.n)

    def t_spotMeta(self, body: dict[str, Any]) -> Any:
        return wire.spot_meta(self.n)

    def t_metaAndAssetCtxs(self, body: dict[str, Any]) -> Any:
        return [wire.meta(self.n), [wire.asset_ctx(self.e, m) for m in self.n.perps]]

    def t_spotMetaAndAssetCtxs(self, body: dict[str, Any]) -> Any:
        return [wire.spot_meta(self.n), [wire.asset_ctx(self.e, m) for m in self.n.spots]]

    def t_allMids(self, body: dict[str, Any]) -> Any:
        return wire.mids(self.e, self.n)

    def _symbol(self, coin: Any) -> str:
        symbol = self.n.symbol_of.get(coin) if isinstance(coin, str) else None
        if symbol is None:
            raise WireError(f"unknown coin {coin!r}")
        return symbol

    def t_l2Book(self, body: dict[str, Any]) -> Any:
        return wire.l2_book(self.e, self.n, self._symbol(body.get("coin")))

    def t_candleSnapshot(self, body: dict[str, Any]) -> Any:
        req = body.get("req") or {}
        symbol = self._symbol(req.get("coin"))
        step = INTERVALS.get(str(req.get("interval")))
        if step is None:
            raise WireError(f"unknown interval {req.get('interval')!r}")
        end = req.get("endTime") or self.e.clock()
        bars = self.history.candles(symbol, step, int(req.get("startTime", 0)), int(end))[-5000:]
        return [{"t": b.open_ms, "T": b.close_ms, "s": req["coin"], "i": req["interval"], "o": num(b.open),
                 "c": num(b.close), "h": num(b.high), "l": num(b.low), "v": num(b.volume), "n": b.trades}
                for b in bars]

    def t_clearinghouseState(self, body: dict[str, Any]) -> Any:
        return wire.clearinghouse_state(self.e, _user(body))

    def t_spotClearinghouseState(self, body: dict[str, Any]) -> Any:
        return wire.spot_state(self.e, self.n, _user(body))

    def t_openOrders(self, body: dict[str, Any]) -> Any:
        out = []
        for o in self.e.open_orders(_user(body)):
            d = wire.frontend_order(o, self.n)
            out.append({k: d[k] for k in ("coin", "limitPx", "oid", "side", "sz", "timestamp", "origSz")}
                       | ({"cloid": o.cloid} if o.cloid else {}))
        return out

    def t_frontendOpenOrders(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        opened = self.e.open_orders(user)
        children = {o.oid: [c for c in opened if c.parent_oid == o.oid] for o in opened}
        return [wire.frontend_order(o, self.n, children[o.oid]) for o in opened if o.parent_oid is None
                or o.parent_oid not in children]

    def _fills(self, user: str, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
        fills = [f for f in self.e.fills.get(user, []) if f.ts_ms >= start and (end is None or f.ts_ms <= end)]
        return [wire.fill(f, self.n) for f in reversed(fills)]  # newest first, as the venue answers

    def t_userFills(self, body: dict[str, Any]) -> Any:
        return self._fills(_user(body))[:MAX_FILLS]

    def t_userFillsByTime(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        fills = [f for f in self.e.fills.get(user, []) if f.ts_ms >= int(body.get("startTime", 0))
                 and (body.get("endTime") is None or f.ts_ms <= int(body["endTime"]))]
        return [wire.fill(f, self.n) for f in fills[:MAX_FILLS]]  # oldest first from startTime: page forward

    def t_orderStatus(self, body: dict[str, Any]) -> Any:
        user, ref = _user(body), body.get("oid")
        o = self.e.find(user, cloid=ref) if isinstance(ref, str) else self.e.find(user, oid=ref)
        if o is None or (o.status is OrderStatus.REJECTED and isinstance(ref, int)):
            return {"status": "unknownOid"}
        return {"status": "order", "order": {"order": wire.frontend_order(o, self.n),
                                             "status": wire.order_status_name(o),
                                             "statusTimestamp": o.status_ms or o.ts_ms}}

    def t_userFunding(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        start, end = int(body.get("startTime", 0)), body.get("endTime")
        items = [f for f in self.e.fundings.get(user, []) if f.ts_ms >= start and (end is None or f.ts_ms <= end)]
        return [wire.funding(f, self.n) for f in items[:MAX_TIME_RANGE]]

    def t_userNonFundingLedgerUpdates(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        start, end = int(body.get("startTime", 0)), body.get("endTime")
        items = [f for f in self.e.cash_flows.get(user, []) if f.ts_ms >= start and (end is None or f.ts_ms <= end)]
        return [ledger_update(f) for f in items[:MAX_TIME_RANGE]]  # oldest first, as the venue answers

    def t_fundingHistory(self, body: dict[str, Any]) -> Any:
        symbol = self._symbol(body.get("coin"))
        return [{"coin": body["coin"], "fundingRate": str(self.e.funding_rates[symbol]), "premium": "0.0",
                 "time": self.e.clock()}]

    def t_userRateLimit(self, body: dict[str, Any]) -> Any:
        user = _user(body)
        vlm = self.cum_volume(user)
        return {"cumVlm": num(vlm), "nRequestsUsed": self.requests_used(user), "nRequestsCap": 10_000 + int(vlm),
                "nRequestsSurplus": 0}

    def t_exchangeStatus(self, body: dict[str, Any]) -> Any:
        return {"time": self.e.clock(), "specialStatuses": None}


def ledger_update(f: SimCashFlow) -> dict[str, Any]:
    """One entry of `userNonFundingLedgerUpdates`, in the venue's shape for its delta type."""
    delta: dict[str, Any] = {"type": f.kind, "usdc": num(f.usdc)}
    if f.kind == "withdraw":
        delta |= {"nonce": f.nonce, "fee": num(f.fee)}
    elif f.kind == "accountClassTransfer":
        delta["toPerp"] = f.to_perp
    elif f.kind == "internalTransfer":
        delta |= {"user": f.user, "destination": f.destination, "fee": num(f.fee)}
    elif f.kind == "subAccountTransfer":
        delta |= {"user": f.user, "destination": f.destination}
    elif f.kind == "spotTransfer":
        delta = {"type": f.kind, "token": f.token, "amount": num(f.amount), "usdcValue": num(f.usdc), "user": f.user,
                 "destination": f.destination, "fee": num(f.fee), "nativeTokenFee": "0.0", "nonce": None,
                 "feeToken": ""}
    return {"time": f.ts_ms, "hash": f.hash, "delta": delta}
