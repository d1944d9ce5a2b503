"""Pure rendering helpers: HTML escaping, numbers at market precision, phone-width tables, splitting.

Telegram counts 4096 characters after entity parsing; we split on the raw HTML (always longer), at
line boundaries, and close/reopen a <pre> block that a split cuts through.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

from exchanges.models import Market
from exchanges.precision import decimals_of

MAX_MESSAGE = 4096
PHONE_COLUMNS = 32


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def fmt_num(value: Decimal, places: int | None = None, *, sign: bool = False) -> str:
    """Thousands separators; `places` decimals (None: as many as the value has, no trailing zeros)."""
    if places is None:
        q = value.normalize()
        exp = q.as_tuple().exponent
        places = max(0, -exp) if isinstance(exp, int) else 0
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if q == 0:
        q = abs(q)  # never "-0.00"
    out = f"{q:,.{places}f}"
    return f"+{out}" if sign and q > 0 else out


def fmt_usd(value: Decimal, *, sign: bool = False) -> str:
    q = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    body = fmt_num(abs(q), 2)
    if q < 0:
        return f"-${body}"
    return f"+${body}" if sign and q > 0 else f"${body}"


def fmt_pct(value: Decimal, *, sign: bool = True) -> str:
    return f"{fmt_num(value, 2, sign=sign)}%"


def price_places(market: Market | None, value: Decimal) -> int:
    """Decimals a price of this market is shown with."""
    if market is None:
        return 2 if abs(value) >= 1 else 6
    if market.tick_size is not None:
        return decimals_of(market.tick_size)
    sig = market.price_sig_figs or 5
    return max(0, min(market.price_decimals or 0, sig - value.adjusted() - 1)) if value else 0


def fmt_price(market: Market | None, value: Decimal | None) -> str:
    if value is None:
        return "-"
    return fmt_num(value, price_places(market, value))


def fmt_size(market: Market | None, value: Decimal, *, sign: bool = False) -> str:
    places = decimals_of(market.lot_size) if market is not None else None
    return fmt_num(value, places, sign=sign)


def table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None, *, right: Sequence[int] = ()) -> str:
    """A monospace table in <pre>; columns in `right` are right-aligned (numbers)."""
    all_rows = [list(header)] + [list(r) for r in rows] if header else [list(r) for r in rows]
    if not all_rows:
        return ""
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(all_rows[0]))]
    lines = []
    for r in all_rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append(" ".join(cells).rstrip())
    return "<pre>" + esc("\n".join(lines)) + "</pre>"


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split at line boundaries into parts no longer than `limit`, keeping <pre> blocks balanced."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    in_pre = False
    for raw in text.split("\n"):
        pieces = [raw[i:i + limit - 20] for i in range(0, len(raw), limit - 20)] or [""]
        for line in pieces:
            closing = "</pre>" if in_pre else ""
            candidate = f"{current}\n{line}" if current else line
            if len(candidate) + len(closing) > limit and current:
                parts.append(current + closing)
                current = ("<pre>" if in_pre else "") + line
            else:
                current = candidate
            opens, closes = line.count("<pre>"), line.count("</pre>")
            if opens != closes:
                in_pre = opens > closes
    if current:
        parts.append(current)
    return parts
