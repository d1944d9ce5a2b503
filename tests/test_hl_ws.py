"""The emulator's /ws as a raw client sees it: acknowledgements, pings, and the account-state feeds."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import aiohttp
import pytest

from exchanges.models import Side
from tests.hl import ADDRESS, adapter, hl_venue
from tests.test_hl_adapter import req


class Feed:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(msg))

    async def next(self, channel: str) -> Any:
        while True:
            msg = await self.ws.receive(timeout=5.0)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {msg}")
            if not msg.data.startswith("{"):
                continue  # the greeting
            body = json.loads(msg.data)
            if body["channel"] == channel:
                return body.get("data")

    async def until(self, channel: str, pred: Any) -> Any:
        """The first message of `channel` for which pred(data) holds; earlier pushes are skipped."""
        while not pred(data := await self.next(channel)):
            pass
        return data


@pytest.fixture
async def feed():
    async with hl_venue() as (sim, url), aiohttp.ClientSession() as s, \
            s.ws_connect(url.replace("http", "ws") + "/ws") as ws:
        sim.see(ADDRESS)
        yield sim, url, Feed(ws)


async def test_ping_and_subscription_acknowledgement(feed):
    _, _, f = feed
    await f.send({"method": "ping"})
    assert await f.next("pong") is None
    sub = {"type": "clearinghouseState", "user": ADDRESS}
    await f.send({"method": "subscribe", "subscription": sub})
    assert await f.next("subscriptionResponse") == {"method": "subscribe", "subscription": sub}
    await f.send({"method": "subscribe", "subscription": {"type": "clearinghouseState", "user": ADDRESS,
                                                         "dex": "xyz"}})
    assert (await f.next("error")).startswith("Invalid subscription")


async def test_account_state_feeds_send_a_snapshot_then_every_change(feed):
    sim, url, f = feed
    for kind in ("clearinghouseState", "spotState", "openOrders"):
        await f.send({"method": "subscribe", "subscription": {"type": kind, "user": ADDRESS}})
    ch = await f.next("clearinghouseState")
    assert (ch["dex"], ch["user"]) == ("", ADDRESS)
    assert ch["clearinghouseState"]["marginSummary"]["accountValue"] == "100000.0"
    assert ch["clearinghouseState"]["assetPositions"] == []
    spot = await f.next("spotState")
    assert spot["user"] == ADDRESS and spot["spotState"]["balances"][0]["coin"] == "USDC"
    orders = await f.next("openOrders")
    assert (orders["dex"], orders["orders"]) == ("", [])

    ex = adapter(url)
    await ex.connect()
    try:
        await ex.set_leverage("ETH", 7)
        state = (await f.next("clearinghouseState"))["clearinghouseState"]
        assert state["assetPositions"] == []  # leverage alone: a push all the same
        await ex.place(req("ETH", Side.BUY, "0.5", "3000"))
        resting = (await f.until("openOrders", lambda d: d["orders"]))["orders"]
        assert [(o["coin"], o["limitPx"], o["sz"]) for o in resting] == [("ETH", "3000.0", "0.5")]
        filled = await ex.place(req("ETH", Side.BUY, "1", slippage=D("0.01")))
        state = (await f.until("clearinghouseState", lambda d: d["clearinghouseState"]["assetPositions"]))[
            "clearinghouseState"]
        pos = state["assetPositions"][0]["position"]
        assert (pos["coin"], pos["szi"], pos["leverage"]) == ("ETH", "1.0", {"type": "cross", "value": 7})
        assert D(pos["entryPx"]) == filled.avg_price
        sim.set_price("ETH", D(3600))  # the mark moved: unrealized PnL is pushed
        moved = D(3600) - filled.avg_price
        await f.until("clearinghouseState", lambda d: D(
            d["clearinghouseState"]["assetPositions"][0]["position"]["unrealizedPnl"]) == moved)
    finally:
        await ex.close()


async def test_state_feeds_match_the_rest_answers(feed):
    _, url, f = feed
    await f.send({"method": "subscribe", "subscription": {"type": "clearinghouseState", "user": ADDRESS}})
    pushed = (await f.next("clearinghouseState"))["clearinghouseState"]
    async with aiohttp.ClientSession() as s, s.post(f"{url}/info", json={"type": "clearinghouseState",
                                                                        "user": ADDRESS}) as r:
        rest = await r.json()
    assert pushed.pop("time") <= rest.pop("time")
    assert pushed == rest
