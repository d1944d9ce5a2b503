"""Equity, daily PnL, peak and drawdown from venue-reported values; warnings and breaches.

Equity is what the venues report (perp account value + spot balances at mark). Equity that stays
unknown for longer than `equity_stale_ms` is a breach (fail closed), never zero loss.

Loss limits count trading only. Deposits, withdrawals and transfers (the venues' ledgers, stored as
cash flows) move the day's starting equity and the peak by their amount, so daily loss is
-(equity change since day start - net cash flows since then) and drawdown is measured from a peak
that a withdrawal lowered. The day start and the peak are only set from a consistent reading: the
balances, then the ledger read after them with nothing new in it (so the balances hold exactly the
cash flows known). A flow first stored after a baseline was set happened after its reading (the
ledger read after that reading did not have it), so it is applied to the baseline exactly once;
`flows_id` (persisted) says how far the stored flows have been applied.

One check tells at most one thing per limit: the breach, or else the highest warning step crossed.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from exchanges.models import CashFlow
from risk.events import Bus, LimitBreached, LossWarning
from risk.limits import LossStatus
from risk.settings import LossSettings
from store.db import Store

ZERO = Decimal(0)
STATE_KEY = "pnl"
FIRST_READ_BACK_MS = 60_000


class PnLTracker:
    def __init__(self, store: Store, bus: Bus, clock: Callable[[], int], settings: LossSettings):
        self.store, self.bus, self.clock = store, bus, clock
        r = settings
        self.tz = zoneinfo.ZoneInfo(r.timezone)
        self.reset_hour = r.day_reset_hour
        self.daily_limit = r.daily_loss_limit
        self.dd_limit = r.max_drawdown_percent
        self.fractions = sorted(set(r.warn_fractions))
        self.stale_ms = r.equity_stale_s * 1000
        self.day: str | None = None
        self.day_start: Decimal | None = None  # equity at the day's start, moved by the cash flows since
        self.peak: Decimal | None = None  # highest equity, moved by the cash flows since
        self.fired: set[str] = set()
        self.equity: Decimal | None = None
        self.by_venue: dict[str, Decimal | None] = {}
        self.known_ms: int | None = None
        self.unknown_since: int | None = None
        self.started = False
        self.snapshot_every_ms = 60_000
        self._snapshot_ms = -self.snapshot_every_ms
        self.flows_id = 0  # stored cash flows up to this id are in day_start and peak
        self.cursors: dict[str, int] = {}  # venue -> where its next ledger read starts (ms, inclusive)

    async def load(self) -> None:
        raw = await self.store.get_state(STATE_KEY)
        d = json.loads(raw) if raw else {}
        if d:
            self.day, self.fired = d["day"], set(d["fired"])
            self.day_start = Decimal(d["start"]) if d["start"] is not None else None
            self.peak = Decimal(d["peak"]) if d["peak"] is not None else None
        if "flows_id" in d:
            self.flows_id, self.cursors = int(d["flows_id"]), dict(d.get("cursors", {}))
        else:  # a state from before cash flows were kept: what is stored is in its baselines already
            self.flows_id = (await self.store.last_cash_flow())[0]

    async def _save(self) -> None:
        d = {"day": self.day, "start": None if self.day_start is None else str(self.day_start),
             "peak": None if self.peak is None else str(self.peak), "fired": sorted(self.fired),
             "flows_id": self.flows_id, "cursors": self.cursors}
        await self.store.set_state(STATE_KEY, json.dumps(d), self.clock())

    def day_of(self, ts_ms: int) -> str:
        local = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(self.tz) - timedelta(hours=self.reset_hour)
        return local.date().isoformat()

    def day_start_ms(self, ts_ms: int) -> int:
        """When the loss-limit day containing ts_ms began (reset hour, configured time zone)."""
        local = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(self.tz)
        start = local.replace(hour=self.reset_hour, minute=0, second=0, microsecond=0)
        if start > local:
            start -= timedelta(days=1)
        return int(start.timestamp() * 1000)

    # ---- cash flows ----
    def cursor(self, venue: str) -> int:
        """Where the next ledger read of `venue` starts. A venue read for the first time starts a minute
        back (clocks differ): what moved before is in the first baseline, and what the first read
        finds only delays that baseline by a reading."""
        return self.cursors.setdefault(venue, self.clock() - FIRST_READ_BACK_MS)

    async def record_flows(self, venue: str, flows: list[CashFlow]) -> int:
        """Store what a ledger read returned (each entry once); the next read starts at the newest."""
        new = await self.store.add_cash_flows(flows)
        if flows:
            self.cursors[venue] = max(self.cursor(venue), max(f.ts_ms for f in flows))
        return new

    async def apply_flows(self) -> int:
        """Move the day start and the peak by every stored cash flow not applied yet. Returns how many."""
        n = 0
        while rows := await self.store.cash_flows_after(self.flows_id):
            for row_id, f in rows:
                if self.day_start is not None:
                    self.day_start += f.amount
                if self.peak is not None:
                    self.peak += f.amount
                self.flows_id = row_id
                n += 1
        if n:
            await self._save()
        return n

    # ---- figures ----
    def _daily_pnl(self, equity: Decimal | None) -> Decimal:
        if equity is None or self.day_start is None:
            return ZERO
        return equity - self.day_start

    def _drawdown(self, equity: Decimal | None) -> Decimal:
        if equity is None or not self.peak or self.peak <= 0:
            return ZERO
        return max(ZERO, (self.peak - equity) / self.peak * 100)

    @property
    def daily_pnl(self) -> Decimal:
        return self._daily_pnl(self.equity)

    @property
    def drawdown_percent(self) -> Decimal:
        return self._drawdown(self.equity)

    def status(self) -> LossStatus:
        now = self.clock()
        known = not (self.unknown_since is not None and now - self.unknown_since > self.stale_ms)
        return LossStatus(max(ZERO, -self.daily_pnl), self.daily_limit, self.drawdown_percent, self.dd_limit, known)

    def would_tell(self, equities: dict[str, Decimal | None]) -> bool:
        """Whether these equities would raise a warning or a breach not told yet (nothing is changed)."""
        if not equities or any(v is None for v in equities.values()):
            return False
        total = sum((v for v in equities.values() if v is not None), ZERO)
        return (self._due("daily_loss", max(ZERO, -self._daily_pnl(total)), self.daily_limit) is not None
                or self._due("drawdown", self._drawdown(total), self.dd_limit) is not None)

    async def update(self, equities: dict[str, Decimal | None], *, consistent: bool = True) -> LossStatus:
        """Feed the latest per-venue equity (None: that venue, or its ledger, could not be read).
        `consistent`: read as the module docstring says, so the day start and peak may be set from it
        and crossings told; otherwise the figures are only shown."""
        now = self.clock()
        complete = bool(equities) and all(v is not None for v in equities.values())
        if not consistent:  # shown only: what is unknown (equity or ledger) is for full readings to say
            if complete and self.unknown_since is None:
                self.by_venue = dict(equities)
                self.equity, self.known_ms = sum((v for v in equities.values() if v is not None), ZERO), now
            return self.status()
        self.started = True
        self.by_venue = dict(equities)
        if not complete:
            if self.unknown_since is None:
                self.unknown_since = now
            status = self.status()
            if not status.equity_known and "equity_unknown" not in self.fired:
                self.fired.add("equity_unknown")
                self.bus.publish(LimitBreached("equity_unknown", None, None, now))
            return status
        self.unknown_since = None
        self.fired.discard("equity_unknown")
        total = sum((v for v in equities.values() if v is not None), ZERO)
        self.equity, self.known_ms = total, now
        if now - self._snapshot_ms >= self.snapshot_every_ms:  # the store keeps one point a minute
            self._snapshot_ms = now
            for venue, eq in equities.items():
                assert eq is not None
                await self.store.add_equity(now, venue, eq)
        day = self.day_of(now)
        if day != self.day or self.day_start is None:
            self.day, self.day_start = day, total
            self.fired = {f for f in self.fired if not f.startswith("daily_loss")}
        if self.peak is None or total > self.peak:
            self.peak = total  # a new high starts a new drawdown episode: its warnings re-arm
            self.fired = {f for f in self.fired if not f.startswith("drawdown")}
        status = self.status()
        self._alerts("daily_loss", status.daily_loss, self.daily_limit, now)
        self._alerts("drawdown", status.drawdown_percent, self.dd_limit, now)
        await self._save()
        return status

    def _due(self, kind: str, value: Decimal, limit: Decimal) -> Decimal | None:
        """What crossing of `kind` is not told yet: 1 for the breach, else the highest warning step
        reached; None when nothing new."""
        if value > limit:
            return Decimal(1) if f"{kind}:breach" not in self.fired else None
        reached = [f for f in self.fractions if value >= limit * f]
        return reached[-1] if reached and f"{kind}:{reached[-1]}" not in self.fired else None

    def _alerts(self, kind: str, value: Decimal, limit: Decimal, now: int) -> None:
        """Tell the highest step crossed, once: a loss that jumps past several steps in one check is
        one notice with its true figures, and the steps it passed are not told after it."""
        due = self._due(kind, value, limit)
        if due is None:
            return
        passed = [f for f in self.fractions if f <= due]
        self.fired |= {f"{kind}:{f}" for f in passed}
        if value > limit:
            self.fired.add(f"{kind}:breach")
            self.bus.publish(LimitBreached(kind, value, limit, now))
        else:
            self.bus.publish(LossWarning(kind, due, value, limit, now))

    def breached(self) -> str | None:
        return self.status().breached
