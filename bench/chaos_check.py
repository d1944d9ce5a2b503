"""The chaos benchmark's verdict on one cell: pure functions of what the venue, the store and the
chat showed. Each failure gets a short sentence saying why.

Invariants (after the fault clears and the cell settles):
- the venue's open orders are exactly the orders the store has live, nothing pending or unknown,
  and every order the bot sent has the venue's outcome in the store;
- no duplicate: at most one venue order per Confirm, no position flipped by a kill;
- every venue fill is in the store's fills and was alerted in the chat exactly once;
- the trader was told the truth: nothing said contradicts the venue at the moment it was shown, the
  first answer came within the stated time, and the final word matches the venue.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from bench.chaos_rig import UNRESOLVED, Observed, StoreView, VenueView, Version, VFill, VOrder
from exchanges.models import OrderStatus

# head, side, size, symbol, number of fills
FILL_ALERT = re.compile(r"(✅ <b>(?:Take profit |Stop loss )?[Ff]illed</b>|🟡 <b>(?:Take profit |Stop loss )?"
                        r"[Pp]artly filled</b>) (BUY|SELL) ([\d,.]+) (\S+) on \S+\navg [^\n]*?(\d+) fills?\b")
VENUE_SAID = re.compile(r"(cancelled|rejected)</b> (?:on|by) hyperliquid[^\n]*\n(BUY|SELL) ([\d,.]+) (\S+)")


@dataclass
class Marks:
    """What the cell did, for the judge."""

    fault: str
    action: str  # order | close | kill
    t0: float  # monotonic: the Confirm press, or /kill sent
    answer_within_s: float  # the first answer is due this long after t0
    base: VenueView  # the venue before the action
    symbol: str = "ETH"
    side: str = "buy"  # of the Confirm's order
    preview_id: int | None = None
    outside_oids: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)  # what happened on the way (kills, restarts)


@dataclass
class Row:
    fault: str
    action: str
    venue_eq_store: bool = False
    duplicates: int = 0
    missed_fills: int = 0
    missed_alerts: int = 0
    dup_alerts: int = 0
    told_truth: bool = False
    first_answer_s: float | None = None
    final_truth_s: float | None = None
    why: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the cell did on the way (kills, restarts)
    seconds: float = 0.0  # how long the cell took, setup included
    error: str | None = None  # the harness could not measure the cell

    @property
    def passed(self) -> bool:
        return self.error is None and not self.why


def judge(m: Marks, obs: Observed, venue: VenueView, store: StoreView | None) -> Row:
    """The row for one cell; `why` lists what the trader was told wrongly first, then the rest."""
    row = Row(m.fault, m.action, notes=list(m.notes))
    if store is None:
        row.why.append("the store could not be read")
        return row
    lies = alert_words(obs, venue)
    if m.action == "kill":
        told, first, final, truth = kill_truth(m, obs, venue)
    else:
        told, first, final, truth = order_truth(m, obs, venue)
    row.told_truth = told and not lies
    row.first_answer_s, row.final_truth_s = first, final
    row.why += truth + lies
    if first is None:
        row.why.append(f"no answer at all (due within {m.answer_within_s:.1f}s)")
    elif first > m.answer_within_s:
        row.why.append(f"first answer after {first:.1f}s (due within {m.answer_within_s:.1f}s)")
    consistency = venue_vs_store(venue, store)
    row.venue_eq_store = not consistency
    row.why += consistency
    row.duplicates, dup_why = duplicates(m, venue)
    row.why += dup_why
    new_fills = [f for f in venue.fills if f.tid not in {g.tid for g in m.base.fills}]
    missed = [f for f in new_fills if f.tid not in store.fill_ids]
    row.missed_fills = len(missed)
    if missed:
        row.why.append(f"{len(missed)} venue fill(s) not in the store"
                       f" ({', '.join(f'{f.side} {f.symbol}' for f in missed)})")
    row.missed_alerts, row.dup_alerts, alert_why = alerts(obs, new_fills)
    row.why += alert_why
    if m.action == "kill":
        if not venue.flat:
            row.why.append(f"venue not flat at the end: {venue.describe()}")
        if not store.state.startswith("HALTED"):
            row.why.append(f"trading state is {store.state.split('|')[0] or 'unset'}, not HALTED")
    return row


# ---- invariants ----
def venue_vs_store(venue: VenueView, store: StoreView) -> list[str]:
    why: list[str] = []
    live = store.live
    unresolved = [o for o in live if o.status in UNRESOLVED]
    if unresolved:
        states = "/".join(sorted({o.status.value for o in unresolved}))
        why.append(f"{len(unresolved)} order(s) still {states} in the store")
    store_open = {o.order_id for o in live if o.order_id and o.status not in UNRESOLVED}
    if venue.open_oids - store_open:
        why.append(f"venue has open order(s) {_ids(venue.open_oids - store_open)} the store does not list as live")
    if store_open - venue.open_oids:
        why.append(f"store lists order(s) {_ids(store_open - venue.open_oids)} as live; not open on the venue")
    by_cid = {o.client_id: o for o in store.orders}
    for vo in venue.orders.values():
        if vo.cloid is None or not vo.accepted:
            continue
        so = by_cid.get(vo.cloid)
        if so is None:
            why.append(f"venue order {vo.oid} ({vo.side} {vo.symbol}) is not in the store")
        elif so.status.is_final and (so.filled != vo.filled or _kind(so.status) != _kind(vo.status)):
            why.append(f"store says {so.status.value} (filled {so.filled}) for order {vo.oid}; venue says"
                       f" {vo.status.value} (filled {vo.filled})")
    return why


def _kind(s: OrderStatus) -> str:
    return {OrderStatus.FILLED: "done", OrderStatus.CANCELED: "done"}.get(s, s.value)


def _ids(ids: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(ids)[:3]) + (" ..." if len(ids) > 3 else "")


def confirm_orders(m: Marks, venue: VenueView) -> list[VOrder]:
    """The venue orders the cell's Confirm produced (accepted ones, the bot's, new since the start)."""
    return [o for oid, o in sorted(venue.orders.items()) if oid not in m.base.orders and o.cloid and o.accepted
            and oid not in m.outside_oids and o.symbol == m.symbol and o.side == m.side]


def duplicates(m: Marks, venue: VenueView) -> tuple[int, list[str]]:
    twice = [c for c, n in Counter(o.cloid for o in venue.orders.values() if o.cloid).items() if n > 1]
    why = [f"client id {c[:12]}… on the venue {len(twice)} times" for c in twice]
    if m.action != "kill":
        n = len(confirm_orders(m, venue))
        return len(twice) + max(0, n - 1), why + ([f"{n} venue orders for one Confirm"] if n > 1 else [])
    flipped = [s for s, size in venue.positions.items() if m.base.positions.get(s, 0) * size < 0]
    why += [f"the kill flipped the {', '.join(flipped)} position(s)"] if flipped else []
    opened = [o for oid, o in venue.orders.items() if oid not in m.base.orders and o.cloid and o.accepted
              and not o.reduce_only]
    why += [f"the kill sent {len(opened)} order(s) that are not reduce-only"] if opened else []
    return len(twice) + len(flipped) + len(opened), why


def alerts(obs: Observed, new_fills: list[VFill]) -> tuple[int, int, list[str]]:
    """Fills told in the chat vs fills on the venue, per side and market (summaries count each fill)."""
    venue = Counter((f.side.upper(), f.symbol) for f in new_fills)
    told: Counter[tuple[str, str]] = Counter()
    for _, _, text in obs.texts():
        for _, side, _, symbol, n in FILL_ALERT.findall(text):
            told[(side, symbol)] += int(n)
    missed = sum(((venue - told)).values())
    dup = sum(((told - venue)).values())
    why = []
    if missed:
        why.append(f"{missed} fill(s) never alerted ({_keys(venue - told)})")
    if dup:
        why.append(f"{dup} fill(s) alerted twice or never happened ({_keys(told - venue)})")
    return missed, dup, why


def _keys(c: Counter[tuple[str, str]]) -> str:
    return ", ".join(f"{n}x {side} {sym}" for (side, sym), n in sorted(c.items()))


def alert_words(obs: Observed, venue: VenueView) -> list[str]:
    """Alerts that name what the venue did: '... cancelled on / rejected by hyperliquid' (true only when
    the venue did it, not us), 'Partly filled' for an order the venue filled whole in one fill."""
    why = []
    fills_of = Counter(f.oid for f in venue.fills)
    for _, _, text in obs.texts():
        for head, side, size, symbol, n in FILL_ALERT.findall(text):
            sz = Decimal(size.replace(",", ""))
            whole = [o for o in venue.orders.values() if o.side == side.lower() and o.symbol == symbol
                     and o.size == sz and o.filled == o.size and fills_of[o.oid] == 1]
            if "Partly" in head and n == "1" and whole:
                why.append(f"alert says 'Partly filled' {side} {size} {symbol}; the venue filled that order whole")
        for what, side, size, symbol in VENUE_SAID.findall(text):
            sz = Decimal(size.replace(",", ""))
            same = [o for o in venue.orders.values() if o.side == side.lower() and o.symbol == symbol and o.size == sz]
            if what == "rejected" and same and all(o.accepted for o in same):
                why.append(f"alert says the venue rejected {side} {size} {symbol}; the venue accepted it")
            if what == "cancelled" and same and all(o.reason == "user" for o in same):
                why.append(f"alert says 'Cancelled by hyperliquid' for {side} {size} {symbol}; the bot cancelled it")
    return why


# ---- truth: order and close ----
RESULTS = (("filled", "✅ Filled"), ("partial", "🟡"), ("resting", "🟢 Resting"), ("rejected", "❌ Rejected"),
           ("checking", "⏳"), ("requote", "Price moved: fresh quote"), ("refused", "<b>Refused</b>"),
           ("not_sent", "nothing was sent"), ("not_sent", "nothing is sent"), ("quote", "Confirm within"))
NOTHING_SENT = {"rejected", "requote", "refused", "not_sent"}


def classify(text: str) -> str:
    return next((name for name, mark in RESULTS if mark in text), "other")


def venue_outcome(orders: list[VOrder]) -> str:
    if not orders:
        return "none"
    o = orders[0]
    if o.filled == o.size:
        return "filled"
    if o.filled > 0:
        return "partial"
    return "resting" if o.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED) else "cancelled"


def _true(claim: str, outcome: str) -> bool | None:
    """Is this claim true of the venue's outcome? None: it claims nothing (yet)."""
    if claim in ("checking", "quote", "other"):
        return None
    if claim in NOTHING_SENT:
        return outcome == "none"
    if claim == "resting":
        return outcome != "none"
    return claim == outcome


