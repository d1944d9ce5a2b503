"""Accounts of the simulated venue: perp positions (cross or isolated margin), spot balances, the math.

Maintenance margin follows Hyperliquid: half the initial margin at the market's maximum leverage,
so the maintenance rate is 1 / (2 * max_leverage).

An isolated position holds its own USD, `raw_usd` (Hyperliquid's `rawUsd`): opening moves the initial
margin out of the cross collateral and pays for the contracts, so the position's equity is
raw_usd + size * mark. Closing part of it returns that part of its equity (margin and PnL alike).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
# A one-way position is kept under its symbol; a hedge-mode leg (Aster's positionSide LONG / SHORT)
# under "<symbol>|LONG" or "<symbol>|SHORT", so both legs of one market can be open at once.
HEDGE_SEP = "|"


def position_key(symbol: str, side: str | None = None) -> str:
    return symbol if side is None else f"{symbol}{HEDGE_SEP}{side}"


def key_symbol(key: str) -> str:
    """The market a position key belongs to."""
    return key.split(HEDGE_SEP, 1)[0]


def key_side(key: str) -> str | None:
    """The hedge leg ("LONG" / "SHORT") of a position key, None for a one-way position."""
    parts = key.split(HEDGE_SEP, 1)
    return parts[1] if len(parts) == 2 else None


@dataclass
class SimPosition:
    size: Decimal = ZERO  # signed
    entry: Decimal = ZERO
    leverage: int = 20
    cross: bool = True
    realized: Decimal = ZERO  # since open
    funding: Decimal = ZERO  # since open, positive = received
    raw_usd: Decimal = ZERO  # isolated only: the position's own USD (equity = raw_usd + size * mark)

    def equity(self, mark: Decimal) -> Decimal:
        """Isolated: what the position is worth to its holder at `mark`."""
        return self.raw_usd + self.size * mark


@dataclass
class SimAccount:
    name: str
    collateral: Decimal = ZERO  # perp USDC: deposits + realized PnL - fees + funding
    spot: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    leverage: dict[str, tuple[int, bool]] = field(default_factory=dict)  # symbol -> (leverage, cross)

    def position(self, symbol: str, side: str | None = None) -> SimPosition:
        key = position_key(symbol, side)
        pos = self.positions.get(key)
        if pos is None:
            lev, cross = self.leverage.get(symbol, (20, True))
            pos = self.positions[key] = SimPosition(leverage=lev, cross=cross)
        return pos

    def positions_of(self, symbol: str) -> list[SimPosition]:
        """Every open position of one market: the one-way one, or the hedge legs."""
        return [p for k, p in self.positions.items() if key_symbol(k) == symbol]


@dataclass(frozen=True, slots=True)
class SimCashFlow:
    """Money moved without trading: one entry of an account's ledger (Hyperliquid's non-funding ledger).
    `kind` is the venue's word; `usdc` the amount moved (a spot transfer: the tokens' USDC value). A
    transfer between two accounts is an entry in each, `user` the sender."""

    account: str
    kind: str  # deposit | withdraw | accountClassTransfer | internalTransfer | subAccountTransfer | spotTransfer
    usdc: Decimal
    ts_ms: int
    hash: str
    to_perp: bool = True  # accountClassTransfer: spot to perp (True) or perp to spot
    user: str = ""
    destination: str = ""
    fee: Decimal = ZERO
    token: str = "USDC"
    amount: Decimal = ZERO  # spotTransfer: tokens moved
    nonce: int = 0


TRANSFER_KINDS = ("deposit", "withdraw", "accountClassTransfer", "internalTransfer", "subAccountTransfer",
                  "spotTransfer")


def apply_fill(size: Decimal, entry: Decimal, signed_qty: Decimal, price: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """New (size, entry, realized PnL) after trading `signed_qty` at `price`."""
    if size == 0 or (size > 0) == (signed_qty > 0):
        new_size = size + signed_qty
        new_entry = (abs(size) * entry + abs(signed_qty) * price) / abs(new_size)
        return new_size, new_entry, ZERO
    closed = min(abs(signed_qty), abs(size))
    realized = closed * (price - entry) * (1 if size > 0 else -1)
    new_size = size + signed_qty
    if new_size == 0:
        return ZERO, ZERO, realized
    if (new_size > 0) == (size > 0):
        return new_size, entry, realized
    return new_size, price, realized  # flipped: the remainder opens at the fill price


def unrealized(size: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    return (mark - entry) * size


def maintenance_rate(max_leverage: int) -> Decimal:
    return Decimal(1) / Decimal(2 * max_leverage)


def liquidation_price(
    size: Decimal, mark: Decimal, account_value: Decimal, other_maintenance: Decimal, mmr: Decimal
) -> Decimal | None:
    """Mark price at which cross account value equals maintenance margin, the other positions held
    at their current marks. None when it would be at or below zero (no liquidation possible)."""
    if size == 0:
        return None
    if size > 0:
        px = (mark * size + other_maintenance - account_value) / (size * (1 - mmr))
    else:
        a = -size
        px = (account_value + mark * a - other_maintenance) / (a * (1 + mmr))
    return px if px > 0 else None


def isolated_fill(pos: SimPosition, signed_qty: Decimal, price: Decimal, leverage: int) -> Decimal:
    """Move an isolated position's own USD for a fill (before pos.size changes). Returns what flows to
    the cross collateral: + released equity on a close, - initial margin on an open."""
    flow = ZERO
    closing = ZERO if pos.size == 0 or (pos.size > 0) == (signed_qty > 0) else min(abs(signed_qty), abs(pos.size))
    if closing:
        part = closing / abs(pos.size)
        released = part * pos.equity(price)
        pos.raw_usd -= part * pos.raw_usd
        flow += released
    opening = abs(signed_qty) - closing
    if opening:
        margin = opening * price / leverage
        pos.raw_usd += margin - opening * price * (1 if signed_qty > 0 else -1)
        flow -= margin
    return flow


def isolated_liquidation_price(size: Decimal, raw_usd: Decimal, mmr: Decimal) -> Decimal | None:
    """Mark at which an isolated position's equity equals its maintenance margin."""
    if size == 0:
        return None
    px = -raw_usd / (size * (1 - mmr)) if size > 0 else raw_usd / (-size * (1 + mmr))
    return px if px > 0 else None
