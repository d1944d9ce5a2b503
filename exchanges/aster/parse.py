"""Pure parsers of Aster REST payloads (futures and spot) into the domain model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchanges.models import (
    AccountBalances,
    Balance,
    BookLevel,
    Candle,
    CashFlow,
    CashFlowKind,
    Fill,
    FundingPayment,
    FundingRate,
    Market,
    MarketKind,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)

VENUE = "aster"


def _filters(sym: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["filterType"]: f for f in sym.get("filters", [])}


def parse_markets(exchange_info: dict[str, Any], kind: MarketKind, venue: str = VENUE,
                  max_leverage: dict[str, int] | None = None) -> dict[str, Market]:
    """`/fapi/v1/exchangeInfo` (perps: the trader types the base, "BTC") or `/api/v1/exchangeInfo`
    (spot: "BTC/USDT"). Filters drive rounding; pricePrecision/quantityPrecision are ignored as the
    docs say they are not the tick and the step. exchangeInfo carries no leverage cap: it comes from
    `/fapi/v1/leverageBracket` as `max_leverage` (native symbol -> cap); unknown caps count as 1x,
    so nothing is allowed that the venue has not said it allows."""
    caps = max_leverage or {}
    out: dict[str, Market] = {}
    for s in exchange_info["symbols"]:
        f = _filters(s)
        price, lot = f["PRICE_FILTER"], f["LOT_SIZE"]
        notional = f.get("MIN_NOTIONAL", {})
        min_notional = notional.get("notional") or notional.get("minNotional") or "0"
        base, quote = s["baseAsset"], s["quoteAsset"]
        symbol = base if kind is MarketKind.PERP else f"{base}/{quote}"
        if kind is MarketKind.PERP and s.get("contractType", "PERPETUAL") != "PERPETUAL":
            continue
        out[symbol] = Market(
            exchange=venue, symbol=symbol, kind=kind, base=base, quote=quote, native=s["symbol"],
            lot_size=Decimal(lot["stepSize"]), tick_size=Decimal(price["tickSize"]),
            min_size=Decimal(lot.get("minQty", "0")), max_size=Decimal(lot["maxQty"]) if "maxQty" in lot else None,
            min_notional=Decimal(min_notional), max_leverage=caps.get(s["symbol"], 1) if kind is MarketKind.PERP else 1,
            tradable=s.get("status") == "TRADING",
        )
    return out


# ---- the venue's words, mapped ----
STATUS = {"NEW": OrderStatus.OPEN, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED, "FILLED": OrderStatus.FILLED,
          "CANCELED": OrderStatus.CANCELED, "EXPIRED": OrderStatus.CANCELED, "REJECTED": OrderStatus.REJECTED,
          "NEW_INSURANCE": OrderStatus.FILLED, "NEW_ADL": OrderStatus.FILLED}
TYPES = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET, "STOP": OrderType.STOP,
         "STOP_MARKET": OrderType.STOP, "TAKE_PROFIT": OrderType.TAKE_PROFIT,
         "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT, "TRAILING_STOP_MARKET": OrderType.STOP}
TRIGGERS = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"})
TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.IOC, "GTX": TimeInForce.ALO}
ZERO = Decimal(0)
Natives = dict[str, Market]  # native symbol ("BTCUSDT") -> the market of one kind


def natives(markets: dict[str, Market], kind: MarketKind) -> Natives:
    return {m.native: m for m in markets.values() if m.kind is kind}


def rate_limits(exchange_info: dict[str, Any]) -> tuple[int | None, int | None]:
    """exchangeInfo's per-minute REQUEST_WEIGHT and ORDERS limits (None where it states none)."""
    per_minute: dict[str, int] = {}
    for r in exchange_info.get("rateLimits", []):
        if r.get("interval") == "MINUTE" and int(r.get("intervalNum", 1)) == 1:
            per_minute[str(r.get("rateLimitType"))] = int(r["limit"])
    return per_minute.get("REQUEST_WEIGHT"), per_minute.get("ORDERS")


def max_leverage(brackets: list[dict[str, Any]]) -> dict[str, int]:
    """`leverageBracket`: the highest initial leverage of each symbol's brackets."""
    return {b["symbol"]: max(int(t["initialLeverage"]) for t in b["brackets"]) for b in brackets if b.get("brackets")}