def order_truth(m: Marks, obs: Observed, venue: VenueView) -> tuple[bool, float | None, float | None, list[str]]:
    outcome = venue_outcome(confirm_orders(m, venue))
    versions = [v for v in obs.messages.get(m.preview_id or -1, []) if v.t >= m.t0]
    answers = [t for t, _ in obs.answers if t >= m.t0]
    alerted = [t for t, _, text in obs.texts() if t >= m.t0 and any(
        g[1] == m.side.upper() and g[3] == m.symbol for g in FILL_ALERT.findall(text))]
    first = min([v.t for v in versions[:1]] + answers[:1] + alerted[:1], default=None)
    why: list[str] = []
    for v in versions:
        claim = classify(v.text)
        if _true(claim, outcome) is False:
            why.append(f"said '{claim}' at {v.t - m.t0:.1f}s; the venue: {outcome}")
    final_claim = classify(versions[-1].text) if versions else "quote"
    final: float | None = None
    if _true(final_claim, outcome):
        i = len(versions) - 1
        while i > 0 and classify(versions[i - 1].text) == final_claim:
            i -= 1
        final = versions[i].t
    elif final_claim in ("checking", "quote", "other"):
        told_by = f"; a fill alert told it at {alerted[0] - m.t0:.1f}s" if alerted else ""
        if final_claim == "quote":
            why.append(f"the preview was never edited (still the quote and its Confirm button); the venue:"
                       f" {outcome}{told_by}")
        elif outcome in ("filled", "partial") and alerted:
            final = alerted[0]  # "being checked", and the fill alert told the outcome
        elif final_claim == "checking":
            why.append(f"the preview still says it is being checked; the venue: {outcome}")
        else:
            why.append(f"the preview ended as unrecognised text {versions[-1].text[:60]!r}; the venue: {outcome}")
    told = not why
    return told, _rel(first, m), _rel(final, m), why


