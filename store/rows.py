"""The store's tables: numbered migrations, the rows <-> domain models, and its small records.

Money is TEXT (Decimal in, Decimal out, no digit lost to a float); time is int milliseconds.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from exchanges.models import CashFlow, CashFlowKind, Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from exchanges.precision import to_wire

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE orders (
        client_id    TEXT PRIMARY KEY,
        exchange     TEXT NOT NULL,
        symbol       TEXT NOT NULL,
        side         TEXT NOT NULL,
        size         TEXT NOT NULL,
        price        TEXT,
        order_type   TEXT NOT NULL,
        tif          TEXT NOT NULL,
        reduce_only  INTEGER NOT NULL,
        status       TEXT NOT NULL,
        order_id     TEXT,
        filled       TEXT NOT NULL DEFAULT '0',
        avg_price    TEXT,
        trigger_price TEXT,
        reason       TEXT,
        created_ms   INTEGER NOT NULL,
        updated_ms   INTEGER NOT NULL,
        extra        TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX orders_status ON orders(status);
    CREATE INDEX orders_venue_id ON orders(exchange, order_id);
    CREATE TABLE fills (
        exchange     TEXT NOT NULL,
        fill_id      TEXT NOT NULL,
        order_id     TEXT NOT NULL,
        client_id    TEXT,
        symbol       TEXT NOT NULL,
        side         TEXT NOT NULL,
        price        TEXT NOT NULL,
        size         TEXT NOT NULL,
        fee          TEXT NOT NULL,
        fee_asset    TEXT NOT NULL,
        realized_pnl TEXT NOT NULL,
        is_maker     INTEGER NOT NULL,
        liquidation  INTEGER NOT NULL,
        ts_ms        INTEGER NOT NULL,
        PRIMARY KEY (exchange, fill_id)
    );
    CREATE INDEX fills_ts ON fills(ts_ms);
    CREATE TABLE confirmations (
        token       TEXT PRIMARY KEY,
        user_id     INTEGER NOT NULL,
        chat_id     INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        payload     TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        expires_ms  INTEGER NOT NULL,
        consumed_ms INTEGER
    );
    CREATE TABLE audit (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms    INTEGER NOT NULL,
        user_id  INTEGER,
        chat_id  INTEGER,
        kind     TEXT NOT NULL,
        text     TEXT NOT NULL,
        outcome  TEXT NOT NULL
    );
    CREATE TABLE equity (
        ts_ms    INTEGER NOT NULL,
        exchange TEXT NOT NULL,
        equity   TEXT NOT NULL,
        PRIMARY KEY (exchange, ts_ms)
    );
    CREATE TABLE state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        created_ms  INTEGER NOT NULL,
        chat_id     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        text        TEXT NOT NULL,
        silent      INTEGER NOT NULL DEFAULT 0,
        payload     TEXT NOT NULL DEFAULT '{}',
        dedupe_key  TEXT UNIQUE,
        status      TEXT NOT NULL DEFAULT 'pending',
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        sent_ms     INTEGER,
        message_id  INTEGER
    );
    CREATE INDEX outbox_pending ON outbox(status, id);
    """,
    # where each preview was shown, so an expired one can lose its buttons
    """
    ALTER TABLE confirmations ADD COLUMN chat_message_id INTEGER;
    ALTER TABLE confirmations ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX confirmations_open ON confirmations(closed, expires_ms);
    """,
    # deposits, withdrawals and transfers read from the venues' ledgers, each entry once
    """
    CREATE TABLE cash_flows (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        exchange   TEXT NOT NULL,
        ts_ms      INTEGER NOT NULL,
        tx_hash    TEXT NOT NULL,
        venue_kind TEXT NOT NULL,
        kind       TEXT NOT NULL,
        amount     TEXT NOT NULL,
        asset      TEXT NOT NULL,
        fee        TEXT NOT NULL,
        note       TEXT NOT NULL,
        UNIQUE (exchange, tx_hash, ts_ms, venue_kind, amount)
    );
    CREATE INDEX cash_flows_ts ON cash_flows(exchange, ts_ms);
    """,
    # two-leg pairs (risk/pairs.py): both legs' intents in one record, resolved at restart if unfinished
    """
    CREATE TABLE pairs (
        pair_id    TEXT PRIMARY KEY,
        symbol     TEXT NOT NULL,
        status     TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        record     TEXT NOT NULL
    );
    CREATE INDEX pairs_status ON pairs(status);
    """,
)

ORDER_COLS = ("client_id", "exchange", "symbol", "side", "size", "price", "order_type", "tif", "reduce_only",
               "status", "order_id", "filled", "avg_price", "trigger_price", "reason", "created_ms", "updated_ms")
FILL_COLS = ("exchange", "fill_id", "order_id", "client_id", "symbol", "side", "price", "size", "fee", "fee_asset",
              "realized_pnl", "is_maker", "liquidation", "ts_ms")


INSERT_ORDER = (f"INSERT INTO orders ({', '.join((*ORDER_COLS, 'extra'))})"
                 f" VALUES ({', '.join('?' * (len(ORDER_COLS) + 1))})")
