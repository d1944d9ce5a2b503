"""Pure parsers of Hyperliquid /info payloads into the domain model."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from exchanges.hyperliquid.errors import map_error
from exchanges.models import (
    AccountBalances,
    Balance,
    BookLevel,
    Candle,
    CashFlow,
    CashFlowKind,
    Fill,
    FundingPayment,
    Liquidation,
    Market,
    MarketKind,
    Order,
    OrderBook,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)

VENUE = "hyperliquid"
PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
PRICE_SIG_FIGS = 5
MIN_NOTIONAL = Decimal(10)  # "Order must have minimum value of $10."
SPOT_ASSET_OFFSET = 10_000


def parse_perp_markets(meta: dict[str, Any], venue: str = VENUE) -> dict[str, Market]:
    """`meta` (or metaAndAssetCtxs[0]): asset id = index in universe; delisted markets are not tradable."""
    out: dict[str, Market] = {}
    for asset_id, u in enumerate(meta["universe"]):
        sz_dec = int(u["szDecimals"])
        out[u["name"]] = Market(
            exchange=venue, symbol=u["name"], kind=MarketKind.PERP, base=u["name"], quote="USDC", native=u["name"],
            lot_size=Decimal(1).scaleb(-sz_dec), price_sig_figs=PRICE_SIG_FIGS,
            price_decimals=PERP_MAX_DECIMALS - sz_dec, min_notional=MIN_NOTIONAL,
            max_leverage=int(u["maxLeverage"]), asset_id=asset_id, tradable=not u.get("isDelisted", False),
        )
    return out


def parse_spot_markets(spot_meta: dict[str, Any], venue: str = VENUE) -> dict[str, Market]:
    """`spotMeta`: the trader types BASE/QUOTE; the wire name is "PURR/USDC" or "@index"."""
    tokens = {t["index"]: t for t in spot_meta["tokens"]}
    out: dict[str, Market] = {}
    for u in spot_meta["universe"]:
        base, quote = tokens[u["tokens"][0]], tokens[u["tokens"][1]]
        sz_dec = int(base["szDecimals"])
        symbol = f"{base['name']}/{quote['name']}"
        out[symbol] = Market(
            exchange=venue, symbol=symbol, kind=MarketKind.SPOT, base=base["name"], quote=quote["name"],
            native=u["name"], lot_size=Decimal(1).scaleb(-sz_dec), price_sig_figs=PRICE_SIG_FIGS,
            price_decimals=SPOT_MAX_DECIMALS - sz_dec, min_notional=MIN_NOTIONAL, max_leverage=1,
            asset_id=SPOT_ASSET_OFFSET + int(u["index"]),
        )
    return out


# ---- account, orders, fills --------------------------------------------------------------------

STATUS = {
    "open": OrderStatus.OPEN, "triggered": OrderStatus.OPEN, "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED, "rejected": OrderStatus.REJECTED,
}
SIDE = {"B": Side.BUY, "A": Side.SELL}


class ParseError(ValueError):
    pass


def status_of(name: str) -> OrderStatus:
    """Hyperliquid's order status names: open/filled/canceled/triggered/rejected and the many
    '...Canceled' / '...Rejected' reasons (plus scheduledCancel)."""
    if name in STATUS:
        return STATUS[name]
    if name.endswith("Canceled") or name == "scheduledCancel":
        return OrderStatus.CANCELED
    if name.endswith("Rejected"):
        return OrderStatus.REJECTED
    raise ParseError(f"unknown Hyperliquid order status {name!r}")


def side_of(code: str) -> Side:
    try:
        return SIDE[code]
    except KeyError:
        raise ParseError(f"unknown Hyperliquid side {code!r}") from None


def d(value: Any) -> Decimal:
    if value is None:
        raise ParseError("missing number")
    return Decimal(str(value))


def market_by_coin(markets: dict[str, Market]) -> dict[str, Market]:
    return {m.native: m for m in markets.values()}


def parse_balances(ch: dict[str, Any], spot: dict[str, Any], mids: dict[str, Decimal], venue: str = VENUE,
                   ts_ms: int = 0) -> AccountBalances:
    summary = ch["marginSummary"]
    balances = []
    for b in spot.get("balances", []):
        total = d(b["total"])
        if total == 0:
            continue
        coin = b["coin"]
        px = Decimal(1) if coin in ("USDC", "USDH") else mids.get(f"{coin}/USDC")
        balances.append(Balance(coin, total, total - d(b.get("hold", "0")), total * px if px is not None else None))
    return AccountBalances(venue, d(summary["accountValue"]), d(summary["totalMarginUsed"]), d(ch["withdrawable"]),
                           tuple(balances), int(ch.get("time", ts_ms)))


def parse_positions(ch: dict[str, Any], by_coin: dict[str, Market], venue: str = VENUE) -> list[Position]:
    out = []
    for ap in ch.get("assetPositions", []):
        p = ap["position"]
        size = d(p["szi"])
        if size == 0:
            continue
        m = by_coin.get(p["coin"])
        lev = p.get("leverage") or {}
        liq = p.get("liquidationPx")
        cum = (p.get("cumFunding") or {}).get("sinceOpen", "0")
        out.append(Position(
            exchange=venue, symbol=m.symbol if m else p["coin"], size=size, entry_price=d(p["entryPx"]),
            mark_price=d(p["positionValue"]) / abs(size), unrealized_pnl=d(p["unrealizedPnl"]),
            leverage=int(lev.get("value", 1)), margin_used=d(p["marginUsed"]),
            liquidation_price=d(liq) if liq is not None else None, leverage_type=lev.get("type", "cross"),
            funding=-d(cum),  # cumFunding counts what the position paid
        ))
    return out


def _order_type(o: dict[str, Any]) -> OrderType:
    kind = str(o.get("orderType", "Limit"))
    if kind.startswith("Take Profit"):
        return OrderType.TAKE_PROFIT
    if kind.startswith("Stop"):
        return OrderType.STOP
    return OrderType.MARKET if kind == "Market" else OrderType.LIMIT


def parse_order(o: dict[str, Any], by_coin: dict[str, Market], venue: str = VENUE,
                status: str | None = None, status_ms: int | None = None) -> Order:
    """A frontendOpenOrders / orderStatus order (or a WebSocket orderUpdates order)."""
    m = by_coin.get(o["coin"])
    orig = d(o.get("origSz", o["sz"]))
    left = d(o["sz"])
    st = status_of(status) if status else OrderStatus.OPEN
    filled = orig - left if st is not OrderStatus.REJECTED else Decimal(0)
    if st is OrderStatus.OPEN and filled > 0:
        st = OrderStatus.PARTIALLY_FILLED
    if st is OrderStatus.OPEN and o.get("isTrigger") and status != "triggered":
        st = OrderStatus.WAITING_TRIGGER
    tif = {"Gtc": TimeInForce.GTC, "Ioc": TimeInForce.IOC, "Alo": TimeInForce.ALO}.get(o.get("tif") or "Gtc",
                                                                                     TimeInForce.IOC)
    trig = o.get("triggerPx")
    return Order(
        exchange=venue, symbol=m.symbol if m else o["coin"], side=side_of(o["side"]), size=orig,
        price=d(o["limitPx"]), status=st, order_id=str(o["oid"]), client_id=o.get("cloid"),
        order_type=_order_type(o), tif=tif, reduce_only=bool(o.get("reduceOnly", False)), filled=filled,
        trigger_price=d(trig) if o.get("isTrigger") and trig is not None else None, created_ms=int(o["timestamp"]),
        updated_ms=status_ms or int(o["timestamp"]),
        # a fired trigger is marked (risk.order_changes.TRIGGERED_REASON): an update saying only "open"
        # does not tell a waiting trigger order from a fired one
        reason=status if st in (OrderStatus.CANCELED, OrderStatus.REJECTED) or status == "triggered" else None,
    )


def parse_order_status(resp: dict[str, Any], by_coin: dict[str, Market], venue: str = VENUE) -> Order | None:
    if resp.get("status") != "order":
        return None
    o = resp["order"]
    return parse_order(o["order"], by_coin, venue, o["status"], o.get("statusTimestamp"))


def parse_fill(f: dict[str, Any], by_coin: dict[str, Market], venue: str = VENUE) -> Fill:
    m = by_coin.get(f["coin"])
    # old fills carry no trade id: one order's fills in one block share the hash, so add what differs
    fid = str(f["tid"]) if "tid" in f else f"{f['hash']}:{f['oid']}:{f['px']}:{f['sz']}:{f.get('startPosition')}"
    return Fill(
        exchange=venue, fill_id=fid, order_id=str(f["oid"]), symbol=m.symbol if m else f["coin"],
        side=side_of(f["side"]), price=d(f["px"]), size=d(f["sz"]), fee=d(f["fee"]), ts_ms=int(f["time"]),
        client_id=f.get("cloid"), fee_asset=f.get("feeToken", "USDC"), realized_pnl=d(f.get("closedPnl", "0")),
        is_maker=not f.get("crossed", True), liquidation=bool(f.get("liquidation")),
        start_position=d(f["startPosition"]) if f.get("startPosition") is not None else None,
    )


def parse_liquidation(f: dict[str, Any], by_coin: dict[str, Market], venue: str = VENUE) -> Liquidation | None:
    """The liquidation a fill carries (`liquidation: {liquidatedUser, markPx, method}`): its market, size
    and price. The userEvents `liquidation` summary names no market (a USD notional and an account
    value), so a liquidation is read from its fills."""
    if not f.get("liquidation"):
        return None
    m = by_coin.get(f["coin"])
    return Liquidation(venue, m.symbol if m else f["coin"], d(f["sz"]), d(f["px"]), int(f["time"]))


def parse_funding(item: dict[str, Any], by_coin: dict[str, Market], venue: str = VENUE) -> FundingPayment:
    delta = item.get("delta", item)
    m = by_coin.get(delta["coin"])
    return FundingPayment(venue, m.symbol if m else delta["coin"], d(delta["usdc"]), d(delta["fundingRate"]),
                          d(delta["szi"]), int(item["time"]))


def parse_candles(rows: list[dict[str, Any]]) -> list[Candle]:
    return [Candle(int(r["t"]), d(r["o"]), d(r["h"]), d(r["l"]), d(r["c"]), d(r["v"])) for r in rows]


def parse_book(book: dict[str, Any], symbol: str, venue: str = VENUE) -> OrderBook:
    bids, asks = book["levels"]
    return OrderBook(venue, symbol, tuple(BookLevel(d(x["px"]), d(x["sz"])) for x in bids),
                     tuple(BookLevel(d(x["px"]), d(x["sz"])) for x in asks), int(book["time"]))


def parse_mids(mids: dict[str, str], by_coin: dict[str, Market]) -> dict[str, Decimal]:
    return {by_coin[c].symbol: d(px) for c, px in mids.items() if c in by_coin}


def order_from_status(req: OrderRequest, status: Any, now_ms: int, venue: str = VENUE) -> Order:
    """The order as one /exchange order status describes it: resting, filled, or an error (raised)."""
    base = Order(venue, req.symbol, req.side, req.size, req.price, OrderStatus.OPEN, client_id=req.client_id,
                 order_type=req.order_type if req.price is not None or req.order_type is not OrderType.LIMIT
                 else OrderType.MARKET, tif=req.tif, reduce_only=req.reduce_only,
                 trigger_price=req.trigger_price, created_ms=now_ms, updated_ms=now_ms)
    if isinstance(status, dict) and "error" in status:
        raise map_error(str(status["error"]), venue)
    if isinstance(status, dict) and "resting" in status:
        st = OrderStatus.WAITING_TRIGGER if req.trigger_price is not None else OrderStatus.OPEN
        return replace(base, status=st, order_id=str(status["resting"]["oid"]))
    if isinstance(status, dict) and "filled" in status:
        f = status["filled"]
        filled = d(f["totalSz"])
        st = OrderStatus.FILLED if filled >= req.size else OrderStatus.CANCELED
        return replace(base, status=st, order_id=str(f["oid"]), filled=filled, avg_price=d(f["avgPx"]),
                       reason=None if st is OrderStatus.FILLED else "unfilled remainder of an IOC order cancelled")
    raise ParseError(f"unexpected order status {status!r}")


# ---- the non-funding ledger: deposits, withdrawals, transfers --------------------------------------
# Each delta type, read as (kind, its change to the account's equity in USD, fee, asset, the other
# side). Equity counts perp and spot alike, so a move between the two is 0; a fee is part of the move.
_Read = tuple[CashFlowKind, Decimal, Decimal, str, str]


def _fee(delta: dict[str, Any]) -> Decimal:
    """A transfer's fee where it is charged in USDC (a fee in another token is left out: no USD value)."""
    return d(delta.get("fee", "0")) if delta.get("feeToken", "") in ("", "USDC") else Decimal(0)