def _dec(raw: Any, default: str = "0") -> Decimal:
    return Decimal(str(raw)) if raw not in (None, "") else Decimal(default)


def _symbol(raw: str, by_native: Natives) -> str:
    m = by_native.get(raw)
    return m.symbol if m else raw


# ---- account ----
def parse_balances(account: dict[str, Any], spot: dict[str, Any] | None, marks: dict[str, Decimal],
                   ts_ms: int, venue: str = VENUE) -> AccountBalances:
    """Futures `/fapi/v4/account` (or v3 accountWithJoinMargin) and spot `/api/v3/account`. The futures
    account's totals are in USD; spot assets are valued at their USDT market's mark (USDT at 1)."""
    spot_rows: list[Balance] = []
    for b in (spot or {}).get("balances", []):
        total = _dec(b.get("free")) + _dec(b.get("locked"))
        if total == 0:
            continue
        asset = b["asset"]
        px = Decimal(1) if asset in ("USDT", "USD") else marks.get(asset)
        spot_rows.append(Balance(asset, total, _dec(b.get("free")), total * px if px is not None else None))
    return AccountBalances(venue, account_value=_dec(account.get("totalMarginBalance")),
                           margin_used=_dec(account.get("totalInitialMargin")),
                           withdrawable=_dec(account.get("availableBalance")), spot=tuple(spot_rows), ts_ms=ts_ms)


def hedge_mode(risk: list[dict[str, Any]]) -> bool:
    return any(p.get("positionSide") in ("LONG", "SHORT") for p in risk)


def parse_positions(risk: list[dict[str, Any]], by_native: Natives, venue: str = VENUE) -> list[Position]:
    """`positionRisk` rows with a position (one-way mode: positionSide BOTH, signed positionAmt)."""
    out = []
    for p in risk:
        size = _dec(p.get("positionAmt"))
        if size == 0:
            continue
        liq = _dec(p.get("liquidationPrice"))
        mark = _dec(p.get("markPrice"))
        lev = int(_dec(p.get("leverage"), "1"))
        isolated = str(p.get("marginType", "cross")).lower() == "isolated"
        margin = _dec(p.get("isolatedMargin")) if isolated else abs(size) * mark / max(lev, 1)
        out.append(Position(venue, _symbol(p["symbol"], by_native), size, _dec(p.get("entryPrice")), mark,
                            _dec(p.get("unRealizedProfit")), lev, margin, liq if liq > 0 else None,
                            "isolated" if isolated else "cross"))
    return out


# ---- orders and fills ----
def order_status(raw_status: str, raw_type: str) -> OrderStatus:
    status = STATUS.get(raw_status)
    if status is None:
        raise ValueError(f"unknown order status {raw_status!r}")
    if status is OrderStatus.OPEN and raw_type in TRIGGERS:
        return OrderStatus.WAITING_TRIGGER
    return status


def parse_order(o: dict[str, Any], by_native: Natives, venue: str = VENUE) -> Order:
    """An order as REST answers it (futures and spot: order, openOrders, cancel)."""
    kind = str(o.get("origType") or o.get("type"))
    filled = _dec(o.get("executedQty"))
    quote = _dec(o.get("cumQuote", o.get("cummulativeQuoteQty")))
    avg = _dec(o.get("avgPrice"))
    if avg == 0 and filled > 0 and quote > 0:
        avg = quote / filled
    price = _dec(o.get("price"))
    stop = _dec(o.get("stopPrice"))
    status = order_status(str(o["status"]), kind)
    return Order(venue, _symbol(o["symbol"], by_native), Side(str(o["side"]).lower()), _dec(o.get("origQty")),
                 price if price > 0 else None, status, order_id=str(o["orderId"]),
                 client_id=o.get("clientOrderId") or None, order_type=TYPES.get(kind, OrderType.LIMIT),
                 tif=TIFS.get(str(o.get("timeInForce")), TimeInForce.GTC), reduce_only=bool(o.get("reduceOnly")),
                 filled=filled, avg_price=avg if avg > 0 else None, trigger_price=stop if stop > 0 else None,
                 created_ms=int(o.get("time") or o.get("transactTime") or o.get("updateTime") or 0),
                 updated_ms=int(o.get("updateTime") or o.get("transactTime") or 0),
                 reason="expired" if o["status"] == "EXPIRED" else None)