# ---- truth: kill ----
def claims_flat(text: str) -> bool:
    return "✅ <b>hyperliquid</b>" in text and "Still retrying" not in text


def kill_reports(m: Marks, obs: Observed) -> list[Version]:
    """Every version of every kill report after /kill, in the order the trader saw them (a report
    may be one message edited as the retries go, or several messages)."""
    return sorted((v for vs in obs.messages.values() for v in vs if v.t >= m.t0 and "KILL SWITCH" in v.text),
                  key=lambda v: v.t)


def kill_truth(m: Marks, obs: Observed, venue: VenueView) -> tuple[bool, float | None, float | None, list[str]]:
    reports = kill_reports(m, obs)
    why: list[str] = []
    for v in reports:
        if claims_flat(v.text) and not v.venue.flat:
            why.append(f"report at {v.t - m.t0:.1f}s says ✅ hyperliquid; the venue then: {v.venue.describe()}")
    first = reports[0].t if reports else None
    final: float | None = None
    if not reports:
        why.append("no kill report")
    else:
        last = claims_flat(reports[-1].text)
        if last == venue.flat:
            i = len(reports) - 1
            while i > 0 and claims_flat(reports[i - 1].text) == last:
                i -= 1
            final = reports[i].t
        elif venue.flat:
            why.append("the last kill report still says ⚠️/⏳ though the venue is flat")
    return not why, _rel(first, m), _rel(final, m), why


def in_flight(m: Marks, obs: Observed, store: StoreView | None) -> bool:
    """The bot is still working on it: orders it has not resolved, a preview or report that says
    it is being checked or retried. A cell waits for these until its time is up."""
    if store is None or any(o.status in UNRESOLVED for o in store.orders):
        return True
    if m.action == "kill":
        reports = kill_reports(m, obs)
        return bool(reports) and ("⏳" in reports[-1].text or "retrying" in reports[-1].text.lower())
    versions = obs.messages.get(m.preview_id or -1, [])
    return bool(versions) and classify(versions[-1].text) == "checking"


def _rel(t: float | None, m: Marks) -> float | None:
    return None if t is None else t - m.t0


__all__ = ["Marks", "Row", "claims_flat", "classify", "in_flight", "judge"]
