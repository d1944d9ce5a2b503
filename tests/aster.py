"""An Aster emulator in the test's event loop, clients signed the way the venue's docs sign, and ccxt
pointed at it."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp
import ccxt.async_support as ccxt
import ccxt.pro as ccxtpro
from eth_account import Account
from eth_account.messages import encode_typed_data

from sim.aster.server import AsterSim
from sim.serve import start_site

# the docs' demo credentials: an API wallet (signer) and the main wallet (user) it trades for
SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
SIGNER = "0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0"
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
# a main wallet signing for itself (what ccxt does)
MAIN_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
MAIN = "0x14791697260E4c9A71f18484C9f997B308e59325"
# the docs' V1 HMAC key pair (futures)
API_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
API_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"

_nonces = itertools.count(int(time.time() * 1_000_000))


def nonce() -> int:
    """Microseconds, strictly increasing (the venue keeps the last 100 per user)."""
    return max(next(_nonces), int(time.time() * 1_000_000))


def typed(msg: str, chain_id: int = 1666) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "Message": [{"name": "msg", "type": "string"}],
        },
        "primaryType": "Message",
        "domain": {"name": "AsterSignTransaction", "version": "1", "chainId": chain_id,
                   "verifyingContract": "0x0000000000000000000000000000000000000000"},
        "message": {"msg": msg},
    }


def sign_v3(msg: str, key: str = SIGNER_KEY, chain_id: int = 1666) -> str:
    """As the docs' Python demo signs (eth-account's typed-data encoder), 0x-prefixed."""
    sig = Account.sign_message(encode_typed_data(full_message=typed(msg, chain_id)), private_key=key).signature.hex()
    return sig if sig.startswith("0x") else "0x" + sig


def v3_query(params: dict[str, Any], *, key: str = SIGNER_KEY, user: str | None = USER, signer: str | None = SIGNER,
             nonce_us: int | None = None) -> str:
    """`urlencode(params + nonce + user + signer)` and its signature, appended last."""
    full = {**params, "nonce": str(nonce_us if nonce_us is not None else nonce())}
    if user is not None:
        full["user"] = user
    if signer is not None:
        full["signer"] = signer
    msg = urlencode(full)
    return f"{msg}&signature={sign_v3(msg, key)}"


def v1_query(params: dict[str, Any], secret: str = API_SECRET, *, timestamp: int | None = None,
             recv_window: int | None = None) -> str:
    full = {**params, "timestamp": str(timestamp if timestamp is not None else int(time.time() * 1000))}
    if recv_window is not None:
        full["recvWindow"] = str(recv_window)
    msg = urlencode(full)
    return f"{msg}&signature={hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()}"


@asynccontextmanager
async def aster_venue(**kw: Any) -> AsyncIterator[tuple[AsterSim, str]]:
    sim = AsterSim(**kw)
    runner, url = await start_site(sim.app())
    try:
        yield sim, url
    finally:
        await runner.cleanup()


async def control(url: str, route: str, body: dict[str, Any]) -> Any:
    async with aiohttp.ClientSession() as s, s.post(f"{url}/_sim/{route}", json=body) as r:
        return await r.json()


async def call(session: aiohttp.ClientSession, method: str, url: str, query: str = "", body: str = "",
               headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    full = f"{url}?{query}" if query else url
    hdrs = dict(headers or {})
    if body:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    async with session.request(method, full, data=body or None, headers=hdrs) as r:
        text = await r.text()
        try:
            data: Any = await r.json(content_type=None)
        except ValueError:
            data = text
        return r.status, data, dict(r.headers)


def ccxt_client(url: str, key: str = MAIN_KEY, *, builder_fee: bool = False, **options: Any) -> ccxt.aster:
    ex = ccxt.aster({"privateKey": key, "rateLimit": 5, "options": {"builderFee": builder_fee, **options}})
    ex.urls["api"] = {"fapiPublic": f"{url}/fapi", "fapiPrivate": f"{url}/fapi", "sapiPublic": f"{url}/api",
                      "sapiPrivate": f"{url}/api"}
    return ex


def pro_client(url: str, key: str = MAIN_KEY) -> ccxtpro.aster:
    ex = ccxtpro.aster({"privateKey": key, "rateLimit": 5, "options": {"builderFee": False}})
    ws = url.replace("http://", "ws://")
    ex.urls["api"].update({"fapiPublic": f"{url}/fapi", "fapiPrivate": f"{url}/fapi", "sapiPublic": f"{url}/api",
                           "sapiPrivate": f"{url}/api",
                           "ws": {"public": {"spot": f"{ws}/sstream/stream", "swap": f"{ws}/fstream/stream"},
                                  "private": {"spot": f"{ws}/sstream/ws", "swap": f"{ws}/fstream/ws"}}})
    return ex


class Client:
    """REST calls to one emulator: public, V3-signed (the docs' demo), V1-signed (HMAC)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, clock: Any = None):
        """`clock`: the emulator's (a SimClock) when a test moves it: nonces then follow its time."""
        self.s, self.url, self.clock = session, url, clock
        self._last = 0

    def nonce(self) -> int:
        if self.clock is None:
            return nonce()
        self._last = max(self._last + 1, self.clock.now_us())
        return self._last

    async def public(self, method: str, path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        status, data, _ = await call(self.s, method, self.url + path, urlencode(params or {}))
        return status, data

    async def v3(self, method: str, path: str, params: dict[str, Any] | None = None, *, key: str = SIGNER_KEY,
                 user: str | None = USER, signer: str | None = SIGNER, nonce_us: int | None = None,
                 in_query: bool = False) -> tuple[int, Any, dict[str, str]]:
        q = v3_query(params or {}, key=key, user=user, signer=signer,
                     nonce_us=nonce_us if nonce_us is not None else self.nonce())
        if method == "GET" or in_query:
            return await call(self.s, method, self.url + path, q)
        return await call(self.s, method, self.url + path, body=q)

    async def v1(self, method: str, path: str, params: dict[str, Any] | None = None, *, api_key: str = API_KEY,
                 secret: str = API_SECRET, timestamp: int | None = None) -> tuple[int, Any, dict[str, str]]:
        ts = timestamp if timestamp is not None or self.clock is None else self.clock()
        q = v1_query(params or {}, secret, timestamp=ts)
        hdrs = {"X-MBX-APIKEY": api_key}
        if method == "GET":
            return await call(self.s, method, self.url + path, q, headers=hdrs)
        return await call(self.s, method, self.url + path, body=q, headers=hdrs)


async def registered(url: str) -> None:
    """The docs' API wallet registered for its user, and the docs' V1 key for the same user."""
    await control(url, "signer", {"user": USER, "signer": SIGNER})
    await control(url, "apikey", {"user": USER, "api_key": API_KEY, "api_secret": API_SECRET})


async def next_message(ws: aiohttp.ClientWebSocketResponse, match: Any = None, wait_s: float = 3.0) -> Any:
    """The next JSON message (of a combined stream: its data) for which `match(msg)` holds."""
    import asyncio
    import json

    async def wait() -> Any:
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"stream ended: {msg.type}")
            body = json.loads(msg.data)
            if match is None or match(body):
                return body
    return await asyncio.wait_for(wait(), wait_s)
