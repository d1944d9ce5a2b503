"""Engine state in Hyperliquid's JSON shapes (as recorded in ../shared/fixtures/hyperliquid)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from exchanges.models import Market, MarketKind, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchanges.precision import to_wire
from sim.book import SimOrder
from sim.engine import Engine, SimFill, SimFunding
from sim.ledger import PositionView

ZERO = Decimal(0)
TIF = {"Gtc": TimeInForce.GTC, "Ioc": TimeInForce.IOC, "Alo": TimeInForce.ALO}
TIF_NAME = {v: k for k, v in TIF.items()}


class WireError(ValueError):
    """A malformed request: Hyperliquid answers 422 with its deserialisation message."""


def num(d: Decimal) -> str:
    """Hyperliquid prints info numbers like floats: integers keep one decimal ("69711.0")."""
    s = to_wire(d)
    return s if "." in s else s + ".0"


def dec(value: Any, what: str) -> Decimal:
    if not isinstance(value, str):
        raise WireError(f"{what} must be a string")
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise WireError(f"{what} is not a number") from None
    if not d.is_finite():
        raise WireError(f"{what} is not a number")
    return d


class Names:
    """Coin names and asset ids: perps by index, spot as "PURR/USDC" (index 0) or "@index"."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.perps = [m for m in engine.markets.values() if m.kind is MarketKind.PERP]
        self.spots = [m for m in engine.markets.values() if m.kind is MarketKind.SPOT]
        self.coin_of = {m.symbol: m.native for m in engine.markets.values()}
        self.symbol_of = {m.native: m.symbol for m in engine.markets.values()}
        self.by_asset = {m.asset_id: m for m in engine.markets.values() if m.asset_id is not None}
        tokens = ["USDC"] + [m.base for m in self.spots]
        self.tokens = list(dict.fromkeys(tokens))

    def market(self, asset: Any) -> Market | None:
        return self.by_asset.get(asset) if isinstance(asset, int) else None

    def coin(self, symbol: str) -> str:
        return self.coin_of[symbol]


def meta(n: Names) -> dict[str, Any]:
    return {"universe": [{"szDecimals": _sz_dec(m), "name": m.native, "maxLeverage": m.max_leverage,
                          "marginTableId": m.max_leverage} for m in n.perps],
            "marginTables": [[lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}]
                             for lev in sorted({m.max_leverage for m in n.perps})],
            "collateralToken": 0}


def _sz_dec(m: Market) -> int:
    exp = m.lot_size.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def spot_meta(n: Names) -> dict[str, Any]:
    tokens = []
    for i, name in enumerate(n.tokens):
        m = next((s for s in n.spots if s.base == name), None)
        tokens.append({"name": name, "szDecimals": 8 if m is None else _sz_dec(m), "weiDecimals": 8, "index": i,
                       "tokenId": "0x" + f"{i:032x}", "isCanonical": True, "evmContract": None, "fullName": None})
    universe = [{"tokens": [n.tokens.index(m.base), 0], "name": m.native, "index": m.asset_id - 10000,  # type: ignore[operator]
                 "isCanonical": m.native.endswith("/USDC")} for m in n.spots]
    return {"tokens": tokens, "universe": universe}


def asset_ctx(e: Engine, m: Market) -> dict[str, Any]:
    mark = e.mark(m.symbol)
    bid, ask = e.books[m.symbol].best_bid(), e.books[m.symbol].best_ask()
    mid = (bid + ask) / 2 if bid is not None and ask is not None else None
    out: dict[str, Any] = {"dayNtlVlm": "0.0", "markPx": num(mark), "midPx": num(m.round_price(mid)) if mid else None,
           "prevDayPx": num(mark)}
    if m.kind is MarketKind.PERP:
        out.update(funding=to_wire(e.funding_rates[m.symbol]), openInterest="0.0", oraclePx=num(mark),
                   premium="0.0", impactPxs=[num(bid), num(ask)] if bid and ask else None)
    else:
        out.update(circulatingSupply="0.0", coin=m.native)
    return out


def mids(e: Engine, n: Names) -> dict[str, str]:
    return {n.coin(s): num(px) for s, px in e.mids.items()}


def l2_book(e: Engine, n: Names, symbol: str, depth: int = 20) -> dict[str, Any]:
    bids, asks = e.books[symbol].depth(depth)
    return {"coin": n.coin(symbol), "time": e.clock(),
            "levels": [[{"px": num(p), "sz": num(s), "n": c} for p, s, c in side] for side in (bids, asks)]}


