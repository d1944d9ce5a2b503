"""What the emulated Aster lists: perpetuals and spot pairs under the same ids (BTCUSDT on both, as the
venue does), their filters, fees and starting prices.

Filters follow the shapes of the venue's exchangeInfo: PRICE_FILTER (tick), LOT_SIZE and
MARKET_LOT_SIZE (step, min, max), MIN_NOTIONAL (5 USDT, the venue's usual floor) and PERCENT_PRICE.
One leverage bracket per perpetual: the engine's maintenance rate (half the initial margin at the
maximum leverage) is what `leverageBracket` reports, so the numbers a client reads are the ones the
engine liquidates on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchanges.models import Market, MarketKind
from exchanges.precision import decimals_of

VENUE = "aster"
QUOTE = "USDT"
MIN_NOTIONAL = Decimal(5)
# the live commissionRate capture ccxt keeps (BTCUSDT): maker 0.0001, taker 0.00035
MAKER_FEE = Decimal("0.0001")
TAKER_FEE = Decimal("0.00035")
FUNDING_INTERVAL_MS = 8 * 3_600_000
DEFAULT_FUNDING_RATE = Decimal("0.0001")
INTEREST_RATE = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Listing:
    base: str
    tick: str
    step: str
    min_qty: str
    max_qty: str
    market_max_qty: str
    price: str
    max_leverage: int = 20  # perpetuals only
    onboard_ms: int = 1_750_000_000_000

    @property
    def native(self) -> str:
        return f"{self.base}{QUOTE}"


PERPS: tuple[Listing, ...] = (
    Listing("BTC", "0.1", "0.001", "0.001", "1000", "100", "100000", 100),
    Listing("ETH", "0.01", "0.001", "0.001", "10000", "2000", "3500", 100),
    Listing("SOL", "0.01", "0.01", "0.01", "100000", "20000", "150", 50),
    Listing("ASTER", "0.0001", "1", "1", "10000000", "2000000", "1.2", 20),
    Listing("DOGE", "0.00001", "1", "1", "50000000", "10000000", "0.2", 50),
)
SPOTS: tuple[Listing, ...] = (
    Listing("BTC", "0.01", "0.00001", "0.00001", "9000", "9000", "100000"),
    Listing("ETH", "0.01", "0.0001", "0.0001", "100000", "100000", "3500"),
    Listing("ASTER", "0.0001", "0.01", "0.01", "10000000", "10000000", "1.2"),
    Listing("BNB", "0.01", "0.001", "0.001", "100000", "100000", "600"),
)


def _market(item: Listing, kind: MarketKind) -> Market:
    symbol = item.base if kind is MarketKind.PERP else f"{item.base}/{QUOTE}"
    return Market(exchange=VENUE, symbol=symbol, kind=kind, base=item.base, quote=QUOTE, native=item.native,
                  lot_size=Decimal(item.step), tick_size=Decimal(item.tick), min_size=Decimal(item.min_qty),
                  max_size=Decimal(item.max_qty), min_notional=MIN_NOTIONAL,
                  max_leverage=item.max_leverage if kind is MarketKind.PERP else 1)


@dataclass(frozen=True)
class Catalog:
    """One side of the venue (futures or spot): its listings and engine markets, by native id."""

    kind: MarketKind
    listings: dict[str, Listing]
    markets: dict[str, Market]

    @classmethod
    def of(cls, kind: MarketKind) -> Catalog:
        items = PERPS if kind is MarketKind.PERP else SPOTS
        return cls(kind, {i.native: i for i in items}, {i.native: _market(i, kind) for i in items})

    def engine_markets(self) -> list[Market]:
        return list(self.markets.values())

    def prices(self) -> dict[str, Decimal]:
        return {self.markets[n].symbol: Decimal(i.price) for n, i in self.listings.items()}

    def symbol(self, native: str) -> str | None:
        """The engine's name of a native id, None when the venue lists no such symbol here."""
        m = self.markets.get(native.upper())
        return m.symbol if m is not None else None

    def native(self, symbol: str) -> str:
        return next(m.native for m in self.markets.values() if m.symbol == symbol)

    def price_decimals(self, native: str) -> int:
        return decimals_of(Decimal(self.listings[native].tick))

    def qty_decimals(self, native: str) -> int:
        return decimals_of(Decimal(self.listings[native].step))


def maint_margin_ratio(max_leverage: int) -> Decimal:
    """The engine's maintenance rate (sim.accounts.maintenance_rate), as the bracket states it."""
    return Decimal(1) / Decimal(2 * max_leverage)


def next_funding_ms(now_ms: int) -> int:
    """Funding settles every 8 hours, at 00:00, 08:00 and 16:00 UTC."""
    return now_ms - now_ms % FUNDING_INTERVAL_MS + FUNDING_INTERVAL_MS


__all__ = ["FUNDING_INTERVAL_MS", "MAKER_FEE", "MIN_NOTIONAL", "PERPS", "QUOTE", "SPOTS", "TAKER_FEE", "Catalog",
           "Listing", "maint_margin_ratio", "next_funding_ms"]
