"""The simulated market list and a deterministic, float-free price walk."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from exchanges.models import Market, MarketKind

# name, szDecimals, maxLeverage, starting price. Hyperliquid's rules: prices have at most
# 5 significant figures and 6 - szDecimals decimals (spot: 8 - szDecimals).
PERPS: tuple[tuple[str, int, int, str], ...] = (
    ("BTC", 5, 40, "100000"),
    ("ETH", 4, 25, "3500"),
    ("SOL", 2, 20, "150"),
    ("DOGE", 0, 10, "0.2"),
    ("ARB", 1, 10, "0.8"),
    ("HYPE", 2, 10, "30"),
)
# base token, szDecimals, starting price in USDC
SPOTS: tuple[tuple[str, int, str], ...] = (
    ("PURR", 0, "0.2"),
    ("HYPE", 2, "30"),
)
MIN_NOTIONAL = Decimal(10)


def default_markets(exchange: str) -> list[Market]:
    out: list[Market] = []
    for asset_id, (name, sz_dec, max_lev, _) in enumerate(PERPS):
        out.append(
            Market(
                exchange=exchange,
                symbol=name,
                kind=MarketKind.PERP,
                base=name,
                quote="USDC",
                native=name,
                lot_size=Decimal(1).scaleb(-sz_dec),
                price_sig_figs=5,
                price_decimals=6 - sz_dec,
                min_notional=MIN_NOTIONAL,
                max_leverage=max_lev,
                asset_id=asset_id,
            )
        )
    for index, (base, sz_dec, _) in enumerate(SPOTS):
        out.append(
            Market(
                exchange=exchange,
                symbol=f"{base}/USDC",
                kind=MarketKind.SPOT,
                base=base,
                quote="USDC",
                native=f"{base}/USDC" if index == 0 else f"@{index}",
                lot_size=Decimal(1).scaleb(-sz_dec),
                price_sig_figs=5,
                price_decimals=8 - sz_dec,
                min_notional=MIN_NOTIONAL,
                max_leverage=1,
                asset_id=10000 + index,
            )
        )
    return out


def starting_prices() -> dict[str, Decimal]:
    prices = {name: Decimal(px) for name, _, _, px in PERPS}
    prices.update({f"{base}/USDC": Decimal(px) for base, _, px in SPOTS})
    return prices


@dataclass
class PriceWalk:
    """Seeded random walk in whole basis points: the same seed gives the same path, everywhere."""

    seed: int = 1
    max_step_bps: int = 10

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next_price(self, market: Market, price: Decimal) -> Decimal:
        bps = self._rng.randint(-self.max_step_bps, self.max_step_bps)
        moved = price * (Decimal(10000 + bps) / Decimal(10000))
        out = market.round_price(moved)
        return out if out > 0 else price
