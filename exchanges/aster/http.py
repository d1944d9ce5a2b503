"""Aster's REST edge on the shared choke point: two hosts (futures `/fapi`, spot `/api`), their weights,
the venue's own usage headers, its error bodies, and request signing (V3 EIP-712 or V1 HMAC).

Every signed request is encoded once and that very string is signed and sent: in the query string for
GET, as a form body otherwise. V3 adds `nonce` (µs, strictly increasing, on the venue's clock), `user`
and `signer`; V1 adds `timestamp` (ms, on the venue's clock) and `recvWindow`, with the key in the
`X-MBX-APIKEY` header. Both hosts share one circuit breaker: one venue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from exchanges.aster.errors import NONCE_CODES, TIMESTAMP_OFF, TOO_MANY_ORDERS, error_body, is_error, map_error
from exchanges.aster.signing import V3Signer, encode, hmac_signature
from exchanges.common.breaker import CircuitBreaker
from exchanges.common.nonce import NonceSource
from exchanges.common.rest import RestClient, WeightBudget, excerpt
from exchanges.errors import AuthenticationError, ExchangeError

VENUE = "aster"
RECV_WINDOW_MS = 5000
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# per endpoint (the last path segment); 1 unless listed. Weights that depend on a parameter are below.
WEIGHTS = {"balance": 5, "account": 5, "accountWithJoinMargin": 5, "positionRisk": 5, "userTrades": 5,
           "income": 30, "countdownCancelAll": 10, "commissionRate": 20, "batchOrders": 5,
           "allOrders": 5, "exchangeInfo": 1}


def weight(path: str, params: dict[str, Any]) -> int:
    last = path.rsplit("/", 1)[-1]
    if last == "depth":
        limit = int(params.get("limit", 500))
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
    if last == "klines":
        limit = int(params.get("limit", 500))
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    if last == "openOrders" and "symbol" not in params:
        return 40
    if last in ("24hr", "price", "bookTicker") and "symbol" not in params:
        return 40 if last == "24hr" else 2
    return WEIGHTS.get(last, 1)


@dataclass(frozen=True)
class Credentials:
    """V3: `user` (the main wallet), `signer` (its API wallet) and the signer's key. V1: api key and secret."""

    user: str = ""
    signer_key: str = ""
    api_key: str = ""
    api_secret: str = ""

    @property
    def v3(self) -> bool:
        return bool(self.signer_key)

    def __repr__(self) -> str:  # never the secrets
        return f"Credentials({'V3 ' + self.user if self.v3 else 'V1'})"


