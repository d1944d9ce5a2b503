"""Pure Decimal helpers: venue precision rules and wire formatting.

Two families of price rules exist on our venues:
- a fixed tick (Aster `PRICE_FILTER.tickSize`): the price must be a multiple of the tick;
- significant figures with a decimals cap (Hyperliquid: at most 5 significant figures and at most
  `6 - szDecimals` (perp) / `8 - szDecimals` (spot) decimals; integer prices are always valid).
Sizes are multiples of a lot (`stepSize`, or `10**-szDecimals`).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_UP, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)

__all__ = [
    "ROUND_CEILING",
    "ROUND_DOWN",
    "ROUND_FLOOR",
    "ROUND_HALF_EVEN",
    "ROUND_UP",
    "decimals_of",
    "is_multiple",
    "quantize_step",
    "round_sig_figs",
    "to_decimal",
    "to_wire",
]


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Parse a wire number. Floats are refused: they have already lost the digits we need."""
    if isinstance(value, float):
        raise TypeError(f"refusing float {value!r}: money must arrive as str, int or Decimal")
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def to_wire(value: Decimal) -> str:
    """Normalised string: no exponent, no trailing zeros, never "-0"."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    s = format(value.normalize(), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s


def decimals_of(step: Decimal) -> int:
    """Number of decimals a step implies: 0.001 -> 3, 1 -> 0, 10 -> 0."""
    exp = step.normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


def quantize_step(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round to a multiple of `step` (which need not be a power of ten)."""
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    units = (value / step).quantize(ONE, rounding=rounding)
    return (units * step).quantize(step.normalize() if decimals_of(step) else ONE)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return (value % step) == 0


def round_sig_figs(value: Decimal, sig_figs: int, max_decimals: int, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Hyperliquid-style price rounding. Integers stay valid whatever their digit count."""
    if value == 0:
        return ZERO
    # adjusted() is the exponent of the leading digit: 12345.6 -> 4
    decimals = sig_figs - value.adjusted() - 1
    decimals = max(0, min(decimals, max_decimals))
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)
