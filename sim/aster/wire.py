"""REST payloads in the venue's shapes: orders, trades, balances, positions, accounts.

Keys follow the docs' examples (each response keeps the keys its own example shows: a cancel answer
has no avgPrice, a batch answer no closePosition, activatePrice / priceRate only on trailing stops);
positionRisk adds `notional` and `isolatedWallet`, which live answers carry (ccxt reads `notional`).
Numbers are strings as the venue writes them: prices and quantities at the market's decimals,
"0" for none; money at 8 decimals; position entry prices at 5 or more.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from exchanges.precision import to_wire
from sim.accounts import key_side, key_symbol, maintenance_rate
from sim.aster.markets import QUOTE, Catalog
from sim.aster.orders import AsterOrder
from sim.engine import Engine, SimFill

ZERO = Decimal(0)
TRAILING = "TRAILING_STOP_MARKET"
MAX_NOTIONAL = Decimal(50_000_000)


def fixed(value: Decimal, places: int) -> str:
    out = format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
    return out[1:] if out.startswith("-") and Decimal(out) == 0 else out


def money(value: Decimal) -> str:
    return fixed(value, 8)


class Fmt:
    """Number formats of one venue side's markets."""

    def __init__(self, catalog: Catalog):
        self.cat = catalog

    def price(self, native: str, value: Decimal | None) -> str:
        return "0" if not value else fixed(value, self.cat.price_decimals(native))

    def qty(self, native: str, value: Decimal) -> str:
        return "0" if not value else fixed(value, self.cat.qty_decimals(native))

    def quote(self, native: str, value: Decimal) -> str:
        return "0" if not value else to_wire(value.quantize(
            Decimal(1).scaleb(-(self.cat.price_decimals(native) + self.cat.qty_decimals(native)))))

    def avg(self, native: str, value: Decimal) -> str:
        return fixed(value, max(5, self.cat.price_decimals(native)))


# ---- orders ----
FUTURES_SHAPES: dict[str, tuple[str, ...]] = {
    "new": ("clientOrderId", "cumQty", "cumQuote", "executedQty", "orderId", "avgPrice", "origQty", "price",
            "reduceOnly", "side", "positionSide", "status", "stopPrice", "closePosition", "symbol", "timeInForce",
            "type", "origType", "activatePrice", "priceRate", "updateTime", "workingType", "priceProtect"),
    "query": ("avgPrice", "clientOrderId", "cumQuote", "executedQty", "orderId", "origQty", "origType", "price",
              "reduceOnly", "side", "positionSide", "status", "stopPrice", "closePosition", "symbol", "time",
              "timeInForce", "type", "activatePrice", "priceRate", "updateTime", "workingType", "priceProtect"),
    "cancel": ("clientOrderId", "cumQty", "cumQuote", "executedQty", "orderId", "origQty", "origType", "price",
               "reduceOnly", "side", "positionSide", "status", "stopPrice", "closePosition", "symbol", "timeInForce",
               "type", "activatePrice", "priceRate", "updateTime", "workingType", "priceProtect"),
    "batch": ("clientOrderId", "cumQty", "cumQuote", "executedQty", "orderId", "avgPrice", "origQty", "price",
              "reduceOnly", "side", "positionSide", "status", "stopPrice", "symbol", "timeInForce", "type",
              "origType", "activatePrice", "priceRate", "updateTime", "workingType", "priceProtect"),
    "modify": ("orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty", "executedQty",
               "cumQty", "cumQuote", "timeInForce", "type", "reduceOnly", "closePosition", "side", "positionSide",
               "stopPrice", "workingType", "priceProtect", "origType", "updateTime"),
}
SPOT_SHAPES: dict[str, tuple[str, ...]] = {
    "new": ("symbol", "orderId", "clientOrderId", "updateTime", "price", "avgPrice", "origQty", "cumQty",
            "executedQty", "cumQuote", "status", "timeInForce", "stopPrice", "origType", "type", "side"),
    "query": ("orderId", "symbol", "status", "clientOrderId", "price", "avgPrice", "origQty", "executedQty",
              "cumQuote", "timeInForce", "type", "side", "stopPrice", "origType", "time", "updateTime"),
}
SPOT_SHAPES["cancel"] = SPOT_SHAPES["new"]


