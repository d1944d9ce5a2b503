"""Pure views: service data in, Telegram HTML out. Every dynamic value is escaped.

Every <pre> line fits 32 columns and every prose line 64 (tests/test_width.py builds each view with
long real values): tables are label/value rows, stacked per venue or per item, never wide grids.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from desk.desk import Outcome, Status
from desk.services import PerVenue, PnLPeriod, VenueStatus
from exchanges.models import (
    AccountBalances,
    FundingRate,
    Market,
    MarketKind,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
    TimeInForce,
)
from handlers.parsing import UsageError
from handlers.render import (
    PHONE_COLUMNS,
    PROSE_COLUMNS,
    USD_STABLES,
    clip,
    esc,
    fmt_amount,
    fmt_in,
    fmt_pct,
    fmt_price,
    fmt_sig,
    fmt_size,
    fmt_time,
    fmt_usd,
    kv_table,
    plural,
    table,
    wrap,
)
from risk.events import KillReport
from risk.orders import rejected_before_sending
from risk.pretrade import Preview

T = TypeVar("T")

ZERO = Decimal(0)
_TRIGGER = {OrderType.TAKE_PROFIT: "TP", OrderType.STOP: "SL"}
_LIMIT_NAMES = {"daily_loss": "the daily loss limit", "drawdown": "the drawdown limit",
                "equity_unknown": "the unknown-equity guard"}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def who(origin: str) -> str:
    """Who acted, in words, from the origin strings the code records ("telegram:424242", "limit:drawdown")."""
    kind, _, rest = origin.partition(":")
    if kind == "telegram":
        return f"the Telegram user {rest}" if rest else "Telegram"
    if kind == "limit":
        return _LIMIT_NAMES.get(rest, f"the {rest.replace('_', ' ')} limit")
    if kind == "user" and rest:
        return f"user {rest}"
    return {"restart": "a restart", "": "an unknown origin"}.get(origin, origin)


def _title(what: str, side: Side, size: str, symbol: str) -> str:
    """"Buy 0.01 BTC"; an action with a name of its own keeps it: "Close 100% of BTC: sell 0.01 BTC"."""
    own = f"{side.value} {size} {symbol}"
    if what.strip().lower() in ("", side.value):
        return _cap(own)
    named = f"{_cap(what)}: {own}"
    if len(named) <= PROSE_COLUMNS - 14:  # room for " on hyperliquid" after it
        return named
    return textwrap.fill(f"{_cap(what)}:", PROSE_COLUMNS - 2, break_on_hyphens=False) + "\n" + _cap(own)


def _pos(m: Market | None, size: Decimal) -> str:
    return "flat" if size == 0 else fmt_size(m, size, sign=True)


def usage_view(err: UsageError) -> str:
    examples = [e for e in err.example.split("   ") if e]
    return "\n".join([wrap(f"⚠️ {clip(err.problem, 200)}"), "Usage:",
                      f"<code>{wrap(err.usage, indent='  ', first='')}</code>",
                      "Example:",
                      *[f"<code>{esc(e)}</code>" for e in examples]])


def _answered(items: list[PerVenue[T]], lines: list[str]) -> Iterator[tuple[str, T]]:
    """(venue, answer) in order; a venue that could not be read gets its lines instead."""
    for r in items:
        if r.value is None:
            why = f"({clip(r.error or 'no answer')})"
            if len(r.venue) + len(why) + 17 <= PROSE_COLUMNS:
                lines.append(f"\n<b>{esc(r.venue)}</b>: ⚠️ unavailable {esc(why)}")
            else:
                lines += [f"\n<b>{esc(r.venue)}</b>: ⚠️ unavailable", wrap(why, indent="   ")]
        else:
            yield r.venue, r.value


def balances_view(items: list[PerVenue[AccountBalances]]) -> str:
    lines = ["<b>Balances</b>"]
    total = ZERO
    for venue, b in _answered(items, lines):
        total += b.equity
        rows = [("Account value", fmt_usd(b.account_value)), ("Margin used", fmt_usd(b.margin_used)),
                ("Withdrawable", fmt_usd(b.withdrawable))]
        for s in b.spot:
            rows.append((s.asset, fmt_amount(s.asset, s.total)))
            if s.asset.upper() not in USD_STABLES:  # a stable's amount is its value
                rows.append(("  in USD", fmt_usd(s.usd_value) if s.usd_value is not None else "unknown"))
        lines.append(f"\n<b>{esc(venue)}</b>" + kv_table(rows))
    lines.append(f"\n<b>Total equity: {esc(fmt_usd(total))}</b>")
    return "\n".join(lines)


def _triggers(p: Position, orders: PerVenue[list[Order]] | None, m: Market | None) -> list[tuple[str, str]]:
    """The position's TP and SL: open trigger orders of its market on the side that closes it; the
    size too where one covers only part of the position."""
    if orders is None:
        return []
    if orders.value is None:
        return [("TP/SL", "unknown")]
    rows = []
    for o in orders.value:
        if o.symbol == p.symbol and o.trigger_price is not None and o.order_type in _TRIGGER \
                and o.side is not p.side:
            shown = fmt_price(m, o.trigger_price)
            rows.append((_TRIGGER[o.order_type],
                         shown if o.remaining >= abs(p.size) else f"{shown} ×{fmt_size(m, o.remaining)}"))
    return sorted(rows, key=lambda r: r[0] != "TP")


def positions_view(items: list[PerVenue[list[Position]]], markets: dict[tuple[str, str], Market],
                   orders: list[PerVenue[list[Order]]] | None = None) -> str:
    """`orders`: the open orders of each venue (for TP/SL); None: not asked."""
    lines = ["<b>Positions</b>"]
    by_venue = {o.venue: o for o in orders or []}
    count = 0
    for venue, held in _answered(items, lines):
        for p in held:
            count += 1
            m = markets.get((p.exchange, p.symbol))
            side = "LONG" if p.size > 0 else "SHORT"
            # against what was put up when the position was opened, not today's margin
            opening = p.entry_price * abs(p.size) / p.leverage if p.leverage else ZERO
            pct = p.unrealized_pnl / opening * 100 if opening else None
            upnl = fmt_usd(p.unrealized_pnl, sign=True) + (f" {fmt_pct(pct)}" if pct is not None else "")
            rows = [("Size", fmt_size(m, p.size, sign=True)), ("Entry", fmt_price(m, p.entry_price)),
                    ("Mark", fmt_price(m, p.mark_price)), ("uPnL", upnl),
                    ("Leverage", f"{p.leverage}x {p.leverage_type}"),
                    ("Liq.", fmt_price(m, p.liquidation_price) if p.liquidation_price else "none")]
            rows += _triggers(p, by_venue.get(venue) if orders is not None else None, m)
            lines.append(f"\n<b>{esc(p.symbol)}</b> {side} on {esc(p.exchange)}" + kv_table(rows))
    if count == 0:
        lines.append("No open positions.")
    return "\n".join(lines)


def _order_lines(o: Order, m: Market | None) -> list[str]:
    """An order in two lines: what it trades, then at what and its id (for /cancel)."""
    flags = [f for f, on in (("reduce", o.reduce_only), ("post", o.tif is TimeInForce.ALO)) if on]
    head = " ".join([o.symbol, o.side.value.upper(), fmt_size(m, o.remaining), *flags])
    if o.trigger_price is not None:
        at = f"{_TRIGGER.get(o.order_type, o.order_type.value)} @{fmt_price(m, o.trigger_price)}"
    else:
        at = "market" if o.price is None else f"limit {fmt_price(m, o.price)}"
    if o.filled > 0:
        at += f", {fmt_size(m, o.filled)} filled"
    ref = f"#{o.order_id or '?'}"
    if len(at) + 3 + len(ref) <= PHONE_COLUMNS:
        return [head, f"  {at} {ref.rjust(PHONE_COLUMNS - len(at) - 3)}"]
    return [head, f"  {at}", f"  {ref}"]


def orders_view(items: list[PerVenue[list[Order]]], markets: dict[tuple[str, str], Market]) -> str:
    lines = ["<b>Open orders</b>"]
    count = 0
    for venue, listed in _answered(items, lines):
        if not listed:
            continue
        count += len(listed)
        lines.append(f"\n<b>{esc(venue)}</b> ({len(listed)})")
        body = [x for o in listed for x in _order_lines(o, markets.get((o.exchange, o.symbol)))]
        lines.append("<pre>" + esc("\n".join(body)) + "</pre>")
    if count == 0:
        lines.append("No open orders.")
    return "\n".join(lines)


def preview_view(pv: Preview, what: str, *, requote: bool = False, ttl_s: int = 60) -> str:
    r, m = pv.request, pv.market
    spot = m is not None and m.kind is MarketKind.SPOT
    kind = "market" if r.price is None else f"limit {fmt_price(m, r.price)}"
    if r.trigger_price is not None:  # a TP/SL of its own: it waits for its trigger, then trades at market
        kind = f"when the mark reaches {fmt_price(m, r.trigger_price)}"
    flags = [f for f, on in (("reduce-only", r.reduce_only), ("post-only", r.tif is TimeInForce.ALO),
                             ("IOC", r.tif is TimeInForce.IOC and r.price is not None)) if on]
    rows = [("Est. price", fmt_price(m, pv.est_price)), ("Value", fmt_usd(pv.notional)), ("Fee", fmt_usd(pv.fee))]
    if spot:
        assert m is not None
        rows.append((m.base, f"{fmt_amount(m.base, pv.position_before)} → {fmt_amount(m.base, pv.position_after)}"))
    else:
        rows += [("Margin", fmt_usd(pv.margin)), ("Leverage", f"{pv.leverage}x"),
                 ("Position", f"{_pos(m, pv.position_before)} → {_pos(m, pv.position_after)}")]
        if pv.position_after != 0:
            rows.append(("Liq. (est)", fmt_price(m, pv.liquidation_price) if pv.liquidation_price else "none"))
    if r.take_profit is not None:
        rows.append(("TP", fmt_price(m, r.take_profit)))
    if r.stop_loss is not None:
        rows.append(("SL", fmt_price(m, r.stop_loss)))
    lines = ["🔁 <b>Price moved: fresh quote</b>"] if requote else []
    lines += [f"<b>{esc(_title(what, r.side, fmt_size(m, r.size), r.symbol))}</b>",
              wrap(f"on {r.exchange}, {kind}" + (f" ({', '.join(flags)})" if flags else "")) + kv_table(rows)]
    lines += [wrap(f"⚠️ {clip(w)}") for w in pv.warnings]
    if pv.refusals:
        lines.append("<b>Refused</b>, nothing will be sent:")
        lines += [wrap(f"⛔ {clip(x.message)} [{x.code}]") for x in pv.refusals]
    else:
        lines.append(f"Confirm within {ttl_s} seconds.")
    return "\n".join(lines)


def order_result_view(order: Order, m: Market | None, what: str) -> str:
    s = order.status
    head = f"<b>{esc(_title(what, order.side, fmt_size(m, order.size), order.symbol))}</b> on {esc(order.exchange)}"
    filled, avg, oid = fmt_size(m, order.filled), fmt_price(m, order.avg_price), order.order_id or "?"
    if s is OrderStatus.FILLED:
        body = f"✅ Filled {filled} at avg {avg}"
    elif s in (OrderStatus.OPEN, OrderStatus.WAITING_TRIGGER):
        body = f"🟢 Resting (order {oid})"
    elif s is OrderStatus.PARTIALLY_FILLED:
        body = f"🟡 Partly filled {filled} at avg {avg}; the rest rests (order {oid})"
    elif s is OrderStatus.CANCELED and order.filled > 0:
        body = (f"🟡 Filled {filled} of {fmt_size(m, order.size)} at avg {avg};"
                f" {clip(order.reason or 'the rest was cancelled')}")
    elif rejected_before_sending(order):
        body = f"❌ Rejected before sending: {clip(order.reason or '')}"
    elif s is OrderStatus.REJECTED or s is OrderStatus.CANCELED:
        body = f"❌ Rejected by {order.exchange}: {clip(order.reason or 'no reason given')}"
    else:
        body = "⏳ Sent; the venue's answer is not known yet. It is being looked up by its client id; check /orders."
    return f"{head}\n{wrap(body)}"


def outcome_view(o: Outcome) -> str:
    return {
        Status.USED: "This confirmation was already used.",
        Status.NOT_YOURS: "This confirmation belongs to someone else.",
        Status.EXPIRED: "This quote expired; nothing was sent. Send the command again.",
        Status.UNKNOWN: "This confirmation is not known; nothing was sent.",
        Status.CANCELLED: "Cancelled; nothing was sent.",
    }.get(o.status) or wrap(clip(o.detail or o.status))


def kill_view(report: KillReport) -> str:
    """The kill report: per venue what the venue itself confirmed, what is still open, what is being
    retried. ✅ only for what was read back from the venue."""
    lines = ["🛑 <b>KILL SWITCH</b>. Trading is HALTED.", wrap(f"Why: {report.reason}, by {who(report.by)}.")]
    for v in report.venues:
        closed = ", ".join(v.closed) if v.closed else "none"
        done = f"{plural(v.cancelled, 'order')} cancelled; closed: {closed}"
        if v.ok:
            lines.append(f"✅ <b>{esc(v.venue)}</b>: confirmed by the venue")
        else:
            status = "⏳" if v.venue in report.retrying else "⚠️"
            lines.append(f"{status} <b>{esc(v.venue)}</b>: not confirmed yet (attempt {v.attempts})")
        lines.append(wrap(done, indent="   "))
        if not v.ok:
            if v.remaining_orders:
                lines.append(f"   ❗ {plural(v.remaining_orders, 'order')} still open")
            if v.remaining_positions:
                lines.append(wrap(f"❗ still open: {', '.join(v.remaining_positions)}", indent="     ", first="   "))
            lines += [wrap(f"❗ {clip(f, 200)}", indent="     ", first="   ") for f in v.failures]
        if v.kept_positions:
            lines.append(wrap(f"positions kept: {', '.join(v.kept_positions)}", indent="   "))
    if report.retrying:
        lines.append(wrap(f"⏳ Still working on {', '.join(report.retrying)}: retrying until the venue confirms;"
                          " this message is updated then."))
    if report.flatten == "ask" and report.kept_positions:
        lines.append("Positions were kept. Flatten them now?")
    lines.append("Use /resume to trade again.")
    return "\n".join(lines)


def _errors(items: list[PerVenue[T]]) -> list[str]:
    return [wrap(f"⚠️ {r.venue}: {clip(r.error or 'no answer', 200)}") for r in items if r.value is None]


def prices_view(symbol: str, items: list[PerVenue[Ticker]], markets: dict[tuple[str, str], Market]) -> str:
    if not items:
        return f"No enabled exchange lists {esc(symbol)}."
    rows: list[tuple[str, str]] = []
    mids: list[tuple[Decimal, Market | None]] = []
    for r in items:
        if r.value is None:
            continue
        m, t = markets.get((r.venue, symbol)), r.value
        rows += [(r.venue, ""), ("  Bid", fmt_price(m, t.bid)), ("  Ask", fmt_price(m, t.ask)),
                 ("  Mark", fmt_price(m, t.mark))]
        mids.append((t.mid, m))
    text = "\n".join([f"<b>{esc(symbol)}</b>" + kv_table(rows), *_errors(items)])
    if len(mids) > 1:
        lo, hi = min(x for x, _ in mids), max(x for x, _ in mids)
        spread = fmt_price(mids[0][1], hi - lo) if hi > lo else "0"
        bps = fmt_sig((hi - lo) / lo * 10_000, 3) if lo > 0 else "?"
        text += f"\nSpread between venues: {esc(spread)} ({esc(bps)} bps of the lower mid)"
    return text


def _who_pays(rate: Decimal) -> str:
    return "longs pay shorts" if rate > 0 else "shorts pay longs" if rate < 0 else "no one"


def funding_view(symbol: str, items: list[PerVenue[FundingRate]], now_ms: int, tz: str = "UTC") -> str:
    if not items:
        return f"No enabled exchange lists {esc(symbol)}."
    rows: list[tuple[str, str]] = []
    for r in items:
        if r.value is None:
            continue
        f = r.value
        rows += [(r.venue, ""), ("  Rate", f"{fmt_sig(f.rate * 100, 4, sign=True)}%/{f.interval_hours}h"),
                 ("  APR", fmt_pct(f.rate * 100 * 24 * 365 / f.interval_hours)),
                 ("  Next", f"{fmt_time(f.next_ms, tz, now_ms)}, {fmt_in(f.next_ms - now_ms)}"
                  if f.next_ms is not None else "unknown"),
                 ("  Who pays", _who_pays(f.rate))]
    text = "\n".join([f"<b>Funding {esc(symbol)}</b> ({esc(tz)})" + kv_table(rows), *_errors(items)])
    aprs = [(r.venue, r.value.rate * 24 * 365 / r.value.interval_hours) for r in items
            if r.value is not None and r.value.interval_hours > 0]
    if len(aprs) > 1:  # venues pay at different intervals: compared per year
        (hi_v, hi), (lo_v, lo) = max(aprs, key=lambda a: a[1]), min(aprs, key=lambda a: a[1])
        text += "\n" + wrap(f"Funding difference: {hi_v} {fmt_pct(hi * 100)} APR vs {lo_v} {fmt_pct(lo * 100)}"
                            f" ({fmt_sig((hi - lo) * 100, 4)} points a year)")
    return text


def pnl_view(periods: list[PnLPeriod], unrealized: Decimal) -> str:
    rows: list[tuple[str, str]] = []
    for p in periods:
        rows += [(_cap(p.name), ""), ("  Realized", fmt_usd(p.realized, sign=True)),
                 ("  Fees", fmt_usd(-p.fees, sign=True)),
                 ("  Funding", fmt_usd(p.funding, sign=True) if p.funding is not None else "unknown"),
                 ("  Net", fmt_usd(p.net, sign=True))]
    return ("<b>PnL</b>" + kv_table(rows)
            + f"\nUnrealized now: {esc(fmt_usd(unrealized, sign=True))}"
            + "\n" + wrap(f"Trades: {', '.join(f'{p.name} {p.trades}' for p in periods)}"))


def status_view(items: list[VenueStatus], state: str, reason: str, loss_line: str, uptime_s: float,
                version: str) -> str:
    lines = [f"<b>Status</b>: trading {esc(state)}"]
    if reason:
        lines.append(wrap(f"({clip(reason, 200)})"))
    for s in items:
        conn = {True: "🟢 streaming", False: "🔴 stream down", None: "⚪ no stream yet"}[s.connected]
        if s.stream_why:
            conn += f" ({clip(s.stream_why, 200)}; reconnecting, reads go to REST)"
        lines.append(_bold_head(s.venue, f"{s.venue}: {conn}"))
        rest = f"REST {s.rest_ms:.0f} ms" if s.rest_ms is not None else f"REST ⚠️ {clip(s.error or '', 200)}"
        age = f"last event {s.stream_age_s:.0f}s ago" if s.stream_age_s is not None else "no events yet"
        lines.append(wrap(f"{age}, {rest}", indent="   "))
        if s.headroom:
            lines.append(wrap(f"rate limits: {s.headroom}", indent="     ", first="   "))
        if s.circuit:
            lines.append(wrap(f"⛔ {s.circuit}", indent="   "))
    hours, rem = divmod(int(uptime_s), 3600)
    lines += [wrap(x) for x in loss_line.split("\n")]
    lines.append(wrap(f"Uptime {hours}h {rem // 60}m · tradebot {version}"))
    return "\n".join(lines)


def _bold_head(head: str, text: str) -> str:
    """`text` (which starts with `head`) wrapped, with `head` in bold."""
    wrapped = wrap(text, indent="   ", first="")
    return f"<b>{esc(head)}</b>{wrapped[len(esc(head)):]}" if wrapped.startswith(esc(head)) else wrapped


@dataclass(frozen=True)
class LimitRow:
    """One limit: its current value (None: a bound on each order, nothing to measure) and its bound."""

    name: str
    now: str | None
    bound: str
    word: str = "max"  # "min" for a lower bound


def limits_view(state: str, rows: list[LimitRow]) -> str:
    cells: list[list[str]] = []
    for r in rows:
        if r.now is not None:
            cells += [[r.name, "now", r.now], ["", r.word, r.bound]]
        else:
            cells.append([r.name, r.word, r.bound])
    return f"<b>Limits</b> (trading {esc(state)})" + table(cells, right=[2])
