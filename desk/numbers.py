"""Numbers in words for the trader, pure: shared by the desk's sentences and the views (handlers/render.py
re-exports them with the formatters that need a market). Never more than 8 significant digits."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

SIGNIFICANT = 8  # a number with no rule of its own shows at most this many significant digits


def quantize_places(value: Decimal, places: int) -> Decimal:
    # enough precision for any integer part: 1e30 must not raise InvalidOperation
    with localcontext() as ctx:
        ctx.prec = max(28, value.adjusted() + places + 3)
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def sig_places(value: Decimal, sig: int) -> int:
    """Decimals that show `sig` significant digits of value, without trailing zeros."""
    if not value:
        return 0
    q = quantize_places(value, max(0, sig - value.adjusted() - 1)).normalize()
    exp = q.as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def fmt_num(value: Decimal, places: int | None = None, *, sign: bool = False) -> str:
    """Thousands separators; `places` decimals (None: the value's own, at most 8 significant digits,
    no trailing zeros: a computed Decimal is never printed raw)."""
    if places is None:
        places = sig_places(value, SIGNIFICANT)
    q = quantize_places(value, places)
    if q == 0:
        q = abs(q)  # never "-0.00"
    out = f"{q:,.{places}f}"
    return f"+{out}" if sign and q > 0 else out


def fmt_sig(value: Decimal, sig: int = SIGNIFICANT, *, sign: bool = False) -> str:
    """At most `sig` significant digits (the integer part is always whole), no trailing zeros."""
    return fmt_num(value, sig_places(value, sig), sign=sign)


def fmt_usd(value: Decimal, *, sign: bool = False) -> str:
    q = quantize_places(value, 2)
    body = fmt_num(abs(q), 2)
    if q < 0:
        return f"-${body}"
    return f"+${body}" if sign and q > 0 else f"${body}"


def fmt_pct(value: Decimal, *, sign: bool = True, places: int = 2) -> str:
    return f"{fmt_num(value, places, sign=sign)}%"
