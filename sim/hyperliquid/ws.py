"""WebSocket /ws: subscriptions with acknowledgements, ping/pong, market and user feeds, `post`.

The account-state feeds (clearinghouseState, spotState, openOrders) send the whole state on subscribe
and again after anything changes it: orders, fills, funding, leverage, deposits and price moves,
once per burst of changes, like the venue's per-block updates.

A fault can make every connection go silent (no data, pings still answered) or close them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from sim.book import SimOrder
from sim.engine import Engine, SimFill, SimFunding, SimLiquidation
from sim.hyperliquid import wire
from sim.hyperliquid.wire import Names

log = logging.getLogger(__name__)
ACCOUNT_FEEDS = {"clearinghouseState", "spotState", "openOrders"}
USER_FEEDS = {"orderUpdates", "userFills", "userEvents", "userFundings", "notification", "webData2"} | ACCOUNT_FEEDS
MARKET_FEEDS = {"allMids", "l2Book", "bbo", "trades", "candle"}


def _key(sub: dict[str, Any]) -> str:
    return json.dumps(sub, sort_keys=True)


class Burst:
    """Keys marked during one turn of the event loop, sent together at the next: a burst of changes
    gives one push per book or account, like the venue's per-block updates."""

    def __init__(self, send: Callable[[list[str]], None]):
        self._send = send
        self._keys: set[str] = set()

    def mark(self, key: str) -> None:
        if not self._keys:
            asyncio.get_running_loop().call_soon(self._flush)
        self._keys.add(key)

    def _flush(self) -> None:
        keys, self._keys = sorted(self._keys), set()
        self._send(keys)


class Client:
    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.subs: dict[str, dict[str, Any]] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue()


