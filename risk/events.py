"""Notices the risk layer publishes for the alert layer. Risk never formats messages; it publishes facts."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from exchanges.models import Order

log = logging.getLogger(__name__)


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # only orders that reduce risk
    HALTED = "HALTED"  # kill switch fired: only closes and cancels

    @property
    def severity(self) -> int:
        return {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}[self.value]


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: TradingState
    new: TradingState
    reason: str
    by: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderAdopted:
    """An order the store did not know (placed elsewhere): adopted and reported, never cancelled."""

    order: Order
    ts_ms: int


NOT_ON_VENUE = "not on the venue"  # OrderResolved.how of an order the venue never had (nothing was sent)


@dataclass(frozen=True, slots=True)
class OrderResolved:
    """An order whose outcome was unknown (timeout, restart) has been looked up."""

    order: Order
    how: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class LossWarning:
    kind: str  # "daily_loss" | "drawdown"
    fraction: Decimal  # warning threshold crossed, e.g. 0.5
    value: Decimal  # loss in USD or drawdown in percent
    limit: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class LimitBreached:
    kind: str  # "daily_loss" | "drawdown" | "equity_unknown"
    value: Decimal | None
    limit: Decimal | None
    ts_ms: int


@dataclass(frozen=True, slots=True)
class VenueKillReport:
    """What one venue's part of a kill has done so far, as read back from the venue over REST.
    `verified`: the venue itself confirmed the result (no order left; flat, when flattening)."""

    venue: str
    cancelled: int = 0
    closed: tuple[str, ...] = ()
    remaining_orders: int = 0
    remaining_positions: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    verified: bool = False
    kept_positions: tuple[str, ...] = ()  # positions left open on purpose (flatten: ask / never)
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.verified and not self.failures and not self.remaining_orders and not self.remaining_positions


@dataclass(frozen=True, slots=True)
class KillReport:
    reason: str
    by: str
    flatten: str  # "always" | "ask" | "never" | "now"
    venues: tuple[VenueKillReport, ...]
    ts_ms: int
    retrying: tuple[str, ...] = field(default_factory=tuple)
    kill_id: int = 0  # the first report and the final one of a kill share it (one message, edited)
    final: bool = True  # False: some venue is still being worked on; a final report follows
    reply_to: str | None = None  # the front end's handle of whoever asked (they get the report as a reply)
    follow_up: bool = False  # the final report of a kill whose first report was not final

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.venues)

    @property
    def kept_positions(self) -> bool:
        return any(v.kept_positions for v in self.venues)


@dataclass(frozen=True, slots=True)
class SafetyNetRefused:
    venue: str
    message: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class VenueWaiting:
    """At start, a venue could not be reconciled in time: it accepts only risk-reducing orders meanwhile."""

    venue: str
    why: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class VenueReady:
    """A venue awaited at start has been reconciled."""

    venue: str
    ts_ms: int


Notice = (StateChanged | OrderAdopted | OrderResolved | LossWarning | LimitBreached | KillReport
          | SafetyNetRefused | VenueWaiting | VenueReady)


@dataclass(frozen=True, slots=True)
class NoticeBatch:
    """Notices raised by one piece of work (one loss check: a breach, the state change, the kill
    report), to be told together."""

    notices: tuple[Notice, ...]


class _Batch:
    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.open = True


class Bus:
    """Synchronous fan-out. Listeners must not block (the alert layer queues to its outbox).

    A batch belongs to the task that opened it (a context variable): the kill switch and a loss check
    batching at the same time each tell their own notices, and neither ends the other's batch. A task
    started inside a batch inherits it only while it is open; after that it publishes on its own."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Notice | NoticeBatch], None]] = []
        self._batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(f"bus-{id(self)}", default=None)

    def subscribe(self, fn: Callable[[Notice | NoticeBatch], None]) -> None:
        self._listeners.append(fn)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        current = self._batch.get()
        if current is not None and current.open:
            yield  # nested in this task's batch: told with it
            return
        mine = _Batch()
        token = self._batch.set(mine)
        try:
            yield
        finally:
            self._batch.reset(token)
            mine.open = False
            if mine.notices:
                self._deliver(NoticeBatch(tuple(mine.notices)))

    def publish(self, notice: Notice) -> None:
        current = self._batch.get()
        if current is not None and current.open:
            current.notices.append(notice)
            return
        self._deliver(notice)

    def _deliver(self, notice: Notice | NoticeBatch) -> None:
        for fn in list(self._listeners):
            try:
                fn(notice)
            except Exception:  # one broken listener must not stop the risk layer
                log.exception("notice listener failed on %s", type(notice).__name__)
