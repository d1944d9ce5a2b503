"""Equity, daily PnL, peak and drawdown from venue-reported values; warnings and breaches.

Equity is what the venues report (perp account value + spot balances at mark). Equity that stays
unknown for longer than `equity_stale_ms` is a breach (fail closed), never zero loss.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.config_schema import Config
from bot.store import Store
from risk.events import Bus, LimitBreached, LossWarning
from risk.limits import LossStatus

ZERO = Decimal(0)
STATE_KEY = "pnl"


class PnLTracker:
    def __init__(self, store: Store, bus: Bus, clock: Callable[[], int], config: Config):
        self.store, self.bus, self.clock = store, bus, clock
        r = config.risk
        self.tz = zoneinfo.ZoneInfo(config.timezone)
        self.reset_hour = r.day_reset_hour
        self.daily_limit = r.daily_loss_limit
        self.dd_limit = r.max_drawdown_percent
        self.fractions = sorted(set(r.warn_fractions))
        self.stale_ms = r.equity_stale_seconds * 1000
        self.day: str | None = None
        self.day_start: Decimal | None = None
        self.peak: Decimal | None = None
        self.fired: set[str] = set()
        self.equity: Decimal | None = None
        self.by_venue: dict[str, Decimal | None] = {}
        self.known_ms: int | None = None
        self.unknown_since: int | None = None
        self.started = False
        self.snapshot_every_ms = 60_000
        self._snapshot_ms = -self.snapshot_every_ms

    async def load(self) -> None:
        raw = await self.store.get_state(STATE_KEY)
        if raw:
            d = json.loads(raw)
            self.day, self.fired = d["day"], set(d["fired"])
            self.day_start = Decimal(d["start"]) if d["start"] is not None else None
            self.peak = Decimal(d["peak"]) if d["peak"] is not None else None

    async def _save(self) -> None:
        d = {"day": self.day, "start": None if self.day_start is None else str(self.day_start),
             "peak": None if self.peak is None else str(self.peak), "fired": sorted(self.fired)}
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

    @property
    def daily_pnl(self) -> Decimal:
        if self.equity is None or self.day_start is None:
            return ZERO
        return self.equity - self.day_start

    @property
    def drawdown_percent(self) -> Decimal:
        if self.equity is None or not self.peak or self.peak <= 0:
            return ZERO
        return max(ZERO, (self.peak - self.equity) / self.peak * 100)

    def status(self) -> LossStatus:
        now = self.clock()
        known = not (self.unknown_since is not None and now - self.unknown_since > self.stale_ms)
        return LossStatus(max(ZERO, -self.daily_pnl), self.daily_limit, self.drawdown_percent, self.dd_limit, known)

    async def update(self, equities: dict[str, Decimal | None]) -> LossStatus:
        """Feed the latest per-venue equity (None: that venue could not be read)."""
        now = self.clock()
        self.started = True
        self.by_venue = dict(equities)
        if not equities or any(v is None for v in equities.values()):
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
        if now - self._snapshot_ms >= self.snapshot_every_ms:  # the store keeps one point a minute
            self._snapshot_ms = now
            for venue, eq in equities.items():
                assert eq is not None
                await self.store.add_equity(now, venue, eq)
        self.equity, self.known_ms = total, now
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

    def _alerts(self, kind: str, value: Decimal, limit: Decimal, now: int) -> None:
        for f in self.fractions:
            key = f"{kind}:{f}"
            if value >= limit * f and key not in self.fired:
                self.fired.add(key)
                self.bus.publish(LossWarning(kind, f, value, limit, now))
        if value > limit and f"{kind}:breach" not in self.fired:
            self.fired.add(f"{kind}:breach")
            self.bus.publish(LimitBreached(kind, value, limit, now))

    def breached(self) -> str | None:
        return self.status().breached
