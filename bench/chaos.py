"""Fault matrix: for each fault x each action, did the bot tell the trader the truth?

    python -m bench.chaos [--quick] [--faults a,b] [--actions x,y] [--long] [--keep] [-v]

Faults: none (baseline), drop, hold, 503, 500 (alias 5xx), 429, ws_silent, ws_close, latency,
tg_down (sends fail), tg_down_all (getUpdates too), sigkill_before, sigkill_after (alias sigkill:
both); `--long` runs only the 90 s 503 outage with /kill.
Actions: order (/buy ETH 0.1 at market, ✅ Confirm), close (/close ETH of an open position,
confirmed), kill (/kill with kill.flatten "always", a position and a resting order open).

Each cell starts fresh: the Telegram and Hyperliquid emulators in this process (127.0.0.1 only), a
new SQLite store, and the real bot (python-telegram-bot + risk + the Hyperliquid adapter) through
`tests.tg.Rig`, or as a child process for the SIGKILL cells. It sets up through Telegram with no
fault, injects the fault, acts as the trader, then settles (at most 30 s after the press; the 90 s
outage gets 115 s) and checks, on the venue's engine, the store's file and the chat:

- orders venue==store: the venue's open orders are the store's live ones, none left pending or
  unknown, and each order the bot sent has the venue's outcome in the store;
- duplicates: venue orders beyond one per Confirm; for a kill, flipped positions or orders that
  are not reduce-only;
- missed fills: venue fills missing from the store; missed alerts: venue fills not told in the
  chat as Filled / Partly filled (each fill exactly once; "+n dup" when told more often);
- told truth: nothing the chat said contradicts the venue at the instant it was shown (a result
  on the preview, a kill report saying ✅, an alert saying the venue cancelled or rejected), and the
  final word matches the venue (a preview still showing the quote, or "being checked" when no
  alert told the outcome either, never reaches the truth);
- first answer: the preview's first edit, a button answer with text or the order's fill alert
  after the press, or the first kill report after /kill, due within 5 s (when Telegram is down: 5 s after it is back;
  after a SIGKILL: 10 s after the restart); final truth: when the chat last changed to the true
  final word.

A kill cell also needs the venue flat at the end and the state HALTED. It prints a markdown table
and the reasons of every failed cell, and exits 0 even when cells fail (it is a report); 1 only if
the harness could not measure a cell or was interrupted (SIGINT/SIGTERM: the running cell is
cleaned up and the table so far printed). --keep keeps each cell's database, bot logs and chat.txt
(what the trader saw, with the venue's state beside each message).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.chaos_cells import ACTIONS, FAULTS, MATRIX, QUICK, run_cell
from bench.chaos_check import Row

ALIASES = {"5xx": "500", "telegram": "tg_down,tg_down_all", "sigkill": "sigkill_before,sigkill_after",
           "long": "503_long"}
CELL_LIMIT_S = 240.0  # setup + settle + teardown; past this the harness gave up on the cell


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help=f"a smoke subset: {', '.join(f'{f} x {a}' for f, a in QUICK)}")
    p.add_argument("--faults", help=f"comma-separated, from: {', '.join(MATRIX)}")
    p.add_argument("--actions", help=f"comma-separated, from: {', '.join(ACTIONS)}")
    p.add_argument("--long", action="store_true", help="only the 90 s 503 outage with /kill")
    p.add_argument("--keep", action="store_true", help="keep the work directory (databases, logs, chat.txt)")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the bot's warnings")
    return p.parse_args(argv)


def _names(raw: str | None, known: tuple[str, ...], what: str) -> tuple[str, ...] | None:
    if not raw:
        return None
    names = [n for part in raw.split(",") for n in ALIASES.get(part.strip(), part.strip()).split(",") if n]
    bad = [n for n in names if n not in known]
    if bad:
        raise SystemExit(f"unknown {what}: {', '.join(bad)} (known: {', '.join(known)})")
    return tuple(names)


def plan(args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.long:
        return [("503_long", "kill")]
    faults = _names(args.faults, (*MATRIX, "503_long"), "fault")
    actions = _names(args.actions, ACTIONS, "action")
    if args.quick:
        return [(f, a) for f, a in QUICK if (faults is None or f in faults) and (actions is None or a in actions)]
    return [(f, a) for f in (faults or MATRIX) for a in (actions or ACTIONS)]


async def run_all(cells: list[tuple[str, str]], dirs: list[Path]) -> tuple[list[Row], bool]:
    """Every cell in turn; SIGINT/SIGTERM stops after cleaning up the running cell. Returns the rows
    and whether the run was complete."""
    rows: list[Row] = []
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    assert me is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, me.cancel)
    try:
        for i, ((fault, action), work) in enumerate(zip(cells, dirs, strict=True), 1):
            print(f"[{i}/{len(cells)}] {fault} x {action} ...", end="", file=sys.stderr, flush=True)
            t = time.monotonic()
            try:
                row = await asyncio.wait_for(run_cell(fault, action, work), CELL_LIMIT_S)
            except Exception as exc:  # a harness failure: reported, and the exit code says so
                logging.getLogger("bench.chaos").exception("cell %s x %s", fault, action)
                row = Row(fault, action, error=f"harness: {type(exc).__name__}: {exc}", seconds=time.monotonic() - t)
            verdict = f"ERROR: {row.error}" if row.error else "PASS" if row.passed else f"FAIL: {row.why[0]}"
            print(f" ({row.seconds:.1f}s) {verdict}", file=sys.stderr)
            rows.append(row)
    except asyncio.CancelledError:
        print(" interrupted", file=sys.stderr)
        return rows, False
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return rows, True


def _s(x: float | None, none: str) -> str:
    return none if x is None else f"{x:.2f} s"


def _short(text: str, n: int = 100) -> str:
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def table(rows: list[Row]) -> str:
    out = ["| fault | action | orders venue==store | duplicates | missed fills | missed alerts | told truth"
           " | first answer | final truth | result |", "|" + "---|" * 10]
    for r in rows:
        if r.error:
            out.append(f"| {r.fault} | {r.action} | | | | | | | | ERROR: {_short(r.error)} |")
            continue
        alerts = f"{r.missed_alerts}" + (f" (+{r.dup_alerts} dup)" if r.dup_alerts else "")
        result = "PASS" if r.passed else f"FAIL: {_short(r.why[0])}"
        out.append(f"| {r.fault} | {r.action} | {'yes' if r.venue_eq_store else 'NO'} | {r.duplicates}"
                   f" | {r.missed_fills} | {alerts} | {'yes' if r.told_truth else 'NO'}"
                   f" | {_s(r.first_answer_s, '—')} | {_s(r.final_truth_s, 'never')} | {result} |")
    return "\n".join(out)


def details(rows: list[Row]) -> str:
    out = []
    for r in rows:
        if r.passed:
            continue
        out.append(f"- **{r.fault} x {r.action}**" + (f" ({'; '.join(r.notes)})" if r.notes else ""))
        out += [f"  - {why}" for why in ([r.error] if r.error else r.why)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    cells = plan(args)
    if not cells:
        raise SystemExit("no cell selected")
    root = Path(tempfile.mkdtemp(prefix="tradebot-chaos-"))
    dirs = [root / f"{i:02d}-{f}-{a}" for i, (f, a) in enumerate(cells, 1)]
    for d in dirs:
        d.mkdir()
    handler = logging.FileHandler(root / "harness.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for chatty in ("aiohttp.access", "httpx"):  # every request of every cell: too much to keep
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if args.verbose:
        loud = logging.StreamHandler(sys.stderr)
        loud.setLevel(logging.WARNING)
        logging.getLogger().addHandler(loud)
    t = time.monotonic()
    try:
        rows, complete = asyncio.run(run_all(cells, dirs))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    took = time.monotonic() - t
    used = sorted({f for f, _ in cells}, key=list(FAULTS).index)
    print("Faults:\n" + "\n".join(f"- {name}: {FAULTS[name].about}" for name in used) + "\n")
    print(table(rows))
    failed = details(rows)
    if failed:
        print("\nWhy, per failed cell:\n" + failed)
    passed = sum(r.passed for r in rows)
    print(f"\n{passed}/{len(rows)} cells passed; {len(rows)} cells in {took:.0f} s"
          + ("" if complete else f" (interrupted: {len(cells) - len(rows)} cell(s) not run)")
          + (f"; work directory kept: {root}" if args.keep else ""))
    return 1 if any(r.error for r in rows) or not complete else 0


if __name__ == "__main__":
    sys.exit(main())
