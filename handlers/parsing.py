"""Pure parsing of command arguments. Bad input raises UsageError with the usage line and an example."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from exchanges.errors import InvalidOrderError
from exchanges.models import Market, Side
from exchanges.precision import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_UP, quantize_step, to_wire
from venues import ALIASES, NAMES

EXCHANGES = NAMES  # the registry's: a venue registered there is a word the parser knows
_SYMBOL = re.compile(r"[A-Za-z0-9]{1,20}(/[A-Za-z0-9]{1,10})?")  # always fullmatch: "$" lets "BTC\n" in


class UsageError(ValueError):
    def __init__(self, problem: str, usage: str, example: str):
        super().__init__(problem)
        self.problem, self.usage, self.example = problem, usage, example


USAGE = {
    "buy": ("/buy [exchange] SYMBOL SIZE|$USD [PRICE] [lev=N] [post|ioc] [reduce] [tp=PRICE] [sl=PRICE]",
            "/buy BTC 0.01   /buy BTC $500 95000 lev=3 post"),
    "sell": ("/sell [exchange] SYMBOL SIZE|$USD [PRICE] [lev=N] [post|ioc] [reduce] [tp=PRICE] [sl=PRICE]",
             "/sell ETH 0.5   /sell ETH $1000 3900 post"),
    "close": ("/close [exchange] SYMBOL [PERCENT]", "/close BTC 50"),
    "cancel": ("/cancel [exchange] ORDER_ID|SYMBOL|all", "/cancel all"),
    "lev": ("/lev [exchange] SYMBOL N", "/lev BTC 5"),
    "price": ("/price SYMBOL", "/price ETH"),
    "funding": ("/funding [exchange] SYMBOL", "/funding BTC"),
    "tp": ("/tp [exchange] SYMBOL PRICE|off", "/tp ETH 3900"),
    "sl": ("/sl [exchange] SYMBOL PRICE|off", "/sl ETH 3300"),
    "chart": ("/chart [exchange] SYMBOL [1m|5m|15m|1h|4h|1d]", "/chart BTC 15m"),
    "book": ("/book [exchange] SYMBOL", "/book ETH"),
    "trades": ("/trades [N]", "/trades 20"),
    "daily": ("/daily [DAYS]", "/daily 7"),
    "weekly": ("/weekly [WEEKS]", "/weekly 4"),
    "monthly": ("/monthly [MONTHS]", "/monthly 3"),
    "profit": ("/profit", "/profit"),
    "performance": ("/performance", "/performance"),
}
CHART_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")


def usage_error(cmd: str, problem: str) -> UsageError:
    usage, example = USAGE[cmd]
    return UsageError(problem, usage, example)


@dataclass(frozen=True)
class OrderArgs:
    exchange: str | None
    symbol: str
    side: Side
    size: Decimal | None  # base units
    usd: Decimal | None  # "$500"
    price: Decimal | None
    leverage: int | None = None
    post: bool = False
    ioc: bool = False
    reduce: bool = False
    tp: Decimal | None = None
    sl: Decimal | None = None


# One number grammar for the whole command language: ASCII digits with at most one dot. No sign, no
# exponent, no separators, no other script's digits (Decimal() and int() read those; a trader's eye may
# not). Bounded, so no later quantize or 28-digit context can overflow (1e30 crashed the preview).
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")  # [0-9] is the ASCII range only
_WHOLE = re.compile(r"[0-9]+")
MAX_INT_DIGITS = 10  # up to 9,999,999,999
MAX_DECIMALS = 10
MAX_LEVERAGE = 1000  # above every venue's cap; /lev refuses what the market does not allow
MAX_ORDER_ID = 20  # digits in a venue order id (Hyperliquid oids, Aster orderIds)
_HEX_ID = re.compile(r"0x[0-9a-f]{1,64}")  # a client order id (cloid)


def shown(text: str, limit: int = 20) -> str:
    """Echo bad input shortened and quoted, so a 5000-character mistake is not sent back whole."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def number(text: str, what: str, cmd: str) -> Decimal:
    """A positive number in plain ASCII decimal notation, exactly as typed, or a UsageError."""
    if "," in text:
        raise usage_error(cmd, f"{what} {shown(text)} has a comma: use a dot for decimals: 0.5"
                               " (and no thousands separators: 1000)")
    if not _PLAIN.fullmatch(text):
        if text[:1] in ("-", "+", "\u2212", "\uff0d", "\ufe63"):
            raise usage_error(cmd, f"{what} must be a positive number, without a sign; got {shown(text)}")
        if re.fullmatch(r"[0-9.]+[eE][-+]?[0-9]+", text):
            raise usage_error(cmd, f"{what} must be written out without an exponent; got {shown(text)}")
        raise usage_error(cmd, f"{what} must be a number, got {shown(text)} (digits 0-9 and a dot, like 0.5)")
    whole, _, decimals = text.partition(".")
    if len(whole) > MAX_INT_DIGITS or len(decimals) > MAX_DECIMALS:
        raise usage_error(cmd, f"{what} {shown(text)} has too many digits (at most {MAX_INT_DIGITS} before"
                               f" the dot and {MAX_DECIMALS} after)")
    value = Decimal(text)
    if value == 0:
        raise usage_error(cmd, f"{what} must be a positive number, got {shown(text)}")
    return value


