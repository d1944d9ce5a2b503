"""What a change of an order's state means to the trader: the one place that classifies it.

`classify(before, after, cause)` is pure. The transition (the allowed ones are the table below,
the same set the state machine in risk/order_state.py accepts) gives what happened; for a cancel,
who did it comes from `cause`, which the OrderManager knows (`cancel_cause`: the cancels it sent),
never from the venue's wording. Alerts tell a change by its Kind and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from exchanges.models import Order, OrderStatus, OrderType, TimeInForce

S = OrderStatus

# adapters report a trigger that fired with this reason (paper and Hyperliquid both do): an order
# update that only says "open" cannot tell a waiting trigger order from a fired one on every venue
TRIGGERED_REASON = "triggered"


class Kind(StrEnum):
    NONE = "none"  # nothing a trader would see changed
    LATE = "late"  # a report the state machine refuses (it would reopen a finished order): ignored
    FOUND = "found"  # an order the bot had not seen, live on the venue
    ACCEPTED = "accepted"  # the venue took it: resting, or waiting for its trigger
    TRIGGERED = "triggered"  # a take profit / stop loss reached its trigger price
    PARTLY_FILLED = "partly_filled"
    FILLED = "filled"
    CANCELLED_BY_YOU = "cancelled_by_you"
    CANCELLED_BY_KILL = "cancelled_by_kill"
    CANCELLED_BY_VENUE = "cancelled_by_venue"  # the venue, or someone outside the bot; `reason` says why
    EXPIRED = "expired"  # the unfilled rest of an immediate-or-cancel (market) order lapsed
    REJECTED = "rejected"  # refused after the venue had accepted it (e.g. a TP/SL that fired)
    NOT_ACCEPTED = "not_accepted"  # refused on sending; the order's own result tells it


class Cause(StrEnum):
    """Why an order was cancelled, when the bot did it."""

    YOU = "you"
    KILL = "kill"
    REPLACED = "replaced"  # a moved TP/SL: the new one is on the venue, the old one goes

    @property
    def words(self) -> str:
        """As the order's reason says it (stored, and shown in /orders history)."""
        return CAUSE_WORDS[self]


CAUSE_WORDS = {Cause.YOU: "cancelled by you", Cause.KILL: "cancelled by the kill switch",
               Cause.REPLACED: "replaced by a modified order"}


_CANCELLED = Kind.CANCELLED_BY_VENUE  # in the table: a cancel, whose author `cause` settles
_BEFORE_ACK = (S.PENDING, S.UNKNOWN)

TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], Kind] = {
    **{(b, a): k for b in _BEFORE_ACK for a, k in (
        (S.OPEN, Kind.ACCEPTED), (S.WAITING_TRIGGER, Kind.ACCEPTED), (S.PARTIALLY_FILLED, Kind.PARTLY_FILLED),
        (S.FILLED, Kind.FILLED), (S.CANCELED, _CANCELLED), (S.REJECTED, Kind.NOT_ACCEPTED))},
    (S.PENDING, S.UNKNOWN): Kind.NONE,  # sent, the answer was lost: being looked up
    (S.WAITING_TRIGGER, S.OPEN): Kind.TRIGGERED,
    (S.WAITING_TRIGGER, S.PARTIALLY_FILLED): Kind.TRIGGERED,
    (S.WAITING_TRIGGER, S.FILLED): Kind.TRIGGERED,
    (S.WAITING_TRIGGER, S.CANCELED): _CANCELLED,
    (S.WAITING_TRIGGER, S.REJECTED): Kind.REJECTED,
    (S.OPEN, S.PARTIALLY_FILLED): Kind.PARTLY_FILLED,
    (S.OPEN, S.FILLED): Kind.FILLED,
    (S.OPEN, S.CANCELED): _CANCELLED,
    (S.PARTIALLY_FILLED, S.FILLED): Kind.FILLED,
    (S.PARTIALLY_FILLED, S.CANCELED): _CANCELLED,
}
# an order first seen in this state (adopted, or a fill of an order the store did not know)
FIRST_SEEN: dict[OrderStatus, Kind] = {
    S.PENDING: Kind.FOUND, S.UNKNOWN: Kind.FOUND, S.OPEN: Kind.FOUND, S.WAITING_TRIGGER: Kind.FOUND,
    S.PARTIALLY_FILLED: Kind.PARTLY_FILLED, S.FILLED: Kind.FILLED, S.CANCELED: _CANCELLED, S.REJECTED: Kind.REJECTED,
}


@dataclass(frozen=True, slots=True)
class Change:
    kind: Kind
    before: Order | None
    after: Order
    reason: str | None = None  # the venue's words, for a cancel or rejection by the venue

    @property
    def leg(self) -> str | None:
        """'Take profit' / 'Stop loss' for a trigger order, else None."""
        return {OrderType.TAKE_PROFIT: "Take profit", OrderType.STOP: "Stop loss"}.get(self.after.order_type)


def _cancel_kind(before: OrderStatus | None, after: Order, cause: Cause | None) -> Kind:
    if cause is Cause.KILL:
        return Kind.CANCELLED_BY_KILL
    if cause is Cause.YOU or cause is Cause.REPLACED:
        return Kind.CANCELLED_BY_YOU
    immediate = after.tif is TimeInForce.IOC or after.order_type is OrderType.MARKET
    if immediate and before is not S.WAITING_TRIGGER:
        return Kind.EXPIRED
    return Kind.CANCELLED_BY_VENUE


def classify(before: Order | None, after: Order, cause: Cause | None = None) -> Change:
    """What moving from `before` (None: first seen) to `after` means. `cause`: the bot's own cancel."""
    if before is None:
        kind = FIRST_SEEN[after.status]
    elif before.status is after.status:
        more = after.filled > before.filled and after.status is S.PARTIALLY_FILLED
        return Change(Kind.PARTLY_FILLED if more else Kind.NONE, before, after)
    else:
        found = TRANSITIONS.get((before.status, after.status))
        if found is None:
            return Change(Kind.LATE, before, after)
        kind = found
    if kind is _CANCELLED:
        kind = _cancel_kind(before.status if before else None, after, cause)
    reason = after.reason if kind in (Kind.CANCELLED_BY_VENUE, Kind.REJECTED) else None
    return Change(kind, before, after, reason)
