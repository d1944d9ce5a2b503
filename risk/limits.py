"""Pre-trade checks: small pure functions, each with a reason code and a sentence for the trader.

A check returns None (pass) or a Refusal. At a limit is allowed; past it is refused. Orders that
only reduce a position pass every exposure, loss, rate and state check: they only reduce risk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from exchanges.models import Market, OrderRequest, OrderType, Position
from exchanges.precision import to_wire
from risk.events import TradingState

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Limits:
    min_order_usd: Decimal
    max_order_usd: Decimal
    max_leverage: int
    max_position_usd: Decimal
    position_fraction: Decimal
    max_positions_per_symbol: int
    max_total_positions: int
    correlation_limit: Decimal
    price_band_percent: Decimal
    max_data_age_ms: int
    max_orders_per_minute: int


@dataclass(frozen=True, slots=True)
class LossStatus:
    daily_loss: Decimal  # positive = loss since day start
    daily_limit: Decimal
    drawdown_percent: Decimal
    drawdown_limit: Decimal
    equity_known: bool = True

    @property
    def breached(self) -> str | None:
        if not self.equity_known:
            return "equity_unknown"
        if self.daily_loss > self.daily_limit:
            return "daily_loss"
        if self.drawdown_percent > self.drawdown_limit:
            return "drawdown"
        return None


@dataclass(frozen=True, slots=True)
class CheckContext:
    request: OrderRequest  # already rounded to the market's rules
    market: Market | None
    state: TradingState
    reducing: bool  # only reduces an existing position, never flips it
    price: Decimal  # expected fill price (limit price, or estimate for market orders)
    mark: Decimal
    leverage: int
    position_before: Decimal  # signed size on this market and venue
    equity: Decimal | None  # total across venues; None = unknown
    available_margin: Decimal
    positions: tuple[Position, ...]  # open positions on every venue
    data_age_ms: int
    orders_last_minute: int
    loss: LossStatus
    correlations: dict[str, Decimal]  # symbol of an open same-direction position -> correlation
    limits: Limits

    @property
    def notional(self) -> Decimal:
        return self.price * self.request.size

    @property
    def position_after(self) -> Decimal:
        return self.position_before + self.request.size * self.request.side.sign

    @property
    def margin_required(self) -> Decimal:
        if self.reducing:
            return ZERO
        increase = abs(self.position_after) - abs(self.position_before) if not self._flips else abs(self.position_after)
        return max(ZERO, increase) * self.price / self.leverage

    @property
    def _flips(self) -> bool:
        return self.position_before != 0 and (self.position_before > 0) != (self.position_after > 0)

    @property
    def opens_new_position(self) -> bool:
        return self.position_before == 0 and self.position_after != 0


def _usd(v: Decimal) -> str:
    return f"${v.quantize(Decimal('0.01')):,.2f}"


def price_text(v: Decimal) -> str:
    """A price as the trader typed it or the venue shows it, with separators (refusals are read on a phone)."""
    return f"{Decimal(to_wire(v)):,f}"


def check_state(c: CheckContext) -> Refusal | None:
    if c.state is TradingState.HALTED:
        return Refusal("HALTED", "Trading is halted (kill switch). Only closes and cancels are accepted; /resume to"
                                 " trade again.")
    if c.state is TradingState.REDUCING:
        return Refusal("REDUCING", "Trading is in reduce-only mode: only orders that reduce a position are accepted.")
    return None


def check_market(c: CheckContext) -> Refusal | None:
    if c.market is None:
        return Refusal("UNKNOWN_MARKET", f"{c.request.symbol} is not a market on {c.request.exchange}.")
    if not c.market.tradable:
        return Refusal("NOT_TRADABLE", f"{c.request.symbol} on {c.request.exchange} is not tradable (delisted).")
    return None


def check_venue_min_notional(c: CheckContext) -> Refusal | None:
    if c.market is not None and c.notional < c.market.min_notional:
        return Refusal("MIN_NOTIONAL", f"Order value {_usd(c.notional)} is below the venue minimum of"
                                       f" {_usd(c.market.min_notional)}.")
    return None


def check_order_size(c: CheckContext) -> Refusal | None:
    if c.notional < c.limits.min_order_usd:
        return Refusal("ORDER_TOO_SMALL", f"Order value {_usd(c.notional)} is below min_order_size"
                                          f" {_usd(c.limits.min_order_usd)}.")
    if c.notional > c.limits.max_order_usd:
        return Refusal("ORDER_TOO_LARGE", f"Order value {_usd(c.notional)} is above max_order_size"
                                          f" {_usd(c.limits.max_order_usd)}.")
    return None


def check_leverage(c: CheckContext) -> Refusal | None:
    cap = min(c.limits.max_leverage, c.market.max_leverage if c.market else c.limits.max_leverage)
    if c.leverage > cap:
        return Refusal("LEVERAGE", f"Leverage {c.leverage}x is above the maximum of {cap}x.")
    return None


def check_position_size(c: CheckContext) -> Refusal | None:
    after = abs(c.position_after) * c.price
    if after > c.limits.max_position_usd:
        return Refusal("POSITION_SIZE", f"The position would be {_usd(after)}, above max_position_size_usd"
                                        f" {_usd(c.limits.max_position_usd)}.")
    return None


def check_position_fraction(c: CheckContext) -> Refusal | None:
    if c.equity is None:
        return Refusal("EQUITY_UNKNOWN", "Account equity is unknown right now, so position size cannot be checked.")
    after = abs(c.position_after) * c.price
    cap = c.equity * c.limits.position_fraction
    if after > cap:
        return Refusal("POSITION_FRACTION", f"The position would be {_usd(after)}, above position_size_limit"
                                            f" {to_wire(c.limits.position_fraction)} of equity ({_usd(cap)}).")
    return None


def check_position_count(c: CheckContext) -> Refusal | None:
    if not c.opens_new_position:
        return None
    same = sum(1 for p in c.positions if p.symbol == c.request.symbol and p.size != 0)
    if same >= c.limits.max_positions_per_symbol:
        return Refusal("MAX_POSITIONS_SYMBOL", f"Already {same} open {c.request.symbol} position(s); the limit is"
                                               f" {c.limits.max_positions_per_symbol}.")
    total = sum(1 for p in c.positions if p.size != 0)
    if total >= c.limits.max_total_positions:
        return Refusal("MAX_POSITIONS", f"Already {total} open positions; the limit is {c.limits.max_total_positions}.")
    return None


def check_correlation(c: CheckContext) -> Refusal | None:
    for symbol, corr in sorted(c.correlations.items()):
        if corr > c.limits.correlation_limit:
            return Refusal("CORRELATION", f"{c.request.symbol} moves with your open {symbol} position (correlation"
                                          f" {corr:.2f} > correlation_limit {to_wire(c.limits.correlation_limit)}).")
    return None


def check_price_band(c: CheckContext) -> Refusal | None:
    """A fat finger hurts only through the market: a buy limit far above the mark or a sell far below it
    fills at once at a bad price; one resting on its passive side is no risk."""
    if c.request.price is None or c.mark <= 0:
        return None
    through = (c.request.price - c.mark) * c.request.side.sign / c.mark * 100
    if through > c.limits.price_band_percent:
        return Refusal("PRICE_BAND", f"Limit {price_text(c.request.price)} is {through:.2f}% through mark"
                                     f" {price_text(c.mark)} (band {to_wire(c.limits.price_band_percent)}%):"
                                     " it would fill at once at that price.")
    return None


def _attached(c: CheckContext, price: Decimal | None, favour: int, code: str, name: str) -> Refusal | None:
    """A TP (favour +1) or SL (favour -1) attached to an order must lie beyond the entry on its side, else
    it fires as soon as the order fills (a stop: a loss plus two fees at once). The entry is the limit
    price or the expected fill; a market order fills at the market now, so the mark counts too."""
    if price is None:
        return None
    r = c.request
    refs = [c.price] + ([c.mark] if r.price is None and c.mark > 0 else [])
    if all((price - ref) * r.side.sign * favour > 0 for ref in refs):
        return None
    where = f"entry {price_text(c.price)}" + (f" (mark {price_text(c.mark)})" if len(refs) > 1 else "")
    rule = "above" if r.side.sign * favour > 0 else "below"
    return Refusal(code, f"{name} {price_text(price)} is not {rule} the {where}: on a {r.side.value} it goes {rule}"
                         " the entry, or it fires at once.")


def check_take_profit(c: CheckContext) -> Refusal | None:
    return _attached(c, c.request.take_profit, +1, "TP_SIDE", "Take profit")


def check_stop_loss(c: CheckContext) -> Refusal | None:
    return _attached(c, c.request.stop_loss, -1, "SL_SIDE", "Stop loss")


def check_trigger(c: CheckContext) -> Refusal | None:
    """A standalone take profit / stop loss that would fire the moment it is placed protects nothing."""
    r = c.request
    if r.order_type not in (OrderType.TAKE_PROFIT, OrderType.STOP) or r.trigger_price is None or c.mark <= 0:
        return None
    # it closes with `side`: a take profit waits for the market to move against that side's price, a stop for
    # the market to move through it
    beyond = (r.trigger_price - c.mark) * r.side.sign
    if r.order_type is OrderType.TAKE_PROFIT and beyond >= 0:
        rule = "above" if r.side.sign < 0 else "below"
        return Refusal("TP_SIDE", f"Take profit {price_text(r.trigger_price)} is not {rule} the mark"
                                  f" {price_text(c.mark)}: it would fire at once.")
    if r.order_type is OrderType.STOP and beyond <= 0:
        rule = "below" if r.side.sign < 0 else "above"
        return Refusal("SL_SIDE", f"Stop loss {price_text(r.trigger_price)} is not {rule} the mark"
                                  f" {price_text(c.mark)}: it would fire at once.")
    return None


def check_reduce_only(c: CheckContext) -> Refusal | None:
    r = c.request
    if r.reduce_only and (c.position_before == 0 or c.position_before * r.side.sign > 0):
        held = "no position" if c.position_before == 0 else ("a long" if c.position_before > 0 else "a short")
        return Refusal("NOTHING_TO_REDUCE", f"Reduce-only {r.side.value}, but {r.symbol} on {r.exchange} holds"
                                            f" {held}: it has nothing to reduce.")
    return None


def check_data_age(c: CheckContext) -> Refusal | None:
    if c.data_age_ms > c.limits.max_data_age_ms:
        return Refusal("STALE_DATA", f"Market data is {c.data_age_ms / 1000:.1f}s old (limit"
                                     f" {c.limits.max_data_age_ms / 1000:.1f}s); try again when the feed is back.")
    return None


def check_order_rate(c: CheckContext) -> Refusal | None:
    if c.orders_last_minute >= c.limits.max_orders_per_minute:
        return Refusal("ORDER_RATE", f"{c.orders_last_minute} orders in the last minute; the limit is"
                                     f" {c.limits.max_orders_per_minute}.")
    return None


def check_margin(c: CheckContext) -> Refusal | None:
    need = c.margin_required
    if need > c.available_margin:
        return Refusal("INSUFFICIENT_MARGIN", f"Needs {_usd(need)} of margin; {_usd(c.available_margin)}"
                                              " is available.")
    return None


def check_loss(c: CheckContext) -> Refusal | None:
    kind = c.loss.breached
    if kind == "daily_loss":
        return Refusal("DAILY_LOSS", f"Daily loss {_usd(c.loss.daily_loss)} is past daily_loss_limit"
                                     f" {_usd(c.loss.daily_limit)}.")
    if kind == "drawdown":
        return Refusal("DRAWDOWN", f"Drawdown {c.loss.drawdown_percent:.2f}% is past max_drawdown_percent"
                                   f" {to_wire(c.loss.drawdown_limit)}%.")
    if kind == "equity_unknown":
        return Refusal("EQUITY_UNKNOWN", "Equity has been unknown for too long; new exposure is blocked until the"
                                         " venues answer again.")
    return None


Check = Callable[[CheckContext], Refusal | None]
# always applied (a close into a market that does not exist is still refused)
ALWAYS: tuple[Check, ...] = (check_market, check_reduce_only, check_take_profit, check_stop_loss, check_trigger)
# skipped for orders that only reduce a position
EXPOSURE: tuple[Check, ...] = (
    check_state, check_loss, check_venue_min_notional, check_order_size, check_leverage, check_position_size,
    check_position_fraction, check_position_count, check_correlation, check_price_band, check_data_age,
    check_order_rate, check_margin,
)


def run_checks(c: CheckContext) -> list[Refusal]:
    out = [r for chk in ALWAYS if (r := chk(c))]
    if out or c.reducing:
        return out
    return [r for chk in EXPOSURE if (r := chk(c))]
