"""The chaos benchmark's cells: the faults, the three actions, and one cell's run from a fresh
bot to its verdict.

A cell: fresh emulators, store and bot -> setup through Telegram (no fault) -> the baseline ->
the fault -> the action (Confirm pressed, or /kill sent) -> settle until everything is true and
quiet, nothing has moved for a while, or the cell's time is up -> the verdict (bench.chaos_check).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.chaos_check import Marks, Row, alerts, in_flight, judge, venue_vs_store
from bench.chaos_rig import ChildRig, Env, Observed, Outside, SetupError, Version
from tests.hl import ADDRESS
from tests.tg import button

ACTIONS = ("order", "close", "kill")
BOUND_S = 30.0  # a cell settles within this long after the press
LONG_OUTAGE_S = 20.0  # longer outages (the 90 s one) get the outage + 25 s instead
QUIET_S = 8.0  # after the fault: nothing moved (chat, venue, store) and nothing in flight -> it will not
SETTLED_S = 1.5  # all true: wait this long for a late duplicate or a late lie before stopping
ANSWER_S = 5.0  # the first answer is due this long after the press (after Telegram is back, or the restart)
RESTART_ANSWER_S = 10.0
TG_SENDING = ["sendMessage", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery", "sendPhoto",
              "sendDocument", "deleteMessage"]


@dataclass(frozen=True)
class Fault:
    name: str
    about: str
    outage_s: float = 0.0  # how long it holds after it is injected
    child: bool = False  # the bot runs as a child process that gets SIGKILLed
    outside: bool = False  # an outside client trades the account while it holds


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("none", "no fault: the baseline, every cell of this row should pass"),
    Fault("drop", "the venue applies the order action (kill: the first two actions), then drops the connection"
                  " unanswered"),
    Fault("hold", "the venue applies the order action (kill: the first two actions) and answers 15 s late"
                  " (the bot's HTTP timeout is 10 s)", 15),
    Fault("503", "every venue request (REST) answered 503 for 4 s", 4),
    Fault("500", "every venue request (REST) answered 500 for 4 s", 4),
    Fault("429", "every venue request (REST) answered 429 for 4 s", 4),
    Fault("ws_silent", "the venue's WebSocket sends nothing for 8 s (pings answered); meanwhile an outside client"
                       " rests a SOL order and opens a DOGE position", 8, outside=True),
    Fault("ws_close", "every WebSocket closed just before the press and again 0.3 s after; an outside SOL order"
                      " and DOGE position appear meanwhile", 1, outside=True),
    Fault("latency", "500 ms one-way latency on every venue request for 10 s", 10),
    Fault("tg_down", "Telegram answers 502 to every send, edit and button answer for 6 s from the press"
                     " (updates still arrive)", 6),
    Fault("tg_down_all", "Telegram answers 502 to every method, getUpdates too, for 6 s from the press (the press"
                         " or /kill reaches the bot only after)", 6),
    Fault("sigkill_before", "SIGKILL of the bot after the order intent is committed, before it is sent"
                            " (kill: its flatten order); then restarted", child=True),
    Fault("sigkill_after", "SIGKILL of the bot after the venue accepted the order, before the answer arrived"
                           " (kill: its flatten order); then restarted", child=True),
    Fault("503_long", "every venue request answered 503 for 90 s (--long)", 90),
)}
MATRIX = tuple(n for n in FAULTS if n != "503_long")
QUICK = (("none", "order"), ("drop", "order"), ("503", "kill"), ("ws_silent", "kill"), ("sigkill_after", "order"))


def venue_faults(name: str, action: str) -> list[dict[str, Any]]:
    """The bodies for the emulator's /_sim/fault."""
    scope: dict[str, Any] = {"count": 2} if action == "kill" else {"count": 1, "action": "order"}
    return {
        "drop": [{"kind": "drop", **scope}],
        "hold": [{"kind": "hold", "ms": 15_000, **scope}],
        "503": [{"kind": "503", "duration_s": 4}],
        "500": [{"kind": "500", "duration_s": 4}],
        "429": [{"kind": "429", "duration_s": 4}],
        "503_long": [{"kind": "503", "duration_s": 90}],
        "latency": [{"kind": "latency", "ms": 500, "duration_s": 10}],
        "ws_silent": [{"kind": "ws_silent", "duration_s": 8}],
        "ws_close": [{"kind": "ws_close"}],
        "sigkill_after": [{"kind": "hold", "ms": 3_000, "count": 1, "action": "order"}],  # the answer cannot win
    }.get(name, [])


# ---- setup ----
def _all_seen(env: Env) -> Observed:
    view = env.venue()
    return Observed(messages={m.message_id: [Version(0.0, m.text or "", view)] for m in env.bot_messages()})


async def setup(env: Env, fault: Fault, action: str) -> None:
    """Through Telegram, with no fault: what the action needs, then wait until all of it is in the
    store and alerted, so the baseline starts clean."""
    if action == "order":
        await env.confirm("/lev ETH 1", "leverage set")  # so the Confirm sends the order and nothing else
    else:
        await env.confirm("/buy ETH 0.1", "Filled")
    if action == "kill":
        await env.confirm("/buy BTC 0.001 97000", "Resting")
    if fault.outside:
        env.outside = Outside(env.url)
        await env.outside.connect()
    deadline = time.monotonic() + 15
    while True:
        view, store = env.venue(), env.store()
        problems = venue_vs_store(view, store) if store else ["store unreadable"]
        problems += alerts(_all_seen(env), list(view.fills))[2]
        if not problems:
            return
        if time.monotonic() > deadline:
            raise SetupError(f"setup did not settle: {'; '.join(problems)}")
        await asyncio.sleep(0.1)


