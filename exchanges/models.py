"""Domain model: frozen dataclasses with Decimal money and int-millisecond UTC timestamps."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from exchanges.errors import InvalidOrderError
from exchanges.precision import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ZERO,
    is_multiple,
    quantize_step,
    round_sig_figs,
    to_wire,
)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class MarketKind(StrEnum):
    PERP = "perp"
    SPOT = "spot"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP = "stop"  # trigger: stop loss
    TAKE_PROFIT = "take_profit"  # trigger: take profit


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    ALO = "alo"  # post-only


CANDLE_INTERVAL_MS: dict[str, int] = {
    "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000,
}


class OrderStatus(StrEnum):
    PENDING = "pending"  # intent stored, not yet acknowledged by the venue
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    WAITING_TRIGGER = "waiting_trigger"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # sent, outcome not known yet: must be looked up by client id

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED})


@dataclass(frozen=True, slots=True)
class Market:
    """A tradable market and the venue's precision rules, which drive rounding and validation.

    Price rule: `tick_size` (multiple of a tick) or `price_sig_figs` + `price_decimals`
    (Hyperliquid). Size rule: multiple of `lot_size`.
    """

    exchange: str
    symbol: str  # what the trader types: "BTC", "PURR/USDC", "BTC/USDT"
    kind: MarketKind
    base: str
    quote: str
    native: str  # venue name: "BTC", "@107", "BTCUSDT"
    lot_size: Decimal
    tick_size: Decimal | None = None
    price_sig_figs: int | None = None
    price_decimals: int | None = None
    min_size: Decimal = ZERO
    max_size: Decimal | None = None
    min_notional: Decimal = ZERO
    max_leverage: int = 1
    asset_id: int | None = None
    tradable: bool = True

    def __post_init__(self) -> None:
        if self.tick_size is None and self.price_sig_figs is None:
            raise ValueError(f"{self.symbol}: a market needs tick_size or price_sig_figs")
        if self.lot_size <= 0:
            raise ValueError(f"{self.symbol}: lot_size must be positive")

    @property
    def key(self) -> tuple[str, str]:
        return (self.exchange, self.symbol)

    def round_price(self, price: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        if price <= 0:
            raise InvalidOrderError(f"{self.symbol}: price must be positive, got {to_wire(price)}")
        if self.tick_size is not None:
            out = quantize_step(price, self.tick_size, rounding)
        else:
            assert self.price_sig_figs is not None
            out = round_sig_figs(price, self.price_sig_figs, self.price_decimals or 0, rounding)
        if out <= 0:
            raise InvalidOrderError(f"{self.symbol}: price {to_wire(price)} rounds to zero")
        return out

    def round_price_passive(self, price: Decimal, side: Side) -> Decimal:
        """Round so a limit never becomes more aggressive than asked: buys down, sells up."""
        return self.round_price(price, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)

    def round_price_aggressive(self, price: Decimal, side: Side) -> Decimal:
        """Round a slippage cap outwards so a market order keeps its full tolerance."""
        return self.round_price(price, ROUND_CEILING if side is Side.BUY else ROUND_FLOOR)

    def is_valid_price(self, price: Decimal) -> bool:
        if price <= 0:
            return False
        if self.tick_size is not None:
            return is_multiple(price, self.tick_size)
        try:
            return self.round_price(price) == price
        except InvalidOrderError:
            return False

    def round_size(self, size: Decimal) -> Decimal:
        """Round a size down to the lot (never trade more than asked); refuse zero."""
        if size <= 0:
            raise InvalidOrderError(f"{self.symbol}: size must be positive, got {to_wire(size)}")
        out = quantize_step(size, self.lot_size, ROUND_DOWN)
        if out <= 0:
            raise InvalidOrderError(
                f"{self.symbol}: size {to_wire(size)} rounds to zero; the smallest size is {to_wire(self.lot_size)}"
            )
        if out < self.min_size:
            raise InvalidOrderError(
                f"{self.symbol}: size {to_wire(out)} is below the minimum size {to_wire(self.min_size)}"
            )
        if self.max_size is not None and out > self.max_size:
            raise InvalidOrderError(
                f"{self.symbol}: size {to_wire(out)} is above the maximum size {to_wire(self.max_size)}"
            )
        return out

    def is_valid_size(self, size: Decimal) -> bool:
        return size > 0 and is_multiple(size, self.lot_size)

    def check_notional(self, price: Decimal, size: Decimal, *, reduce_only: bool = False) -> Decimal:
        notional = price * size
        if not reduce_only and notional < self.min_notional:
            raise InvalidOrderError(
                f"{self.symbol}: order value {to_wire(notional.quantize(Decimal('0.01')))} {self.quote} is below"
                f" the minimum of {to_wire(self.min_notional)} {self.quote}"
            )
        return notional

    def prepare(
        self, price: Decimal, size: Decimal, side: Side, *, reduce_only: bool = False
    ) -> tuple[Decimal, Decimal]:
        """Round a limit order to the venue's rules and check its minimum value."""
        px = self.round_price_passive(price, side)
        sz = self.round_size(size)
        self.check_notional(px, sz, reduce_only=reduce_only)
        return px, sz


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    total: Decimal
    available: Decimal
    usd_value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountBalances:
    """What one venue reports: perp margin account plus spot balances."""

    exchange: str
    account_value: Decimal  # perp account value (collateral + unrealized PnL)
    margin_used: Decimal
    withdrawable: Decimal
    spot: tuple[Balance, ...] = ()
    ts_ms: int = 0

    @property
    def equity(self) -> Decimal:
        """Perp account value plus spot balances at mark, where the venue gave a USD value."""
        return self.account_value + sum((b.usd_value or ZERO for b in self.spot), ZERO)


