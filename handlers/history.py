"""/trades (paged), /profit, /performance and /daily /weekly /monthly: handlers and their pure views.

Totals come from the fills in the store and the funding the venues report (desk.history). A venue whose
funding could not be read marks every total it belongs in with "?" and the footer says which venue.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from desk import history as h
from exchanges.models import Fill, Market
from handlers.common import BotServices, Ctx, edit, markets_for, reply, svc
from handlers.parsing import parse_count, usage_error
from handlers.render import esc, fmt_num, fmt_price, fmt_size, fmt_usd, table

TRADES_PAGE, TRADES_MAX = 10, 30  # 3 lines a fill: 30 fills stay well inside one message
WIN_NOTE = "Win rate: closing fills (realized PnL ≠ 0) in profit."
SHORT_VENUE = {"hyperliquid": "hl"}
Markets = Mapping[tuple[str, str], Market]


# ---- views (pure) -----------------------------------------------------------------------------------


def _usd(value: Decimal, known: bool = True, pad: str = "") -> str:
    """Signed USD; "?" after a total that leaves out funding we could not read (`pad` otherwise, so the
    digits of a right-aligned column stay under each other)."""
    return fmt_usd(value, sign=True) + ("?" if not known else pad)


def _win(t: h.Tally) -> str:
    rate = t.win_rate
    return "-" if rate is None else f"{fmt_num(rate, 0)}% ({t.wins}/{t.closes})"


def _notes(errors: Mapping[str, str], unpriced: frozenset[str] = frozenset()) -> list[str]:
    lines = [f"? funding from {esc(v)} could not be read ({esc(why[:80])}); totals leave it out."
             for v, why in sorted(errors.items())]
    if unpriced:
        lines.append(f"Fees paid in {esc(', '.join(sorted(unpriced)))} are not in the totals.")
    return lines


def _fill_lines(f: Fill, m: Market | None, tz: zoneinfo.ZoneInfo, venue: bool) -> list[str]:
    head = f"{h.local_time(f.ts_ms, tz)} {f.side.value.upper():<4} {f.symbol}"
    if venue:
        head += f" {SHORT_VENUE.get(f.exchange, f.exchange[:5])}"
    at = f"  {fmt_size(m, f.size)} @ {fmt_price(m, f.price)}" + (" liq" if f.liquidation else "")
    fee = h.fee_usd(f)
    money = f"fee {fmt_usd(fee)}" if fee is not None else f"fee {fmt_num(f.fee)} {f.fee_asset}"
    if f.realized_pnl != 0:
        money = f"pnl {fmt_usd(f.realized_pnl, sign=True)} {money}"
    return [head, at, f"  {money}"]


def trades_view(pg: h.Page, markets: Markets, tz: zoneinfo.ZoneInfo) -> str:
    if not pg.fills:
        return "No trades yet."
    venue = len({f.exchange for f in pg.fills}) > 1
    lines = [x for f in pg.fills for x in _fill_lines(f, markets.get((f.exchange, f.symbol)), tz, venue)]
    return (f"<b>Trades</b>, newest first (page {pg.number + 1} of {pg.pages})"
            f"<pre>{esc(chr(10).join(lines))}</pre>Times in {esc(tz.key)}.")


def trades_keyboard(pg: h.Page, size: int) -> InlineKeyboardMarkup | None:
    keys = []
    if pg.number > 0:
        keys.append(InlineKeyboardButton("◀ Newer", callback_data=f"tr:{size}:{pg.number - 1}:{pg.until_ms}"))
    if pg.number < pg.pages - 1:
        keys.append(InlineKeyboardButton("Older ▶", callback_data=f"tr:{size}:{pg.number + 1}:{pg.until_ms}"))
    return InlineKeyboardMarkup([keys]) if keys else None


def _tally_rows(t: h.Tally) -> list[list[str]]:
    mark = "" if t.funding_known else "?"  # its own column: the digits stay aligned
    return [["Realized", _usd(t.realized), ""], ["Fees", _usd(-t.fees), ""],
            ["Funding", _usd(t.funding), mark], ["Net", _usd(t.net), mark],
            ["Fills", str(t.fills), ""], ["Win rate", _win(t), ""]]


def _market(m: h.MarketTally) -> str:
    return f"{m.symbol} on {m.exchange} {_usd(m.tally.net, m.tally.funding_known)}"


def profit_view(t: h.Tally | None, since_ms: int, markets: Sequence[h.MarketTally], errors: Mapping[str, str],
                tz: zoneinfo.ZoneInfo) -> str:
    if t is None:
        return "No trades yet."
    lines = [f"<b>Profit</b> since {esc(h.local_time(since_ms, tz))} ({esc(tz.key)})",
             table(_tally_rows(t), right=[1])]
    bw = h.best_worst(markets)
    if bw is not None:
        lines += [f"Best: {esc(_market(bw[0]))}", f"Worst: {esc(_market(bw[1]))}"]
    return "\n".join(lines + _notes(errors, t.unpriced_fees) + [WIN_NOTE])


def performance_view(markets: Sequence[h.MarketTally], errors: Mapping[str, str]) -> str:
    if not markets:
        return "No trades yet."
    lines = ["<b>Performance</b> per market, best net first"]
    unpriced: frozenset[str] = frozenset()
    for m in markets:
        lines.append(f"\n<b>{esc(m.symbol)}</b> on {esc(m.exchange)}" + table(_tally_rows(m.tally), right=[1]))
        unpriced |= m.tally.unpriced_fees
    bw = h.best_worst(markets)
    if bw is not None:
        lines += [f"\nBest: {esc(_market(bw[0]))}", f"Worst: {esc(_market(bw[1]))}"]
    return "\n".join(lines + _notes(errors, unpriced) + [WIN_NOTE])


def periods_view(kind: h.PeriodKind, rows: Sequence[h.PeriodTally], errors: Mapping[str, str],
                 tz: zoneinfo.ZoneInfo, reset_hour: int) -> str:
    head = f"<b>{kind.title}</b> ({esc(tz.key)}, days from {reset_hour:02d}:00)"
    if not any(r.tally.fills or r.tally.funding for r in rows):
        return "\n".join([head, f"No trades in the last {len(rows)} {kind.unit}.", *_notes(errors)])
    body = [[r.window.label, _usd(r.tally.net, r.tally.funding_known, " "), str(r.tally.fills)] for r in rows]
    unpriced = frozenset().union(*(r.tally.unpriced_fees for r in rows))
    return "\n".join([head, table(body, [kind.column, "Net", "Fills"], right=[1, 2]),
                      "Net = realized − fees + funding.", *_notes(errors, unpriced)])


# ---- handlers ---------------------------------------------------------------------------------------


def _tz(s: BotServices) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(s.settings.timezone)


async def trades_message(context: Ctx, size: int, number: int, until_ms: int | None,
                         ) -> tuple[str, InlineKeyboardMarkup | None]:
    s = svc(context)
    pg = h.page(await s.store.fills_since(0), size, number, until_ms)
    markets = await markets_for(s, ((f.exchange, f.symbol) for f in pg.fills))
    return trades_view(pg, markets, _tz(s)), trades_keyboard(pg, size)


async def trades(update: Update, context: Ctx) -> str:
    size = parse_count(list(context.args or []), "trades", TRADES_PAGE, TRADES_MAX)
    await reply(update, context, *await trades_message(context, size, 0, None))
    return "shown"


async def on_trades_page(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    _, size, number, until = (query.data or "").split(":")
    await edit(update, *await trades_message(context, min(max(int(size), 1), TRADES_MAX), int(number), int(until)))
    return f"trades page {number}"


def _no_arguments(context: Ctx, cmd: str) -> None:
    if context.args:
        raise usage_error(cmd, f"/{cmd} takes no arguments")


async def _all_time(s: BotServices) -> tuple[list[Fill], h.Funding, dict[str, str]]:
    fills = await s.store.fills_since(0)
    if not fills:
        return [], {}, {}
    funding, errors = await h.funding_since(s.services.venues, fills[0].ts_ms)
    return fills, funding, errors


async def profit(update: Update, context: Ctx) -> str:
    _no_arguments(context, "profit")
    s = svc(context)
    fills, funding, errors = await _all_time(s)
    t = h.summarize(fills, funding) if fills else None
    await reply(update, context, profit_view(t, fills[0].ts_ms if fills else 0, h.by_market(fills, funding),
                                             errors, _tz(s)))
    return "shown"


async def performance(update: Update, context: Ctx) -> str:
    _no_arguments(context, "performance")
    fills, funding, errors = await _all_time(svc(context))
    await reply(update, context, performance_view(h.by_market(fills, funding), errors))
    return "shown"


async def _periods(update: Update, context: Ctx, name: str) -> str:
    kind = h.PERIODS[name]
    count = parse_count(list(context.args or []), name, kind.default, kind.maximum)
    s = svc(context)
    tz, reset = _tz(s), s.settings.day_reset_hour
    spans = h.windows(kind, s.clock(), count, tz, reset)
    fills = await s.store.fills_since(spans[-1].start_ms)
    funding, errors = await h.funding_since(s.services.venues, spans[-1].start_ms)
    await reply(update, context, periods_view(kind, h.by_period(fills, funding, spans), errors, tz, reset))
    return "shown"


async def daily(update: Update, context: Ctx) -> str:
    return await _periods(update, context, "daily")


async def weekly(update: Update, context: Ctx) -> str:
    return await _periods(update, context, "weekly")


async def monthly(update: Update, context: Ctx) -> str:
    return await _periods(update, context, "monthly")
