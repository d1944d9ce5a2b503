"""The reports the bot sends on its own: "bot started" and the daily report (PnL, balances, positions).

Each venue is read the way the commands read it; a venue that cannot be read is said to be so, never
shown as empty or zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from desk.services import Services, app_version
from exchanges.models import Market
from handlers.render import esc, fmt_usd
from handlers.views import balances_view, pnl_view, positions_view

ZERO = Decimal(0)


async def _markets(s: Services, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Market]:
    return {pair: m for pair in set(pairs) if (m := await s.market(*pair)) is not None}


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


async def started_text(s: Services) -> str:
    """What the trader needs to know when the bot (re)starts: its state, and what each venue holds."""
    state = s.risk.state
    lines = [f"🟢 <b>tradebot {esc(app_version())} started</b>: trading {esc(state.state.value)}"
             + (f" ({esc(state.reason)})" if state.reason else "")]
    balances, positions, orders = await s.balances(), await s.positions(), await s.open_orders()
    for b, p, o in zip(balances, positions, orders, strict=True):
        if b.value is None:
            lines.append(f"<b>{esc(b.venue)}</b>: ⚠️ not reachable yet ({esc(b.error)}); retrying")
            continue
        held = "positions unknown" if p.value is None else _count(len(p.value), "position")
        resting = "orders unknown" if o.value is None else _count(len(o.value), "open order")
        lines.append(f"<b>{esc(b.venue)}</b>: equity {esc(fmt_usd(b.value.equity))}, {held}, {resting}")
    lines.append("/status for connections, /positions for details.")
    return "\n".join(lines)


async def daily_text(s: Services) -> str:
    periods, unrealized = await s.pnl()
    balances, positions = await s.balances(), await s.positions()
    markets = await _markets(s, ((x.exchange, x.symbol) for r in positions for x in r.value or []))
    return "\n\n".join(["📊 <b>Daily report</b>\n" + pnl_view(periods, unrealized), balances_view(balances),
                        positions_view(positions, markets)])