class Hub:
    def __init__(self, engine: Engine, names: Names, on_info: Callable[[dict[str, Any]], Any],
                 on_action: Callable[[dict[str, Any]], Any]):
        self.e, self.n = engine, names
        self.on_info, self.on_action = on_info, on_action
        self.clients: set[Client] = set()
        self.silent = False
        self._books = Burst(lambda symbols: self.prices_moved(symbols, mids=False))
        self._accounts = Burst(self._push_accounts)
        engine.subscribe(self._on_engine)

    # ---- connections ----
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        client = Client(ws)
        self.clients.add(client)
        writer = asyncio.create_task(self._writer(client))
        try:
            await ws.send_str("Websocket connection established.")
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    break
                await self._on_message(client, msg.data)
        finally:
            self.clients.discard(client)
            writer.cancel()
        return ws

    async def _writer(self, client: Client) -> None:
        while True:
            text = await client.queue.get()
            if client.ws.closed:
                return
            await client.ws.send_str(text)

    def _send(self, client: Client, channel: str, data: Any, *, control: bool = False) -> None:
        if self.silent and not control:
            return  # a stalled feed: the socket stays up and answers pings, nothing else arrives
        client.queue.put_nowait(json.dumps({"channel": channel, "data": data}))

    async def close_all(self) -> None:
        for c in list(self.clients):
            await c.ws.close()

    async def _on_message(self, client: Client, text: str) -> None:
        try:
            msg = json.loads(text)
            method = msg.get("method")
        except (ValueError, AttributeError):
            self._send(client, "error", f"Invalid message: {text[:100]}", control=True)
            return
        if method == "ping":
            client.queue.put_nowait(json.dumps({"channel": "pong"}))
        elif method in ("subscribe", "unsubscribe"):
            sub = msg.get("subscription") or {}
            if sub.get("type") not in USER_FEEDS | MARKET_FEEDS or sub.get("dex", "") != "":
                self._send(client, "error", f"Invalid subscription {json.dumps(sub)}", control=True)
                return
            if method == "subscribe":
                client.subs[_key(sub)] = sub
            else:
                client.subs.pop(_key(sub), None)
            self._send(client, "subscriptionResponse", {"method": method, "subscription": sub}, control=True)
            if method == "subscribe":
                self._snapshot(client, sub)
        elif method == "post":
            await self._post(client, msg)
        else:
            self._send(client, "error", f"Unknown method {method!r}", control=True)

    async def _post(self, client: Client, msg: dict[str, Any]) -> None:
        req = msg.get("request") or {}
        payload = req.get("payload") or {}
        try:
            if req.get("type") == "info":
                resp = {"type": "info", "payload": {"type": payload.get("type"), "data": self.on_info(payload)}}
            elif req.get("type") == "action":
                resp = {"type": "action", "payload": self.on_action(payload)}
            else:
                resp = {"type": "error", "payload": f"unknown request type {req.get('type')!r}"}
        except ValueError as exc:
            resp = {"type": "error", "payload": f"422: {exc}"}
        self._send(client, "post", {"id": msg.get("id"), "response": resp})

    # ---- snapshots on subscribe ----
    def _snapshot(self, client: Client, sub: dict[str, Any]) -> None:
        kind, user = sub["type"], str(sub.get("user", "")).lower()
        if kind == "userFills":
            fills = [wire.fill(f, self.n) for f in self.e.fills.get(user, [])][-2000:]
            self._send(client, "userFills", {"isSnapshot": True, "user": user, "fills": fills})
        elif kind == "userFundings":
            items = [self._ws_funding(f) for f in self.e.fundings.get(user, [])]
            self._send(client, "userFundings", {"isSnapshot": True, "user": user, "fundings": items})
        elif kind == "allMids":
            self._send(client, "allMids", {"mids": wire.mids(self.e, self.n)})
        elif kind == "l2Book" and sub.get("coin") in self.n.symbol_of:
            self._send(client, "l2Book", wire.l2_book(self.e, self.n, self.n.symbol_of[sub["coin"]]))
        elif kind in ACCOUNT_FEEDS:
            self._send(client, kind, self._account_state(kind, user))

    def _account_state(self, kind: str, user: str) -> dict[str, Any]:
        if kind == "clearinghouseState":
            return {"dex": "", "user": user,
                    "clearinghouseState": self.on_info({"type": "clearinghouseState", "user": user})}
        if kind == "spotState":
            return {"user": user, "spotState": self.on_info({"type": "spotClearinghouseState", "user": user})}
        return {"dex": "", "user": user, "orders": self.on_info({"type": "frontendOpenOrders", "user": user})}

    def _ws_funding(self, f: SimFunding) -> dict[str, Any]:
        return {"time": f.ts_ms, "coin": self.n.coin(f.symbol), "usdc": wire.num(f.usdc), "szi": wire.num(f.szi),
                "fundingRate": str(f.rate)}

    # ---- fan-out ----
    def _subscribers(self, kind: str, **match: Any) -> list[Client]:
        out = []
        for c in self.clients:
            for sub in c.subs.values():
                if sub["type"] == kind and all(str(sub.get(k, "")).lower() == str(v).lower() for k, v in match.items()):
                    out.append(c)
                    break
        return out

    def _push_accounts(self, users: list[str]) -> None:
        for user in users:
            for kind in sorted(ACCOUNT_FEEDS):
                state = None
                for c in self._subscribers(kind, user=user):
                    state = state or self._account_state(kind, user)
                    self._send(c, kind, state)

    def _account_watchers(self) -> set[str]:
        return {str(sub.get("user", "")).lower() for c in self.clients for sub in c.subs.values()
                if sub["type"] in ACCOUNT_FEEDS}

    def _on_engine(self, kind: str, payload: object) -> None:
        if not self.clients:
            return
        account = payload if kind == "account" else getattr(payload, "account", None)
        with contextlib.suppress(RuntimeError):  # no running loop: nobody is listening
            if isinstance(payload, SimOrder | SimFill):
                self._books.mark(payload.symbol)
            if isinstance(account, str):  # pushed to whoever watches it, at the end of the burst
                self._accounts.mark(account)
        if isinstance(payload, SimOrder) and kind == "order" and payload.oid > 0:
            for c in self._subscribers("orderUpdates", user=payload.account):
                self._send(c, "orderUpdates", [wire.ws_order(payload, self.n)])
        elif isinstance(payload, SimFill):
            f = wire.fill(payload, self.n)
            for c in self._subscribers("userFills", user=payload.account):
                self._send(c, "userFills", {"user": payload.account, "fills": [f]})
            for c in self._subscribers("userEvents", user=payload.account):
                self._send(c, "user", {"fills": [f]})
            if payload.crossed:
                trade = {"coin": f["coin"], "side": f["side"], "px": f["px"], "sz": f["sz"], "hash": f["hash"],
                         "time": f["time"], "tid": f["tid"], "users": [payload.account, "0x" + "0" * 40]}
                for c in self._subscribers("trades", coin=f["coin"]):
                    self._send(c, "trades", [trade])
        elif isinstance(payload, SimFunding):
            item = self._ws_funding(payload)
            for c in self._subscribers("userFundings", user=payload.account):
                self._send(c, "userFundings", {"user": payload.account, "fundings": [item]})
            for c in self._subscribers("userEvents", user=payload.account):
                self._send(c, "user", {"funding": item})
        elif isinstance(payload, SimLiquidation):
            liq = {"lid": 0, "liquidator": "0x" + "0" * 40, "liquidated_user": payload.account,
                   "liquidated_ntl_pos": wire.num(abs(payload.size) * payload.price),
                   "liquidated_account_value": wire.num(self.e.account_value(payload.account))}
            for c in self._subscribers("userEvents", user=payload.account):
                self._send(c, "user", {"liquidation": liq})

    def prices_moved(self, symbols: list[str], *, mids: bool = True) -> None:
        if not self.clients:
            return
        if mids:  # marks moved: unrealized PnL, margin, liquidation prices (a book change alone moves none)
            for user in self._account_watchers():
                self._accounts.mark(user)
        if mids:
            all_mids = {"mids": wire.mids(self.e, self.n)}
            for c in self._subscribers("allMids"):
                self._send(c, "allMids", all_mids)
        for s in symbols:
            coin = self.n.coin(s)
            book = None
            for c in self._subscribers("l2Book", coin=coin):
                book = book or wire.l2_book(self.e, self.n, s)
                self._send(c, "l2Book", book)
            for c in self._subscribers("bbo", coin=coin):
                book = book or wire.l2_book(self.e, self.n, s)
                bids, asks = book["levels"]
                self._send(c, "bbo", {"coin": coin, "time": book["time"],
                                      "bbo": [bids[0] if bids else None, asks[0] if asks else None]})