def clearinghouse_state(e: Engine, user: str) -> dict[str, Any]:
    e.account(user)
    views = e.positions_view(user)
    cross = [v for v in views if v.cross]

    def summary(av: Decimal, vs: list[PositionView], used: Decimal) -> dict[str, str]:
        return {"accountValue": num(av), "totalNtlPos": num(sum((v.position_value for v in vs), ZERO)),
                "totalRawUsd": num(av - sum((v.size * v.mark for v in vs), ZERO)), "totalMarginUsed": num(used)}

    positions = []
    for v in views:
        m = e.markets[v.symbol]
        leverage: dict[str, Any] = {"type": "cross", "value": v.leverage} if v.cross else {
            "type": "isolated", "value": v.leverage, "rawUsd": num(v.raw_usd)}
        positions.append({"type": "oneWay", "position": {
            "coin": m.native, "szi": num(v.size), "leverage": leverage,
            "entryPx": num(v.entry), "positionValue": num(v.position_value), "unrealizedPnl": num(v.unrealized_pnl),
            "returnOnEquity": num(v.unrealized_pnl / v.margin_used if v.margin_used else ZERO),
            "liquidationPx": num(v.liquidation_price) if v.liquidation_price is not None else None,
            "marginUsed": num(v.margin_used), "maxLeverage": m.max_leverage,
            "cumFunding": {"allTime": num(-v.funding), "sinceOpen": num(-v.funding), "sinceChange": "0.0"}}})
    return {"marginSummary": summary(e.account_value(user), views, e.margin_used(user)),
            "crossMarginSummary": summary(e.cross_account_value(user), cross, e.cross_margin_used(user)),
            "crossMaintenanceMarginUsed": num(e.maintenance_margin(user)), "withdrawable": num(e.withdrawable(user)),
            "assetPositions": positions, "time": e.clock()}


def spot_state(e: Engine, n: Names, user: str) -> dict[str, Any]:
    acct = e.account(user)
    balances = []
    for asset, total in sorted(acct.spot.items(), key=lambda kv: n.tokens.index(kv[0]) if kv[0] in n.tokens else 99):
        balances.append({"coin": asset, "token": n.tokens.index(asset) if asset in n.tokens else -1,
                         "total": num(total), "hold": num(e.spot_hold(user, asset)), "entryNtl": "0.0"})
    return {"balances": balances}


def _order_type(o: SimOrder) -> str:
    if o.trigger_px is not None:
        kind = "Take Profit" if o.tpsl == "tp" else "Stop"
        return f"{kind} {'Market' if o.trigger_is_market else 'Limit'}"
    return "Market" if o.is_market else "Limit"


