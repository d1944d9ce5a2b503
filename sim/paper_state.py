"""The paper account's state in a small SQLite file, so a restart shows the trader what they had.

Saved after every change that matters: one transaction writes what changed since the last save
(new and open orders, new fills and funding payments) plus the account, the id counters and the
last prices, so a crash leaves the file as of the last completed save, never torn. The file is
created 0600 (the trader's balances and orders), like the bot's own database.

An unreadable file is an error that says what to do, never a fresh account: a silent reset to the
starting balance would look like the losses vanished.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import typing
from collections.abc import Callable, Iterator
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sim.accounts import SimAccount, SimCashFlow, SimPosition
from sim.book import SimOrder
from sim.matching import SimFill, SimFunding

if TYPE_CHECKING:
    from sim.engine import Engine

log = logging.getLogger(__name__)
VERSION = 1
# what is loaded back: every open order, and the latest of the rest (a lookup by client id of an
# order finished 10,000 orders ago is not something the bot does; the file and memory stay bounded)
KEEP_FINISHED_ORDERS = 10_000
KEEP_FILLS = 10_000
KEEP_FUNDINGS = 10_000
_PRIVATE = 0o600
_SIDE_FILES = ("-wal", "-shm", "-journal")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (oid INTEGER PRIMARY KEY, open INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (tid INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fundings (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cash_flows (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
"""
T = TypeVar("T")


class PaperStateError(Exception):
    """The paper state file cannot be used; the message names the file and what to do."""


