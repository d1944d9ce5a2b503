"""User-data streams: listenKeys and what is pushed on them.

A listenKey lives 60 minutes of the emulator's clock; POST gives the account's live key (extended)
or a new one, PUT extends it, DELETE closes it. When one ages out (or the `listenkey_expire` fault
says so) its connections get `listenKeyExpired` and nothing more; REST calls with it answer -1125.

Futures accounts get ORDER_TRADE_UPDATE for every order change (one TRADE per fill), ACCOUNT_UPDATE
when the wallet or a position moves (once per burst of changes, with the reason: ORDER, FUNDING_FEE,
DEPOSIT, ...), MARGIN_CALL when the maintenance margin reaches 80 % of the margin balance (once per
crossing), ACCOUNT_CONFIG_UPDATE on leverage and position-mode changes. Spot accounts get
executionReport and outboundAccountPosition.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sim.accounts import key_side, key_symbol
from sim.aster import events as ev
from sim.aster.errors import LISTEN_KEY, err
from sim.aster.orders import AsterOrder, Orders
from sim.aster.streams import Hub
from sim.aster.wire import Fmt
from sim.engine import Engine, SimFill, SimFunding

ZERO = Decimal(0)
KEY_LIFE_MS = 60 * 60_000
MARGIN_CALL_RATIO = Decimal("0.8")


@dataclass
class ListenKey:
    key: str
    user: str
    side: str
    expires_ms: int


class ListenKeys:
    def __init__(self, clock: Callable[[], int], hub: Hub):
        self.clock, self.hub = clock, hub
        self.keys: dict[str, ListenKey] = {}

    def live(self, side: str, key: str) -> bool:
        k = self.keys.get(key)
        return k is not None and k.side == side and k.expires_ms > self.clock()

    def of(self, user: str, side: str) -> ListenKey | None:
        return next((k for k in self.keys.values() if k.user == user and k.side == side), None)

    def start(self, user: str, side: str) -> str:
        k = self.of(user, side)
        if k is None:
            k = ListenKey(secrets.token_hex(32), user, side, 0)
            self.keys[k.key] = k
        k.expires_ms = self.clock() + KEY_LIFE_MS
        return k.key

    def _mine(self, user: str, side: str, key: str | None) -> ListenKey:
        k = self.keys.get(key) if key else self.of(user, side)
        if k is None or k.user != user or k.side != side:
            raise err(LISTEN_KEY)
        return k

    def keepalive(self, user: str, side: str, key: str | None) -> None:
        self._mine(user, side, key).expires_ms = self.clock() + KEY_LIFE_MS

    async def close(self, user: str, side: str, key: str | None) -> None:
        k = self._mine(user, side, key)
        del self.keys[k.key]
        await self.hub.close_all(k.key)

    def expire(self, user: str | None = None) -> None:
        """Age out what is due (or, forced, every key of `user` / every key)."""
        now = self.clock()
        for k in list(self.keys.values()):
            forced = user is not None and (user == "*" or k.user == user)
            if forced or k.expires_ms <= now:
                del self.keys[k.key]
                self.hub.to_key(k.key, ev.listen_key_expired(now))
                for c in self.hub.conns:
                    if c.listen_key == k.key:
                        c.listen_key = None  # nothing more on it

    def push(self, user: str, side: str, payload: dict[str, Any]) -> None:
        k = self.of(user, side)
        if k is not None and k.expires_ms > self.clock():
            self.hub.to_key(k.key, payload)


class UserFeed:
    """Turns one venue side's order and engine events into user-data payloads."""

    def __init__(self, engine: Engine, orders: Orders, keys: ListenKeys, side: str, clock: Callable[[], int]):
        self.e, self.orders, self.keys, self.side, self.clock = engine, orders, keys, side, clock
        self.fmt = Fmt(orders.cat)
        self.spot = side == "spot"
        self._changed: dict[str, tuple[set[tuple[str, str | None]], str, Decimal]] = {}
        self._scheduled = False
        self.margin_called: set[str] = set()
        orders.listeners.append(self._on_order)
        engine.subscribe(self._on_engine)

    def _on_order(self, o: AsterOrder, x: str, fill: SimFill | None) -> None:
        now = self.clock()
        if self.spot:
            self.keys.push(o.user, self.side, ev.execution_report(o, x, fill, self.fmt, now))
        else:
            self.keys.push(o.user, self.side, ev.order_trade_update(o, x, fill, self.fmt, now))

    def _on_engine(self, kind: str, payload: object) -> None:
        if isinstance(payload, SimFill):
            leg = self.orders.orders.get(self.orders.by_oid.get(payload.oid, -1))
            side = leg.position_side if leg is not None and leg.position_side != "BOTH" else None
            self.changed(payload.account, [(payload.symbol, side)], "ORDER", ZERO)
        elif isinstance(payload, SimFunding):
            self.changed(payload.account, [(payload.symbol, None)], "FUNDING_FEE", payload.usdc)

    def changed(self, user: str, legs: list[tuple[str, str | None]], reason: str, change: Decimal) -> None:
        """Mark an account as moved; one update per account goes out at the end of the burst."""
        held, r, c = self._changed.get(user, (set(), reason, ZERO))
        held.update(legs)
        self._changed[user] = (held, r, c + change)
        if not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
                self._scheduled = True
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        changed, self._changed = self._changed, {}
        now = self.clock()
        for user, (legs, reason, change) in changed.items():
            if self.keys.of(user, self.side) is None:
                continue
            if self.spot:
                m = self.orders.cat
                assets = sorted({a for s, _ in legs for a in (m.markets[m.native(s)].base, "USDT")} if legs
                                else set(self.e.account(user).spot))
                self.keys.push(user, self.side, ev.outbound_account_position(self.e, user, assets, reason, now))
            else:
                if reason == "FUNDING_FEE":  # every leg of the markets that paid or were paid
                    symbols = {s for s, _ in legs}
                    legs = {(key_symbol(k), key_side(k)) for k in self.e.account(user).positions
                            if key_symbol(k) in symbols}
                self.keys.push(user, self.side, ev.account_update(self.e, user, sorted(legs, key=str), reason, change,
                                                                  self.fmt, now))

    def check_margin(self) -> None:
        """MARGIN_CALL once when an account's maintenance margin reaches 80 % of its margin balance."""
        if self.spot:
            return
        for user in list(self.e.accounts):
            views = self.e.positions_view(user)
            if not views:
                self.margin_called.discard(user)
                continue
            balance = self.e.cross_account_value(user) + self.e.isolated_equity(user)
            maint = sum((abs(v.size) * v.mark / (2 * self.e.markets[v.symbol].max_leverage) for v in views), ZERO)
            if balance > 0 and maint < balance * MARGIN_CALL_RATIO:
                self.margin_called.discard(user)
            elif user not in self.margin_called:
                self.margin_called.add(user)
                with contextlib.suppress(KeyError):
                    self.keys.push(user, self.side, ev.margin_call(self.e, user, self.fmt))
