"""SQLite persistence (aiosqlite, WAL): orders, fills, confirmations, audit, equity, state, alert outbox.

Durability: WAL with synchronous=NORMAL survives a killed process (SIGKILL) with every committed
transaction intact; only a power loss can drop the last commits, and start-up reconciliation
against the venues (which adopts unknown orders) covers that case. Money is stored as TEXT so no
digit is ever lost to a float. Schema changes are numbered migrations keyed on PRAGMA user_version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

import aiosqlite

from exchanges.models import CashFlow, Fill, Order, OrderStatus
from store.files import private_sqlite
from store.rows import (
    INSERT_CASH_FLOW,
    INSERT_FILL,
    INSERT_ORDER,
    MIGRATIONS,
    SELECT_CONFIRMATION,
    UPDATE_ORDER,
    Confirmation,
    OutboxItem,
    TokenRefused,
    TokenStatus,
    cash_flow_from,
    cash_flow_row,
    confirmation_from,
    fill_from,
    fill_row,
    order_from,
    order_row,
    use_token,
)

__all__ = ["MIGRATIONS", "Confirmation", "OutboxItem", "Store", "TokenRefused", "TokenStatus"]
log = logging.getLogger(__name__)

T = TypeVar("T")


class Store:
    def __init__(self, path: str, checkpoint_s: float = 10.0):
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # one connection serves every coroutine: transactions must take turns on it
        self._tx_lock = asyncio.Lock()
        self.checkpoint_s = checkpoint_s
        self._checkpointer: asyncio.Task[None] | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpoint_run: asyncio.Future[tuple[int, int, int]] | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        private_sqlite(self.path)  # owner-only, and so are the -wal and -shm SQLite derives from it
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write never waits on an
        # upgrade from a read lock ("database is locked" between order and record)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        # wal_autocheckpoint=0: commits never checkpoint (see checkpoint())
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000",
                       "wal_autocheckpoint=0"):
            await self._db.execute(f"PRAGMA {pragma}")
        await self._migrate()
        self._checkpointer = asyncio.get_running_loop().create_task(self._checkpoints(), name="store-checkpoints")

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._checkpoint_run is not None:  # a thread may still be checkpointing on that connection
            with contextlib.suppress(Exception):
                await self._checkpoint_run
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None
        if self._db is not None:
            await self._db.close()  # the last connection to close checkpoints what is left
            self._db = None

    async def checkpoint(self) -> tuple[int, int, int]:
        """Copy committed WAL pages back into the database file, on a connection and thread of its own.
        SQLite would otherwise do it inside whichever commit crosses its threshold (an order's intent,
        say), syncing the file to disk for milliseconds on the order path. PASSIVE: writers go on
        meanwhile. Returns SQLite's (busy, frames in the log, frames checkpointed)."""

        def run() -> tuple[int, int, int]:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            busy, log_frames, done = self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(busy), int(log_frames), int(done)

        self._checkpoint_run = asyncio.ensure_future(asyncio.to_thread(run))
        return await asyncio.shield(self._checkpoint_run)

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_s)
            try:
                await self.checkpoint()
            except sqlite3.Error as exc:  # tried again next round; the WAL only grows meanwhile
                log.warning("database checkpoint failed: %s", exc)

    async def _migrate(self) -> None:
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this tradebot"
                f" ({len(MIGRATIONS)}): upgrade tradebot"
            )
        for i, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            async with self.transaction():
                for stmt in filter(str.strip, sql.split(";")):
                    await self.db.execute(stmt)
                await self.db.execute(f"PRAGMA user_version={i}")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._tx_lock:
            committed = False
            try:  # BEGIN too: a cancel while it runs on the database thread leaves it begun
                await self.db.execute("BEGIN IMMEDIATE")
                yield self.db
                await self.db.execute("COMMIT")
                committed = True
            finally:  # an error or a cancellation must not leave the transaction open
                if not committed:
                    await self.db._execute(self._rollback_if_open)

    def _rollback_if_open(self) -> None:
        # runs on the database thread, after anything queued before it: a COMMIT whose await was
        # cancelled may still have happened, and then there is nothing to roll back
        conn = self.db._conn
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    async def _atomic(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` as one transaction in one trip to the database thread (the hot path: a token, an
        intent, an order update, a fill). Uses aiosqlite's worker thread, which owns the connection."""

        def run() -> T:
            conn = self.db._conn  # only ever touched from aiosqlite's own thread, as here
            conn.execute("BEGIN IMMEDIATE")
            done = False
            try:
                out = fn(conn)
                conn.execute("COMMIT")
                done = True
                return out
            finally:
                if not done:
                    conn.execute("ROLLBACK")

        async with self._tx_lock:
            return await self.db._execute(run)

    async def _one(self, sql: str, args: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self.db.execute(sql, tuple(args)) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, args: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self.db.execute(sql, tuple(args)) as cur:
            return list(await cur.fetchall())

    # ---- orders ----
    async def insert_order(self, order: Order, extra: dict[str, Any] | None = None,
                           also: Callable[[sqlite3.Connection], object] | None = None) -> None:
        """Store an order intent; committed before the function returns. Duplicate client ids raise.
        `also` runs in the same transaction first (the desk uses its confirmation there); if it
        raises, nothing is written."""
        if not order.client_id:
            raise ValueError("an order row needs a client id")
        row = (*order_row(order), json.dumps(extra or {}))

        def write(c: sqlite3.Connection) -> None:
            if also is not None:
                also(c)
            c.execute(INSERT_ORDER, row)

        await self._atomic(write)

    async def update_order(self, order: Order) -> None:
        row = (*order_row(order)[1:], order.client_id)
        await self._atomic(lambda c: c.execute(UPDATE_ORDER, row))

    async def merge_order(self, client_id: str, fold: Callable[[Order], Order | None]) -> Order | None:
        """Read an order, fold a report into it and write the result, as one transaction. `fold`
        returns None when nothing changes. Returns the order as stored afterwards."""

        def run(c: sqlite3.Connection) -> Order | None:
            c.row_factory = sqlite3.Row
            try:
                r = c.execute("SELECT * FROM orders WHERE client_id = ?", (client_id,)).fetchone()
            finally:
                c.row_factory = aiosqlite.Row
            if r is None:
                return None
            stored = order_from(r)
            merged = fold(stored)
            if merged is None:
                return stored
            c.execute(UPDATE_ORDER, (*order_row(merged)[1:], merged.client_id))
            return merged

        return await self._atomic(run)

    async def get_order(self, client_id: str) -> Order | None:
        r = await self._one("SELECT * FROM orders WHERE client_id = ?", (client_id,))
        return order_from(r) if r else None

    async def get_order_by_venue_id(self, exchange: str, order_id: str) -> Order | None:
        r = await self._one("SELECT * FROM orders WHERE exchange = ? AND order_id = ?", (exchange, order_id))
        return order_from(r) if r else None

    async def orders_with_status(self, statuses: Iterable[OrderStatus], exchange: str | None = None) -> list[Order]:
        st = [s.value for s in statuses]
        sql = f"SELECT * FROM orders WHERE status IN ({', '.join('?' * len(st))})"
        args: list[Any] = list(st)
        if exchange is not None:
            sql += " AND exchange = ?"
            args.append(exchange)
        return [order_from(r) for r in await self._all(sql + " ORDER BY created_ms", args)]

    async def order_extra(self, client_id: str) -> dict[str, Any]:
        r = await self._one("SELECT extra FROM orders WHERE client_id = ?", (client_id,))
        return json.loads(r["extra"]) if r else {}

    async def order_told(self, client_id: str) -> None:
        """The order's result reached the preview it was confirmed from (or is queued to)."""
        async with self.transaction() as db:
            await db.execute("UPDATE orders SET extra = json_set(extra, '$.told', 1) WHERE client_id = ?",
                             (client_id,))

    async def untold_orders(self, since_ms: int) -> list[Order]:
        """Orders confirmed from a preview (since since_ms) whose result was never told there."""
        rows = await self._all("SELECT * FROM orders WHERE created_ms >= ? AND json_extract(extra, '$.message_id')"
                               " IS NOT NULL AND json_extract(extra, '$.told') IS NULL ORDER BY created_ms",
                               (since_ms,))
        return [order_from(r) for r in rows]

    # ---- fills ----
    async def add_fill(self, fill: Fill, order: Order | None = None) -> bool:
        """Store a fill once (deduped by venue fill id) and, in the same transaction, the order it
        moved. Returns False when the fill was already known (and then changes nothing)."""
        row = fill_row(fill)
        moved = (*order_row(order)[1:], order.client_id) if order is not None and order.client_id else None

        def write(c: sqlite3.Connection) -> bool:
            if c.execute(INSERT_FILL, row).rowcount == 0:
                return False
            if moved is not None:
                c.execute(UPDATE_ORDER, moved)
            return True

        return await self._atomic(write)

    async def fills_since(self, since_ms: int, exchange: str | None = None) -> list[Fill]:
        sql, args = "SELECT * FROM fills WHERE ts_ms >= ?", [since_ms]
        if exchange is not None:
            sql += " AND exchange = ?"
            args.append(exchange)  # type: ignore[arg-type]
        return [fill_from(r) for r in await self._all(sql + " ORDER BY ts_ms, fill_id", args)]

    async def fills_for_order(self, exchange: str, order_id: str) -> list[Fill]:
        rows = await self._all("SELECT * FROM fills WHERE exchange = ? AND order_id = ? ORDER BY ts_ms",
                               (exchange, order_id))
        return [fill_from(r) for r in rows]

    async def last_fill_ms(self, exchange: str) -> int | None:
        r = await self._one("SELECT MAX(ts_ms) AS m FROM fills WHERE exchange = ?", (exchange,))
        return r["m"] if r else None

    # ---- confirmations ----
    async def put_confirmation(self, c: Confirmation, now_ms: int) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO confirmations (token, user_id, chat_id, kind, payload, created_ms, expires_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (c.token, c.user_id, c.chat_id, c.kind, json.dumps(c.payload), now_ms, c.expires_ms),
            )

    async def consume_confirmation(self, token: str, user_id: int,
                                   now_ms: int) -> tuple[TokenStatus, Confirmation | None]:
        """Atomically use a token once."""
        return await self._atomic(lambda db: use_token(db, token, user_id, now_ms))

    @staticmethod
    def token_use(token: str, user_id: int, now_ms: int) -> Callable[[sqlite3.Connection], None]:
        """Using a token as a step of another transaction (an order intent's): raises TokenRefused."""

        def use(db: sqlite3.Connection) -> None:
            status, _ = use_token(db, token, user_id, now_ms)
            if status is not TokenStatus.OK:
                raise TokenRefused(status)

        return use

    async def get_confirmation(self, token: str) -> tuple[Confirmation, bool] | None:
        """A token and whether it was used, without using it."""
        r = await self._one(SELECT_CONFIRMATION, (token,))
        return None if r is None else confirmation_from(r)

    # ---- audit, equity, state ----
    async def audit(self, ts_ms: int, user_id: int | None, chat_id: int | None, kind: str, text: str,
                    outcome: str) -> None:
        async with self.transaction() as db:
            await db.execute("INSERT INTO audit (ts_ms, user_id, chat_id, kind, text, outcome) VALUES (?,?,?,?,?,?)",
                             (ts_ms, user_id, chat_id, kind, text, outcome))

    async def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return [dict(r) for r in await self._all("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))]

    async def add_equity(self, ts_ms: int, exchange: str, equity: Decimal) -> None:
        async with self.transaction() as db:
            await db.execute("INSERT OR REPLACE INTO equity (ts_ms, exchange, equity) VALUES (?, ?, ?)",
                             (ts_ms, exchange, str(equity)))

    async def equity_since(self, since_ms: int) -> list[tuple[int, str, Decimal]]:
        rows = await self._all("SELECT * FROM equity WHERE ts_ms >= ? ORDER BY ts_ms", (since_ms,))
        return [(r["ts_ms"], r["exchange"], Decimal(r["equity"])) for r in rows]

    # ---- cash flows (deposits, withdrawals, transfers) ----
    async def add_cash_flows(self, flows: Iterable[CashFlow]) -> int:
        """Keep ledger entries not seen before (the same hash and time read again is dropped).
        Returns how many were new."""
        rows = [cash_flow_row(f) for f in flows]
        if not rows:
            return 0
        async with self.transaction() as db:
            before = db.total_changes
            await db.executemany(INSERT_CASH_FLOW, rows)
            return db.total_changes - before

    async def cash_flows_after(self, after_id: int, limit: int = 1000) -> list[tuple[int, CashFlow]]:
        """Entries stored after `after_id`, in the order they were stored, with their ids."""
        rows = await self._all("SELECT * FROM cash_flows WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        return [(r["id"], cash_flow_from(r)) for r in rows]

    async def cash_flows_since(self, since_ms: int, exchange: str | None = None) -> list[CashFlow]:
        rows = await self._all("SELECT * FROM cash_flows WHERE ts_ms >= ? AND (? IS NULL OR exchange = ?)"
                               " ORDER BY ts_ms, id", (since_ms, exchange, exchange))
        return [cash_flow_from(r) for r in rows]

    async def last_cash_flow(self) -> tuple[int, dict[str, int]]:
        """The last id stored, and per venue the time of its newest entry."""
        rows = await self._all("SELECT exchange, MAX(ts_ms) AS ts, MAX(id) AS id FROM cash_flows GROUP BY exchange")
        return max((r["id"] for r in rows), default=0), {r["exchange"]: r["ts"] for r in rows}

    async def get_state(self, key: str) -> str | None:
        r = await self._one("SELECT value FROM state WHERE key = ?", (key,))
        return r["value"] if r else None

    async def set_state(self, key: str, value: str, now_ms: int) -> None:
        async with self.transaction() as db:
            await db.execute("INSERT INTO state (key, value, updated_ms) VALUES (?, ?, ?) ON CONFLICT(key)"
                             " DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
                             (key, value, now_ms))

    # ---- alert outbox ----
    async def outbox_add(self, now_ms: int, chat_id: str, kind: str, text: str, *, silent: bool = False,
                         payload: dict[str, Any] | None = None, dedupe_key: str | None = None) -> int | None:
        """Queue an alert; None when `dedupe_key` was queued before (never send twice)."""
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO outbox (created_ms, chat_id, kind, text, silent, payload, dedupe_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now_ms, chat_id, kind, text, int(silent), json.dumps(payload or {}), dedupe_key),
            )
            return cur.lastrowid if cur.rowcount else None

    async def outbox_pending(self, limit: int = 100) -> list[OutboxItem]:
        rows = await self._all("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?", (limit,))
        return [OutboxItem(r["id"], r["chat_id"], r["kind"], r["text"], bool(r["silent"]), json.loads(r["payload"]),
                           r["attempts"], r["created_ms"]) for r in rows]

    async def outbox_sent(self, item_id: int, now_ms: int, message_id: int | None) -> None:
        async with self.transaction() as db:
            await db.execute("UPDATE outbox SET status = 'sent', sent_ms = ?, message_id = ? WHERE id = ?",
                             (now_ms, message_id, item_id))

    async def outbox_message_id(self, dedupe_key: str) -> int | None:
        """The Telegram message an outbox item became (None: not sent, or no such item)."""
        r = await self._one("SELECT message_id FROM outbox WHERE dedupe_key = ? AND status = 'sent'", (dedupe_key,))
        return r["message_id"] if r else None

    # ---- where previews were shown ----
    async def confirmation_shown(self, token: str, message_id: int) -> None:
        async with self.transaction() as db:
            await db.execute("UPDATE confirmations SET chat_message_id = ? WHERE token = ?", (message_id, token))

    async def expired_previews(self, now_ms: int, limit: int = 50) -> list[tuple[str, int, int]]:
        """(token, chat id, message id) of previews expired unused whose buttons are still shown."""
        rows = await self._all("SELECT token, chat_id, chat_message_id FROM confirmations WHERE closed = 0"
                               " AND expires_ms <= ? AND chat_message_id IS NOT NULL LIMIT ?", (now_ms, limit))
        return [(r["token"], r["chat_id"], r["chat_message_id"]) for r in rows]

    async def preview_closed(self, token: str) -> None:
        async with self.transaction() as db:
            await db.execute("UPDATE confirmations SET closed = 1 WHERE token = ?", (token,))

    # ---- two-leg pairs ----
    async def insert_orders(self, orders: list[tuple[Order, dict[str, Any]]],
                            also: Callable[[sqlite3.Connection], object] | None = None) -> None:
        """Several order intents (and `also`, first) in ONE transaction: all are written or none."""
        rows = []
        for order, extra in orders:
            if not order.client_id:
                raise ValueError("an order row needs a client id")
            rows.append((*order_row(order), json.dumps(extra or {})))

        def write(c: sqlite3.Connection) -> None:
            if also is not None:
                also(c)
            c.executemany(INSERT_ORDER, rows)

        await self._atomic(write)

    @staticmethod
    def pair_write(pair_id: str, symbol: str, status: str, record: dict[str, Any],
                   now_ms: int) -> Callable[[sqlite3.Connection], None]:
        """Writing a pair's record as a step of another transaction (its legs' intents)."""
        row = (pair_id, symbol, status, now_ms, now_ms, json.dumps(record))

        def write(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO pairs (pair_id, symbol, status, created_ms, updated_ms, record)"
                      " VALUES (?, ?, ?, ?, ?, ?)", row)

        return write

    async def insert_pair(self, pair_id: str, symbol: str, status: str, record: dict[str, Any], now_ms: int) -> None:
        """A pair's record alone (its legs' intents go with it through OrderManager.send_together)."""
        await self._atomic(self.pair_write(pair_id, symbol, status, record, now_ms))

    async def update_pair(self, pair_id: str, status: str, record: dict[str, Any], now_ms: int) -> None:
        args = (status, now_ms, json.dumps(record), pair_id)
        await self._atomic(lambda c: c.execute(
            "UPDATE pairs SET status = ?, updated_ms = ?, record = ? WHERE pair_id = ?", args))

    async def pairs_with_status(self, statuses: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(pair_id, status, record) of every pair in one of `statuses`, oldest first."""
        wanted = list(statuses)
        rows = await self._all(f"SELECT pair_id, status, record FROM pairs WHERE status IN"
                               f" ({', '.join('?' * len(wanted))}) ORDER BY created_ms", wanted)
        return [(r["pair_id"], r["status"], json.loads(r["record"])) for r in rows]

    async def get_pair(self, pair_id: str) -> tuple[str, dict[str, Any]] | None:
        r = await self._one("SELECT status, record FROM pairs WHERE pair_id = ?", (pair_id,))
        return None if r is None else (r["status"], json.loads(r["record"]))

    async def outbox_failed(self, item_id: int, error: str, *, give_up: bool = False) -> None:
        async with self.transaction() as db:
            await db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, status = ? WHERE id = ?",
                             (error, "failed" if give_up else "pending", item_id))
