"""Pure rendering helpers: HTML escaping, one formatter per kind of number, phone-width tables, splitting.

Kinds of number: a price at its market's precision (`fmt_price`), a size at its lot (`fmt_size`), USD
with separators and cents (`fmt_usd`), a balance at its asset's precision (`fmt_amount`), a percent
(`fmt_pct`); anything else goes through `fmt_num`, which never prints more than 8 significant digits.

Telegram counts 4096 characters after entity parsing; we split on the raw HTML (always longer), at
line boundaries, and close/reopen a <pre> block that a split cuts through.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from desk.numbers import fmt_num as fmt_num  # the number formatters live there; views import them here
from desk.numbers import fmt_pct as fmt_pct
from desk.numbers import fmt_sig as fmt_sig
from desk.numbers import fmt_usd as fmt_usd
from desk.numbers import sig_places
from exchanges.models import Market
from exchanges.precision import decimals_of

MAX_MESSAGE = 4096
PHONE_COLUMNS = 32  # a <pre> line on a phone
PROSE_COLUMNS = 64  # a prose line: Telegram wraps longer ones, but titles and rows should not need it
# assets a balance of which is money: shown in cents, like USD
USD_STABLES = frozenset({"USD", "USDC", "USDT", "USDT0", "USDE", "USDH", "USD1", "DAI", "FDUSD", "BUSD", "TUSD"})


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def fmt_amount(asset: str, value: Decimal, decimals: int | None = None) -> str:
    """A balance of an asset: its own decimals where known, cents for USD stables, else 8 significant."""
    if decimals is not None:
        return fmt_num(value, decimals)
    return fmt_num(value, 2) if asset.upper() in USD_STABLES else fmt_sig(value)


def fmt_fee(value: Decimal, asset: str = "USDC") -> str:
    """A fee as the trader compares it: in USD when paid in a USD stable, else in its asset."""
    return fmt_usd(value) if asset.upper() in USD_STABLES else f"{fmt_sig(value)} {asset}"


def price_places(market: Market | None, value: Decimal) -> int:
    """Decimals a price of this market is shown with: the venue's own rule (a tick, or significant
    figures with a cap on decimals), so the same price reads the same in every view."""
    if market is None:
        return 2 if abs(value) >= 1 else max(2, sig_places(value, 5))
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


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 order", "2 orders" (never "order(s)")."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def fmt_in(ms: int) -> str:
    """How long until: "in 23m", "in 7h 57m", "in 45s", "now"."""
    s = ms // 1000
    if s <= 0:
        return "now"
    if s < 60:
        return f"in {s}s"
    hours, minutes = divmod((s + 59) // 60, 60)  # whole minutes, rounded up: "in 1m", never "in 0m"
    return f"in {hours}h {minutes}m" if hours else f"in {minutes}m"


def fmt_time(ts_ms: int, tz: str, now_ms: int | None = None) -> str:
    """Local time of day in `tz`; with the date when it is not today there."""
    zone = ZoneInfo(tz)
    at = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(zone)
    if now_ms is not None and datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone).date() != at.date():
        return at.strftime("%b %d %H:%M")
    return at.strftime("%H:%M")


def clip(text: str, limit: int = 300) -> str:
    """A venue's or a user's words, cut where they would only flood the chat."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def wrap(text: str, width: int = PROSE_COLUMNS - 2, indent: str = "", first: str | None = None) -> str:
    """Plain text wrapped to prose width and escaped; `first` replaces `indent` on the first line.
    Two columns to spare by default: an emoji in the line is two columns wide on a phone."""
    lines = textwrap.wrap(text, width, initial_indent=indent if first is None else first,
                          subsequent_indent=indent, break_on_hyphens=False) or [""]
    return "\n".join(esc(x) for x in lines)


def kv_table(rows: Sequence[tuple[str, str]], width: int = PHONE_COLUMNS) -> str:
    """Label/value rows in <pre>, values right-aligned; a value that does not fit beside its label
    goes on the next line, right-aligned."""
    if not rows:
        return ""
    lw = max(len(k) for k, _ in rows)
    span = min(width, lw + 1 + max(len(v) for _, v in rows))
    lines = []
    for k, v in rows:
        if not v:
            lines.append(k)
        elif lw + 1 + len(v) <= span:
            lines.append(f"{k.ljust(lw)} {v.rjust(span - lw - 1)}")
        else:
            lines.append(k)
            lines += [x.rjust(span) for x in textwrap.wrap(v, width)]
    return "<pre>" + esc("\n".join(x.rstrip() for x in lines)) + "</pre>"


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