UPDATE_ORDER = f"UPDATE orders SET {', '.join(f'{c} = ?' for c in ORDER_COLS[1:])} WHERE client_id = ?"
INSERT_FILL = f"INSERT OR IGNORE INTO fills ({', '.join(FILL_COLS)}) VALUES ({', '.join('?' * len(FILL_COLS))})"


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _d(s: str | None) -> Decimal | None:
    return None if s is None else Decimal(s)


def order_row(o: Order) -> tuple[Any, ...]:
    return (o.client_id, o.exchange, o.symbol, o.side.value, str(o.size), _s(o.price), o.order_type.value,
            o.tif.value, int(o.reduce_only), o.status.value, o.order_id, str(o.filled), _s(o.avg_price),
            _s(o.trigger_price), o.reason, o.created_ms, o.updated_ms)


def order_from(r: sqlite3.Row) -> Order:
    return Order(
        exchange=r["exchange"], symbol=r["symbol"], side=Side(r["side"]), size=Decimal(r["size"]),
        price=_d(r["price"]), status=OrderStatus(r["status"]), order_id=r["order_id"], client_id=r["client_id"],
        order_type=OrderType(r["order_type"]), tif=TimeInForce(r["tif"]), reduce_only=bool(r["reduce_only"]),
        filled=Decimal(r["filled"]), avg_price=_d(r["avg_price"]), trigger_price=_d(r["trigger_price"]),
        created_ms=r["created_ms"], updated_ms=r["updated_ms"], reason=r["reason"],
    )


def fill_row(f: Fill) -> tuple[Any, ...]:
    return (f.exchange, f.fill_id, f.order_id, f.client_id, f.symbol, f.side.value, str(f.price), str(f.size),
            str(f.fee), f.fee_asset, str(f.realized_pnl), int(f.is_maker), int(f.liquidation), f.ts_ms)


def fill_from(r: sqlite3.Row) -> Fill:
    return Fill(
        exchange=r["exchange"], fill_id=r["fill_id"], order_id=r["order_id"], client_id=r["client_id"],
        symbol=r["symbol"], side=Side(r["side"]), price=Decimal(r["price"]), size=Decimal(r["size"]),
        fee=Decimal(r["fee"]), fee_asset=r["fee_asset"], realized_pnl=Decimal(r["realized_pnl"]),
        is_maker=bool(r["is_maker"]), liquidation=bool(r["liquidation"]), ts_ms=r["ts_ms"],
    )


@dataclass(frozen=True, slots=True)
class Confirmation:
    token: str
    user_id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    expires_ms: int


class TokenStatus(StrEnum):
    """What using a confirmation token found."""

    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"


class TokenRefused(Exception):
    """A confirmation could not be used (any TokenStatus but OK)."""

    def __init__(self, status: TokenStatus):
        super().__init__(status)
        self.status = status


SELECT_CONFIRMATION = ("SELECT token, user_id, chat_id, kind, payload, expires_ms, consumed_ms FROM confirmations"
                       " WHERE token = ?")


def confirmation_from(r: Any) -> tuple[Confirmation, bool]:
    """A SELECT_CONFIRMATION row: the confirmation, and whether it was used."""
    return Confirmation(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]), r[6] is not None


def use_token(db: sqlite3.Connection, token: str, user_id: int,
              now_ms: int) -> tuple[TokenStatus, Confirmation | None]:
    r = db.execute(SELECT_CONFIRMATION, (token,)).fetchone()
    if r is None:
        return TokenStatus.UNKNOWN, None
    c, used = confirmation_from(r)
    if used:
        return TokenStatus.USED, c
    if c.user_id != user_id:
        return TokenStatus.NOT_YOURS, c
    if c.expires_ms <= now_ms:
        return TokenStatus.EXPIRED, c
    db.execute("UPDATE confirmations SET consumed_ms = ?, closed = 1 WHERE token = ?", (now_ms, token))
    return TokenStatus.OK, c


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: str
    kind: str
    text: str
    silent: bool
    payload: dict[str, Any]
    attempts: int
    created_ms: int


CASH_FLOW_COLS = ("exchange", "ts_ms", "tx_hash", "venue_kind", "kind", "amount", "asset", "fee", "note")
INSERT_CASH_FLOW = (f"INSERT OR IGNORE INTO cash_flows ({', '.join(CASH_FLOW_COLS)})"
                    f" VALUES ({', '.join('?' * len(CASH_FLOW_COLS))})")


def cash_flow_row(f: CashFlow) -> tuple[Any, ...]:
    # the amount as normalised text: "10.50" and "10.5" read twice are one entry
    return (f.exchange, f.ts_ms, f.tx_hash, f.venue_kind, f.kind.value, to_wire(f.amount), f.asset, str(f.fee),
            f.note)


def cash_flow_from(r: sqlite3.Row) -> CashFlow:
    return CashFlow(r["exchange"], CashFlowKind(r["kind"]), Decimal(r["amount"]), r["ts_ms"], r["tx_hash"],
                    r["venue_kind"], r["asset"], Decimal(r["fee"]), r["note"])