def order(o: AsterOrder, f: Fmt, shape: str = "query", *, as_accepted: bool = False) -> dict[str, Any]:
    """An order in the shape of one of the venue's answers. `as_accepted`: as it stood when accepted
    (a futures ACK answer, sent before anything traded)."""
    executed, cum, status, avg = o.executed, o.cum_quote, o.status, o.avg_price
    if as_accepted:
        executed, cum, status, avg = ZERO, ZERO, "NEW", ZERO
    n = o.native
    values: dict[str, Any] = {
        "orderId": o.order_id, "symbol": n, "status": status, "clientOrderId": o.client_id,
        "price": f.price(n, o.price) if not o.spot else fixed(o.price, 8),
        "avgPrice": f.avg(n, avg) if not o.spot else fixed(avg, 16),
        "origQty": f.qty(n, o.qty), "executedQty": f.qty(n, executed), "cumQty": f.qty(n, executed),
        "cumQuote": f.quote(n, cum), "timeInForce": o.tif, "type": o.type, "origType": o.orig_type,
        "reduceOnly": o.reduce_only, "closePosition": o.close_position, "side": o.side,
        "positionSide": o.position_side, "stopPrice": f.price(n, o.stop_price), "workingType": o.working_type,
        "priceProtect": o.price_protect, "time": o.time, "updateTime": o.time if as_accepted else o.update_time,
        "activatePrice": f.price(n, o.activate_price) if o.activate_price else "0",
        "priceRate": to_wire(o.price_rate) if o.price_rate is not None else "0",
    }
    keys = (SPOT_SHAPES if o.spot else FUTURES_SHAPES)[shape]
    trailing = o.orig_type == TRAILING
    return {k: values[k] for k in keys if trailing or k not in ("activatePrice", "priceRate")}


# ---- trades ----
def trade(t: SimFill, o: AsterOrder | None, f: Fmt, spot: bool) -> dict[str, Any]:
    n = f.cat.native(t.symbol)
    side = "BUY" if t.side.value == "buy" else "SELL"
    fee = t.fee + t.builder_fee
    if spot:
        return {"symbol": n, "id": t.tid, "orderId": o.order_id if o else t.oid, "side": side,
                "price": f.price(n, t.price), "qty": f.qty(n, t.size), "quoteQty": f.quote(n, t.price * t.size),
                "commission": money(fee), "commissionAsset": QUOTE, "time": t.ts_ms, "counterpartyId": None,
                "createUpdateId": None, "maker": not t.crossed, "buyer": side == "BUY"}
    return {"buyer": side == "BUY", "commission": money(fee), "commissionAsset": QUOTE, "id": t.tid,
            "maker": not t.crossed, "orderId": o.order_id if o else t.oid, "price": f.price(n, t.price),
            "qty": f.qty(n, t.size), "quoteQty": f.quote(n, t.price * t.size), "realizedPnl": money(t.closed_pnl),
            "side": side, "positionSide": o.position_side if o else "BOTH", "symbol": n, "time": t.ts_ms}