# ---- the action under the fault ----
async def inject(env: Env, fault: Fault, action: str) -> None:
    if fault.name == "tg_down":
        await env.tg_fault({"kind": "down", "duration_s": fault.outage_s, "methods": TG_SENDING})
    if fault.name == "tg_down_all":
        await env.tg_fault({"kind": "down", "duration_s": fault.outage_s})
    for body in venue_faults(fault.name, action):
        await env.hl_fault(body)
    if fault.outside:
        assert env.outside is not None
        await env.outside.rest("SOL", True, Decimal(1), Decimal(140))
        await env.outside.market("DOGE", True, Decimal(100))


async def act(env: Env, fault: Fault, action: str) -> Marks:
    m = Marks(fault.name, action, 0.0, ANSWER_S, env.venue(), side="sell" if action == "close" else "buy")
    env.start_watching()
    ok = ""
    if action != "kill":
        p = await env.preview("/buy ETH 0.1" if action == "order" else "/close ETH")
        m.preview_id, ok = p["message_id"], button(p, "ok:")
    if fault.child:
        assert isinstance(env.rig, ChildRig)
        await env.rig.arm("before-send" if fault.name == "sigkill_before" else "after-send")
    await inject(env, fault, action)
    if env.outside is not None:
        m.outside_oids = frozenset(env.outside.oids)
    m.t0 = time.monotonic()
    if action == "kill":
        await env.rig.trader.send("/kill")
    else:
        assert m.preview_id is not None
        await env.rig.trader.press(m.preview_id, ok)
    if fault.name == "ws_close":
        await asyncio.sleep(0.3)
        await env.hl_fault({"kind": "ws_close"})
    if fault.name.startswith("tg_down"):
        m.answer_within_s = fault.outage_s + ANSWER_S
    if fault.child:
        await kill_and_restart(env, fault, m)
    return m


async def kill_and_restart(env: Env, fault: Fault, m: Marks) -> None:
    rig = env.rig
    assert isinstance(rig, ChildRig)
    cid = (await rig.expect("SENDING", 15)).split()[1]
    if fault.name == "sigkill_after":
        deadline = time.monotonic() + 10
        while env.engine.find(ADDRESS, cloid=cid) is None:
            if time.monotonic() > deadline:
                raise SetupError(f"the venue never received order {cid}")
            await asyncio.sleep(0.005)
    else:
        await asyncio.sleep(0.1)
    await rig.sigkill()
    where = "accepted by the venue, answer held" if fault.name == "sigkill_after" else "intent committed, not sent"
    m.notes.append(f"SIGKILL at {time.monotonic() - m.t0:.2f}s ({where})")
    await rig.start_bot()
    restarted = time.monotonic() - m.t0
    m.notes.append(f"restarted, polling Telegram at {restarted:.1f}s")
    m.answer_within_s = restarted + RESTART_ANSWER_S


async def settle(env: Env, fault: Fault, m: Marks) -> Row:
    bound = m.t0 + (BOUND_S if fault.outage_s <= LONG_OUTAGE_S else fault.outage_s + 25)
    fault_over = max(m.t0 + fault.outage_s, time.monotonic())
    while True:
        await asyncio.sleep(0.25)
        now = time.monotonic()
        store = env.store()
        row = judge(m, env.observed, env.venue(), store)
        if now >= bound:
            return row
        if now < fault_over:
            continue
        quiet = now - max(env.observed.last_change, fault_over)
        if (row.passed and quiet >= SETTLED_S) or (quiet >= QUIET_S and not in_flight(m, env.observed, store)):
            return row


def dump(env: Env, m: Marks, path: Path) -> None:
    """What the trader saw, each version with its time after the press and the venue beside it (--keep)."""
    lines = []
    for mid, versions in sorted(env.observed.messages.items()):
        for v in versions:
            lines.append(f"[{v.t - m.t0:+8.2f}s] #{mid} (venue: {v.venue.describe()})\n{v.text}\n")
    lines += [f"[{t - m.t0:+8.2f}s] button answer: {text}" for t, text in env.observed.answers]
    lines += [f"note: {n}" for n in m.notes]
    path.write_text("\n".join(lines))


async def run_cell(fault_name: str, action: str, work: Path) -> Row:
    """One cell in `work` (an existing, empty directory: the bot's database and logs go there)."""
    fault = FAULTS[fault_name]
    t = time.monotonic()
    async with Env(work, child=fault.child) as env:
        try:
            await setup(env, fault, action)
            m = await act(env, fault, action)
        except SetupError as exc:
            return Row(fault_name, action, error=str(exc), seconds=time.monotonic() - t)
        row = await settle(env, fault, m)
        dump(env, m, work / "chat.txt")
    row.seconds = time.monotonic() - t
    return row


__all__ = ["ACTIONS", "FAULTS", "MATRIX", "QUICK", "Fault", "run_cell"]
