"""/spread: the cross-venue table (Refresh), the two-leg preview (Execute) and the pair's report.

Buttons: `sr:SYMBOL|all` refresh the table, `sp:SYMBOL` open a two-leg preview, `sx:TOKEN` execute
the previewed pair (a single-use confirmation token), `no:TOKEN` discards it (the shared Cancel)."""

from __future__ import annotations

from decimal import Decimal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from desk.desk import TOKEN_REFUSED, Confirm, Status
from desk.spreads import PairQuote, Spreads
from handlers import views
from handlers.common import Ctx, edit, reply, svc, who
from handlers.parsing import UsageError
from handlers.render import esc, kv_table
from risk.pairs import PairReport
from risk.spreads import Verdict

Q2 = Decimal("0.01")


def _bps(x: Decimal | None) -> str:
    return "?" if x is None else f"{x.quantize(Decimal('0.1'))} bps"


def _usd(x: Decimal | None) -> str:
    return "?" if x is None else f"{'-' if x < 0 else ''}${abs(x).quantize(Q2):,}"


def _num(x: Decimal | None) -> str:
    return "?" if x is None else f"{x.normalize():f}"


def spreads_of(context: Ctx) -> Spreads:
    spreads = svc(context).desk.spreads
    if spreads is None:
        raise UsageError("Spreads are not set up in this bot.", "/spread [SYMBOL]", "/spread BTC")
    return spreads


# ---- views (pure) ----
def table_view(verdicts: list[Verdict], min_net_bps: Decimal) -> str:
    if not verdicts:
        return "No market is listed on two enabled exchanges."
    parts = [f"<b>Cross-venue spreads</b> (alert at ≥ {esc(min_net_bps)} bps net)"]
    for v in verdicts:
        o = v.best
        if o is None:
            parts.append(f"<b>{esc(v.symbol)}</b>: no opportunity ({esc(v.reason or 'no data')})")
            continue
        rows = [(f"Buy {o.buy_venue}", _num(o.best_ask)), (f"Sell {o.sell_venue}", _num(o.best_bid)),
                ("Gross", _bps(o.gross_bps)), ("Fees", _bps(o.fees_bps)), ("Net", _bps(o.net_bps)),
                ("Size ≥ alert", _num(o.size) if o.size else "none")]
        if o.funding_per_hour is not None:
            rows.append(("Carry /h", f"{(o.funding_per_hour * 100).quantize(Decimal('0.0001'))}%"))
            rows.append(("Carry /yr", f"{(o.carry_annual_pct or Decimal(0)).quantize(Q2)}%"))
        parts.append(f"<b>{esc(v.symbol)}</b>" + kv_table(rows))
    return "\n".join(parts)


def alert_view(symbol: str, buy: str, sell: str, net_bps: Decimal, size: Decimal, ask: Decimal, bid: Decimal) -> str:
    return (f"📈 <b>{esc(symbol)} spread</b>: buy {esc(buy)} at {esc(_num(ask))}, sell {esc(sell)} at"
            f" {esc(_num(bid))}: <b>{esc(_bps(net_bps))}</b> net of both taker fees, up to {esc(_num(size))}"
            f" {esc(symbol)} on the books now. Execute opens a preview; nothing is sent without it.")


def preview_view(q: PairQuote) -> str:
    if q.plan is None:
        return "⛔ " + esc("; ".join(r.message for r in q.refusals))
    p = q.plan
    rows = [("Market", p.symbol), (f"Buy {p.buy.venue}", _num(p.buy.size)), ("  limit (IOC)", _num(p.buy.price)),
            (f"Sell {p.sell.venue}", _num(p.sell.size)), ("  limit (IOC)", _num(p.sell.price))]
    if q.previews is not None:
        pb, ps = q.previews
        rows += [("  expected buy", _num(pb.est_price)), ("  expected sell", _num(ps.est_price)),
                 ("Fees", _usd(q.fees)), ("Expected net", _usd(q.expected_net)),
                 (f"Margin {p.buy.venue}", _usd(pb.margin)), (f"Margin {p.sell.venue}", _usd(ps.margin))]
    if q.opportunity is not None:
        rows.append(("Edge now", _bps(q.opportunity.net_bps)))
    text = "<b>Two-leg preview</b>" + kv_table(rows)
    if q.refusals:
        text += "\n⛔ " + "\n⛔ ".join(esc(r.message) for r in q.refusals)
    if q.warnings:
        text += "\n⚠️ " + "\n⚠️ ".join(esc(w) for w in q.warnings)
    return text