@dataclass(frozen=True, slots=True)
class Position:
    exchange: str
    symbol: str
    size: Decimal  # signed: positive long, negative short
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: int
    margin_used: Decimal
    liquidation_price: Decimal | None = None
    leverage_type: str = "cross"
    realized_pnl: Decimal = ZERO
    funding: Decimal = ZERO  # cumulative funding since open (positive = received)

    @property
    def side(self) -> Side:
        return Side.BUY if self.size > 0 else Side.SELL

    @property
    def notional(self) -> Decimal:
        return abs(self.size) * self.mark_price


@dataclass(frozen=True, slots=True)
class OrderRequest:
    exchange: str
    symbol: str
    side: Side
    size: Decimal
    price: Decimal | None = None  # None = market
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_id: str | None = None
    trigger_price: Decimal | None = None
    trigger_is_market: bool = True
    slippage: Decimal | None = None  # market orders: fraction, e.g. 0.005
    take_profit: Decimal | None = None  # attached TP trigger (normalTpsl)
    stop_loss: Decimal | None = None  # attached SL trigger (normalTpsl)
    leverage: int | None = None


@dataclass(frozen=True, slots=True)
class Order:
    exchange: str
    symbol: str
    side: Side
    size: Decimal
    price: Decimal | None
    status: OrderStatus
    order_id: str | None = None
    client_id: str | None = None
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    filled: Decimal = ZERO
    avg_price: Decimal | None = None
    trigger_price: Decimal | None = None
    created_ms: int = 0
    updated_ms: int = 0
    reason: str | None = None  # venue's words for a cancel or rejection

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled


@dataclass(frozen=True, slots=True)
class Fill:
    exchange: str
    fill_id: str  # venue fill id: the dedupe key
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    ts_ms: int
    client_id: str | None = None
    fee_asset: str = "USDC"
    realized_pnl: Decimal = ZERO
    is_maker: bool = False
    liquidation: bool = False
    start_position: Decimal | None = None  # the position just before this fill, where the venue says

    @property
    def position_after(self) -> Decimal | None:
        """The position this fill left (not the position now, which later fills may have moved)."""
        return None if self.start_position is None else self.start_position + self.side.sign * self.size


@dataclass(frozen=True, slots=True)
class Ticker:
    exchange: str
    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    mark: Decimal
    ts_ms: int
    last: Decimal | None = None

    @property
    def mid(self) -> Decimal:
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.mark


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    exchange: str
    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Candle:
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class FundingRate:
    exchange: str
    symbol: str
    rate: Decimal  # per funding interval
    interval_hours: int
    next_ms: int | None = None
    mark: Decimal | None = None


@dataclass(frozen=True, slots=True)
class FundingPayment:
    exchange: str
    symbol: str
    amount: Decimal  # positive = received
    rate: Decimal
    position_size: Decimal
    ts_ms: int


# ---- stream events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    order: Order
    ts_ms: int


@dataclass(frozen=True, slots=True)
class FillEvent:
    fill: Fill
    is_snapshot: bool = False  # replayed history (reconnect snapshot): never alert as new


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    exchange: str
    ts_ms: int
    balances: AccountBalances | None = None
    positions: tuple[Position, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Liquidation:
    exchange: str
    symbol: str
    size: Decimal
    price: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class FundingEvent:
    payment: FundingPayment


@dataclass(frozen=True, slots=True)
class StreamStatus:
    exchange: str
    connected: bool
    ts_ms: int
    reason: str = ""


Event = OrderUpdate | FillEvent | AccountUpdate | Liquidation | FundingEvent | StreamStatus


__all__ = [
    "CANDLE_INTERVAL_MS",
    "ROUND_DOWN",
    "AccountBalances",
    "AccountUpdate",
    "Balance",
    "BookLevel",
    "Candle",
    "Event",
    "Fill",
    "FillEvent",
    "FundingEvent",
    "FundingPayment",
    "FundingRate",
    "Liquidation",
    "Market",
    "MarketKind",
    "Order",
    "OrderBook",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "Position",
    "Side",
    "StreamStatus",
    "Ticker",
    "TimeInForce",
]


# ---- money moved without trading -----------------------------------------------------------------


class CashFlowKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"  # to or from another account or sub-account, or between one's own spot and perp
    VAULT = "vault"  # into or out of a vault
    REWARD = "reward"  # rewards claimed, tokens granted


@dataclass(frozen=True, slots=True)
class CashFlow:
    """Money moved into (+) or out of (-) a venue account other than by trading, as the venue's ledger
    tells it. `amount` is the change it makes to the venue's equity (perp account value plus spot at
    mark) in USD, its fee included: loss limits take it out, so they count trading only. A move between
    the account's own perp and spot balances changes nothing (amount 0). The venue's transaction hash
    and `ts_ms` identify an entry."""

    exchange: str
    kind: CashFlowKind
    amount: Decimal
    ts_ms: int
    tx_hash: str
    venue_kind: str = ""  # the venue's own word: "accountClassTransfer", "internalTransfer", ...
    asset: str = "USDC"
    fee: Decimal = ZERO
    note: str = ""  # the other side (an address, a vault, "perp to spot"), where the venue says


__all__ += ["CashFlow", "CashFlowKind"]