def frontend_order(o: SimOrder, n: Names, children: list[SimOrder] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    trig = o.trigger_px
    up = (o.tpsl == "tp") == (o.side is Side.SELL)
    return {"coin": n.coin(o.symbol), "side": "B" if o.side is Side.BUY else "A", "limitPx": num(o.price),
            "sz": num(o.remaining),  # the venue keeps the unfilled size on canceled and rejected orders
            "oid": o.oid, "timestamp": o.ts_ms,
            "triggerCondition": "N/A" if trig is None else f"Price {'above' if up else 'below'} {num(trig)}",
            "isTrigger": trig is not None, "triggerPx": num(trig or ZERO),
            "children": [frontend_order(c, n) for c in children], "isPositionTpsl": False,
            "reduceOnly": o.reduce_only, "orderType": _order_type(o), "origSz": num(o.orig_size),
            "tif": "FrontendMarket" if o.is_market else (None if trig is not None else TIF_NAME[o.tif]),
            "cloid": o.cloid}


_CANCELED = {"user": "canceled", "ioc": "canceled", "modified": "canceled", "reduce_only": "reduceOnlyCanceled",
             "scheduled": "scheduledCancel", "liquidation": "liquidatedCanceled", "self_trade": "selfTradeCanceled",
             "sibling_filled": "siblingFilledCanceled", "parent_canceled": "canceled", "margin": "marginCanceled"}
_REJECTED = {"TICK": "tickRejected", "MIN_NOTIONAL": "minTradeNtlRejected", "MARGIN": "perpMarginRejected",
             "REDUCE_ONLY": "reduceOnlyRejected", "POST_ONLY": "badAloPxRejected", "IOC_NO_MATCH": "iocCancelRejected",
             "BAD_TRIGGER": "badTriggerPxRejected", "NO_LIQUIDITY": "marketOrderNoLiquidityRejected",
             "SPOT_BALANCE": "insufficientSpotBalanceRejected", "SIZE": "rejected", "DUPLICATE_CLOID": "rejected"}


def order_status_name(o: SimOrder) -> str:
    if o.status in (OrderStatus.OPEN, OrderStatus.WAITING_TRIGGER):
        return "triggered" if o.reason == "triggered" else "open"
    if o.status is OrderStatus.FILLED:
        return "filled"
    if o.status is OrderStatus.CANCELED:
        return _CANCELED.get(o.reason or "user", "canceled")
    return _REJECTED.get(o.reason or "", "rejected")


def ws_order(o: SimOrder, n: Names) -> dict[str, Any]:
    order = {"coin": n.coin(o.symbol), "side": "B" if o.side is Side.BUY else "A", "limitPx": num(o.price),
             "sz": num(o.remaining),  # the venue keeps the unfilled size on canceled and rejected orders
             "oid": o.oid, "timestamp": o.ts_ms, "origSz": num(o.orig_size)}
    if o.cloid:
        order["cloid"] = o.cloid
    return {"order": order, "status": order_status_name(o), "statusTimestamp": o.status_ms or o.ts_ms}


def _dir(f: SimFill, m: Market) -> str:
    if m.kind is MarketKind.SPOT:
        return "Buy" if f.side is Side.BUY else "Sell"
    start, after = f.start_position, f.start_position + f.size * f.side.sign
    if start == 0 or ((start > 0) == (after > 0) and abs(after) > abs(start)):
        return "Open Long" if f.side is Side.BUY else "Open Short"
    if after != 0 and (start > 0) != (after > 0):
        return "Long > Short" if start > 0 else "Short > Long"
    return "Close Long" if start > 0 else "Close Short"


def fill(f: SimFill, n: Names) -> dict[str, Any]:
    m = n.engine.markets[f.symbol]
    out: dict[str, Any] = {
        "coin": n.coin(f.symbol), "px": num(f.price), "sz": num(f.size), "side": "B" if f.side is Side.BUY else "A",
        "time": f.ts_ms, "startPosition": num(f.start_position), "dir": _dir(f, m), "closedPnl": num(f.closed_pnl),
        "hash": "0x" + f"{f.tid:064x}", "oid": f.oid, "crossed": f.crossed, "fee": num(f.fee), "tid": f.tid,
        "feeToken": "USDC"}
    if f.cloid:
        out["cloid"] = f.cloid
    if f.liquidation:
        out["liquidation"] = {"liquidatedUser": f.account, "markPx": num(f.price), "method": "market"}
    return out


def funding(f: SimFunding, n: Names) -> dict[str, Any]:
    return {"delta": {"type": "funding", "coin": n.coin(f.symbol), "usdc": num(f.usdc), "szi": num(f.szi),
                      "fundingRate": to_wire(f.rate), "nSamples": None},
            "hash": "0x" + "0" * 64, "time": f.ts_ms}


def order_request(w: Any, n: Names) -> OrderRequest:
    """A wire order {a, b, p, s, r, t[, c]} as an engine request. Raises WireError."""
    if not isinstance(w, dict) or not {"a", "b", "p", "s", "r", "t"} <= set(w):
        raise WireError("order must have a, b, p, s, r, t")
    m = n.market(w["a"])
    if m is None:
        raise WireError(f"unknown asset {w['a']}")
    price, size = dec(w["p"], "p"), dec(w["s"], "s")
    t = w["t"]
    common = dict(exchange="hyperliquid", symbol=m.symbol, side=Side.BUY if w["b"] else Side.SELL, size=size,
                  reduce_only=bool(w["r"]), client_id=w.get("c"))
    if "limit" in t:
        tif = TIF.get(t["limit"].get("tif"))
        if tif is None:
            raise WireError(f"unknown tif {t['limit'].get('tif')}")
        return OrderRequest(price=price, tif=tif, **common)  # type: ignore[arg-type]
    if "trigger" in t:
        tr = t["trigger"]
        kind = OrderType.TAKE_PROFIT if tr.get("tpsl") == "tp" else OrderType.STOP
        return OrderRequest(price=price, order_type=kind, trigger_price=dec(tr["triggerPx"], "triggerPx"),
                            trigger_is_market=bool(tr.get("isMarket", True)), **common)  # type: ignore[arg-type]
    raise WireError("order type must be limit or trigger")
