"""Pure parsing of command arguments. Bad input raises UsageError with the usage line and an example."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from exchanges.models import Side

EXCHANGES = ("hyperliquid", "aster", "paper")
ALIASES = {"hl": "hyperliquid", "hyper": "hyperliquid"}
_SYMBOL = re.compile(r"^[A-Za-z0-9]{1,20}(/[A-Za-z0-9]{1,10})?$")


class UsageError(ValueError):
    def __init__(self, problem: str, usage: str, example: str):
        super().__init__(problem)
        self.problem, self.usage, self.example = problem, usage, example


USAGE = {
    "buy": ("/buy [exchange] SYMBOL SIZE [PRICE] [lev=N] [post|ioc] [reduce] [tp=PRICE] [sl=PRICE]",
            "/buy BTC 0.01   /buy BTC $500 95000 lev=3 post"),
    "sell": ("/sell [exchange] SYMBOL SIZE [PRICE] [lev=N] [post|ioc] [reduce] [tp=PRICE] [sl=PRICE]",
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


def positive(text: str, what: str, cmd: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise usage_error(cmd, f"{what} must be a number, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise usage_error(cmd, f"{what} must be a positive number, got {text!r}")
    return value


def symbol_of(text: str, cmd: str) -> str:
    if not _SYMBOL.match(text):
        raise usage_error(cmd, f"{text!r} is not a market symbol (like BTC or PURR/USDC)")
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
        raise usage_error(cmd, f"unexpected {positional[3]!r}")
    symbol = symbol_of(positional[0], cmd)
    size_text = positional[1]
    size = usd = None
    if size_text.startswith("$"):
        usd = positive(size_text[1:], "the USD amount", cmd)
    else:
        size = positive(size_text, "the size", cmd)
    price = positive(positional[2], "the price", cmd) if len(positional) == 3 else None
    seen: set[str] = set()
    kw: dict[str, object] = {}
    for opt in options:
        key, _, value = opt.lower().partition("=")
        if key in seen:
            raise usage_error(cmd, f"{key} given twice")
        seen.add(key)
        if key in ("post", "ioc", "reduce") and not value:
            kw[key] = True
        elif key == "lev" and value:
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise usage_error(cmd, f"lev must be a whole number like lev=5, got {opt!r}")
            kw["leverage"] = int(value)
        elif key in ("tp", "sl") and value:
            kw[key] = positive(value, key, cmd)
        else:
            raise usage_error(cmd, f"unknown option {opt!r} (options: lev=N post ioc reduce tp=PRICE sl=PRICE)")
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
        pct = positive(rest[1].rstrip("%"), "the percent", "close")
        if pct > 100:
            raise usage_error("close", f"the percent must be at most 100, got {rest[1]!r}")
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
    if t.isdigit() or t.lower().startswith("0x"):
        return CancelArgs(exchange, t.lower() if t.lower().startswith("0x") else t, "id")
    return CancelArgs(exchange, symbol_of(t, "cancel"), "symbol")


def parse_lev(args: list[str]) -> tuple[str | None, str, int]:
    exchange, rest = exchange_prefix(args)
    if len(rest) != 2:
        raise usage_error("lev", "give a symbol and a leverage")
    if not rest[1].rstrip("xX").isdigit() or int(rest[1].rstrip("xX")) < 1:
        raise usage_error("lev", f"leverage must be a whole number of at least 1, got {rest[1]!r}")
    return exchange, symbol_of(rest[0], "lev"), int(rest[1].rstrip("xX"))


def parse_symbol(args: list[str], cmd: str) -> tuple[str | None, str]:
    exchange, rest = exchange_prefix(args)
    if len(rest) != 1:
        raise usage_error(cmd, "give one symbol")
    return exchange, symbol_of(rest[0], cmd)


def parse_count(args: list[str], cmd: str, default: int, maximum: int) -> int:
    """An optional whole number of rows/periods: `/trades 20`, `/daily 7`."""
    if not args:
        return default
    if len(args) != 1 or not re.fullmatch(r"[0-9]{1,4}", args[0]) or not 1 <= int(args[0]) <= maximum:
        raise usage_error(cmd, f"give a whole number from 1 to {maximum}")
    return int(args[0])


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
    return exchange, symbol, positive(rest[1], "the price", cmd)
