"""Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in a time zone."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


class CronError(ValueError):
    pass


def _field(text: str, lo: int, hi: int) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        body, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if step < 1:
            raise CronError(f"bad step in {text!r}")
        if body == "*":
            start, end = lo, hi
        elif "-" in body:
            a, b = body.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(body)
            if step_s:
                end = hi
        if not (lo <= start <= end <= hi):
            raise CronError(f"{text!r} is outside {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


class Cron:
    def __init__(self, expr: str, tz: str = "UTC"):
        parts = expr.split()
        if len(parts) != 5:
            raise CronError(f"{expr!r}: a cron expression has 5 fields (minute hour day month weekday)")
        try:
            self.fields = [_field(p, lo, hi) for p, (lo, hi) in zip(parts, _RANGES, strict=True)]
        except ValueError as exc:
            raise CronError(f"{expr!r}: {exc}") from None
        self.fields[4] = frozenset(d % 7 for d in self.fields[4])  # 7 also means Sunday
        self.tz = zoneinfo.ZoneInfo(tz)
        self.expr = expr

    def matches(self, local: datetime) -> bool:
        minute, hour, dom, month, dow = self.fields
        return (local.minute in minute and local.hour in hour and local.day in dom and local.month in month
                and (local.isoweekday() % 7) in dow)

    def next_after(self, ts_ms: int) -> int:
        """The first matching minute strictly after ts_ms, as ms UTC."""
        t = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(self.tz).replace(second=0, microsecond=0)
        t += timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(t):
                return int(t.timestamp() * 1000)
            t = (t + timedelta(minutes=1)).astimezone(self.tz)  # re-normalise across DST changes
        raise CronError(f"{self.expr!r} never fires")
