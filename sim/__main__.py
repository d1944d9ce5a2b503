"""`python -m sim --telegram PORT [--hyperliquid PORT] [--aster PORT]`: start emulators in one process.

When all are ready it prints one JSON line mapping each to its base URL; SIGTERM/SIGINT stops them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from aiohttp import web

from sim.serve import start_site


def build(name: str, args: argparse.Namespace) -> web.Application:
    if name == "telegram":
        from sim.telegram import TelegramSim

        return TelegramSim().app()
    if name == "hyperliquid":
        from sim.hyperliquid.server import HyperliquidSim

        return HyperliquidSim(mainnet=args.mainnet, seed=args.seed, tick_interval_s=args.tick or None,
                              weight_per_minute=args.weight_per_minute).app()
    if name == "aster":
        from sim.aster.server import AsterSim

        return AsterSim(seed=args.seed, tick_interval_s=args.tick or None, testnet=args.aster_testnet,
                        weight_per_minute=args.aster_weight_per_minute).app()
    raise SystemExit(f"error: the {name} emulator is not part of this version yet")


async def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sim", description="wire-compatible venue and Telegram emulators")
    for name in ("hyperliquid", "aster", "telegram"):
        p.add_argument(f"--{name}", type=int, metavar="PORT", help=f"serve the {name} emulator (0 = a free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mainnet", action="store_true", help="hyperliquid: verify signatures as mainnet (source a)")
    p.add_argument("--seed", type=int, default=1, help="seed of the simulated price walk")
    p.add_argument("--tick", type=float, default=1.0, help="seconds between price moves (0: only via /_sim/)")
    p.add_argument("--weight-per-minute", type=int, default=1200, help="hyperliquid: IP weight budget")
    p.add_argument("--aster-testnet", action="store_true", help="aster: verify V3 signatures with chainId 714")
    p.add_argument("--aster-weight-per-minute", type=int, default=2400, help="aster: futures IP weight budget")
    args = p.parse_args(argv)
    wanted = {n: getattr(args, n) for n in ("hyperliquid", "aster", "telegram") if getattr(args, n) is not None}
    if not wanted:
        p.error("name at least one emulator, e.g. --telegram 0")
    runners = []
    urls = {}
    for name, port in wanted.items():
        runner, url = await start_site(build(name, args), args.host, port)
        runners.append(runner)
        urls[name] = url
    print(json.dumps(urls), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
