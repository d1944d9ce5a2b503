"""Stream payloads in the venue's shapes: user-data events and market-stream events.

User data (futures): ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, MARGIN_CALL, ACCOUNT_CONFIG_UPDATE,
listenKeyExpired; (spot): executionReport, outboundAccountPosition. Market: depthUpdate (diff and
partial), bookTicker, markPriceUpdate, aggTrade, kline, forceOrder. `N`/`n` (commission) are always
present, as the docs' example shows them (its comment says they are left out without commission).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.precision import to_wire
from sim.accounts import position_key
from sim.aster.markets import QUOTE
from sim.aster.orders import AsterOrder
from sim.aster.wire import Fmt, fixed, money
from sim.engine import Engine, SimFill
from sim.history import Bar

ZERO = Decimal(0)


def order_trade_update(o: AsterOrder, x: str, fill: SimFill | None, f: Fmt, now: int) -> dict[str, Any]:
    n = o.native
    last_qty, last_px = (fill.size, fill.price) if fill else (ZERO, ZERO)
    fee = fill.fee + fill.builder_fee if fill else ZERO
    remaining = max(ZERO, o.qty - o.executed) if o.is_open else ZERO
    body: dict[str, Any] = {
        "s": n, "c": o.client_id, "S": o.side, "o": o.type, "f": o.tif, "q": f.qty(n, o.qty),
        "p": f.price(n, o.price), "ap": f.price(n, o.avg_price), "sp": f.price(n, o.stop_price), "x": x,
        "X": o.status, "i": o.order_id, "l": f.qty(n, last_qty), "z": f.qty(n, o.executed), "L": f.price(n, last_px),
        "N": QUOTE, "n": money(fee) if fee else "0", "T": fill.ts_ms if fill else o.update_time,
        "t": fill.tid if fill else 0, "b": money(remaining * o.price) if o.side == "BUY" and o.price else "0",
        "a": money(remaining * o.price) if o.side == "SELL" and o.price else "0",
        "m": bool(fill and not fill.crossed), "R": o.reduce_only, "wt": o.working_type, "ot": o.orig_type,
        "ps": o.position_side, "cp": o.close_position,
        "AP": f.price(n, o.activate_price) if o.activate_price else "0",
        "cr": to_wire(o.price_rate) if o.price_rate is not None else "0",
        "rp": money(fill.closed_pnl) if fill else "0",
    }
    if o.orig_type != "TRAILING_STOP_MARKET":
        del body["AP"], body["cr"]
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": fill.ts_ms if fill else o.update_time, "o": body}


def execution_report(o: AsterOrder, x: str, fill: SimFill | None, f: Fmt, now: int) -> dict[str, Any]:
    n = o.native
    last_qty, last_px = (fill.size, fill.price) if fill else (ZERO, ZERO)
    return {"s": n, "c": o.client_id, "S": o.side, "o": o.type, "f": o.tif, "q": f.qty(n, o.qty),
            "p": f.price(n, o.price), "ap": f.price(n, o.avg_price), "P": f.price(n, o.stop_price), "x": x,
            "X": o.status, "i": o.order_id, "l": f.qty(n, last_qty), "z": f.qty(n, o.executed),
            "L": f.price(n, last_px), "n": money(fill.fee + fill.builder_fee) if fill else "0", "N": QUOTE,
            "T": fill.ts_ms if fill else o.update_time, "t": fill.tid if fill else -1,
            "m": bool(fill and not fill.crossed), "ot": o.orig_type, "O": o.time, "Z": f.quote(n, o.cum_quote),
            "Y": f.quote(n, last_qty * last_px), "Q": f.quote(n, o.quote_qty), "e": "executionReport", "E": now}


def account_update(e: Engine, user: str, symbols: list[tuple[str, str | None]], reason: str, change: Decimal,
                   f: Fmt, now: int) -> dict[str, Any]:
    """ACCOUNT_UPDATE: the USDT wallet, and the positions (symbol, hedge leg) that moved."""
    acct = e.account(user)
    iso = sum((p.raw_usd + p.size * p.entry for p in acct.positions.values() if not p.cross), ZERO)
    positions = []
    for symbol, leg in symbols:
        p = acct.positions.get(position_key(symbol, leg))
        n = f.cat.native(symbol)
        cross = p.cross if p else acct.leverage.get(symbol, (0, True))[1]
        positions.append({
            "s": n, "pa": fixed(p.size, f.cat.qty_decimals(n)) if p else "0",
            "ep": fixed(p.entry, max(5, f.cat.price_decimals(n))) if p else "0.00000",
            "cr": money(p.realized) if p else "0", "up": money((e.mark(symbol) - p.entry) * p.size) if p else "0",
            "mt": "cross" if cross else "isolated",
            "iw": money(p.raw_usd + p.size * p.entry) if p and not p.cross else "0", "ps": leg or "BOTH", "ma": QUOTE,
        })
    return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
        "m": reason, "B": [{"a": QUOTE, "wb": money(acct.collateral + iso), "cw": money(acct.collateral),
                            "bc": money(change)}], "P": positions}}


def outbound_account_position(e: Engine, user: str, assets: list[str], reason: str, now: int) -> dict[str, Any]:
    acct = e.account(user)
    balances = []
    for a in assets:
        locked = e.spot_hold(user, a)
        balances.append({"a": a, "f": money(acct.spot.get(a, ZERO) - locked), "l": money(locked)})
    return {"B": balances, "e": "outboundAccountPosition", "T": now, "E": now, "m": reason}


def margin_call(e: Engine, user: str, f: Fmt) -> dict[str, Any]:
    acct = e.account(user)
    items = []
    for v in e.positions_view(user):
        n = f.cat.native(v.symbol)
        items.append({"s": n, "ps": v.position_side or "BOTH", "pa": fixed(v.size, f.cat.qty_decimals(n)),
                      "mt": "CROSSED" if v.cross else "ISOLATED", "iw": money(v.margin_used) if not v.cross else "0",
                      "mp": money(v.mark), "up": money(v.unrealized_pnl),
                      "mm": money(abs(v.size) * v.mark / (2 * e.markets[v.symbol].max_leverage))})
    return {"e": "MARGIN_CALL", "E": e.clock(), "cw": money(acct.collateral), "p": items}


def config_leverage(native: str, leverage: int, now: int) -> dict[str, Any]:
    return {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now, "ac": {"s": native, "l": leverage}}


def config_account(multi_assets: bool, dual: bool, now: int) -> dict[str, Any]:
    return {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now, "ai": {"j": multi_assets, "f": False, "d": dual}}


def listen_key_expired(now: int) -> dict[str, Any]:
    return {"e": "listenKeyExpired", "E": now}


# ---- market streams ----
def levels(f: Fmt, native: str, rows: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[f.price(native, p), f.qty(native, q) if q else "0"] for p, q in rows]


def depth_update(native: str, first: int, last: int, prev: int, bids: list[list[str]], asks: list[list[str]],
                 now: int) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": now, "T": now, "s": native, "U": first, "u": last, "pu": prev, "b": bids,
            "a": asks}


def book_ticker(native: str, update_id: int, bid: list[str], ask: list[str], now: int) -> dict[str, Any]:
    return {"e": "bookTicker", "u": update_id, "E": now, "T": now, "s": native, "b": bid[0], "B": bid[1],
            "a": ask[0], "A": ask[1]}


def mark_price(native: str, mark: Decimal, rate: Decimal, next_funding: int, now: int) -> dict[str, Any]:
    return {"e": "markPriceUpdate", "E": now, "s": native, "p": money(mark), "i": money(mark), "P": money(mark),
            "r": money(rate), "T": next_funding}


def agg_trade(f: Fmt, native: str, t: SimFill, agg_id: int) -> dict[str, Any]:
    # m: was the buyer the maker — the taker sold
    return {"e": "aggTrade", "E": t.ts_ms, "s": native, "a": agg_id, "p": f.price(native, t.price),
            "q": f.qty(native, t.size), "f": t.tid, "l": t.tid, "T": t.ts_ms, "m": t.side.value == "sell"}


def trade_pro(f: Fmt, native: str, t: SimFill) -> dict[str, Any]:
    """The V3 `@tradepro` stream: trades with the parties hidden, as the docs' example shows."""
    return {"e": "tradepro", "E": t.ts_ms, "T": t.ts_ms, "s": native, "t": t.tid, "p": f.price(native, t.price),
            "q": f.qty(native, t.size), "h": "0X" + "0" * 64, "m": ["hidden", "hidden"]}


def kline(f: Fmt, native: str, interval: str, bar: Bar, closed: bool, now: int) -> dict[str, Any]:
    return {"e": "kline", "E": now, "s": native, "k": {
        "t": bar.open_ms, "T": bar.close_ms, "s": native, "i": interval, "f": 0, "L": 0,
        "o": f.price(native, bar.open), "c": f.price(native, bar.close), "h": f.price(native, bar.high),
        "l": f.price(native, bar.low), "v": f.qty(native, bar.volume), "n": bar.trades, "x": closed,
        "q": f.quote(native, bar.volume * bar.close), "V": "0", "Q": "0", "B": "0"}}


def force_order(f: Fmt, native: str, side: str, size: Decimal, price: Decimal, now: int) -> dict[str, Any]:
    p, q = f.price(native, price), f.qty(native, size)
    return {"e": "forceOrder", "E": now, "o": {"s": native, "S": side, "o": "LIMIT", "f": "IOC", "q": q, "p": p,
                                                "ap": p, "X": "FILLED", "l": q, "z": q, "T": now}}
