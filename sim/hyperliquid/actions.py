"""POST /exchange: signature and nonce checks, then the actions, with the venue's own words."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from exchanges.hyperliquid.signing import l1_digest, recover, user_signed_digest
from exchanges.models import OrderRequest, OrderStatus
from sim.book import SimOrder
from sim.engine import Engine, Reject
from sim.hyperliquid import wire
from sim.hyperliquid.wire import Names, WireError

APPROVE_TYPES = [{"name": "hyperliquidChain", "type": "string"}, {"name": "agentAddress", "type": "address"},
                 {"name": "agentName", "type": "string"}, {"name": "nonce", "type": "uint64"}]
DAY_MS = 86_400_000
# engine refusals in Hyperliquid's words (per-order errors also end with " asset=N", as live answers do)
WORDS = {
    "TICK": "Price must be divisible by tick size.",
    "SIZE": "Order has invalid size.",
    "MARGIN": "Insufficient margin to place order.",
    "SPOT_BALANCE": "Insufficient spot balance",
    "REDUCE_ONLY": "Reduce only order would increase position.",
    "IOC_NO_MATCH": "Order could not immediately match against any resting orders.",
    "NO_LIQUIDITY": "No liquidity available for market order.",
    "BAD_TRIGGER": "Invalid TP/SL price.",
    "DUPLICATE_CLOID": "Order has duplicate cloid.",
}
NEVER_PLACED = "Order was never placed, already canceled, or filled."


class ActionError(Exception):
    """Refused as a whole: {"status": "err", "response": message}."""


def ok(kind: str = "default", statuses: list[Any] | None = None) -> dict[str, Any]:
    if statuses is None:
        return {"status": "ok", "response": {"type": kind}}
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


@dataclass
class Accounts:
    known: set[str] = field(default_factory=set)
    agents: dict[str, str] = field(default_factory=dict)  # agent -> master
    vaults: dict[str, str] = field(default_factory=dict)  # vault -> leader
    nonces: dict[str, list[int]] = field(default_factory=dict)  # signer -> the 100 highest
    volume: dict[str, Decimal] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def check_nonce(self, signer: str, nonce: int, now: int) -> None:
        if not now - 2 * DAY_MS < nonce < now + DAY_MS:
            raise ActionError(f"Invalid nonce: nonce {nonce} is too far from the current time {now}")
        seen = self.nonces.setdefault(signer, [])
        i = bisect.bisect_left(seen, nonce)
        if i < len(seen) and seen[i] == nonce:
            raise ActionError(f"Invalid nonce: duplicate nonce {nonce}")
        if len(seen) >= 100 and nonce < seen[0]:
            raise ActionError(f"Invalid nonce: nonce too low {nonce} < {seen[0]}")
        seen.insert(i, nonce)
        if len(seen) > 100:
            del seen[0]


class Actions:
    def __init__(self, engine: Engine, names: Names, accounts: Accounts, *, mainnet: bool,
                 schedule_cancel_volume: Decimal = Decimal(0), clock: Callable[[], int] | None = None):
        self.e, self.n, self.a = engine, names, accounts
        self.mainnet = mainnet
        self.schedule_cancel_volume = schedule_cancel_volume
        self.clock = clock or engine.clock

    # ---- envelope ----
    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            action, nonce, sig = body["action"], body["nonce"], body["signature"]
        except (KeyError, TypeError):
            raise WireError("body must have action, nonce and signature") from None
        if not isinstance(action, dict) or not isinstance(nonce, int) or not isinstance(sig, dict):
            raise WireError("malformed action, nonce or signature")
        try:
            user, signer = self._who(action, nonce, sig, body.get("vaultAddress"), body.get("expiresAfter"))
            self.a.check_nonce(signer, nonce, self.clock())
            self.a.requests[user] = self.a.requests.get(user, 0) + 1
            expires = body.get("expiresAfter")
            if expires is not None and expires < self.clock():
                raise ActionError(f"Action expired at {expires}")
            fn = getattr(self, f"a_{action.get('type')}", None)
            if fn is None:
                raise WireError(f"unknown action type {action.get('type')!r}")
            return fn(user, action)
        except ActionError as exc:
            return {"status": "err", "response": str(exc)}

    def _who(self, action: dict[str, Any], nonce: int, sig: dict[str, Any], vault: Any,
             expires: Any) -> tuple[str, str]:
        try:
            if action.get("type") == "approveAgent":
                msg = dict(action)
                msg.setdefault("agentName", "")
                digest = user_signed_digest(msg, APPROVE_TYPES, "HyperliquidTransaction:ApproveAgent")
            else:
                digest = l1_digest(action, vault, nonce, expires, self.mainnet)
            signer = recover(digest, sig)
        except (ValueError, KeyError, TypeError):
            raise ActionError("Unable to recover signer.") from None
        user = self.a.agents.get(signer, signer)
        if user not in self.a.known:
            raise ActionError(f"User or API Wallet {signer} does not exist.")
        if vault is not None:
            v = str(vault).lower()
            if self.a.vaults.get(v) != user:
                raise ActionError(f"Vault {v} is not managed by {user}.")
            user = v
        return user, signer

    # ---- actions ----
    def _status(self, o: SimOrder) -> dict[str, Any]:
        if o.filled > 0 and o.status is not OrderStatus.OPEN:
            out = {"totalSz": wire.num(o.filled), "avgPx": wire.num(o.avg_price or Decimal(0)), "oid": o.oid}
            return {"filled": out | ({"cloid": o.cloid} if o.cloid else {})}
        return {"resting": {"oid": o.oid} | ({"cloid": o.cloid} if o.cloid else {})}

    def _place(self, user: str, w: dict[str, Any], req: OrderRequest | None = None) -> Any:
        try:
            req = req or wire.order_request(w, self.n)
        except WireError as exc:
            return {"error": f"Order has invalid price. {exc}"}
        m = self.e.markets[req.symbol]
        if req.size == 0:
            return {"error": f"Order has zero size. asset={w['a']}"}
        try:
            o = self.e.place(user, req)
        except Reject as exc:
            if exc.code == "MIN_NOTIONAL":
                unit = f"10 {m.quote}" if m.kind.value == "spot" else "$10"
                msg = f"Order must have minimum value of {unit}."
                return {"error": f"{msg} asset={w['a']}"}
            if exc.code == "POST_ONLY":
                return {"error": f"{exc.message}. asset={w['a']}"}
            return {"error": f"{WORDS.get(exc.code, exc.message)} asset={w['a']}"}
        if o.filled:
            self.a.volume[user] = self.a.volume.get(user, Decimal(0)) + o.filled * (o.avg_price or Decimal(0))
        return self._status(o)

    def a_order(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        orders = action.get("orders")
        grouping = action.get("grouping", "na")
        if not isinstance(orders, list) or not orders:
            raise WireError("orders must be a non-empty list")
        if grouping == "normalTpsl" and len(orders) > 1:
            return ok("order", self._normal_tpsl(user, orders))
        return ok("order", [self._place(user, w) for w in orders])

    def _normal_tpsl(self, user: str, orders: list[dict[str, Any]]) -> list[Any]:
        """Parent plus TP/SL children; the children arm only when the parent fills completely."""
        parent = wire.order_request(orders[0], self.n)
        tp = sl = None
        for w in orders[1:]:
            child = wire.order_request(w, self.n)
            if child.trigger_price is None:
                raise WireError("normalTpsl children must be trigger orders")
            if child.order_type.value == "take_profit":
                tp = child.trigger_price
            else:
                sl = child.trigger_price
        first = self._place(user, orders[0], replace(parent, take_profit=tp, stop_loss=sl))
        if "error" in first:
            return [first] + [{"error": "Order has invalid price."} for _ in orders[1:]]
        filled = "filled" in first
        return [first] + ["waitingForTrigger" if filled else "waitingForFill" for _ in orders[1:]]

    def _cancel_one(self, user: str, asset: Any, oid: int | None, cloid: str | None) -> Any:
        m = self.n.market(asset)
        o = self.e.find(user, oid=oid, cloid=cloid)
        if m is None or o is None or o.symbol != m.symbol or o.oid not in self.e.open:
            return {"error": f"{NEVER_PLACED} asset={asset}"}
        self.e.cancel(user, oid=o.oid)
        return "success"

    def a_cancel(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        return ok("cancel", [self._cancel_one(user, c.get("a"), c.get("o"), None) for c in action.get("cancels", [])])

    def a_cancelByCloid(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        return ok("cancel", [self._cancel_one(user, c.get("asset"), None, c.get("cloid"))
                             for c in action.get("cancels", [])])

    def _modify(self, user: str, ref: Any, w: dict[str, Any]) -> Any:
        req = wire.order_request(w, self.n)
        old = self.e.find(user, cloid=ref) if isinstance(ref, str) else self.e.find(user, oid=ref)
        if old is None or old.oid not in self.e.open:
            return {"error": "Cannot modify canceled or filled order"}
        try:
            return self._status(self.e.modify(user, req, oid=old.oid))
        except Reject as exc:
            return {"error": f"{WORDS.get(exc.code, exc.message)} asset={w['a']}"}

    def a_modify(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        result = self._modify(user, action.get("oid"), action.get("order", {}))
        if "error" in result:
            raise ActionError(result["error"])
        return ok()

    def a_batchModify(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        return ok("order", [self._modify(user, m.get("oid"), m.get("order", {})) for m in action.get("modifies", [])])

    def a_updateLeverage(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        m = self.n.market(action.get("asset"))
        if m is None:
            raise ActionError(f"Unknown asset {action.get('asset')}")
        try:
            self.e.set_leverage(user, m.symbol, int(action.get("leverage", 0)), bool(action.get("isCross", True)))
        except Reject as exc:
            raise ActionError(exc.message) from None
        return ok()

    def a_updateIsolatedMargin(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        m = self.n.market(action.get("asset"))
        if m is None:
            raise ActionError(f"Unknown asset {action.get('asset')}")
        try:  # ntli: USD with 6 implied decimals, signed (negative takes margin out)
            self.e.update_isolated_margin(user, m.symbol, Decimal(int(action.get("ntli", 0))) / 1_000_000)
        except Reject as exc:
            raise ActionError(exc.message) from None
        return ok()

    def a_scheduleCancel(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        traded = self.a.volume.get(user, Decimal(0))
        if traded < self.schedule_cancel_volume:
            raise ActionError(f"Cannot set scheduled cancel time until enough volume traded. Required:"
                              f" ${self.schedule_cancel_volume}. Traded: ${traded.quantize(Decimal('0.01'))}.")
        at = action.get("time")
        if at is not None and at < self.clock() + 5000:
            raise ActionError("Scheduled cancel time too early, must be at least 5 seconds from now.")
        self.e.schedule_cancel(user, at)
        return ok()

    def a_approveAgent(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        agent = str(action.get("agentAddress", "")).lower()
        if len(agent) != 42:
            raise WireError("agentAddress must be an address")
        self.a.agents[agent] = user
        return ok()

    def a_noop(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        return ok()