# ---- futures account ----
class Account:
    """A futures account's numbers, from the engine."""

    def __init__(self, engine: Engine, catalog: Catalog, user: str):
        e = self.e = engine
        self.cat, self.user = catalog, user
        acct = e.accounts.get(user)
        self.views = {(v.symbol, v.position_side): v for v in e.positions_view(user)} if acct else {}
        self.positions = acct.positions if acct else {}
        self.collateral = acct.collateral if acct else ZERO
        self.iso_wallets = {k: p.raw_usd + p.size * p.entry for k, p in self.positions.items() if not p.cross}
        self.wallet = self.collateral + sum(self.iso_wallets.values(), ZERO)
        self.unrealized = sum((v.unrealized_pnl for v in self.views.values()), ZERO)
        self.cross_unrealized = sum((v.unrealized_pnl for v in self.views.values() if v.cross), ZERO)
        self.position_im = sum((abs(v.size) * v.mark / v.leverage for v in self.views.values()), ZERO)
        self.order_im = e.order_margin(user) if acct else ZERO
        self.maint = sum((abs(v.size) * v.mark * maintenance_rate(e.markets[v.symbol].max_leverage)
                          for v in self.views.values()), ZERO)
        self.available = e.withdrawable(user) if acct else ZERO

    def legs(self, hedge: bool) -> list[tuple[str, str | None]]:
        sides: tuple[str | None, ...] = ("LONG", "SHORT") if hedge else (None,)
        held = [(key_symbol(k), key_side(k)) for k in self.positions]
        legs = [(m.symbol, s) for m in self.cat.markets.values() for s in sides]
        return legs + [leg for leg in held if leg not in legs]

    def leverage(self, symbol: str) -> int:
        return self.e.leverage_of(self.user, symbol)

    def is_cross(self, symbol: str) -> bool:
        acct = self.e.accounts.get(self.user)
        return acct.leverage.get(symbol, (0, True))[1] if acct else True

    def balance(self, ts: int) -> list[dict[str, Any]]:
        return [{"accountAlias": "SgsR", "asset": QUOTE, "balance": money(self.wallet),
                 "crossWalletBalance": money(self.collateral), "crossUnPnl": money(self.cross_unrealized),
                 "availableBalance": money(self.available), "maxWithdrawAmount": money(self.available),
                 "marginAvailable": True, "updateTime": ts}]

    def position_risk(self, f: Fmt, hedge: bool, ts: int, native: str | None = None) -> list[dict[str, Any]]:
        out = []
        for symbol, leg in self.legs(hedge):
            n = self.cat.native(symbol)
            if native is not None and n != native:
                continue
            v = self.views.get((symbol, leg))
            mark = self.e.mark(symbol)
            size = v.size if v else ZERO
            key = symbol if leg is None else f"{symbol}|{leg}"
            iso = not (v.cross if v else self.is_cross(symbol))
            iso_wallet = self.iso_wallets.get(key, ZERO)
            out.append({
                "entryPrice": fixed(v.entry, max(5, f.cat.price_decimals(n))) if v else "0.00000",
                "marginType": "isolated" if iso else "cross", "isAutoAddMargin": "false",
                "isolatedMargin": money(v.margin_used if v and iso else ZERO),
                "leverage": str(v.leverage if v else self.leverage(symbol)),
                "liquidationPrice": f.price(n, v.liquidation_price) if v and v.liquidation_price else "0",
                "markPrice": money(mark), "maxNotionalValue": to_wire(MAX_NOTIONAL), "positionAmt": fixed(
                    size, f.cat.qty_decimals(n)), "symbol": n,
                "unRealizedProfit": money(v.unrealized_pnl if v else ZERO), "positionSide": leg or "BOTH",
                "notional": money(size * mark) if size else "0", "isolatedWallet": money(iso_wallet) if iso_wallet
                else "0", "updateTime": ts if v else 0,
            })
        return out

    def info(self, f: Fmt, hedge: bool, ts: int) -> dict[str, Any]:
        """GET /fapi/v4/account (and /fapi/v3/accountWithJoinMargin)."""
        wallet, margin_balance = money(self.wallet), money(self.wallet + self.unrealized)
        im = self.position_im + self.order_im
        asset = {"asset": QUOTE, "walletBalance": wallet, "unrealizedProfit": money(self.unrealized),
                 "marginBalance": margin_balance, "maintMargin": money(self.maint), "initialMargin": money(im),
                 "positionInitialMargin": money(self.position_im), "openOrderInitialMargin": money(self.order_im),
                 "crossWalletBalance": money(self.collateral), "crossUnPnl": money(self.cross_unrealized),
                 "availableBalance": money(self.available), "maxWithdrawAmount": money(self.available),
                 "marginAvailable": True, "updateTime": ts}
        positions = []
        for symbol, leg in self.legs(hedge):
            n = self.cat.native(symbol)
            v = self.views.get((symbol, leg))
            notional = abs(v.size) * v.mark if v else ZERO
            lev = v.leverage if v else self.leverage(symbol)
            mmr = maintenance_rate(self.e.markets[symbol].max_leverage)
            positions.append({
                "symbol": n, "initialMargin": money(notional / lev) if v else "0",
                "maintMargin": money(notional * mmr) if v else "0",
                "unrealizedProfit": money(v.unrealized_pnl if v else ZERO),
                "positionInitialMargin": money(notional / lev) if v else "0", "openOrderInitialMargin": "0",
                "leverage": str(lev), "isolated": not (v.cross if v else self.is_cross(symbol)),
                "entryPrice": fixed(v.entry, max(5, f.cat.price_decimals(n))) if v else "0.00000",
                "maxNotional": to_wire(MAX_NOTIONAL), "positionSide": leg or "BOTH",
                "positionAmt": fixed(v.size, f.cat.qty_decimals(n)) if v else "0", "updateTime": ts if v else 0,
            })
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": 0,
                "totalInitialMargin": money(im), "totalMaintMargin": money(self.maint), "totalWalletBalance": wallet,
                "totalUnrealizedProfit": money(self.unrealized), "totalMarginBalance": margin_balance,
                "totalPositionInitialMargin": money(self.position_im),
                "totalOpenOrderInitialMargin": money(self.order_im), "totalCrossWalletBalance": money(self.collateral),
                "totalCrossUnPnl": money(self.cross_unrealized), "availableBalance": money(self.available),
                "maxWithdrawAmount": money(self.available), "assets": [asset], "positions": positions}


def spot_account(engine: Engine, user: str, ts: int) -> dict[str, Any]:
    acct = engine.accounts.get(user)
    balances = []
    for asset, total in sorted((acct.spot if acct else {}).items()):
        locked = engine.spot_hold(user, asset)
        balances.append({"asset": asset, "free": money(total - locked), "locked": money(locked)})
    # live answers (ccxt's capture) give feeTier and updateTime (in ns) as strings, unlike the docs' sample
    return {"feeTier": "0", "canTrade": True, "canDeposit": True, "canWithdraw": True, "canBurnAsset": True,
            "updateTime": str(ts * 1_000_000), "balances": balances}
