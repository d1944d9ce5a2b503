"""The chaos benchmark's rig: the real bot (in this process through `tests.tg.Rig`, or as a child
process that can be SIGKILLed), the Telegram and Hyperliquid emulators in this process, a price
ticker (the real venue's prices never stand still), an outside client trading the same account,
and read-only views of the venue (its engine), the store (the SQLite file) and the chat.

Everything listens on 127.0.0.1 and is stopped when the `Env` exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from exchanges.models import Order, OrderStatus
from risk.order_state import LIVE
from risk.state import STATE_KEY
from sim.engine import Engine
from store.rows import order_from
from tests.hl import ADDRESS, KEY, control
from tests.tg import TRADER, Rig, button

ROOT = Path(__file__).resolve().parent.parent
ALERTS_ON = {"fills": "on", "orders": "on", "risk": "on", "streams": "on", "reports": "off"}
# alerts to the trader's chat, flatten on kill; the correlation check off (the outside client's
# positions must not turn the cell's own order into a refusal)
OVERRIDES: dict[str, Any] = {"alerts": ALERTS_ON, "telegram": {"chat_id": TRADER}, "kill": {"flatten": "always"},
                             "risk": {"position_size_limit": 1, "correlation_limit": 1}}
UNRESOLVED = frozenset({OrderStatus.PENDING, OrderStatus.UNKNOWN})


class SetupError(Exception):
    """The cell could not reach its starting point (nothing was measured)."""


# ---- what the venue, the store and the chat say ----
@dataclass(frozen=True)
class VOrder:
    oid: str
    cloid: str | None
    symbol: str
    side: str  # "buy" | "sell"
    size: Decimal
    filled: Decimal
    status: OrderStatus
    reason: str | None
    reduce_only: bool

    @property
    def accepted(self) -> bool:
        return self.status is not OrderStatus.REJECTED


@dataclass(frozen=True)
class VFill:
    tid: str
    oid: str
    symbol: str
    side: str
    size: Decimal


@dataclass(frozen=True)
class VenueView:
    orders: dict[str, VOrder]  # every order of the account the venue has seen, by oid
    open_oids: frozenset[str]
    positions: dict[str, Decimal]  # symbol -> signed size, non-zero only
    fills: tuple[VFill, ...]

    @property
    def flat(self) -> bool:
        return not self.open_oids and not self.positions

    def describe(self) -> str:
        parts = [f"{len(self.open_oids)} open order(s)"] if self.open_oids else []
        parts += [f"{s} {size:+}" for s, size in sorted(self.positions.items())]
        return ", ".join(parts) or "flat"


def venue_view(engine: Engine) -> VenueView:
    orders = {str(o.oid): VOrder(str(o.oid), o.cloid, o.symbol, o.side.value, o.size, o.filled, o.status, o.reason,
                                 o.reduce_only)
              for o in engine.orders.values() if o.account == ADDRESS}
    acct = engine.accounts.get(ADDRESS)
    positions = {s: p.size for s, p in acct.positions.items() if p.size != 0} if acct else {}
    fills = tuple(VFill(str(f.tid), str(f.oid), f.symbol, f.side.value, f.size) for f in engine.fills.get(ADDRESS, []))
    return VenueView(orders, frozenset(str(o.oid) for o in engine.open_orders(ADDRESS)), positions, fills)


@dataclass(frozen=True)
class StoreView:
    orders: tuple[Order, ...]
    fill_ids: frozenset[str]
    state: str  # the persisted trading state, e.g. "HALTED|kill requested"

    @property
    def live(self) -> list[Order]:
        return [o for o in self.orders if o.status in LIVE]


def store_view(db: Path) -> StoreView | None:
    """The bot's SQLite file, opened read-only (WAL: readers never block the bot's writes)."""
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)) as c:
            c.row_factory = sqlite3.Row
            orders = tuple(order_from(r) for r in c.execute("SELECT * FROM orders ORDER BY created_ms"))
            fill_ids = frozenset(r[0] for r in c.execute("SELECT fill_id FROM fills"))
            row = c.execute("SELECT value FROM state WHERE key = ?", (STATE_KEY,)).fetchone()
    except sqlite3.Error:
        return None
    return StoreView(orders, fill_ids, row[0] if row else "")


@dataclass(frozen=True)
class Version:
    t: float  # monotonic time the harness first saw this text
    text: str
    venue: VenueView  # the venue at that instant


@dataclass
class Observed:
    """Every bot message created or edited after the baseline, each version with the venue beside it."""

    messages: dict[int, list[Version]] = field(default_factory=dict)
    answers: list[tuple[float, str]] = field(default_factory=list)  # button answers that said something
    last_change: float = field(default_factory=time.monotonic)

    def texts(self) -> list[tuple[float, int, str]]:
        """(first seen, message id, latest text) of each message, in order."""
        return [(v[0].t, mid, v[-1].text) for mid, v in sorted(self.messages.items())]


# ---- the bot as a child process ----
class ChildRig(Rig):
    """`tests.tg.Rig` with the bot in a child process (`python -m bench.chaos_child`), so it can be
    SIGKILLed mid-order and started again on the same database; the emulators stay in this process."""

    proc: asyncio.subprocess.Process | None = None
    starts = 0

    def _log(self) -> IO[bytes]:
        return (self.tmp_path / f"bot-{self.starts}.log").open("ab")

    async def start_bot(self) -> None:
        self.starts += 1
        spec = {"tmp": str(self.tmp_path), "base": self.base, "hl_url": self.hl_url, "overrides": self.overrides}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        log = self._log()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.chaos_child", json.dumps(spec), cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=log)
        finally:
            log.close()
        await self.expect("READY", 30)

    async def expect(self, word: str, within_s: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + within_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SetupError(f"the bot process did not say {word} within {within_s:g}s")
            try:
                line = (await asyncio.wait_for(self.proc.stdout.readline(), left)).decode().strip()
            except TimeoutError:
                continue
            if not line:
                raise SetupError(f"the bot process exited (code {await self.proc.wait()}) before saying {word}")
            if line.startswith(word):
                return line

    async def arm(self, mode: str) -> None:
        """From now on the bot announces each order it sends (and, before-send, stops right there)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1 if mode == "before-send" else signal.SIGUSR2)
        await self.expect("ARMED", 10)

    async def sigkill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.proc = None

    async def stop_bot(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# ---- someone trading in the web app ----
class Outside:
    """The official SDK with the same key, pointed at the emulator. Its calls block, so they run in a
    thread while the emulator (in this loop) answers. The SDK's API takes floats; these are the
    outside trader's orders, not the bot's money path."""

    def __init__(self, url: str):
        self.url = url
        self.ex: Any = None
        self.oids: set[str] = set()

    def _build(self) -> Any:
        import eth_account
        from hyperliquid.exchange import Exchange

        return Exchange(eth_account.Account.from_key(KEY), self.url)

    async def connect(self) -> None:
        self.ex = await asyncio.to_thread(self._build)

    def _note(self, res: Any) -> None:
        status = res["response"]["data"]["statuses"][0]
        for key in ("resting", "filled"):
            if key in status:
                self.oids.add(str(status[key]["oid"]))
                return
        raise SetupError(f"outside order refused: {status}")

    async def rest(self, coin: str, buy: bool, size: Decimal, px: Decimal) -> None:
        self._note(await asyncio.to_thread(self.ex.order, coin, buy, float(size), float(px), {"limit": {"tif": "Gtc"}}))

    async def market(self, coin: str, buy: bool, size: Decimal) -> None:
        self._note(await asyncio.to_thread(self.ex.market_open, coin, buy, float(size)))


# ---- the environment of one cell ----
class Env:
    def __init__(self, work: Path, *, child: bool, poll_s: float = 0.02):
        self.work, self.child, self.poll_s = work, child, poll_s
        self.rig: Rig = (ChildRig if child else Rig)(work, venue="hyperliquid", **OVERRIDES)
        self.observed = Observed()
        self._known: dict[int, tuple[int, str]] = {}
        self._answers = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.outside: Outside | None = None

    async def __aenter__(self) -> Env:
        await self.rig.__aenter__()
        self._tasks.append(asyncio.create_task(self._tick(), name="chaos-ticker"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.hl_clear()
        await self.rig.__aexit__(*exc)

    @property
    def engine(self) -> Engine:
        return self.rig.hl.engine

    @property
    def url(self) -> str:
        assert self.rig.hl_url is not None
        return self.rig.hl_url

    def venue(self) -> VenueView:
        return venue_view(self.engine)

    def store(self) -> StoreView | None:
        return store_view(self.work / "bot.db")

    async def _tick(self) -> None:
        while True:  # one price step a second, as the venue's blocks move prices
            await asyncio.sleep(1.0)
            self.rig.hl.step()

    # ---- faults ----
    async def hl_fault(self, body: dict[str, Any]) -> None:
        await control(self.url, "fault", body)

    async def hl_clear(self) -> None:
        await control(self.url, "clear", {})

    async def tg_fault(self, body: dict[str, Any]) -> None:
        await self.rig.fault(**body)

    # ---- the trader ----
    def bot_messages(self) -> list[Any]:
        return [m for m in self.rig.sim.messages.get(TRADER, []) if m.from_bot]

    async def preview(self, text: str, within_s: float = 10.0) -> dict[str, Any]:
        """Send a command; return the bot's answer that carries a ✅ Confirm button."""
        known = {m.message_id for m in self.bot_messages()}
        await self.rig.trader.send(text)

        def found(t: dict[str, Any]) -> bool:
            return any(m["from_bot"] and m["message_id"] not in known and "ok:" in json.dumps(m["reply_markup"])
                       for m in t["messages"])

        try:
            t = await self.rig.trader.wait(found, within_s)
        except AssertionError:
            said = [m.text for m in self.bot_messages() if m.message_id not in known]
            raise SetupError(f"{text!r} got no Confirm button; the bot said {said}") from None
        return next(m for m in t["messages"] if m["from_bot"] and m["message_id"] not in known
                    and "ok:" in json.dumps(m["reply_markup"]))

    async def confirm(self, text: str, expect: str) -> None:
        """Setup step: preview, Confirm, and the result must say `expect`."""
        p = await self.preview(text)
        done = await self.rig.trader.click(p, button(p, "ok:"), within=15)
        if expect not in str(done.get("text")):
            raise SetupError(f"{text!r} confirmed: expected {expect!r}, got {done}")

    # ---- watching ----
    def start_watching(self) -> None:
        self._known = {m.message_id: (m.edits, m.text or "") for m in self.bot_messages()}
        self._answers = len(self.rig.sim.answers.get(TRADER, []))
        self._tasks.append(asyncio.create_task(self._watch(), name="chaos-watch"))

    async def _watch(self) -> None:
        last_venue: tuple[Any, ...] | None = None
        last_store: tuple[Any, ...] | None = None
        n = 0
        while True:
            now = time.monotonic()
            changed = False
            view: VenueView | None = None
            for m in self.bot_messages():
                key = (m.edits, m.text or m.caption or "")
                if self._known.get(m.message_id) != key:
                    self._known[m.message_id] = key
                    view = view or self.venue()
                    self.observed.messages.setdefault(m.message_id, []).append(Version(now, key[1], view))
                    changed = True
            answers = self.rig.sim.answers.get(TRADER, [])
            for a in answers[self._answers:]:
                if a.get("text"):
                    self.observed.answers.append((now, str(a["text"])))
            self._answers = len(answers)
            view = view or self.venue()
            venue_key = (view.open_oids, tuple(sorted(view.positions.items())), len(view.fills))
            changed |= venue_key != last_venue
            last_venue = venue_key
            n += 1
            if n % 12 == 0:  # the store a few times a second is enough to see it settle
                s = self.store()
                store_key = (tuple((o.client_id, o.status, o.filled) for o in s.orders), s.fill_ids) if s else None
                changed |= store_key != last_store
                last_store = store_key
            if changed:
                self.observed.last_change = now
            await asyncio.sleep(self.poll_s)


__all__ = ["ALERTS_ON", "OVERRIDES", "UNRESOLVED", "ChildRig", "Env", "Observed", "Outside", "SetupError",
           "StoreView", "VFill", "VOrder", "VenueView", "Version", "store_view", "venue_view"]
