"""Every order-state change, classified in one place: each pair of states, each cause of a cancel."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from exchanges.models import Order, OrderStatus, OrderType, Side, TimeInForce
from risk.order_changes import TRANSITIONS, Cause, Kind, classify
from risk.order_state import ALLOWED

S = OrderStatus
K = Kind
STOP = Order("hyperliquid", "ETH", Side.SELL, D("0.5"), D(3100), S.WAITING_TRIGGER, order_id="7",
             order_type=OrderType.STOP, trigger_price=D(3150))
LIMIT = Order("hyperliquid", "ETH", Side.BUY, D("0.5"), D(3400), S.OPEN, order_id="8")

# (before, after) -> what the trader is told it was; a cancel without a cause is the venue's
EXPECTED: dict[tuple[OrderStatus, OrderStatus], Kind] = {
    (S.PENDING, S.UNKNOWN): K.NONE, (S.PENDING, S.OPEN): K.ACCEPTED, (S.PENDING, S.WAITING_TRIGGER): K.ACCEPTED,
    (S.PENDING, S.PARTIALLY_FILLED): K.PARTLY_FILLED, (S.PENDING, S.FILLED): K.FILLED,
    (S.PENDING, S.CANCELED): K.CANCELLED_BY_VENUE, (S.PENDING, S.REJECTED): K.NOT_ACCEPTED,
    (S.UNKNOWN, S.OPEN): K.ACCEPTED, (S.UNKNOWN, S.WAITING_TRIGGER): K.ACCEPTED,
    (S.UNKNOWN, S.PARTIALLY_FILLED): K.PARTLY_FILLED, (S.UNKNOWN, S.FILLED): K.FILLED,
    (S.UNKNOWN, S.CANCELED): K.CANCELLED_BY_VENUE, (S.UNKNOWN, S.REJECTED): K.NOT_ACCEPTED,
    (S.WAITING_TRIGGER, S.OPEN): K.TRIGGERED, (S.WAITING_TRIGGER, S.PARTIALLY_FILLED): K.TRIGGERED,
    (S.WAITING_TRIGGER, S.FILLED): K.TRIGGERED, (S.WAITING_TRIGGER, S.CANCELED): K.CANCELLED_BY_VENUE,
    (S.WAITING_TRIGGER, S.REJECTED): K.REJECTED,
    (S.OPEN, S.PARTIALLY_FILLED): K.PARTLY_FILLED, (S.OPEN, S.FILLED): K.FILLED,
    (S.OPEN, S.CANCELED): K.CANCELLED_BY_VENUE,
    (S.PARTIALLY_FILLED, S.FILLED): K.FILLED, (S.PARTIALLY_FILLED, S.CANCELED): K.CANCELLED_BY_VENUE,
}


def test_the_table_allows_exactly_what_the_state_machine_allows():
    allowed = {(b, a) for b, nexts in ALLOWED.items() for a in nexts}
    assert set(TRANSITIONS) == allowed == set(EXPECTED)


@pytest.mark.parametrize("before", list(S))
@pytest.mark.parametrize("after", list(S))
def test_every_pair_of_states(before, after):
    change = classify(replace(LIMIT, status=before), replace(LIMIT, status=after, reason="marginCanceled"))
    if before is after:
        assert change.kind is K.NONE
    else:
        assert change.kind is EXPECTED.get((before, after), K.LATE)  # a finished order is never reopened
    assert change.reason == ("marginCanceled" if change.kind in (K.CANCELLED_BY_VENUE, K.REJECTED) else None)


@pytest.mark.parametrize("status", [S.WAITING_TRIGGER, S.OPEN, S.PARTIALLY_FILLED])
def test_a_cancel_is_told_by_who_did_it_never_as_a_trigger(status):
    before = replace(STOP, status=status)
    after = replace(STOP, status=S.CANCELED, reason="canceled")
    assert classify(before, after, Cause.YOU).kind is K.CANCELLED_BY_YOU
    assert classify(before, after, Cause.KILL).kind is K.CANCELLED_BY_KILL
    venue = classify(before, after, None)
    assert venue.kind is K.CANCELLED_BY_VENUE and venue.reason == "canceled" and venue.leg == "Stop loss"


def test_the_unfilled_rest_of_a_market_order_expires():
    ioc = replace(LIMIT, status=S.PARTIALLY_FILLED, tif=TimeInForce.IOC, filled=D("0.2"))
    assert classify(ioc, replace(ioc, status=S.CANCELED)).kind is K.EXPIRED
    market = replace(LIMIT, order_type=OrderType.MARKET)
    assert classify(market, replace(market, status=S.CANCELED)).kind is K.EXPIRED


def test_more_fills_of_a_partly_filled_order_and_first_sightings():
    part = replace(LIMIT, status=S.PARTIALLY_FILLED, filled=D("0.1"))
    assert classify(part, replace(part, filled=D("0.2"))).kind is K.PARTLY_FILLED
    assert classify(part, part).kind is K.NONE
    assert classify(None, LIMIT).kind is K.FOUND
    assert classify(None, replace(LIMIT, status=S.FILLED, filled=D("0.5"))).kind is K.FILLED
    assert classify(None, replace(LIMIT, status=S.CANCELED, order_type=OrderType.MARKET)).kind is K.EXPIRED


def test_causes_come_from_the_order_manager():
    cancelled = replace(LIMIT, status=S.CANCELED)
    assert classify(LIMIT, cancelled, None).kind is K.CANCELLED_BY_VENUE
    assert classify(LIMIT, cancelled, Cause.KILL).kind is K.CANCELLED_BY_KILL
    assert classify(LIMIT, cancelled, Cause.YOU).kind is K.CANCELLED_BY_YOU
    assert classify(LIMIT, cancelled, Cause.REPLACED).kind is K.CANCELLED_BY_YOU
    assert Cause.KILL.words == "cancelled by the kill switch" and Cause.YOU.words == "cancelled by you"
    assert classify(STOP, replace(STOP, status=S.OPEN, reason="triggered")).leg == "Stop loss"
