"""Who may use the chat page. It can place orders, so every request passes four checks, in this order:

1. Host: an IP literal, `localhost`, or the configured `web.host`, on the page's own port. A DNS
   rebinding attack needs a host *name* that now points at 127.0.0.1: such a request is refused.
2. Origin: a request that carries one (every cross-site fetch, WebSocket, form post) must come from
   the page itself; a request that changes something (POST) must carry it. No CSRF.
3. Password (`web.password`, required off loopback): HTTP Basic, any user name.
4. Token: random per start, printed in the URL, kept in an HttpOnly SameSite=Strict cookie after the
   first load (the first load then redirects to a URL without it).
Tokens and passwords are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

TOKEN_PARAM = "t"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can connect."""
    if host.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, int | None]:
    """'127.0.0.1:8080' -> ('127.0.0.1', 8080); '[::1]:80' -> ('::1', 80); no port -> (host, None)."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, None
        host, rest = value[1:end], value[end + 1:]
        port = rest[1:] if rest.startswith(":") else None
    else:
        host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", None)
    try:
        return host, int(port) if port else None
    except ValueError:
        return host, -1


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Guard:
    token: str
    port: int
    bind_host: str = "127.0.0.1"
    password: str | None = None

    @property
    def cookie(self) -> str:
        return f"tradebot_{self.port}"  # cookies ignore ports: two bots on one machine must not share one

    def host_ok(self, header: str | None) -> bool:
        if not header:
            return False
        host, port = _split_host(header)
        if port not in (self.port, None if self.port == 80 else self.port):
            return False
        return _is_ip(host) or host in LOOPBACK_NAMES or host == self.bind_host.lower()

    def origin_ok(self, origin: str | None, host: str, method: str) -> bool:
        if origin is None:
            return method in SAFE_METHODS  # a same-origin GET (a navigation, an <img>) may carry none
        return hmac.compare_digest(origin.lower().rstrip("/").encode(), f"http://{host.lower()}".encode())

    def password_ok(self, authorization: str | None) -> bool:
        if not self.password:
            return True
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(decoded.partition(":")[2].encode(), self.password.encode())

    def token_ok(self, value: str) -> bool:
        return hmac.compare_digest(value.encode(), self.token.encode())

    def check(self, request: web.Request) -> Refusal | None:
        """None when the request may be served; else why not (no detail a stranger could use)."""
        host = request.headers.get("Host")
        if not self.host_ok(host):
            return Refusal(421, "unknown Host: open the page by the address tradebot printed")
        assert host is not None
        if not self.origin_ok(request.headers.get("Origin"), host, request.method):
            return Refusal(403, "refused: request from another site")
        if not self.password_ok(request.headers.get("Authorization")):
            return Refusal(401, "password required", (("WWW-Authenticate", 'Basic realm="tradebot", charset="UTF-8"'),))
        given = request.query.get(TOKEN_PARAM)
        if given is None:
            given = request.cookies.get(self.cookie)
        if given is None:
            return Refusal(401, "this page needs the link tradebot printed at start (its token changes on every start)")
        if not self.token_ok(given):
            return Refusal(403, "wrong or expired token: open the link tradebot printed at its last start")
        return None


__all__ = ["TOKEN_PARAM", "Guard", "Refusal", "is_loopback"]
