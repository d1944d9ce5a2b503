"""Request weights per IP, order counts per account, 429 with Retry-After, and the 418 ban.

Windows are whole minutes of the emulator's clock (and 10 s for spot order counts), as the
`X-MBX-USED-WEIGHT-1M` header counts them. Over the limit, a request gets 429 and a `Retry-After`
(seconds to the next window). A client that comes back before its Retry-After has run out is
ignoring the 429; after `ignored_to_ban` such requests its IP is banned: 418 and `Retry-After` until
the ban ends, named in the message too. Bans scale for repeat offenders, 2 minutes doubling up to 3
days (the docs' range). A client that waits as told is never banned, however often it hits the limit.
Order-count 429s come without Retry-After (spot docs) and never lead to a ban.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.aster import errors as E
from sim.aster.errors import AsterError

MINUTE_MS = 60_000
BAN_MIN_MS = 2 * MINUTE_MS
BAN_MAX_MS = 3 * 86_400_000


def depth_weight(limit: int) -> int:
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def klines_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


# (path without version, method) -> weight, or (with symbol, without symbol)
WEIGHTS: dict[tuple[str, str], int | tuple[int, int]] = {
    ("ticker/24hr", "GET"): (1, 40), ("ticker/price", "GET"): (1, 2), ("ticker/bookTicker", "GET"): (1, 2),
    ("openOrders", "GET"): (1, 40), ("batchOrders", "POST"): 5, ("allOrders", "GET"): 5,
    ("countdownCancelAll", "POST"): 10, ("balance", "GET"): 5, ("account", "GET"): 5,
    ("accountWithJoinMargin", "GET"): 5, ("positionRisk", "GET"): 5, ("userTrades", "GET"): 5,
    ("income", "GET"): 30, ("positionSide/dual", "GET"): 30, ("multiAssetsMargin", "GET"): 30,
    ("commissionRate", "GET"): 20, ("historicalTrades", "GET"): 20, ("aggTrades", "GET"): 20,
}


def weight_of(path: str, method: str, params: dict[str, str]) -> int:
    if path == "depth":
        return depth_weight(int(params.get("limit", "500") or 500) if params.get("limit", "").isdigit() else 500)
    if path in ("klines", "markPriceKlines", "indexPriceKlines"):
        raw = params.get("limit", "500")
        return klines_weight(int(raw) if raw.isdigit() else 500)
    w = WEIGHTS.get((path, method), 1)
    if isinstance(w, tuple):
        return w[0] if params.get("symbol") else w[1]
    return w


@dataclass
class _Ip:
    window: int = -1
    used: int = 0
    retry_at: int = 0  # until when its last 429 told it to wait
    ignored: int = 0
    banned_until: int = 0
    bans: int = 0


class Limits:
    def __init__(self, clock: Callable[[], int], *, weight_per_minute: int = 2400, ignored_to_ban: int = 3,
                 orders: tuple[tuple[int, int], ...] = ((MINUTE_MS, 1200),)):
        self.clock = clock
        self.weight_per_minute = weight_per_minute
        self.ignored_to_ban = ignored_to_ban
        self.orders = orders  # (window ms, limit) per account
        self._ips: dict[str, _Ip] = {}
        self._orders: dict[tuple[str, int], tuple[int, int]] = {}  # (account, window ms) -> (window, count)

    def banned(self, ip: str) -> AsterError | None:
        st = self._ips.get(ip)
        now = self.clock()
        if st is None or st.banned_until <= now:
            return None
        return self._ban_error(st, now)

    @staticmethod
    def _ban_error(st: _Ip, now: int) -> AsterError:
        secs = max(1, -(-(st.banned_until - now) // 1000))
        return AsterError(E.BANNED[0], E.BANNED[1].format(st.banned_until), 418, {"Retry-After": str(secs)})

    def charge(self, ip: str, weight: int) -> int:
        """Count a request's weight; returns the weight used this minute. Raises 429 / 418."""
        now = self.clock()
        st = self._ips.setdefault(ip, _Ip())
        if st.banned_until > now:
            raise self._ban_error(st, now)
        window = now // MINUTE_MS
        if window != st.window:
            st.window, st.used = window, 0
        if st.used + weight > self.weight_per_minute:
            if now < st.retry_at:
                st.ignored += 1
                if st.ignored >= self.ignored_to_ban:
                    st.banned_until = now + min(BAN_MAX_MS, BAN_MIN_MS * 2 ** st.bans)
                    st.bans += 1
                    st.ignored = 0
                    raise self._ban_error(st, now)
            st.retry_at = (window + 1) * MINUTE_MS
            secs = max(1, -(-(st.retry_at - now) // 1000))
            raise AsterError(E.TOO_MANY_REQUESTS[0], E.TOO_MANY_REQUESTS[1].format(self.weight_per_minute), 429,
                             {"Retry-After": str(secs), "X-MBX-USED-WEIGHT-1M": str(st.used)})
        st.used += weight
        return st.used

    def used(self, ip: str) -> int:
        st = self._ips.get(ip)
        return st.used if st is not None and st.window == self.clock() // MINUTE_MS else 0

    def ban(self, ip: str, ms: int) -> None:
        """A ban set from outside (the 418 fault)."""
        st = self._ips.setdefault(ip, _Ip())
        st.banned_until, st.bans = self.clock() + ms, st.bans + 1

    def count_orders(self, account: str, n: int = 1) -> dict[str, str]:
        """Count `n` new orders of an account; returns the X-MBX-ORDER-COUNT-* headers. Raises 429 -1015."""
        now = self.clock()
        counts = []
        for span, limit in self.orders:
            window, count = self._orders.get((account, span), (-1, 0))
            if window != now // span:
                window, count = now // span, 0
            if count + n > limit:
                unit = "MINUTE" if span == MINUTE_MS else f"{span // 1000} SECONDS"
                raise AsterError(E.TOO_MANY_ORDERS[0], E.TOO_MANY_ORDERS[1].format(limit, unit), 429)
            counts.append((span, window, count + n))
        headers = {}
        for span, window, count in counts:
            self._orders[(account, span)] = (window, count)
            headers[f"X-MBX-ORDER-COUNT-{_interval(span)}"] = str(count)
        return headers

    def clear(self) -> None:
        self._ips.clear()
        self._orders.clear()


def _interval(span_ms: int) -> str:
    return f"{span_ms // MINUTE_MS}M" if span_ms % MINUTE_MS == 0 else f"{span_ms // 1000}S"
