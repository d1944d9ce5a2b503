"""Aster's WebSocket frames on the shared transport (exchanges/common/ws.py).

Market streams: a combined connection (`<ws_url>/stream`) subscribed by
`{"method": "SUBSCRIBE", "params": [...], "id": N}`; data comes as `{"stream": ..., "data": ...}`,
answers to control frames as `{"result": ..., "id": N}`. Prices stream every second, so a silent
market connection is stalled.
User-data streams: `<ws_url>/ws/<listenKey>`, raw events named by `e`; quiet for as long as nothing
happens to the account, so such a connection is up once open and its liveness is the pong to our
WebSocket pings (the adapter's REST probes catch one that pongs but says nothing).
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

# all marks and all best bids/asks in two subscriptions: one connection whatever the number of markets
MARKET_STREAMS = ("!markPrice@arr@1s", "!bookTicker")


def stream_base(url: str) -> str:
    """The venue's WebSocket root from a configured URL (a seed-style one may end in /ws or /stream)."""
    url = url.rstrip("/")
    for tail in ("/ws", "/stream"):
        if url.endswith(tail):
            return url[: -len(tail)]
    return url


class MarketFrames:
    ping_frame: str | None = None
    quiet_ok = False

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def subscribe_frame(self, sub: dict[str, Any]) -> str:
        return json.dumps({"method": "SUBSCRIBE", "params": [sub["stream"]], "id": next(self._ids)})

    def route(self, msg: Any) -> tuple[str, Any] | None:
        if not isinstance(msg, dict) or "stream" not in msg:
            return None  # {"result": null, "id": N} and other control answers
        return str(msg["stream"]), msg.get("data")


class UserFrames:
    ping_frame: str | None = None
    quiet_ok = True

    def subscribe_frame(self, sub: dict[str, Any]) -> str:  # the URL is the subscription
        raise AssertionError("a user-data stream takes no subscriptions")

    def route(self, msg: Any) -> tuple[str, Any] | None:
        if isinstance(msg, dict) and isinstance(msg.get("data"), dict) and "stream" in msg:
            msg = msg["data"]
        if not isinstance(msg, dict) or "e" not in msg:
            return None
        return str(msg["e"]), msg


def quote_rows(data: Any) -> list[tuple[str, Decimal | None, Decimal | None, Decimal | None]]:
    """A market stream's message (bookTicker, markPriceUpdate, or `!markPrice@arr`'s list of them) as
    (native symbol, bid, ask, mark), each None where the message does not say it."""
    out = []
    for r in data if isinstance(data, list) else [data]:
        if not isinstance(r, dict) or "s" not in r:
            continue
        bid = Decimal(r["b"]) if "b" in r and "a" in r else None
        ask = Decimal(r["a"]) if "b" in r and "a" in r else None
        mark = Decimal(r["p"]) if r.get("e") == "markPriceUpdate" and "p" in r else None
        out.append((str(r["s"]), bid, ask, mark))
    return out
