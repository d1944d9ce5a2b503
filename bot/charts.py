"""Pictures for the phone: the equity curve with realized PnL bars, as PNG bytes (matplotlib, Agg)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")  # no display on a server
import matplotlib.dates as mdates
import matplotlib.pyplot as plt


def equity_chart(points: list[tuple[int, Decimal]], daily_realized: list[tuple[int, Decimal]], title: str) -> bytes:
    """Equity over time (line) above realized PnL per day (bars). Decimal only becomes float here,
    for drawing."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), dpi=110, sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    if points:
        xs = [datetime.fromtimestamp(t / 1000, UTC) for t, _ in points]
        top.plot(xs, [float(v) for _, v in points], color="#1f77b4", linewidth=1.8, marker="." if len(xs) < 3
                 else None)
        if xs[0] == xs[-1]:  # one point: give the axis a span to draw
            top.set_xlim(xs[0] - timedelta(hours=12), xs[0] + timedelta(hours=12))
    else:
        top.text(0.5, 0.5, "no equity recorded yet", ha="center", va="center", transform=top.transAxes)
    top.set_title(title, fontsize=12)
    top.set_ylabel("equity (USD)")
    top.grid(alpha=0.3)
    if daily_realized:
        xs = [datetime.fromtimestamp(t / 1000, UTC) for t, _ in daily_realized]
        ys = [float(v) for _, v in daily_realized]
        bottom.bar(xs, ys, width=0.6, color=["#2ca02c" if y >= 0 else "#d62728" for y in ys])
    bottom.axhline(0, color="black", linewidth=0.6)
    bottom.set_ylabel("realized")
    bottom.grid(alpha=0.3)
    locator = mdates.AutoDateLocator(maxticks=6)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
