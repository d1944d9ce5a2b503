"""Hyperliquid's WebSocket frames and channels, on the shared transport (exchanges/common/ws.py).

`{"method": "subscribe", "subscription": {...}}` subscribes, `{"method": "ping"}` pings; every data
message is `{"channel": ..., "data": ...}`. `pong` and `subscriptionResponse` are control traffic.
"""

from __future__ import annotations

import json
from typing import Any

from exchanges.common.ws import OnMessage, OnState, WsClient

CONTROL = frozenset({"pong", "subscriptionResponse"})


class HyperliquidFrames:
    ping_frame: str | None = '{"method":"ping"}'
    quiet_ok = False  # every subscription sends its snapshot at once: a silent socket is not up

    def subscribe_frame(self, sub: dict[str, Any]) -> str:
        return json.dumps({"method": "subscribe", "subscription": sub})

    def route(self, msg: Any) -> tuple[str, Any] | None:
        if not isinstance(msg, dict):
            return None
        channel = str(msg.get("channel"))
        return None if channel in CONTROL else (channel, msg.get("data"))


def stream_client(url: str, subscriptions: list[dict[str, Any]], on_message: OnMessage, on_state: OnState,
                  **kw: Any) -> WsClient:
    return WsClient(url, subscriptions, HyperliquidFrames(), on_message, on_state, **kw)