def fill_id(native: str, trade_id: Any, spot: bool) -> str:
    """Trade ids count per symbol (and per market kind): the dedupe key names both."""
    return f"{'spot:' if spot else ''}{native}:{trade_id}"


def parse_trade(t: dict[str, Any], by_native: Natives, *, spot: bool, venue: str = VENUE) -> Fill:
    """`userTrades` (futures and spot). Commission is what was paid (the docs' examples show
    it with either sign; the venue charges it)."""
    side = Side(str(t["side"]).lower()) if "side" in t else (Side.BUY if t.get("isBuyer") else Side.SELL)
    return Fill(venue, fill_id(t["symbol"], t["id"], spot), str(t["orderId"]), _symbol(t["symbol"], by_native),
                side, _dec(t["price"]), _dec(t["qty"]), abs(_dec(t.get("commission"))), int(t["time"]),
                fee_asset=str(t.get("commissionAsset") or "USDT"), realized_pnl=_dec(t.get("realizedPnl")),
                is_maker=bool(t.get("maker", t.get("isMaker", False))))


def parse_funding_rate(premium: dict[str, Any], symbol: str, interval_hours: int, venue: str = VENUE) -> FundingRate:
    nxt = int(premium.get("nextFundingTime") or 0)
    return FundingRate(venue, symbol, _dec(premium.get("lastFundingRate")), interval_hours, next_ms=nxt or None,
                       mark=_dec(premium.get("markPrice")))


def funding_intervals(info: list[dict[str, Any]]) -> dict[str, int]:
    return {r["symbol"]: int(r.get("fundingIntervalHours") or 8) for r in info}


def parse_income(rows: list[dict[str, Any]], by_native: Natives, venue: str = VENUE,
                 ) -> tuple[list[FundingPayment], list[CashFlow]]:
    """`income`: FUNDING_FEE rows are funding payments; TRANSFER and the bonuses are cash flows. Trading
    rows (REALIZED_PNL, COMMISSION) are the fills' own and are left out. Aster's income rows do not say
    the rate or the position, so those are 0 here."""
    funding: list[FundingPayment] = []
    flows: list[CashFlow] = []
    for r in rows:
        kind, amount, ts = str(r.get("incomeType")), _dec(r.get("income")), int(r["time"])
        if kind == "FUNDING_FEE":
            funding.append(FundingPayment(venue, _symbol(str(r.get("symbol", "")), by_native), amount, ZERO, ZERO, ts))
        elif kind in CASH_KINDS:
            flow_kind = CASH_KINDS[kind] if kind != "TRANSFER" else (
                CashFlowKind.DEPOSIT if amount > 0 else CashFlowKind.WITHDRAWAL)
            flows.append(CashFlow(venue, flow_kind, amount, ts, str(r.get("tranId", "")), venue_kind=kind,
                                  asset=str(r.get("asset", "USDT")), note=str(r.get("info", ""))))
    return funding, flows


CASH_KINDS = {"TRANSFER": CashFlowKind.TRANSFER, "WELCOME_BONUS": CashFlowKind.REWARD,
              "MARKET_MERCHANT_RETURN_REWARD": CashFlowKind.REWARD, "INSURANCE_CLEAR": CashFlowKind.TRANSFER}


# ---- market data ----
def parse_depth(raw: dict[str, Any], symbol: str, ts_ms: int, venue: str = VENUE) -> OrderBook:
    def side(rows: list[list[str]]) -> tuple[BookLevel, ...]:
        return tuple(BookLevel(Decimal(p), Decimal(q)) for p, q in rows if Decimal(q) > 0)

    return OrderBook(venue, symbol, side(raw.get("bids", raw.get("b", []))), side(raw.get("asks", raw.get("a", []))),
                     int(raw.get("T") or raw.get("E") or ts_ms))


def parse_klines(rows: list[list[Any]]) -> list[Candle]:
    return [Candle(int(r[0]), Decimal(r[1]), Decimal(r[2]), Decimal(r[3]), Decimal(r[4]), Decimal(r[5])) for r in rows]
