"""The order state machine: allowed transitions are data; a finished order is never reopened."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from exchanges.models import Fill, Order, OrderStatus

S = OrderStatus
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.WAITING_TRIGGER, S.FILLED, S.CANCELED, S.REJECTED}),
    S.UNKNOWN: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.WAITING_TRIGGER, S.FILLED, S.CANCELED, S.REJECTED}),
    S.WAITING_TRIGGER: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED}),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELED}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
}
LIVE = frozenset({S.PENDING, S.UNKNOWN, S.OPEN, S.PARTIALLY_FILLED, S.WAITING_TRIGGER})


def new_client_id() -> str:
    """16 random bytes as 0x-hex: a valid Hyperliquid cloid and Aster newClientOrderId (34 chars)."""
    return "0x" + secrets.token_hex(16)


def merge(old: Order, new: Order) -> Order | None:
    """Fold a venue report into the stored order. Returns None when nothing changes.
    Fills only grow; a status moves only along ALLOWED; a late report cannot reopen a final order."""
    status = new.status if new.status is old.status or new.status in ALLOWED[old.status] else old.status
    filled = max(old.filled, new.filled)
    avg = new.avg_price if new.filled >= old.filled and new.avg_price is not None else old.avg_price
    if status in (S.OPEN, S.PARTIALLY_FILLED) and filled > 0:
        status = S.FILLED if filled >= old.size else S.PARTIALLY_FILLED
    merged = replace(
        old, status=status, filled=filled, avg_price=avg, order_id=old.order_id or new.order_id,
        reason=new.reason if status is not old.status and new.reason else old.reason,
        updated_ms=max(old.updated_ms, new.updated_ms),
    )
    return None if merged == old else merged


def with_fills(order: Order, fills: Iterable[Fill], ts_ms: int) -> Order:
    """The order as its (deduplicated) fills say it stands."""
    fills = list(fills)
    size = sum((f.size for f in fills), Decimal(0))
    if size <= order.filled:
        return order
    avg = sum((f.price * f.size for f in fills), Decimal(0)) / size
    status = order.status
    if not status.is_final or status is S.CANCELED:
        if size >= order.size:
            status = S.FILLED
        elif not status.is_final:
            status = S.PARTIALLY_FILLED
    return replace(order, filled=size, avg_price=avg, status=status, updated_ms=max(order.updated_ms, ts_ms))