class AsterHost(RestClient):
    """One of the venue's two hosts: maps its error bodies and follows its usage headers."""

    def __init__(self, base_url: str, *, session: aiohttp.ClientSession | None, weight_per_minute: int,
                 orders_per_minute: int, timeout_s: float, breaker: CircuitBreaker):
        super().__init__(base_url, venue=VENUE, session=session, weight_per_minute=weight_per_minute,
                         reserve=max(20, weight_per_minute // 20), timeout_s=timeout_s, breaker=breaker)
        self.orders = WeightBudget(orders_per_minute, max(5, orders_per_minute // 20), venue=VENUE)

    def observe(self, status: int, headers: CIMultiDictProxy[str]) -> None:
        used = headers.get("X-MBX-USED-WEIGHT-1M")
        if used and used.isdigit():
            self.budget.sync(int(used))
        for name, value in headers.items():
            if name.upper() == "X-MBX-ORDER-COUNT-1M" and value.isdigit():
                self.orders.sync(int(value))

    def limited(self, status: int, text: bytes, retry_after: float | None) -> float:
        body = error_body(text)
        if status == 429 and body is not None and str(body.get("code")) == str(TOO_MANY_ORDERS):
            return self.orders.throttled(retry_after)  # the account's order count: reads go on
        return super().limited(status, text, retry_after)

    def refused(self, status: int, text: bytes) -> ExchangeError:
        body = error_body(text)
        if body is None:
            return ExchangeError(f"venue refused the request ({status}): {excerpt(text, 300)}", venue=VENUE)
        return map_error(body)


class AsterHttp:
    def __init__(self, base_url: str, spot_base_url: str, credentials: Credentials, *,
                 signer: V3Signer | None, nonces: NonceSource, clock: Callable[[], int],
                 session: aiohttp.ClientSession | None = None, weight_per_minute: int = 2400,
                 orders_per_minute: int = 1200, timeout_s: float = 10.0, breaker: CircuitBreaker | None = None):
        self.breaker = breaker or CircuitBreaker(VENUE)
        self.futures = AsterHost(base_url, session=session, weight_per_minute=weight_per_minute,
                                 orders_per_minute=orders_per_minute, timeout_s=timeout_s, breaker=self.breaker)
        self.spot = AsterHost(spot_base_url, session=session, weight_per_minute=weight_per_minute,
                              orders_per_minute=orders_per_minute, timeout_s=timeout_s, breaker=self.breaker)
        self.creds, self.signer, self.nonces, self.clock = credentials, signer, nonces, clock

    def host(self, path: str) -> AsterHost:
        return self.futures if path.startswith("/fapi") else self.spot

    @property
    def last_latency_ms(self) -> float | None:
        return self.futures.last_latency_ms

    async def close(self) -> None:
        await self.futures.close()
        await self.spot.close()

    # ---- public ----
    async def public(self, path: str, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        query = encode((k, _wire(v)) for k, v in params.items())
        return await self.host(path).read("GET", f"{path}?{query}" if query else path, weight=weight(path, params))

    async def sync_time(self) -> None:
        """The venue's clock, from /time: half the round trip counts as the way there."""
        t0 = self.clock()
        server = int((await self.public("/fapi/v1/time"))["serverTime"])
        self.nonces.set_server_time(server - (self.clock() - t0) // 2)

    # ---- signed ----
    def sign(self, params: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """The encoded, signed parameter string and the headers it needs."""
        pairs = [(k, _wire(v)) for k, v in params.items() if v is not None]
        if self.creds.v3:
            assert self.signer is not None
            pairs += [("nonce", str(self.nonces.next())), ("user", self.creds.user), ("signer", self.signer.address)]
            msg = encode(pairs)
            return f"{msg}&signature={self.signer.sign(msg)}", {}
        pairs += [("recvWindow", str(RECV_WINDOW_MS)), ("timestamp", str(self.nonces.now_ms()))]
        msg = encode(pairs)
        return (f"{msg}&signature={hmac_signature(self.creds.api_secret, msg)}",
                {"X-MBX-APIKEY": self.creds.api_key})

    async def signed(self, method: str, path: str, params: dict[str, Any] | None = None, *, write: bool = False,
                     cancel: bool = False, order: bool = False) -> Any:
        """A signed request. `write`: it may change the account (a lost answer is an unknown outcome);
        `cancel`: it makes the account safer (the weight reserve, past an open breaker); `order`: it
        counts against the order budget."""
        params = params or {}
        host = self.host(path)
        w = weight(path, params)
        for attempt in range(2):
            query, headers = self.sign(params)
            if order:
                await host.orders.take(1, priority=cancel, max_wait_s=host.max_wait_s)
            try:
                if method == "GET" and not write:
                    out = await host.read("GET", f"{path}?{query}", weight=w, headers=headers)
                elif method == "GET":
                    out = await host.request("GET", f"{path}?{query}", weight=w, write=True, priority=cancel,
                                             headers=headers)
                else:
                    out = await host.request(method, path, weight=w, write=write, priority=cancel, body=query,
                                             headers={**FORM, **headers})
            except AuthenticationError as exc:
                if attempt == 0 and exc.code is not None and int(exc.code) in NONCE_CODES:
                    continue  # refused unread: safe to sign again with a fresh nonce
                if attempt == 0 and exc.code == str(TIMESTAMP_OFF):
                    await self.sync_time()  # our idea of the venue's clock drifted: measure, sign again
                    continue
                raise
            if is_error(out):  # some errors come with HTTP 200
                raise map_error(out)
            return out
        raise AssertionError("unreachable")


    async def user_stream(self, method: str, path: str) -> Any:
        """listenKey management: V1 needs only the API key header; V3 is signed like any request."""
        if self.creds.v3:
            return await self.signed(method, path)
        out = await self.host(path).request(method, path, weight=1, write=False,
                                            headers={"X-MBX-APIKEY": self.creds.api_key})
        if is_error(out):
            raise map_error(out)
        return out


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