def whole_number(text: str, maximum: int) -> int | None:
    """A whole number from 1 to `maximum` in ASCII digits (lev=N, counts); None if it is not one."""
    if not _WHOLE.fullmatch(text) or len(text) > len(str(maximum)) or not 1 <= int(text) <= maximum:
        return None
    return int(text)


def symbol_of(text: str, cmd: str) -> str:
    if not _SYMBOL.fullmatch(text):
        raise usage_error(cmd, f"{shown(text)} is not a market symbol (like BTC or PURR/USDC)")
    return text.upper()


def exchange_prefix(args: list[str]) -> tuple[str | None, list[str]]:
    if args:
        name = ALIASES.get(args[0].lower(), args[0].lower())
        if name in EXCHANGES:
            return name, args[1:]
    return None, args


def parse_order(args: list[str], side: Side, cmd: str = "buy") -> OrderArgs:
    exchange, rest = exchange_prefix(args)
    positional = [a for a in rest if "=" not in a and a.lower() not in ("post", "ioc", "reduce")]
    options = [a for a in rest if a not in positional]
    if len(positional) < 2:
        raise usage_error(cmd, "give a symbol and a size")
    if len(positional) > 3:
        raise usage_error(cmd, f"unexpected {shown(positional[3])}")
    symbol = symbol_of(positional[0], cmd)
    size_text = positional[1]
    size = usd = None
    if size_text.startswith("$"):
        usd = number(size_text[1:], "the USD amount", cmd)
    else:
        size = number(size_text, "the size", cmd)
    price = number(positional[2], "the price", cmd) if len(positional) == 3 else None
    seen: set[str] = set()
    kw: dict[str, object] = {}
    for opt in options:
        key, _, value = opt.partition("=")
        key = key.lower() if key.isascii() else key  # no Unicode case folding into an option name
        if key in ("post", "ioc", "reduce", "lev", "tp", "sl") and key in seen:
            raise usage_error(cmd, f"{key} given twice")
        seen.add(key)
        if key in ("post", "ioc", "reduce") and not value:
            kw[key] = True
        elif key == "lev" and value:
            kw["leverage"] = whole_number(value, MAX_LEVERAGE)
            if kw["leverage"] is None:
                raise usage_error(cmd, f"lev must be a whole number from 1 to {MAX_LEVERAGE} like lev=5,"
                                       f" got {shown(opt)}")
        elif key in ("tp", "sl") and value:
            kw[key] = number(value, key, cmd)
        else:
            raise usage_error(cmd, f"unknown option {shown(opt)} (options: lev=N post ioc reduce tp=PRICE sl=PRICE)")
    if kw.get("post") and kw.get("ioc"):
        raise usage_error(cmd, "post and ioc cannot be combined")
    if kw.get("post") and price is None:
        raise usage_error(cmd, "post-only needs a limit price")
    return OrderArgs(exchange, symbol, side, size, usd, price, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CloseArgs:
    exchange: str | None
    symbol: str
    percent: Decimal


def parse_close(args: list[str]) -> CloseArgs:
    exchange, rest = exchange_prefix(args)
    if not 1 <= len(rest) <= 2:
        raise usage_error("close", "give a symbol and optionally a percent")
    pct = Decimal(100)
    if len(rest) == 2:
        pct = number(rest[1].removesuffix("%"), "the percent", "close")
        if pct > 100:
            raise usage_error("close", f"the percent must be at most 100, got {shown(rest[1])}")
    return CloseArgs(exchange, symbol_of(rest[0], "close"), pct)


@dataclass(frozen=True)
class CancelArgs:
    exchange: str | None
    target: str  # "all", a symbol, or an order id
    kind: str  # "all" | "symbol" | "id"


def parse_cancel(args: list[str]) -> CancelArgs:
    exchange, rest = exchange_prefix(args)
    if len(rest) != 1:
        raise usage_error("cancel", "give one order id, a symbol, or all")
    t = rest[0]
    if t.lower() == "all":
        return CancelArgs(exchange, "all", "all")
    if _WHOLE.fullmatch(t) and len(t) <= MAX_ORDER_ID:
        return CancelArgs(exchange, t, "id")
    if t.isascii() and _HEX_ID.fullmatch(t.lower()):
        return CancelArgs(exchange, t.lower(), "id")
    if not _SYMBOL.fullmatch(t):
        raise usage_error("cancel", f"{shown(t)} is not an order id (digits 0-9, or 0x…), a symbol or all")
    return CancelArgs(exchange, t.upper(), "symbol")


def parse_lev(args: list[str]) -> tuple[str | None, str, int]:
    exchange, rest = exchange_prefix(args)
    if len(rest) != 2:
        raise usage_error("lev", "give a symbol and a leverage")
    leverage = whole_number(rest[1].removesuffix("x").removesuffix("X"), MAX_LEVERAGE)
    if leverage is None:
        raise usage_error("lev", f"leverage must be a whole number from 1 to {MAX_LEVERAGE} like 5,"
                                 f" got {shown(rest[1])}")
    return exchange, symbol_of(rest[0], "lev"), leverage


def parse_symbol(args: list[str], cmd: str) -> tuple[str | None, str]:
    exchange, rest = exchange_prefix(args)
    if len(rest) != 1:
        raise usage_error(cmd, "give one symbol")
    return exchange, symbol_of(rest[0], cmd)


def parse_count(args: list[str], cmd: str, default: int, maximum: int) -> int:
    """An optional whole number of rows/periods: `/trades 20`, `/daily 7`."""
    if not args:
        return default
    count = whole_number(args[0], maximum) if len(args) == 1 else None
    if count is None:
        raise usage_error(cmd, f"give a whole number from 1 to {maximum}, got {shown(' '.join(args))}")
    return count


def parse_chart(args: list[str]) -> tuple[str | None, str, str]:
    """`/chart [exchange] SYMBOL [interval]` -> (exchange, symbol, interval); 1h by default."""
    exchange, rest = exchange_prefix(args)
    if not 1 <= len(rest) <= 2:
        raise usage_error("chart", "give a symbol and optionally an interval")
    interval = rest[1].lower() if len(rest) == 2 else "1h"
    if interval not in CHART_INTERVALS:
        raise usage_error("chart", f"the interval must be one of {' '.join(CHART_INTERVALS)}")
    return exchange, symbol_of(rest[0], "chart"), interval


def parse_trigger(args: list[str], cmd: str) -> tuple[str | None, str, Decimal | None]:
    """`/tp [exchange] SYMBOL PRICE|off` -> (exchange, symbol, price); None = remove it."""
    exchange, rest = exchange_prefix(args)
    if len(rest) != 2:
        raise usage_error(cmd, "give a symbol and a price (or off)")
    symbol = symbol_of(rest[0], cmd)
    if rest[1].lower() == "off":
        return exchange, symbol, None
    return exchange, symbol, number(rest[1], "the price", cmd)


def exact_on(market: Market, args: OrderArgs, cmd: str) -> None:
    """The typed size and prices are what is sent: refuse any the market's rules would change (the
    preview would round them: sizes down to the lot, prices passively), naming the step and the nearest
    valid values. A size in $USD is converted and rounded, as the text said dollars."""
    lot = market.lot_size
    if args.size is not None and quantize_step(args.size, lot, ROUND_DOWN) != args.size:
        below, above = quantize_step(args.size, lot, ROUND_DOWN), quantize_step(args.size, lot, ROUND_UP)
        hint = f"{to_wire(below)} or {to_wire(above)}?" if below > 0 else f"the smallest is {to_wire(lot)}"
        raise usage_error(cmd, f"{market.symbol} sizes go in steps of {to_wire(lot)}: {to_wire(args.size)}"
                               f" is not one ({hint})")
    for label, price, side in (("", args.price, args.side), ("tp=", args.tp, args.side.opposite),
                               ("sl=", args.sl, args.side.opposite)):
        if price is not None:
            exact_price(market, price, side, cmd, label)


def exact_price(market: Market, price: Decimal, side: Side, cmd: str, label: str = "") -> None:
    """A typed price the market's rules would change is refused (also for /tp and /sl)."""
    try:
        same = market.round_price_passive(price, side) == price  # what the preview does to it
    except InvalidOrderError:  # rounds to zero
        same = False
    if not same:
        raise usage_error(cmd, _price_problem(market, price, label))


def _price_problem(market: Market, price: Decimal, label: str) -> str:
    above = market.round_price(price, ROUND_CEILING)
    try:
        hint = f"{to_wire(market.round_price(price, ROUND_FLOOR))} or {to_wire(above)}?"
    except InvalidOrderError:
        hint = f"the smallest is {to_wire(above)}"
    if market.tick_size is not None:
        step = market.tick_size
        rule = ""
    else:
        assert market.price_sig_figs is not None
        decimals = max(0, min(market.price_sig_figs - price.adjusted() - 1, market.price_decimals or 0))
        step = Decimal(1).scaleb(-decimals)
        rule = f" at this price ({market.price_sig_figs} significant figures)"
    return (f"{market.symbol} prices go in steps of {to_wire(step)}{rule}: {label}{to_wire(price)} is not one"
            f" ({hint})")


def at_least_a_lot(market: Market, usd: Decimal, size: Decimal, cmd: str) -> None:
    """A $USD amount that buys less than one lot is refused at once, not previewed as zeros."""
    if quantize_step(size, market.lot_size, ROUND_DOWN) <= 0:
        raise usage_error(cmd, f"${to_wire(usd)} is less than the smallest {market.symbol} size,"
                               f" {to_wire(market.lot_size)}")


def too_little_to_close(percent: Decimal, why: str) -> UsageError:
    return usage_error("close", f"{to_wire(percent)}% is too little to close: {why}")