def _between(delta: dict[str, Any], me: str, value: Decimal, fee: Decimal, kind: CashFlowKind) -> _Read:
    """A move from `user` to `destination`: out of this account when it sent it, in when it received it."""
    sender, receiver = str(delta.get("user", "")).lower(), str(delta.get("destination", "")).lower()
    if me not in (sender, receiver):
        raise ParseError(f"ledger {delta.get('type')!r} between {sender} and {receiver} names neither side as {me}")
    amount = (value if receiver == me else Decimal(0)) - (value + fee if sender == me else Decimal(0))
    other = receiver if sender == me else sender
    return kind, amount, fee, str(delta.get("token", "USDC")), "own account" if other == me else other


_LEDGER: dict[str, Any] = {
    "deposit": lambda x, me: (CashFlowKind.DEPOSIT, d(x["usdc"]), Decimal(0), "USDC", ""),
    "withdraw": lambda x, me: (CashFlowKind.WITHDRAWAL, -d(x["usdc"]) - _fee(x), _fee(x), "USDC", ""),
    "accountClassTransfer": lambda x, me: (CashFlowKind.TRANSFER, Decimal(0), Decimal(0), "USDC",
                                           "spot to perp" if x["toPerp"] else "perp to spot"),
    "internalTransfer": lambda x, me: _between(x, me, d(x["usdc"]), _fee(x), CashFlowKind.TRANSFER),
    "subAccountTransfer": lambda x, me: _between(x, me, d(x["usdc"]), Decimal(0), CashFlowKind.TRANSFER),
    "spotTransfer": lambda x, me: _between(x, me, d(x["usdcValue"]), _fee(x), CashFlowKind.TRANSFER),
    "send": lambda x, me: _between(x, me, d(x["usdcValue"]), _fee(x), CashFlowKind.TRANSFER),
    "vaultCreate": lambda x, me: (CashFlowKind.VAULT, -d(x["usdc"]) - d(x.get("fee", "0")),
                                  d(x.get("fee", "0")), "USDC", str(x.get("vault", ""))),
    "vaultDeposit": lambda x, me: (CashFlowKind.VAULT, -d(x["usdc"]), Decimal(0), "USDC", str(x.get("vault", ""))),
    "vaultWithdraw": lambda x, me: (CashFlowKind.VAULT, d(x["netWithdrawnUsd"]), d(x.get("commission", "0")),
                                    "USDC", str(x.get("vault", ""))),
    "vaultDistribution": lambda x, me: (CashFlowKind.VAULT, d(x["usdc"]), Decimal(0), "USDC",
                                        str(x.get("vault", ""))),
    "vaultLeaderCommission": lambda x, me: (CashFlowKind.VAULT, d(x["usdc"]), Decimal(0), "USDC",
                                            str(x.get("user", ""))),
    "rewardsClaim": lambda x, me: (CashFlowKind.REWARD, d(x["amount"]) if x.get("token", "USDC") == "USDC"
                                   else Decimal(0), Decimal(0), str(x.get("token", "USDC")), ""),
    # tokens granted at a spot deployment: no USD value in the entry (held spot counts at its mark)
    "spotGenesis": lambda x, me: (CashFlowKind.REWARD, Decimal(0), Decimal(0), str(x["token"]),
                                  f"{x['amount']} {x['token']}"),
}
# in the ledger, but trading: the liquidation's fills and the account value already tell it
_LEDGER_TRADING = frozenset({"liquidation"})


def parse_ledger_updates(rows: list[dict[str, Any]], user: str, venue: str = VENUE) -> list[CashFlow]:
    """`userNonFundingLedgerUpdates` of `user`: its deposits, withdrawals and transfers, oldest first.
    A delta type not known here raises ParseError naming it (a ledger read in part would misstate the
    trading PnL)."""
    out = []
    me = user.lower()
    for row in rows:
        delta = row["delta"]
        kind = delta.get("type")
        if kind in _LEDGER_TRADING:
            continue
        read = _LEDGER.get(kind) if isinstance(kind, str) else None
        if read is None:
            raise ParseError(f"unknown Hyperliquid ledger update type {kind!r}")
        try:
            what, amount, fee, asset, note = read(delta, me)
        except (KeyError, ArithmeticError) as exc:
            raise ParseError(f"unreadable Hyperliquid ledger update {kind!r}: {exc!r}") from None
        out.append(CashFlow(venue, what, amount, int(row["time"]), str(row["hash"]), kind, asset, fee, note))
    return sorted(out, key=lambda f: f.ts_ms)  # stable: one millisecond's entries keep the venue's order
