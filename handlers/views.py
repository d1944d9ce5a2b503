"""Pure views: service data in, Telegram HTML out. Every dynamic value is escaped."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TypeVar

from bot.desk import Outcome
from bot.services import PerVenue, PnLPeriod, VenueStatus
from exchanges.models import AccountBalances, FundingRate, Market, Order, OrderStatus, Position, Ticker
from handlers.parsing import UsageError
from handlers.render import esc, fmt_num, fmt_pct, fmt_price, fmt_size, fmt_usd, table
from risk.events import KillReport
from risk.orders import Preview, rejected_before_sending

T = TypeVar("T")

ZERO = Decimal(0)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def usage_view(err: UsageError) -> str:
    return f"⚠️ {esc(err.problem)}\nUsage: <code>{esc(err.usage)}</code>\nExample: <code>{esc(err.example)}</code>"


def _answered(items: list[PerVenue[T]], lines: list[str]) -> Iterator[tuple[str, T]]:
    """(venue, answer) in order; a venue that could not be read gets its line instead."""
    for r in items:
        if r.value is None:
            lines.append(f"<b>{esc(r.venue)}</b>: ⚠️ unavailable ({esc(r.error)})")
        else:
            yield r.venue, r.value


def balances_view(items: list[PerVenue[AccountBalances]]) -> str:
    lines = ["<b>Balances</b>"]
    total = ZERO
    for venue, b in _answered(items, lines):
        total += b.equity
        lines.append(f"\n<b>{esc(venue)}</b>")
        lines.append(table([["Account value", fmt_usd(b.account_value)], ["Margin used", fmt_usd(b.margin_used)],
                            ["Withdrawable", fmt_usd(b.withdrawable)]], right=[1]))
        if b.spot:
            rows = [[s.asset, fmt_num(s.total), fmt_usd(s.usd_value) if s.usd_value is not None else "?"]
                    for s in b.spot]
            lines.append("Spot:" + table(rows, ["Asset", "Total", "USD"], right=[1, 2]))
    lines.append(f"\n<b>Total equity: {esc(fmt_usd(total))}</b>")
    return "\n".join(lines)


def positions_view(items: list[PerVenue[list[Position]]], markets: dict[tuple[str, str], Market]) -> str:
    lines = ["<b>Positions</b>"]
    count = 0
    for _, held in _answered(items, lines):
        for p in held:
            count += 1
            m = markets.get((p.exchange, p.symbol))
            side = "LONG" if p.size > 0 else "SHORT"
            margin = p.margin_used or ZERO
            pct = p.unrealized_pnl / margin * 100 if margin else ZERO
            rows = [["Size", fmt_size(m, p.size, sign=True)], ["Entry", fmt_price(m, p.entry_price)],
                    ["Mark", fmt_price(m, p.mark_price)],
                    ["uPnL", f"{fmt_usd(p.unrealized_pnl, sign=True)} {fmt_pct(pct)}"],
                    ["Leverage", f"{p.leverage}x {p.leverage_type}"], ["Liq.", fmt_price(m, p.liquidation_price)]]
            lines.append(f"\n<b>{esc(p.symbol)}</b> {side} on {esc(p.exchange)}" + table(rows, right=[1]))
    if count == 0:
        lines.append("No open positions.")
    return "\n".join(lines)


def _order_row(o: Order, m: Market | None) -> list[str]:
    price = "market" if o.price is None else fmt_price(m, o.price)
    if o.trigger_price is not None:
        price = f"{o.order_type.value} @{fmt_price(m, o.trigger_price)}"
    return [o.symbol, o.side.value, fmt_size(m, o.remaining), price, o.order_id or "?"]


def orders_view(items: list[PerVenue[list[Order]]], markets: dict[tuple[str, str], Market]) -> str:
    lines = ["<b>Open orders</b>"]
    count = 0
    for venue, listed in _answered(items, lines):
        if not listed:
            continue
        count += len(listed)
        rows = [_order_row(o, markets.get((o.exchange, o.symbol))) for o in listed]
        lines.append(f"\n<b>{esc(venue)}</b> ({len(rows)})")
        # one table row per line, so a long listing splits cleanly between orders
        lines.append(table(rows, ["Mkt", "Side", "Size", "Price", "Id"], right=[2, 3]))
    if count == 0:
        lines.append("No open orders.")
    return "\n".join(lines)


def preview_view(pv: Preview, what: str, *, requote: bool = False, ttl_s: int = 60) -> str:
    r, m = pv.request, pv.market
    head = "🔁 <b>Price moved: fresh quote</b>\n" if requote else ""
    kind = "market" if r.price is None else f"limit {fmt_price(m, r.price)}"
    flags = [f for f, on in (("reduce-only", r.reduce_only), ("post-only", r.tif.value == "alo"),
                             ("IOC", r.tif.value == "ioc" and r.price is not None)) if on]
    title = f"{r.side.value.upper()} {fmt_size(m, r.size)} {r.symbol} on {r.exchange}, {kind}"
    rows = [["Est. price", fmt_price(m, pv.est_price)], ["Value", fmt_usd(pv.notional)], ["Fee", fmt_usd(pv.fee)],
            ["Margin", fmt_usd(pv.margin)], ["Leverage", f"{pv.leverage}x"],
            ["Position", f"{fmt_size(m, pv.position_before, sign=True)} → {fmt_size(m, pv.position_after, sign=True)}"],
            ["Liq. (est)", fmt_price(m, pv.liquidation_price)]]
    if r.take_profit is not None:
        rows.append(["Take profit", fmt_price(m, r.take_profit)])
    if r.stop_loss is not None:
        rows.append(["Stop loss", fmt_price(m, r.stop_loss)])
    lines = [f"{head}<b>{esc(_cap(what))}</b>: {esc(title)}" + (f" ({esc(', '.join(flags))})" if flags else ""),
             table(rows, right=[1])]
    lines += [f"⚠️ {esc(w)}" for w in pv.warnings]
    if pv.refusals:
        lines.append("<b>Refused</b>, nothing will be sent:")
        lines += [f"⛔ {esc(x.message)} <i>[{esc(x.code)}]</i>" for x in pv.refusals]
    else:
        lines.append(f"Confirm within {ttl_s} seconds.")
    return "\n".join(lines)


def order_result_view(order: Order, m: Market | None, what: str) -> str:
    s = order.status
    head = f"<b>{esc(_cap(what))}</b>: {esc(order.side.value.upper())} {esc(fmt_size(m, order.size))}" \
           f" {esc(order.symbol)} on {esc(order.exchange)}"
    if s is OrderStatus.FILLED:
        body = f"✅ Filled {esc(fmt_size(m, order.filled))} at avg {esc(fmt_price(m, order.avg_price))}"
    elif s in (OrderStatus.OPEN, OrderStatus.WAITING_TRIGGER):
        body = f"🟢 Resting (order {esc(order.order_id)})"
    elif s is OrderStatus.PARTIALLY_FILLED:
        body = (f"🟡 Partly filled {esc(fmt_size(m, order.filled))} at avg {esc(fmt_price(m, order.avg_price))};"
                f" the rest rests (order {esc(order.order_id)})")
    elif s is OrderStatus.CANCELED and order.filled > 0:
        body = (f"🟡 Filled {esc(fmt_size(m, order.filled))} of {esc(fmt_size(m, order.size))} at avg"
                f" {esc(fmt_price(m, order.avg_price))}; {esc(order.reason or 'the rest was cancelled')}")
    elif rejected_before_sending(order):
        body = f"❌ Rejected before sending: {esc(order.reason or '')}"
    elif s is OrderStatus.REJECTED or s is OrderStatus.CANCELED:
        body = f"❌ Rejected by {esc(order.exchange)}: {esc(order.reason or 'no reason given')}"
    else:
        body = "⏳ Sent; the venue's answer is not known yet. It is being looked up by its client id; check /orders."
    return f"{head}\n{body}"


def outcome_view(o: Outcome) -> str:
    return {
        "used": "This confirmation was already used.",
        "not_yours": "This confirmation belongs to someone else.",
        "expired": "This quote expired; nothing was sent. Send the command again.",
        "unknown": "This confirmation is not known; nothing was sent.",
        "cancelled": "Cancelled; nothing was sent.",
    }.get(o.status, o.detail or o.status)


def kill_view(report: KillReport) -> str:
    """The kill report: per venue what the venue itself confirmed, what is still open, what is being
    retried. ✅ only for what was read back from the venue."""
    lines = [f"🛑 <b>KILL SWITCH</b> ({esc(report.reason)}, by {esc(report.by)}). Trading is HALTED."]
    for v in report.venues:
        closed = ", ".join(v.closed) if v.closed else "none"
        if v.ok:
            lines.append(f"✅ <b>{esc(v.venue)}</b>: {v.cancelled} order(s) cancelled; closed: {esc(closed)};"
                         " confirmed by the venue")
        else:
            status = "⏳" if v.venue in report.retrying else "⚠️"
            lines.append(f"{status} <b>{esc(v.venue)}</b>: {v.cancelled} order(s) cancelled; closed: {esc(closed)};"
                         f" not confirmed yet (attempt {v.attempts})")
            if v.remaining_orders:
                lines.append(f"   ❗ {v.remaining_orders} order(s) still open")
            if v.remaining_positions:
                lines.append(f"   ❗ still open: {esc(', '.join(v.remaining_positions))}")
            lines += [f"   ❗ {esc(f)}" for f in v.failures]
        if v.kept_positions:
            lines.append(f"   positions kept: {esc(', '.join(v.kept_positions))}")
    if report.retrying:
        lines.append(f"⏳ Still working on {esc(', '.join(report.retrying))}: retrying until the venue confirms;"
                     " this message is updated then.")
    if report.flatten == "ask" and report.kept_positions:
        lines.append("Positions were kept. Flatten them now?")
    lines.append("Use /resume to trade again.")
    return "\n".join(lines)


def prices_view(symbol: str, items: list[PerVenue[Ticker]], markets: dict[tuple[str, str], Market]) -> str:
    rows, mids = [], []
    for r in items:
        if r.value is None:
            rows.append([r.venue, "error", "", ""])
            continue
        m = markets.get((r.venue, symbol))
        t = r.value
        rows.append([r.venue, fmt_price(m, t.bid), fmt_price(m, t.ask), fmt_price(m, t.mark)])
        mids.append(t.mid)
    if not rows:
        return f"No enabled exchange lists {esc(symbol)}."
    text = f"<b>{esc(symbol)}</b>" + table(rows, ["Venue", "Bid", "Ask", "Mark"], right=[1, 2, 3])
    if len(mids) > 1:
        lo, hi = min(mids), max(mids)
        text += f"\nSpread between venues: {esc(fmt_num(hi - lo))} ({esc(fmt_pct((hi - lo) / lo * 100, sign=False))})"
    return text


def funding_view(symbol: str, items: list[PerVenue[FundingRate]]) -> str:
    rows = []
    for r in items:
        if r.value is None:
            rows.append([r.venue, "error", ""])
            continue
        f = r.value
        rows.append([r.venue, f"{fmt_num(f.rate * 100, 4)}%/{f.interval_hours}h",
                     f"{fmt_num(f.rate * 100 * 24 * 365 / f.interval_hours, 1)}%/y"])
    if not rows:
        return f"No enabled exchange lists {esc(symbol)}."
    return f"<b>Funding {esc(symbol)}</b>" + table(rows, ["Venue", "Rate", "APR"], right=[1, 2])


def pnl_view(periods: list[PnLPeriod], unrealized: Decimal) -> str:
    rows = [[p.name, fmt_usd(p.realized, sign=True), fmt_usd(-p.fees, sign=True),
             fmt_usd(p.funding, sign=True) if p.funding is not None else "?", fmt_usd(p.net, sign=True)]
            for p in periods]
    return ("<b>PnL</b>" + table(rows, ["Period", "Realized", "Fees", "Funding", "Net"], right=[1, 2, 3, 4])
            + f"\nUnrealized now: {esc(fmt_usd(unrealized, sign=True))}"
            + f"\nTrades: {', '.join(f'{esc(p.name)} {p.trades}' for p in periods)}")


def status_view(items: list[VenueStatus], state: str, reason: str, loss_line: str, uptime_s: float,
                version: str) -> str:
    lines = [f"<b>Status</b>: trading {esc(state)}" + (f" ({esc(reason)})" if reason else "")]
    for s in items:
        conn = {True: "🟢 streaming", False: "🔴 stream down", None: "⚪ no stream yet"}[s.connected]
        if s.stream_why:
            conn += f" ({s.stream_why}; reconnecting, reads go to REST)"
        rest = f"REST {s.rest_ms:.0f} ms" if s.rest_ms is not None else f"REST ⚠️ {s.error}"
        age = f"last event {s.stream_age_s:.0f}s ago" if s.stream_age_s is not None else "no events yet"
        lines.append(f"<b>{esc(s.venue)}</b>: {conn}, {esc(rest)}, {esc(age)}")
        if s.headroom:
            lines.append(f"   rate limits: {esc(s.headroom)}")
    hours, rem = divmod(int(uptime_s), 3600)
    lines += [esc(loss_line), f"Uptime {hours}h {rem // 60}m · tradebot {esc(version)}"]
    return "\n".join(lines)


def limits_view(rows: list[list[str]]) -> str:
    return "<b>Limits</b>" + table(rows, ["Limit", "Now", "Max"], right=[1, 2])
