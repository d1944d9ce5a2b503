"""Injected faults, set by `POST /_sim/fault {"kind", ...}`.

REST kinds (each for `count` requests, or for `duration_s`; `path` limits one to paths containing it):
- `latency` {ms}: the request waits ms on the way in and again on the way out;
- `429` / `418`: refused as the rate limiter would (418: a ban of `ms`, default 2 minutes);
- `503`: "Unknown error, please check your request or try again later." — with `executed: true` the
  request was carried out first (an order may exist), as the docs warn a 503 can mean;
- `5xx`: an HTML error page (status `status`, default 502) from the gateway, nothing carried out;
- `drop`: carried out, then the connection is cut before the answer;
- `hold` {ms}: carried out, the answer comes ms later.
Stream kinds act at once: `ws_silent` (data stops, pings still answered, for duration_s or until
`/_sim/clear`), `ws_close` (every connection closed), `listenkey_expire` (every listenKey, or the
`user`'s, expires now).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

REST_KINDS = {"latency", "429", "418", "503", "5xx", "drop", "hold"}
STREAM_KINDS = {"ws_silent", "ws_close", "listenkey_expire"}

HTML_5XX = ("<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n<center><h1>{status} Bad"
            " Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")


@dataclass
class Fault:
    kind: str
    count: int = 1
    until: float | None = None  # monotonic seconds
    ms: int = 0
    path: str | None = None
    executed: bool = False
    status: int = 502


class Faults:
    def __init__(self) -> None:
        self.items: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.items.append(fault)

    def take(self, kind: str, path: str) -> Fault | None:
        """The first live fault of `kind` that applies to `path`, used up by one."""
        now = time.monotonic()
        for f in list(self.items):
            if f.until is not None and now > f.until:
                self.items.remove(f)
                continue
            if f.kind == kind and (f.path is None or f.path in path):
                if f.until is None:
                    f.count -= 1
                    if f.count <= 0:
                        self.items.remove(f)
                return f
        return None

    def clear(self) -> None:
        self.items.clear()