def report_view(r: PairReport) -> str:
    rows: list[tuple[str, str]] = []
    for o in r.orders:
        filled = "unknown" if o.filled is None else _num(o.filled)
        px = f" @ {_num(o.avg_price)}" if o.filled and o.avg_price is not None else ""
        rows.append((f"{o.role} {o.side.value} {o.venue}", f"{filled}{px}"))
    rows.append(("Net after fees", _usd(r.cash) + (" (fees at the taker rate)" if r.cash is not None
                                                   and not r.fees_from_fills else "")))
    if r.skew_us is not None:
        rows.append(("Leg skew", f"{r.skew_us} µs"))
    head = f"<b>Pair {esc(r.pair_id)} {esc(r.symbol)}</b>"
    lines = [head + kv_table(rows), *(f"• {esc(n)}" for n in r.notes)]
    if r.residual is None:
        lines.append("⚠️ <b>Residual exposure unknown</b>: an order's outcome is still being checked on the venue."
                     " Check /positions; 🛑 KILL flattens everything.")
    elif r.residual != 0:
        lines.append(f"⚠️ <b>Residual exposure {esc(_num(r.residual))} {esc(r.symbol)} on {esc(r.residual_venue)}</b>"
                     " could not be hedged. 🛑 KILL flattens everything.")
    else:
        lines.append("✅ Residual exposure: zero (both venues' reports).")
    return "\n".join(lines)


def table_keyboard(verdicts: list[Verdict], what: str, executable: bool) -> InlineKeyboardMarkup:
    rows = []
    if executable:
        rows = [[InlineKeyboardButton(f"Execute {v.symbol}", callback_data=f"sp:{v.symbol}")]
                for v in verdicts if v.best is not None and v.best.size > 0]
    rows.append([InlineKeyboardButton("🔄 Refresh", callback_data=f"sr:{what}")])
    return InlineKeyboardMarkup(rows)


def confirm_keyboard(token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("✅ Execute both legs", callback_data=f"sx:{token}"),
                                  InlineKeyboardButton("❌ Cancel", callback_data=f"no:{token}")]])


# ---- handlers ----
async def _table(context: Ctx, what: str) -> tuple[str, InlineKeyboardMarkup]:
    spreads = spreads_of(context)
    verdicts = await spreads.table(None if what == "all" else what)
    return table_view(verdicts, spreads.settings.min_net_bps), table_keyboard(verdicts, what, spreads.settings.enabled)


async def spread(update: Update, context: Ctx) -> str:
    args = list(context.args or [])
    if len(args) > 1:
        raise UsageError("Say one market, or none for all.", "/spread [SYMBOL]", "/spread BTC")
    what = args[0].upper() if args else "all"
    await reply(update, context, *await _table(context, what))
    return "shown"


async def on_refresh(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    what = (query.data or "").split(":", 1)[1]
    await edit(update, *await _table(context, what))
    return f"refreshed spread {what}"


async def on_preview(update: Update, context: Ctx) -> str:
    query = update.callback_query
    assert query is not None
    await query.answer()
    spreads = spreads_of(context)
    symbol = (query.data or "").split(":", 1)[1]
    if not spreads.settings.enabled:
        await reply(update, context, "Arbitrage is off (arbitrage.enabled in the config): nothing can be executed.")
        return "arbitrage off"
    q = await spreads.quote(symbol)
    if not q.ok:
        await reply(update, context, preview_view(q))
        return "refused"
    user, chat = who(update)
    token = await svc(context).desk.quote_action(user, chat, Confirm.ARBITRAGE, spreads.payload(q))
    await reply(update, context, preview_view(q), confirm_keyboard(token))
    return "pair preview"


async def on_execute(update: Update, context: Ctx) -> str:
    s = svc(context)
    query = update.callback_query
    assert query is not None
    refused, claimed = await s.desk.claim((query.data or "").split(":", 1)[1], who(update)[0])
    if claimed is None:
        assert refused is not None
        await query.answer(views.outcome_view(refused), show_alert=True)
        return refused.status
    await query.answer()
    await edit(update, "⏳ Sending both legs…")
    out = await s.desk.act(claimed, f"tg:{who(update)[0]}")
    if out.status in TOKEN_REFUSED:
        return out.status
    report = spreads_of(context).reports.get(out.detail) if out.status is Status.DONE else None
    if report is None:
        await edit(update, "⛔ " + esc(out.detail or "The pair was not executed."))
        return f"pair {out.status}"
    await edit(update, report_view(report), durable=f"pair:{report.pair_id}", notifier=s.notifier)
    if not report.flat and s.notifier is not None:  # what is left, with the KILL button, as a risk alert
        await s.notifier.alert("risk", report_view(report), risk=True, dedupe_key=f"pair-residual:{report.pair_id}")
    return f"pair {report.pair_id} residual {report.residual}"


__all__ = ["alert_view", "on_execute", "on_preview", "on_refresh", "preview_view", "report_view", "spread",
           "table_view"]