# ---- encoding: dataclasses of Decimals, enums and plain values, driven by their type hints ----------
def _enc(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact, and round-trips its exponent
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def encode(obj: Any) -> dict[str, Any]:
    return {f.name: _enc(getattr(obj, f.name)) for f in fields(obj)}


@functools.cache
def _converters(cls: Any) -> dict[str, Callable[[Any], Any] | None]:
    """Per field of `cls`, what turns its JSON value back into the field's type (None: as it is)."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Callable[[Any], Any] | None] = {}
    for f in fields(cls):
        kinds = typing.get_args(hints[f.name]) or (hints[f.name],)
        enum = next((k for k in kinds if isinstance(k, type) and issubclass(k, Enum)), None)
        out[f.name] = Decimal if Decimal in kinds else enum
    return out


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild `cls` from `encode`'s dict; a field missing from an older file takes its default."""
    kwargs: dict[str, Any] = {}
    for name, conv in _converters(cast(Any, cls)).items():
        if name in data:
            value = data[name]
            kwargs[name] = conv(value) if conv is not None and value is not None else value
    return cls(**kwargs)


def encode_account(a: SimAccount) -> dict[str, Any]:
    return {"collateral": str(a.collateral), "spot": {k: str(v) for k, v in a.spot.items()},
            "positions": {s: encode(p) for s, p in a.positions.items()},
            "leverage": {s: [lev, cross] for s, (lev, cross) in a.leverage.items()}}


def decode_account(name: str, d: dict[str, Any]) -> SimAccount:
    return SimAccount(
        name, Decimal(d["collateral"]), {k: Decimal(v) for k, v in d["spot"].items()},
        {s: decode(SimPosition, p) for s, p in d["positions"].items()},
        {s: (int(lev), bool(cross)) for s, (lev, cross) in d["leverage"].items()},
    )


def _private(path: str) -> None:
    """Create the file 0600 before SQLite opens it (no window with the umask's 0644); tighten if it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _PRIVATE)
    except FileExistsError:
        os.chmod(path, _PRIVATE)
    else:
        os.fchmod(fd, _PRIVATE)
        os.close(fd)
    for suffix in _SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, _PRIVATE)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """All or nothing (the connection is in autocommit mode, so the transaction is explicit)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class PaperState:
    """One account of an engine, kept in `path`. `load` once before trading, `save` after each change."""

    def __init__(self, path: str):
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._loaded = False  # the engine has this file's account (a later load only opens the file)
        # what the file already holds, so a save writes only what changed
        self._open: set[int] = set()
        self._max_oid = 0
        self._fills = 0
        self._fundings = 0
        self._flows = 0

    def _unreadable(self, why: object) -> PaperStateError:
        return PaperStateError(
            f"the paper account's state file {self.path} cannot be read ({why}). It holds your paper balances,"
            f" positions and orders: restore it from a backup, or move it away (with its -wal and -shm files,"
            f" if any) to start a fresh paper account with the starting balance.")

    def load(self, engine: Engine, account: str) -> bool:
        """Open the file (created if missing) and, the first time, put its account into `engine`.
        True: restored; False: nothing saved yet (a fresh account), or `engine` has it already (open
        again after close()). Raises PaperStateError if the file cannot be used."""
        if self._db is not None:
            return False
        try:
            _private(self.path)
            db = sqlite3.connect(self.path, isolation_level=None)
        except OSError as exc:
            raise self._unreadable(exc.strerror or exc) from None
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a save that returned is on disk
            db.executescript(_SCHEMA)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            restored = not self._loaded and "account" in meta and self._restore(db, meta, engine, account)
        except (sqlite3.Error, ValueError, KeyError, TypeError, InvalidOperation) as exc:
            db.close()
            raise self._unreadable(exc) from None
        self._db, self._loaded = db, True
        return restored

    def _restore(self, db: sqlite3.Connection, meta: dict[str, str], engine: Engine, account: str) -> bool:
        if json.loads(meta.get("version", "0")) != VERSION:
            raise ValueError(f"version {meta.get('version')}, this bot reads {VERSION}")
        rows = db.execute("SELECT oid, open, body FROM orders ORDER BY oid").fetchall()
        finished = [oid for oid, is_open, _ in rows if not is_open]
        cut = finished[-KEEP_FINISHED_ORDERS] if len(finished) > KEEP_FINISHED_ORDERS else None
        orders = [decode(SimOrder, json.loads(body)) for oid, is_open, body in rows if is_open or cut is None
                  or oid >= cut]
        fills = [decode(SimFill, json.loads(b)) for (b,) in db.execute(
            "SELECT body FROM (SELECT tid, body FROM fills ORDER BY tid DESC LIMIT ?) ORDER BY tid", (KEEP_FILLS,))]
        fundings = [decode(SimFunding, json.loads(b)) for (b,) in db.execute(
            "SELECT body FROM (SELECT id, body FROM fundings ORDER BY id DESC LIMIT ?) ORDER BY id",
            (KEEP_FUNDINGS,))]
        flows = [decode(SimCashFlow, json.loads(b)) for (b,) in db.execute("SELECT body FROM cash_flows ORDER BY id")]
        mids = {s: Decimal(px) for s, px in json.loads(meta["mids"]).items()}
        engine.restore(
            decode_account(account, json.loads(meta["account"])), orders,
            {oid for oid, is_open, _ in rows if is_open}, fills, fundings, json.loads(meta["counters"]), mids,
            json.loads(meta.get("scheduled_cancel", "null")), flows,
        )
        with _transaction(db):  # what is not loaded back is not kept either
            if cut is not None:
                db.execute("DELETE FROM orders WHERE open = 0 AND oid < ?", (cut,))
            if fills:
                db.execute("DELETE FROM fills WHERE tid < ?", (fills[0].tid,))
            if fundings:
                db.execute("DELETE FROM fundings WHERE id < (SELECT MIN(id) FROM (SELECT id FROM fundings"
                           " ORDER BY id DESC LIMIT ?))", (KEEP_FUNDINGS,))
        self._open = {o.oid for o in orders if o.oid in engine.open}
        self._max_oid = max((o.oid for o in orders), default=0)
        self._fills, self._fundings, self._flows = len(fills), len(fundings), len(flows)
        return True

    def save(self, engine: Engine, account: str) -> None:
        """Write what changed since the last save, in one transaction. A failure is logged and the
        next save writes it again (nothing is marked saved until the commit)."""
        db = self._db
        if db is None:
            return
        open_now = {oid for oid, o in engine.open.items() if o.account == account}
        changed = self._open | open_now
        new_max = self._max_oid
        for oid in reversed(engine.orders):  # oids only grow: the new ones are at the end
            if oid <= self._max_oid:
                break
            if engine.orders[oid].account == account:
                changed.add(oid)
                new_max = max(new_max, oid)
        fills, fundings = engine.fills.get(account, []), engine.fundings.get(account, [])
        flows = engine.cash_flows.get(account, [])
        acct = engine.accounts.get(account)
        try:
            with _transaction(db):
                db.executemany("INSERT OR REPLACE INTO orders (oid, open, body) VALUES (?, ?, ?)",
                               [(oid, oid in open_now, json.dumps(encode(engine.orders[oid])))
                                for oid in sorted(changed) if oid in engine.orders])
                db.executemany("INSERT OR REPLACE INTO fills (tid, body) VALUES (?, ?)",
                               [(f.tid, json.dumps(encode(f))) for f in fills[self._fills:]])
                db.executemany("INSERT INTO fundings (body) VALUES (?)",
                               [(json.dumps(encode(f)),) for f in fundings[self._fundings:]])
                db.executemany("INSERT INTO cash_flows (body) VALUES (?)",
                               [(json.dumps(encode(f)),) for f in flows[self._flows:]])
                meta = {"version": VERSION, "counters": engine.counters(),
                        "mids": {s: str(px) for s, px in engine.mids.items()},
                        "scheduled_cancel": engine.scheduled_cancel.get(account)}
                if acct is not None:
                    meta["account"] = encode_account(acct)
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               [(k, json.dumps(v)) for k, v in meta.items()])
        except sqlite3.Error as exc:
            log.error("paper state not saved to %s (retried at the next change): %s", self.path, exc)
            return
        self._open, self._max_oid = open_now, new_max
        self._fills, self._fundings, self._flows = len(fills), len(fundings), len(flows)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


__all__ = ["PaperState", "PaperStateError", "decode", "encode"]
