"""The `tradebot` console script."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.config import ConfigError, LoadedConfig, example_text, load_config, summary
from store.files import private_file

EXIT_CONFIG = 2
# chatty libraries: httpx logs every request line (one per Telegram long poll); -v shows them again
_QUIET_AT_INFO = ("httpx", "httpcore")


def _load(path: str | None) -> LoadedConfig:
    if path is None and Path("config.json").exists():
        path = "config.json"
    loaded = load_config(path)
    for w in loaded.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return loaded


def cmd_check_config(args: argparse.Namespace) -> int:
    loaded = _load(args.config)
    print("\n".join(summary(loaded)))
    print("config OK")
    return 0


def cmd_init_config(args: argparse.Namespace) -> int:
    path = Path(args.path)
    try:
        with path.open("x", encoding="utf-8") as fh:  # "x": never overwrite a trader's config
            fh.write(example_text())
    except FileExistsError:
        print(f"error: {path} already exists; not overwriting it (remove it first, or pick another path)",
              file=sys.stderr)
        return 1
    path.chmod(0o600)
    print(f"wrote {path} (paper trading only). Check it with: tradebot check-config --config {path}")
    return 0


def _setup_logging(verbose: bool, log_file: str | None, quiet: bool = False) -> None:
    handler: logging.Handler
    if log_file is None:
        handler = logging.StreamHandler()
    else:
        private_file(log_file)  # before the handler opens it, so it is never world-readable
        handler = logging.FileHandler(log_file, encoding="utf-8")
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, handlers=[handler],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for name in _QUIET_AT_INFO:
            logging.getLogger(name).setLevel(logging.WARNING)


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import App, StartupError

    loaded = _load(args.config)
    _setup_logging(args.verbose, args.log_file)
    try:
        app = App(loaded.config)
        asyncio.run(app.run())
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.app import StartupError
    from bot.demo import Demo

    _setup_logging(args.verbose, args.log_file, quiet=True)
    demo = Demo(Path(args.data) if args.data else None, host=args.host, port=args.port,
                password=os.environ.get("TRADEBOT_WEB_PASSWORD", ""))
    try:
        asyncio.run(demo.run())
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tradebot", description="Telegram-controlled trading bot (Hyperliquid, Aster);"
                                " without a Telegram bot token its chat is a local web page")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot until SIGINT/SIGTERM (no Telegram token: it serves the chat page)")
    run.add_argument("--config", help="config file (default: ./config.json, else the embedded paper-trading default)")
    run.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG, library requests included")
    run.add_argument("--log-file", metavar="PATH",
                     help="append the log to PATH (created 0600) instead of writing it to stderr")
    run.set_defaults(func=cmd_run)
    demo = sub.add_parser("demo", help="the whole bot offline: emulated exchanges, a funded account, the chat page")
    demo.add_argument("--data", metavar="DIR", help="keep the bot's state in DIR (default: a temporary directory,"
                                                    " removed at exit)")
    demo.add_argument("--host", default="127.0.0.1", help="address of the chat page (default 127.0.0.1; another"
                                                          " address needs the password in TRADEBOT_WEB_PASSWORD)")
    demo.add_argument("--port", type=int, default=8080, help="port of the chat page (default 8080; 0: any free port)")
    demo.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG (default: warnings only)")
    demo.add_argument("--log-file", metavar="PATH", help="append the log to PATH (created 0600)")
    demo.set_defaults(func=cmd_demo)
    check = sub.add_parser("check-config", help="validate a config file and print a summary, secrets redacted")
    check.add_argument("--config", help="config file (default: ./config.json, else the embedded default)")
    check.set_defaults(func=cmd_check_config)
    init = sub.add_parser("init-config", help="write the example config (refuses to overwrite)")
    init.add_argument("path", nargs="?", default="config.json")
    init.set_defaults(func=cmd_init_config)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for m in exc.messages:
            print(f"config error: {m}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
